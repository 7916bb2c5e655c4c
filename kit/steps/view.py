"""What a step sees of the settings and what its fingerprint holds of them, both made from the settings' declarations
(kit.infra.changes.Changes, in each field of kit.steps.settings.RunSettings and the records it holds): a step reads its
settings through a View, which hands it a field only where the field's `changes` names the step (or the field changes
no step) and refuses any other at the read (Undeclared, a bug); its fingerprint (`settings_fingerprint`) holds every
field whose `changes` names it, so a step cannot read a setting that its fingerprint misses. How 2.1.0's fingerprints
held a setting (`Changes.entries`) is declared beside it, so the out-dirs of 2.1.0 and later resume as they were."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from pathlib import PurePath
from typing import Any, TypeVar, cast

from kit.infra.changes import Entry, InRecord, Through, When, changes_of, holds_settings, unwritten_of
from kit.infra.records import Record

R = TypeVar("R", bound=Record)


class Undeclared(AttributeError):
    """A step read a setting whose field does not name it (kit.infra.changes.Changes): a bug of the kit, said as an
    internal error where it is read, never a value a resume would keep unfingerprinted."""


_FIELDS: dict[type, Mapping[str, dataclasses.Field[Any]]] = {}


def _fields(cls: type[Record]) -> Mapping[str, dataclasses.Field[Any]]:
    """A record class's fields by name, made once per class (a View asks on every read)."""
    if (found := _FIELDS.get(cls)) is None:
        found = _FIELDS[cls] = {f.name: f for f in dataclasses.fields(cls)}
    return found


class View:
    """The settings as one step sees them (kit.steps.base.Context.settings): a field whose `changes` names the step,
    or that changes no step; a record of settings it holds (`train`) whole where the step may read all its fields,
    else as a View of its own; any other field refused at the read (Undeclared). A property of the record
    (`extra_features`) is worked out on the view, so what it reads is checked too."""

    __slots__ = ("_at", "_record", "_root", "_step")

    def __init__(self, record: Record, step: str, at: str = "", root: Record | None = None) -> None:
        object.__setattr__(self, "_record", record)
        object.__setattr__(self, "_step", step)
        object.__setattr__(self, "_at", at)
        object.__setattr__(self, "_root", record if root is None else root)

    def __getattr__(self, name: str) -> Any:
        record, step, at = self._record, self._step, self._at
        found = _fields(type(record)).get(name)
        if found is None:
            attr = getattr(type(record), name, None)
            if isinstance(attr, property) and attr.fget is not None:
                return attr.fget(self)
            raise AttributeError(f"{type(record).__name__} has no setting {name!r}")
        value = getattr(record, name)
        if (held := holds_settings(found)) is not None:
            return value if all(readable(held, step)) else View(value, step, f"{at}{name}.", self._root)
        declared = changes_of(found)
        if declared is None or not declared.readable_by(step):
            raise Undeclared(f"step {step} read the setting {at}{name}, whose field does not name it: add the step "
                             f"to that field's `changes` (kit.infra.changes.changes) if its value changes the step's "
                             "outputs (the step's fingerprint then holds it), or read it where it is declared")
        if isinstance(when := declared.entries.get(step), When) and not when.holds(self._root):
            raise Undeclared(f"step {step} read the setting {at}{name}, which its field names for it only while "
                             f"{when.setting} is {' or '.join(map(str, when.values))}: read it only then (its "
                             "fingerprint holds it only then)")
        return value

    def __setattr__(self, name: str, value: object) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __repr__(self) -> str:
        return f"<settings of step {self._step}>"


def view_of(record: R, step: str) -> R:
    """What step `step` sees of `record` (a View). Typed as the record: mypy checks each read's name and type against
    the record's fields, which the view hands on unchanged; what only the view knows (which of them the step may
    read) it checks at the read (Undeclared). A view is no dataclass: `dataclasses.replace` or `asdict` of one is
    refused (TypeError), never a copy that drops the check."""
    return cast(R, View(record, step))


def readable(cls: type[Record], step: str) -> Iterator[bool]:
    """For each setting of `cls` (those of a record it holds too), whether `step` may read it."""
    for f in dataclasses.fields(cls):
        if (held := holds_settings(f)) is not None:
            yield from readable(held, step)
        else:  # a setting under a condition (When) is checked at each read: its record is never handed whole
            declared = changes_of(f)
            yield declared is not None and declared.readable_by(step) and not isinstance(declared.entries.get(step),
                                                                                          When)


def may_read(settings: Record, f: dataclasses.Field[Any], step: str) -> bool:
    """Whether `step` may read the setting of field `f` under `settings` (the run's whole record): its field names the
    step, or changes no step, and the condition it declares for the step (When), if any, holds."""
    found = changes_of(f)
    when = found.entries.get(step) if found is not None else None
    return found is not None and found.readable_by(step) and (not isinstance(when, When) or when.holds(settings))


def reaches(settings: Record, f: dataclasses.Field[Any], step: str) -> bool:
    """Whether the setting of field `f` changes `step`'s outputs under `settings` (the run's whole record): its field
    names the step, and the condition it declares for it (When), if any, holds."""
    found = changes_of(f)
    when = found.entries.get(step) if found is not None else None
    return found is not None and step in found.steps and (not isinstance(when, When) or when.holds(settings))


