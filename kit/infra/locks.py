"""Exclusive locks across processes: a lock file beside what is written, held with flock.

Several commands may share one file: two merges into one `-o`, several runs rendering the demo clips into
one cache or adding to its `sha256.json`. Whoever writes holds the lock file's flock for the whole
read-modify-write; the others are refused at once (`wait_s=0`) or wait their turn. The kernel releases a
flock when its holder dies, kill -9 included, so a lock file left behind never blocks anyone.

The lock file is opened without following a link (kit.infra.nofollow.open_in_place) and holds
`pid N on HOST since T` while held, which a refused command quotes. `tidy=True` removes it when done: the
holder unlinks it while still holding it, and whoever locked a file that no longer has that name tries
again on the new one, so two holders are never at once.

flock is advisory and POSIX: on Windows nothing is locked (as for the out-dir's lock). Over NFS it holds
between hosts where the client maps it to NFS locks (Linux does, since 2.6.12).
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from kit.infra.clock import utc_iso
from kit.infra.nofollow import open_in_place

POLL_S = 0.05  # how often a waiting command tries again
HOLDER_READ_S = 0.5  # a holder writes its line just after locking: how long to wait for it


class LockBusy(Exception):
    """Another process holds the lock (past the wait allowed). The caller says what it was doing."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(f"{path} is held by {holder}")
        self.path = path
        self.holder = holder  # "pid N on HOST since T", or "another process" when it wrote nothing

    @property
    def pid(self) -> int | None:
        m = re.match(r"pid (\d+)", self.holder)
        return int(m.group(1)) if m else None


@contextlib.contextmanager
def locked(path: Path, wait_s: float = 0.0, tidy: bool = False,
           on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the lock file `path` (created when missing) for the `with` block.

    Held by another process: wait up to `wait_s` seconds (calling `on_wait(holder)` once, when the wait
    begins), then raise LockBusy. `tidy` removes the lock file at the end.
    """
    if os.name != "posix":
        yield
        return
    fh = _acquire(path, time.monotonic() + wait_s, on_wait)
    try:
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {platform.node() or 'this host'} since {utc_iso()}")
        fh.flush()
        yield
    finally:
        if tidy:
            with contextlib.suppress(OSError):
                path.unlink()  # still held: whoever opened this file before it goes sees it is gone and retries
        fh.close()


def _acquire(path: Path, deadline: float, on_wait: Callable[[str], None] | None) -> IO:
    import fcntl

    waited = False
    while True:
        fh = open_in_place(path, "r+", encoding="utf-8")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fh)
            fh.close()
            if time.monotonic() >= deadline:
                raise LockBusy(path, holder) from None
            if on_wait is not None and not waited:
                on_wait(holder)
            waited = True
            time.sleep(POLL_S)
            continue
        except BaseException:
            fh.close()
            raise
        if _still_named(fh, path):
            return fh
        fh.close()  # its holder removed it (tidy) between our open and our lock: lock the new one


def _still_named(fh: IO, path: Path) -> bool:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fh.fileno())
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _holder(fh: IO) -> str:
    """The holder's line; it may not have written it yet, the instant after it locked."""
    deadline = time.monotonic() + HOLDER_READ_S
    while True:
        fh.seek(0)
        text = fh.read(200).strip()
        if text or time.monotonic() >= deadline:
            return text or "another process"
        time.sleep(0.01)
