"""Who may write where: the modes the kit gives what it makes, and what it trusts of what it finds.

On shared storage (a project folder with a setgid group and `umask 002`) every member of the group could change a
file the kit wrote, or swap a folder for one of their own. So, whatever the umask:

- the kit makes folders 0755 and files 0644 (0755 for a script or a program): only their owner can change them;
- in group-shared mode (`--group-shared`, KIT_GROUP_SHARED=1), asked for where the group should add files of its
  own beside the kit's, folders are made 3775 (group-writable; setgid: new files keep the group; sticky: nobody
  but a file's owner may rename or delete it) and files stay 0644;
- a folder the kit writes in must belong to the user running it and be writable by nobody else; in group-shared
  mode a folder others can write must carry the sticky bit, and the root alone (the project folder) may be
  another user's: every folder below it is the user's own, in every mode;
- a file the kit trusts (a record, a member, a ledger: whatever decides what it computes next) must be a regular
  file with one name, owned by the user running the kit and writable by nobody else, in every mode;
- a folder opened only to be read (`status`, `corpus info`, a run directory given to `merge`: another user's, the
  lead's reading a collaborator's) is checked as its owner's: nothing is written there, so no folder is refused for
  its owner, and a file trusted there must be the owner's of the root, one name, writable by nobody else.

Everything refused here is an InputError (exit 2) naming the path, what it is and whose.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from kit.errors import InputError

GROUP_SHARED_ENV = "KIT_GROUP_SHARED"
OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH
FILE_MODE = 0o644
EXEC_MODE = 0o755


@dataclass(frozen=True)
class Rules:
    """What may be written below a folder the kit owns, and what is trusted there."""

    group_shared: bool = False
    checked_root: bool = True  # the root passes the folder check too (False: a folder of the user's, merge's -o)
    reading: bool = False  # opened only to read (another user's run directory too): see the module

    @property
    def folder_mode(self) -> int:
        return 0o3775 if self.group_shared else 0o755

    def file_mode(self, executable: bool = False) -> int:
        return EXEC_MODE if executable else FILE_MODE


def euid() -> int:
    return os.geteuid() if hasattr(os, "geteuid") else 0


def user_name(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return f"uid {uid}"


def group_name(gid: int) -> str:
    try:
        import grp

        return grp.getgrgid(gid).gr_name
    except (ImportError, KeyError):
        return f"gid {gid}"


def who_writes(st: os.stat_result) -> str:
    """`group proj`, `everyone`, or both, for a mode with write bits for others."""
    parts = [f"group {group_name(st.st_gid)}"] if st.st_mode & stat.S_IWGRP else []
    return " and ".join([*parts, *(["everyone"] if st.st_mode & stat.S_IWOTH else [])])


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
    for test, what in kinds:
        if test(mode):
            return what
    return None if stat.S_ISREG(mode) else "not a regular file"


def refuse(path: Path, what: str, expected: str = "a regular file") -> InputError:
    return InputError(
        f"{path} is {what}, where the kit writes {expected} of its own; nothing was written through it",
        hint=f"the kit never makes links, pipes or devices in its folders, so something else put it there: "
             f"look at it (ls -l {path}), remove it and rerun; on storage others can write, find out who")


def folder_problem(st: os.stat_result, rules: Rules, root: bool = True) -> str | None:
    """Why the kit may not write in a folder with this stat (its owner, who else can write), or None. `root`: the
    Tree's own folder (in group-shared mode the project folder, which may be another user's)."""
    if rules.reading:
        return None
    if st.st_uid != euid() and not (rules.group_shared and root):
        return f"belongs to user {user_name(st.st_uid)}, not to you ({user_name(euid())})"
    if st.st_mode & OTHERS_WRITE and not rules.group_shared:
        return f"can be written by {who_writes(st)} ({stat.filemode(st.st_mode)})"
    if st.st_mode & OTHERS_WRITE and not st.st_mode & stat.S_ISVTX:
        return f"can be written by {who_writes(st)} without the sticky bit ({stat.filemode(st.st_mode)})"
    return None


def refuse_folder(path: Path, problem: str, rules: Rules) -> InputError:
    if problem.startswith("belongs to user"):
        fix = ("ask its owner (or an administrator) to remove it, or choose another out-dir: below its root the kit "
               "writes only in folders that are yours")
    elif rules.group_shared:
        fix = f"chmod +t {path} (the sticky bit lets nobody but a file's owner rename or delete it), then rerun"
    else:
        fix = (f"let the kit make it: choose another folder, or remove it (or `chmod go-w {path}` if it is yours); "
               "on a project folder shared on purpose, pass --group-shared (KIT_GROUP_SHARED=1): the kit then "
               "trusts only the files you made")
    return InputError(f"{path} {problem}: the kit writes only in folders nobody else can change under it",
                      hint=fix)


def file_problem(st: os.stat_result, owner: int | None = None) -> str | None:
    """Why a file with this stat cannot be trusted, or None (a regular file is assumed). `owner`: whose it must be
    (the user running the kit unless said)."""
    owner = euid() if owner is None else owner
    if st.st_nlink > 1:
        return f"has {st.st_nlink} names (hard links): another name could change it"
    if st.st_uid != owner:
        mine = " to you" if owner == euid() else ""
        return f"belongs to user {user_name(st.st_uid)}, not{mine} ({user_name(owner)})"
    if st.st_mode & OTHERS_WRITE:
        return f"can be written by {who_writes(st)} ({stat.filemode(st.st_mode)})"
    return None


def given_file_problem(path: Path) -> str | None:
    """Why a file someone names (a corpus, its manifest) cannot be vouched for where it lies, or None: in a folder
    others can write, anyone there could have put it in place, so only the user's own file is trusted
    (file_problem); in a folder only its owner can write, the file is that owner's work."""
    folder = os.stat(path.parent)
    if not folder.st_mode & OTHERS_WRITE:
        return None
    problem = file_problem(os.stat(path))
    return (f"lies in {path.parent}, which {who_writes(folder)} can write, and {problem}" if problem is not None
            else None)


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
        self.path = path
        self.mine = mine
