"""What every layer needs without a folder (writing below one is kit.infra.tree's): hashing, canonical JSON, the
temporaries' names, and the disk's errors named after the file.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import json
import os
import platform
import re
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from kit.errors import InputError
from kit.infra.interrupts import check
from kit.infra.limits import STALE_TEMP_S

TMP_MARK = ".tmp-"  # what every temporary's name starts with (temp_name)


@functools.cache
def host_tag() -> str:
    """8 hex digits naming this host in temporaries' names: a pid is only alive or dead on its own host."""
    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def host_name() -> str:
    """This host's name as a person reads it in `pid N on HOST` (a lock's holder, who wrote a record)."""
    return platform.node() or "this host"


NAME_MAX = 255  # bytes of one file name: Linux's ext4, XFS and btrfs, macOS' APFS (in UTF-8), a camera card's exFAT


def name_beside(path: Path, stem: str, tail: str) -> Path:
    """`stem + tail` beside `path`, the stem cut (a character at a time) so that the name fits in NAME_MAX bytes: a
    copy of a clip whose name already takes them all (a fix's `<name>_even.mkv`) is a name the folder takes."""
    while len(os.fsencode(stem + tail)) > NAME_MAX and stem:
        stem = stem[:-1]
    return path.with_name(stem + tail)


def file_key(p: Path) -> str:
    """One version of the file at `p` (a link followed): its resolved path, size, mtime, device, inode and ctime (set
    by the system alone), so that a copy, a replacement or an edit in place is another version."""
    st = p.stat()
    return f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}|{st.st_dev}|{st.st_ino}|{st.st_ctime_ns}"


def sha256_file(path: Path) -> str:
    with open(path, "rb") as fh:
        return sha256_stream(fh)


Version = tuple[int, int, int, int, int]


def version_of(st: os.stat_result) -> Version:
    """One version of a file, by its status: device, inode, size, mtime and ctime (set by the system alone), so that a
    copy, a replacement or an edit in place with its size and mtime put back is another version."""
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


_sha_memo: dict[tuple[object, ...], str] = {}


def remembered_sha256(path: Path, st: os.stat_result, digest: Callable[[Path], str]) -> str:
    """`digest(path)`, remembered for this process by the file's path and version (version_of)."""
    key = (str(path), *version_of(st))
    if key not in _sha_memo:
        _sha_memo[key] = digest(path)
    return _sha_memo[key]


def sha256_stream(fh: BinaryIO, chunk: int = 1 << 20) -> str:
    """sha256 of what is left to read in `fh`."""
    h = hashlib.sha256()
    while block := fh.read(chunk):
        h.update(block)
        check()  # a master of gigabytes: a stop signal between two chunks (kit/infra/interrupts.py)
    return h.hexdigest()


def count_lines(path: Path, chunk: int = 1 << 20) -> int:
    """The lines of a text file, a last one without its newline counted, read a chunk at a time."""
    lines, last = 0, b"\n"
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            lines += block.count(b"\n")
            last = block[-1:]
            check()
    return lines + (last != b"\n")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_json(obj: Any) -> str:
    """sha256 of `obj` as canonical JSON (sorted keys, no spaces)."""
    return sha256_bytes(json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode())


# what a folder of the kit's own came to, by errno, said after its name: `no space left on /data/out (out-dir)` (the
# roles: the out-dir, the kit's cache, the kit's temporary folder; kit.cli.guard.kit_folders)
OWN_CAUSES = {errno.ENOSPC: "no space left on {folder} ({role})",
              errno.EDQUOT: "{folder} ({role}) is over its disk quota",
              errno.EACCES: "cannot write in {folder} ({role}): permission denied",
              errno.EPERM: "cannot write in {folder} ({role}): operation not permitted",
              errno.EROFS: "cannot write in {folder} ({role}): its file system is read-only",
              errno.ENOENT: "{folder} ({role}) was removed while the kit ran"}
