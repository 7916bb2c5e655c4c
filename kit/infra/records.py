"""Typed records: frozen dataclasses whose fields, in declaration order, are their JSON form, by the rules of
ARCHITECTURE.md's "Typed results". cattrs (imported on first use) reads and writes them as strictly as the kit: an
int, str or bool never coerced, a list never read from a text. A record's own reading is its `adapted` and
`read_back`, never an override of from_json.
"""

from __future__ import annotations

import contextvars
import dataclasses
import difflib
import functools
import json
import math
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, TypeVar

from kit.infra.visible import utf8_document

if TYPE_CHECKING:
    from cattrs import Converter

    from kit.infra.tree import Tree

R = TypeVar("R", bound="Record")


def omit_none(default: object = None) -> Any:
    """A field left out of the JSON while it is None."""
    return dataclasses.field(default=default, metadata={"omit_none": True})


def flatten() -> Any:
    """A dict field whose keys are written inline (one per record at most)."""
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
    text = json.dumps(_converters().shown.unstructure(value), ensure_ascii=True)
    return text if len(text) <= 80 else f"{text[:80]}… ({len(text)} characters)"


def dump(value: object) -> object:
    """A value as strict JSON: records as objects (their to_json), NaN/inf as null, tuples as lists, paths as text."""
    return _converters().written.unstructure(value)


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
        """The record `data` holds; RecordError (or Refused) names the dotted key below `where`, the value and why."""
        from cattrs.errors import BaseValidationError

        try:
            return _converters().read.structure(data, cls)
        except (BaseValidationError, RecordError) as exc:
            raise _refusal(exc, where, cls.__name__, data) from None

    @classmethod
    def adapted(cls, data: object) -> object:
        """The document as this record reads it, at any depth (CqGrid: its earlier form, a bare list, made its own)."""
        return data

    def read_back(self: R) -> R:
        """The record as read, finished, at any depth (SeedReport: its folds' seed; RunSettings: its rules checked);
        a Refused names its key below the record."""
        return self


def _arms(tp: Any) -> tuple[Any, ...]:
    return typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) else (tp,)


class _Converters(NamedTuple):
    read: Converter  # documents into records; a CLOSED record and all it holds are read with forbid_extra_keys
    written: Converter  # records and values into strict JSON (dump)
    shown: Converter  # dump's, an infinity kept (spelled)


@functools.cache
def _converters() -> _Converters:
    """The cattrs converters, made on first use: `--help` never reads a record and does not pay cattrs' import."""
    from cattrs import Converter

    read, closed = Converter(detailed_validation=True), Converter(detailed_validation=True, forbid_extra_keys=True)
    for converter in (read, closed):
        for tp in (float, Path, int, bool, str):
            converter.register_structure_hook(tp, _scalar_of(tp))
        converter.register_structure_hook_func(lambda tp: tp is object or len(set(_arms(tp)) - {type(None)}) > 1,
                                               _as_read)
        converter.register_structure_hook_factory(lambda t: typing.get_origin(t) in _CONTAINERS, _structure_container)
        converter.register_structure_hook_factory(_is_record, lambda tp, c: _structure_record(tp, c, closed))
    written, shown = Converter(), Converter()
    for converter, infinite in ((written, False), (shown, True)):
        converter.register_unstructure_hook_func(_is_record, lambda r: r.to_json())
        converter.register_unstructure_hook(float, functools.partial(_finite, infinite))
        converter.register_unstructure_hook_func(lambda tp: tp in (list, tuple), functools.partial(_as_list, converter))
        for kind in (PurePath, Path):  # cattrs' own hook for Path (str) is nearer a PosixPath than PurePath's
            converter.register_unstructure_hook(kind, lambda path: _SHOW.get()(path))
    return _Converters(read, written, shown)


def _finite(infinite: bool, value: float) -> float | None:
    """A float as strict JSON: NaN and infinities as null (`infinite`: an infinity kept, for a message)."""
    return value if math.isfinite(value) or (infinite and not math.isnan(value)) else None


def _is_record(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, Record)


def _as_read(value: object, _: object) -> object:
    """A field of several real types (RunSettings.folds: int | str) or `object`: kept as read, its record checks it."""
    return value


def _as_list(converter: Converter, value: Iterable[object]) -> list[object]:
    return [converter.unstructure(v) for v in value]


_SCALARS: dict[type, tuple[Any, str]] = {float: (int | float, "number"), Path: (str, "path")}  # what each reads


def _scalar_of(tp: type) -> Callable[[Any, object], object]:
    """The reader of one scalar type, its accepted kind and its name in a refusal chosen once."""
    return functools.partial(_scalar, tp, *_SCALARS.get(tp, (tp, tp.__name__)))


