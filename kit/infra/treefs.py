"""The steps a Tree (kit.infra.tree) takes on the file system: its open flags, a folder it holds for one operation
(Folder) and what it finds there (Entry), renames and removals by descriptor, its root, and its flock (POSIX only).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from kit.errors import InputError
from kit.infra.interrupts import check
from kit.infra.perms import Rules, describe, euid, folder_problem, refuse, refuse_folder

# O_NONBLOCK: a FIFO planted where a file is read or appended must not block; O_BINARY: on Windows a descriptor
O_NOFOLLOW, O_NONBLOCK, O_CLOEXEC = (getattr(os, n, 0) for n in ("O_NOFOLLOW", "O_NONBLOCK", "O_CLOEXEC"))
O_BINARY, O_DIRECTORY = getattr(os, "O_BINARY", 0), getattr(os, "O_DIRECTORY", 0)  # is in text mode unless asked
DIR_FDS = bool(O_DIRECTORY) and os.open in os.supports_dir_fd and os.mkdir in os.supports_dir_fd
FOLDER = os.O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_BINARY
READ = os.O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_BINARY
WRITE = os.O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_BINARY
APPEND = os.O_WRONLY | os.O_APPEND | os.O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_BINARY
LOCK = os.O_RDWR | os.O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_BINARY
POLL_S = 0.05  # how often a waiting command tries again
HOLDER_READ_S = 0.5  # a holder writes its line just after locking: how long to wait for it


class Entry(NamedTuple):
    """Something found below a Tree, as lstat saw it (never followed)."""

    path: Path
    st: os.stat_result

    @property
    def planted(self) -> str | None:
        """What it is when no regular file: "a symbolic link to X", "a named pipe (FIFO)", "a folder"."""
        return describe(self.st, self.path)

    @property
    def mine(self) -> bool:
        return self.st.st_uid == euid()


class Folder(NamedTuple):
    """A folder below a Tree, open for one operation: its path (for messages), its descriptor (None on Windows)."""

    path: Path
    fd: int | None

    def at(self, name: str) -> tuple[str, int | None]:
        return (name, self.fd) if self.fd is not None else (str(self.path / name), None)

    def lstat(self, name: str) -> os.stat_result | None:
        where, fd = self.at(name)
        with contextlib.suppress(FileNotFoundError):
            return os.stat(where, dir_fd=fd, follow_symlinks=False)
        return None

    def free(self, name: str) -> None:
        """`name` here may be (re)written: missing, or a regular file (a link, pipe, device, folder is refused)."""
        if (st := self.lstat(name)) is not None and (what := describe(st, self.path / name)) is not None:
            raise refuse(self.path / name, what)


class LockBusy(Exception):
    """Another process holds the lock (past the wait allowed). The caller says what it was doing."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(f"{path} is held by {holder}")
        self.path, self.holder = path, holder  # "pid N on HOST since T", or "another process" when it wrote nothing


def read_holder(fd: int) -> str:
    """The holder's line in the lock file `fd` (it may not be written yet, the instant after it locked)."""
    deadline = time.monotonic() + HOLDER_READ_S
    while not (text := os.pread(fd, 200, 0).decode("utf-8", "replace").strip()) and time.monotonic() < deadline:
        time.sleep(0.01)
    return text or "another process"


def try_lock(fd: int, shared: bool) -> bool:
    import fcntl  # POSIX only: imported where it is needed
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def acquire(path: Path, open_file: Callable[[], int], found: Callable[[], Entry | None], shared: bool, wait_s: float,
            on_wait: Callable[[str], None] | None) -> int:
    """The lock file `path` (`open_file`) locked: tried for `wait_s` seconds, calling `on_wait(holder)` as the wait
    begins, then LockBusy; a file removed before we locked it (no longer `found` there): anew."""
    deadline, waited = time.monotonic() + wait_s, False
    while True:
        fd = open_file()
        try:
            got = try_lock(fd, shared)
        except BaseException:
            os.close(fd)
            raise
        if got and (now := found()) is not None and os.path.samestat(now.st, os.fstat(fd)):
            return fd
        holder = "" if got else read_holder(fd)
        os.close(fd)
        if got:
            continue
        if time.monotonic() >= deadline:
            raise LockBusy(path, holder)
        if on_wait is not None and not waited:
            on_wait(holder)
        waited = True
        time.sleep(POLL_S)
        check()  # a stop signal ends the wait (kit/infra/interrupts.py)


