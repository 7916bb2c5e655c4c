"""How this process was started, so every command the kit prints runs as printed: `kit_cli` the prefix, `kit_command`
a whole command, `retry_command` the command line again, each spelled as the user invoked the kit (`ensemble-kit` is on
PATH only where the kit is installed and its venv active).

A printed command stands last on its line or between backticks, never in a table cell (a check row's hint, after
kit.events.HINT_MARK, is said under its table); each place that prints one is a site of
tests/unit/test_printed_command_sites.py, with the test that runs it as printed.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kit import KIT_ROOT, PACKAGE_DIR
from kit.errors import InputError
from kit.infra.records import Record
from kit.infra.shown import Spelled, shell_line

ENTRY_POINT = "ensemble-kit"


def shell_join(args: Iterable[str | Path]) -> str:
    """A printed command line: each argument quoted as a shell reads it (kit.infra.visible.shell_quote), a Path kept as
    a path, so that a file the lead is sent shows it as a path (kit.infra.shown.Spelled)."""
    return shell_line(args)


def check_working_folder() -> None:
    """The folder the command was started in is there: one deleted (or moved away) since the shell entered it leaves
    every relative path, and every path the kit prints, without a place; an InputError (exit 2) says so first."""
    try:
        os.getcwd()
    except FileNotFoundError:
        raise InputError("the folder this command was started in no longer exists (deleted or moved after the shell "
                         "entered it): no path given to the kit can be found from it",
                         hint="cd to a folder that exists (cd ~, or where your runs are), then run the command "
                              "again") from None


def as_typed(path: Path) -> str:
    """A path as the user can type it here: relative when inside the current folder (.venv/bin/python)."""
    with contextlib.suppress(ValueError):
        rel = path.relative_to(Path.cwd())
        # a bare name would be looked up on PATH: spell the folder (./ensemble-kit)
        return str(rel) if len(rel.parts) > 1 else f".{os.sep}{rel}"
    return str(path)


def interpreter() -> str:
    """This Python as the user can type it: relative when inside the current folder (.venv/bin/python)."""
    return as_typed(Path(sys.executable))


def _started_as_entry_point() -> bool:
    """Whether the installed `ensemble-kit` script (ensemble-kit.exe on Windows) started this process."""
    return bool(sys.argv and sys.argv[0]) and Path(sys.argv[0]).stem == ENTRY_POINT


def _entry_point() -> str | None:
    """How to call the installed entry point, when that is what started this process."""
    if not _started_as_entry_point():
        return None
    argv0 = Path(sys.argv[0])
    found = shutil.which(ENTRY_POINT)
    with contextlib.suppress(OSError):
        if found and Path(found).resolve() == argv0.resolve():
            return ENTRY_POINT  # the name on PATH is this very script
    return shell_join([Path(as_typed(argv0.absolute()))])  # e.g. .venv/bin/ensemble-kit, with no venv active


def kit_cli() -> str:
    """How to call the kit's CLI for hints: `ensemble-kit` when that name on PATH ran, the script's path from a venv
    that is not active, else this interpreter with `-m kit` (from the kit's folder) or kit/__main__.py's path."""
    if (entry := _entry_point()) is not None:
        return entry
    exe = Path(interpreter())
    if Path.cwd().resolve() == KIT_ROOT:
        return shell_join([exe, "-m", "kit"])
    return shell_join([exe, Path(as_typed(KIT_ROOT / "kit" / "__main__.py"))])


def kit_command(*args: str | Path) -> str:
    """One kit command to print, e.g. kit_command("verify", tarball), runnable as printed."""
    return Spelled(" ").join([kit_cli(), shell_join(args)]) if args else kit_cli()


def receiver_commands(*args: str | Path) -> tuple[str, str]:
    """A command for the lead's box: as the installed `ensemble-kit`, and as `python -m kit` in an untarred kit."""
    rest = shell_join(args)
    return f"{ENTRY_POINT} {rest}", f"python -m kit {rest}"


def retry_command() -> str:
    """This invocation's command line again, runnable as printed."""
    argv = list(sys.argv)
    if not argv:
        return kit_cli()
    if _entry_point() is not None or argv[0].endswith("__main__.py"):
        return kit_command(*argv[1:])
    if argv[0].endswith(".py"):  # kit/run_full_pipeline.py
        return shell_join([interpreter(), as_typed(Path(argv[0]).absolute()), *argv[1:]])
    return shell_join(argv)


def kit_argv_absolute() -> list[str]:
    """How to call the kit from anywhere (a batch script on another node), by absolute paths, as it was started."""
    if _started_as_entry_point():
        found = shutil.which(sys.argv[0]) if os.sep not in sys.argv[0] else sys.argv[0]
        return [str(Path(found or sys.argv[0]).absolute())]
    return [str(Path(sys.executable).absolute()), str(KIT_ROOT / "kit" / "__main__.py")]


@dataclass(frozen=True)
class RunProvenance(Record):
    """Where the latest invocation ran."""

    python: str
    executable: str
    kit_root: str
    platform: str
    cwd: str

    @classmethod
    def here(cls) -> RunProvenance:
        return cls(sys.version.split()[0], sys.executable, str(PACKAGE_DIR), platform.platform(), os.getcwd())
