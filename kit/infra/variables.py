"""Every KIT_ variable of the kit, declared once here with its rule: what it holds, how its text is read and what a
value that is none is told. Every reader of one reads it through its declaration (`Variable.read`, or a flag's
option: kit.cli.flags), and the commands that run with them check each when they start
(kit.cli.guard: check_variables; kit.cli.environment.check_environment for the numbers), so a bad value is exit 2
naming the variable before any work, never taken for another (docs/collaborator.md, "Environment").
A switch reads `1`, `on`, `true`, `yes` as on and `0`, `off`, `false`, `no` as off, in any case; anything else is
refused, the switches of a flag (KIT_STRICT, KIT_GROUP_SHARED, KIT_JSON, ...) by the same rule and words. A flag's
variable is named from its option (`of_flag`: KIT_MAX_ABS_BIAS for --max-abs-bias); the numeric ones (`Number`) are
read by kit.infra.outside where they are used, by their names here. No other module spells a KIT_ name
(tests/unit/test_variables.py reads every string of the kit's source).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kit.errors import InputError
from kit.infra.visible import visible

PREFIX = "KIT_"
ON = ("1", "on", "true", "yes", "t", "y")  # the words click's BOOL took for a flag's variable before it read this rule
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
        value = self.given(environ)
        return self.default if value is None else value

    def given(self, environ: Mapping[str, str] | None = None) -> object | None:
        """Its value where it is set (not empty), None where it is not (a flag's option then takes its default)."""
        text = (os.environ if environ is None else environ).get(self.name, "")
        if not text.strip():
            return None
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
def of_flag(opt: str) -> str:
    """The variable of option `opt`: KIT_MAX_ABS_BIAS for --max-abs-bias."""
    return PREFIX + opt[2:].replace("-", "_").upper()


def flag_switch(opt: str, what: str = "") -> Variable:
    """The variable of a switch flag `opt` (on: `what` it does; unsaid: as `opt` given), read by `switch` and refused
    naming it, as every switch is."""
    name = of_flag(opt)
    return Variable(name, f"a switch: on {what} ({opt})" if what else f"a switch: on is {opt} given", switch, False,
                    f"set {name}=on (or 1, true, yes) for {opt}, or off")


GROUP_SHARED = flag_switch("--group-shared", "writes the out-dir for the group")
JSON = flag_switch("--json", "prints NDJSON events on stdout")
FFMPEG = Variable(of_flag("--ffmpeg"), "the ffmpeg the kit runs (--ffmpeg)", any_text, None,
                  "set it to an ffmpeg with libvmaf")
TRAIN_RETRY = Variable("KIT_TRAIN_RETRY", "the command a failed training task's message gives (the kit's Slurm "
                       "scripts set it)", any_text, "", "leave it to the Slurm scripts that set it")
KILL_AT = Variable("KIT_KILL_AT", "the interruption harness's kill point", any_text, "", "unset it", checked=False)
KILL_SIGNAL = Variable("KIT_KILL_SIGNAL", "the interruption harness's signal name", any_text, "", "unset it",
                       checked=False)

VARIABLES: dict[str, Variable] = {v.name: v for v in (SHARED_DECODE, TRAIN_KERNELS, CACHE_DIR, TREE_ROOT, GROUP_SHARED,
                                                      TRAIN_RETRY, KILL_AT, KILL_SIGNAL)}
# the variables of several commands' options, declared here because a layer below the CLI reads them too (the cache
# and merge -o: KIT_GROUP_SHARED; kit.media.ffmpeg: KIT_FFMPEG; the usage errors: KIT_JSON); each flag names its own
OF_FLAGS: dict[str, Variable] = {v.name: v for v in (GROUP_SHARED, JSON, FFMPEG)}


@dataclass(frozen=True)
class Number:
    """A KIT_ variable that holds a number: its name and what it holds, declared here; its bounds and its reading are
    its reader's (kit.infra.outside's, where it is used), checked as `run` and `step` start (kit.cli.environment)."""

    name: str
    holds: str


TIMEOUT_S = Number("KIT_TIMEOUT_S", "seconds that cap every single command's timeout")
JOB_THREADS = Number("KIT_JOB_THREADS", "libvmaf's threads per corpus job")
TRAIN_THREADS = Number("KIT_TRAIN_THREADS", "the training's threads")
INCUMBENT_TIMEOUT_S = Number("KIT_INCUMBENT_TIMEOUT_S", "seconds the incumbent's models may take to score the corpus")
ARRAY_TASK = Number("KIT_ARRAY_TASK", "K/N: this task's place in an array of N (the kit's cluster adapters set it)")
NUMBERS: dict[str, Number] = {v.name: v for v in (TIMEOUT_S, JOB_THREADS, TRAIN_THREADS, INCUMBENT_TIMEOUT_S,
                                                  ARRAY_TASK)}


def check_variables(environ: Mapping[str, str] | None = None) -> None:
    """Each checked variable read once: InputError (exit 2, naming it) for the first that holds no value of it."""
    for variable in VARIABLES.values():
        if variable.checked:
            variable.read(environ)
