"""Atomic file writes and hashing.

Every output is written under a temporary name in the same folder and renamed
into place, so a kill at any instant leaves the old complete file or the new one.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from kit.infra.limits import STALE_TEMP_S
from kit.infra.nofollow import (
    O_BINARY,
    O_CLOEXEC,
    O_NOFOLLOW,
    check_folders,
    check_target,
    describe,
    make_folder,
    open_regular,
    refuse,
)

TMP_MARK = ".tmp-"
# mkstemp creates 0600 files; outputs get the mode a plain open() would give them
_UMASK = os.umask(0)
os.umask(_UMASK)


def sha256_file(path: Path) -> str:
    with open(path, "rb") as fh:
        return sha256_stream(fh)


def sha256_stream(fh: BinaryIO, chunk: int = 1 << 20) -> str:
    """sha256 of what is left to read in `fh`."""
    h = hashlib.sha256()
    while block := fh.read(chunk):
        h.update(block)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_json(obj: Any) -> str:
    return sha256_bytes(canonical_json(obj).encode())


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


# errors of a write that are the disk's or the box's, not the kit's: the message names the file
NAMED_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})


@contextlib.contextmanager
def named_errors(path: Path) -> Iterator[None]:
    """An OSError of NAMED_ERRNOS raised without a file name (a write through a file object: a tarball, a
    parquet writer, a log) gets `path` as its file name, so that `disk full while writing …` names it."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None and exc.errno in NAMED_ERRNOS:
            exc.filename = os.fspath(path)
        raise


