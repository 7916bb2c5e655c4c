"""The one place that spawns processes: each child with a closed stdin, a timeout, a bounded stderr tail and a process
group of its own, killed whole however the child ends, by the reaper (_Reaper) after a SIGKILL of the kit
(docs/design/robustness.md, "Interruptions"). `stop_all` kills the children and refuses new ones. A child's limits
are counted in its own time (kit.infra.clock.OwnTime: never while the kit is stopped, nor while it waits for a CPU;
a child stopped alone while the kit runs is ended at its limit, said so) and, where it shows progress, on the lack of
it (`stall_s`: docs/design/robustness.md, "Bounded looks").
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from kit.errors import ToolError
from kit.infra import reaper, resources, scratch
from kit.infra.clock import WATCH
from kit.infra.ended import OUTSIDE_SIGNALS, Ended, Kind, of_exit, of_signal
from kit.infra.interrupts import MAIN_WAIT_S, check
from kit.infra.shown import Heard, Spelled, heard, program, shell_line, spelled_path
from kit.infra.variables import TIMEOUT_S

STDERR_TAIL_LINES = 25
STDERR_KEEP_BYTES = 4 * 1024 * 1024  # the last bytes of a child's stderr kept in memory
STDERR_HEAD_BYTES = 64 * 1024  # and the first (ffmpeg's stream description), however much comes between
STDOUT_KEEP_BYTES = 16 * 1024 * 1024  # captured stdout (version and capability queries) is cut beyond this
ORPHAN_PIPE_GRACE_S = 10.0  # how long a child's pipes may stay open after it exited (a wrapper's own child)

SHELL_REPORTED_SIGNALS = frozenset({1, 2, 3, 6, 9, 13, 15})
GROUPS = os.name == "posix"  # process groups and sessions; elsewhere a child alone is killed
KILL = getattr(signal, "SIGKILL", signal.SIGTERM)  # elsewhere Popen.kill() is send_signal(SIGTERM): terminate()

LogFn = Callable[[str], None]  # where a command line and a failed command's stderr tail are written

_live: set[subprocess.Popen[bytes]] = set()
_live_lock = threading.Lock()
_stopping = threading.Event()
INTERRUPT_GRACE_S = 2.0  # a child that failed this shortly before a stop was ended by the same signal: stopped
_ended: list[tuple[float, int]] = []  # (monotonic end, return code) of the latest children
_stopped = 0  # children stopped (or ended by the same interrupt) since allow_new
_counted: set[int] = set()  # the pids counted in _stopped: a child is counted once, however it was stopped


@dataclass(frozen=True)
class ProcResult:
    argv: tuple[str, ...]  # as given: its paths kept (kit.infra.shown.Spelled), what the child says read by them
    returncode: int
    stdout: bytes
    stderr: str
    elapsed_s: float

    @property
    def stderr_tail(self) -> str:
        return tail_lines(self.stderr, STDERR_TAIL_LINES)

    @property
    def killed_by(self) -> int | None:
        """The signal that ended the child: a negative return code, or the 128+N a wrapper shell reports."""
        if self.returncode < 0:
            return -self.returncode
        return self.returncode - 128 if self.returncode - 128 in SHELL_REPORTED_SIGNALS else None


class Stopped(Exception):
    """Raised instead of starting a process once the run is being stopped."""


class _PipesHeld(Exception):
    """The child exited, but something it started still holds its output pipes open."""


class _Stalled(Exception):
    """The child runs on, but its stdout has given nothing for its stall_s."""


def tail_lines(text: str, n: int) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[-n:])


def signal_name(signum: int) -> str:
    """9 -> "signal 9 (SIGKILL)"."""
    try:
        return f"signal {signum} ({signal.Signals(signum).name})"
    except ValueError:
        return f"signal {signum}"


def ended_by(returncode: int) -> Ended:
    """How a child that did not succeed ended, by its return code alone: a signal (a negative code on POSIX) or its
    exit code (kit.infra.ended; what it said, and whether the signal came from outside, its callers read)."""
    return of_signal(-returncode, outside=-returncode in OUTSIDE_SIGNALS) if returncode < 0 else of_exit(returncode)


def timeout_limit(env: Mapping[str, str] | None = None) -> float | None:
    """KIT_TIMEOUT_S: seconds that cap every single command's timeout; None when unset or 0 (no cap)."""
    cap: float | None = TIMEOUT_S.read(env)
    return cap


