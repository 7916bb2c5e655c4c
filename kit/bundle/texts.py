"""Every text a results tarball sends, checked by its kind (issue 96): each member read as what it is (a JSON record
or document by its shape, kit.bundle.catalogue; a table's text columns and metadata; a model's names and metadata; a
step log's lines) into its texts, each with the field that holds it, its kind and whether the kind admits it. `verify
--show-sent` prints them; `verify` and `merge` refuse a tarball holding a text no kind admits (`problems`), the box
withholds one before it is sent (`withheld`). A text is checked against the names the tarball is about (its clips,
sources and boxes: `names_of`), taken from the fields that name them first, so a name found only elsewhere is none.
"""

from __future__ import annotations

import dataclasses
import json
import re
import typing
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from kit.bundle import catalogue as cat
from kit.infra.interrupts import check
from kit.infra.kinds import WITHHELD, Exact, Kind, Names
from kit.infra.limits import MAX_GROWING_JSON_BYTES, MAX_JSON_BYTES
from kit.infra.outside import load_json
from kit.infra.records import Record, _arms, _hints


class SentText(NamedTuple):
    """One text of a member: where it lies, the kind its field declares ("" where none is) and whether it admits it."""

    member: str  # its path in the tarball, below the top folder
    field: str  # the dotted key of a JSON text (`{key}` after a key: the key itself), a log's `line N`, a column
    kind: str
    value: str
    admitted: bool

    def line(self) -> str:
        """As `verify --show-sent` prints it."""
        mark = "" if self.admitted else "  <- no kind admits it"
        return f"{self.field}  [{self.kind or 'no kind declared'}]  {json.dumps(self.value, ensure_ascii=False)}{mark}"


# ------------------------------------------------------------------------------------------------------- shapes
class _Obj(NamedTuple):
    keys: dict[str, Any]  # literal key -> shape
    rest: tuple[tuple[Kind, Any], ...]  # (a key's kind, its value's shape) for any other key


def _compiled(shape: Any) -> Any:
    """A shape of the catalogue's notation made ready to walk: a dict as _Obj, a list as ("list", item), a Record class
    as its _Obj (made once per class)."""
    if isinstance(shape, type) and issubclass(shape, Record):
        return record_shape(shape)
    if isinstance(shape, dict):
        return _Obj({k: v for k, v in shape.items() if isinstance(k, str)},
                    tuple((k, v) for k, v in shape.items() if isinstance(k, Kind)))
    if isinstance(shape, list):
        return ("list", shape[0])
    return shape


def record_shape(cls: type[Record]) -> _Obj:
    """A record's shape (record_shape_of, made once per class)."""
    if cls not in _SHAPES:
        _SHAPES[cls] = record_shape_of(cls)
    return _SHAPES[cls]


_SHAPES: dict[type, _Obj] = {}


def record_shape_of(cls: type[Record]) -> _Obj:
    """A record's shape: each field's entry in FIELDS, else what its type is (a record, a list of them, a number);
    KeyError naming the field where a field of text has no entry."""
    declared = cat.FIELDS.get(cls, {})
    keys: dict[str, Any] = {"schema_version": cat.NUM}
    rest: tuple[tuple[Kind, Any], ...] = ()
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        shape = declared.get(f.name)
        if shape is None:
            shape = _of_type(hints[f.name], f"{cls.__name__}.{f.name}")
        if f.metadata.get("flatten"):
            flat = _compiled(shape)
            keys.update(flat.keys)
            rest += flat.rest
        else:
            keys[f.name] = shape
    keys.update({k: Exact(f"{cls.__name__}.{k}", [v]) if isinstance(v, str) else cat.NUM
                 for k, v in cls.WRITTEN.items()})
    return _Obj(keys, rest)


def _of_type(tp: Any, where: str) -> Any:
    """The shape a field's type gives by itself: a number, a record, a list of those; KeyError for text."""
    real = [a for a in _arms(tp) if a is not type(None)]
    if len(real) == 1:
        one, origin = real[0], typing.get_origin(real[0])
        if one in (int, float, bool):
            return cat.NUM
        if isinstance(one, type) and issubclass(one, Record):
            return one
        if origin in (list, tuple) and typing.get_args(one):
            return [_of_type(typing.get_args(one)[0], where)]
    raise KeyError(f"{where}: a field that may hold text declares no kind in kit.bundle.catalogue.FIELDS")


