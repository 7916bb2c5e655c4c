"""The rules a record's values keep and its flags, declared in its fields (`setting`), so that every door a value
comes through (a flag or its KIT_ variable: kit.cli.params; a `--settings` file or a run.json: kit.steps.settings)
asks the one rule. A rule says why a value breaks it, as a phrase read after the value (`is not a whole number from 1
to 10000`), and what it takes (`words`, for the hint); a flag's `Parser` turns its text into the typed value. A
setting also declares the steps whose outputs its value changes (`Changes`): those steps fingerprint it and alone may
read it (kit.steps.view.View), how 2.1.0's fingerprints held it (`Entry`), and in which a condition on another
setting decides whether it does (`When`).
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import itertools
import linecache
import math
import os
import re
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import KW_ONLY, dataclass
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Any, ClassVar

from kit.infra.clock import utc_seconds
from kit.infra.files import expanded
from kit.infra.limits import MAX_RECORD_COUNT, MAX_RECORD_FIGURE, MAX_RECORD_SECONDS
from kit.infra.outside import label, number, parse_float, parse_int, range_words, read_float, read_int, read_items
from kit.infra.records import Record, Refused
from kit.infra.variables import OF_FLAGS, Variable, flag_switch, of_flag
from kit.infra.versions import release
from kit.rundir import STEP_NAMES

RULES = "rules"  # the key of a field's rules in its metadata
FLAG = "flag"  # the key of a setting's flag in its metadata
CHANGES = "changes"  # the key of a setting's Changes in its metadata
UNWRITTEN = "unwritten"  # the key of the value a setting's fingerprint entry leaves out (`setting(unwritten=...)`)
OFF = "off"


class Rule(ABC):
    @abstractmethod
    def problem(self, value: Any) -> str | None:
        """Why `value` breaks the rule, read after it (`is not ...`); None when it keeps it."""

    @property
    @abstractmethod
    def words(self) -> str:
        """What the rule takes, as a hint says it: `a whole number from 1 to 10000`."""

    @property
    def value_words(self) -> str:
        """What a value must be when one is given (a flag's text that does not parse is refused with these)."""
        return self.words


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class Whole(Rule):
    """A whole number in lo..hi (hi None: no bound above)."""

    lo: int
    hi: int | None = None

    @property
    def words(self) -> str:
        return range_words(self.lo, self.hi, False, whole=True)

    def problem(self, value: Any) -> str | None:
        ok = isinstance(value, int) and not isinstance(value, bool) and self.lo <= value and \
            (self.hi is None or value <= self.hi)
        return None if ok else f"is not {self.words}"


@dataclass(frozen=True)
class Real(Rule):
    """A finite number in [lo, hi] (a bound None: none; lo_open, hi_open: the bound itself left out); `nan`: NaN (a
    record's null, a figure not worked out) taken too."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    nan: bool = False

    @property
    def words(self) -> str:
        if self.hi_open and self.hi is not None:
            low = "" if self.lo is None else f"{'above' if self.lo_open else 'of at least'} {self.lo:g} and "
            return f"a number {low}below {self.hi:g}"
        return range_words(self.lo, self.hi, self.lo_open, whole=False)

    def problem(self, value: Any) -> str | None:
        if self.nan and isinstance(value, float) and math.isnan(value):
            return None
        if not _number(value) or not math.isfinite(value):
            return f"is not {self.words}"
        low = self.lo is None or (value > self.lo if self.lo_open else value >= self.lo)
        high = self.hi is None or (value < self.hi if self.hi_open else value <= self.hi)
        return None if low and high else f"is not {self.words}"


@dataclass(frozen=True)
class Off(Rule):
    """None (off, a document's null) or a value `rule` takes; `refusal` the phrase for one it does not."""

    rule: Rule
    refusal: str = ""

    @property
    def words(self) -> str:
        return f"{self.rule.words}, or off (null in a file)"

    @property
    def value_words(self) -> str:
        return self.rule.words

    def problem(self, value: Any) -> str | None:
        why = None if value is None else self.rule.problem(value)
        return (self.refusal or why) if why is not None else None


def item_breach(values: Any, item: Rule) -> str | None:
    """`holds X, which <why>` for the first of `values` that breaks `item`; None when every one keeps it."""
    return next((f"holds {v!r}, which {why}" for v in values if (why := item.problem(v)) is not None), None)


@dataclass(frozen=True)
class Distinct(Rule):
    """A list of at least one value, each once, each keeping `item`."""

    item: Rule

    @property
    def words(self) -> str:
        return f"at least one value, each once, each {self.item.words}"

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, list | tuple):
            return f"is not a list of {self.words}"
        if not value:
            return "is empty"
        if len(set(value)) != len(value):
            return "repeats a value"
        return item_breach(value, self.item)


@dataclass(frozen=True)
class OneOf(Rule):
    choices: tuple[str, ...]

    @property
    def words(self) -> str:
        return "one of " + ", ".join(self.choices)

    def problem(self, value: Any) -> str | None:
        return None if value in self.choices else f"is not {self.words}"


@dataclass(frozen=True)
class Stamp(Rule):
    """A date and time in UTC as the kit writes its `*_utc` fields (kit.infra.clock.ISO_UTC) that is one (no month
    13); `empty`: "" (not recorded) taken too."""

    empty: bool = False

    @property
    def words(self) -> str:
        return "a date and time in UTC (YYYY-MM-DDTHH:MM:SSZ)" + (', or ""' if self.empty else "")

    def problem(self, value: Any) -> str | None:
        ok = (self.empty and value == "") or utc_seconds(value) is not None
        return None if ok else f"is not {self.words}"


@dataclass(frozen=True)
class Each(Rule):
    """A list's items, or a dict's values, each keeping `item`."""

    item: Rule

    @property
    def each(self) -> Rule:
        """The rule of each item (kit.infra.records says a breach at the item's key)."""
        return self.item

    @property
    def words(self) -> str:
        return f"each {self.item.words}"

    def problem(self, value: Any) -> str | None:
        values = value.values() if isinstance(value, Mapping) else value
        return item_breach(values, self.item) if isinstance(values, Iterable) else f"is not {self.words}"


@dataclass(frozen=True)
class Keys(Rule):
    """A dict's keys, each keeping `item` (a record's outputs by their paths: each one inside its folder)."""

    item: Rule

    @property
    def keys(self) -> Rule:
        """The rule of each key (kit.infra.records says a breach at that key)."""
        return self.item

    @property
    def words(self) -> str:
        return f"keys each {self.item.words}"

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, Mapping):
            return f"is not an object of {self.words}"
        return next((f"holds the key {k!r}, which {why}" for k in value if (why := self.item.problem(k)) is not None),
                    None)


