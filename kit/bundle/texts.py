"""Every text a results tarball sends, member by member, as `verify --show-sent` prints it (issue 89, item 3): so a
user reads, before sending it, each word the lead will receive. A JSON member's each text value by its dotted key, a
log's or any text file's lines, a table's (parquet) texts (each column's distinct values and the file's metadata), a
model's (ONNX) metadata and names, the report's visible text; a member of another kind by its size."""

from __future__ import annotations

import html.parser
import json
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from kit.infra.interrupts import check
from kit.infra.outside import load_json


class MemberTexts(NamedTuple):
    member: str  # its path in the tarball, below the top folder
    kind: str  # what its lines are
    lines: list[str]


def json_texts(doc: object, at: str = "") -> Iterator[str]:
    """`key.path: value` for each text of a JSON document (a key that is no identifier as `["key"]`)."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            name = str(key)
            yield from json_texts(value, (f"{at}.{name}" if at else name) if name.isidentifier()
                                  else f"{at}[{json.dumps(name)}]")
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from json_texts(value, f"{at}[{i}]")
    elif isinstance(doc, str):
        yield f"{at}: {doc}"


class _Text(html.parser.HTMLParser):
    """The text a browser shows of a page, and the text of its attributes (a title, an alt)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in ("style", "script")
        self.found += [f"[{tag} {name}] {value}" for name, value in attrs
                       if value and name in ("title", "alt", "aria-label", "href")]

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("style", "script") and self._skip > 0

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.found.append(" ".join(data.split()))


def parquet_texts(path: Path, arc: str) -> list[str]:
    import pyarrow as pa

    from kit.infra.parquet import read_parquet

    table = read_parquet(path, label=arc, max_rows=None)
    lines = [f"metadata {key.decode('utf-8', 'replace')}: {value.decode('utf-8', 'replace')}"
             for key, value in (table.schema.metadata or {}).items()]
    for name in table.column_names:
        column = table.column(name)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type) or \
                pa.types.is_dictionary(column.type):
            values = sorted({str(v) for v in column.to_pylist() if v is not None})
            lines += [f"{name}: {value}" for value in values]
    return lines


def onnx_texts(path: Path) -> list[str]:
    try:
        import onnx
    except ImportError:
        return ["(an ONNX model: the onnx package, which reads it, cannot be imported here)"]
    model = onnx.load_model_from_string(path.read_bytes())
    graph = model.graph
    said = [("producer", model.producer_name), ("doc", model.doc_string), ("graph", graph.name),
            ("graph doc", graph.doc_string), *((f"metadata {p.key}", p.value) for p in model.metadata_props),
            *(("node", n.name) for n in graph.node), *(("input", i.name) for i in graph.input),
            *(("output", o.name) for o in graph.output), *(("initializer", i.name) for i in graph.initializer)]
    return [f"{what}: {text}" for what, text in said if text]


def member_texts(path: Path, arc: str) -> MemberTexts:
    """What `path` (the member `arc`) sends as text."""
    check()
    if arc.endswith(".json"):
        return MemberTexts(arc, "JSON: each text by its key", list(json_texts(load_json(path.read_bytes()))))
    if arc.endswith(".parquet"):
        return MemberTexts(arc, "table: its metadata and each text column's values", parquet_texts(path, arc))
    if arc.endswith(".onnx"):
        return MemberTexts(arc, "model: its metadata and names", onnx_texts(path))
    if arc.endswith(".html"):
        page = _Text()
        page.feed(path.read_text(encoding="utf-8", errors="replace"))
        return MemberTexts(arc, "report: the text a browser shows, and its titles and links", page.found)
    data = path.read_bytes()
    if b"\0" in data[:4096]:
        return MemberTexts(arc, f"binary: {len(data):,} bytes", [])
    return MemberTexts(arc, "text: every line", data.decode("utf-8", "replace").splitlines())