def _scalar(tp: type, kind: Any, name: str, value: Any, _: object) -> object:
    """float (null as NaN), Path (a text not empty), int, str and bool as they are: cattrs would coerce (`"5"` to 5,
    3 to `"3"`, 1 to True), the kit refuses."""
    if tp is float and value is None:
        return math.nan
    if not isinstance(value, kind) or (tp is not bool and isinstance(value, bool)) or (tp is Path and not value):
        raise RecordError(f"{value!r} is not a {name}")
    return typing.cast(Any, tp)(value) if tp in (float, Path) else value


_CONTAINERS = {list: (list | tuple, "a list"), tuple: (list | tuple, "a list"), dict: (dict, "an object")}


def _structure_container(tp: Any, converter: Converter) -> Callable[[object, object], object]:
    """A list or tuple field (a JSON list, never a text, items read as the first type argument) or a dict field."""
    from cattrs.cols import list_structure_factory
    from cattrs.gen import make_mapping_structure_fn

    origin, args = typing.get_origin(tp), typing.get_args(tp)
    kind, expected = _CONTAINERS[origin]
    if origin is dict:
        entries: Callable[[Any, Any], object] = make_mapping_structure_fn(
            typing.cast(type, types.GenericAlias(dict, (str, args[1] if len(args) == 2 else Any))), converter)
    else:
        items = list_structure_factory(typing.cast(type, types.GenericAlias(list, args[:1] or (Any,))), converter)

    def structure(value: Any, _: object) -> object:
        if not isinstance(value, kind):
            raise RecordError(f"{type(value).__name__} where {expected} was expected")
        if isinstance(value, dict):
            return entries({str(k): v for k, v in value.items()}, tp)
        return origin(items(value, tp))

    return structure


def _structure_record(cls: type[Record], converter: Converter, closed: Converter) -> Callable[[object, object], object]:
    """How `converter` reads `cls` at any depth, by the module's rules: adapted, then cattrs' reading of the fields
    (one with a default the document lacks given as LACKING, unless LENIENT), then read_back."""
    from cattrs.gen import make_dict_structure_fn, override

    if cls.CLOSED and not converter.forbid_extra_keys:
        return closed.get_structure_hook(cls)
    fields, hints = dataclasses.fields(cls), typing.get_type_hints(cls)
    declared = {f.name for f in fields}
    flat = next((f.name for f in fields if f.metadata.get("flatten")), None)
    asked = {f.name: LACKING for f in fields if not (cls.LENIENT or f.metadata.get("omit_none") or
                                                    f.metadata.get("flatten"))
             and (f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING)}
    overrides = {f.name: override(struct_hook=_scalar_of(float)) for f in fields  # null: NaN
                 if f.metadata.get("omit_none") and float in _arms(hints[f.name])}
    overrides |= {name: override(struct_hook=functools.partial(_present, converter.get_structure_hook(hints[name])))
                  for name in asked}
    if flat is not None:
        overrides[flat] = override(struct_hook=_as_read)
    read_fields = make_dict_structure_fn(cls, converter, **overrides)  # type: ignore[arg-type]
    unread = {*cls.WRITTEN, *(["schema_version"] if cls.SCHEMA_VERSION > 1 and "schema_version" not in declared
                              else [])}

    def structure(data: object, _: object) -> Record:
        data = cls.adapted(data)
        if not isinstance(data, Mapping):
            raise RecordError(f"{type(data).__name__} where an object was expected")
        version = data.get("schema_version", 1)
        if isinstance(version, int) and version > cls.SCHEMA_VERSION:
            raise RecordError(f"schema_version {version} is newer than this kit reads ({cls.SCHEMA_VERSION})")
        if converter.forbid_extra_keys:
            for key, value in data.items():  # in the document's order, up to the first key cattrs refuses
                if key in cls.WRITTEN and value != (kept := cls.WRITTEN[key]):
                    raise UnknownKey(key, value, f"is no setting: the kit writes {spelled(kept)} there and reads "
                                                 "nothing from it", f"{spelled(kept)}, or no {key}")
                if key not in declared and key not in unread:
                    break
            data = {k: v for k, v in data.items() if k not in unread}
        if asked:
            data = {**asked, **data}
        if flat is not None:
            data = {**{k: v for k, v in data.items() if k in declared},
                    flat: {k: v for k, v in data.items() if k not in declared}}
        return read_fields(data, cls).read_back()

    return structure


LACKING = object()  # a field the document lacks that cattrs would fill in with its default


def _present(read: Callable[[object, Any], object], value: object, tp: Any) -> object:
    """A field that must be present: KeyError where it is LACKING (as cattrs' own for a field without a default)."""
    if value is LACKING:
        raise KeyError(tp)
    return read(value, tp)


Step = str | int  # a field's or a dict's key, a list's index


