"""Facts about this box: its id, platform tag, CPU name, cache folder, free disk, cores (never sent of it: the host's
name, its machine id; a box is told by its key, kit.infra.keys)."""

from __future__ import annotations

import contextlib
import platform
import re
import shutil
import socket
from pathlib import Path

from kit import KIT_ROOT
from kit.errors import InputError, PrereqError
from kit.infra.files import no_home
from kit.infra.perms import FolderRefused, Rules
from kit.infra.scratch import CACHE_HOME, as_started
from kit.infra.shown import Places
from kit.infra.tree import Tree
from kit.infra.variables import CACHE_DIR, GROUP_SHARED
from kit.infra.variables import core_count as core_count  # declared beside KIT_TRAIN_THREADS, bounded by it


def default_box_id() -> str:
    name = socket.gethostname().split(".")[0].lower()
    return re.sub(r"[^a-z0-9-]+", "-", name).strip("-") or "box"


def safe_box_id(box_id: str) -> str:
    """A box id usable in file names: letters, digits, '-', '_', '.' only."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", box_id).strip("-.")
    return cleaned[:64] or "box"


def platform_tag() -> str:
    """`linux-x86_64`, `darwin-arm64`, `windows-x86_64`: names binaries/<os>-<arch>/ and the shard's platform."""
    machine = platform.machine().lower()
    return f"{platform.system().lower()}-" + {"amd64": "x86_64", "aarch64": "arm64"}.get(machine, machine)


def cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "cpu"


_CACHE_TREES: dict[str, Tree] = {}  # the cache's one owner in this process, by its folder


def cache_tree() -> Tree:
    """The kit's cache, opened as a Tree once per process and folder (the temporaries of writers gone removed)."""
    root = cache_dir()
    tree = _CACHE_TREES.get(str(root))
    if tree is None:
        try:
            tree = Tree.open(root, Rules(group_shared=group_shared_from_env()), label="the kit's cache")
        except FolderRefused as exc:
            raise cache_refused(exc) from None
        for folder in [root, *(root / name for name in tree.names(root))]:
            if tree.is_folder(folder):
                tree.remove_stale(folder)
        _CACHE_TREES[str(root)] = tree
    return tree


def cache_refused(exc: FolderRefused) -> InputError:
    """The cache's folder refused, said of the door that chose it: KIT_CACHE_DIR, or the cache folder the kit chose."""
    if CACHE_DIR.read() is not None:
        door, other = CACHE_DIR.name, f"unset {CACHE_DIR.name} (the cache then goes to your own cache folder) or set it"
    else:
        door, other = "the kit's cache", f"set {CACHE_DIR.name}"
    fix = f"{other} to a folder of your own (export {CACHE_DIR.name}=$HOME/ensemble-kit-cache), then rerun"
    if not exc.problem.startswith("belongs to user"):
        fix = f"`chmod go-w {exc.path}` if it is yours and nobody else needs to write in it, or {fix}"
    return InputError(f"{door} {exc.path} {exc.problem}: the kit keeps its cache only in a folder of your own that "
                      "nobody else can change", hint=fix)


def group_shared_from_env() -> bool:
    """--group-shared's variable, for what opens a Tree without the run's settings (the cache, merge -o)."""
    return GROUP_SHARED.read() is True


def cache_dir() -> Path:
    """Where the kit's cache is: KIT_CACHE_DIR, else the user's cache folder (platformdirs)."""
    if isinstance(env := CACHE_DIR.read(), Path):  # a file named there refused, naming the variable
        return env
    import platformdirs

    with as_started(CACHE_HOME):  # the user's own XDG_CACHE_HOME, not the one the libraries are given
        try:
            found = Path(platformdirs.user_cache_dir("ensemble-kit"))
        except RuntimeError:  # platformdirs finds no home folder to put it in
            found = Path()
    if not found.is_absolute():  # HOME unset and the user unknown to the password database (a service)
        raise PrereqError(f"no folder for the kit's cache: {no_home('its default folder')}",
                          hint=f"set {CACHE_DIR.name} to a folder you can write "
                               f"(export {CACHE_DIR.name}=/var/cache/kit)")
    return found


def box_places(out_dir: Path | None = None, ref_dir: Path | None = None, kept: bool = False) -> Places:
    """The box's roots a file the lead is sent shows its paths under (kit.infra.shown): this command's out-dir and
    reference folder, the kit's cache and the kit's own folder (those known here); never home or the current folder,
    whose folders below are the user's own; `kept` (--keep-paths): every path as it is."""
    if kept:
        return Places.KEPT
    cache = None
    with contextlib.suppress(PrereqError):  # no cache folder: nothing of it to show
        cache = cache_dir()
    return Places.of(out_dir, ref_dir, cache, KIT_ROOT)


def free_bytes(path: Path) -> int:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


