"""Typed records: frozen dataclasses with a versioned JSON form.

A record's JSON is its fields in declaration order, so the dataclass *is* the
file format: `to_json` writes exactly those keys in that order, `from_json`
reads them back with their declared types. The rules every record shares:

* a float that is NaN or infinite is written as `null` (strict JSON) and read
  back as NaN: a correlation over a constant fold is undefined, not zero;
* a field declared with `omit_none()` is left out while it is None, for keys
  that only some documents carry (a disabled gate has no `statement`); when its
  key is present, a null in it is a NaN like any other float;
* a field declared with `flatten()` holds a dict whose keys are written inline
  between the neighbouring fields, and from_json gathers every key the record
  does not declare into it (a baseline's model-specific description);
* nested records, tuples and dicts of records convert both ways;
* a path is written as its text and read back as a Path.

Every other field must be present when read, whatever its Python default:
a damaged document is refused, not filled in. A record whose older versions
lacked keys says so with `LENIENT = True`; its defaulted fields may then be
absent (the corpus manifests, which only add provenance).

`SCHEMA_VERSION` on a record class is the version of its JSON form; from_json
refuses a document that declares a newer one than this kit reads.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:
    from kit.infra.tree import Tree

R = TypeVar("R", bound="Record")


def omit_none(default: object = None) -> Any:
    """A field left out of the JSON while it is None."""
    return dataclasses.field(default=default, metadata={"omit_none": True})


def flatten() -> Any:
    """A dict field whose keys are written inline (one per record at most)."""
    return dataclasses.field(default_factory=dict, metadata={"flatten": True})


class RecordError(ValueError):
    """A document does not fit the record it is read as."""


class Refused(RecordError):
    """A document that fits its record's types but breaks one of its rules (a setting out of range, a key the
    record does not have: kit.infra.rules): refused with the key, the value and the rule, never read as absent
    (read_record lets it through to the caller, who names the file)."""

    def __init__(self, key: str, value: object, problem: str, words: str) -> None:
        self.key, self.value, self.problem, self.words = key, value, problem, words
        super().__init__(f"{key} {spelled(value)} {problem}")


class UnknownKey(Refused):
    """A key a record does not declare, in a document read with check_keys (a settings document)."""


def spelled(value: object) -> str:
    """A value as a document holds it (JSON: `0`, `[0, 0]`, `null`, `"x"`), cut short past 80 characters. An infinity
    is said as the file wrote it (`Infinity`, `-Infinity`, which Python's JSON reads), never as the null the kit
    would write for it; NaN stays null, which a record reads as NaN."""
    text = json.dumps(dump(value, infinite=True), ensure_ascii=True)
    return text if len(text) <= 80 else f"{text[:80]}… ({len(text)} characters)"


def dump(value: object, infinite: bool = False) -> object:
    """A value as strict JSON: records as objects, NaN/inf as null, tuples as lists (`infinite`: an infinity kept,
    for a message that shows it)."""
    if isinstance(value, Record):
        return value.to_json()
    if isinstance(value, float):
        return value if math.isfinite(value) or (infinite and not math.isnan(value)) else None
    if isinstance(value, list | tuple):
        return [dump(v, infinite) for v in value]
    if isinstance(value, dict):
        return {k: dump(v, infinite) for k, v in value.items()}
    if isinstance(value, PurePath):
        return str(value)
    return value


def _arms(tp: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return typing.get_args(tp)
    return (tp,)


def load(tp: Any, value: object, where: str) -> Any:
    """`value` read as type `tp` (the declared type of a record field)."""
    arms = _arms(tp)
    if len(arms) > 1:
        if value is None and type(None) in arms:
            return None
        real = [a for a in arms if a is not type(None)]
        return load(real[0], value, where) if len(real) == 1 else value  # several real types: kept as read
    if tp is Any or tp is object:
        return value
    if isinstance(tp, type) and issubclass(tp, Record):
        return tp.from_json(value, where)
    if tp in _SCALARS:
        return _SCALARS[tp](value, where)
    container = _CONTAINERS.get(typing.get_origin(tp))
    return value if container is None else container(typing.get_args(tp), value, where)


def _float(value: object, where: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RecordError(f"{where}: {value!r} is not a number")
    return float(value)


def _exactly(tp: type) -> Any:
    def read(value: object, where: str) -> object:
        if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
            raise RecordError(f"{where}: {value!r} is not a {tp.__name__}")
        return value

    return read


def _path(value: object, where: str) -> Path:
    if not isinstance(value, str) or not value:
        raise RecordError(f"{where}: {value!r} is not a path")
    return Path(value)


def _list(args: tuple[Any, ...], value: object, where: str) -> list[object]:
    """A list or tuple's items, each read as the first type argument (a tuple[X, ...] or list[X] field)."""
    if not isinstance(value, list | tuple):
        raise RecordError(f"{where}: {type(value).__name__} where a list was expected")
    return [load(args[0] if args else Any, v, f"{where}[{i}]") for i, v in enumerate(value)]


def _dict(args: tuple[Any, ...], value: object, where: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise RecordError(f"{where}: {type(value).__name__} where an object was expected")
    item = args[1] if len(args) == 2 else Any
    return {str(k): load(item, v, f"{where}.{k}") for k, v in value.items()}


_SCALARS: dict[Any, Callable[[object, str], object]] = {
    float: _float, int: _exactly(int), bool: _exactly(bool), str: _exactly(str), Path: _path}
_CONTAINERS: dict[Any, Callable[[tuple[Any, ...], object, str], object]] = {
    tuple: lambda args, value, where: tuple(_list(args, value, where)), list: _list, dict: _dict}


@dataclasses.dataclass(frozen=True)
class Record:
    """Base of every typed result: to_json / from_json, field order = key order."""

    SCHEMA_VERSION: ClassVar[int] = 1
    LENIENT: ClassVar[bool] = False  # True: fields with a default may be missing from the document
    # keys its to_json writes beside its fields, and their one value: check_keys takes them, no other
    WRITTEN: ClassVar[Mapping[str, object]] = {}

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("flatten"):
                out.update({k: dump(v) for k, v in value.items()})
            elif not (f.metadata.get("omit_none") and value is None):
                out[f.name] = dump(value)
        return out

    @classmethod
    def from_json(cls: type[R], data: object, where: str = "") -> R:
        where = where or cls.__name__
        if not isinstance(data, Mapping):
            raise RecordError(f"{where}: {type(data).__name__} where an object was expected")
        version = data.get("schema_version", 1)
        if isinstance(version, int) and version > cls.SCHEMA_VERSION:
            raise RecordError(f"{where}: schema_version {version} is newer than this kit reads "
                              f"({cls.SCHEMA_VERSION})")
        hints = _type_hints(cls)
        kw: dict[str, object] = {}
        declared = {f.name for f in dataclasses.fields(cls)}
        for f in dataclasses.fields(cls):
            optional = f.metadata.get("omit_none") or (cls.LENIENT and (
                f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING))
            if f.metadata.get("flatten"):
                kw[f.name] = {k: v for k, v in data.items() if k not in declared}
            elif f.name in data:
                value = data[f.name]
                if value is None and f.metadata.get("omit_none") and float in _arms(hints[f.name]):
                    kw[f.name] = math.nan  # present but null: a NaN (absent would mean None)
                else:
                    kw[f.name] = load(hints[f.name], value, f"{where}.{f.name}")
            elif not optional:
                raise RecordError(f"{where}: lacks {f.name!r}")
        return cls(**kw)


_HINTS: dict[type, dict[str, Any]] = {}


def _type_hints(cls: type) -> dict[str, Any]:
    """A record class's resolved field types, once per class: resolving them took most of the time of reading a
    verdict of 1,000 sources (one FoldResult per seed and source)."""
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def check_keys(cls: type[Record], data: object, where: str) -> None:
    """UnknownKey for the first key of `data` (a document read as `cls`) that `cls` does not declare, at any depth
    (the records its fields hold, alone or in a list or dict): a misspelt setting is refused, never ignored. A key
    of `cls.WRITTEN` must hold its one value."""
    if not isinstance(data, Mapping):
        return  # the record's own reading says what it is not
    hints, declared = _type_hints(cls), {f.name for f in dataclasses.fields(cls)}
    for key, value in data.items():
        at = f"{where}.{key}" if where else str(key)
        if key in cls.WRITTEN:
            if value != cls.WRITTEN[key]:
                raise UnknownKey(at, value, f"is no setting: the kit writes {spelled(cls.WRITTEN[key])} there and "
                                            "reads nothing from it", f"{spelled(cls.WRITTEN[key])}, or no {key}")
        elif key not in declared and not (key == "schema_version" and cls.SCHEMA_VERSION > 1):
            close = difflib.get_close_matches(str(key), sorted(declared), n=1)
            meant = f" (did you mean {close[0]}?)" if close else ""
            raise UnknownKey(at, value, f"is no key the kit reads there{meant}",
                             "one of " + ", ".join(sorted(declared)))
        elif key in declared:
            for record, inside in _records_in(hints[key]):
                if inside and isinstance(value, Mapping):
                    for name, item in value.items():
                        check_keys(record, item, f"{at}.{name}")
                elif inside and isinstance(value, list):
                    for i, item in enumerate(value):
                        check_keys(record, item, f"{at}[{i}]")
                elif not inside:
                    check_keys(record, value, at)


def _records_in(tp: Any) -> list[tuple[type[Record], bool]]:
    """The record types a field of type `tp` holds: (the type, whether in a list, tuple or dict)."""
    found: list[tuple[type[Record], bool]] = []
    for arm in _arms(tp):
        if isinstance(arm, type) and issubclass(arm, Record):
            found.append((arm, False))
        elif typing.get_origin(arm) in _CONTAINERS and (args := typing.get_args(arm)):
            inner = args[-1] if typing.get_origin(arm) is dict else args[0]
            if isinstance(inner, type) and issubclass(inner, Record):
                found.append((inner, True))
    return found


def read_record(cls: type[R], tree: Tree, path: Path) -> tuple[R | None, str]:
    """A record the kit wrote itself below `tree`, checked, not trusted: (the record, "") or (None, why not):
    "missing", "unreadable (...)", "damaged (...)" (another shape, a field of another type, a newer schema).
    One that is not the user's own is refused (kit.infra.tree.Tree.read_json_object). A document that breaks
    one of its record's rules raises Refused: the caller names the file (it is no damage a rerun mends)."""
    data, why = tree.read_json_object(path)
    if data is None:
        return None, why
    try:
        return cls.from_json(data, path.name), ""
    except Refused:
        raise
    except (RecordError, TypeError) as exc:
        return None, f"damaged ({exc})"
