"""The KIT_ variables that are no option's and hold no number, each declared once here with its rule: what it holds,
how its text is read and what a value that is none is told. Every reader of one reads it through `Variable.read`,
and the commands that run with them check each when they start (kit.cli.environment.check_environment), so a bad
value is exit 2 naming the variable before any work, never taken for another (docs/collaborator.md, "Environment").
A switch reads `1`, `on`, `true`, `yes` as on and `0`, `off`, `false`, `no` as off, in any case; anything else is
refused. The numeric ones are read by kit.infra.outside where they are used (kit.cli.environment.AT_START).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kit.errors import InputError
from kit.infra.visible import visible

ON = ("1", "on", "true", "yes", "t", "y")  # click's words for a flag's variable (KIT_STRICT), so one reading
OFF = ("0", "off", "false", "no", "f", "n")


class NotItsValue(ValueError):
    """A variable's text that is no value of it: the phrase read after the text (`is a file, not a folder`)."""


def switch(text: str) -> bool:
    """A switch's text as on (True) or off (False): ON or OFF, in any case."""
    word = text.strip().lower()
    if word in ON or word in OFF:
        return word in ON
    raise NotItsValue(f"is neither on ({', '.join(ON)}) nor off ({', '.join(OFF)})")


def folder(text: str) -> Path:
    """A folder's path: one that exists is a folder (a missing one is made where it is used)."""
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise NotItsValue("names a file, not a folder")
    return path


def one_of(*words: str) -> Callable[[str], str]:
    def read(text: str) -> str:
        if (word := text.strip().lower()) in words:
            return word
        raise NotItsValue(f"is not one of {', '.join(words)}")

    return read


def any_text(text: str) -> str:
    return text


@dataclass(frozen=True)
class Variable:
    """A KIT_ variable: its name, what it holds (the docs' and the refusal's words), how its text is read, its value
    when unset or empty, and the hint for a value that is none. `checked`: read as a command starts (a test harness's
    own variables are not: only the harness sets them)."""

    name: str
    holds: str
    parse: Callable[[str], object]
    default: object
    fix: str
    checked: bool = True

    def read(self, environ: Mapping[str, str] | None = None) -> object:
        """Its value in `environ` (os.environ): the default when unset or empty; InputError (exit 2) naming it when
        its text is none."""
        text = (os.environ if environ is None else environ).get(self.name, "")
        if not text.strip():
            return self.default
        try:
            return self.parse(text)
        except NotItsValue as why:
            shown = text if len(text) <= 80 else f"{text[:80]}… ({len(text)} characters)"
            raise InputError(f"{self.name}={visible(shown)!r} {why}: it holds {self.holds}",
                             hint=f"{self.fix}, or unset {self.name}") from None


SHARED_DECODE = Variable("KIT_SHARED_DECODE", "a switch: off decodes a master once per job, not once per clip",
                         switch, True, "set KIT_SHARED_DECODE=off (or 0, false, no) to turn it off, on to keep it")
TRAIN_KERNELS = Variable("KIT_TRAIN_KERNELS", "public (plain autograd) or auto (torch's private kernels where they "
                         "pass their self-check)", one_of("public", "auto"), "auto", "set KIT_TRAIN_KERNELS=public")
CACHE_DIR = Variable("KIT_CACHE_DIR", "the folder of the kit's cache", folder, None,
                     "set KIT_CACHE_DIR to a folder of your own (export KIT_CACHE_DIR=$HOME/ensemble-kit-cache)")
TREE_ROOT = Variable("KIT_TREE_ROOT", "a cluster's folder, which its tasks' out-dirs lie in (the kit sets it)",
                     folder, None, "leave it to the cluster command that sets it")
GROUP_SHARED = Variable("KIT_GROUP_SHARED", "a switch: on writes the out-dir for the group (--group-shared)", switch,
                        False, "set KIT_GROUP_SHARED=on (or 1, true, yes), or off")
TRAIN_RETRY = Variable("KIT_TRAIN_RETRY", "the command a failed training task's message gives (the kit's Slurm "
                       "scripts set it)", any_text, "", "leave it to the Slurm scripts that set it")
KILL_AT = Variable("KIT_KILL_AT", "the interruption harness's kill point", any_text, "", "unset it", checked=False)
KILL_SIGNAL = Variable("KIT_KILL_SIGNAL", "the interruption harness's signal name", any_text, "", "unset it",
                       checked=False)

VARIABLES: dict[str, Variable] = {v.name: v for v in (SHARED_DECODE, TRAIN_KERNELS, CACHE_DIR, TREE_ROOT, GROUP_SHARED,
                                                      TRAIN_RETRY, KILL_AT, KILL_SIGNAL)}


def check_variables(environ: Mapping[str, str] | None = None) -> None:
    """Each checked variable read once: InputError (exit 2, naming it) for the first that holds no value of it."""
    for variable in VARIABLES.values():
        if variable.checked:
            variable.read(environ)