def timeout_cap(timeout_s: float) -> float:
    """KIT_TIMEOUT_S caps every single command's timeout (for slow boxes: raise the caps elsewhere)."""
    return min(timeout_s, timeout_limit() or timeout_s)


# a child KIT_TIMEOUT_S stopped, wherever it runs: the cap is the user's, and stops it again until raised
CAP_FIX = f"raise or unset {TIMEOUT_S.name}, which caps every command"
# a child stopped alone (SIGSTOP to it or its group, state T) while the kit ran: ended at its limit, the moment's
STOPPED = "stopped by a signal from outside"
STOPPED_CAUSE = "something outside the kit stopped the program (kill -STOP, a debugger) while the kit ran"
STOPPED_FIX = f"not the input's fault: {STOPPED_CAUSE}; the same command runs it again"


def seconds_said(seconds: float) -> str:
    """A limit's seconds as a message says them: 128, 6, 1.5, 0.05."""
    return f"{seconds:.0f}" if seconds >= 10 else f"{seconds:.2g}"


def _kill(proc: subprocess.Popen[bytes], signum: int = KILL) -> None:
    """Send `signum` to the child's whole process group, also once the child is reaped (a wrapper's leftover child):
    the group id stays the group's while anything is left in it, and Linux does not reuse a freed pid so soon."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if GROUPS:
            os.killpg(proc.pid, signum)
        elif proc.poll() is None:
            proc.send_signal(signum)


class _Reaper:
    """The process of kit/infra/reaper.py, one per kit process, started with the first child (or the kit goes on)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def ready(self) -> None:
        """Running before a child starts, so that the child's group is told to it at once."""
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._proc = self._start()

    def tell(self, line: str) -> None:
        """`+PID` after ready() and the child's start, `-PID` after its end."""
        with self._lock:
            if self._proc is not None and self._proc.stdin is not None:
                try:
                    self._proc.stdin.write(f"{line}\n".encode())
                except OSError:  # it was killed: the next child starts another, told of the groups still alive
                    self._proc = None

    def close(self) -> None:
        """At the kit's exit: the pipe closed (the reaper kills the groups still listed), the reaper waited for."""
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is not None and proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=2)

    def _start(self) -> subprocess.Popen[bytes] | None:
        if not GROUPS or not sys.executable:
            return None
        try:
            # the process's temporary folder removed too once the kit is gone (kit.infra.scratch)
            mine = scratch.opened()
            proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", reaper.CODE, reaper.process_mark(),
                                     *([str(mine)] if mine is not None else [])],
                                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    bufsize=0, start_new_session=True,
                                    env=reaper.child_environment(os.environ, marked=False))  # no kit's to find
        except OSError:
            return None
        assert proc.stdin is not None
        with _live_lock:
            alive = [p.pid for p in _live]
        with contextlib.suppress(OSError):
            proc.stdin.write("".join(f"+{pid}\n" for pid in alive).encode())
        return proc


_reaper = _Reaper()
atexit.register(_reaper.close)


def kill_all() -> int:
    """Kill every child the kit still runs; returns how many were killed."""
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        _kill(proc)
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=2)
    return len(procs)


def signal_children(signum: int) -> int:
    """Send `signum` to every running child's group (kit.infra.interrupts.passed_on); returns how many. From a signal
    handler, on the thread that may hold _live_lock: the set is copied without it."""
    procs = tuple(_live)
    for proc in procs:
        _kill(proc, signum)
    return len(procs)


