"""Typed records: frozen dataclasses whose fields, in declaration order, are their JSON form, by the rules of
ARCHITECTURE.md's "Typed results". A record's own reading is its `adapted` and `read_back`, never an override of
from_json. Read as strictly as the kit refuses: an int, str or bool is taken as it is, never coerced (`"5"` is no 5,
1 is no True), a list is never read from a text, and a document missing a field is refused unless its record is
LENIENT. Plain code, standard library only (issue 71: the cattrs converter it replaced needed a third of its lines to
switch cattrs' coercions off and another third to take cattrs' exception groups apart into the kit's wording).
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import json
import math
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, Protocol, TypeVar

from kit.infra.visible import utf8_document

if TYPE_CHECKING:
    from kit.infra.tree import Tree

R = TypeVar("R", bound="Record")
Step = str | int  # a field's or a dict's key, a list's index: where a problem lies below the record read


class ValueRule(Protocol):
    """What a field read back keeps beyond its type (kit.infra.rules' rules are these): why a value breaks it, or
    None (a rule over each item of a list or value of a dict holds that item's rule as `each`)."""

    def problem(self, value: Any) -> str | None: ...


KEEPS = "keeps"  # the key of a field's read rules in its metadata (`keep`)


def keep(*rules: ValueRule) -> Mapping[str, object]:
    """The metadata of a field whose value, read back from a file, keeps `rules` beyond its type (a stamp that is a
    date, a count from 0, a finite number of seconds), `field(metadata=keep(COUNT))`: one that breaks a rule is a
    RecordError at its dotted key, as a value of another type is (the file is damaged: treated as absent, or
    refused, as its reader says), never a value a reader downstream trips on."""
    return {KEEPS: rules}


def keeps(f: dataclasses.Field[Any]) -> tuple[ValueRule, ...]:
    """The read rules field `f` was declared with (`keep`); none for another field."""
    return tuple(f.metadata.get(KEEPS, ()))


def omit_none(*rules: ValueRule) -> Any:
    """A field left out of the JSON while it is None; present and null, a float field reads as NaN. `rules`: what its
    value, read back, keeps beyond its type (as `keep`'s)."""
    return dataclasses.field(default=None, metadata={"omit_none": True, **({KEEPS: rules} if rules else {})})


def flatten() -> Any:
    """A dict field whose keys are written inline (one per record at most); every key the record does not declare is
    read into it (a baseline's own description)."""
    return dataclasses.field(default_factory=dict, metadata={"flatten": True})


# the metadata of a field that names a file (its name, its path, a sentence or a command's words holding one),
# `field(metadata=NAMES_FILE)`: written as UTF-8 text, a byte of the name that is not UTF-8 as `\\xHH`
# (visible.utf8_text), so that any JSON reader takes it, as the kit shows it
NAMES_FILE: Mapping[str, bool] = {"names_file": True}


class RecordError(ValueError):
    """A document does not fit the record it is read as."""


class Refused(RecordError):
    """A document that fits its record's types but breaks one of its rules (kit.infra.rules): refused with the key,
    the value and the rule, never read as absent (read_record lets it through to the caller, who names the file)."""

    def __init__(self, key: str, value: object, problem: str, words: str) -> None:
        self.key, self.value, self.problem, self.words = key, value, problem, words
        super().__init__(f"{key} {spelled(value)} {problem}")


class UnknownKey(Refused):
    """A key a record does not declare, in a document read as a CLOSED record (a settings document)."""


def spelled(value: object) -> str:
    """A value as a document holds it (JSON: `0`, `[0, 0]`, `null`, `"x"`), cut short past 80 characters; an infinity
    as the file wrote it (`Infinity`), never as the null the kit would write for it."""
    text = json.dumps(dump(value, infinite=True), ensure_ascii=True)
    return text if len(text) <= 80 else f"{text[:80]}… ({len(text)} characters)"


def dump(value: object, infinite: bool = False) -> object:
    """A value as strict JSON: records as objects (their to_json), NaN and infinities as null (`infinite`: an
    infinity kept, for a message that shows it), tuples as lists, paths as text (as they are, or within shown_json as
    the lead may see them)."""
    if isinstance(value, Record):
        return value.to_json()
    if isinstance(value, float):
        return value if math.isfinite(value) or (infinite and not math.isnan(value)) else None
    if isinstance(value, list | tuple):
        return [dump(v, infinite) for v in value]
    if isinstance(value, dict):
        return {k: dump(v, infinite) for k, v in value.items()}
    return _SHOW.get()(value) if isinstance(value, PurePath) else value


# how dump spells a path: as it is, or (shown_json) as the lead may see it (kit.infra.shown)
_SHOW: contextvars.ContextVar[Callable[[PurePath], str]] = contextvars.ContextVar("show", default=str)


def shown_json(record: Record, show: Callable[[PurePath], str]) -> dict[str, object]:
    """`record.to_json()` with every path field, at any depth, spelled by `show` (a results tarball's members)."""
    token = _SHOW.set(show)
    try:
        return record.to_json()
    finally:
        _SHOW.reset(token)


@dataclasses.dataclass(frozen=True)
class Record:
    """Base of every typed result: to_json / from_json, field order = key order."""

    SCHEMA_VERSION: ClassVar[int] = 1
    LENIENT: ClassVar[bool] = False  # True: fields with a default may be missing from the document
    CLOSED: ClassVar[bool] = False  # True: a key it or a record it holds does not declare is refused (UnknownKey)
    WRITTEN: ClassVar[Mapping[str, object]] = {}  # keys to_json writes beside the fields, each its one value

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("flatten"):
                out.update({k: dump(v) for k, v in value.items()})
            elif not (f.metadata.get("omit_none") and value is None):
                out[f.name] = utf8_document(dump(value)) if f.metadata.get("names_file") else dump(value)
        return out

    @classmethod
    def from_json(cls: type[R], data: object, where: str = "") -> R:
        """The record `data` holds; RecordError (or Refused) names the dotted key below `where`, the value and why.
        What a record's own constructor raises is raised as it is."""
        try:
            return _read_record(cls, data, ())
        except _Misfit as misfit:
            raise misfit.said(where, cls.__name__, cls.CLOSED) from None

    @classmethod
    def adapted(cls, data: object) -> object:
        """The document as this record reads it, at any depth (CqGrid: its earlier form, a bare list, made its own)."""
        return data

    def read_back(self: R) -> R:
        """The record as read, finished, at any depth (SeedReport: its folds' seed; RunSettings: its rules checked);
        a Refused names its key below the record."""
        return self


class _Misfit(Exception):
    """A problem found at `at` below the record read: `problem` is said there by `said`, with the dotted key."""

    def __init__(self, at: tuple[Step, ...], problem: RecordError, lacks: bool = False) -> None:
        super().__init__(at, problem)
        self.at, self.problem, self.lacks = at, problem, lacks

    def said(self, where: str, name: str, top_closed: bool) -> RecordError:
        """The kit's refusal: a key a CLOSED record does not declare (said below `where`, or below the record's name
        where the CLOSED record is held deeper), a rule a record breaks (Refused: its own key below its place), a field
        the document lacks (`X: lacks 'key'`), or a value of another type (`X.key: 5 is not a str`)."""
        at, problem = self.at, self.problem
        if isinstance(problem, UnknownKey):  # `at` ends with the key
            return UnknownKey(_dotted(where if top_closed else where or name, at), problem.value, problem.problem,
                              problem.words)
        if isinstance(problem, Refused):
            return type(problem)(_dotted(where if not at else where or name, (*at, problem.key)), problem.value,
                                 problem.problem, problem.words)
        if self.lacks:
            return RecordError(f"{_dotted(where or name, at[:-1])}: lacks {at[-1]!r}")
        return RecordError(f"{_dotted(where or name, at)}: {problem}")


def _dotted(where: str, at: tuple[Step, ...]) -> str:
    """`where` and the steps below it: `run.json.settings.seeds[0]`."""
    text = where + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in at)
    return text.removeprefix(".")


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    """A record class's resolved field types, once per class (resolving them is most of a large verdict's read)."""
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _arms(tp: Any) -> tuple[Any, ...]:
    return typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) else (tp,)


