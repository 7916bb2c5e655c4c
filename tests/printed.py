"""The commands the kit prints, as a person meets them: read off a terminal (a pseudo-terminal of a given width, where
rich draws its bars and tables) or a redirect, cut out of their line, split as a shell splits them, and checked
against the kit's own command line.

Used by tests/real/test_commands_as_printed.py (each printed command run as printed), tests/unit/
test_printed_command_sites.py (the catalogue of the places that print one) and tests/unit/test_readme_commands.py.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import shlex
import struct
import subprocess
import termios
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from tests import pace

WIDE = 200  # columns of a wide terminal
NARROW = 80  # ... and of the narrow one every command must survive

# the words that stand for what only the reader has (a template's placeholders), with a value of the same kind: the
# command must parse with them in place
PLACEHOLDERS = {"NAME": "corpus", "FOLDER": "out", "FILE": "merged.parquet", "CORPUS": "merged.parquet",
                "RATE": "25", "A": "a.parquet", "B": "b.parquet"}


@dataclass(frozen=True)
class Screen:
    """What a command left on a terminal (or a redirect): its exit code and its lines, as a person reads them."""

    code: int
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


# what a terminal is sent: text, line feeds, carriage returns and escapes (CSI: colours, cursor moves, erasing; OSC:
# titles, links; the two-byte ones)
TOKENS = re.compile(r"(\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|\r|\n)")
CSI = re.compile(r"\x1b\[([0-?]*)[ -/]*([@-~])")


def screen_lines(raw: bytes) -> list[str]:
    """The lines a terminal shows once `raw` is written to it, scrolled-off lines included: text written where the
    cursor is, a carriage return and the cursor moved up (rich's live display draws its bars over and over, then
    erases them) and lines erased as a terminal does; colours and other escapes change nothing. A line longer than
    the terminal is one line, as a terminal copies it."""
    lines, row, col = [""], 0, 0
    for token in TOKENS.split(raw.decode("utf-8", errors="replace")):
        if token == "\n":
            row, col = row + 1, 0
            lines += [""] * (row + 1 - len(lines))
        elif token == "\r":
            col = 0
        elif (csi := CSI.fullmatch(token)) is not None:
            arg, final = csi.groups()
            count = int(arg) if arg.isdigit() else 1
            if final == "A":
                row = max(0, row - count)
            elif final == "K":
                lines[row] = lines[row][:col] if arg in ("", "0") else ""
        elif token and not token.startswith("\x1b"):
            line = lines[row].ljust(col)
            lines[row] = line[:col] + token + line[col + len(token):]
            col += len(token)
    return [line.rstrip() for line in lines]


def on_terminal(argv: Sequence[str | Path], columns: int, cwd: Path, env: dict[str, str],
                interrupt_when: str = "", timeout_s: float = 300) -> Screen:
    """Run `argv` on a pseudo-terminal `columns` wide, as the job of a login shell (it leads a session whose
    controlling terminal that is), and read its screen; `interrupt_when`: type Ctrl-C once that text is shown."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES")}  # the width is the terminal's
    # setsid -c: a new session with the pty as its controlling terminal, so Ctrl-C is the terminal's SIGINT
    proc = subprocess.Popen(["setsid", "-c", *map(str, argv)], cwd=cwd, stdin=slave, stdout=slave, stderr=slave,
                            env={**env, "TERM": "xterm-256color"})
    os.close(slave)
    raw, typed, limit = b"", False, pace.Deadline(timeout_s)  # the box's own time (tests/pace.py)
    try:
        while not limit.expired():
            if not select.select([master], [], [], 0.1)[0]:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every end of the terminal's other side is closed
                break
            if not chunk:
                break
            raw += chunk
            if interrupt_when and not typed and interrupt_when in "\n".join(screen_lines(raw)):
                os.write(master, b"\x03")
                typed = True
        code = pace.wait(proc, max(1.0, limit.left()))
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return Screen(code, screen_lines(raw))


def redirected(argv: Sequence[str | Path], cwd: Path, env: dict[str, str], timeout_s: float = 300) -> Screen:
    """Run `argv` with its output redirected (a log file, a pipe): stdout's lines, then stderr's."""
    res = pace.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True,
                   timeout=timeout_s)
    return Screen(res.returncode, res.stdout.splitlines() + res.stderr.splitlines())


def command_lines(screen: Screen, start: str) -> list[str]:
    """Each command shown that starts with `start` (the kit as it spells itself), from there to its line's end."""
    return [line[line.index(start):] for line in screen.lines if start in line]


def after(screen: Screen, prefix: str) -> str:
    """What follows `prefix` on the one line that starts with it (`retry: `, `resume with: `)."""
    (line,) = [line for line in screen.lines if line.startswith(prefix)]
    return line.removeprefix(prefix)


def cli_accepts(words: Sequence[str]) -> str:
    """Whether the kit's command line takes `words` (what follows the kit's own name): "" when every command word
    names a command and every flag is one of its own with a value its type takes; else why not. Only the words are
    parsed, nothing is run. A bare command name (`merge`, as in `merge ...`) needs none of its required
    arguments."""
    from kit.cli.main import cli

    command: click.Command = cli
    args, path = [PLACEHOLDERS.get(w, w) for w in words], ["ensemble-kit"]
    while isinstance(command, click.Group) and args and not args[0].startswith("-"):
        name = args.pop(0)
        found = command.get_command(click.Context(command), name)
        if found is None:
            return f"{' '.join(path)} has no command {name!r}"
        command, path = found, [*path, name]
    if isinstance(command, click.Group) and not args:
        return f"{' '.join(path)} names a group of commands, not one"
    try:
        command.make_context(" ".join(path), args)
    except click.exceptions.Exit:  # --help
        return ""
    except click.MissingParameter as exc:
        return "" if not args else exc.format_message()
    except click.ClickException as exc:
        return exc.format_message()
    return ""


def kit_words(command: str, kit: str) -> list[str]:
    """The words of a printed kit command after the kit's own spelling `kit` (`.venv/bin/python -m kit`)."""
    assert command.startswith(kit), (command, kit)
    return shlex.split(command.removeprefix(kit))
