"""The rules a record's values keep, declared in its fields (`setting`: a field's default and its rules, in its
metadata), so that every door a value comes through asks the one rule: a run's settings from a flag or its KIT_
variable (kit.cli.params, once the text is parsed), from a `--settings` file or from a run.json read back
(kit.steps.settings).

A rule says why a value breaks it, as a phrase read after the value (`is not a whole number from 1 to 10000`,
`repeats a value`), and what it takes (`words`, for the hint). `broken` walks a record and the records it holds,
field by field, then the rules across fields (`Across`), and gives the first breach with its dotted key.

No knowledge of what the values mean: ranges, lists, choices, paths, and a check a layer above supplies.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from kit.infra.outside import range_words
from kit.infra.records import Record, Refused

RULES = "rules"  # the key of a field's rules in its metadata


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
    """A finite number in [lo, hi] (either bound None: none; lo_open, hi_open: the bound itself left out)."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    @property
    def words(self) -> str:
        if self.hi_open and self.hi is not None:
            low = "" if self.lo is None else f"{'above' if self.lo_open else 'of at least'} {self.lo:g} and "
            return f"a number {low}below {self.hi:g}"
        return range_words(self.lo, self.hi, self.lo_open, whole=False)

    def problem(self, value: Any) -> str | None:
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
        if value is None:
            return None
        why = self.rule.problem(value)
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
        values = list(value) if isinstance(value, list | tuple) else None
        if values is None:
            return f"is not a list of {self.words}"
        if not values:
            return "is empty"
        if len(set(values)) != len(values):
            return "repeats a value"
        return item_breach(values, self.item)


@dataclass(frozen=True)
class Ordered(Rule):
    """MIN,MAX: two values with MIN < MAX, each keeping `item`."""

    item: Rule

    @property
    def words(self) -> str:
        return f"MIN,MAX with MIN < MAX, each {self.item.words}"

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, list | tuple) or len(value) != 2:
            return "is not MIN,MAX with MIN < MAX"
        if (breach := item_breach(value, self.item)) is not None:
            return breach
        return None if value[0] < value[1] else "is not MIN,MAX with MIN < MAX"


@dataclass(frozen=True)
class OneOf(Rule):
    choices: tuple[str, ...]

    @property
    def words(self) -> str:
        return "one of " + ", ".join(self.choices)

    def problem(self, value: Any) -> str | None:
        return None if value in self.choices else f"is not {self.words}"


@dataclass(frozen=True)
class Absolute(Rule):
    """A path from the root (the flags make theirs so: a relative one in a file would depend on where it runs)."""

    @property
    def words(self) -> str:
        return "an absolute path"

    def problem(self, value: Any) -> str | None:
        return None if isinstance(value, PurePath) and value.is_absolute() else "is not an absolute path"


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


@dataclass(frozen=True)
class Across(Check):
    """A rule over several fields of one record, said under the field it is declared on: `test` reads the record.
    A value alone cannot break it (a flag's is checked with the others, once they are all known)."""

    def problem(self, value: Any) -> str | None:
        return None


@dataclass(frozen=True)
class Broken:
    """The first rule a record breaks: its dotted key (`train.epochs`), the value, why, and what it takes."""

    key: str
    value: object
    problem: str
    words: str

    def refused(self, where: str = "") -> Refused:
        return Refused(f"{where}.{self.key}" if where else self.key, self.value, self.problem, self.words)


def setting(default: Any = dataclasses.MISSING, *rules: Rule) -> Any:
    """A record's field: its default and the rules its value keeps, declared once, beside it; every door checks them
    (`broken`, `rules_at`). A class as the default (dict, a record) is a fresh one of it for each record."""
    if isinstance(default, type):
        return dataclasses.field(default_factory=default, metadata={RULES: rules})
    return dataclasses.field(default=default, metadata={RULES: rules})


def field_rules(f: dataclasses.Field[Any]) -> tuple[Rule, ...]:
    """The rules a field was declared with (`setting`); none for a plain field."""
    return tuple(f.metadata.get(RULES, ()))


def broken(record: Record, prefix: str = "") -> Broken | None:
    """The first rule `record` breaks (each field's in field order, the records it holds walked at their place,
    then the rules across fields), or None."""
    fields = dataclasses.fields(record)
    for f in fields:
        value = getattr(record, f.name)
        for rule in field_rules(f):
            if not isinstance(rule, Across) and (why := rule.problem(value)) is not None:
                return Broken(prefix + f.name, value, why, rule.words)
        if isinstance(value, Record) and (found := broken(value, f"{prefix}{f.name}.")) is not None:
            return found
    for f in fields:
        for rule in field_rules(f):
            if isinstance(rule, Across) and (why := rule.test(record)) is not None:
                return Broken(prefix + f.name, getattr(record, f.name), why, rule.words)
    return None


@functools.cache
def rules_at(cls: type[Record], path: str) -> tuple[Rule, ...]:
    """The rules of the field at dotted `path` of record class `cls` (its nested records' by their declared types)
    that a value alone can break (not Across)."""
    head, _, rest = path.partition(".")
    if rest:
        return rules_at(typing.get_type_hints(cls)[head], rest)
    f = next(f for f in dataclasses.fields(cls) if f.name == head)
    return tuple(rule for rule in field_rules(f) if not isinstance(rule, Across))