@dataclass(frozen=True)
class Inside(Rule):
    """A path a record names below one of the kit's folders, relative to it as the kit writes it
    (`02_corpus/shard.parquet`, kit.rundir.RunDir.recorded): never absolute, never through `..`, never empty, so
    that what is read back stays in the out-dir; `elsewhere`: a whole path taken too (a file outside the out-dir that
    a record names by its absolute path: a --corpus). `name`: a file's name alone (a job's id), no folder in it."""

    elsewhere: bool = False
    name: bool = False

    @property
    def words(self) -> str:
        if self.name:
            return "a file's name (no folder, not . or ..)"
        return "a path inside the out-dir, relative to it" + (", or an absolute path" if self.elsewhere else "")

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, str) or not value or "\0" in value:
            return f"is not {self.words}"
        posix, windows = PurePosixPath(value), PureWindowsPath(value)
        if self.name:
            return None if value not in (".", "..") and len(posix.parts) == len(windows.parts) == 1 and \
                posix.name == value else f"is not {self.words}"
        whole = posix.is_absolute() or windows.is_absolute() or bool(windows.drive) or bool(windows.root)
        if whole:
            return None if self.elsewhere and Path(value).is_absolute() else f"is an absolute path, not {self.words}"
        if ".." in posix.parts or ".." in windows.parts:
            return f"leaves its folder (..), so it is not {self.words}"
        return None