def walk(doc: object, shape: Any, names: Names, at: str = "") -> Iterator[tuple[str, Kind | None, str, bool]]:
    """(field, kind, text, admitted) for each text of `doc` (a JSON value) against `shape`; a text where the shape
    declares none (a key it does not know, a text where a number is) with kind None, never admitted."""
    shape = _compiled(shape)
    if isinstance(doc, str):
        kind = shape if isinstance(shape, Kind) else None
        yield at, kind, doc, kind is not None and kind.admits(doc, names)
    elif isinstance(doc, dict):
        obj = shape if isinstance(shape, _Obj) else _Obj({}, ())
        for key, value in doc.items():
            here = f"{at}.{key}" if at else str(key)
            if key in obj.keys:
                yield from walk(value, obj.keys[key], names, here)
                continue
            by = next(((k, s) for k, s in obj.rest if k.admits(str(key), names)), None)
            if by is None:
                yield f"{here}{{key}}", None, str(key), False
                yield from walk(value, None, names, here)
            else:
                yield f"{here}{{key}}", by[0], str(key), True
                yield from walk(value, by[1], names, here)
    elif isinstance(doc, list):
        item = shape[1] if isinstance(shape, tuple) and shape and shape[0] == "list" else \
            shape if isinstance(shape, Kind) else None
        for i, value in enumerate(doc):
            yield from walk(value, item, names, f"{at}[{i}]")


def withheld(doc: object, shape: Any, names: Names) -> object:
    """`doc` with each text its shape's kind does not admit replaced by WITHHELD (a key none admits: its entry left
    out), as the box sends it."""
    shape = _compiled(shape)
    if isinstance(doc, str):
        return doc if isinstance(shape, Kind) and shape.admits(doc, names) else WITHHELD
    if isinstance(doc, dict):
        obj = shape if isinstance(shape, _Obj) else _Obj({}, ())
        out = {}
        for key, value in doc.items():
            if key in obj.keys:
                out[key] = withheld(value, obj.keys[key], names)
            elif (by := next((s for k, s in obj.rest if k.admits(str(key), names)), None)) is not None:
                out[key] = withheld(value, by, names)
        return out
    if isinstance(doc, list):
        item = shape[1] if isinstance(shape, tuple) and shape and shape[0] == "list" else \
            shape if isinstance(shape, Kind) else None
        return [withheld(v, item, names) for v in doc]
    return doc


# ----------------------------------------------------------------------------------------------------- members
def json_members(top: Path, members: list[str]) -> dict[str, Any]:
    """Each JSON member's document, read once (one not JSON: absent)."""
    docs: dict[str, Any] = {}
    for arc in members:
        if arc.endswith(".json") and (top / arc).is_file():
            try:
                docs[arc] = load_json((top / arc).read_bytes(), json_limit(arc))
            except ValueError:
                continue
    return docs


def names_of(docs: Mapping[str, Any]) -> Names:
    """The names the tarball is about, from the fields that name them first (kit.bundle.catalogue.ROOTS): its clips
    (the shard manifest's sources and left-out clips, skipped.json's), its sources and its boxes."""
    found: dict[str, set[str]] = {"clips": set(), "sources": set(), "boxes": set()}
    for arc, doc in docs.items():
        shape = cat.shape_of(arc)
        if shape is None:
            continue
        for _, kind, text, admitted in walk(doc, shape, Names()):
            root = kind if kind in cat.ROOTS else next(  # a root, or one of an Either's that admits the text
                (k for k in getattr(kind, "kinds", ()) if k in cat.ROOTS and k.admits(text)), None)
            if root is not None and admitted and text != WITHHELD:
                found[cat.ROOTS[root]].add(cat.root_name(root, text))
    return Names(frozenset(found["clips"]), frozenset(found["sources"]), frozenset(found["boxes"]))


def member_texts(top: Path, arc: str, names: Names, docs: Mapping[str, Any] | None = None) -> list[SentText]:
    """Every text of member `arc` (under `top`), each with its field, kind and whether it is admitted."""
    check()
    path = top / arc
    found: list[tuple[str, Kind | None, str, bool]]
    if (shape := cat.shape_of(arc)) is not None:
        doc = docs[arc] if docs is not None and arc in docs else load_json(path.read_bytes(), json_limit(arc))
        found = list(walk(doc, shape, names))
    elif arc.endswith(".parquet"):
        found = list(parquet_texts(path, arc, names))
    elif arc.endswith(".onnx"):
        found = list(onnx_texts(path, names))
    elif cat.is_log(arc):
        found = list(log_texts(path, names))
    else:
        found = [("", None, f"a member the catalogue has no shape for ({path.stat().st_size} bytes)", False)]
    return [SentText(arc, f, (k.named(v, names) if ok else k.name) if k is not None else "", v, ok)
            for f, k, v, ok in found]