def allow_new() -> None:
    """A new invocation in the same process (tests, embedding) may start children again."""
    global _stopped
    _stopping.clear()
    with _live_lock:
        _stopped = 0
        _counted.clear()
        _ended.clear()


def stop_all() -> int:
    """Refuse new children from now on and kill the running ones; returns how many were stopped."""
    global _stopped
    first = not _stopping.is_set()
    _stopping.set()
    now = time.monotonic()
    with _live_lock:
        if first:  # children that died of the same signal a moment ago were running when it came
            _stopped += sum(1 for end, code in _ended if code != 0 and now - end <= INTERRUPT_GRACE_S)
        fresh = {p.pid for p in _live} - _counted
        _counted.update(fresh)
        _stopped += len(fresh)
    return kill_all()


def stopped_count() -> int:
    """How many children the stop ended (since allow_new), however many stop_all calls it took."""
    return _stopped


def run_process(
    argv: Sequence[str | os.PathLike[str]],
    *,
    timeout_s: float,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    capture_stdout: bool = False,
    log: LogFn | None = None,
    on_stdout_line: Callable[[str], None] | None = None,
    capped: bool = True,
    output: IO[Any] | tuple[IO[Any], IO[Any]] | None = None,
    stdout_max_bytes: int = STDOUT_KEEP_BYTES,
    handed_over: bool = False,
    stall_s: float | None = None,
    frames: bool = False,
) -> ProcResult:
    """Run argv to completion; never raises for a non-zero exit (callers decide).

    `output`: a file for the child's stdout and stderr (a cluster task's log), or a pair of files (a program run for the
    user), the result then keeps neither. `capped`: KIT_TIMEOUT_S caps `timeout_s` (False for a whole kit command).
    `on_stdout_line`: stdout handed over line by line, not kept; captured stdout is cut after `stdout_max_bytes`.
    `handed_over`: the child's work must outlive the kit (sbatch's job): it carries no mark (kit/infra/reaper.py).
    `stall_s`: the child is stopped as timed out once it has shown no progress for that long: its captured stdout
    gave nothing (a decode writing each frame's thumbnail as it goes), or (`frames`) no `frame=N` line of ffmpeg's
    `-progress pipe:1` counted on (one stuck in a loop is stopped in minutes, whatever its timeout; `timeout_s` may
    then be math.inf). Both limits are in the child's own time (OwnTime): a stopped or busy box finishes what a
    quiet one does. Raises ToolError when the program cannot start, TimedOut when it runs past its timeout or stalls
    (its whole group killed), Stopped when the run is being interrupted.
    """
    args = tuple(str(a) for a in argv)
    # what the log and a failure say, the paths in it kept as paths (kit.infra.shown): the program's own path too
    given = tuple(a if isinstance(a, Spelled) else program(os.fspath(a)) if i == 0 else
                  spelled_path(os.fspath(a)) if isinstance(a, os.PathLike) else a for i, a in enumerate(argv))
    cap = timeout_limit() if capped else None
    by_cap = cap is not None and cap < timeout_s  # a stop at the timeout is the cap's
    timeout_s = min(timeout_s, cap) if cap is not None else timeout_s
    if _stopping.is_set():
        raise Stopped(args[0])
    if log is not None:
        log(Spelled("$ ", shell_line(given), *(("   (cwd ", cwd, ")") if cwd else ())))
    start = time.monotonic()
    _reaper.ready()
    piped = subprocess.PIPE if capture_stdout or on_stdout_line or frames else subprocess.DEVNULL
    proc, own = _spawn_own(args, cwd, env, output, piped, handed_over)  # in a temporary folder of its own
    _track(proc)
    reader = _Reader(proc, on_stdout_line, stdout_max_bytes, frames)
    try:
        out, err = _outputs(reader, timeout_s, log, Path(args[0]).name, given, stall_s, by_cap)
    finally:
        WATCH.forget(reader.clock)
        _untrack(proc)
        scratch.remove(own)  # its temporary folder
    elapsed = time.monotonic() - start
    text = err.decode("utf-8", "replace")
    if log is not None and proc.returncode != 0:  # how it ended, typed; its words the box's (kit.infra.ended)
        log(Spelled(f"  ended: {ended_by(proc.returncode)}",
                    heard(tail_lines(text, STDERR_TAIL_LINES), given, lead="; stderr tail:\n")))
    if resources.killed_by_file_size(proc.returncode):  # the box's limit, never the caller's to explain
        raise resources.file_size_error(f"{Path(args[0]).name} was killed (SIGXFSZ) as it wrote a file")
    return ProcResult(given, proc.returncode, out, text, elapsed)


