"""The bash kit's JSONL rows, read into the schema-1 layout.

One JSON object per line with at least `src, encoder, cq, enc_bytes,
enc_time_ms, frame_index, vmaf, adm2, vif_scale0..3, motion2`. Any other
schema-1 column a row carries (preset, device, box_id, width, ...) is kept.

Content identity: those rows carry no hash of the clip bytes, so a row
without `src_sha256` gets

    src_sha256 = sha256_hex(UTF-8 bytes of "bash-kit-jsonl:" + src)

i.e. `printf 'bash-kit-jsonl:%s' "$src" | sha256sum`. It is a hash of the
*name*, namespaced so that it can never equal a content hash: such rows
de-duplicate only against other JSONL rows of the same source name, and a
JSONL source is its own LOSO fold even when a shard holds the same content
under its real sha256. A row that does carry a 64-hex `src_sha256` keeps it.
Missing provenance becomes: preset "", quality_args "", enc_pix_fmt ""
(not recorded), device "unknown", box_id "bash-kit", platform "unknown",
ffmpeg_version "unknown", teacher_model "vmaf_v0.6.1"; width, height, fps,
pix_fmt and bitrate_kbps stay null.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from kit.corpus.jobs import SCHEMA
from kit.errors import InputError
from kit.media.libvmaf import FEATURES, TEACHER_MODEL

JSONL_REQUIRED = ("src", "encoder", "cq", "enc_bytes", "enc_time_ms", "frame_index", "vmaf", *FEATURES)
JSONL_NAMESPACE = "bash-kit-jsonl:"
JSONL_DEFAULTS: dict[str, object] = {
    "preset": "", "quality_args": "", "enc_pix_fmt": "", "device": "unknown", "box_id": "bash-kit",
    "platform": "unknown",
    "ffmpeg_version": "unknown", "teacher_model": TEACHER_MODEL,
}
HINT = "each line must be one JSON object with " + ", ".join(JSONL_REQUIRED)


def jsonl_src_sha256(src: str) -> str:
    """The content identity of a bash-kit source: a namespaced hash of its name."""
    return hashlib.sha256((JSONL_NAMESPACE + src).encode("utf-8")).hexdigest()


def _parse_lines(path: Path) -> tuple[list[dict[str, object]], list[int]]:
    rows: list[dict[str, object]] = []
    lines: list[int] = []
    try:
        with open(path, encoding="utf-8") as fh:
            for lineno, text in enumerate(fh, 1):
                if not text.strip():
                    continue
                try:
                    obj = json.loads(text)
                except ValueError as exc:
                    raise InputError(f"{path}: line {lineno}: not valid JSON ({exc})", hint=HINT) from None
                if not isinstance(obj, dict):
                    raise InputError(f"{path}: line {lineno}: a JSON {type(obj).__name__}, not an object", hint=HINT)
                rows.append(obj)
                lines.append(lineno)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason})", hint=HINT) from None
    if not rows:
        raise InputError(f"{path}: holds no rows", hint=HINT)
    return rows, lines


def _kind(typ: pa.DataType) -> str:
    if pa.types.is_string(typ):
        return "text"
    return "whole number" if pa.types.is_integer(typ) else "number"


def _fits(value: object, kind: str) -> bool:
    if kind == "text":
        return isinstance(value, str)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return kind == "number" or float(value).is_integer()


def _column(rows: list[dict[str, object]], lines: list[int], name: str, path: Path) -> pa.Array:
    typ = SCHEMA.field(name).type
    values = [r.get(name) for r in rows]
    if name in JSONL_DEFAULTS:
        default = JSONL_DEFAULTS[name]
        values = [default if v is None else v for v in values]
    kind = _kind(typ)
    required = name in JSONL_REQUIRED
    allowed = {str} if kind == "text" else {int} if kind == "whole number" else {int, float}
    if not set(map(type, values)) <= (allowed if required else allowed | {type(None)}):
        _raise_first_misfit(values, lines, name, kind, required, path)  # the slow scan runs on the error path only
    try:
        return pa.array(values, type=typ)
    except (pa.ArrowInvalid, OverflowError):
        limit = 2 ** (typ.bit_width - 1)
        i = next(i for i, v in enumerate(values) if v is not None and abs(float(v)) >= limit)  # type: ignore[arg-type]
        raise InputError(f"{path}: line {lines[i]} column {name!r}: {values[i]!r} is out of range", hint=HINT) from None


def _raise_first_misfit(values: list[object], lines: list[int], name: str, kind: str, required: bool,
                        path: Path) -> None:
    for i, v in enumerate(values):
        if v is None and required:
            raise InputError(f"{path}: line {lines[i]} column {name!r}: missing", hint=HINT)
        if v is not None and not _fits(v, kind):
            raise InputError(f"{path}: line {lines[i]} column {name!r}: {v!r} is not a {kind}", hint=HINT)


def _identity(src: pa.Array | pa.ChunkedArray, given: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """`given` where a row carried src_sha256, else the namespaced hash of its name."""
    names = pc.unique(src)
    hashes = pa.array([jsonl_src_sha256(n) for n in names.to_pylist()], type=pa.string())
    return pc.coalesce(given, hashes.take(pc.index_in(src, value_set=names)))


def read_jsonl_fast(path: Path) -> pa.Table | None:
    """The same table as read_jsonl, parsed by Arrow; None when anything is off (read_jsonl then names it)."""
    options = pajson.ParseOptions(explicit_schema=SCHEMA, unexpected_field_behavior="ignore")
    try:
        table = pajson.read_json(path, parse_options=options)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OSError):
        return None
    if table.num_rows == 0 or any(table[c].null_count for c in JSONL_REQUIRED):
        return None
    cols = {n: pc.fill_null(table[n], JSONL_DEFAULTS[n]) if n in JSONL_DEFAULTS else table[n] for n in SCHEMA.names}
    cols["src_sha256"] = _identity(cols["src"], cols["src_sha256"])
    return pa.table(cols, schema=SCHEMA)


def read_jsonl(path: Path) -> tuple[pa.Table, Callable[[int], str]]:
    """(rows as a schema-1 table, row index -> "line N") of a bash-kit JSONL file."""
    rows, lines = _parse_lines(path)
    cols = {name: _column(rows, lines, name, path) for name in SCHEMA.names}
    cols["src_sha256"] = _identity(cols["src"], cols["src_sha256"])
    line_of = np.asarray(lines)
    return pa.table(cols, schema=SCHEMA), lambda i: f"line {int(line_of[i])}"
