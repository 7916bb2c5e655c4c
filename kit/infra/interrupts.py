"""The signals that stop a command: SIGINT (Ctrl-C), SIGTERM (kill, a batch scheduler's stop), SIGHUP (a closed
terminal, a dropped ssh session).

One convention for the three, at every instant once a command has started (kit/cli/guard.py installs the
handlers first thing): exit 128 + the signal's number (130, 143, 129), the running children stopped, and the
same two lines, `interrupted …; finished work is kept.` and `resume with: …`. Before that (Python starting
and importing, ~0.1 s, nothing begun yet) a signal has its default effect, which gives the same exit code.

A stop signal is a flag. The handler only records it (the latest one); `check()` raises it as Interrupted, on
the main thread, at the points that poll: every step boundary, the guard before and after the command, and
every slice of the main thread's waits. So the interrupt never lands inside a library call, where it could be
swallowed (pyarrow did, in the pandas import it makes lazily, and the run went on to PROMOTE), printed as
"Exception ignored in: …" from a `__del__`, or raised inside `concurrent.futures.wait` with the futures' locks
held (a worker then blocked for good and the pool's shutdown with it). On a worker thread `check()` raises
nothing: the main thread stops the children that thread waits on (kit.infra.proc.stop_all) and its pool.

The price of a flag: a main thread that neither polls nor returns to a poll never stops. So it never blocks
longer than MAIN_WAIT_S at once on what other threads or processes do (`finished_batches`, the slices of
kit.infra.proc's, kit.cluster.ray's and the out-dir lock's waits; tests/unit/test_main_waits.py scans for a wait
on futures with no timeout), and a long computation of its own polls between its parts (the bundle polls through
its refit, its report's figures and its tarball).
A wait with no timeout would also sleep on when the kernel hands the signal to another thread: the handler
runs on the main thread only, once it runs bytecode again.

Once the guard has decided how the command ends (`settle()`), the handler does nothing: a late signal cannot
cut the closing lines short. When the command is the whole process (the kit's entry points call
`whole_process()`), the three are then ignored until it exits: Python puts back the default action of every
signal it handled (but keeps those it ignores) before it unloads its modules, which takes ~20 ms with torch
and pandas loaded; a SIGTERM there ended the process silently with 143 after it had printed its summary and
chosen exit 0 (seen). A command run inside another program (a test, CliRunner) gets the handlers it found
back instead (`end()`), so nothing it leaves ignored reaches the processes that program starts later.

A SIGHUP ignored when the kit started (`nohup ensemble-kit run &`) stays ignored: that is what nohup asks.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from types import FrameType
from typing import Any, TypeVar

from kit.errors import Interrupted

SIGHUP = getattr(signal, "SIGHUP", None)  # POSIX only
STOP_SIGNALS = tuple(s for s in (signal.SIGINT, signal.SIGTERM, SIGHUP) if s is not None)

_received: int | None = None  # the latest stop signal of this command
_settled = False
_whole_process = False
_saved: dict[int, Any] = {}  # the handlers install() replaced
MAIN_WAIT_S = 0.2  # the longest the main thread blocks at once without polling (the module's docstring)
T = TypeVar("T")


def whole_process() -> None:
    """This process runs one command and ends with it (the kit's entry points, not a test)."""
    global _whole_process
    _whole_process = True


def install() -> None:
    """Handle the stop signals from now on (in the main thread, as a command starts; again after a library that
    sets its own, as Ray's init does). A signal recorded before is kept until end()."""
    for sig in STOP_SIGNALS:
        if sig == SIGHUP and signal.getsignal(sig) == signal.SIG_IGN:
            continue  # nohup
        # SIGINT too when the parent handed it over ignored (a background job of a non-interactive shell):
        # an interrupt sent to the kit must still stop it, as it stops the ffmpegs beside it
        _saved.setdefault(sig, signal.getsignal(sig))
        signal.signal(sig, _on_signal)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    global _received
    if not _settled:
        _received = signum


def signal_of(exc: BaseException | None) -> int:
    """The stop signal an interrupt stands for: its own, or Ctrl-C's for a plain KeyboardInterrupt."""
    return exc.signum if isinstance(exc, Interrupted) else signal.SIGINT


def stop_lines(signum: int, stopped: int, resume: str) -> tuple[str, str]:
    """The two lines every stop ends with, at whatever instant it came (Ctrl-C's kept as it always read)."""
    by = "" if signum == signal.SIGINT else f" by {signal.Signals(signum).name}"
    return (f"\ninterrupted{by} ({stopped} running process(es) stopped); finished work is kept.",
            f"resume with: {resume}")


def received() -> int | None:
    """The stop signal that came during this command, if any."""
    return _received


def check() -> None:
    """The poll: on the main thread, raise Interrupted if a stop signal came and the outcome is not decided yet."""
    if _received is not None and not _settled and threading.current_thread() is threading.main_thread():
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
    global _received, _settled
    _received, _settled = None, False
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
    did), until all have; a poll after each batch the caller took (the module's docstring).
    The futures must be distinct; one cancelled by its executor's shutdown is done, one never run is waited
    for (as concurrent.futures.as_completed does)."""
    index = {future: i for i, future in enumerate(futures)}
    if len(index) != len(futures):
        raise ValueError("the same future twice")
    pending = set(futures)
    while pending:
        finished, pending = wait(pending, timeout=MAIN_WAIT_S, return_when=FIRST_COMPLETED)
        yield sorted(index[future] for future in finished)
        check()
