"""Folders below a Tree: made, removed, moved aside, scratch and staging folders, and what killed commands left.

Nothing here follows a link: a removal walks its folder by descriptors, each step opened relative to its parent
with O_NOFOLLOW (a link planted mid-walk is unlinked as a name, never entered); a move is a rename of the held
parent's entry; a link, pipe or device where the kit expects its own file or folder is refused, not cleared, so
that what a neighbour planted is seen and named.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import time
from collections.abc import Iterable
from pathlib import Path

from kit.infra.files import TMP_MARK, host_tag, pid_alive
from kit.infra.folders import FOLDER_FLAGS, Folder
from kit.infra.limits import STALE_TEMP_S
from kit.infra.perms import describe, euid, folder_problem, refuse, refuse_folder
from kit.infra.treeio import Files, temp_name

# names the kit gives what it writes in its folders: its files by suffix, results tarballs, temporaries and locks,
# and its folders (no suffix). A link the user keeps beside them under another name (latest.tar.gz, notes.txt) is
# never written to, so it is left alone
KIT_SUFFIXES = frozenset({".json", ".parquet", ".log", ".onnx", ".html", ".y4m", ".h264", ".hevc", ".obu", ".npy"})


def kit_named(name: str) -> bool:
    suffix = Path(name).suffix
    return not suffix or suffix in KIT_SUFFIXES or name.startswith(("results-", ".")) or name.endswith(".sh")


class Ops(Files):
    """A Tree's folders (see the module)."""

    def make_folder(self, path: Path) -> Path:
        """`mkdir -p`, below the root, each step checked (kit.infra.folders). Returns `path`."""
        self.folder(path)
        return path

    def check_planted(self, path: Path) -> None:
        """Refuse at once, before a step does any work, what a neighbour planted in one of the kit's folders:
        every entry named as the kit names what it writes (kit_named) is a real folder or a regular file."""
        if not self.parts(path):
            return
        st = self.lstat(path)
        if st is not None and not stat.S_ISDIR(st.st_mode):
            raise refuse(path, describe(st, path) or "a file", "a folder")
        if st is None:
            return
        for found, st in self.walk_files(path):
            if (what := describe(st, found)) is not None and kit_named(found.name):
                raise refuse(found, what)

    def remove(self, path: Path) -> None:
        """Delete an earlier output of the kit's own (nothing when missing); a link, pipe or folder in its place is
        refused, not removed."""
        try:
            folder, name = self.split(path, make=False)
        except FileNotFoundError:
            return
        st = folder.lstat(name)  # the unlink below is in the very folder this looked in
        if st is None:
            return
        if (what := describe(st, path)) is not None:
            raise refuse(path, what)
        with contextlib.suppress(FileNotFoundError):
            self.unlink_at(folder, name)

    def remove_folder(self, path: Path) -> None:
        """Delete a folder of the kit's own and everything in it (nothing when missing), by descriptors."""
        try:
            parent, name = self.split(path, make=False)
        except FileNotFoundError:
            return
        st = parent.lstat(name)  # the folder removed below is the very one this looked at
        if st is None:
            return
        if not stat.S_ISDIR(st.st_mode):
            raise refuse(path, describe(st, path) or "a file", "a folder")
        self.forget(path)
        _remove_tree(parent, name)

    def fresh_folder(self, path: Path, private: bool = True) -> Path:
        """An empty folder at `path` (an earlier one removed); `private`: only this user may enter it, so nothing can
        be planted in it while a child writes there."""
        self.remove_folder(path)
        folder = self.folder(path)
        if private and folder.fd is not None:
            os.fchmod(folder.fd, 0o700)
        return path

    def move_into(self, path: Path, into: Path) -> Path:
        """Move an earlier output of the kit's own, a file or a folder, into `into` under its name (or `<name>.2`,
        `.3`, ... when taken); returns where it went. A rename: nothing is copied or deleted."""
        parent, name = self.split(path, make=False)
        st = parent.lstat(name)
        if st is None:
            raise FileNotFoundError(2, "No such file or directory", str(path))
        if (what := describe(st, path)) not in (None, "a folder"):
            raise refuse(path, what or "not a regular file", "a file or folder")
        if what and (problem := folder_problem(st, self.rules, root=False)) is not None:
            raise refuse_folder(path, problem, self.rules)  # another user's folder: hers to move, not the kit's
        target = self.folder(into)
        dest, n = name, 2
        while target.lstat(dest) is not None:
            dest, n = f"{name}.{n}", n + 1
        self.forget(path)
        _rename(parent, name, target, dest, path)
        return into / dest

    def new_temp_folder(self, path: Path) -> Path:
        """An empty folder beside `path`, named as temporaries are, where a folder of outputs is built before
        place_folder moves it into place whole."""
        parent, name = self.split(path)
        while True:
            tmp = temp_name(name)
            if parent.lstat(tmp) is None:
                self.folder(parent.path / tmp)
                return parent.path / tmp

    def place_folder(self, tmp: Path, path: Path) -> None:
        """Rename a finished temporary folder to `path`, which must be free (an earlier one is moved aside first)."""
        parent, name = self.split(path)
        tmp_parent, tmp_name = self.split(tmp)
        if (st := parent.lstat(name)) is not None:
            raise refuse(path, describe(st, path) or "a file", "nothing: an earlier one is moved aside")
        self.forget(tmp)
        _rename(tmp_parent, tmp_name, parent, name, path)

    def remove_temps(self, path: Path, recursive: bool = True) -> int:
        """Delete the temporaries killed commands left in the folder `path` (and below, unless not recursive):
        a command holding the tree alone may clear them all. Returns how many."""
        if not self.is_folder(path):
            return 0
        found = (f for f, _ in self.walk_files(path)) if recursive else (path / n for n in self.names(path))
        count = 0
        for file in list(found):
            if file.name.startswith(TMP_MARK) and self.is_file(file):
                self.remove(file)
                count += 1
        return count

    def remove_stale(self, path: Path, names: Iterable[str] | None = None, max_age_s: float = STALE_TEMP_S) -> int:
        """Remove the temporaries (files and folders) in the folder `path` whose writer is dead: of this host and a
        process that is gone, or untouched for max_age_s (another host's, or a recycled pid). A live command's
        are kept: several may write in one cache or beside one -o. With `names`, only the temporaries of those
        files (a folder of the user's holds others'). Returns how many were removed."""
        prefixes = tuple(f"{TMP_MARK}{n[:100]}." for n in names) if names is not None else (TMP_MARK,)
        count = 0
        for name in self.names(path):
            st = self.lstat(path / name) if name.startswith(prefixes) else None
            if st is None or st.st_uid != euid() or not stale(name, st, max_age_s):
                continue  # another user's is theirs to remove (in /tmp, a shared cache)
            with contextlib.suppress(OSError):  # gone meanwhile, or not ours to remove after all
                self.remove_folder(path / name) if stat.S_ISDIR(st.st_mode) else self.remove(path / name)
                count += 1
        return count