def _untrack(proc: subprocess.Popen[bytes]) -> None:
    """The child's group killed (what it left behind too, on every path), the child no longer among the live ones."""
    _kill(proc)
    with _live_lock:
        _live.discard(proc)
        if not _stopping.is_set() and proc.returncode is not None:
            _ended.append((time.monotonic(), proc.returncode))
            del _ended[:-64]
    _reaper.tell(f"-{proc.pid}")


def _spawn_own(args: tuple[str, ...], cwd: Path | None, env: dict[str, str] | None,
               output: IO[Any] | tuple[IO[Any], IO[Any]] | None, piped: int,
               handed_over: bool) -> tuple[subprocess.Popen[bytes], Path | None]:
    """_spawn (stdout to `output` or `piped`, stderr to `output` or a pipe) with a temporary folder of the child's own
    (kit.infra.scratch), which the caller removes when it ends; work handed over (it outlives the kit) the user's own,
    and no folder."""
    to_out, to_err = output if isinstance(output, tuple) else (output, output)
    own = None if handed_over else scratch.child_folder()
    try:
        return _spawn(args, cwd, scratch.child_environment(os.environ if env is None else env, own),
                      piped if to_out is None else to_out, subprocess.PIPE if to_err is None else to_err,
                      marked=not handed_over), own
    except BaseException:
        scratch.remove(own)
        raise


def _spawn(args: tuple[str, ...], cwd: Path | None, env: dict[str, str] | None, stdout: Any,
           stderr: Any, marked: bool = True) -> subprocess.Popen[bytes]:
    """The child started in a group of its own, stdin closed; ToolError (or the box's limit) when it cannot start."""
    child_env = reaper.child_environment(os.environ if env is None else env, marked)  # kit/infra/reaper.py
    try:
        return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, cwd=cwd, env=child_env,
                                start_new_session=GROUPS)
    except OSError as exc:
        if (limit := resources.resource_error(exc, f"cannot start {args[0]}")) is not None:
            raise limit from exc  # the box's limits (open files, memory), not the program
        raise CannotStart(Spelled("cannot start ", spelled_path(args[0]), f": {exc.strerror or exc}"),
                        hint="check that the program exists and is executable") from exc


def _track(proc: subprocess.Popen[bytes]) -> None:
    """The child among the live ones, told to the reaper; killed at once when stop_all ran since the check."""
    global _stopped
    with _live_lock:
        _live.add(proc)
        late = _stopping.is_set()
        if late and proc.pid not in _counted:
            _counted.add(proc.pid)
            _stopped += 1
    _reaper.tell(f"+{proc.pid}")
    if late:
        _kill(proc)


