"""The Tree: the one owner of a folder the kit writes in (ARCHITECTURE.md, rule 6; docs/design/robustness.md, "Shared
folders"); a link, pipe or device met below it is refused (exit 2). Without descriptors (Windows) each step is checked
by lstat, which a race can pass.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO

from kit.infra import treefs as fs
from kit.infra.clock import utc_iso
from kit.infra.files import TMP_MARK, host_name, named_errors, sha256_stream, stale, temp_name
from kit.infra.limits import MAX_JSON_BYTES, STALE_TEMP_S
from kit.infra.outside import load_json, read_json_object
from kit.infra.perms import (
    PRIVATE_FOLDER_MODE,
    Rules,
    Untrusted,
    describe,
    euid,
    file_problem,
    folder_problem,
    refuse,
    refuse_folder,
)
from kit.infra.treefs import Entry, Folder, LockBusy
from kit.infra.variables import TREE_ROOT

TREE_ENV = TREE_ROOT.name  # a cluster's folder, named for its tasks: their out-dirs are opened from it down
# the suffixes of the kit's files (and results-*, temporaries): a link the user keeps under another name is left alone
KIT_SUFFIXES = frozenset({"", ".json", ".parquet", ".log", ".onnx", ".html", ".y4m", ".h264", ".hevc", ".obu",
                          ".npy", ".sh"})


@contextlib.contextmanager
def whole_name(path: Path) -> Iterator[None]:
    """An OSError of a step by descriptor, which names only the entry it met (`probe.y4m`), named by `path` whole."""
    try:
        yield
    except OSError as exc:
        if not exc.filename or not os.path.isabs(os.fsdecode(exc.filename)):
            exc.filename = str(path)
        raise


class Tree(contextlib.AbstractContextManager["Tree"]):
    """A folder and everything the kit writes below it, for one command."""

    def __init__(self, root: Path, rules: Rules, fd: int | None, label: str = "the folder") -> None:
        self.root, self.rules, self.label, self._fd = Path(os.path.abspath(root)), rules, label, fd
        self._root_text = str(self.root)  # parts: the root's text, and what a path below it starts with
        self._below = self._root_text if self._root_text.endswith("/") else self._root_text + "/"
        # whose files are trusted: the user's, or (opened to read) the root's owner's (kit.infra.perms)
        self.owner = (os.fstat(fd) if fd is not None else os.stat(self.root)).st_uid if rules.reading else euid()
        self._checked: set[tuple[str, ...]] = {()}  # the folders this Tree made or checked

    @classmethod
    def open(cls, root: Path, rules: Rules | None = None, make: bool = True, within: Path | None = None,
             label: str = "the folder") -> Tree:
        """Open (with `make`, create) `root`; `within`: from that folder above it (TREE_ENV) down, step by step."""
        rules, path = rules or Rules(), Path(os.path.abspath(root))
        if within is not None and path.is_relative_to(within := Path(os.path.abspath(within))) and path != within:
            with cls.open(within, rules, make) as outer, outer._open(outer.parts(path), make) as folder:
                return cls(path, rules, os.dup(folder.fd) if folder.fd is not None else None, label)
        return cls(path, rules, fs.open_root(path, rules, make), label)

    def close(self, *exc: object) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    __exit__ = close

    def parts(self, path: Path) -> tuple[str, ...]:
        """`path`'s steps below the root, from its text (never by resolving a link). On POSIX from the normalised
        text itself (each file a command opens asks this twice: pathlib's way cost `status` a fifth of reading a job's
        ledger); elsewhere by pathlib's rules (Windows compares case-blind)."""
        if os.sep == "/":
            full, root = os.path.abspath(path), self._root_text
            if full == root:
                return ()
            if full.startswith(self._below) and "" not in (steps := full[len(self._below):].split("/")):
                return tuple(steps)  # (a text pathlib reads otherwise, POSIX's `//` root, is left to it below)
        return Path(os.path.abspath(path)).relative_to(self.root).parts  # ValueError: not below it (a bug)

    def holds(self, path: Path) -> bool:
        return Path(os.path.abspath(path)).is_relative_to(self.root)

    def moved(self) -> str | None:
        """What became of the root when its path no longer names the folder this Tree holds (moved, renamed or
        removed while the command ran: what a child given a path under it writes fails): where it is now where the
        system tells (Linux), else that it is gone; None while it is still there."""
        if self._fd is None:
            return None if self.root.is_dir() else "gone"
        here, held = os.fstat(self._fd), None
        with contextlib.suppress(OSError):
            held = os.stat(self.root)
        if held is not None and (held.st_dev, held.st_ino) == (here.st_dev, here.st_ino):
            return None
        if here.st_nlink == 0:
            return "removed"
        try:
            now = os.readlink(f"/proc/self/fd/{self._fd}")
        except OSError:
            return "moved or renamed"
        return f"now at {now}" if now.startswith("/") and not now.endswith(" (deleted)") else "removed"

    @contextlib.contextmanager
    def _open(self, parts: tuple[str, ...], make: bool = True) -> Iterator[Folder]:
        """The folder `parts` below the root, open for the block; missing: made, with `make`."""
        fd, here = self._fd, self.root
        try:
            for n, name in enumerate(parts):
                child = self._step(Folder(here, fd), name, parts[:n + 1], make)
                if fd is not None and fd != self._fd:
                    os.close(fd)
                fd, here = child, here / name
            yield Folder(here, fd)
        finally:
            if fd is not None and fd != self._fd:
                os.close(fd)

    @contextlib.contextmanager
    def _parent(self, path: Path, make: bool = True) -> Iterator[tuple[Folder, str]]:
        """`path`'s folder, open for the block, and `path`'s name in it."""
        parts = self.parts(path)
        with self._open(parts[:-1], make) as folder:
            yield folder, parts[-1]

    def _step(self, parent: Folder, name: str, key: tuple[str, ...], make: bool) -> int | None:
        """The folder `name` in `parent`, opened (made when missing, with `make`), checked the first time."""
        if parent.fd is None:  # no descriptors (Windows): checked by lstat
            if make:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(parent.path / name, self.rules.folder_mode)
            if not stat.S_ISDIR((found := os.lstat(parent.path / name)).st_mode):
                raise refuse(parent.path / name, describe(found, parent.path / name) or "a file", "a folder")
            return None
        made = False
        try:
            try:
                fd = os.open(name, fs.FOLDER, dir_fd=parent.fd)
            except FileNotFoundError:
                if not make:
                    raise
                with contextlib.suppress(FileExistsError):  # made meanwhile by another thread: checked as found
                    os.mkdir(name, self.rules.folder_mode, dir_fd=parent.fd)  # a link at `name` is EEXIST
                    made = True
                fd = os.open(name, fs.FOLDER, dir_fd=parent.fd)
        except OSError as exc:
            st, exc.filename = parent.lstat(name), str(parent.path / name)
            if st is not None and exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK, getattr(errno, "EFTYPE", -1)):
                raise refuse(parent.path / name, describe(st, parent.path / name) or "a file", "a folder",
                             reading=self.rules.reading) from exc
            if make and isinstance(exc, FileNotFoundError):  # a folder made in the one just opened
                raise fs.gone(parent.path, self.root, self.label) from exc
            raise
        if key not in self._checked:
            try:
                if made:
                    os.fchmod(fd, self.rules.folder_mode)  # the umask is not the kit's rule; setgid/sticky need this
                elif problem := folder_problem(os.fstat(fd), self.rules, root=False):
                    raise refuse_folder(parent.path / name, problem, self.rules)
            except BaseException:
                os.close(fd)
                raise
            self._checked.add(key)
        return fd

    def _forget(self, path: Path) -> None:  # removed or moved: a folder made there later is checked again
        parts = self.parts(path)
        self._checked -= {k for k in list(self._checked) if k and k[:len(parts)] == parts}

    def entry(self, path: Path) -> Entry | None:
        """What is at `path` (never followed), or None when nothing is."""
        try:
            with self._parent(path, make=False) as (folder, name):
                st = folder.lstat(name)
        except FileNotFoundError:
            return None
        return Entry(path, st) if st is not None else None

    def is_file(self, path: Path) -> bool:
        return (found := self.entry(path)) is not None and stat.S_ISREG(found.st.st_mode)

    def is_folder(self, path: Path) -> bool:
        found = self.entry(path) if self.parts(path) else Entry(path, os.stat(self.root))
        return found is not None and stat.S_ISDIR(found.st.st_mode)

    def names(self, path: Path) -> list[str]:
        """The names in the folder `path` (sorted; none when it is missing)."""
        try:
            with self._open(self.parts(path), make=False) as folder, os.scandir(
                    folder.fd if folder.fd is not None else folder.path) as entries:
                return sorted(e.name for e in entries)
        except FileNotFoundError:
            return []

    def file_names(self, path: Path) -> set[str]:
        """The names of the regular files in the folder `path`, as is_file finds each (never followed; none when the
        folder is missing): one read of the folder where is_file of each would open the folders above it each time."""
        try:
            with self._open(self.parts(path), make=False) as folder, os.scandir(
                    folder.fd if folder.fd is not None else folder.path) as entries:
                return {e.name for e in entries if e.is_file(follow_symlinks=False)}
        except FileNotFoundError:
            return set()

    def walk_files(self, path: Path) -> Iterator[Entry]:
        """Every entry below the folder `path` that is not a folder."""
        for found in filter(None, (self.entry(path / name) for name in self.names(path))):
            yield from self.walk_files(found.path) if stat.S_ISDIR(found.st.st_mode) else (found,)

    def check_planted(self, path: Path) -> None:
        """Refuse, before a step works, what was planted in its folder under a name the kit gives."""
        if not self.parts(path) or (found := self.entry(path)) is None:
            return
        if not stat.S_ISDIR(found.st.st_mode):
            raise refuse(path, found.planted or "a file", "a folder")
        for inside in self.walk_files(path):
            if (what := inside.planted) and (inside.path.suffix in KIT_SUFFIXES
                                             or inside.path.name.startswith(("results-", "."))):
                raise refuse(inside.path, what)

    def check_target(self, path: Path) -> None:
        """`path` may be (re)written: missing, or a regular file."""
        with self._parent(path) as (folder, name):
            folder.free(name)

    def new_temp(self, path: Path, private: bool = False) -> tuple[Path, BinaryIO]:
        """A new temporary beside `path` (free for a file), open to write; the caller seals and renames it (replace).
        `private`: made readable by its owner alone (before a byte is written in it)."""
        self.check_target(path)
        tmp = path.with_name(temp_name(path.name))
        return tmp, os.fdopen(self._open_file(tmp, fs.NEW, self.owner, private=private), "wb")

    def seal(self, fh: BinaryIO, executable: bool = False, private: bool = False) -> None:
        """A finished temporary: on disk (fsync), with the kit's mode (kit.infra.perms; `private`: its owner's alone),
        closed."""
        fh.flush()
        os.fsync(fh.fileno())
        if hasattr(os, "fchmod"):
            os.fchmod(fh.fileno(), self.rules.file_mode(executable, private))  # the umask is not the kit's rule
        fh.close()

    def replace(self, tmp: Path, path: Path) -> None:
        """Rename the temporary `tmp` over `path` beside it (free for a file; another user's there is named)."""
        with self._parent(path) as (folder, name):
            folder.free(name)
            try:
                fs.rename(folder, tmp.name, folder, name, path)
            except PermissionError as exc:
                if (st := folder.lstat(name)) is not None and (problem := file_problem(st, self.owner)) is not None:
                    raise Untrusted(path, problem) from exc
                raise

    @contextlib.contextmanager
    def atomic(self, path: Path, executable: bool = False, private: bool = False) -> Iterator[BinaryIO]:
        """A file object to write `path` with; it replaces `path` when the block ends without an error."""
        with self.atomic_path(path, executable, private) as tmp, os.fdopen(
                self._open_file(tmp, fs.WRITE, self.owner), "wb") as fh:
            yield fh

    @contextlib.contextmanager
    def atomic_path(self, path: Path, executable: bool = False, private: bool = False) -> Iterator[Path]:
        """A temporary's path for a child (ffmpeg) to write `path` with, checked and renamed over `path`; `private`:
        the temporary is its owner's alone from the start (new_temp), and stays so."""
        tmp, fh = self.new_temp(path, private)
        fh.close()
        try:
            with named_errors(path):
                yield tmp
                with self.open_read(tmp, trusted=True) as done:
                    self.seal(done, executable, private)  # what the child wrote
                self.replace(tmp, path)
        finally:
            self.remove(tmp)

    def write_bytes(self, path: Path, data: bytes, executable: bool = False, private: bool = False) -> None:
        with self.atomic(path, executable, private) as fh:
            fh.write(data)

    def write_text(self, path: Path, text: str, executable: bool = False) -> None:
        self.write_bytes(path, text.encode("utf-8"), executable)

    def write_json(self, path: Path, obj: Any) -> None:
        self.write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")

    def open_append(self, path: Path) -> IO[str]:
        """`path` opened to append text (a log), created when missing: only a regular file of the user's own."""
        return os.fdopen(self._open_file(path, fs.APPEND, self.owner), "a", encoding="utf-8")

    def open_read(self, path: Path, trusted: bool = True) -> BinaryIO:
        """`path` opened to read: a regular file (`trusted`: the user's own, perms.file_problem), or refused."""
        return os.fdopen(self._open_file(path, fs.READ, self.owner if trusted else None, reading=True), "rb")

    def open_checked(self, path: Path) -> BinaryIO | None:
        """`path` opened to read, checked, not trusted: None when missing, or untrusted but the user's own."""
        try:
            return self.open_read(path)
        except FileNotFoundError:
            return None
        except Untrusted as exc:  # the user's own is made again; another user's is not the kit's to replace
            if not exc.mine:
                raise
            return None

    def read_bytes(self, path: Path, trusted: bool = True) -> bytes:
        with self.open_read(path, trusted) as fh:
            return fh.read()

    def sha256(self, path: Path) -> str:
        """sha256 of a file below the tree, read without following a link (whoever owns it: the hash is the check)."""
        with self.open_read(path, trusted=False) as fh:
            return sha256_stream(fh)

    def read_json(self, path: Path, limit: int = MAX_JSON_BYTES) -> Any:
        """A trusted JSON file's value, within outside.load_json's bounds (no JSON: JsonRefused, a ValueError)."""
        return load_json(self.read_bytes(path), limit)

    def read_json_object(self, path: Path) -> tuple[dict[str, Any] | None, str]:
        """A JSON object the kit wrote, checked, not trusted: (it, "") or (None, why), which the caller rebuilds;
        another user's file (or a link) is refused, never replaced."""
        if (fh := self.open_checked(path)) is None:
            return None, "writable by others (not trusted)" if self.entry(path) else "missing"
        with fh:
            return read_json_object(path, lambda _: load_json(fh.read()))

    def _open_file(self, path: Path, flags: int, owner: int | None, reading: bool = False,
                   private: bool = False) -> int:
        """`path` opened with `flags` if it is a regular file (of `owner`'s, trusted: perms.file_problem); one made
        `private`: its owner's alone."""
        with self._parent(path, make=not reading) as (folder, name):
            where, dir_fd = folder.at(name)
            try:
                fd = os.open(where, flags, self.rules.file_mode(private=private), dir_fd=dir_fd)
            except OSError as exc:
                if (st := folder.lstat(name)) is not None and (what := describe(st, path)) is not None:
                    raise refuse(path, what, reading=reading) from exc
                if isinstance(exc, FileNotFoundError) and not reading:  # a file made in the folder just opened
                    raise fs.gone(folder.path, self.root, self.label) from exc
                exc.filename = str(path)
                raise
        try:
            st = os.fstat(fd)
            if (what := describe(st, path)) is not None:
                raise refuse(path, what, reading=reading)
            if owner is not None and (problem := file_problem(st, owner)) is not None:
                raise Untrusted(path, problem)
            if fs.O_NONBLOCK:
                os.set_blocking(fd, True)
            return fd
        except BaseException:
            os.close(fd)
            raise

    def make_folder(self, path: Path, private: bool = False) -> Path:
        """`mkdir -p` below the root, each step checked; `private`: `path` itself made (or kept) enterable by the user
        alone, whatever the rules' mode (the box's key: kit.infra.keys). Returns `path`."""
        with self._open(self.parts(path)) as folder:
            if private and folder.fd is not None:
                os.fchmod(folder.fd, PRIVATE_FOLDER_MODE)
            return path

    def remove(self, path: Path) -> None:
        """Delete a file of the kit's (nothing when missing); a link, pipe or folder in its place is refused."""
        with contextlib.suppress(FileNotFoundError), whole_name(path), self._parent(path, make=False) as (folder, name):
            folder.free(name)  # the unlink below is in the very folder this looked in
            where, dir_fd = folder.at(name)
            os.unlink(where, dir_fd=dir_fd)

    def remove_folder(self, path: Path) -> None:
        """Delete a folder of the kit's own and everything in it (nothing when missing), by descriptors."""
        with contextlib.suppress(FileNotFoundError), whole_name(path), \
                self._parent(path, make=False) as (parent, name):
            if (st := parent.lstat(name)) is not None and not stat.S_ISDIR(st.st_mode):
                raise refuse(path, describe(st, path) or "a file", "a folder")
            self._forget(path)
            fs.remove_tree(parent, name)

    def fresh_folder(self, path: Path, private: bool = True) -> Path:
        """An empty folder at `path` (an earlier one removed); `private`: only the user may enter it."""
        self.remove_folder(path)
        with self._open(self.parts(path)) as folder:
            if private and folder.fd is not None:
                os.fchmod(folder.fd, 0o700)
        return path

    def move_into(self, path: Path, into: Path, name: str | None = None) -> Path:
        """Move a file or folder of the kit's into `into` by a rename, as `name` (which must be free: an earlier one
        is moved aside first) or under its own name (`<name>.2`, ... when taken); returns where it went."""
        with self._parent(path, make=False) as (parent, old), self._open(self.parts(into)) as target:
            if (st := parent.lstat(old)) is None:
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
            if (what := describe(st, path)) not in (None, "a folder"):
                raise refuse(path, what or "not a regular file", "a file or folder")
            if what and (problem := folder_problem(st, self.rules, root=False)) is not None:
                raise refuse_folder(path, problem, self.rules)  # another user's folder: hers to move, not the kit's
            if name is not None and (st := target.lstat(name)) is not None:
                raise refuse(into / name, describe(st, into / name) or "a file", "nothing: an earlier one goes aside")
            dest, n = name or old, 2
            while target.lstat(dest) is not None:
                dest, n = f"{old}.{n}", n + 1
            self._forget(path)
            fs.rename(parent, old, target, dest, path)
        return into / dest

    def new_temp_folder(self, path: Path) -> Path:
        """An empty temporary folder beside `path`, to build outputs in that move_into then puts in its place."""
        return self.make_folder(path.with_name(temp_name(path.name)))

    def remove_stale(self, path: Path, names: Iterable[str] | None = None, max_age_s: float = STALE_TEMP_S,
                     recursive: bool = False) -> int:
        """Remove the user's temporaries (`names`: theirs) in `path` (`recursive`) whose writer is gone; how many."""
        prefixes, count = tuple(f"{TMP_MARK}{n[:100]}." for n in names) if names is not None else (TMP_MARK,), 0
        for found in filter(None, (self.entry(path / name) for name in self.names(path))):
            folder = stat.S_ISDIR(found.st.st_mode)
            if found.path.name.startswith(prefixes) and found.mine and stale(found.path.name, found.st, max_age_s):
                with contextlib.suppress(OSError):  # gone meanwhile, or not ours to remove after all
                    self.remove_folder(found.path) if folder else self.remove(found.path)
                    count += 1
            elif recursive and folder:
                count += self.remove_stale(found.path, names, max_age_s, recursive)
        return count

    @contextlib.contextmanager
    def lock(self, path: Path, shared: bool = False, wait_s: float = 0.0, tidy: bool = False,
             on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
        """Hold the lock file `path` for the block (treefs.acquire); `tidy`: the file is removed, still held."""
        if os.name != "posix":
            yield
            return
        fd = fs.acquire(path, lambda: self._open_file(path, fs.LOCK, self.owner), lambda: self.entry(path), shared,
                        wait_s, on_wait)
        try:
            if not shared:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"pid {os.getpid()} on {host_name()} since {utc_iso()}".encode(), 0)
            yield
        finally:
            if tidy:
                with contextlib.suppress(OSError):
                    self.remove(path)  # still held: whoever opened this file before it goes sees it gone, retries
            os.close(fd)

    def lock_holder(self, path: Path) -> str | None:
        """'pid N on HOST since T' while an exclusive holder has `path`, else None."""
        if os.name != "posix" or not self.is_file(path):
            return None
        with self.open_read(path, trusted=False) as fh:  # a shared hold, let go as the file closes
            return None if fs.try_lock(fh.fileno(), shared=True) else fs.read_holder(fh.fileno())


def read_out_dir(out_dir: Path) -> Tree:
    """An out-dir opened to be read, its files checked as its owner's (perms: a lead reads a collaborator's)."""
    return Tree.open(out_dir, Rules(reading=True), make=False, label="the out-dir")


__all__ = ["TREE_ENV", "Entry", "LockBusy", "Rules", "Tree", "Untrusted", "read_out_dir"]