INSIDE = Inside()  # a step's outputs, the bundle's ledger: by their paths inside the out-dir (or its step's folder)
RECORDED = Inside(elsewhere=True)  # a corpus a report names (kit.rundir.RunDir.recorded): this out-dir's, or elsewhere
FILE_NAME = Inside(name=True)  # a job's id: the name of its files in 02_corpus/jobs/


# the read rules (kit.infra.records.kept) most fields of the kit's own records keep
COUNT = Whole(0, MAX_RECORD_COUNT)  # rows, jobs, frames, bytes, an index
SECONDS = Real(0, MAX_RECORD_SECONDS)  # a duration in seconds
MS = Real(0, MAX_RECORD_SECONDS * 1000)  # a duration in milliseconds
STAMP = Stamp()  # a `*_utc` field always written
STAMP_OR_NONE = Stamp(empty=True)  # a `*_utc` field an older kit left empty
@dataclass(frozen=True)
class Correlation(Real):
    """A correlation as computed (PLCC, SROCC, KROCC): from -1 to 1, past either by rounding alone (np.corrcoef of
    equal ranks gives 1 + 2**-52), NaN where none is defined (kit.model.metrics.CORRELATION_RULE)."""

    lo: float | None = -1 - 1e-9
    hi: float | None = 1 + 1e-9
    nan: bool = True

    @property
    def words(self) -> str:
        return "a correlation from -1 to 1, or null where none is defined"


# the figures a verdict records (kit.verdict.document and the records it holds): NaN, a null in the file, is a figure
# not worked out (the correlation of a constant, a member that diverged, a ratio over an exact baseline)
CORRELATION_FIGURE = Correlation()
SHARE_FIGURE = Real(0, 1, nan=True)  # a share, a coverage, a level
POINTS = Real(0, MAX_RECORD_FIGURE, nan=True)  # a size of a miss (RMSE, an error, a width, VMAF points), a ratio
SIGNED_FIGURE = Real(-MAX_RECORD_FIGURE, MAX_RECORD_FIGURE, nan=True)  # a bias, a difference, a score, a threshold


@dataclass(frozen=True)
class Release(Rule):
    """A version of the kit as a kit writes it in its files (`2.3.0`, a pre-release's suffix after it): `v2.4.0`, "",
    `latest` are none (kit.infra.versions.release), and a file that names one no kit wrote."""

    words = "a version of ensemble-kit, written as 2.3.0"

    def problem(self, value: Any) -> str | None:
        return None if release(value) is not None else f"is not {self.words}"


KIT_VERSION = Release()  # a manifest's `kit_version`, where it names one (a hand-made manifest may leave it out)

# a box id as a kit writes it (kit.infra.host.safe_box_id: letters, digits, '-', '_', '.', at most 64, neither end
# '-' or '.'), in the regular expressions of re and of arrow's RE2 alike: what another box sends is one or refused
BOX_ID_PATTERN = r"^[A-Za-z0-9_](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9_])?$"
BOX_ID_WORDS = "a box id as a kit writes it (letters, digits, '-', '_', '.', at most 64, neither end '-' or '.')"


@dataclass(frozen=True)
class BoxId(Rule):
    """A box id another box sent (a manifest's `box_id`): BOX_ID_PATTERN's, or "" (not recorded)."""

    words = BOX_ID_WORDS

    def problem(self, value: Any) -> str | None:
        ok = isinstance(value, str) and (not value or re.fullmatch(BOX_ID_PATTERN, value) is not None)
        return None if ok else f"is not {self.words}"


BOX_ID = BoxId()


@dataclass(frozen=True)
class Absolute(Rule):
    """A path from the root (the flags make theirs so: a relative one in a file would depend on where it runs)."""

    words = "an absolute path"

    def problem(self, value: Any) -> str | None:
        return None if isinstance(value, PurePath) and value.is_absolute() else f"is not {self.words}"


@dataclass(frozen=True)
class Check(Rule):
    """A rule a layer above knows: `test` gives the phrase for a value that breaks it, or None."""

    test: Callable[[Any], str | None]
    says: str

    @property
    def words(self) -> str:
        return self.says

    def problem(self, value: Any) -> str | None:
        return self.test(value)


