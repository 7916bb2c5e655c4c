"""The rules a record's values keep (a setting's declared in its field: kit.infra.changes.setting; a record field's
read back: kit.infra.records.keep), so that every door a value comes through (a flag or its KIT_ variable:
kit.cli.params; a `--settings` file or a run.json: kit.steps.settings; a file read back: kit.infra.records) asks the
one rule. A rule says why a value breaks it, as a phrase read after the value (`is not a whole number from 1 to
10000`), and what it takes (`words`, for the hint).
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Any

from kit.infra.clock import utc_seconds
from kit.infra.limits import MAX_RECORD_COUNT, MAX_RECORD_FIGURE, MAX_RECORD_SECONDS
from kit.infra.outside import range_words
from kit.infra.versions import release

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
class _Correlation(Real):
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
CORRELATION_FIGURE = _Correlation()
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
# '-' or '.'), in the regular expressions of re and of arrow's RE2 alike: what another box sends is one or refused.
# The one source of the form: the catalogue's box id (kit.bundle.values.BOX) is BOX_ID_FORM whole
BOX_ID_FORM = r"[A-Za-z0-9_](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9_])?"
BOX_ID_PATTERN = f"^{BOX_ID_FORM}$"
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