def _is_record(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, Record)


def _read_record(cls: type[R], data: object, at: tuple[Step, ...]) -> R:
    """`cls` from its document at `at`: opened (a CLOSED one's keys checked first, at any depth; then adapted, its
    schema version), its fields read in order (a problem raised as a _Misfit where it lies: the first in field order,
    depth first), built, and read_back (its RecordError raised as a _Misfit at the record)."""
    document = _opened(cls, data, at)
    values = _field_values(cls, document, at)
    record = cls(**values)  # what its own constructor raises (RunSettings' folds) is said as it is
    try:
        return record.read_back()
    except RecordError as exc:
        raise _Misfit(at, exc) from None


def _opened(cls: type[Record], data: object, at: tuple[Step, ...]) -> Mapping[str, object]:
    """`cls`'s document at `at`, ready for its fields to be read. A CLOSED record's keys are checked before anything
    else (an unknown key anywhere below is named before any value's problem); then the document is adapted (an older
    layout brought to this one) and refused, as a _Misfit at `at`, when it is not an object or its schema_version is
    newer than `cls` reads (a newer kit's file is never read as if it were this kit's). Adapted and checked once:
    the keys are checked on the adapted document, after the two refusals that leave no key to check."""
    data = cls.adapted(data)
    if not isinstance(data, Mapping):
        raise _Misfit(at, RecordError(f"{type(data).__name__} where an object was expected"))
    version = data.get("schema_version", 1)
    if isinstance(version, int) and version > cls.SCHEMA_VERSION:
        raise _Misfit(at, RecordError(f"schema_version {version} is newer than this kit reads ({cls.SCHEMA_VERSION})"))
    if cls.CLOSED:
        _check_adapted_keys(cls, data, at)
    return data


