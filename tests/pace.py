"""The suite's time limits in the box's own time, so that a busy runner is told from a broken kit (issue 98, item 8).

A limit a test puts on how long something may take (a run that must end, a stop that must come soon, a wait for a
file) is a claim about the kit on a box of its own. On a runner shared with other work the same kit takes longer in
wall time, as much longer as the box is busy: a fresh clone's CI at a load of 35 on 2 cores failed 8 tests where one
thing was broken. So no test bounds wall time where the box's own measured pace says the same: each limit here is
counted in the seconds a quiet box would have counted, each wall interval weighted by the share of a core a runnable
thread got in it (`share`: the box's cores over the threads that wanted one, from the kernel's own counts), and a
bound on work (a run's CPU) is said in CPU seconds where the test can read them.

What is counted (Linux): the cores this process may run on (its affinity, and its cgroup's CPU quota where one is
set), and the threads that wanted a core (`procs_running` of /proc/stat less this reader, or the 1-minute load
average where it is higher: a box whose work comes in bursts is counted by its busier figure). A box that counts
neither (not Linux) runs the limits in wall time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

SLICE_S = 0.2  # the longest wall time a wait here blocks before it counts the box's pace again


def cores() -> float:
    """The cores this process may run on: its affinity, at most its cgroup's CPU quota (cgroup v2's cpu.max)."""
    n: float = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    with contextlib.suppress(OSError, ValueError, IndexError):
        group = Path("/proc/self/cgroup").read_text().strip().splitlines()[0].split(":", 2)[2]
        quota, period = (Path("/sys/fs/cgroup") / group.lstrip("/") / "cpu.max").read_text().split()
        if quota != "max":
            n = min(n, int(quota) / int(period))
    return max(n, 1.0)


def wanting() -> float:
    """The threads that want a core now, this reader aside: the kernel's runnable count, or the 1-minute load average
    where it is higher; 0.0 where neither is read."""
    running = 0.0
    with contextlib.suppress(OSError, ValueError, StopIteration):
        line = next(ln for ln in Path("/proc/stat").read_text().splitlines() if ln.startswith("procs_running "))
        running = float(line.split()[1]) - 1
    with contextlib.suppress(OSError):
        running = max(running, os.getloadavg()[0])
    return running


def share() -> float:
    """The share of a core a runnable thread gets now (1.0 on a box with a core free for it)."""
    return min(1.0, cores() / max(wanting(), 1.0))


def scaled(seconds: float) -> float:
    """`seconds` of a quiet box as wall seconds at the pace of now: for a limit a library counts in wall time alone
    (faulthandler's), read once as it is set."""
    return seconds / share()


class BoxClock:
    """Seconds as a quiet box counts them: each wall interval between two readings weighted by the share of a core a
    runnable thread got (share(), read at each reading: read it at least every SLICE_S or so, or let `ticking` read
    it in a thread of its own)."""

    def __init__(self) -> None:
        self.counted = 0.0
        self.started = self._last = time.monotonic()  # wall time, for a failure's message
        self._lock = threading.Lock()

    def seconds(self) -> float:
        with self._lock:
            now = time.monotonic()
            self.counted += (now - self._last) * share()
            self._last = now
            return self.counted

    def pace(self) -> float:
        """The box's own seconds per wall second since the clock started: what a wall figure the kit measured in
        that time (a step's seconds) is worth."""
        counted = self.seconds()
        return counted / max(self._last - self.started, 1e-9)

    def wall(self) -> float:
        """The wall seconds since the clock started, for a failure's message."""
        return time.monotonic() - self.started


@contextlib.contextmanager
def ticking() -> Iterator[BoxClock]:
    """A BoxClock read every SLICE_S by a thread of its own while the block runs, for a block that reads it only now
    and then (the time of a line a process prints)."""
    clock, done = BoxClock(), threading.Event()

    def tick() -> None:
        while not done.wait(SLICE_S):
            clock.seconds()

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield clock
    finally:
        done.set()
        thread.join()


class Deadline:
    """A limit of `seconds` counted on a BoxClock from now."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.clock = seconds, BoxClock()

    def left(self) -> float:
        return self.seconds - self.clock.seconds()

    def expired(self) -> bool:
        return self.left() <= 0

    def slice(self) -> float:
        """How long to block before reading the box's pace again: at most SLICE_S, and no longer than the limit's
        seconds left would last at a quiet pace."""
        return max(min(SLICE_S, self.left()), 0.01)


def until(check: Callable[[], object], seconds: float, poll_s: float = 0.05) -> bool:
    """Poll `check` until it is true (True) or `seconds` of the box's own time have passed (False)."""
    limit = Deadline(seconds)
    while not check():
        if limit.expired():
            return bool(check())
        time.sleep(min(poll_s, limit.slice()))
    return True


def wait(proc: subprocess.Popen[Any], seconds: float) -> int:
    """Popen.wait with its limit in the box's own time: TimeoutExpired (the process left running) past it."""
    limit = Deadline(seconds)
    while True:
        try:
            return proc.wait(timeout=limit.slice())
        except subprocess.TimeoutExpired:
            if limit.expired():
                raise subprocess.TimeoutExpired(proc.args, seconds) from None


def communicate(proc: subprocess.Popen[Any], seconds: float, stdin: Any = None) -> tuple[Any, Any]:
    """Popen.communicate with its limit in the box's own time: TimeoutExpired (the process left running, its output
    so far kept for the next call, as Popen's own) past it."""
    limit = Deadline(seconds)
    while True:
        try:
            return proc.communicate(stdin, timeout=limit.slice())
        except subprocess.TimeoutExpired:
            stdin = None  # given once, as Popen.communicate takes it
            if limit.expired():
                raise subprocess.TimeoutExpired(proc.args, seconds) from None


def session_cpu_s(sid: int) -> float:
    """The CPU seconds (user + system) of the processes of session `sid` that live now and of every child they have
    waited for: a process's own and its reaped children's, which reach the session's leader as it reaps them."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == sid:  # after the state: ppid, pgrp, session
                total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return total / tick


class CpuLimit(subprocess.TimeoutExpired):
    """A run that spent more CPU than its limit: work that loops, told from a busy box's slowness."""


def run(argv: Sequence[str | os.PathLike[str]], *, timeout: float, check: bool = False, input: Any = None,
        capture_output: bool = False, group: bool = False, cpu_limit_s: float | None = None,
        **popen: Any) -> subprocess.CompletedProcess[Any]:
    """subprocess.run with `timeout` in the box's own time: past it the process is killed (`group`, or
    start_new_session given: its whole process group, which it then leads) and TimeoutExpired raised with what it
    wrote, as subprocess.run does. `cpu_limit_s`: also killed (CpuLimit) once its session (it leads one) has spent
    that much CPU."""
    if capture_output:
        popen.setdefault("stdout", subprocess.PIPE)
        popen.setdefault("stderr", subprocess.PIPE)
    if input is not None:
        popen.setdefault("stdin", subprocess.PIPE)
    group = popen.setdefault("start_new_session", group or cpu_limit_s is not None)
    with subprocess.Popen(argv, **popen) as proc:
        try:
            if cpu_limit_s is None:
                out, err = communicate(proc, timeout, input)
            else:
                out, err = _within_cpu(proc, timeout, cpu_limit_s, input)
        except subprocess.TimeoutExpired as past:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL) if group else proc.kill()
            out, err = proc.communicate()
            kind = CpuLimit if isinstance(past, CpuLimit) else subprocess.TimeoutExpired
            raise kind(proc.args, past.timeout, output=out, stderr=err) from None
        except BaseException:
            proc.kill()
            raise
    res = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    if check:
        res.check_returncode()
    return res


def _within_cpu(proc: subprocess.Popen[Any], seconds: float, cpu_s: float, stdin: Any) -> tuple[Any, Any]:
    """communicate(), its limit `seconds` of the box's own time, and the session's CPU read at each slice."""
    limit = Deadline(seconds)
    while True:
        try:
            return proc.communicate(stdin, timeout=limit.slice() if limit.left() < 1 else 1.0)
        except subprocess.TimeoutExpired:
            stdin = None
            if session_cpu_s(proc.pid) > cpu_s:
                raise CpuLimit(proc.args, cpu_s) from None
            if limit.expired():
                raise subprocess.TimeoutExpired(proc.args, seconds) from None