def text_check(rule: Callable[[str], str | None], says: str) -> Check:
    """A Check of a text value by `rule`, which says why a text is refused (the registry's license rules): `is
    refused: <why>`; a value that is no text is refused so too."""
    def problem(text: object) -> str | None:
        why = rule(text) if isinstance(text, str) else "it is not text"
        return f"is refused: {why}" if why is not None else None

    return Check(problem, says)


@dataclass(frozen=True)
class Broken:
    """The first rule a record breaks: its dotted key (`train.epochs`), the value, why, and what it takes."""

    key: str
    value: object
    problem: str
    words: str
    flag: Flag | None = None  # the setting's flag, where it has one

    def refused(self, where: str = "") -> Refused:
        return Refused(f"{where}.{self.key}" if where else self.key, self.value, self.problem, self.words)


class Parser(ABC):
    """How a flag's text (or its KIT_ variable's) becomes its setting's typed value; a text that is none is an
    InputError with the kit's message and hint. `numeric`: its text holds numbers, read by kit.infra.outside."""

    name: str = "text"  # click's name of the type (upper-case, the metavar of a flag that gives none)
    numeric: ClassVar[bool] = False
    takes_off: ClassVar[bool] = False  # `off` is a value of the flag (a setting that may be None)
    fallback: ClassVar[str] = "a value"  # what a value must be, for a flag of no setting
    items: str = ""  # a list's parser: a list of two items it takes (tests/unit/test_list_items.py leaves one out)

    @abstractmethod
    def parse(self, text: str, flag: str, words: str = "") -> Any:
        """The value of `text` given to `flag` (`words`: what a value must be, its setting's rule says it)."""

    def exempt(self, value: Any) -> bool:
        """Whether `value` is a word the flag takes beyond the setting's rules (--train-tasks auto, for `slurm`)."""
        return False


class Text(Parser):
    """The text as given (a name; the setting's rules check it)."""

    def __init__(self, name: str = "text") -> None:
        self.name = name

    def parse(self, text: str, flag: str, words: str = "") -> str:
        return text


class Int(Parser):
    """A whole number in ASCII digits, in lo..hi for a flag of no setting (--shards)."""

    name = "integer"
    numeric = True
    fallback = "a whole number"

    def __init__(self, lo: int | None = None, hi: int | None = None) -> None:
        self.lo, self.hi = lo, hi

    def parse(self, text: str, flag: str, words: str = "") -> int:
        if self.lo is not None or self.hi is not None:
            return parse_int(text, flag, self.lo, self.hi)
        return number(lambda t: read_int(t, signed=True), text, f"{label(flag, text)} is not {words}",
                      f"give {words}, in ASCII digits")


class Float(Parser):
    """A finite number in plain ASCII notation, in [lo, hi] for a flag of no setting (hi None: no bound above)."""

    name = "float"
    numeric = True
    fallback = "a finite number"

    def __init__(self, lo: float | None = None, hi: float | None = None) -> None:
        self.lo, self.hi = lo, hi

    def parse(self, text: str, flag: str, words: str = "") -> float:
        if self.lo is not None or self.hi is not None:
            return parse_float(text, flag, self.lo, self.hi)
        return number(read_float, text, f"{label(flag, text)} is not {words}", f"give {words}")


class IntList(Parser):
    """`19,25,31` -> (19, 25, 31): whole numbers, in the order given (the rest is the setting's rules')."""

    numeric = True

    def __init__(self, example: str, name: str = "list") -> None:
        self.example, self.name = example, name
        self.items = ",".join(example.split(",")[:2])

    def parse(self, text: str, flag: str, words: str = "") -> tuple[int, ...]:
        hint = f"e.g. {flag} {self.example}"
        items = read_items(text, flag, hint)
        return number(lambda _: tuple(read_int(v, signed=True) for v in items), text,
                      f"{label(flag, text)} is not a comma-separated list of whole numbers", hint)