def declared(cls: type[Record], step: str, at: str = "") -> Iterator[tuple[str, dataclasses.Field[Any]]]:
    """The settings of `cls` whose outputs-changed steps name `step`, by dotted name (`train.epochs`), in order."""
    for f in dataclasses.fields(cls):
        if (held := holds_settings(f)) is not None:
            yield from declared(held, step, f"{at}{f.name}.")
        elif (changed := changes_of(f)) is not None and step in changed.steps:
            yield f"{at}{f.name}", f


def value_at(record: object, dotted: str) -> Any:
    for name in dotted.split("."):
        record = getattr(record, name)
    return record


def plain(value: Any) -> Any:
    """A setting's value as its JSON has it (a fingerprint is sha256 of its JSON): a tuple a list, a path text."""
    if isinstance(value, Record):
        return value.to_json()
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return str(value) if isinstance(value, PurePath) else value


def held_in(f: dataclasses.Field[Any], step: str) -> Entry | Through | InRecord | None:
    """How 2.1.0's fingerprint of `step` held the setting of field `f` (Changes.entries); None: it joins by name (a
    setting under a condition, When, too, while the condition holds: settings_fingerprint asks `reaches` first)."""
    found = changes_of(f)
    held = None if found is None else found.entries.get(step)
    return None if isinstance(held, When) else held


def record_form(record: Record, step: str) -> dict[str, object]:
    """A record of settings as `step`'s fingerprint holds it in its entry: its JSON, each field 2.1.0 held there
    (InRecord) at its default too, any other only off its default."""
    doc, at_default = record.to_json(), type(record)().to_json()
    names = _fields(type(record))
    kept = {name for name, f in names.items() if isinstance(held_in(f, step), InRecord)}
    return {k: v for k, v in doc.items() if k not in names or k in kept or v != at_default.get(k)}


class Resolved:
    """A step's view with the values it works with in place of the settings they resolve (`--encoders auto`: those
    prereqs found; `--shard`: the clips it was dealt), for the forms of its entries."""

    def __init__(self, view: object, values: Mapping[str, object]) -> None:
        self._view, self._values = view, values

    def __getattr__(self, name: str) -> Any:
        return self._values[name] if name in self._values else getattr(self._view, name)


def _records_held(cls: type[Record], step: str, models: bool) -> set[str]:
    """The records of settings `step`'s fingerprint holds in an entry of their own (LOSO's `train`), by field name:
    those a field of which 2.1.0 held there (InRecord); one held where the step makes models only, not where it makes
    none."""
    found = set()
    for f in dataclasses.fields(cls):
        held = [h for g in dataclasses.fields(r) if isinstance(h := held_in(g, step), InRecord)] \
            if (r := holds_settings(f)) is not None else []
        if held and (models or not any(h.models for h in held)):
            found.add(f.name)
    return found


def _entry(dotted: str, f: dataclasses.Field[Any], held: Entry | None, s: Resolved,
           models: bool) -> tuple[str, object] | None:
    """The entry a setting gives the step's fingerprint: under its Entry's name and form (held where the step makes
    models, if it says so), or by its dotted name off the value a fingerprint leaves out (its default, or the default
    of the kit that first wrote it: kit.infra.changes.unwritten_of); None for none."""
    if held is not None and held.models and not models:
        return None
    value = value_at(s, dotted)
    if (held is None or not held.always) and value == unwritten_of(f):
        return None
    if held is None:
        return dotted, plain(value)
    return held.key or dotted, plain(held.form(s) if held.form is not None else value)


def settings_fingerprint(settings: Record, step: str, resolved: Mapping[str, object] | None = None,
                         facts: Mapping[str, object] | None = None, models: bool = True) -> dict[str, object]:
    """The settings part of `step`'s fingerprint (kit.steps.base.Plan.settings), made from the declarations alone:
    each setting whose `changes` names the step, in the entry 2.1.0 gave it (Changes.entries: at its default too),
    or else by its dotted name wherever its value is off its default; a record 2.1.0 held whole in its own entry
    (record_form); a setting whose condition for the step (When) does not hold, none. `resolved`: the values the
    step works with in place of settings (by name); `facts`: what the step found that no setting holds (the clips left
    out), each an entry of its own; `models`: False where the step makes no models (an Entry or InRecord of `models`
    then left out). A setting added since 2.1.0 leaves every fingerprint
    as it was at its default, and off it changes exactly the steps it declares."""
    resolved, facts = dict(resolved or {}), dict(facts or {})
    s = Resolved(View(settings, step), resolved)
    found = dict(declared(type(settings), step))
    assert set(resolved) <= set(found), (step, sorted(set(resolved) - set(found)))  # only what the step declares
    # the records held in an entry of their own, and those of them held here (not where the step makes no models)
    records, written = _records_held(type(settings), step, True), _records_held(type(settings), step, models)
    fingerprint: dict[str, object] = {}
    for dotted, f in found.items():
        held, record = held_in(f, step), dotted.partition(".")[0]
        if isinstance(held, Through) or not reaches(settings, f, step):
            continue  # through the step's inputs; or a condition (When) that does not hold
        if record in records:
            if record in written and record not in fingerprint:  # the record's form once, not once a field of it
                fingerprint[record] = record_form(value_at(s, record), step)
            continue
        assert not isinstance(held, InRecord), (step, dotted)  # of a record the step holds in an entry of its own
        if (entry := _entry(dotted, f, held, s, models)) is not None:
            assert fingerprint.get(entry[0], entry[1]) == entry[1], (step, entry[0])  # one entry, one value
            fingerprint[entry[0]] = entry[1]
    assert not set(facts) & set(fingerprint), (step, sorted(set(facts) & set(fingerprint)))
    return fingerprint | facts
