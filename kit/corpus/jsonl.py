"""The bash kit's JSONL rows (one JSON object per line with at least JSONL_REQUIRED), read into a job's layout; missing
provenance becomes JSONL_DEFAULTS, a missing `src_sha256` the namespaced hash of the name (docs/reference/files.md).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from kit.corpus.schema import JOB_SCHEMA as SCHEMA
from kit.corpus.schema import NO_DEVICE
from kit.errors import InputError
from kit.infra.interrupts import check
from kit.infra.limits import MAX_CORPUS_ROWS, MAX_JSONL_BYTES, human_bytes
from kit.infra.outside import load_json
from kit.media.libvmaf import TEACHER_MODEL

# the bash kit's rows carry these six features, and always will: its format does not move with the kit's; a
# contract copy spelled here (tests/unit/test_model_contract.py checks it against kit.media.libvmaf.TABLE)
JSONL_FEATURES: tuple[str, ...] = ("adm2", "vif_scale0", "vif_scale1", "vif_scale2", "vif_scale3", "motion2")
JSONL_REQUIRED = ("src", "encoder", "cq", "enc_bytes", "enc_time_ms", "frame_index", "vmaf", *JSONL_FEATURES)
JSONL_NAMESPACE = "bash-kit-jsonl:"
JSONL_DEFAULTS: dict[str, object] = {
    "preset": "", "quality_args": "", "enc_pix_fmt": "", "scaler_down": "", "scaler_up": "", "device": NO_DEVICE,
    "box_id": "bash-kit",
    "platform": "unknown",
    "ffmpeg_version": "unknown", "teacher_model": TEACHER_MODEL, "teacher_sha256": "",
}
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
HINT = "each line must be one JSON object with " + ", ".join(JSONL_REQUIRED)


def jsonl_src_sha256(src: str) -> str:
    """The content identity of a bash-kit source: a namespaced hash of its name."""
    return hashlib.sha256((JSONL_NAMESPACE + src).encode("utf-8")).hexdigest()


def check_size(path: Path) -> None:
    """A JSONL file over MAX_JSONL_BYTES refused before any of it is read."""
    if (size := path.stat().st_size) > MAX_JSONL_BYTES:
        raise InputError(f"{path}: {human_bytes(size)}, over the limit of {human_bytes(MAX_JSONL_BYTES)} per JSONL "
                         "file (nothing was read)", hint="split the file, or convert it with the kit in parts")


def _surrogate(value: object) -> bool:
    """A lone UTF-16 surrogate anywhere in a parsed JSON value (a legal JSON escape UTF-8 cannot hold)."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _parse_lines(path: Path) -> tuple[list[dict[str, object]], list[int]]:
    rows: list[dict[str, object]] = []
    lines: list[int] = []
    check_size(path)
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            check()  # a stop signal between two lines
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"{path}: line {lineno}: not UTF-8 text ({exc.reason} at byte {exc.start})",
                                 hint=HINT) from None
            if not text.strip():
                continue
            try:
                obj = load_json(text)
            except ValueError as exc:  # JsonRefused: not JSON, or nested too deep
                raise InputError(f"{path}: line {lineno}: not valid JSON ({exc})", hint=HINT) from None
            if not isinstance(obj, dict):
                raise InputError(f"{path}: line {lineno}: a JSON {type(obj).__name__}, not an object", hint=HINT)
            if SURROGATE_ESCAPE.search(text) and _surrogate(obj):
                raise InputError(f"{path}: line {lineno}: a lone surrogate escape (\\ud800 to \\udfff without "
                                 "its pair), not text", hint=HINT)
            rows.append(obj)
            lines.append(lineno)
            if len(rows) > MAX_CORPUS_ROWS:
                raise InputError(f"{path}: more than {MAX_CORPUS_ROWS} rows, over the limit per corpus file",
                                 hint="split the file")
    if not rows:
        raise InputError(f"{path}: holds no rows", hint=HINT)
    return rows, lines