class Limit(Parser):
    """A threshold `X|off`: a number, or off (None); above 0 by the setting's rule. `example`: the number its hint
    gives; `by_rule`: a text that is no number is refused with the setting's rule's words (a share from 0 to 1, a
    correlation from -1 to 1), where a limit above 0 says `a positive number`."""

    name = "limit"
    numeric = True
    takes_off = True

    def __init__(self, example: str = "5", by_rule: bool = False) -> None:
        self.example, self.by_rule = example, by_rule

    def parse(self, text: str, flag: str, words: str = "") -> float | None:
        if text.strip().lower() in (OFF, "none"):
            return None
        what = words if self.by_rule and words else "a positive number"
        return number(read_float, text, f"{label(flag, text)} is neither {what} nor off",
                      f"e.g. {flag} {self.example}, or {flag} off")


class AbsPath(Parser):
    """A path, made absolute where it is given (the steps and the cluster's jobs run elsewhere)."""

    name = "path"

    def parse(self, text: str, flag: str, words: str = "") -> Path:
        path = expanded(text, flag)
        # `..` after a linked folder is the link's parent to the kernel: resolved so, the folders checked are written
        return Path(os.path.realpath(path)) if ".." in path.parts else path.absolute()


class Choice(Text):
    """One of `choices` (none given: those of the setting's OneOf rule); the CLI lists them as click does."""

    def __init__(self, choices: tuple[str, ...] = ()) -> None:
        self.choices = choices


@dataclass(frozen=True)
class Flag:
    """A setting's flag, declared in its field (or a command's own flag: kit.cli.flags): the option, how its text is
    read (None: an on/off switch), its help, and its place in `run --help` (`rank`, lowest first). A setting's help is
    the docstring under its field (`flag_of`); `help` here only where it is worked out (from a list of the kit's) or
    for a command's own flag. `computed`: a default worked out at run time, named by the help. Its variable:
    KIT_MAX_ABS_BIAS for --max-abs-bias (`env`)."""

    opt: str  # --cqs
    parse: Parser | None
    help: str = ""
    _: KW_ONLY
    rank: int
    metavar: str | None = None
    computed: str = ""
    dest: str = ""  # the click parameter name when it is not the option's own (--from -> from_step)
    env: bool = True

    @property
    def name(self) -> str:
        return self.dest or self.opt[2:].replace("-", "_")

    @property
    def envvar(self) -> str | None:
        return of_flag(self.opt) if self.env else None

    @property
    def switch(self) -> Variable | None:
        """A switch's variable (kit.infra.variables: declared there where a layer below reads it too, else made from
        the flag), which its option reads by the one rule of every switch; None for a flag that takes a value (its
        parser reads its variable's text as the flag's) or has no variable."""
        if self.parse is not None or self.envvar is None:
            return None
        return OF_FLAGS.get(self.envvar) or flag_switch(self.opt)


@dataclass(frozen=True)
class Entry:
    """How the fingerprints of kit 2.1.0 held a setting in a step (`Changes.entries`), written the same so that its
    out-dirs resume: under `key` (empty: the setting's own name), at its default too (`always`; else only off it), as
    `form` makes it of the step's settings (None: the value as its JSON has it). Settings held in one entry
    (`scalers`: --downscaler and --upscaler) each name the same Entry. `models`: held only where the step makes models
    (a bundle of a box that makes the corpus alone exports none, and its fingerprint holds no such setting)."""

    key: str = ""
    form: Callable[[Any], object] | None = None
    always: bool = True
    models: bool = False


@dataclass(frozen=True)
class Through:
    """A setting whose value 2.1.0's fingerprint of a step held through the step's inputs alone (`why`: which), and
    that a later kit holds so too (the clips a --ref-dir holds, the corpus's identity): no entry of its own."""

    why: str


@dataclass(frozen=True)
class InRecord:
    """A setting held, as 2.1.0 held it, in the entry of the record that holds it (LOSO's `train`: TrainConfig's JSON
    whole), at its default too; a field of that record without one joins the entry only off its default.
    `models`: as Entry's."""

    models: bool = False


