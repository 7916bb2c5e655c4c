"""Writing and reading files below a Tree: every file opened relative to its held folder, never through a link.

Writes are atomic: a temporary `.tmp-<name>.<pid>.<host>.<random>` is created beside the file with O_EXCL |
O_NOFOLLOW (so it is never someone else's file), written, synced, given the kit's mode (kit.infra.perms) and
renamed over the name; a kill at any instant leaves the old complete file or the new one. Whatever sits at the
name must be missing or a regular file: a link, a pipe, a device or a folder there is refused (exit 2).

Reads open with O_NOFOLLOW | O_NONBLOCK and check the open file: a link or a pipe planted in its place is refused,
never followed or waited on. A *trusted* read (a record, a member: what decides what the kit does next) also
requires the file to be the user's own, with one name, writable by nobody else (kit.infra.perms.file_problem).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO, TypeVar

from kit.infra.files import TMP_MARK, host_tag, named_errors, sha256_stream
from kit.infra.folders import O_BINARY, O_CLOEXEC, O_NOFOLLOW, O_NONBLOCK, Folder, Folders
from kit.infra.outside import load_json, read_json_object
from kit.infra.perms import Untrusted, describe, file_problem, refuse

_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_BINARY
_READ = os.O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_BINARY
R = TypeVar("R")


def temp_name(name: str) -> str:
    """This process's temporary for `name` (its pid and host let a later command tell a dead writer's)."""
    return f"{TMP_MARK}{name[:100]}.{os.getpid()}.{host_tag()}.{secrets.token_hex(4)}"


class Files(Folders):
    """A Tree's files: atomic writes, appends, checked reads (see the module)."""

    def check_target(self, folder: Folder, name: str) -> None:
        """`name` in `folder` may be (re)written: missing, or a regular file."""
        st = folder.lstat(name)
        if st is not None and (what := describe(st, folder.path / name)) is not None:
            raise refuse(folder.path / name, what)

    def _new_temp(self, folder: Folder, name: str, mode: int) -> tuple[str, int]:
        while True:
            tmp = temp_name(name)
            where, dir_fd = folder.at(tmp)
            try:
                return tmp, os.open(where, _NEW, mode, dir_fd=dir_fd)
            except FileExistsError:
                continue
            except FileNotFoundError as exc:
                raise self.gone_error(folder) if folder.gone() else exc from exc

    def new_temp(self, path: Path, executable: bool = False) -> tuple[Path, BinaryIO]:
        """A new temporary beside `path` (which must be free for a regular file), open for writing: what a caller
        writes, seals and then renames over `path` itself (replace), when it must finish several files first."""
        folder, name = self.split(path)
        self.check_target(folder, name)
        tmp, fd = self._new_temp(folder, name, self.rules.file_mode(executable))
        return folder.path / tmp, os.fdopen(fd, "wb")

    def seal(self, fh: BinaryIO, executable: bool = False) -> None:
        """A finished temporary: on disk (fsync), with the kit's mode (kit.infra.perms), closed."""
        fh.flush()
        os.fsync(fh.fileno())
        if hasattr(os, "fchmod"):
            os.fchmod(fh.fileno(), self.rules.file_mode(executable))  # the umask is not the kit's rule
        fh.close()

    def replace(self, tmp: Path, path: Path) -> None:
        """Rename the temporary `tmp` over `path` (both in one held folder); `path` must be missing or a regular
        file, and a file of another user there (in a sticky folder) is named."""
        folder, name = self.split(path)
        tmp_folder, tmp_name = self.split(tmp)
        self.check_target(folder, name)
        src, src_fd = tmp_folder.at(tmp_name)
        dst, dst_fd = folder.at(name)
        try:
            os.replace(src, dst, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
        except PermissionError as exc:
            st = folder.lstat(name)
            if st is not None and (problem := file_problem(st, self.owner)) is not None:
                raise Untrusted(path, problem) from exc
            raise

    @contextlib.contextmanager
    def atomic(self, path: Path, executable: bool = False) -> Iterator[BinaryIO]:
        """A file object to write `path` with; it replaces `path` when the block ends without an error."""
        tmp, fh = self.new_temp(path, executable)
        try:
            with named_errors(path):
                yield fh
                self.seal(fh, executable)
                self.replace(tmp, path)
        finally:
            with contextlib.suppress(OSError):  # a flush that failed fails again here: the first error is the one
                fh.close()
            self.remove_temp(tmp)

    @contextlib.contextmanager
    def atomic_path(self, path: Path, executable: bool = False) -> Iterator[Path]:
        """A temporary's path for a child process (ffmpeg) to write `path` with; checked to still be this command's
        regular file, then renamed over `path`. (A child opens it by its name: below a root only the user can
        write, nobody else can swap a folder on its way.)"""
        tmp, fh = self.new_temp(path, executable)
        fh.close()
        try:
            with named_errors(path):
                yield tmp
                with self.open_read(tmp, trusted=True) as done:
                    self.seal(done, executable)  # what the child wrote
                self.replace(tmp, path)
        finally:
            self.remove_temp(tmp)

    def remove_temp(self, tmp: Path) -> None:
        """Delete this command's temporary (nothing when it was renamed into place)."""
        with contextlib.suppress(FileNotFoundError):
            folder, name = self.split(tmp, make=False)
            self.unlink_at(folder, name)

    def unlink_at(self, folder: Folder, name: str) -> None:
        where, dir_fd = folder.at(name)
        os.unlink(where, dir_fd=dir_fd)

    def write_bytes(self, path: Path, data: bytes, executable: bool = False) -> None:
        with self.atomic(path, executable) as fh:
            fh.write(data)

    def write_text(self, path: Path, text: str, executable: bool = False) -> None:
        self.write_bytes(path, text.encode("utf-8"), executable)

    def write_json(self, path: Path, obj: Any) -> None:
        self.write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")

    def open_append(self, path: Path) -> IO[str]:
        """`path` opened to append text (a log), created when missing: only a regular file of the user's own."""
        folder, name = self.split(path)
        fd = self._open_at(folder, name, os.O_WRONLY | os.O_APPEND | os.O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC
                           | O_BINARY, self.rules.file_mode())
        return _checked(fd, folder.path / name, self.owner, "a", encoding="utf-8")

    def open_read(self, path: Path, trusted: bool = True) -> BinaryIO:
        """`path` opened to read, if it is a regular file (and, `trusted`, the user's own: kit.infra.perms).
        Missing: FileNotFoundError naming it."""
        folder, name = self.split(path, make=False)
        return _checked(self._open_at(folder, name, _READ, reading=True), folder.path / name,
                        self.owner if trusted else None, "rb", reading=True)

    def _open_at(self, folder: Folder, name: str, flags: int, mode: int = 0o644, reading: bool = False) -> int:
        where, dir_fd = folder.at(name)
        try:
            return os.open(where, flags, mode, dir_fd=dir_fd)
        except OSError as exc:
            st = folder.lstat(name)
            if st is not None and (what := describe(st, folder.path / name)) is not None:
                raise refuse(folder.path / name, what, reading=reading) from exc
            if folder.gone():
                raise self.gone_error(folder) from exc
            exc.filename = str(folder.path / name)
            raise

    def read_bytes(self, path: Path, trusted: bool = True) -> bytes:
        with self.open_read(path, trusted) as fh:
            return fh.read()

    def sha256(self, path: Path) -> str:
        """sha256 of a file below the tree, read without following a link (whoever owns it: the hash is the check)."""
        with self.open_read(path, trusted=False) as fh:
            return sha256_stream(fh)

    def read_json(self, path: Path) -> Any:
        """A trusted JSON file's value, read within the bounds of JSON from outside (kit.infra.outside.load_json):
        a file that is no JSON raises JsonRefused, a ValueError."""
        return load_json(self.read_bytes(path))

    def read_json_object(self, path: Path) -> tuple[dict[str, Any] | None, str]:
        """A JSON object the kit wrote itself, checked, not trusted: (the object, "") or (None, why not).

        Missing, cut short, not UTF-8, or JSON of another shape: the caller treats it as absent and rebuilds
        it; `why` is "missing" for a file that is not there. A file that is not the user's own (or a link) is
        refused (exit 2), never treated as absent: it is not the kit's to replace."""
        try:
            return read_json_object(path, self.read_json)
        except Untrusted as exc:
            if not exc.mine:
                raise
            return None, "writable by others (not trusted)"


def check_open(fd: int, path: Path, owner: int | None, reading: bool = False) -> int:
    """The open descriptor `fd`, made blocking, if it is a regular file (and, with an `owner`, trusted: that user's,
    one name, nobody else may write it); otherwise it is closed and the refusal raised."""
    try:
        st = os.fstat(fd)
        if (what := describe(st, path)) is not None:
            raise refuse(path, what, reading=reading)
        if owner is not None and (problem := file_problem(st, owner)) is not None:
            raise Untrusted(path, problem)
        if O_NONBLOCK:
            os.set_blocking(fd, True)
        return fd
    except BaseException:
        os.close(fd)
        raise


def _checked(fd: int, path: Path, owner: int | None, mode: str, encoding: str | None = None,
             reading: bool = False) -> Any:
    """The open descriptor as a file object, checked (check_open)."""
    return os.fdopen(check_open(fd, path, owner, reading), mode, encoding=encoding)