def _refusal(exc: Exception, where: str, name: str, data: object) -> Exception:
    """The kit's refusal of a document cattrs could not read: the first problem in field order (a key a CLOSED record
    does not declare first, in the document's order) with its dotted key below `where` (else `name`): RecordError
    `WHERE.KEY: why`, Refused / UnknownKey with the value. What a record's own constructor raised is raised as is."""
    from cattrs.errors import ForbiddenExtraKeysError

    found = list(_leaves(exc, (), None))
    unknown: list[tuple[tuple[Step, ...], UnknownKey]] = []
    for at, leaf, _, closed in found:
        if closed is None or closed != found[0].closed:
            continue  # the first problem lies outside this CLOSED record, whose keys are checked before its types
        if isinstance(leaf, ForbiddenExtraKeysError):
            unknown += [((*at, k), _unknown_key(leaf.cl, k, _walk(data, (*at, k))[1])) for k in leaf.extra_fields]
        elif isinstance(leaf, UnknownKey):
            unknown.append(((*at, leaf.key), leaf))
    if unknown:
        at, first = min(unknown, key=lambda u: _walk(data, u[0])[0])
        top = found[0].closed == ()  # the record read is CLOSED: its keys are said below `where` as it is
        return UnknownKey(_dotted(where if top else where or name, at), first.value, first.problem, first.words)
    at, leaf, raw, _ = found[0]
    if raw or not isinstance(leaf, RecordError | KeyError):
        return leaf
    if isinstance(leaf, Refused):
        return type(leaf)(_dotted(where if not at else where or name, (*at, leaf.key)), leaf.value, leaf.problem,
                          leaf.words)
    if isinstance(leaf, KeyError):  # cattrs' for a field without a default the document lacks
        return RecordError(f"{_dotted(where or name, at[:-1])}: lacks {at[-1]!r}")
    return RecordError(f"{_dotted(where or name, at)}: {leaf}")


def _unknown_key(cls: type, key: str, value: object) -> UnknownKey:
    """A key `cls` does not declare (relative to it), with the closest it does."""
    declared = sorted(f.name for f in dataclasses.fields(cls))
    meant = "".join(f" (did you mean {close}?)" for close in difflib.get_close_matches(key, declared, n=1))
    return UnknownKey(key, value, f"is no key the kit reads there{meant}", "one of " + ", ".join(declared))


class _Leaf(NamedTuple):  # a problem under cattrs' exception groups
    at: tuple[Step, ...]  # its steps from the top
    exc: Exception
    raw: bool  # the record's constructor raised it: in a class's group without cattrs' note of a field
    closed: tuple[Step, ...] | None  # the steps of the outermost CLOSED record it lies in


def _leaves(exc: BaseException, at: tuple[Step, ...], closed: tuple[Step, ...] | None) -> Iterator[_Leaf]:
    """Every problem under cattrs' exception groups, depth first in field order."""
    from cattrs.errors import (
        AttributeValidationNote,
        BaseValidationError,
        ClassValidationError,
        ForbiddenExtraKeysError,
        IterableValidationNote,
    )

    if not isinstance(exc, BaseValidationError):
        yield _Leaf(at, typing.cast(Exception, exc), False, closed)
        return
    if closed is None and isinstance(exc.cl, type) and issubclass(exc.cl, Record) and exc.cl.CLOSED:
        closed = at
    for sub in exc.exceptions:
        notes = [n for n in getattr(sub, "__notes__", ())
                 if isinstance(n, AttributeValidationNote | IterableValidationNote)]
        if not notes:
            raw = isinstance(exc, ClassValidationError) and not isinstance(sub, ForbiddenExtraKeysError)
            yield _Leaf(at, sub, raw, closed)
        elif isinstance(notes[0], AttributeValidationNote):
            yield from _leaves(sub, (*at, notes[0].name), closed)
        else:  # a dict's key (always text, as JSON's), a list's index
            index = notes[0].index
            yield from _leaves(sub, (*at, str(index) if typing.get_origin(exc.cl) is dict else index), closed)


def _walk(data: object, at: tuple[Step, ...]) -> tuple[tuple[int, ...], object]:
    """Where `at` lies in the document, in its order (-1 where it leads nowhere), and the value there (or None)."""
    places: list[int] = []
    lost = False
    for step in at:
        if isinstance(data, Mapping) and step in data:
            places.append(list(data).index(step))
        elif isinstance(data, list) and isinstance(step, int) and step < len(data):
            places.append(step)
        else:
            places.append(-1)
            lost = True
            continue
        data = data[step]  # type: ignore[index]
    return tuple(places), None if lost else data


def _dotted(where: str, at: tuple[Step, ...]) -> str:
    """`where` and the steps below it: `run.json.settings.seeds[0]`."""
    text = where + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in at)
    return text.removeprefix(".")


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