def _fits(value: object, kind: str) -> bool:
    if kind == "text":
        return isinstance(value, str)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return kind == "number" or isinstance(value, int) or value.is_integer()


def _out_of_range(value: object, typ: pa.DataType) -> bool:
    """An integer too large for the column's type (a float64 holds up to about 1.8e308)."""
    if not isinstance(value, int) or isinstance(value, bool):
        return False
    if pa.types.is_integer(typ):
        return not -(2 ** (typ.bit_width - 1)) <= value < 2 ** (typ.bit_width - 1)
    try:
        float(value)
    except OverflowError:
        return True
    return False


def _column(rows: list[dict[str, object]], lines: list[int], name: str, path: Path) -> pa.Array:
    typ = SCHEMA.field(name).type
    default = JSONL_DEFAULTS.get(name)
    values = [default if (v := r.get(name)) is None else v for r in rows]
    kind = "text" if pa.types.is_string(typ) else "whole number" if pa.types.is_integer(typ) else "number"
    required = name in JSONL_REQUIRED
    allowed = {str} if kind == "text" else {int} if kind == "whole number" else {int, float}
    if not set(map(type, values)) <= (allowed if required else allowed | {type(None)}):
        _raise_first_misfit(values, lines, name, kind, required, path)  # the slow scan runs on the error path only
    try:
        return pa.array(values, type=typ)
    except (pa.ArrowInvalid, OverflowError):
        i = next((i for i, v in enumerate(values) if _out_of_range(v, typ)), -1)
        if i < 0:
            raise InputError(f"{path}: column {name!r}: a value does not fit {typ}", hint=HINT) from None
        shown = repr(values[i]) if len(repr(values[i])) <= 40 else f"a {len(repr(values[i]))}-digit integer"
        raise InputError(f"{path}: line {lines[i]} column {name!r}: {shown} is out of range", hint=HINT) from None


def _raise_first_misfit(values: list[object], lines: list[int], name: str, kind: str, required: bool,
                        path: Path) -> None:
    for i, v in enumerate(values):
        if v is None and required:
            raise InputError(f"{path}: line {lines[i]} column {name!r}: missing", hint=HINT)
        if v is not None and not _fits(v, kind):
            raise InputError(f"{path}: line {lines[i]} column {name!r}: {v!r} is not a {kind}", hint=HINT)


def _table(cols: dict[str, pa.Array | pa.ChunkedArray]) -> pa.Table:
    """The rows, each src_sha256 the one it carried, else the namespaced hash of its name."""
    names = pc.unique(cols["src"])
    hashes = pa.array([jsonl_src_sha256(n) for n in names.to_pylist()], type=pa.string())
    cols["src_sha256"] = pc.coalesce(cols["src_sha256"], hashes.take(pc.index_in(cols["src"], value_set=names)))
    return pa.table(cols, schema=SCHEMA)


def read_jsonl_fast(path: Path) -> pa.Table | None:
    """The same table as read_jsonl, parsed by Arrow; None when anything is off."""
    options = pajson.ParseOptions(explicit_schema=SCHEMA, unexpected_field_behavior="ignore")
    try:
        check_size(path)
        table = pajson.read_json(path, parse_options=options)
        table.validate(full=True)  # Arrow's parser passes invalid UTF-8 (and lone surrogates) through
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OSError):
        return None
    if table.num_rows == 0 or any(table[c].null_count for c in JSONL_REQUIRED):
        return None
    return _table({n: pc.fill_null(table[n], JSONL_DEFAULTS[n]) if n in JSONL_DEFAULTS else table[n]
                   for n in SCHEMA.names})


def read_jsonl(path: Path) -> tuple[pa.Table, Callable[[int], str]]:
    """(rows as a schema-1 table, row index -> "line N") of a bash-kit JSONL file."""
    rows, lines = _parse_lines(path)
    table = _table({name: _column(rows, lines, name, path) for name in SCHEMA.names})
    line_of = np.asarray(lines)
    return table, lambda i: f"line {int(line_of[i])}"
