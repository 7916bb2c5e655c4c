"""Where the kit, its children and the libraries it loads write their temporaries: a folder of their own, never a
shared one (issue 89, item 2). A library writes under fixed names where it is told to (onnxruntime, as it loads: `.ses`
in TMPDIR, opened without O_NOFOLLOW, and its telemetry's database and device id under XDG_CACHE_HOME); in a shared
TMPDIR another user could have planted a link there. So:

- each kit process (a command the entry points run whole, the incumbent's child) opens its own folder first thing,
  before torch, onnxruntime or matplotlib load (`open_scratch`): `.tmp-kit.<pid>.<host>.<random>` in the user's
  temporary folder (TMPDIR, TEMP or TMP, else the system's, as Python's tempfile finds it), made by mkdtemp (a random
  name, mode 0700, never an existing entry followed) and checked (a folder, not a link, the user's, 0700), then named
  by TMPDIR, TMP, TEMP, tempfile's folder and (where libraries read it) XDG_CACHE_HOME, as `cache.<random>/` below
  it; removed at the process's exit, by the reaper after a SIGKILL (kit.infra.reaper: a process that started a
  child has one), and, left by a process killed without one (merge in its extraction), by the next kit process on
  this host (its pid dead: kit.infra.files.stale; tests/pipeline/test_kill.py);
- a temporary folder the user's or root's only, or sticky (as /tmp is), is used; one another user owns, or that
  others may write without the sticky bit, is refused (TempRefused: exit 2, naming it and what to do);
- each child (kit.infra.proc.run_process) gets a folder of its own inside that one, removed when it ends, as its
  TMPDIR, TMP and TEMP, and XDG_CACHE_HOME as the user started the kit; a child whose work outlives the kit (sbatch's
  job) gets the user's own, as the kit was started.

The kit's own cache is found by the user's XDG_CACHE_HOME (`as_started`), never the one given to the libraries.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import stat
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

from kit.errors import InputError
from kit.infra.files import TMP_MARK, host_tag
from kit.infra.perms import Rules, euid, trust_finding
from kit.infra.tree import Tree

TEMP_VARIABLES = ("TMPDIR", "TEMP", "TMP")  # tempfile's order
CACHE_HOME = "XDG_CACHE_HOME"
NAME = "kit"  # the folder's name after TMP_MARK: `.tmp-kit.<pid>.<host>.<random>`
# what the kit changes of its own environment, as the process was started (None: unset)
STARTED: dict[str, str | None] = {}
_opened: list[Path] = []  # this process's folder, once open
_lock = threading.Lock()


class TempRefused(InputError):
    """A temporary folder another user could write into, or change."""


def _xdg() -> bool:
    """Whether libraries here read XDG_CACHE_HOME (Linux, the BSDs): not macOS' or Windows' own folders."""
    return sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd"))


def private_folder() -> Path | None:
    """This process's folder as open_scratch made it, whether or not it is still there (None: never made)."""
    return _opened[0] if _opened else None


def opened() -> Path | None:
    """This process's folder, when open_scratch made it (None in a test's process, or a library's use of the kit)."""
    return _opened[0] if _opened and _opened[0].is_dir() else None


def started_value(name: str) -> str | None:
    """A temporary folder's variable as the user started the kit (open_scratch points it at the private folder)."""
    return STARTED.get(name, os.environ.get(name))


def user_temp_folder() -> Path:
    """The temporary folder the user gave (TMPDIR, TEMP, TMP as the kit was started), else the system's, as Python's
    tempfile finds it (the first that is a folder the user can write), without its test file in it."""
    if os.name != "posix":
        return Path(tempfile.gettempdir())
    given = [started_value(name) for name in TEMP_VARIABLES]
    for folder in [*filter(None, given), "/tmp", "/var/tmp", "/usr/tmp", os.getcwd()]:
        if os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK):
            return Path(os.path.abspath(folder))
    raise TempRefused("no temporary folder: TMPDIR, TEMP and TMP name none the kit can write, nor do /tmp, /var/tmp, "
                      "/usr/tmp or the current folder", hint="export TMPDIR=a folder of your own, e.g. `mkdir -m 700 "
                                                             "-p ~/tmp && export TMPDIR=~/tmp`")


def said_temp_folder() -> str:
    """The user's temporary folder as a hint names it, so that the user can follow the hint: the variable that chose
    it as the user set it (`TMPDIR=/scratch/ann`), else the system's folder, never this process's private one (gone
    when the kit exits)."""
    given = [(name, value) for name in TEMP_VARIABLES if (value := started_value(name))]
    for name, value in given:
        if os.path.isdir(value) and os.access(value, os.W_OK | os.X_OK):
            return f"{name}={value}"
    unusable = f"{', '.join(f'{n}={v}' for n, v in given)}: no folder you can write" if given else "TMPDIR is not set"
    with contextlib.suppress(TempRefused, OSError):  # OSError: the current folder removed (its getcwd)
        if os.name == "posix":
            return f"{user_temp_folder()} ({unusable})"
    return f"the system's temporary folder ({unusable})"


