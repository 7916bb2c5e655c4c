"""The lock of a Tree: one writer at a time, across processes and hosts, held on a file below its root.

The lock file is opened like every file of the tree (relative to its held folder, O_NOFOLLOW, the user's own),
so a link or another user's file planted at its name is refused, never locked or written through. It is held
with flock: exclusively by filelock's descriptor lock (the lock filelock's own FileLock takes, so the two
contend), or shared, by the training tasks of one out-dir beside each other but never beside a run. filelock
offers no shared lock but one kept in an SQLite database, which SQLite's own documentation advises against on
network file systems, where out-dirs of clusters live: that one call is flock's own.

An exclusive holder writes `pid N on HOST since T` into the file, which a refused command quotes. `tidy` removes
the file when done: the holder unlinks it while still holding it, and whoever locked a file that no longer has
that name tries again on the new one, so two holders are never at once. The kernel releases a flock when its
holder dies, kill -9 included, so a lock file left behind never blocks anyone. flock is advisory and POSIX:
on Windows nothing is locked. Over NFS it holds between hosts where the client maps it to NFS locks (Linux does).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from kit.infra.clock import utc_iso
from kit.infra.files import host_name
from kit.infra.folders import O_BINARY, O_CLOEXEC, O_NOFOLLOW, O_NONBLOCK
from kit.infra.interrupts import check
from kit.infra.treeio import check_open
from kit.infra.treeops import Ops

POLL_S = 0.05  # how often a waiting command tries again
HOLDER_READ_S = 0.5  # a holder writes its line just after locking: how long to wait for it
_LOCK_FLAGS = os.O_RDWR | os.O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_BINARY


class LockBusy(Exception):
    """Another process holds the lock (past the wait allowed). The caller says what it was doing."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(f"{path} is held by {holder}")
        self.path = path
        self.holder = holder  # "pid N on HOST since T", or "another process" when it wrote nothing


def _try(fd: int, shared: bool) -> bool:
    import fcntl

    if not shared:
        from filelock import lock_descriptor

        return lock_descriptor(fd, blocking=False)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class Locks(Ops):
    """A Tree's lock files (see the module)."""

    @contextlib.contextmanager
    def lock(self, path: Path, shared: bool = False, wait_s: float = 0.0, tidy: bool = False,
             on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
        """Hold the lock file `path` for the `with` block. Held by another process: wait up to `wait_s` seconds
        (calling `on_wait(holder)` once, when the wait begins), then raise LockBusy."""
        if os.name != "posix":
            yield
            return
        fd = self._acquire(path, shared, time.monotonic() + wait_s, on_wait)
        try:
            if not shared:
                line = f"pid {os.getpid()} on {host_name()} since {utc_iso()}".encode()
                os.ftruncate(fd, 0)
                os.pwrite(fd, line, 0)
            yield
        finally:
            if tidy:
                with contextlib.suppress(OSError):
                    self.remove(path)  # still held: whoever opened this file before it goes sees it gone, retries
            os.close(fd)

    def _acquire(self, path: Path, shared: bool, deadline: float, on_wait: Callable[[str], None] | None) -> int:
        waited = False
        while True:
            fd = self._lock_file(path)
            try:
                got = _try(fd, shared)
            except BaseException:
                os.close(fd)
                raise
            if got and self._still_named(path, fd):
                return fd
            holder = "" if got else _holder(fd)
            os.close(fd)
            if got:
                continue  # its holder removed it (tidy) between our open and our lock: lock the new one
            if time.monotonic() >= deadline:
                raise LockBusy(path, holder)
            if on_wait is not None and not waited:
                on_wait(holder)
            waited = True
            time.sleep(POLL_S)
            check()  # a stop signal ends the wait (kit/infra/interrupts.py)

    def _lock_file(self, path: Path) -> int:
        """The lock file, opened (created when missing) without following a link: the user's own regular file."""
        folder, name = self.split(path)
        return check_open(self._open_at(folder, name, _LOCK_FLAGS, self.rules.file_mode()), path, self.owner)

    def _still_named(self, path: Path, fd: int) -> bool:
        st = self.lstat(path)
        return st is not None and os.path.samestat(st, os.fstat(fd))

    def lock_holder(self, path: Path) -> str | None:
        """'pid N on HOST since T' while an exclusive holder has `path`; None otherwise (never holds it long)."""
        if os.name != "posix" or not self.is_file(path):
            return None
        with self.open_read(path, trusted=False) as fh:  # a shared hold, let go as the file closes
            return None if _try(fh.fileno(), shared=True) else _holder(fh.fileno())


def _holder(fd: int) -> str:
    """The holder's line; it may not have written it yet, the instant after it locked."""
    deadline = time.monotonic() + HOLDER_READ_S
    while True:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
        if text or time.monotonic() >= deadline:
            return text or "another process"
        time.sleep(0.01)
