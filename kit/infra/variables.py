"""Every KIT_ variable of the kit, declared once here with its rule: what it holds, how its text is read and what a
value that is none is told. Every reader of one reads it through its declaration (`Variable.read`, `Number.read`, or
a flag's option: kit.cli.flags), and every command checks each when it starts (kit.cli.guard: check_variables), so a
bad value is exit 2 naming the variable before any work, never taken for another (docs/collaborator.md,
"Environment"). A switch reads `1`, `on`, `true`, `yes` as on and `0`, `off`, `false`, `no` as off, in any case;
anything else is refused, the switches of a flag (KIT_STRICT, KIT_GROUP_SHARED, KIT_JSON, ...) by the same rule and
words. A flag's variable is named from its option (`of_flag`: KIT_MAX_ABS_BIAS for --max-abs-bias); a numeric one
(`Number`) carries its kind, bounds, default and hint, and its readers (kit.infra.proc, kit.corpus.scheduler,
kit.model.threads and .incumbent, kit.infra.arrays) hold no bound of their own. No other module spells a KIT_ name
(tests/unit/test_variables.py reads every string of the kit's source).
"""

from __future__ import annotations

import difflib
import os
import unicodedata
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit.errors import InputError
from kit.infra.files import no_home
from kit.infra.numbers import label, number, range_words, read_float, read_int, read_pair
from kit.infra.visible import ascii_spelling, visible

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
    try:
        path = Path(text).expanduser()
    except RuntimeError:  # HOME unset and the user unknown to the password database
        raise NotItsValue(no_home()) from None
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
MEMORY_CHECK = Variable("KIT_MEMORY_CHECK", "a switch: off runs a step (LOSO, the verdict, the bundle) or a merge "
                        "where its estimated peak memory is more than the box's (said, not refused)", switch, True,
                        "set KIT_MEMORY_CHECK=off (or 0, false, no) to run anyway, on to keep the check")
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

VARIABLES: dict[str, Variable] = {v.name: v for v in (SHARED_DECODE, MEMORY_CHECK, TRAIN_KERNELS, CACHE_DIR, TREE_ROOT,
                                                      GROUP_SHARED, TRAIN_RETRY, KILL_AT, KILL_SIGNAL)}
# the variables of several commands' options, declared here because a layer below the CLI reads them too (the cache
# and merge -o: KIT_GROUP_SHARED; kit.media.ffmpeg: KIT_FFMPEG; the usage errors: KIT_JSON); each flag names its own
OF_FLAGS: dict[str, Variable] = {v.name: v for v in (GROUP_SHARED, JSON, FFMPEG)}


WHOLE, DECIMAL, PAIR = "a whole number", "a number", "K/N"  # a Number's kinds
READ_KIND: dict[str, Callable[[str], Any]] = {WHOLE: read_int, DECIMAL: read_float, PAIR: read_pair}


@dataclass(frozen=True)
class Number:
    """A KIT_ variable that holds a number, with its whole rule: what it holds; its kind (WHOLE, DECIMAL, or PAIR: K/N
    with lo <= K <= N); its bounds (`hi_cores`: this box's cores); its value when unset or empty (None: the kit
    decides), which 0 means too where `zero_is_unset`; what its refusal says it takes (`takes`, `{hi}` its upper
    bound; else the bounds' words, kit.infra.numbers.range_words) and its hint. Every reader reads it by `read`, and
    every command checks it as it starts (check_variables), so its bounds are written here only."""

    name: str
    holds: str
    kind: str
    lo: float | None
    hi: float | None
    fix: str
    default: float | None = None
    lo_open: bool = False
    zero_is_unset: bool = False
    hi_cores: bool = False
    takes: str = ""

    def read(self, environ: Mapping[str, str] | None = None, *, cores: int | None = None, asked_by: str = "") -> Any:
        """Its value in `environ` (os.environ): the default when unset, empty or (`zero_is_unset`) 0; InputError
        (exit 2) naming it, saying what it takes and the hint, when its text is none. `cores`: the bound `hi_cores`
        stands for (this box's: core_count); `asked_by`: the flag whose `auto` reads it (`--shard auto: KIT_…`)."""
        text = (os.environ if environ is None else environ).get(self.name, "")
        if not text.strip(" \t\r\n"):
            return self.default
        hi = (core_count() if cores is None else cores) if self.hi_cores else self.hi
        takes = self.takes.format(hi=hi) if self.takes else range_words(self.lo, hi, self.lo_open, self.kind == WHOLE)
        refused = f"{asked_by} auto: " * bool(asked_by) + f"{label(self.name, text)} is not {takes}"
        value = number(READ_KIND[self.kind], text, refused, self.fix)
        if self.zero_is_unset and value == 0:  # unset, whatever the bounds of a value
            return self.default
        if not self.within(value[0] if self.kind == PAIR else value, value[1] if self.kind == PAIR else hi):
            raise InputError(refused, hint=self.fix)
        return value

    def within(self, value: float, hi: float | None) -> bool:
        above = self.lo is None or (value > self.lo if self.lo_open else value >= self.lo)
        return above and (hi is None or value <= hi)