def _outputs(reader: _Reader, timeout_s: float, log: LogFn | None, name: str, given: Sequence[str],
             stall_s: float | None = None, by_cap: bool = False) -> tuple[bytes, bytes]:
    """(stdout, stderr) once the child has exited; TimedOut past its timeout or its stall (the group killed at once
    with SIGKILL, which no child can ignore: its outputs are temporaries, nothing to finish), ToolError when its pipes
    stay held. `given`: the argv as the log spells it, whose paths are found in what the child said; `by_cap`: the
    timeout is KIT_TIMEOUT_S's."""
    try:
        return reader.wait(timeout_s, stall_s)
    except _PipesHeld:
        raise _failure(log, f"{name} exited (code {reader.proc.returncode}) but a process it started kept its "
                       "output open",
                       "a wrapper script must `exec` the program (or close its output) so the kit sees it end",
                       reader.err.value(), given) from None
    except (subprocess.TimeoutExpired, _Stalled) as stop:
        stalled = isinstance(stop, _Stalled) and stall_s is not None
        after = stall_s if stalled and stall_s is not None else timeout_s
        stopped = reader.stopped_from_outside(after)  # read before the kill: the cause, whichever limit ended it
        _kill(reader.proc)
        try:
            # a wrapper script's own child may still hold the pipes open: read briefly, then give up
            _, err = reader.wait(2)
        except (subprocess.TimeoutExpired, _PipesHeld):
            err = reader.err.value()
            reader.proc.wait()
        capped = by_cap and not stalled and not stopped
        said, hint = _stop_words(name, after, stalled, stopped, capped)
        failed = _failure(log, said, hint, err, given)
        raise TimedOut(failed.message, failed.hint, failed.stderr_tail, after, err.decode("utf-8", "replace"),
                       stalled, stopped=stopped, capped=capped) from None


def _stop_words(name: str, after: float, stalled: bool, stopped: bool, capped: bool) -> tuple[str, str]:
    """(message, hint) of a child stopped at its limit of `after` seconds: by KIT_TIMEOUT_S's cap, stopped from
    outside while the kit ran, given no frames (`stalled`), or past its timeout."""
    seconds = seconds_said(after)
    if stopped:
        return f"{name} was {STOPPED} for {seconds} s, its limit, while the kit ran", STOPPED_FIX
    if capped:
        return (f"{name} ran past {TIMEOUT_S.name} ({seconds} s), which caps every command",
                f"{CAP_FIX}: the same command then runs it again")
    if stalled:
        return (f"{name} gave no frames for {seconds} s",
                "the input may be corrupt or the tool may hang; see the step log")
    return f"{name} timed out after {seconds} s", "the input may be corrupt or the tool may hang; see the step log"


def _failure(log: LogFn | None, message: str, hint: str, stderr: bytes, given: Sequence[str]) -> ToolError:
    """A ToolError for a child that never finished properly, its stderr tail logged too (the paths it was `given`
    found in it, kit.infra.shown.heard)."""
    tail = heard(tail_lines(stderr.decode("utf-8", "replace"), STDERR_TAIL_LINES), given)
    if log is not None:  # its words the box's (kit.infra.ended): the lead reads the kit's line alone
        log(Spelled(f"  {message}", Heard("; stderr tail:\n", tail)))
    return ToolError(Spelled(message), hint=hint, stderr_tail=tail)  # made of known parts: the program's name


class TimedOut(ToolError):
    """A child that ran past its timeout, killed (SIGKILL to its whole group, so one that ignores SIGTERM ends too).
    Never offered as a `retry:`: the same command runs past the same timeout again. `stderr`: what was kept of its
    stderr (BoundedBuffer: head, a note of the lines not kept, tail), for the caller to find its telling line."""

    retry_helps = False

    def __init__(self, message: str, hint: str, stderr_tail: str, timeout_s: float, stderr: str,
                 stalled: bool = False, *, stopped: bool = False, capped: bool = False) -> None:
        super().__init__(message, hint, stderr_tail)
        self.timeout_s = timeout_s  # its timeout, or (`stalled`) how long its stdout gave nothing
        self.stderr = stderr
        self.stalled = stalled
        self.stopped = stopped  # stopped from outside (state T) while the kit ran, for most of that
        self.capped = capped  # the timeout was KIT_TIMEOUT_S's

    @property
    def ended(self) -> Ended:
        """How it ended, typed (kit.infra.ended): what a caller decides by, never the words of its message."""
        seconds = round(self.timeout_s)
        if self.stopped:
            return Ended(Kind.STOPPED_OUTSIDE)
        if self.capped:
            return Ended(Kind.CAPPED, seconds=seconds, cap=TIMEOUT_S.name)
        return Ended(Kind.NO_FRAMES_FOR if self.stalled else Kind.TIMED_OUT, seconds=seconds)