@contextlib.contextmanager
def atomic_path(path: Path, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it into place on success (with `mode`, e.g. 0o755).

    The temporary is `.tmp-<name>.<pid>.<random>`: remove_stale can tell a killed writer's from a live one's.
    A full disk (or another of NAMED_ERRNOS) while it is written is reported as writing `path`.
    """
    tmp_path = new_temp(path)
    try:
        with named_errors(path):
            yield tmp_path
            seal(tmp_path, mode)
            replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def new_temp(path: Path) -> Path:
    """An empty temporary file beside `path`, named as atomic_path names them.

    `path` must be free for a regular file (kit.infra.nofollow.check_target), checked before any work is
    written; mkstemp creates the temporary with O_EXCL and O_NOFOLLOW, so it is never someone else's file.
    """
    make_folder(path.parent)
    check_target(path)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path.name), dir=path.parent)
    os.close(fd)
    return Path(tmp)


def replace(tmp: Path, path: Path) -> None:
    """Rename a finished temporary over `path`, once more checked to be a regular file or missing."""
    check_target(path)
    os.replace(tmp, path)


def remove_output(path: Path) -> None:
    """Delete an earlier output of the kit's own; a link, pipe or folder in its place is refused, not removed,
    so that what a neighbour planted is seen (and a step's refusal names it) rather than silently cleared."""
    check_target(path)
    path.unlink(missing_ok=True)


def fresh_folder(path: Path) -> Path:
    """An empty scratch folder at `path` that only this user can enter (so nothing can be planted in it while
    ffmpeg writes there); an earlier one is removed, a link or a file in its place is refused."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None and (what := describe(st, path)) != "a folder":
        raise refuse(path, what or "a file", "a scratch folder")
    if st is not None:
        shutil.rmtree(path)  # rmtree never follows links inside the tree
    make_folder(path.parent)
    make_folder(path, 0o700)
    return path


def move_into(path: Path, folder: Path) -> Path:
    """Move an earlier output of the kit's own, a regular file or a folder, into `folder` (made when missing) under
    its name, or `<name>.2`, `.3`, ... when that is taken; returns where it went. A rename: nothing is copied or
    deleted, and a link or pipe in its place is refused, not moved."""
    what = describe(os.lstat(path), path)
    if what not in (None, "a folder"):
        raise refuse(path, what or "not a regular file", "a file or folder")
    make_folder(folder)
    dest, n = folder / path.name, 2
    while os.path.lexists(dest):
        dest, n = folder / f"{path.name}.{n}", n + 1
    os.rename(path, dest)
    return dest


def new_temp_folder(path: Path) -> Path:
    """An empty folder beside `path`, named as atomic_path names temporaries (`.tmp-<name>.<pid>.<random>`), where
    a folder of outputs is built before place_folder moves it into place whole."""
    make_folder(path.parent)
    check_folders(path.parent)
    while True:
        tmp = path.parent / f"{temp_prefix(path.name)}{secrets.token_hex(4)}"
        try:
            os.mkdir(tmp, 0o755 & ~0o022)  # never follows a link at its last component: a link is EEXIST
        except FileExistsError:
            continue
        return tmp


def place_folder(tmp: Path, path: Path) -> None:
    """Rename a finished temporary folder (new_temp_folder) to `path`, which must be free: an earlier folder there
    is moved aside first (move_into), never replaced."""
    check_folders(path.parent)
    if os.path.lexists(path):
        raise refuse(path, describe(os.lstat(path), path) or "a file", "nothing: an earlier one is moved aside")
    os.rename(tmp, path)


def remove_temp_folder(tmp: Path) -> None:
    """Delete a temporary folder of this process's (new_temp_folder) whose work was abandoned."""
    if os.path.isdir(tmp) and not os.path.islink(tmp):
        shutil.rmtree(tmp)  # rmtree never follows links inside the tree


def remove_folder(path: Path) -> None:
    """Delete a folder of the kit's own and everything in it (nothing when it is missing); a link or a file in
    its place, or a link in a folder above it, is refused, not removed."""
    if not os.path.lexists(path):
        return
    check_folders(path)
    what = describe(os.lstat(path), path)
    if what != "a folder":
        raise refuse(path, what or "a file", "a folder")
    shutil.rmtree(path)  # rmtree never follows links inside the tree


def copy_file(src: Path, dest: Path) -> None:
    """Copy the regular file `src` (never what a link in its place points to) to `dest`, written atomically."""
    with open_regular(src) as fh, atomic_path(dest) as tmp, open_temp(tmp) as out:
        shutil.copyfileobj(fh, out)


def open_temp(tmp: Path, write: bool = True) -> BinaryIO:
    """A temporary of this process's (new_temp), opened again without following a link: if a neighbour swapped
    it for one since, the open fails (ELOOP) instead of writing, syncing or changing the mode of the target."""
    flags = (os.O_WRONLY | os.O_TRUNC) if write else os.O_RDONLY
    try:
        fd = os.open(tmp, flags | O_NOFOLLOW | O_CLOEXEC | O_BINARY)
    except OSError as exc:
        if os.path.islink(tmp):
            raise refuse(tmp, "a symbolic link (it replaced the kit's temporary)") from exc
        raise
    return os.fdopen(fd, "wb" if write else "rb")


def seal(tmp: Path, mode: int | None = None) -> None:
    """A finished temporary: on disk (fsync) and with the mode a plain open() would give it (or `mode`), both
    done on the opened file, never through a link."""
    with open_temp(tmp, write=False) as fh:
        os.fsync(fh.fileno())
        wanted = (0o666 if mode is None else mode) & ~_UMASK
        if hasattr(os, "fchmod"):
            os.fchmod(fh.fileno(), wanted)
        else:  # Windows: no fchmod, and no links a user may plant
            os.chmod(tmp, wanted)


def temp_prefix(name: str) -> str:
    """The prefix of this process's temporaries for `name`."""
    return f"{TMP_MARK}{name}.{os.getpid()}."


def write_bytes(path: Path, data: bytes, mode: int | None = None) -> None:
    with atomic_path(path, mode) as tmp, open_temp(tmp) as fh:
        fh.write(data)


def write_text(path: Path, text: str, mode: int | None = None) -> None:
    """`text` as UTF-8 at `path`, atomically; `mode` (0o777: executable) is masked by the umask."""
    write_bytes(path, text.encode("utf-8"), mode)


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def read_json_object(path: Path) -> tuple[dict[str, Any] | None, str]:
    """A JSON object the kit wrote itself, checked, not trusted: (the object, "") or (None, why not).

    Missing, unreadable, cut short, not UTF-8, or valid JSON of another shape ([] or a string): the
    caller treats it as absent and rebuilds it. `why` is "missing" for a file that is not there.
    """
    try:
        data = read_json(path)
    except FileNotFoundError:
        return None, "missing"
    except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None, f"unreadable ({type(exc).__name__})"
    if not isinstance(data, dict):
        return None, f"damaged (a JSON {type(data).__name__}, not an object)"
    return data, ""


def remove_temp_files(folder: Path, recursive: bool = True) -> int:
    """Delete temporaries a killed run left behind (in sub-folders too unless not recursive); returns how many."""
    if not folder.is_dir():
        return 0
    count = 0
    for p in (folder.rglob if recursive else folder.glob)(TMP_MARK + "*"):
        if p.is_file():
            p.unlink(missing_ok=True)
            count += 1
    return count


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (one of another user's counts as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner_pid(name: str, prefix: str) -> int | None:
    """The pid in `<prefix><pid><sep>...`, None when the name carries none (a temporary of an older kit)."""
    digits = name[len(prefix):].split(".", 1)[0].split("-", 1)[0]
    return int(digits) if digits.isdigit() else None


def remove_stale(folder: Path, prefix: str, max_age_s: float = STALE_TEMP_S) -> int:
    """Remove `<prefix><pid>...` files and folders in `folder` whose process is gone or that are older than max_age_s.

    What a killed command left behind: a live command's temporaries (another merge beside this one) are kept.
    Returns how many were removed.
    """
    count = 0
    try:
        entries = list(folder.glob(glob_escape(prefix) + "*"))
    except OSError:
        return 0
    now = time.time()
    for p in entries:
        pid = owner_pid(p.name, prefix)
        try:
            age = now - p.lstat().st_mtime
        except OSError:
            continue
        if pid == os.getpid() or (pid is not None and pid_alive(pid) and age <= max_age_s):
            continue
        if pid is None and age <= max_age_s:
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        count += 1
    return count


def glob_escape(text: str) -> str:
    """`text` with glob's special characters taken literally."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)
