"""One owner per folder: the Tree (kit.infra.tree), opened once per command, holds a folder's descriptor, its lock
and the rules for what may be written below it. This module is its base: the folders, held and checked.

The out-dir, the cache, a cluster's folder and the folder of merge's `-o` are each opened as a Tree. Every path
step below the root is opened relative to its parent without following a link (`openat` with O_NOFOLLOW |
O_DIRECTORY), and every file the kit writes is created with O_EXCL | O_NOFOLLOW in a folder so held, then
renamed into place relative to the same descriptor. So a link planted or raced in anywhere below the root is
refused by construction (exit 2, naming the path), never followed; and a folder moved while a command runs keeps
receiving its writes, since the command holds the folder itself, not its name. The root and what lies above it
are the user's choice: a link there is followed once, when the Tree opens.

Who may write the folders, and which files are trusted, is kit.infra.perms. The Tree adds, one module each:
writing and reading files (kit.infra.treeio), removing, moving and scratch folders (kit.infra.treeops), and the
lock, held on a file opened below the root the same way (kit.infra.treelock).

Without descriptors for folders (Windows: no `dir_fd`), each step is checked with lstat instead: a race between
that check and the use is then possible, and documented.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from kit.errors import InputError
from kit.infra.perms import Rules, describe, euid, folder_problem, refuse, refuse_folder

O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO planted where a file is read or appended must not block
O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: a descriptor is in text mode (CRLF, 0x1A) unless asked
O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
DIR_FDS = bool(O_DIRECTORY) and os.open in os.supports_dir_fd and os.mkdir in os.supports_dir_fd
FOLDER_FLAGS = os.O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
TREE_ENV = "KIT_TREE_ROOT"  # a cluster's folder, named for its tasks: their out-dirs are opened from it down


class FolderGone(InputError):
    """A folder the command holds was deleted while it ran."""

    retry_helps = True  # the same command makes it again


class OutsideTree(Exception):
    """A path handed to a Tree that does not lie below its root: a bug of the kit's, never the user's."""


@dataclass(frozen=True)
class Folder:
    """A folder held by a Tree: its path as the user names it (for messages) and its descriptor (None on Windows)."""

    path: Path
    fd: int | None

    def at(self, name: str) -> tuple[str, int | None]:
        """How os functions reach `name` in this folder: (name, dir_fd), or (full path, None) without descriptors."""
        return (name, self.fd) if self.fd is not None else (str(self.path / name), None)

    def lstat(self, name: str) -> os.stat_result | None:
        where, fd = self.at(name)
        try:
            return os.stat(where, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def gone(self) -> bool:
        """Whether this folder was deleted (a folder that was removed has no link count left)."""
        return self.fd is not None and os.fstat(self.fd).st_nlink == 0


T = TypeVar("T", bound="Folders")


class Folders:
    """The folders of one Tree: its root and every folder below it that the command opened (see the module)."""

    def __init__(self, root: Path, rules: Rules, fd: int | None, label: str = "the folder") -> None:
        self.root = Path(os.path.abspath(root))
        self.rules = rules
        self.label = label  # "the out-dir": how messages name the root
        self._folders: dict[tuple[str, ...], Folder] = {(): Folder(self.root, fd)}
        # whose files are trusted: the user's, or (opened to read) the root's owner's (kit.infra.perms)
        self.owner = (os.fstat(fd) if fd is not None else os.stat(self.root)).st_uid if rules.reading else euid()
        self._mutex = threading.RLock()  # worker threads write below one Tree

    @classmethod
    def open(cls: type[T], root: Path, rules: Rules | None = None, make: bool = True, within: Path | None = None,
             label: str = "the folder") -> T:
        """Open (and with `make`, create) the folder `root`. `within`: a Tree's root above it (a cluster's folder,
        TREE_ENV) from which every step down to `root` is opened like a folder below a root."""
        rules = rules or Rules()
        if within is not None and _inside(root, within) and os.path.abspath(root) != os.path.abspath(within):
            outer = cls.open(within, rules, make)
            try:  # a Tree of its own for the folder below, reached without following links
                folder = outer.folder(root, make)
                return cls(folder.path, rules, os.dup(folder.fd) if folder.fd is not None else None, label)
            finally:
                outer.close()
        path = Path(os.path.abspath(root))
        if make:
            _make_parents(path, rules)
        fd = _open_root(path) if DIR_FDS else None
        tree = cls(path, rules, fd, label)
        if fd is not None and rules.checked_root and (problem := folder_problem(os.fstat(fd), rules)):
            tree.close()
            raise refuse_folder(path, problem, rules)
        return tree

    def close(self) -> None:
        """Let go of every held folder (the lock, held on a file, is released by its own `with`)."""
        with self._mutex:
            for folder in self._folders.values():
                if folder.fd is not None:
                    with contextlib.suppress(OSError):
                        os.close(folder.fd)
            self._folders.clear()

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- paths ------------------------------------------------------------------------------
    def parts(self, path: Path) -> tuple[str, ...]:
        """`path`'s steps below the root, taken from its text (never by resolving a link)."""
        text = os.path.abspath(path)
        root = str(self.root)
        if text == root:
            return ()
        if not text.startswith(root.rstrip(os.sep) + os.sep):
            raise OutsideTree(f"{path} is not below {self.root}")
        return tuple(text[len(root.rstrip(os.sep)) + 1:].split(os.sep))

    def holds(self, path: Path) -> bool:
        return _inside(path, self.root)

    def split(self, path: Path, make: bool = True) -> tuple[Folder, str]:
        """The held folder of `path`'s parent (made when missing, with `make`) and `path`'s name in it."""
        parts = self.parts(path)
        if not parts:
            raise OutsideTree(f"{path} is the root of its tree, not a file in it")
        return self.folder_at(parts[:-1], make), parts[-1]

    def folder(self, path: Path, make: bool = True) -> Folder:
        return self.folder_at(self.parts(path), make)

    def folder_at(self, parts: tuple[str, ...], make: bool = True) -> Folder:
        """The folder `parts` below the root, each step opened from its parent without following a link and
        checked (kit.infra.perms); held until the Tree closes. Missing without `make`: FileNotFoundError."""
        with self._mutex:
            found = self._folders.get(parts)
            if found is not None:
                return found
            parent = self.folder_at(parts[:-1], make)
            folder = self._open_folder(parent, parts[-1], make)
            self._folders[parts] = folder
            return folder

    def _open_folder(self, parent: Folder, name: str, make: bool) -> Folder:
        path = parent.path / name
        where, dir_fd = parent.at(name)
        made = False
        if make:
            try:
                os.mkdir(where, self.rules.folder_mode, dir_fd=dir_fd)  # never follows a link: a link is EEXIST
                made = True
            except FileExistsError:
                pass
            except FileNotFoundError as exc:
                raise self.gone_error(parent, exc) from exc
        if dir_fd is None:
            self._check_by_name(path)
            return Folder(path, None)
        try:
            fd = os.open(name, FOLDER_FLAGS, dir_fd=dir_fd)
        except OSError as exc:
            raise self._not_a_folder(parent, name, exc) from exc
        try:
            st = os.fstat(fd)
            if made:
                os.fchmod(fd, self.rules.folder_mode)  # the umask is not the kit's rule; setgid/sticky need this
            elif problem := folder_problem(st, self.rules, root=False):
                raise refuse_folder(path, problem, self.rules)
        except BaseException:
            os.close(fd)
            raise
        return Folder(path, fd)

    def _check_by_name(self, path: Path) -> None:
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode):
            raise refuse(path, describe(st, path) or "a file", "a folder", reading=self.rules.reading)

    def _not_a_folder(self, parent: Folder, name: str, exc: OSError) -> Exception:
        path = parent.path / name
        if exc.errno == errno.ENOENT:
            if parent.gone():
                return self.gone_error(parent, exc)
            return FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
        st = parent.lstat(name)
        if st is not None and exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK, getattr(errno, "EFTYPE", -1)):
            return refuse(path, describe(st, path) or "a file", "a folder", reading=self.rules.reading)
        exc.filename = str(path)
        return exc

    def gone_error(self, folder: Folder, exc: BaseException | None = None) -> FolderGone:
        """`folder` (held) was deleted: named as the user knows it; as the root when the root went too (a `rm -rf`
        of the out-dir empties its folders before it removes the out-dir itself)."""
        if folder.path != self.root:
            try:
                self.check_alive()
            except FolderGone as root_gone:
                return root_gone
        where = f"{self.label} {self.root}" if folder.path == self.root else f"{folder.path} (in {self.label})"
        return FolderGone(f"{where} was deleted while the kit was writing in it: the command stopped",
                          hint="nothing more was written there; rerun to start again")

    def check_alive(self) -> None:
        """Raise FolderGone if the root was deleted, or its name no longer leads to it (moved or replaced): a
        child process given a path below it (ffmpeg) then failed for that, not for a fault of its own."""
        root = self._folders.get(())
        if root is None or root.fd is None:
            return
        if root.gone():
            raise self.gone_error(root)
        try:
            named = os.stat(self.root)
        except OSError:
            named = None
        if named is None or not os.path.samestat(named, os.fstat(root.fd)):
            how = "deleted or moved" if named is None else "moved or replaced"
            raise FolderGone(f"{self.label} {self.root} was {how} while the kit was writing in it: the command "
                             "stopped",
                             hint="if you moved it, rerun with its new path (the work finished there is reused); "
                                  "otherwise rerun to start again")

    def forget(self, path: Path) -> None:
        """Close the held folders at and below `path` (removed or moved by the kit itself)."""
        parts = self.parts(path)
        with self._mutex:
            for key in [k for k in self._folders if k[:len(parts)] == parts and k]:
                fd = self._folders.pop(key).fd
                if fd is not None:
                    os.close(fd)

    # -- what is there ----------------------------------------------------------------------
    def lstat(self, path: Path) -> os.stat_result | None:
        try:
            folder, name = self.split(path, make=False)
        except FileNotFoundError:
            return None
        return folder.lstat(name)

    def is_file(self, path: Path) -> bool:
        st = self.lstat(path)
        return st is not None and stat.S_ISREG(st.st_mode)

    def is_folder(self, path: Path) -> bool:
        st = self.lstat(path) if self.parts(path) else os.stat(self.root)
        return st is not None and stat.S_ISDIR(st.st_mode)

    def names(self, path: Path) -> list[str]:
        """The names in the folder `path` (sorted; none when it is missing)."""
        try:
            folder = self.folder(path, make=False)
        except FileNotFoundError:
            return []
        with os.scandir(folder.fd if folder.fd is not None else folder.path) as entries:
            return sorted(e.name for e in entries)

    def walk_files(self, path: Path) -> Iterator[tuple[Path, os.stat_result]]:
        """Every entry below the folder `path` that is not a folder, with its lstat, folders opened as held."""
        for name in self.names(path):
            st = self.lstat(path / name)
            if st is None:
                continue
            if stat.S_ISDIR(st.st_mode):
                yield from self.walk_files(path / name)
            else:
                yield path / name, st