FULL_BYTES = 1 << 20  # a disk with less room than this is full: no output of a job or a look fits there


def disk_full_at(path: Path) -> bool:
    """Whether the disk holding `path` (or the nearest folder above it that is there) has no room left."""
    where = Path(os.path.abspath(path))
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        st = os.statvfs(where)
    except (OSError, AttributeError):  # no statvfs (Windows): not known to be full
        return False
    return st.f_bavail * st.f_frsize < FULL_BYTES


# errors of a write that are the disk's or the box's, not the kit's: the message names the file
NAMED_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})


@contextlib.contextmanager
def named_errors(path: Path) -> Iterator[None]:
    """An OSError of NAMED_ERRNOS raised without a file name (a write through a file object) gets `path` as its name."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None and exc.errno in NAMED_ERRNOS:
            exc.filename = os.fspath(path)
        raise


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (one of another user's counts as alive)."""
    if pid <= 0:
        return False
    try:
        with contextlib.suppress(PermissionError):  # another user's
            os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def temp_name(name: str) -> str:
    """This process's temporary for `name`, `.tmp-<name>.<pid>.<host>.<random>` (a dead writer's is stale)."""
    return f"{TMP_MARK}{name[:100]}.{os.getpid()}.{host_tag()}.{secrets.token_hex(4)}"


# The names the kit gives its temporaries, and no other: temp_name (token_hex(4)) and archive's TemporaryDirectory
# (tempfile's 8 characters of a-z, 0-9 and _); an earlier kit's mkstemp had no host. A user's `.tmp-notes` or
# `.tmp-draft.1.2.3` is none of these, and is never removed.
# An earlier kit's shape is loose enough to be a user's (`.tmp-backup.2024.20241128`): it counts as a temporary only
# once untouched for STALE_TEMP_S, whatever its pid says.
_TEMP = re.compile(r"\.tmp-.+\.(?P<pid>\d{1,10})\.(?P<host>[0-9a-f]{8})\.[a-z0-9_]{8}", re.DOTALL)
_OLD_TEMP = re.compile(r"\.tmp-.+\.(?P<pid>\d{1,10})\.[a-z0-9_]{8}", re.DOTALL)


def stale(name: str, st: os.stat_result, max_age_s: float) -> bool:
    """Whether a temporary's writer is gone: this host's dead process, or untouched for max_age_s whoever made it;
    never for a name the kit does not give its temporaries (_TEMP, _OLD_TEMP)."""
    old = time.time() - st.st_mtime > max_age_s
    found = _TEMP.fullmatch(name)
    if found is None:  # an earlier kit's (no host) once old whatever its pid; any other name the user's
        return _OLD_TEMP.fullmatch(name) is not None and time.time() - st.st_mtime > max(max_age_s, STALE_TEMP_S)
    if found["host"] != host_tag():
        return old  # a pid is alive or dead only on its own host
    pid = int(found["pid"])
    return pid != os.getpid() and (old or not pid_alive(pid))


def no_home(what: str = "") -> str:
    """A path from `~` where there is no home folder (HOME unset and the user unknown to the password database: a
    service, a container run as an unnamed user), said one way wherever the kit meets it: `what` names the path."""
    said = "starts with ~, your home folder, but there is none: HOME is not set and this user has no home folder"
    return f"{what} {said}" if what else said


def expanded(path: str | Path, door: str) -> Path:
    """`path` given to `door` (a flag, a variable) with a `~` in front made the home folder, as a shell does; where
    there is none to make (HOME unset and the user unknown to the password database: a service, a container run as an
    unnamed user) an InputError naming the door, never Python's RuntimeError."""
    try:
        return Path(path).expanduser()
    except RuntimeError:
        raise InputError(no_home(f"{door} {str(path)!r}"),
                         hint=f"give {door} the whole path, or set HOME (export HOME=/path/to/your/folder)") from None