def parquet_texts(path: Path, arc: str, names: Names) -> Iterator[tuple[str, Kind | None, str, bool]]:
    """A table's texts: its columns' names, each text column's distinct values, its metadata (key and value) and
    its writer (parquet's created_by)."""
    import pyarrow.parquet as pq

    columns = cat.columns_of(arc)
    with path.open("rb") as fh:  # Python's open: a path of any bytes (pyarrow's need UTF-8); a row group at a time
        yield from table_texts(pq.ParquetFile(fh), columns, names)


def table_texts(table: Any, columns: dict[str, Kind | None], names: Names,
                ) -> Iterator[tuple[str, Kind | None, str, bool]]:
    """parquet_texts of an open file (`table`, a pyarrow ParquetFile): its footer read once."""
    import pyarrow as pa

    created_by = table.metadata.created_by or ""
    yield "created_by", cat.PARQUET_WRITER, created_by, cat.PARQUET_WRITER.admits(created_by)
    schema = table.schema_arrow
    for key, value in (schema.metadata or {}).items():
        k, v = key.decode("utf-8", "replace"), value.decode("utf-8", "replace")
        shape = cat.PARQUET_METADATA.get(k)
        yield f"metadata{{{k}}}", cat.METADATA_KEY if shape is not None else None, k, shape is not None
        if shape is not None:
            try:
                doc = load_json(value)
            except ValueError:
                yield f"metadata.{k}", None, v, False
                continue
            yield from walk(doc, cat.pandas_shape(schema.names) if shape == "pandas" else shape, names,
                            f"metadata.{k}")
    for name, type_ in zip(schema.names, schema.types, strict=True):
        kind = columns.get(name)
        yield f"column{{{name}}}", cat.COLUMN_NAME, name, cat.COLUMN_NAME.admits(name, names)
        if not (pa.types.is_string(type_) or pa.types.is_large_string(type_) or pa.types.is_dictionary(type_)):
            continue
        for value in sorted(distinct_texts(table, name)):
            yield name, kind, value, kind is not None and kind.admits(value, names)


def distinct_texts(table: Any, name: str) -> set[str]:
    """A text column's distinct values (no null) in a parquet file (`table`, a pyarrow ParquetFile), read a row group
    at a time, each part's distinct values alone made Python strings: the column whole, a string a row, was the
    bundle's peak at 10,000 contents (15,000,000 rows of held-out predictions, bench/README.md#scale-10000)."""
    found: set[str] = set()
    for group in range(table.metadata.num_row_groups):
        for chunk in table.read_row_group(group, columns=[name]).column(0).chunks:
            found.update(str(v) for v in chunk.unique().to_pylist() if v is not None)
    return found


def onnx_texts(path: Path, names: Names) -> Iterator[tuple[str, Kind | None, str, bool]]:
    """A model's texts: its producer, its graph's name, every node's and tensor's name, op, attribute and doc string,
    its metadata (key and value), its opsets' domains."""
    import onnx

    model = onnx.load_model_from_string(path.read_bytes())
    for field, kind, text in (*_model_said(model), *_graph_said(model.graph)):
        if text or kind is not cat.NOTHING:
            yield field, kind, text, kind.admits(text, names)


def _model_said(model: Any) -> list[tuple[str, Kind, str]]:
    meta = {p.key: p.value for p in model.metadata_props}
    return [("producer_name", cat.ONNX_PRODUCER, model.producer_name),
            ("producer_version", cat.ONNX_VERSION, model.producer_version), ("domain", cat.NOTHING, model.domain),
            ("doc_string", cat.NOTHING, model.doc_string),
            *((f"opset_import[{i}].domain", cat.NOTHING, o.domain) for i, o in enumerate(model.opset_import)),
            *((f"metadata{{{k}}}", cat.ONNX_METADATA_KEY, k) for k in meta),
            *((f"metadata.{k}", cat.ONNX_METADATA.get(k, cat.NO_KIND), v) for k, v in meta.items())]