def core_count() -> int:
    """The cores this process may run on (its affinity where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


INCUMBENT_DEFAULT_S = 600.0  # KIT_INCUMBENT_TIMEOUT_S unset
KIT_TRAIN_THREADS_AT_MOST = 2  # training workers the kit chooses when KIT_TRAIN_THREADS is unset (bench/README.md)
# the least cap a command can run under: ffmpeg's own start (its libraries loaded, its input opened) takes a tenth of a
# second on a quiet box and several on a loaded one, and the kit reads a child's time twice a second
LEAST_CAP_S = 1.0
TIMEOUT_S = Number("KIT_TIMEOUT_S", "seconds that cap every single command's timeout", DECIMAL, LEAST_CAP_S, None,
                   "unset KIT_TIMEOUT_S (no cap), or give the seconds a single command may run, e.g. 600",
                   zero_is_unset=True, takes=f"0 (no cap) or a number of seconds of at least {LEAST_CAP_S:g}: no "
                   "command the kit runs ends sooner (ffmpeg's own start takes up to a second on a loaded box)")
JOB_THREADS = Number("KIT_JOB_THREADS", "libvmaf's threads per corpus job", WHOLE, 0, 1024,
                     "unset KIT_JOB_THREADS (the kit shares the cores among the jobs), or give libvmaf's threads per "
                     "job, e.g. KIT_JOB_THREADS=2", zero_is_unset=True)
TRAIN_THREADS = Number("KIT_TRAIN_THREADS", "the training's threads", WHOLE, 1, None,
                       f"unset KIT_TRAIN_THREADS to let the kit choose (at most {KIT_TRAIN_THREADS_AT_MOST}), or "
                       "set e.g. KIT_TRAIN_THREADS=1",
                       hi_cores=True, takes="a thread count from 1 to {hi} (this box's cores)")
INCUMBENT_TIMEOUT_S = Number("KIT_INCUMBENT_TIMEOUT_S", "seconds the incumbent's models may take to score the corpus",
                             DECIMAL, 0, None, f"unset it (the default is {INCUMBENT_DEFAULT_S:.0f} s), or give "
                             "seconds, e.g. 1800", default=INCUMBENT_DEFAULT_S, lo_open=True)
ARRAY_TASK = Number("KIT_ARRAY_TASK", "K/N: this task's place in an array of N (the kit's cluster adapters set it)",
                    PAIR, 1, None, "unset KIT_ARRAY_TASK (the kit's cluster adapters set it), or give --shard K/N "
                    "(step loso: --train-task K/N)", takes="K/N with 1 <= K <= N")
NUMBERS: dict[str, Number] = {v.name: v for v in (TIMEOUT_S, JOB_THREADS, TRAIN_THREADS, INCUMBENT_TIMEOUT_S,
                                                  ARRAY_TASK)}


# The letters of other scripts that are drawn as a Latin letter of a KIT_ name (Greek and Cyrillic capitals and smalls);
# what Unicode's compatibility decomposition makes Latin already (full-width letters, the Kelvin sign, a letter with
# a dot or an accent: `İ` is I and a dot above) needs no entry here
LOOK_ALIKES = str.maketrans("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ" "αβεικνορτυχ" "АВЕКМНОРСТУХІЈЅԚԜ" "аеорсухіјѕһԁԛԝ" "ıȷ",
                            "ABEZHIKMNOPTYX" "abeiknoptux" "ABEKMHOPCTYXIJSQW" "aeopcyxijshdqw" "ij")


def as_read(name: str) -> str:
    """The KIT_ name a variable's name is drawn as: in capitals, each accent or mark dropped, each letter of another
    script that looks Latin made the Latin one (`kit_seeds`, `ΚIT_SEEDS` with a Greek K, `KİT_SEEDS`: KIT_SEEDS)."""
    bare = "".join(ch for ch in unicodedata.normalize("NFKD", name) if not unicodedata.combining(ch))
    return bare.translate(LOOK_ALIKES).upper()


def spelt_apart(name: str, meant: str) -> str:
    """How `name` differs from the name `meant` it is drawn as: its letters of other scripts named, or its case."""
    others = [f"{ascii_spelling(ch)} is {unicodedata.name(ch, 'a character with no name')}"
              for ch in dict.fromkeys(name) if not ch.isascii()]
    return "; ".join(others) if others else f"the kit reads its names as spelt, in capitals: {meant}"


def unknown_variable_warnings(known: Collection[str], environ: Mapping[str, str] | None = None) -> list[str]:
    """A line for each KIT_ name set (not empty) in `environ` that is none of `known` (every variable of the kit: its
    own and its options'): the kit reads no such variable, so a misspelling (KIT_SEEDS
    spelt without its S) would change nothing without a word. Each names the nearest known name, where one is near. A
    name drawn as a KIT_ name but spelt otherwise (another case, a letter of another script that looks Latin:
    as_read) is said where it nears one, its spelling shown in ASCII alone (escapes), and how it differs."""
    env = os.environ if environ is None else environ
    bodies = sorted(k[len(PREFIX):] for k in known if k.startswith(PREFIX))
    lines = []
    for name in sorted(n for n in env if as_read(n).startswith(PREFIX) and env[n].strip() and n not in known):
        # the words after KIT_, which every name shares: KIT_ZZZQ is near no variable of the kit
        read = as_read(name)
        near = [read[len(PREFIX):]] if read in known else \
            difflib.get_close_matches(read[len(PREFIX):], bodies, n=1, cutoff=0.6)
        if near:
            said = f": did you mean {PREFIX}{near[0]}?" + (f" ({spelt_apart(name, PREFIX + near[0])})"
                                                          if name != read else "")
        elif name.startswith(PREFIX):
            said = ""
        else:  # another program's name in small letters (kit_home) is not the kit's to judge
            continue
        lines.append(f"{ascii_spelling(name)} is set, but the kit reads no variable of that name, so it changes "
                     f"nothing{said}")
    return lines


def check_variables(environ: Mapping[str, str] | None = None) -> None:
    """Each checked variable and every Number read once: InputError (exit 2, naming it) for the first that holds no
    value of it."""
    for variable in VARIABLES.values():
        if variable.checked:
            variable.read(environ)
    for numeric in NUMBERS.values():
        numeric.read(environ)
