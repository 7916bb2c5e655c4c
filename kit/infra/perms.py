"""Who may write where: the modes the kit gives what it makes (whatever the umask), and what it trusts of what it finds,
as ARCHITECTURE.md's rule 6 says; `untrusted` is the rule for a file someone names. Every refusal is an InputError
(exit 2) naming the path, what it is and whose.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from kit.errors import InputError
from kit.infra.variables import GROUP_SHARED

OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH
FILE_MODE = 0o644
EXEC_MODE = 0o755
PRIVATE_MODE = 0o600  # a file only its owner may read (the box's signing key: kit.infra.keys)
PRIVATE_FOLDER_MODE = 0o700


@dataclass(frozen=True)
class Rules:
    """What may be written below a folder the kit owns, and what is trusted there."""

    group_shared: bool = False
    checked_root: bool = True  # the root passes the folder check too (False: a folder of the user's, merge's -o)
    reading: bool = False  # opened only to read (another user's run directory too): see the module

    @property
    def folder_mode(self) -> int:
        return 0o3775 if self.group_shared else 0o755

    def file_mode(self, executable: bool = False, private: bool = False) -> int:
        return PRIVATE_MODE if private else EXEC_MODE if executable else FILE_MODE


def euid() -> int:
    return os.geteuid() if hasattr(os, "geteuid") else 0


def user_name(uid: int, group: bool = False) -> str:
    """User `uid`'s name (`group`: group `uid`'s), or `uid N` (`gid N`) when the system knows none."""
    try:
        if group:
            import grp

            return grp.getgrgid(uid).gr_name
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return f"{'gid' if group else 'uid'} {uid}"


def who_writes(st: os.stat_result) -> str:
    """`group proj`, `everyone`, or both, for a mode with write bits for others."""
    parts = [f"group {user_name(st.st_gid, group=True)}"] if st.st_mode & stat.S_IWGRP else []
    return " and ".join([*parts, *(["everyone"] if st.st_mode & stat.S_IWOTH else [])])


def whose(st: os.stat_result) -> str:
    """`user alice's, -rw-r--r--`: an entry's owner and mode, as a message names them."""
    return f"user {user_name(st.st_uid)}'s, {stat.filemode(st.st_mode)}"