def rename(parent: Folder, name: str, target: Folder, dest: str, path: Path) -> None:
    """Rename `name` in `parent` to `dest` in `target`; its error names the whole `path`."""
    (src, src_fd), (dst, dst_fd) = parent.at(name), target.at(dest)
    try:
        os.replace(src, dst, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
    except OSError as exc:
        exc.filename = os.fspath(path)
        raise


def remove_tree(parent: Folder, name: str) -> None:
    """`rm -r`, walking by descriptors: every folder opened from its parent without following a link."""
    where, dir_fd = parent.at(name)
    if dir_fd is None:
        shutil.rmtree(where)  # no descriptors (Windows): rmtree never follows links inside the tree either
        return
    fd = os.open(name, FOLDER, dir_fd=dir_fd)
    try:
        with os.scandir(fd) as entries:
            listed = [(e.name, e.is_dir(follow_symlinks=False)) for e in entries]
        for child, is_dir in listed:
            if is_dir:
                remove_tree(Folder(parent.path / name, fd), child)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(child, dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dir_fd)


def open_root(path: Path, rules: Rules, make: bool) -> int | None:
    """A Tree's root (made first, with `make`), held by a descriptor (None without them: Windows) and checked."""
    if make:
        try:  # `mkdir -p` (above the root: the user's folders, links followed)
            os.makedirs(path, rules.folder_mode)
            os.chmod(path, rules.folder_mode)  # the umask is not the kit's rule
        except FileExistsError:
            pass
        except FileNotFoundError:  # what exists above it is no folder to make one in: a link to nowhere
            raise nowhere(path) from None  # (other errors name their path: the guard says what they mean)
    try:
        fd = os.open(path, os.O_RDONLY | O_DIRECTORY | O_CLOEXEC) if DIR_FDS else None
    except NotADirectoryError:
        raise InputError(f"{path} is a file, not a folder",
                         hint="choose another folder (it is created when missing)") from None
    except FileNotFoundError:
        raise nowhere(path, "open") from None
    if fd is not None and rules.checked_root and (problem := folder_problem(os.fstat(fd), rules)):
        os.close(fd)
        raise refuse_folder(path, problem, rules)
    return fd


def gone(folder: Path, root: Path | None = None, label: str = "") -> InputError:
    """Nothing can be made in `folder`, which the Tree (of `root`, its `label`) just opened: it was removed (`rm -rf`
    of the out-dir, of a job's folder in it). The same command makes it again."""
    role = "out-dir" if label == "the out-dir" else label
    where = f"{folder} ({role})" if folder == root or root is None else f"{folder}, in {root} ({role}),"
    removed = InputError(f"{where} was removed while the kit ran".replace(" ()", ""),
                         hint="run the same command again: it makes the folder again, and every finished output "
                              "still there is reused")
    removed.retry_helps = True
    return removed


def nowhere(folder: Path, verb: str = "create") -> InputError:
    """`folder` cannot be made (or opened): the deepest part of its path there is (a link too) leads nowhere."""
    above = folder
    while not os.path.lexists(above) and above != above.parent:
        above = above.parent
    if os.path.islink(above):
        return InputError(f"cannot {verb} {folder}: {above} is a link to {os.readlink(above)}, which does not exist",
                          hint="mount the storage it points to, or choose another folder")
    why = f"{above} takes no folder of yours" if verb == "create" else "it does not exist"
    return InputError(f"cannot {verb} {folder}: {why}", hint="choose another folder")