def _field_values(cls: type[Record], data: Mapping[str, object], at: tuple[Step, ...]) -> dict[str, object]:
    """Each of `cls`'s fields read from `data`, in field order, the first problem raised as a _Misfit where it lies:
    a flatten field takes every key no field declares; a field the document lacks is refused (lacks=True) unless it
    may lack it (_may_lack), so that a damaged document is refused, never filled in with a default."""
    fields, hints = dataclasses.fields(cls), _hints(cls)
    declared = {f.name for f in fields}
    kw: dict[str, object] = {}
    for f in fields:
        here = (*at, f.name)
        if f.metadata.get("flatten"):
            kw[f.name] = {k: v for k, v in data.items() if k not in declared}
        elif f.name in data:
            value, tp = data[f.name], hints[f.name]
            # an omit_none float present and null is a NaN (absent, it is None)
            as_type = float if f.metadata.get("omit_none") and float in _arms(tp) else tp
            kw[f.name] = _read(as_type, value, here)
            _check_kept(f, kw[f.name], here)
        elif not _may_lack(cls, f):
            raise _Misfit(here, RecordError(f.name), lacks=True)
    return kw


def _check_kept(f: dataclasses.Field[Any], value: object, at: tuple[Step, ...]) -> None:
    """A _Misfit at `at` when `value`, read as its type, breaks one of the field's read rules (`keep`); None (an
    optional field's null, an omit_none field absent: nothing recorded) keeps them all."""
    if value is not None:
        _check_rules(keeps(f), value, at)


