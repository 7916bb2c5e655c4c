"""How this process was started, so every command the kit prints runs as printed.

`kit_cli` is the prefix for hints (`<prefix> step corpus ...`), `retry_command`
the whole command line again, both spelled the way the user invoked the kit.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import sys
from pathlib import Path

from kit import KIT_ROOT


def interpreter() -> str:
    """This Python as the user can type it: relative when inside the current folder (.venv/bin/python)."""
    exe = Path(sys.executable)
    try:
        return str(exe.relative_to(Path.cwd()))
    except ValueError:
        return str(exe)


def kit_cli() -> str:
    """How to call the kit's CLI, written the way this process was started, for hints.

    `ensemble-kit` when that is what ran; otherwise this very interpreter with `-m kit`
    (from the kit's folder) or the path of kit/__main__.py, so a pasted hint always works.
    """
    if Path(sys.argv[0]).name == "ensemble-kit":
        return "ensemble-kit"
    exe = interpreter()
    if Path.cwd().resolve() == KIT_ROOT:
        return f"{exe} -m kit"
    main = KIT_ROOT / "kit" / "__main__.py"
    with contextlib.suppress(ValueError):
        main = main.relative_to(Path.cwd())
    return f"{exe} {main}"


def retry_command() -> str:
    """This invocation's command line again, runnable as printed."""
    argv = list(sys.argv)
    python = interpreter()
    if argv and argv[0].endswith("__main__.py"):
        argv = [python, "-m", "kit", *argv[1:]]
    elif argv and argv[0].endswith(".py"):
        argv = [python, *argv]
    return shlex.join(argv)


def kit_argv_absolute() -> list[str]:
    """How to call the kit from anywhere (a batch script on another node): as this process was started,
    with absolute paths.

    The installed `ensemble-kit` script when that is what ran; otherwise this very interpreter (its path
    as started, not resolved, so a venv's python stays the venv's) with the kit's own kit/__main__.py,
    which works from any folder, as `python -m kit` needs the kit on the import path.
    """
    if Path(sys.argv[0]).name == "ensemble-kit":
        found = shutil.which(sys.argv[0]) if os.sep not in sys.argv[0] else sys.argv[0]
        return [str(Path(found or sys.argv[0]).absolute())]
    return [str(Path(sys.executable).absolute()), str(KIT_ROOT / "kit" / "__main__.py")]
