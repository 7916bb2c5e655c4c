"""Writing inside folders other people can write: no link is followed, nothing but a regular file is written.

An out-dir on a cluster's shared storage, or a cache shared by boxes, can be written by anyone in the
project. A symbolic link planted there (`OUT/.lock -> /etc/passwd`) would make the next run write
wherever it points, with the runner's rights. So, for every file the kit writes:

- inside a *kit tree* (the out-dir, the cache, a Slurm folder: registered with `own_tree`), every folder
  between the tree's root and the file is a real folder, never a link (`make_folder`, `check_folders`);
  links at or above the root are the user's own choice and are followed;
- the file itself is missing or a regular file with one name (`check_target`): a link, a folder, a FIFO,
  a device or a socket is refused, naming the path (exit 2), and nothing is written through it;
- a file is opened in place (the lock, a log) with O_NOFOLLOW and checked again on the open descriptor
  (`open_in_place`), so a link planted between the check and the open is refused too;
- every other file is written to a temporary created with O_EXCL|O_NOFOLLOW and renamed over the name:
  a rename replaces a link, it never writes through one (kit.infra.files.atomic_path).

What this does not cover: a neighbour who, *while* a run is going, swaps one of the kit's folders for a
link in the microseconds between its check and its use. A sticky bit on the shared folder (chmod +t,
as /tmp has) stops even that: it lets no one rename what another user made.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import IO, BinaryIO

from kit.errors import InputError

O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # Windows has none: there the lstat checks alone apply
O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO planted where a log goes must not block the open
O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: a descriptor is in text mode (CRLF, 0x1A) unless asked
_TREES: set[str] = set()  # absolute, normalised roots of the kit trees this process writes in
_HELD: dict[str, tuple[Path, int, int]] = {}  # tree root -> its run's lock file (path, st_dev, st_ino)


TREE_ENV = "KIT_TREE_ROOT"  # a cluster's shared folder, set for every task: its shards/ and union/ are the kit's


def own_trees_from_env() -> None:
    """The kit tree a cluster adapter names for the tasks it runs (TREE_ENV): a folder it made inside it, such
    as shards/ or union/, is checked like the out-dir's own."""
    if root := os.environ.get(TREE_ENV, "").strip():
        own_tree(Path(root))


def own_tree(root: Path) -> None:
    """Declare `root` a kit tree: from now on no folder below it may be a link where the kit writes."""
    _TREES.add(os.path.abspath(root))


def hold_tree(root: Path, lock: Path, fd: int) -> None:
    """The run holding `lock` (open as `fd`) owns the kit tree `root`: until release_tree, every write below
    it first checks that `root` is still there with that very lock file in it (check_root). A run whose
    out-dir was deleted or moved under it then stops, instead of recreating a part of it (a jobs folder
    without its lock, free for a second run) and reporting every job as a failed encode."""
    st = os.fstat(fd)
    _HELD[os.path.abspath(root)] = (lock, st.st_dev, st.st_ino)


def release_tree(root: Path) -> None:
    _HELD.pop(os.path.abspath(root), None)


def check_root(path: Path) -> None:
    """The kit tree holding `path` is still the one its run holds (see hold_tree); a vanished one is refused."""
    if (gone := vanished(path)) is not None:
        raise gone


class OutDirGone(InputError):
    """The run's out-dir was deleted, moved or replaced under it."""


def vanished(path: Path) -> OutDirGone | None:
    """The error for a kit tree (holding `path`) that is no longer the one its run holds; None while it is."""
    root = tree_of(path)
    held = _HELD.get(str(root)) if root is not None else None
    if held is None:
        return None
    lock, dev, ino = held
    try:
        st = os.lstat(lock)
        if (st.st_dev, st.st_ino) == (dev, ino):
            return None
    except OSError:
        pass
    return OutDirGone(f"the out-dir {root} was deleted, moved or replaced while the run was going (its lock "
                      f"file {lock.name} is gone): the run stopped",
                      hint="nothing more was written; if you moved it, rerun with --out-dir at its new place "
                           "(the work finished there is reused), otherwise rerun to start again")


def tree_of(path: Path) -> Path | None:
    """The deepest kit tree holding `path` (lexically, as the kit names its paths), or None."""
    text = os.path.abspath(path)
    found = [r for r in _TREES if text == r or text.startswith(r.rstrip(os.sep) + os.sep)]
    return Path(max(found, key=len)) if found else None


def describe(st: os.stat_result, path: Path) -> str | None:
    """What `path` is when it is not a plain regular file the kit may write: "a symbolic link to X", ...."""
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        try:
            return f"a symbolic link to {os.readlink(path)}"
        except OSError:
            return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if not stat.S_ISREG(mode):
        return "not a regular file"
    return None


def refuse(path: Path, what: str, expected: str = "a regular file") -> InputError:
    return InputError(
        f"{path} is {what}, where the kit writes {expected} of its own; nothing was written through it",
        hint=f"the kit never makes links, pipes or devices in its folders, so something else put it there: "
             f"look at it (ls -l {path}), remove it and rerun; on storage others can write, find out who")


