"""UTC stamps, in the two spellings the kit writes: ISO for records, compact for file names; a child process's own
time (OwnTime), in which kit.infra.proc counts its limits, kept by the process's one Watch of its children, which
tells the kit's own pauses from a child's (kit_seconds: the kit's clock less them, the run's time left's)."""

from __future__ import annotations

import calendar
import contextlib
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"  # 2026-11-22T09:38:18Z: every *_utc field
COMPACT_UTC = "%Y%m%dT%H%M%SZ"  # 20261122T093818Z: results-<box>-<utc>.tar.gz


def utc_iso() -> str:
    return time.strftime(ISO_UTC, time.gmtime())


def utc_compact() -> str:
    return time.strftime(COMPACT_UTC, time.gmtime())


_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def normalise_utc(text: object) -> str:
    """An ISO stamp from either spelling the kit writes; "" for anything else."""
    value = str(text or "")
    if m := _COMPACT.match(value):
        return f"{m[1]}-{m[2]}-{m[3]}T{m[4]}:{m[5]}:{m[6]}Z"
    return value if _ISO.match(value) else ""


def utc_seconds(stamp: object) -> int | None:
    """The seconds since 1970 of an ISO stamp the kit writes (`*_utc`); None for anything else, a stamp of its shape
    that is no date and time (`2026-13-45T25:61:61Z`) among them."""
    if not isinstance(stamp, str) or not _ISO.match(stamp):
        return None
    if len(stamp) == 20 and stamp.isascii():  # read by its digits, with strptime's range checks (strptime itself
        # costs ~20 us a stamp, and a `status` of a running step reads two for each job done)
        y, mo, d = int(stamp[0:4]), int(stamp[5:7]), int(stamp[8:10])
        h, mi, s = int(stamp[11:13]), int(stamp[14:16]), int(stamp[17:19])
        if y >= 1 and 1 <= mo <= 12 and 1 <= d <= calendar.monthrange(y, mo)[1] and h <= 23 and mi <= 59 and s <= 61:
            return calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
        return None
    try:  # another text of its shape (a newline after it, digits of another script): as strptime reads it
        return calendar.timegm(time.strptime(stamp, ISO_UTC))
    except ValueError:  # a month 13, an hour 25: strptime's own range checks (a 61st second is a leap second)
        return None


def seconds_since_utc(stamp: str, now: float | None = None) -> float | None:
    """The seconds from an ISO stamp the kit wrote (`*_utc`) to `now` (time.time()); None for anything else."""
    then = utc_seconds(stamp)
    return None if then is None else (time.time() if now is None else now) - then


GAP_S = 5.0  # a tick of the watch later than this after the one before: the kit itself was stopped (or got no CPU)
OWN_READ_S = 0.5  # how often the watch reads every child's state and waits for a CPU (Linux's /proc)
PROC = Path("/proc")


class Reading(NamedTuple):
    """What one read of a child's /proc finds: its state (`/proc/PID/stat`'s third field: T stopped, t traced; ""
    where none is read) and each thread's nanoseconds spent waiting for a CPU (schedstat's second field)."""

    state: str
    waits: dict[str, int]


