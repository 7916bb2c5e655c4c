"""Facts about this box: its id, CPU name, cache folder, free disk."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import shutil
import socket
from pathlib import Path


def default_box_id() -> str:
    name = socket.gethostname().split(".")[0].lower()
    return re.sub(r"[^a-z0-9-]+", "-", name).strip("-") or "box"


def safe_box_id(box_id: str) -> str:
    """A box id usable in file names: letters, digits, '-', '_', '.' only."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", box_id).strip("-.")
    return cleaned[:64] or "box"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def cache_dir() -> Path:
    env = os.environ.get("KIT_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("ensemble-kit"))


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


def kit_cli() -> str:
    """How to call the kit's CLI, written the way this process was started, for hints.

    `ensemble-kit` when that is what ran; otherwise this very interpreter with `-m kit`
    (from the kit's folder) or the path of kit/__main__.py, so a pasted hint always works.
    """
    import sys

    if Path(sys.argv[0]).name == "ensemble-kit":
        return "ensemble-kit"
    exe = Path(sys.executable)
    with contextlib.suppress(ValueError):
        exe = exe.relative_to(Path.cwd())
    root = Path(__file__).resolve().parent.parent
    if root == Path.cwd().resolve():
        return f"{exe} -m kit"
    main = root / "kit" / "__main__.py"
    with contextlib.suppress(ValueError):
        main = main.relative_to(Path.cwd())
    return f"{exe} {main}"
