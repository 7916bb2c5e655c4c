"""A setting's declaration (`setting`: its default, the rules its value keeps, its flag, and the steps whose outputs
its value changes) and what reads the declarations of a record of settings: its flags (`flags_of`, `flag_of`), the
first rule it breaks (`broken`), and what its value changes (`Changes`): those steps fingerprint it and alone may
read it (kit.steps.view.View), how 2.1.0's fingerprints held it (`Entry`, `Through`, `InRecord`), and in which a
condition on another setting decides whether it does (`When`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kit.infra.flags import Flag
from kit.infra.records import Record, Refused
from kit.infra.rules import Rule
from kit.rundir import STEP_NAMES

_RULES = "rules"  # the key of a field's rules in its metadata
_FLAG = "flag"  # the key of a setting's flag in its metadata
_CHANGES = "changes"  # the key of a setting's Changes in its metadata
UNWRITTEN = "unwritten"  # the key of the value a setting's fingerprint entry leaves out (`setting(unwritten=...)`)


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



_Held = Entry | Through | InRecord | When



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
    entries: Mapping[str, _Held] = dataclasses.field(default_factory=dict)

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



def changes(*steps: str, reads: Mapping[str, str] | None = None, entries: Mapping[str, _Held] | None = None) -> Changes:
    """A setting whose value changes the outputs of `steps` (in run order); `reads`: step -> why it reads the value
    though its outputs do not depend on it; `entries`: step -> how 2.1.0's fingerprint of it held the value."""
    return Changes(tuple(steps), dict(reads or {}), entries=dict(entries or {}))



def changes_nothing(why: str) -> Changes:
    """A setting whose value changes no step's outputs, and why (every step may read it; no fingerprint holds it)."""
    return Changes(none=why)



def setting(default: Any = dataclasses.MISSING, *rules: Rule, flag: Flag | None = None,
            changes: Changes | None = None, unwritten: Any = dataclasses.MISSING) -> Any:
    """A record's field: its default (a class: a fresh one for each record), the rules its value keeps, its flag (its
    help in it) and the steps its value changes. A field that holds a record of settings (`RunSettings.train`)
    declares none: the fields of that record each declare theirs. Any other field without `changes` is refused here,
    as its record's class is made (TypeError): a setting no step has declared would be read by none, or fingerprinted
    by none; so is a flag without its help.
    `unwritten`: the value a step's fingerprint leaves out (unwritten_of), where it is not the default: the default
    an older kit had, so an out-dir it made at its default is not taken for one made at this kit's."""
    if flag is not None and not flag.help.strip():
        raise TypeError(f"{flag.opt}: a setting's flag says its help (Flag(..., help=...)), which --help shows")
    if (changes is None) != _settings_record(default):
        raise TypeError("a setting declares the steps whose outputs it changes (changes=changes(...), or "
                        "changes_nothing(why)); a field holding a record of settings declares none"
                        if changes is None else "a field holding a record of settings declares no changes: its "
                        "fields each declare theirs")
    metadata = {_RULES: rules, _FLAG: flag, _CHANGES: changes,
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
    found = f.metadata.get(_CHANGES)
    return found if isinstance(found, Changes) else None



def _settings_record(cls: object) -> bool:
    """Whether `cls` is a record class whose fields are settings (TrainConfig; a CqGrid is one setting's value)."""
    return isinstance(cls, type) and issubclass(cls, Record) and any(_CHANGES in f.metadata
                                                                      for f in dataclasses.fields(cls))



def holds_settings(f: dataclasses.Field[Any]) -> type[Record] | None:
    """The record class a field holds whose fields are settings (`RunSettings.train`: TrainConfig), else None."""
    held = f.default_factory
    return held if isinstance(held, type) and _settings_record(held) else None



def field_rules(f: dataclasses.Field[Any]) -> tuple[Rule, ...]:
    """The rules a field was declared with (`setting`); none for a plain field."""
    return tuple(f.metadata.get(_RULES, ()))



def broken(record: Record, prefix: str = "") -> Broken | None:
    """The first rule `record` breaks (each field's, the records it holds at their place), or None."""
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        for rule in field_rules(f):
            if (why := rule.problem(value)) is not None:
                return Broken(prefix + f.name, value, why, rule.words, f.metadata.get(_FLAG))
        if isinstance(value, Record) and (found := broken(value, f"{prefix}{f.name}.")) is not None:
            return found
    return None



def flags_of(cls: type[Record], at: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Flag, tuple[Rule, ...]]]:
    """Each flag declared in record class `cls` and the records it holds, its help given: field path, flag, rules."""
    for f in dataclasses.fields(cls):
        if f.metadata.get(_FLAG) is not None:
            yield (*at, f.name), flag_of(cls, f.name), field_rules(f)
        if (held := holds_settings(f)) is not None:
            yield from flags_of(held, (*at, f.name))



def flag_of(cls: type[Record], name: str) -> Flag:
    """The flag of the field `name` of record class `cls` (`--max-abs-bias`: GateThresholds' max_abs_bias)."""
    flag = next(f for f in dataclasses.fields(cls) if f.name == name).metadata[_FLAG]
    assert isinstance(flag, Flag), name
    return flag