def read_child(proc: Path, pid: int) -> Reading:
    """One read of a child: its stat once, its threads' schedstat; empty where /proc has none (another OS, a child
    gone)."""
    try:
        state = (proc / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return Reading("", {})
    waits: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for task in os.scandir(proc / str(pid) / "task"):
            with contextlib.suppress(OSError, ValueError, IndexError), \
                    open(os.path.join(task.path, "schedstat"), "rb") as fh:
                waits[task.name] = int(fh.read().split()[1])
    return Reading(state, waits)


class OwnTime:
    """How long a child has had to run, as its limits count it: the seconds the kit ran while it ran or was stopped,
    less what it waited for a CPU (a busy box's run queue: its busiest thread's wait, from Linux's schedstat). What
    passed while the kit itself was stopped (the whole box suspended, its process group stopped: the watch's tick
    came late) is nobody's. A child stopped alone while the kit runs (SIGSTOP to it or its group, state T) counts:
    it is ended at its limit, said as stopped from outside (`stopped_s`, `stopped`). Kept by the Watch, which reads
    it every OWN_READ_S; elsewhere than Linux, the kit's running time."""

    def __init__(self, pid: int, watch: Watch) -> None:
        self.pid, self._watch = pid, watch
        self.counted = 0.0  # its seconds up to the watch's last tick
        self.stopped_s = 0.0  # of them, those it spent stopped (state T or t) while the kit ran
        self.stopped = False  # stopped at the last tick
        self._waits: dict[str, int] | None = None  # each thread's waits at the last tick (None: not read yet)

    def seconds(self) -> float:
        """Its seconds so far: those the watch counted, and those since its last tick while the kit runs on."""
        return self.counted + self._watch.since_tick()

    def take(self, step: float, found: Reading) -> None:
        """One tick of the watch `step` seconds after the last, the kit running through it: `found` read now."""
        waited = 0.0
        if self._waits is not None:
            waited = max((w - self._waits.get(t, 0) for t, w in found.waits.items()), default=0) / 1e9
        self._waits = found.waits
        self.stopped = found.state in ("T", "t")
        self.counted += max(0.0, step - waited)
        if self.stopped:
            self.stopped_s += step

    def stopped_now(self) -> bool:
        """Whether the child is stopped (state T or t) now, read at once (the last tick may be half a second old)."""
        return read_child(self._watch.proc, self.pid).state in ("T", "t")

    def paused(self) -> None:
        """The kit was stopped since the last tick: nothing counted; the waits read again from here."""
        self._waits = None


class Watch:
    """The process's one reader of its children's time: a thread that ticks every OWN_READ_S, reads every watched
    child's /proc once (read_child) and counts its seconds (OwnTime); a tick later than GAP_S after the one before
    is the kit's own pause (the whole box or the kit's process group stopped), counted for nobody and added to
    `paused_s`, which the run's time left takes out of its pace (`kit_seconds`). `threaded=False`: ticked by hand
    (tests)."""

    def __init__(self, now: Callable[[], float] = time.monotonic, proc: Path = PROC, threaded: bool = True) -> None:
        self._now, self.proc, self._threaded = now, proc, threaded
        self._lock = threading.Lock()
        self._clocks: dict[int, OwnTime] = {}
        self.paused_s = 0.0
        self._tick_at = now()
        self._thread: threading.Thread | None = None
        self._owner = os.getpid()

    def start(self) -> None:
        """The thread running (again in a forked child, where it did not survive the fork)."""
        if not self._threaded:
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive() and self._owner == os.getpid():
                return
            self._owner, self._tick_at = os.getpid(), self._now()
            self._thread = threading.Thread(target=self._run, name="kit-watch", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(OWN_READ_S)
            self.tick()

    def child(self, pid: int) -> OwnTime:
        """A child's clock, counted from now on."""
        self.start()
        clock = OwnTime(pid, self)
        with self._lock:
            self._clocks[pid] = clock
        return clock

    def forget(self, clock: OwnTime) -> None:
        with self._lock:
            if self._clocks.get(clock.pid) is clock:
                del self._clocks[clock.pid]

    def tick(self) -> None:
        """Every watched child read once, its seconds counted; a late tick the kit's pause."""
        with self._lock:
            clocks = list(self._clocks.values())
        now = self._now()
        found = [read_child(self.proc, c.pid) for c in clocks]  # read outside the lock: /proc may be slow
        with self._lock:
            step, self._tick_at = now - self._tick_at, now
            if step > GAP_S:
                self.paused_s += step
            for clock, reading in zip(clocks, found, strict=True):
                if step > GAP_S:
                    clock.paused()
                else:
                    clock.take(step, reading)

    def since_tick(self) -> float:
        """The seconds since the last tick, while they are the kit's running time (none once later than GAP_S: the
        kit was stopped, and the next tick says so)."""
        since = self._now() - self._tick_at
        return since if since <= GAP_S else 0.0

    def kit_seconds(self) -> float:
        """The kit's own clock: monotonic seconds less its pauses (those seen, and one not ticked yet); the watch
        started by the first call."""
        self.start()
        return self._tick_at - self.paused_s + self.since_tick()


WATCH = Watch()