class CannotStart(ToolError):
    """A program that could not start (missing, not executable): `ended` typed as TimedOut's is."""

    ended = Ended(Kind.CANNOT_START)


def ended_of(exc: ToolError) -> Ended | None:
    """How the child of a ToolError run_process raised ended, typed; None for an end of no kind (its pipes held)."""
    return exc.ended if isinstance(exc, TimedOut | CannotStart) else None


class BoundedBuffer:
    """The first `head` and the last `tail` bytes of a stream, whatever its length (memory: head + tail + one read),
    and a count of the bytes and lines left out between them, said in their place (NOT_KEPT)."""

    def __init__(self, head: int = STDERR_HEAD_BYTES, tail: int = STDERR_KEEP_BYTES) -> None:
        self.head_limit, self.tail_limit = head, tail
        self.head = bytearray()
        self.tail: collections.deque[bytes] = collections.deque()
        self.tail_bytes = self.dropped = self.dropped_lines = 0
        self.added_at = time.monotonic()  # when it was made or last given a chunk

    def add(self, chunk: bytes) -> None:
        self.added_at = time.monotonic()
        room = max(0, self.head_limit - len(self.head))
        self.head += chunk[:room]
        chunk = chunk[room:]
        if not chunk:
            return
        self.tail.append(chunk)
        self.tail_bytes += len(chunk)
        while self.tail and self.tail_bytes - len(self.tail[0]) >= self.tail_limit:
            first = self.tail.popleft()
            self.tail_bytes -= len(first)
            self.dropped += len(first)
            self.dropped_lines += first.count(b"\n")

    def value(self) -> bytes:
        tail = b"".join(self.tail)
        if not self.dropped:
            return bytes(self.head) + tail
        # the tail starts inside a line: that line's start is gone, so the rest of it is left out too
        cut = tail.find(b"\n") + 1
        lines, size = self.dropped_lines + (1 if cut else 0), self.dropped + cut
        return bytes(self.head) + NOT_KEPT.format(lines=lines, size=size).encode() + tail[cut:]


# what stands for the part of a stream BoundedBuffer left out: "… 17,034,112 lines (2,934,118,400 bytes) not kept …"
NOT_KEPT = "\n[… {lines:,} lines ({size:,} bytes) of output not kept …]\n"
NOT_KEPT_LINE = re.compile(r"^\[… ([\d,]+) lines \(([\d,]+) bytes\) of output not kept …\]$", re.MULTILINE)


def lines_not_kept(text: str) -> int:
    """How many lines BoundedBuffer left out of `text` (a child's stderr as ProcResult or TimedOut keep it), 0 for
    none."""
    found = NOT_KEPT_LINE.search(text)
    return int(found.group(1).replace(",", "")) if found else 0


def progress_frame(line: str) -> int | None:
    """ffmpeg's `-progress` line `frame=123` -> 123; any other line -> None."""
    key, _, value = line.partition("=")
    if key.strip() != "frame":
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