def check_folders(path: Path) -> None:
    """Every existing folder from the kit tree's root down to `path` (included) is a real folder, not a link."""
    root = tree_of(path)
    if root is None:
        return
    check_root(root)
    current = Path(os.path.abspath(root))
    for part in Path(os.path.abspath(path)).relative_to(current).parts:
        current = current / part
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            return  # the rest is made by make_folder, which checks as it goes
        if not stat.S_ISDIR(st.st_mode):
            raise refuse(current, describe(st, current) or "a file", "a folder")


def make_folder(path: Path, mode: int = 0o755) -> Path:
    """`mkdir -p path`, where no folder below a kit tree's root may be a link (or a file). Returns `path`.

    A folder the kit makes below a kit tree's root is writable by this user alone (0755 at most, whatever the
    umask): no one else can plant, rename or swap anything inside it, even while a write is under way."""
    root = tree_of(path)
    if root is None:
        path.mkdir(parents=True, exist_ok=True)
        return path
    check_root(root)  # a run's out-dir is never made again once it has vanished
    root.mkdir(parents=True, exist_ok=True)  # the root and above are the user's: their links are followed
    current = Path(os.path.abspath(root))
    for part in Path(os.path.abspath(path)).relative_to(current).parts:
        current = current / part
        with contextlib.suppress(FileExistsError):
            os.mkdir(current, mode & ~0o022)  # never follows a link at its last component: a link is EEXIST
        st = os.lstat(current)
        if not stat.S_ISDIR(st.st_mode):
            raise refuse(current, describe(st, current) or "a file", "a folder")
    return path


def check_target(path: Path) -> None:
    """`path` may be (re)written: its folders are real folders and it is missing or a regular file."""
    check_folders(path.parent)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if (what := describe(st, path)) is not None:
        raise refuse(path, what)


def open_in_place(path: Path, mode: str, encoding: str | None = None) -> IO:
    """Open `path` for appending ("a") or reading and writing ("r+", created when missing) without following a
    link, and only if it is a regular file with one name (a hard link would write into another file too)."""
    check_target(path)
    flags = {"a": os.O_WRONLY | os.O_APPEND, "r+": os.O_RDWR}[mode]
    try:
        fd = os.open(path, flags | os.O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_BINARY, 0o666)
    except OSError as exc:
        if O_NOFOLLOW and os.path.islink(path):  # planted between the check and the open (ELOOP, or EMLINK on BSD)
            raise refuse(path, "a symbolic link") from exc
        raise
    try:
        st = os.fstat(fd)
        what = describe(st, path) or (f"a file with {st.st_nlink} names (hard links)" if st.st_nlink > 1 else None)
        if what is not None:
            raise refuse(path, what)
        if O_NONBLOCK:
            os.set_blocking(fd, True)
        return os.fdopen(fd, mode, encoding=encoding)
    except BaseException:
        os.close(fd)
        raise


def open_regular(path: Path) -> BinaryIO:
    """Open a file the kit wrote, to read it into something others get (a results tarball), only if it still
    is a regular file: a link planted in its place must not ship the file it points to."""
    try:
        fd = os.open(path, os.O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_BINARY)
    except OSError as exc:
        if O_NOFOLLOW and os.path.islink(path):
            raise refuse(path, describe(os.lstat(path), path) or "a symbolic link", "a regular file") from exc
        raise
    return _regular(fd, path, lambda what: refuse(path, what))


def _regular(fd: int, path: Path, otherwise: Callable[[str], Exception]) -> BinaryIO:
    """The open descriptor `fd` as a blocking binary file, if it is a regular file; else it is closed and
    `otherwise(what it is)` raised."""
    try:
        if (what := describe(os.fstat(fd), path)) is not None:
            raise otherwise(what)
        if O_NONBLOCK:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class NotRegular(OSError):
    """What `open_for_reading` found instead of a regular file: `what` says what it is ("a named pipe (FIFO)")."""

    def __init__(self, path: Path, what: str) -> None:
        super().__init__(f"{path} is {what}, not a regular file")
        self.what = what


def open_for_reading(path: Path) -> BinaryIO:
    """Open a file of the user's to read it (a link is followed: links to one's clips are usual), never blocking
    on a named pipe: anything but a regular file raises NotRegular."""
    fd = os.open(path, os.O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_BINARY)
    return _regular(fd, path, lambda what: NotRegular(path, what))


# names the kit gives what it writes in its folders: its files by suffix, its results tarballs, temporaries and
# locks, and its folders (no suffix). A link the user keeps beside them under another name (latest.tar.gz,
# notes.txt) is never written to, so it is left alone
KIT_SUFFIXES = frozenset({".json", ".parquet", ".log", ".onnx", ".html", ".y4m", ".h264", ".hevc", ".obu", ".npy"})


def kit_named(name: str) -> bool:
    suffix = Path(name).suffix
    return not suffix or suffix in KIT_SUFFIXES or name.startswith(("results-", ".")) or name.endswith(".sh")


def check_tree(folder: Path) -> None:
    """Refuse at once, before a step does any work, what a neighbour planted anywhere in one of the kit's
    folders: every entry below `folder` named as the kit names what it writes (kit_named) is a real folder or
    a regular file."""
    check_folders(folder)
    if not folder.is_dir():
        return
    stack = [folder]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    stack.append(Path(entry.path))
                elif (what := describe(st, Path(entry.path))) is not None and kit_named(entry.name):
                    raise refuse(Path(entry.path), what)