def check_base(base: Path) -> None:
    """TempRefused for a temporary folder someone else may write into or change (the rule of kit.infra.perms'
    trust_finding: each folder from `/` the user's or root's, and written by nobody else unless sticky)."""
    if os.name != "posix":
        return
    found = trust_finding(base)
    named = next((f"{name} " for name in TEMP_VARIABLES if started_value(name)), "")
    if found is not None:
        raise TempRefused(f"the temporary folder {named}{base} {found.problem}: the kit, its ffmpeg and the libraries "
                          "it loads write their temporaries there, where another user could replace them or plant a "
                          "link", hint="export TMPDIR=a folder of your own, e.g. `mkdir -m 700 -p ~/tmp && export "
                                       "TMPDIR=~/tmp`, then run the command again")


def open_scratch() -> Path:
    """This process's own temporary folder (the module's rule), made once; TempRefused where the user's temporary
    folder is not safe to use."""
    with _lock:
        if (mine := opened()) is not None:
            return mine
        base = user_temp_folder()
        check_base(base)
        with Tree.open(base, Rules(checked_root=False), make=False) as tree:
            tree.remove_stale(base, names=[NAME])  # what a killed kit process of this user left
        made = Path(tempfile.mkdtemp(prefix=f"{TMP_MARK}{NAME}.{os.getpid()}.{host_tag()}.", dir=base))
        check_made(made)
        cache = tempfile.mkdtemp(prefix="cache.", dir=made)  # 0700, as its parent
        for name in (*TEMP_VARIABLES, CACHE_HOME):
            STARTED.setdefault(name, os.environ.get(name))
        os.environ.update({name: str(made) for name in TEMP_VARIABLES})
        if _xdg():
            os.environ[CACHE_HOME] = cache
        tempfile.tempdir = str(made)
        _opened[:] = [made]
        atexit.register(_remove_own, made, os.getpid())
        return made


def check_made(folder: Path) -> None:
    """The folder mkdtemp made, as it must be: a folder, no link, the user's, 0700."""
    st = os.lstat(folder)
    if os.name == "posix" and not (stat.S_ISDIR(st.st_mode) and st.st_uid == euid()
                                   and stat.S_IMODE(st.st_mode) == 0o700):
        raise TempRefused(f"the temporary folder {folder} the kit just made is {stat.filemode(st.st_mode)}, user "
                          f"{st.st_uid}'s: not the private folder it asked for",
                          hint="export TMPDIR=a folder of your own, then run the command again")


def remove(folder: Path | None) -> None:
    """A temporary folder removed whole, no link below it followed (shutil's descriptor walk); None: none."""
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def _remove_own(folder: Path, pid: int) -> None:
    """At exit: the process's folder, by the process that made it (never a forked copy's exit)."""
    if os.getpid() == pid:
        remove(folder)


def child_folder() -> Path:
    """A folder of a child's own (0700, a random name) inside this process's, or tempfile's folder where the process
    opened none (a test's). This process's folder removed while the kit runs (a cleaner of /tmp): the OSError names
    it (kit.cli.guard says it as the kit's temporary folder, removed), never tempfile's folder in its place."""
    mine = private_folder()
    return Path(tempfile.mkdtemp(prefix="child.", dir=mine if mine is not None else opened()))


def child_environment(env: Mapping[str, str], folder: Path | None) -> dict[str, str]:
    """`env` with TMPDIR, TMP and TEMP `folder` (None: as the user started the kit: a child whose work outlives the
    kit), and XDG_CACHE_HOME as the user started the kit (a kit started as the child finds its cache by it)."""
    out = dict(env)
    for name in (*TEMP_VARIABLES, CACHE_HOME):
        value = str(folder) if folder is not None and name != CACHE_HOME else STARTED.get(name, env.get(name))
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    return out


@contextlib.contextmanager
def as_started(name: str) -> Iterator[None]:
    """The variable `name` as the user started the kit, for the block (the kit's cache found by the user's
    XDG_CACHE_HOME, not the one given to the libraries)."""
    if name not in STARTED or os.environ.get(name) == STARTED[name]:
        yield
        return
    with _lock:
        now = os.environ.get(name)
        _set(name, STARTED[name])
        try:
            yield
        finally:
            _set(name, now)


def _set(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