def describe(st: os.stat_result, path: Path) -> str | None:
    """What `path` is when it is not a plain regular file: "a symbolic link to X", "a folder", ...; None if it is."""
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        try:
            return f"a symbolic link to {os.readlink(path)}"
        except OSError:
            return "a symbolic link"
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a device"),
             (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"))
    return next((what for test, what in kinds if test(mode)), None if stat.S_ISREG(mode) else "not a regular file")


def refuse(path: Path, what: str, expected: str = "a regular file", reading: bool = False) -> InputError:
    """`path` is `what` (a link, a pipe, ...) where the kit keeps `expected`; `reading`: said as a read."""
    found = f"the kit never makes links, pipes or devices in its folders, so something else put it there: look at it " \
        f"(ls -l {path})"
    if reading:
        return InputError(f"{path} is {what}, not {expected} the kit wrote; nothing was read through it",
                          hint=f"{found} and remove it; a run refuses it until then")
    return InputError(f"{path} is {what}, where the kit writes {expected} of its own; nothing was written through it",
                      hint=f"{found}, remove it and rerun; on storage others can write, find out who")


def folder_problem(st: os.stat_result, rules: Rules, root: bool = True) -> str | None:
    """Why the kit may not write in a folder with this stat, or None. `root`: the Tree's own folder (in group-shared
    mode the project folder, which may be another user's)."""
    if rules.reading:
        return None
    if st.st_uid != euid() and not (rules.group_shared and root):
        return f"belongs to user {user_name(st.st_uid)}, not to you ({user_name(euid())})"
    if st.st_mode & OTHERS_WRITE and not (rules.group_shared and st.st_mode & stat.S_ISVTX):
        sticky = " without the sticky bit" if rules.group_shared else ""
        return f"can be written by {who_writes(st)}{sticky} ({stat.filemode(st.st_mode)})"
    return None


class FolderRefused(InputError):
    """A folder the kit may not write in, for a caller that knows the door it came through to say so."""

    def __init__(self, path: Path, problem: str, message: str, hint: str) -> None:
        super().__init__(message, hint=hint)
        self.path, self.problem = path, problem


def refuse_folder(path: Path, problem: str, rules: Rules) -> FolderRefused:
    if problem.startswith("belongs to user"):
        fix = ("ask its owner (or an administrator) to remove it, or choose another out-dir: below its root the kit "
               "writes only in folders that are yours")
    elif rules.group_shared:
        fix = f"chmod +t {path} (the sticky bit lets nobody but a file's owner rename or delete it), then rerun"
    else:
        fix = (f"let the kit make it: choose another folder, or remove it (or `chmod go-w {path}` if it is yours); "
               f"on a project folder shared on purpose, pass --group-shared ({GROUP_SHARED.name}=1): the kit then "
               "trusts only the files you made")
    return FolderRefused(path, problem, f"{path} {problem}: the kit writes only in folders nobody else can change "
                         "under it", hint=fix)


def file_problem(st: os.stat_result, owner: int) -> str | None:
    """Why a regular file with this stat cannot be trusted, or None. `owner`: whose it must be."""
    if st.st_nlink > 1:
        return f"has {st.st_nlink} names (hard links): another name could change it"
    if st.st_uid != owner:
        mine = " to you" if owner == euid() else ""
        return f"belongs to user {user_name(st.st_uid)}, not{mine} ({user_name(owner)})"
    if st.st_mode & OTHERS_WRITE:
        return f"can be written by {who_writes(st)} ({stat.filemode(st.st_mode)})"
    return None


MAX_LINKS = 40  # as the kernel's own walk (ELOOP)


def _why(st: os.stat_result, folder: bool) -> str | None:
    """Why an entry with this lstat is not trusted where it is, or None (a sticky folder may let others add names)."""
    mode = stat.filemode(st.st_mode)
    if st.st_uid not in (euid(), 0):
        return f"belongs to user {user_name(st.st_uid)} ({mode}), not to you ({user_name(euid())})" + (
            " or root" if euid() != 0 else "")
    if stat.S_ISLNK(st.st_mode) or not st.st_mode & OTHERS_WRITE or (folder and st.st_mode & stat.S_ISVTX):
        return None
    owner = f"you ({user_name(st.st_uid)})" if st.st_uid == euid() else "root"
    sticky = " without the sticky bit" if folder else ""
    return f"belongs to {owner} and can be written by {who_writes(st)}{sticky} ({mode})"


@dataclass(frozen=True)
class Finding:
    """Why a named file is not trusted (`problem`, read after its path) and what to do about it (`fix`)."""

    problem: str
    fix: str


def _finding(given: Path, entry: Path, st: os.stat_result, why: str, kind: str) -> Finding:
    """The Finding for `entry` (on the way to `given`, as `kind`: folder, link, file), not trusted because `why`."""
    phrase = {"folder": "lies below", "link": "is reached through the symbolic link"}.get(kind, "leads to")
    problem = why if kind == "file" and entry == given else f"{phrase} {entry}, which {why}"
    copy = "copy the file into a folder only you can write and pass the copy (a copy is yours)"
    if st.st_uid not in (euid(), 0) or kind == "link":
        fix = f"{copy}: the kit never uses a file that another user could change, or put there"
    elif kind == "folder":
        sticky = f"`chmod +t {entry}` (the sticky bit: nobody may then rename or remove what is not theirs)"
        fix = (f"`chmod go-w {entry}` or {sticky}, then rerun; or {copy}" if st.st_uid == euid() else
               f"ask an administrator for {sticky}; or {copy}")
    else:
        fix = (f"`chmod go-w {entry}` if nobody else changed it, then rerun; or {copy}" if st.st_uid == euid()
               else copy)
    return Finding(problem, fix)


def trust_finding(path: Path) -> Finding | None:
    """The first entry on the way to `path` (each folder from `/` down, each link and what it leads to, the file) that
    is not trusted, with what to do; None when all are, or the walk cannot go on (the door says so as it opens it)."""
    given = path if path.is_absolute() else Path.cwd() / path
    folder, todo, links = Path(given.anchor), deque(given.parts[1:]), 0
    with contextlib.suppress(OSError):  # the walk cannot go on
        st = os.lstat(folder)
        if (why := _why(st, folder=True)) is not None:
            return _finding(given, folder, st, why, "folder")
        while todo:
            name = todo.popleft()
            if name in ("", "."):
                continue
            if name == "..":
                folder = folder.parent  # a folder reached here is no link: its parent is its parent
                continue
            entry = folder / name
            st = os.lstat(entry)
            kind = "link" if stat.S_ISLNK(st.st_mode) else "folder" if stat.S_ISDIR(st.st_mode) and todo else "file"
            if (why := _why(st, folder=stat.S_ISDIR(st.st_mode))) is not None:
                return _finding(given, entry, st, why, kind)
            if kind == "link":
                links += 1
                target = Path(os.readlink(entry))
                if links > MAX_LINKS:
                    return None  # a loop of links: opening it fails, and says so
                folder = Path(target.anchor) if target.is_absolute() else folder
                todo.extendleft(reversed(target.parts[1:] if target.is_absolute() else target.parts))
            elif kind == "folder":
                folder = entry
    return None


def untrusted(path: Path) -> str | None:
    """Why a file someone names cannot be trusted, or None: the first entry on the way that fails, owner and mode."""
    found = trust_finding(path)
    return found.problem if found is not None else None


class Distrusted(InputError):
    """A file someone named (`flag`) that the trust rule refuses, and what to do."""

    def __init__(self, flag: str, path: Path, found: Finding) -> None:
        super().__init__(f"{flag} {path} {found.problem}: the kit uses it only when nobody but you or root can "
                         "change it or a folder above it", hint=found.fix)
        self.path = path


def require_trusted(path: Path, flag: str) -> Path:
    """`path` when the trust rule holds for it; Distrusted naming `flag` (--corpus, --ffmpeg, ...) otherwise."""
    if (found := trust_finding(path)) is not None:
        raise Distrusted(flag, path, found)
    return path


class Untrusted(InputError):
    """A file the kit would rely on that it cannot prove is the user's own, unchanged by anyone else."""

    def __init__(self, path: Path, problem: str) -> None:
        mine = "belongs to user" not in problem
        if "hard links" in problem:
            fix = (f"find its other names (find / -xdev -samefile {path}) and remove them, or remove this file and "
                   "rerun: the kit never makes a second name for a file")
        elif mine:
            fix = (f"`chmod go-w {path}` if nobody else changed it (earlier kits made files group-writable under "
                   "umask 002), or remove it and rerun")
        else:
            fix = "remove it (ask its owner, or an administrator) and rerun; the kit never uses what another user made"
        super().__init__(f"{path} {problem}: the kit trusts only files that you made and nobody else can change",
                         hint=fix)
        self.path, self.problem = path, problem
        self.mine = mine