def _graph_said(graph: Any) -> list[tuple[str, Kind, str]]:
    said: list[tuple[str, Kind, str]] = [("graph.name", cat.ONNX_GRAPH, graph.name),
                                         ("graph.doc_string", cat.NOTHING, graph.doc_string)]
    for i, n in enumerate(graph.node):
        said += [(f"node[{i}].name", cat.ONNX_NODE_NAME, n.name), (f"node[{i}].op_type", cat.ONNX_OP, n.op_type),
                 (f"node[{i}].domain", cat.NOTHING, n.domain), (f"node[{i}].doc_string", cat.NOTHING, n.doc_string),
                 *((f"node[{i}].input", cat.ONNX_TENSOR, t) for t in n.input),
                 *((f"node[{i}].output", cat.ONNX_TENSOR, t) for t in n.output),
                 *((f"node[{i}].attribute", cat.ONNX_ATTRIBUTE, a.name) for a in n.attribute),
                 *((f"node[{i}].attribute.{a.name}.s", cat.NOTHING, a.s.decode("utf-8", "replace"))
                   for a in n.attribute if a.s)]
    for what, tensors in (("input", graph.input), ("output", graph.output), ("initializer", graph.initializer),
                          ("value_info", graph.value_info)):
        said += [(f"{what}[{i}].name", cat.ONNX_TENSOR, t.name) for i, t in enumerate(tensors)]
    for what, tensors in (("input", graph.input), ("output", graph.output)):
        said += [(f"{what}[{i}].shape[{j}]", cat.ONNX_DIM, d.dim_param) for i, t in enumerate(tensors)
                 for j, d in enumerate(t.type.tensor_type.shape.dim) if d.dim_param]
    return said


def log_texts(path: Path, names: Names) -> Iterator[tuple[str, Kind | None, str, bool]]:
    """A step log's sent twin: each line, a catalogued one (kit.bundle.catalogue.LOG_LINE)."""
    for i, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        yield f"line {i}", cat.LOG_LINE, line, cat.LOG_LINE.admits(line, names)


def sent_texts(top: Path, members: list[str]) -> tuple[Names, list[SentText]]:
    """The tarball's names and every text of every member of `members` (below `top`)."""
    docs = json_members(top, members)
    names = names_of(docs)
    return names, [t for arc in members for t in member_texts(top, arc, names, docs)]


def problems(texts: list[SentText]) -> list[str]:
    """Each text no kind admits, as `verify` and `merge` name it: the member and the field."""
    return [f"{t.member}: {t.field} holds a text no kind of the catalogue admits"
            + (f" ({t.kind})" if t.kind else " (no kind declared there)") for t in texts if not t.admitted]


def json_limit(arc: str) -> int:
    """The bytes of JSON member `arc` the kit reads: for the records whose lists grow with the union (the verdict, 79 MB
    at 10,000 contents, which the general bound refused, exit 70; LOSO's seed reports and baselines, 42 and 171 MB at
    50,000) their own bound, the kit's for the rest."""
    from kit.rundir import LAYOUT, SEED_FILE, VERDICTS

    growing = {LAYOUT.rel(LAYOUT.verdict_file(v)) for v in VERDICTS} | {LAYOUT.rel(LAYOUT.baselines)}
    loso = LAYOUT.rel(LAYOUT.step("loso"))
    seed = arc.startswith(f"{loso}/") and SEED_FILE.fullmatch(arc[len(loso) + 1:]) is not None
    return MAX_GROWING_JSON_BYTES if arc in growing or seed else MAX_JSON_BYTES


class NotCatalogued(RuntimeError):
    """A table or a model the kit made holds a text no kind of the catalogue admits: a bug of the kit's (its bytes are
    sent as they are, so no text of them can be withheld)."""


def checked_members(read: Callable[[str], bytes], members: list[str], built: Mapping[str, bytes]
                    ) -> tuple[dict[str, bytes], Names]:
    """What the box sends of `members` (each member's bytes: `built`'s, else `read(arc)`), every text checked by its
    kind against the tarball's names: a JSON member holding one no kind admits sent with WITHHELD in its place (and a
    key no kind admits left out), a step log's line no message of the catalogue matches as WITHHELD after its time,
    each changed or rebuilt member in the result; and the names of the JSON members as sent, which the tables and
    models (sent as they are) are checked against (check_tables). Each member read and parsed once."""
    docs = {arc: load_json(built[arc] if arc in built else read(arc), json_limit(arc)) for arc in members
            if arc.endswith(".json")}
    names = names_of(docs)
    out: dict[str, bytes] = {}
    for arc, doc in docs.items():
        shape = cat.shape_of(arc)
        if shape is not None and not all(ok for *_, ok in walk(doc, shape, names)):
            docs[arc] = withheld(doc, shape, names)
            out[arc] = (json.dumps(docs[arc], indent=2) + "\n").encode()
    for arc in members:
        if cat.is_log(arc):
            data = built[arc] if arc in built else read(arc)
            out[arc] = "".join(f"{line}\n" if cat.LOG_LINE.admits(line, names) else f"{withheld_line(line)}\n"
                               for line in data.decode("utf-8", "replace").splitlines()).encode()
    return out, names_of(docs)


