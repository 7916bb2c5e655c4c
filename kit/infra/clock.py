"""UTC stamps, in the two spellings the kit writes: ISO for records, compact for file names."""

from __future__ import annotations

import calendar
import re
import time

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