def _check_rules(rules: tuple[ValueRule, ...], value: object, at: tuple[Step, ...]) -> None:
    """The first of `rules` `value` breaks, a _Misfit at `at`; a rule over each item of a list or each value of a dict
    (its `each`: kit.infra.rules.Each), or each key of a dict (its `keys`: kit.infra.rules.Keys), said at the item's
    own key."""
    for rule in rules:
        if (keys := getattr(rule, "keys", None)) is not None and isinstance(value, dict):
            for key in value:  # a dict's key that breaks it said at that key
                if (why := keys.problem(key)) is not None:
                    raise _Misfit((*at, key), RecordError(f"the key {spelled(key)} {why}"))
        elif (each := getattr(rule, "each", None)) is not None and isinstance(value, list | tuple | dict):
            for key, item in value.items() if isinstance(value, dict) else enumerate(value):
                _check_rules((each,), item, (*at, key))
        elif (why := rule.problem(value)) is not None:
            raise _Misfit(at, RecordError(f"{spelled(value)} {why}"))


def _may_lack(cls: type[Record], f: dataclasses.Field[Any]) -> bool:
    """Whether a document may lack field `f`: an omit_none field, or a LENIENT record's field with a default."""
    has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
    return bool(f.metadata.get("omit_none")) or (cls.LENIENT and has_default)


class _Shape(NamedTuple):
    """How a declared type is read, worked out once per type."""

    kind: str  # "kept" (Any, object, a union of several real types: its record checks it), "record", "scalar",
    # "list", "tuple" or "dict"
    tp: Any  # the type read: an optional's other arm
    item: Any  # a container's items' type (a dict's values')
    optional: bool  # None is one of its arms: a null reads as None
    holds_records: bool  # a record lies in it, alone or as a container's items (a CLOSED record's keys walk it)


@functools.cache
def _shape(tp: Any) -> _Shape:
    """`tp`'s shape: its arms apart from None, then what it is (a record, a container of what, a scalar)."""
    arms = _arms(tp)
    real = [arm for arm in arms if arm is not type(None)]
    optional = len(real) < len(arms)
    if len(real) > 1 or real[0] is Any or real[0] is object:
        return _Shape("kept", tp, None, optional, False)
    tp, origin, args = real[0], typing.get_origin(real[0]), typing.get_args(real[0])
    if _is_record(tp):
        return _Shape("record", tp, None, optional, True)
    if origin in (list, tuple, dict):
        item = (args[1] if len(args) == 2 else Any) if origin is dict else (args[0] if args else Any)
        return _Shape(origin.__name__, tp, item, optional, _shape(item).holds_records)
    return _Shape("scalar", tp, None, optional, False)


def _read(tp: Any, value: object, at: tuple[Step, ...]) -> Any:
    """`value` read as the declared type `tp`: an optional one's null as None, a union of several real types (and
    `object`) kept as read, for its record to check; a record, a scalar or a container by its reader."""
    shape = _shape(tp)
    if value is None and shape.kind == "kept" and not shape.optional and len(_arms(tp)) > 1:  # `str | dict`: no null
        names = " or ".join((typing.get_origin(arm) or arm).__name__ for arm in _arms(tp))
        raise _Misfit(at, RecordError(f"None is not a {names}"))
    if shape.kind == "kept" or (value is None and shape.optional):
        return value
    if shape.kind == "record":
        return _read_record(shape.tp, value, at)
    if shape.kind == "scalar":
        return _scalar(shape.tp, value, at)
    return _container(shape, value, at)


_SCALARS: dict[Any, tuple[Any, str]] = {float: (int | float, "number"), Path: (str, "path"), int: (int, "int"),
                                        str: (str, "str"), bool: (bool, "bool")}  # what each takes, its name


def _scalar(tp: Any, value: object, at: tuple[Step, ...]) -> object:
    """float (null as NaN, an int as a float), Path (a text not empty), int, str and bool as they are."""
    if tp is float and value is None:
        return math.nan
    kind, name = _SCALARS[tp]
    if not isinstance(value, kind) or (tp is not bool and isinstance(value, bool)) or (tp is Path and not value):
        raise _Misfit(at, RecordError(f"{value!r} is not a {name}"))
    return tp(value) if tp in (float, Path) else value