_TEMP = re.compile(r".+\.(?P<pid>\d{1,10})\.(?P<host>[0-9a-f]{8})\.[A-Za-z0-9_]{1,16}")  # treeio.temp_name
_OLD_TEMP = re.compile(r".+\.(?P<pid>\d{1,10})\.[A-Za-z0-9_]{1,16}")  # an earlier kit's: no host


def _rename(parent: Folder, name: str, target: Folder, dest: str, path: Path) -> None:
    """Rename `name` in the held folder `parent` to `dest` in `target`; such a rename fails with only a name: the
    error names the whole `path`."""
    src, src_fd = parent.at(name)
    dst, dst_fd = target.at(dest)
    try:
        os.rename(src, dst, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
    except OSError as exc:
        exc.filename = os.fspath(path)
        raise


def stale(name: str, st: os.stat_result, max_age_s: float) -> bool:
    """Whether a temporary named by kit.infra.treeio.temp_name (or an earlier kit's `.tmp-<name>.<pid>.<random>`)
    was left by a writer that is gone: this host's dead process, or untouched for max_age_s whoever made it."""
    old = time.time() - st.st_mtime > max_age_s
    found = _TEMP.fullmatch(name) or _OLD_TEMP.fullmatch(name)
    if found is None:
        return old
    pid, host = int(found["pid"]), found.groupdict().get("host") or host_tag()
    if host != host_tag():
        return old  # a pid is alive or dead only on its own host
    return pid != os.getpid() and (old or not pid_alive(pid))


def _remove_tree(parent: Folder, name: str) -> None:
    """`rm -r`, walking by descriptors: every folder opened from its parent without following a link."""
    where, dir_fd = parent.at(name)
    if dir_fd is None:
        import shutil

        shutil.rmtree(where)  # no descriptors (Windows): rmtree never follows links inside the tree either
        return
    fd = os.open(name, FOLDER_FLAGS, dir_fd=dir_fd)
    try:
        with os.scandir(fd) as entries:
            listed = [(e.name, e.is_dir(follow_symlinks=False)) for e in entries]
        for child, is_dir in listed:
            if is_dir:
                _remove_tree(Folder(parent.path / name, fd), child)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(child, dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dir_fd)
