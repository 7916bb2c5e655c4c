"""The signals that stop a command: SIGINT (Ctrl-C), SIGTERM (kill, a batch scheduler's stop), SIGHUP (a closed
terminal, a dropped ssh session).

One convention for the three, at every instant once a command has started (kit/cli/guard.py installs the
handlers first thing): exit 128 + the signal's number (130, 143, 129), the running children stopped, and the
same two lines, `interrupted …; finished work is kept.` and `resume with: …`. Before that (Python starting
and importing, ~0.1 s, nothing begun yet) a signal has its default effect, which gives the same exit code.

The handler raises Interrupted and remembers the signal. Third-party code may swallow the exception: pyarrow
does when the signal lands in the pandas import it makes lazily (seen: SIGTERM during the LOSO step's plan,
and the run went on to PROMOTE, exit 0). `check()`, at every step boundary and in the guard once the command
returns, raises it again, so a swallowed signal still ends the command as an interrupt. Where Python itself cannot
pass the exception on (a weakref callback, a `__del__`: seen, a SIGHUP during a garbage collection), it prints
it as "Exception ignored in: … Traceback …" on stderr, which read as a crash beside the right two lines and exit
129; from install() to end() Python's hook for those (`sys.unraisablehook`) leaves the kit's interrupt unprinted.

Once the guard has decided how the command ends (`settle()`), the handler does nothing: a late signal cannot
cut the closing lines short. When the command is the whole process (the kit's entry points call
`whole_process()`), the three are then ignored until it exits: Python puts back the default action of every
signal it handled (but keeps those it ignores) before it unloads its modules, which takes ~20 ms with torch
and pandas loaded; a SIGTERM there ended the process silently with 143 after it had printed its summary and
chosen exit 0 (seen). A command run inside another program (a test, CliRunner) gets the handlers it found
back instead (`end()`), so nothing it leaves ignored reaches the processes that program starts later.

A SIGHUP ignored when the kit started (`nohup ensemble-kit run &`) stays ignored: that is what nohup asks.

The handler runs on the main thread only, between two of its bytecodes. A wait on a lock with no timeout
(`concurrent.futures.as_completed`, a thread's join) entered just as the signal came, or while the kernel
handed the signal to another thread, sleeps on with the handler pending until what it waits for ends: a
SIGTERM was ignored for good while two corpus jobs hung (seen, on a loaded box). So the main thread never
waits longer than MAIN_WAIT_S at once on what other threads do (`finished_batches`, and the slices of
kit.infra.proc's and kit.cluster.ray's waits): the handler runs at the latest that long after the signal.
And such a wait is `waiting()`: a signal that comes during it is raised once it returns, not inside it.
Raised inside `concurrent.futures.wait`, it left the futures' locks held by the main thread (taken one by
one, before the block that releases them): a worker then blocked for good on a future's lock and the
pool's shutdown on the worker (seen: a SIGHUP that never ended the run).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from types import FrameType
from typing import Any, TypeVar

from kit.errors import Interrupted

SIGHUP = getattr(signal, "SIGHUP", None)  # POSIX only
STOP_SIGNALS = tuple(s for s in (signal.SIGINT, signal.SIGTERM, SIGHUP) if s is not None)

_received: int | None = None  # the latest stop signal since install()
_settled = False
_whole_process = False
_saved: dict[int, Any] = {}  # the handlers install() replaced
_deferred = False  # the main thread is in a `waiting()` block
_unraisable_hook: Any = None  # Python's hook install() replaced
MAIN_WAIT_S = 0.2  # the longest the main thread blocks at once on other threads (the module's docstring)
T = TypeVar("T")


def whole_process() -> None:
    """This process runs one command and ends with it (the kit's entry points, not a test)."""
    global _whole_process
    _whole_process = True


def install() -> None:
    """Handle the stop signals from now on (in the main thread, as a command starts)."""
    global _received, _settled, _unraisable_hook
    if not _saved:  # the first of a command; a later one (the guard's, ray's after ray.init) forgets nothing
        _received, _settled = None, False
    if _unraisable_hook is None:
        _unraisable_hook, sys.unraisablehook = sys.unraisablehook, _unraisable
    for sig in STOP_SIGNALS:
        if sig == SIGHUP and signal.getsignal(sig) == signal.SIG_IGN:
            continue  # nohup
        # SIGINT too when the parent handed it over ignored (a background job of a non-interactive shell):
        # an interrupt sent to the kit must still stop it, as it stops the ffmpegs beside it
        _saved.setdefault(sig, signal.getsignal(sig))
        signal.signal(sig, _on_signal)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    global _received
    if _settled:
        return
    _received = signum
    if _deferred:
        return  # raised by waiting() once the wait returns
    raise Interrupted(signum)


def _unraisable(unraisable: Any) -> None:
    """An interrupt raised where Python cannot pass it on is not printed: check() raises it again."""
    if not isinstance(unraisable.exc_value, Interrupted):
        (_unraisable_hook or sys.__unraisablehook__)(unraisable)


def signal_of(exc: BaseException | None) -> int:
    """The stop signal an interrupt stands for: its own, or Ctrl-C's for a plain KeyboardInterrupt."""
    return exc.signum if isinstance(exc, Interrupted) else signal.SIGINT


def stop_lines(signum: int, stopped: int, resume: str) -> tuple[str, str]:
    """The two lines every stop ends with, at whatever instant it came (Ctrl-C's kept as it always read)."""
    by = "" if signum == signal.SIGINT else f" by {signal.Signals(signum).name}"
    return (f"\ninterrupted{by} ({stopped} running process(es) stopped); finished work is kept.",
            f"resume with: {resume}")


def received() -> int | None:
    """The stop signal that came since install(), if any."""
    return _received


def check() -> None:
    """Raise the interrupt again if a stop signal came and the exception it raised was swallowed."""
    if _received is not None and not _settled:
        raise Interrupted(_received)


def settle() -> None:
    """The command's outcome is decided: a stop signal changes nothing from now on."""
    global _settled
    _settled = True
    if _whole_process:
        for sig in _saved:
            signal.signal(sig, signal.SIG_IGN)


def end() -> None:
    """The command is over; inside another program, the handlers it had are put back."""
    global _received, _unraisable_hook
    _received = None
    if _unraisable_hook is not None:  # settled: the handler raises nothing from now on
        if sys.unraisablehook is _unraisable:
            sys.unraisablehook = _unraisable_hook
        _unraisable_hook = None
    if not _whole_process:
        for sig, handler in _saved.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        _saved.clear()


@contextlib.contextmanager
def passed_on(to: Callable[[int], int]) -> Iterator[None]:
    """While in it (a program run for the user as if by hand: `ensemble-kit ffmpeg`), a stop signal is handed to
    `to` (which returns how many programs it reached) instead of stopping the command: the program ends on it its own
    way (ffmpeg finishes the file it writes and exits 255), and the command ends with the program's code, saying
    nothing of resuming. A signal that reaches no program (it has not started yet) stops the command as anywhere
    else. Main thread only."""
    mine = [sig for sig in STOP_SIGNALS if signal.getsignal(sig) == _on_signal]

    def hand_on(signum: int, frame: FrameType | None) -> None:
        if not to(signum):
            _on_signal(signum, frame)

    for sig in mine:
        signal.signal(sig, hand_on)
    try:
        yield
    finally:
        for sig in mine:
            signal.signal(sig, _on_signal)


def finished_batches(futures: Sequence[Future[T]]) -> Iterator[list[int]]:
    """The positions of the futures that finished, in order, every MAIN_WAIT_S at most (an empty list when none
    did), until all have: the caller's thread handles a stop signal between two batches (the module's docstring).
    The futures must be distinct; one cancelled by its executor's shutdown is done, one never run is waited
    for (as concurrent.futures.as_completed does)."""
    index = {future: i for i, future in enumerate(futures)}
    if len(index) != len(futures):
        raise ValueError("the same future twice")
    pending = set(futures)
    while pending:
        with waiting():
            finished, pending = wait(pending, timeout=MAIN_WAIT_S, return_when=FIRST_COMPLETED)
        yield sorted(index[future] for future in finished)


@contextlib.contextmanager
def waiting() -> Iterator[None]:
    """A wait of at most MAIN_WAIT_S on other threads or processes: on the main thread, a stop signal that comes
    during it is raised when it returns, never inside the library code that waits (the module's docstring).
    Elsewhere, and inside another such block, it changes nothing."""
    global _deferred
    if _deferred or threading.current_thread() is not threading.main_thread():
        yield
        return
    _deferred = True
    try:
        yield
    finally:
        _deferred = False
    check()
