"""The one place that spawns processes.

Every child gets a closed stdin, its own process group (so that a kill reaches
its children too), a timeout, and a bounded stderr tail for error messages.
Children still alive when the kit is interrupted are killed by `kill_all`.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kit.errors import ToolError

STDERR_TAIL_LINES = 25
STDERR_KEEP_BYTES = 4 * 1024 * 1024

_live: set[subprocess.Popen[bytes]] = set()
_live_lock = threading.Lock()


@dataclass(frozen=True)
class ProcResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: str
    elapsed_s: float

    @property
    def stderr_tail(self) -> str:
        return tail_lines(self.stderr, STDERR_TAIL_LINES)


def tail_lines(text: str, n: int) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[-n:])


def quote_argv(argv: Sequence[str | os.PathLike[str]]) -> str:
    return shlex.join(str(a) for a in argv)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass


def kill_all() -> int:
    """Kill every child the kit still runs; returns how many were killed."""
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        _kill_group(proc)
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=2)
    return len(procs)


def run_process(
    argv: Sequence[str | os.PathLike[str]],
    *,
    timeout_s: float,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    capture_stdout: bool = False,
    log: Callable[[str], None] | None = None,
) -> ProcResult:
    """Run argv to completion; never raises for a non-zero exit (callers decide).

    Raises ToolError when the program cannot be started or runs past timeout_s.
    """
    args = tuple(str(a) for a in argv)
    if log is not None:
        log(f"$ {quote_argv(args)}" + (f"   (cwd {cwd})" if cwd else ""))
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture_stdout else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
            start_new_session=os.name == "posix",
        )
    except OSError as exc:
        raise ToolError(
            f"cannot start {args[0]}: {exc.strerror or exc}",
            hint="check that the program exists and is executable",
        ) from exc
    with _live_lock:
        _live.add(proc)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        text = err.decode("utf-8", "replace")
        raise ToolError(
            f"{Path(args[0]).name} timed out after {timeout_s:.0f} s",
            hint="the input may be corrupt or the tool may hang; see the log",
            stderr_tail=tail_lines(text, STDERR_TAIL_LINES),
        ) from None
    finally:
        _kill_group(proc)
        with _live_lock:
            _live.discard(proc)
    elapsed = time.monotonic() - start
    text = err[-STDERR_KEEP_BYTES:].decode("utf-8", "replace")
    if log is not None and proc.returncode != 0:
        log(f"  exit {proc.returncode}; stderr tail:\n{tail_lines(text, STDERR_TAIL_LINES)}")
    return ProcResult(args, proc.returncode, out or b"", text, elapsed)