def _container(shape: _Shape, value: object, at: tuple[Step, ...]) -> object:
    """A list or tuple field (a JSON list, never a text, each item read as the first type argument) or a dict field
    (a JSON object, each value read as the second)."""
    plain = shape.item if shape.item in _PLAIN else None  # taken whole when every item is exactly that type
    if shape.kind == "dict":
        if not isinstance(value, dict):
            raise _Misfit(at, RecordError(f"{type(value).__name__} where an object was expected"))
        if plain is not None and all(type(v) is plain for v in value.values()):
            return {str(k): v for k, v in value.items()}
        return {str(k): _read(shape.item, v, (*at, str(k))) for k, v in value.items()}
    if not isinstance(value, list | tuple):
        raise _Misfit(at, RecordError(f"{type(value).__name__} where a list was expected"))
    if plain is not None and all(type(v) is plain for v in value):
        items = list(value)
    else:
        items = [_read(shape.item, v, (*at, i)) for i, v in enumerate(value)]
    return tuple(items) if shape.kind == "tuple" else items


# the scalars _scalar returns as they are when the value is of exactly that type (JSON gives no subclass; a bool is
# no int; a Path is made from its text): a list of them read item by item cost a job's ledger most of its read (its
# argv's 70 words)
_PLAIN = frozenset(tp for tp in _SCALARS if tp is not Path)


def _check_keys(cls: type[Record], data: object, at: tuple[Step, ...]) -> None:
    """Before a CLOSED record's values are read: UnknownKey at the first key, in the document's order and depth
    first, that it or a record it holds (alone, in a list or a dict) does not declare, or a key of WRITTEN that holds
    another value. A document that is no object, or of a newer schema, is left to its reading, which says so."""
    data = cls.adapted(data)
    version = data.get("schema_version", 1) if isinstance(data, Mapping) else None
    if isinstance(data, Mapping) and not (isinstance(version, int) and version > cls.SCHEMA_VERSION):
        _check_adapted_keys(cls, data, at)


def _check_adapted_keys(cls: type[Record], data: Mapping[str, object], at: tuple[Step, ...]) -> None:
    """_check_keys of a document already adapted to this layout, an object of a schema this kit reads."""
    declared, hints = {f.name for f in dataclasses.fields(cls)}, _hints(cls)
    for key, value in data.items():
        if key in cls.WRITTEN and value != (kept := cls.WRITTEN[key]):
            said = f"is no setting: the kit writes {spelled(kept)} there and reads nothing from it"
            raise _Misfit((*at, key), UnknownKey(key, value, said, f"{spelled(kept)}, or no {key}"))
        if key in declared:
            _check_held(hints[key], value, (*at, key))
        elif key not in cls.WRITTEN and not (key == "schema_version" and cls.SCHEMA_VERSION > 1):
            import difflib  # for a key no record declares: a refusal's words

            close = difflib.get_close_matches(key, sorted(declared), n=1)
            meant = f" (did you mean {close[0]}?)" if close else ""
            raise _Misfit((*at, key), UnknownKey(key, value, f"is no key the kit reads there{meant}",
                                                 "one of " + ", ".join(sorted(declared))))


def _check_held(tp: Any, value: object, at: tuple[Step, ...]) -> None:
    """_check_keys for the records a field of type `tp` holds in `value`."""
    shape = _shape(tp)
    if not shape.holds_records or value is None:
        return
    if shape.kind == "record":
        _check_keys(shape.tp, value, at)
    elif shape.kind == "dict" and isinstance(value, dict):
        for k, v in value.items():
            _check_held(shape.item, v, (*at, str(k)))
    elif shape.kind in ("list", "tuple") and isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_held(shape.item, v, (*at, i))


def read_record(cls: type[R], tree: Tree, path: Path) -> tuple[R | None, str]:
    """A record the kit wrote below `tree`, checked, not trusted: (the record, "") or (None, why not: "missing",
    "unreadable (...)", "damaged (...)"). A document that breaks one of its record's rules raises Refused."""
    data, why = tree.read_json_object(path)
    if data is None:
        return None, why
    try:
        return cls.from_json(data, path.name), ""
    except Refused:
        raise
    except (RecordError, TypeError) as exc:
        return None, f"damaged ({exc})"
