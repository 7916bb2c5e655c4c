"""UTC stamps, in the two spellings the kit writes: ISO for records, compact for file names; and a child process's
own time (OwnTime), in which kit.infra.proc counts its limits."""

from __future__ import annotations

import calendar
import contextlib
import re
import time
from collections.abc import Callable
from pathlib import Path

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


GAP_S = 5.0  # a check of a child later than this after the one before: the kit itself was stopped, or got no CPU
OWN_READ_S = 0.5  # how often a child's state and waits for a CPU are read (Linux's /proc)
PROC = Path("/proc")


class OwnTime:
    """How long a child has had to run, in seconds: the wall time between the kit's checks of it, less what passed
    while it was stopped (SIGSTOP: a suspended job, a shell's Ctrl-Z), while it waited for a CPU (a busy box's run
    queue: its busiest thread's wait, from Linux's schedstat) and while the kit itself was stopped (a check later than
    GAP_S after the one before: `scontrol suspend` stops the kit with its children). A child's limits are counted in
    it, so a busy or suspended box finishes what a quiet one does. Elsewhere than Linux, wall time less the kit's
    own stops."""

    def __init__(self, pid: int, now: Callable[[], float] = time.monotonic, proc: Path = PROC) -> None:
        self._pid, self._now, self._proc = pid, now, proc
        self.counted = 0.0  # the child's seconds up to the last read of its state
        self._last = self._read_at = now()
        self._pending = 0.0  # wall seconds since that read, counted once it is known the child could run in them
        self._delays = self._run_delays()

    def seconds(self) -> float:
        """The child's own seconds so far (those since its state was last read counted as its own for now)."""
        self._tick()
        return self.counted + self._pending

    def _tick(self) -> None:
        now = self._now()
        step, self._last = now - self._last, now
        if step > GAP_S:  # the kit did not run: what passed is nobody's work
            self._pending, self._read_at, self._delays = 0.0, now, self._run_delays()
            return
        self._pending += step
        if now - self._read_at < OWN_READ_S:
            return
        delays = self._run_delays()
        waited = max((d - self._delays.get(t, 0) for t, d in delays.items()), default=0) / 1e9
        if not self._stopped():
            self.counted += max(0.0, self._pending - waited)
        self._pending, self._read_at, self._delays = 0.0, now, delays

    def _run_delays(self) -> dict[str, int]:
        """Each thread's nanoseconds spent waiting for a CPU (schedstat's second field); {} where none is read."""
        found: dict[str, int] = {}
        with contextlib.suppress(OSError):
            for task in (self._proc / str(self._pid) / "task").iterdir():
                with contextlib.suppress(OSError, ValueError, IndexError):
                    found[task.name] = int((task / "schedstat").read_text().split()[1])
        return found

    def _stopped(self) -> bool:
        """Whether the child is stopped now (state T, or t: traced)."""
        try:
            state = (self._proc / str(self._pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state in ("T", "t")
