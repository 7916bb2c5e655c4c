"""The signals that stop a command (SIGINT, SIGTERM, SIGHUP), each ending it with exit 128 + its number: the handler
records a flag that `check()` raises as Interrupted where the main thread polls (docs/design/robustness.md,
"Interruptions"). A SIGHUP ignored at the start (`nohup`) stays ignored.

A long loop of the main thread's own calls `check()` between its parts (a file hashed, archived or extracted by the MiB,
a JSONL line parsed, an export line written, a LOSO member evaluated, a report figure drawn): a wait or a loop that
never polls makes Ctrl-C hang until it ends.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from kit.errors import Interrupted

if TYPE_CHECKING:
    from concurrent.futures import Future

SIGHUP = getattr(signal, "SIGHUP", None)  # POSIX only
STOP_SIGNALS = tuple(s for s in (signal.SIGINT, signal.SIGTERM, SIGHUP) if s is not None)

_received: int | None = None  # the latest stop signal of this command
_settled = False
_whole_process = False
_saved: dict[int, Any] = {}  # the handlers install() replaced
_elsewhere: list[str] = []  # what a stop ended elsewhere (stopped_elsewhere)
_kept: str = ""  # what the work a stop cut short keeps (kept_at_stop), said in the stop's one sentence
MAIN_WAIT_S = 0.2  # the longest the main thread blocks at once without polling
T = TypeVar("T")


def whole_process() -> None:
    """This process runs one command and ends with it (the kit's entry points, not a test)."""
    global _whole_process
    _whole_process = True


def is_whole_process() -> bool:
    """Whether whole_process() was said: the command's process is the kit's own (it may change its environment)."""
    return _whole_process


def install() -> None:
    """Handle the stop signals from now on (main thread; again after a library that sets its own: Ray's init)."""
    for sig in STOP_SIGNALS:
        if sig == SIGHUP and signal.getsignal(sig) == signal.SIG_IGN:
            continue  # nohup
        # SIGINT too when the parent handed it over ignored (a background job): an interrupt must still stop the kit
        _saved.setdefault(sig, signal.getsignal(sig))
        signal.signal(sig, _on_signal)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    global _received
    if not _settled:
        _received = signum


def caught_for_us(exc: SystemExit) -> NoReturn:
    """A library's own SIGTERM handler stood in the kit's stead and ended the process its way, `sys.exit(SIGTERM)`
    (Ray's, set in ray.init): raise the kit's Interrupted for it instead, so that the command stops as a SIGTERM
    stops it (143, what is finished kept). Any other exit goes on (a library's sys.exit(1) is no signal)."""
    if exc.code == signal.SIGTERM:
        _on_signal(signal.SIGTERM, None)
        install()
        check()
    raise exc


def signal_of(exc: BaseException | None) -> int:
    """The stop signal an interrupt stands for: its own, or Ctrl-C's for a plain KeyboardInterrupt."""
    return exc.signum if isinstance(exc, Interrupted) else signal.SIGINT


def kept_at_stop(words: str) -> None:
    """What the work a stop cut short keeps (`3 of 48 corpus jobs are finished and kept; the rerun does the other
    45`), told by the work that knows it as the stop unwinds it: the stop's one sentence says it (stop_lines), in
    place of a line of its own."""
    global _kept
    _kept = words


def stop_lines(signum: int, stopped: int, resume: str) -> tuple[str, str]:
    """The two lines every stop ends with, at whatever instant it came (Ctrl-C's kept as it always read): its one
    sentence, what it stopped (the tasks a cluster's driver stopped, `stopped_elsewhere`, said instead of its own
    none), with what the work it cut short keeps (kept_at_stop), and the command that resumes."""
    by = "" if signum == signal.SIGINT else f" by {signal.Signals(signum).name}"
    what = [*_elsewhere, *([f"{stopped} running process(es) stopped"] if stopped or not _elsewhere else [])]
    kept = f": {_kept}." if _kept else "; finished work is kept."
    return f"\ninterrupted{by} ({'; '.join(what)}){kept}", f"resume with: {resume}"


def stopped_elsewhere(said: str) -> None:
    """What a stop ended besides this process's children (`2 Ray task(s) stopped, …`), said in its one sentence."""
    _elsewhere.append(said)


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
    global _received, _settled, _kept
    _received, _settled, _kept = None, False, ""
    _elsewhere.clear()
    if not _whole_process:
        for sig, handler in _saved.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        _saved.clear()


@contextlib.contextmanager
def passed_on(to: Callable[[int], int]) -> Iterator[None]:
    """While in it (a program run for the user: `ensemble-kit ffmpeg`), a stop signal is handed to `to` (which returns
    how many programs it reached) instead of stopping the command, which ends with the program's code; one that
    reaches no program stops the command. Main thread only."""
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
    """The positions of the (distinct) futures that finished, every MAIN_WAIT_S at most, until all have."""
    from concurrent.futures import FIRST_COMPLETED, wait  # with the futures: every command imports this module

    index = {future: i for i, future in enumerate(futures)}
    if len(index) != len(futures):
        raise ValueError("the same future twice")
    pending = set(futures)
    while pending:
        finished, pending = wait(pending, timeout=MAIN_WAIT_S, return_when=FIRST_COMPLETED)
        yield sorted(index[future] for future in finished)
        check()