@dataclass(frozen=True)
class When:
    """A setting a step's outputs depend on only while another setting (`setting`, by its dotted name) holds one of
    `values`: the corpus step encodes the consumer's windows, at the CRFs vmaf-tune queries, only under
    `--consumer-samplings encoded`. While it does, the step's fingerprint holds the setting by its dotted name, off
    its default alone, and the step may read it; otherwise neither (kit.steps.view.reaches), so changing it then makes
    the step's outputs no older."""

    setting: str
    values: tuple[object, ...]

    def holds(self, settings: object) -> bool:
        """Whether the condition holds of `settings` (the whole record of the run's settings)."""
        value = settings
        for name in self.setting.split("."):
            value = getattr(value, name)
        return value in self.values


Held = Entry | Through | InRecord | When


@dataclass(frozen=True)
class Changes:
    """The steps whose outputs a setting's value changes, declared in its field (`setting(..., changes=...)`): each of
    them fingerprints the value and may read it, and no other step may (kit.steps.view.View refuses the read).
    `reads`: a step that reads the value though none of its outputs depends on it, and why (the tarball names the
    clips `[ref-dir]/NAME` wherever the folder lies). `none`: why the value changes no step's output at all (a
    thread count, where the files go): every step may read it, and no fingerprint holds it. `entries`: how the
    fingerprints of 2.1.0 held the value in a step of `steps` (Entry, Through, InRecord), or the condition on another
    setting under which alone that step's outputs depend on it (When); in a step it does not name,
    the value joins the fingerprint by its dotted name, off its default alone (kit.steps.view.settings_fingerprint)."""

    steps: tuple[str, ...] = ()
    reads: Mapping[str, str] = dataclasses.field(default_factory=dict)
    none: str = ""
    entries: Mapping[str, Held] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        # a declaration is read when the record's class is made: a misspelt step fails at import, naming it
        named = (*self.steps, *self.reads)
        if unknown := [step for step in named if step not in STEP_NAMES]:
            raise ValueError(f"Changes names {unknown}, which are not steps ({', '.join(STEP_NAMES)})")
        if bool(self.steps) == bool(self.none) or set(self.steps) & set(self.reads) or (self.none and self.reads):
            raise ValueError("Changes takes the steps a value changes (and those that read it for nothing they "
                             "write), or why it changes none: one of the two")
        if stray := sorted(set(self.entries) - set(self.steps)):
            raise ValueError(f"Changes gives entries for {stray}, whose outputs the value does not change")

    def readable_by(self, step: str) -> bool:
        return bool(self.none) or step in self.steps or step in self.reads


def changes(*steps: str, reads: Mapping[str, str] | None = None, entries: Mapping[str, Held] | None = None) -> Changes:
    """A setting whose value changes the outputs of `steps` (in run order); `reads`: step -> why it reads the value
    though its outputs do not depend on it; `entries`: step -> how 2.1.0's fingerprint of it held the value."""
    return Changes(tuple(steps), dict(reads or {}), entries=dict(entries or {}))


def changes_nothing(why: str) -> Changes:
    """A setting whose value changes no step's outputs, and why (every step may read it; no fingerprint holds it)."""
    return Changes(none=why)