class _Reader:
    """Reads a child's stdout and stderr on threads, so neither pipe fills; a callback's error raised once drained.
    `progressed` counts the child's signs of progress: each chunk of captured stdout, or (`frames`) each `-progress`
    frame count above the last."""

    def __init__(self, proc: subprocess.Popen[bytes], on_line: Callable[[str], None] | None, max_bytes: int,
                 frames: bool = False) -> None:
        self.proc, self.on_line, self.frames = proc, on_line, frames
        self.err = BoundedBuffer()
        self.out = BoundedBuffer(max_bytes, 0)  # stdout's: empty unless it is captured
        self.failure: BaseException | None = None
        self.progressed = 0
        self._frame = -1
        self.clock = WATCH.child(proc.pid)
        self._stopped_at = 0.0  # the clock's stopped seconds at its last progress
        pump_out = self._pump if on_line is None and not frames else self._pump_lines
        self.threads = [threading.Thread(target=pump, args=(pipe, buf), daemon=True) for pump, pipe, buf in
                        ((self._pump, proc.stderr, self.err), (pump_out, proc.stdout, self.out)) if pipe is not None]
        for t in self.threads:
            t.start()

    def _pump_lines(self, pipe: object, buf: BoundedBuffer) -> None:
        """Hand `pipe`'s lines to on_line (`buf` unused: stdout handed over is not kept), then close it, as _pump;
        with `frames`, each frame count above the last is progress."""
        assert isinstance(pipe, io.BufferedReader)
        with pipe:
            for raw in pipe:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if self.frames and (frame := progress_frame(line)) is not None and frame > self._frame:
                    self._frame = frame
                    self.progressed += 1
                if self.failure is None and self.on_line is not None:
                    try:
                        self.on_line(line)
                    except Exception as exc:  # re-raised by wait(), once the child is done
                        self.failure = exc

    def _pump(self, pipe: object, buf: BoundedBuffer) -> None:
        """Read `pipe` to its end into `buf`, then close it (only the reading thread may: mid-read, a close waits)."""
        assert isinstance(pipe, io.BufferedReader)  # Popen's pipes are buffered readers (bufsize -1)
        with pipe:
            while chunk := pipe.read1(65536):  # what is there now, not 64 KiB or EOF
                buf.add(chunk)
                if buf is self.out:
                    self.progressed += 1

    def wait(self, timeout_s: float, stall_s: float | None = None) -> tuple[bytes, bytes]:
        """(stdout, stderr) once the child has exited and its pipes closed; TimeoutExpired past `timeout_s` of its own
        time (OwnTime), _Stalled once it has shown no progress for `stall_s` of it."""
        # the readers first: they end as the child's pipes close (Popen.wait polls with sleeps of up to 50 ms)
        exited_at: float | None = None
        seen, since = self.progressed, 0.0
        while (alive := [t for t in self.threads if t.is_alive()]) or self.proc.poll() is None:
            own = self.clock.seconds()
            if self.progressed != seen:
                seen, since, self._stopped_at = self.progressed, own, self.clock.stopped_s
            if self.proc.poll() is not None:  # its grace for its pipes in own time too: a stop right then is none
                exited_at = own if exited_at is None else exited_at
            if own >= timeout_s:
                raise subprocess.TimeoutExpired(self.proc.args, timeout_s)
            if stall_s is not None and exited_at is None and own - since > stall_s:
                raise _Stalled()
            if exited_at is not None and own - exited_at > ORPHAN_PIPE_GRACE_S:
                raise _PipesHeld()
            slice_s = min(MAIN_WAIT_S, max(0.01, timeout_s - own))
            with contextlib.suppress(subprocess.TimeoutExpired):
                alive[0].join(slice_s) if alive else self.proc.wait(slice_s)
            check()  # a stop signal is raised between two slices (kit.infra.interrupts)
        if self.failure is not None:
            raise self.failure
        return self.out.value(), self.err.value()

    def stopped_from_outside(self, window: float) -> bool:
        """Whether the child, at its limit of `window` seconds, was stopped from outside (state T while the kit ran):
        stopped now, or for half of the window since its last progress."""
        return self.clock.stopped_now() or self.clock.stopped_s - self._stopped_at >= window / 2