def withheld_line(line: str) -> str:
    """A log line no message matches, as it is sent: its time (or its indent) and WITHHELD."""
    head = line[:9] if re.match(r"\d\d:\d\d:\d\d ", line) else "    " if line.startswith("    ") else ""
    return f"{head}{WITHHELD}"


def check_tables(files: Mapping[str, Path], names: Names) -> None:
    """NotCatalogued, naming the member and the field, for a table or a model of `files` (archive path -> file)
    holding a text no kind admits, against the names of the JSON members as sent (checked_members')."""
    for arc, path in files.items():
        if arc.endswith((".parquet", ".onnx")):
            for t in member_texts(path.parent, path.name, names):
                if not t.admitted:
                    raise NotCatalogued(f"{arc}: {t.field} holds {t.value!r}, which no kind of the catalogue admits "
                                        f"({t.kind or 'no kind declared'}): a bug of the kit's")


# ------------------------------------------------------------------------------------------- the catalogue, listed
def declared_fields() -> list[tuple[str, str, str]]:
    """(member, field, kind) for every place a member of a results tarball may hold a text, as the catalogue declares
    it (docs/reference/files.md lists them: `tools/sent_fields.py` writes the list): each JSON document's text
    fields (`a.b[]` a list's items, `a{key}` an object's keys of a kind), each table's text columns and metadata,
    each model's names and metadata, each log's lines. A field not listed holds a number, a boolean or null."""
    rows: list[tuple[str, str, str]] = []

    def fields(shape: Any, at: str, seen: frozenset[type]) -> Iterator[tuple[str, str]]:
        if isinstance(shape, type) and issubclass(shape, Record):
            if shape in seen:
                yield at, f"(as {shape.__name__} above)"
                return
            seen = seen | {shape}
        shape = _compiled(shape)
        if isinstance(shape, Kind):
            if shape is not cat.NUM:
                yield at, shape.name
        elif isinstance(shape, _Obj):
            for key, value in shape.keys.items():
                yield from fields(value, f"{at}.{key}" if at else key, seen)
            for key_kind, value in shape.rest:
                yield f"{at}{{key}}", key_kind.name
                yield from fields(value, f"{at}{{key}}", seen)
        elif isinstance(shape, tuple) and shape and shape[0] == "list":
            yield from fields(shape[1], f"{at}[]", seen)

    for pattern, shape in cat.DOCUMENTS:
        rows += [(pattern, f, k) for f, k in fields(shape, "", frozenset())]
    rows += [("*.parquet", "created_by", cat.PARQUET_WRITER.name), ("*.parquet", "column{name}", cat.COLUMN_NAME.name),
             *(("*.parquet", f"column {c}", k.name) for c, k in sorted(cat.TEXT_COLUMNS.items())),
             ("*.parquet", "metadata{key}", cat.METADATA_KEY.name),
             *(("*.parquet", f"metadata.pandas.{f}", k) for f, k in fields(cat.pandas_shape(["COLUMN"]), "",
                                                                             frozenset()))]
    rows += [("*.onnx", "producer_name", cat.ONNX_PRODUCER.name), ("*.onnx", "producer_version", cat.ONNX_VERSION.name),
             ("*.onnx", "graph.name", cat.ONNX_GRAPH.name), ("*.onnx", "node[].name", cat.ONNX_NODE_NAME.name),
             ("*.onnx", "node[].op_type", cat.ONNX_OP.name), ("*.onnx", "node[].input, node[].output, a tensor's name",
                                                              cat.ONNX_TENSOR.name),
             ("*.onnx", "node[].attribute", cat.ONNX_ATTRIBUTE.name), ("*.onnx", "input[].shape[]", cat.ONNX_DIM.name),
             ("*.onnx", "domain, doc_string (each)", cat.NOTHING.name),
             ("*.onnx", "metadata{key}", cat.ONNX_METADATA_KEY.name),
             *(("*.onnx", f"metadata.{k}", v.name) for k, v in cat.ONNX_METADATA.items())]
    rows += [("<step>/logs/<step>.log", "line N", cat.LOG_LINE.name)]
    return rows