def setting(default: Any = dataclasses.MISSING, *rules: Rule, flag: Flag | None = None,
            changes: Changes | None = None, unwritten: Any = dataclasses.MISSING) -> Any:
    """A record's field: its default (a class: a fresh one for each record), the rules its value keeps, its flag and
    the steps its value changes. A field that holds a record of settings (`RunSettings.train`) declares none: the
    fields of that record each declare theirs. Any other field without `changes` is refused here, as its record's
    class is made (TypeError): a setting no step has declared would be read by none, or fingerprinted by none.
    `unwritten`: the value a step's fingerprint leaves out (unwritten_of), where it is not the default: the default
    an older kit had, so an out-dir it made at its default is not taken for one made at this kit's."""
    if (changes is None) != settings_record(default):
        raise TypeError("a setting declares the steps whose outputs it changes (changes=changes(...), or "
                        "changes_nothing(why)); a field holding a record of settings declares none"
                        if changes is None else "a field holding a record of settings declares no changes: its "
                        "fields each declare theirs")
    metadata = {RULES: rules, FLAG: flag, CHANGES: changes,
                **({} if unwritten is dataclasses.MISSING else {UNWRITTEN: unwritten})}
    if isinstance(default, type):
        return dataclasses.field(default_factory=default, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def unwritten_of(f: dataclasses.Field[Any]) -> Any:
    """The value of a setting a step's fingerprint leaves out: its default, unless it declared another (`setting`)."""
    if UNWRITTEN in f.metadata:
        return f.metadata[UNWRITTEN]
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def changes_of(f: dataclasses.Field[Any]) -> Changes | None:
    """The Changes a setting's field declared; None for a field holding a record of settings, or a plain field."""
    found = f.metadata.get(CHANGES)
    return found if isinstance(found, Changes) else None


def settings_record(cls: object) -> bool:
    """Whether `cls` is a record class whose fields are settings (TrainConfig; a CqGrid is one setting's value)."""
    return isinstance(cls, type) and issubclass(cls, Record) and any(CHANGES in f.metadata
                                                                      for f in dataclasses.fields(cls))


def holds_settings(f: dataclasses.Field[Any]) -> type[Record] | None:
    """The record class a field holds whose fields are settings (`RunSettings.train`: TrainConfig), else None."""
    held = f.default_factory
    return held if isinstance(held, type) and settings_record(held) else None


def field_rules(f: dataclasses.Field[Any]) -> tuple[Rule, ...]:
    """The rules a field was declared with (`setting`); none for a plain field."""
    return tuple(f.metadata.get(RULES, ()))


def broken(record: Record, prefix: str = "") -> Broken | None:
    """The first rule `record` breaks (each field's, the records it holds at their place), or None."""
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        for rule in field_rules(f):
            if (why := rule.problem(value)) is not None:
                return Broken(prefix + f.name, value, why, rule.words, f.metadata.get(FLAG))
        if isinstance(value, Record) and (found := broken(value, f"{prefix}{f.name}.")) is not None:
            return found
    return None


def flags_of(cls: type[Record], at: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Flag, tuple[Rule, ...]]]:
    """Each flag declared in record class `cls` and the records it holds, its help given: field path, flag, rules."""
    for f in dataclasses.fields(cls):
        if f.metadata.get(FLAG) is not None:
            yield (*at, f.name), flag_of(cls, f.name), field_rules(f)
        if (held := holds_settings(f)) is not None:
            yield from flags_of(held, (*at, f.name))


def flag_of(cls: type[Record], name: str) -> Flag:
    """The flag of the field `name` of record class `cls` (`--max-abs-bias`: GateThresholds' max_abs_bias), its help
    the docstring under the field (or the one its Flag was given where it is worked out)."""
    flag = next(f for f in dataclasses.fields(cls) if f.name == name).metadata[FLAG]
    assert isinstance(flag, Flag), name
    doc = field_docs(cls.__module__, cls.__name__).get(name, "")
    if bool(doc) == bool(flag.help):
        raise TypeError(f"{cls.__name__}.{name}: a setting's help is the docstring under its field, or the help its "
                        "Flag is given where it is worked out; one of the two")
    return dataclasses.replace(flag, help=doc) if doc else flag


@functools.cache
def field_docs(module_name: str, class_name: str) -> Mapping[str, str]:
    """The docstring under each field of a class (a string on the lines after it, as Sphinx reads one), read from its
    module's source, each one paragraph (its lines joined by a space)."""
    module = sys.modules[module_name]
    if not (lines := linecache.getlines(str(module.__file__), module.__dict__)):
        raise TypeError(f"{module_name}: its source, which holds its settings' help, cannot be read")
    body = next(n.body for n in ast.walk(ast.parse("".join(lines))) if isinstance(n, ast.ClassDef)
                and n.name == class_name)
    return {field.target.id: " ".join(doc.value.value.split()) for field, doc in itertools.pairwise(body)
            if isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name) and isinstance(doc, ast.Expr)
            and isinstance(doc.value, ast.Constant) and isinstance(doc.value.value, str)}