def _inside(path: Path, root: Path) -> bool:
    text, top = os.path.abspath(path), os.path.abspath(root)
    return text == top or text.startswith(top.rstrip(os.sep) + os.sep)


def _make_parents(path: Path, rules: Rules) -> None:
    """`mkdir -p path`, what it makes with the kit's folder mode (above the root: the user's folders, followed)."""
    probe = _deepest(path)
    for folder in reversed([p for p in (path, *path.parents) if len(p.parts) > len(probe.parts)]):
        try:
            os.mkdir(folder, 0o755 if folder != path else rules.folder_mode)
        except FileExistsError:
            continue
        except FileNotFoundError:  # what exists above it is no folder to make one in: a link to nowhere
            raise _nowhere(folder, probe) from None  # (other errors name their path: the guard says what they mean)
        if folder == path and hasattr(os, "chmod"):
            os.chmod(folder, rules.folder_mode)


def _deepest(path: Path) -> Path:
    """The deepest part of `path` that is there (a link counts, whether it leads somewhere or not)."""
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    return path


def _nowhere(folder: Path, above: Path, verb: str = "create") -> InputError:
    """`folder` cannot be made (or opened): `above`, the deepest part of its path there is, leads nowhere."""
    if os.path.islink(above):
        return InputError(f"cannot {verb} {folder}: {above} is a link to {os.readlink(above)}, which does not exist",
                          hint="mount the storage it points to, or choose another folder")
    why = f"{above} takes no folder of yours" if verb == "create" else "it does not exist"
    return InputError(f"cannot {verb} {folder}: {why}", hint="choose another folder")


def _open_root(path: Path) -> int:
    try:
        return os.open(path, os.O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    except NotADirectoryError:
        raise InputError(f"{path} is a file, not a folder",
                         hint="choose another folder (it is created when missing)") from None
    except FileNotFoundError:
        raise _nowhere(path, _deepest(path), "open") from None
