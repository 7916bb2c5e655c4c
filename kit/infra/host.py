"""Facts about this box: its id, platform tag, CPU name, cache folder, free disk, cores."""

from __future__ import annotations

import os
import platform
import re
import shutil
import socket
from pathlib import Path

from kit.errors import PrereqError
from kit.infra.nofollow import own_tree


def default_box_id() -> str:
    name = socket.gethostname().split(".")[0].lower()
    return re.sub(r"[^a-z0-9-]+", "-", name).strip("-") or "box"


def safe_box_id(box_id: str) -> str:
    """A box id usable in file names: letters, digits, '-', '_', '.' only."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", box_id).strip("-.")
    return cleaned[:64] or "box"


def platform_tag() -> str:
    """`linux-x86_64`, `darwin-arm64`, `windows-x86_64`: names binaries/<os>-<arch>/ and the shard's platform."""
    system = platform.system().lower()
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "aarch64": "arm64"}.get(machine, machine)
    return f"{system}-{machine}"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def cache_dir() -> Path:
    """The kit's cache (probe results, clip hashes, demo clips): a kit tree, since boxes and runs may share it."""
    found = _cache_dir()
    own_tree(found)
    return found


def _cache_dir() -> Path:
    env = os.environ.get("KIT_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    found = Path(platformdirs.user_cache_dir("ensemble-kit"))
    if not found.is_absolute():  # HOME unset and the user unknown to the password database (a service)
        raise PrereqError("no folder for the kit's cache: HOME is not set and this user has no home folder",
                          hint="set KIT_CACHE_DIR to a folder you can write (export KIT_CACHE_DIR=/var/cache/kit)")
    return found


def free_bytes(path: Path) -> int:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def core_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)
