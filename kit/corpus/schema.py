"""The corpus schema (kit.corpus.manifests.SCHEMA_VERSION), one row per scored frame; the one check of its values
(`validate_table`, which every reader runs); and the corpus's identity (`corpus_sha256`).

A new column raises SCHEMA_VERSION and says how kit.corpus.inputs fills it for older files (its row in
docs/reference/files.md; tests/unit/test_model_contract.py pins the columns per version).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kit.corpus.columns import (
    CORPUS_FEATURES,
    EXTRA_FEATURES,
    PLAUSIBLE,
    TEACHER_FEATURES,
    VMAF_RANGE,
    implausible,
    range_problem,
)
from kit.errors import InputError
from kit.infra import typed
from kit.infra.parquet import parquet_columns, parquet_rows, read_parquet
from kit.infra.resources import give_back_memory
from kit.infra.rules import BOX_ID_PATTERN, BOX_ID_WORDS
from kit.media.pixfmt import typed_pix_fmt
from kit.platforms.encoders import ENCODER_NAMES

# what one job makes: a row per scored frame, of one clip
JOB_SCHEMA = pa.schema([
    ("src", pa.string()), ("src_sha256", pa.string()),
    ("encoder", pa.string()), ("preset", pa.string()), ("quality_args", pa.string()),
    ("cq", pa.int32()), ("frame_index", pa.int32()),
    *[(f, pa.float64()) for f in CORPUS_FEATURES],
    ("vmaf", pa.float64()),
    ("enc_bytes", pa.int64()), ("enc_time_ms", pa.float64()), ("bitrate_kbps", pa.float64()),
    ("width", pa.int32()), ("height", pa.int32()), ("fps", pa.float64()), ("pix_fmt", pa.string()),
    ("enc_pix_fmt", pa.string()),  # the encoded stream's format (pix_fmt is the reference's)
    # the encode's own size and the scalers of a ladder rung ("" for both at the reference's size)
    ("enc_width", pa.int32()), ("enc_height", pa.int32()), ("scaler_down", pa.string()), ("scaler_up", pa.string()),
    ("box_id", pa.string()), ("platform", pa.string()), ("device", pa.string()),
    ("ffmpeg_version", pa.string()), ("teacher_model", pa.string()),
    ("teacher_sha256", pa.string()),  # of a --teacher model file; "" for a libvmaf built-in
    *[(f, pa.float64()) for f in EXTRA_FEATURES],  # null where not measured
    *[(f, pa.float64()) for f in TEACHER_FEATURES],  # the teacher's own six (NEG's); null where it has none
])
JOB_COLUMNS = tuple(JOB_SCHEMA.names)
# a corpus row also names its content group (kit.corpus.contents): its own src_sha256 for a source in none
SCHEMA = JOB_SCHEMA.insert(2, pa.field("content", pa.string()))
COLUMNS = tuple(SCHEMA.names)
# the canonical order of a corpus's rows: a merge writes it, LOSO and the bundle's refit train in it
ROW_ORDER = ("src_sha256", "encoder", "preset", "device", "enc_pix_fmt", "enc_height", "enc_width", "scaler_down",
             "scaler_up", "cq", "frame_index")
TRAIN_COLUMNS = ("src", "src_sha256", "content", "encoder", "cq", "frame_index", *CORPUS_FEATURES, "vmaf")
# every row training reads carries its 0-based position in the corpus file it was read from
CORPUS_ROW = "corpus_row"
TEACHER_COLUMNS = ("teacher_model", "teacher_sha256")  # a corpus trains one teacher (kit.corpus.provenance)
VMAF_CEILING = VMAF_RANGE[1]  # VMAF_RANGE and PLAUSIBLE, each score's range, are declared in kit.corpus.columns
# the columns measured on some rows only, null on the others: each checked where it holds a value
PARTIAL = (*EXTRA_FEATURES, *TEACHER_FEATURES)

# measured on the box as the rows were made: left out of corpus_sha256
MEASURED_COLUMNS = ("enc_time_ms",)
CONTENT_COLUMNS = tuple(c for c in COLUMNS if c not in MEASURED_COLUMNS)
CONTENT_HASH_VERSION = "kit-corpus-content-v1"

REQUIRED = ("src", "src_sha256", "content", "encoder", "preset", "device", "cq", "frame_index", *CORPUS_FEATURES,
            "vmaf")
SCORES = (*CORPUS_FEATURES, "vmaf")
SHA_HEX = re.compile(r"^[0-9a-f]{64}$")
ROW = Callable[[int], str]


def _first(mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if len(hits) else None


def _bad(label: str, row: str, name: str, problem: str) -> InputError:
    return InputError(f"{label}: {row} column {name!r}: {problem}",
                      hint="fix or drop that row, or re-create the file with the kit")


def _rules(table: pa.Table) -> list[tuple[str, pa.ChunkedArray, str]]:
    rules: list[tuple[str, Callable[[pa.ChunkedArray], pa.ChunkedArray], str]] = [
        ("src", lambda c: pc.equal(pc.utf8_length(c), 0), "empty source name"),
        *((name, lambda c: pc.invert(pc.match_substring_regex(c, SHA_HEX.pattern)), "not 64 lowercase hex digits")
          for name in ("src_sha256", "content")),
        ("encoder", lambda c: pc.invert(pc.is_in(c, value_set=pa.array(ENCODER_NAMES))),
         "not an encoder the kit knows (" + ", ".join(ENCODER_NAMES) + ")"),
        ("frame_index", lambda c: pc.less(c, 0), "negative"),
        ("box_id", lambda c: pc.fill_null(pc.invert(pc.match_substring_regex(c, BOX_ID_PATTERN)), False),
         f"not {BOX_ID_WORDS}"),  # null: not recorded
    ]
    return [(name, per_value(mask, table[name]), problem) for name, mask, problem in rules
            if name in table.column_names]


def per_value(mask: Callable[[pa.ChunkedArray], pa.ChunkedArray], col: pa.ChunkedArray) -> pa.ChunkedArray:
    """A rule's mask of the rows: of a column of text held as a dictionary (a coded read), judged once a value and
    taken by each row's index, the same mask as of the text."""
    if not pa.types.is_dictionary(col.type):
        return mask(col)
    return pa.chunked_array([mask(pa.chunked_array([c.dictionary])).combine_chunks().take(c.indices)
                             for c in col.chunks], type=pa.bool_())


def validate_table(table: pa.Table, label: str, row_label: ROW = lambda i: f"row {i}") -> None:
    """Keys present and well-formed, scores finite and PLAUSIBLE (the columns it has); the first problem raised."""
    if table.num_rows == 0:
        raise InputError(f"{label}: holds no rows", hint="pass a corpus with scored frames")
    present = [c for c in REQUIRED if c in table.column_names]
    for name in present:
        if (i := _first(pc.is_null(table[name]).to_numpy(zero_copy_only=False))) is not None:
            # pandas writes a NaN float as null: for a score that is the value not being finite
            problem = "missing (null or NaN: not finite)" if name in SCORES else "missing (null)"
            raise _bad(label, row_label(i), name, problem)
    for name, mask, problem in _rules(table):
        if (i := _first(mask.to_numpy(zero_copy_only=False))) is not None:
            raise _bad(label, row_label(i), name, f"{table[name][i].as_py()!r} is {problem}")
    for name in (c for c in SCORES if c in present):
        values = table[name].to_numpy()
        if (i := _first(~np.isfinite(values))) is not None:
            raise _bad(label, row_label(i), name, f"{values[i]} is not finite")
    _check_plausible(table, present, label, row_label)


def _check_plausible(table: pa.Table, present: list[str], label: str, row_label: ROW) -> None:
    """Each score within its PLAUSIBLE range (kit.corpus.columns.implausible, the one judge of them); a measured
    extra feature (null where not measured) judged where it holds a value."""
    measured = [c for c in PARTIAL if c in table.column_names]
    for name in (c for c in PLAUSIBLE if c in present or c in measured):
        lo = PLAUSIBLE[name][0]
        values = pc.fill_null(table[name], lo).to_numpy() if name in measured else table[name].to_numpy()
        if (found := implausible(name, values)) is not None:
            raise _bad(label, row_label(found[0]), name, range_problem(name, found[1]))


def with_content(table: pa.Table, content_of: Mapping[str, str] | None = None) -> pa.Table:
    """The table with its `content` column (set, or replaced) from content_of (src_sha256 -> group)."""
    col = own = table["src_sha256"]
    if content_of:
        keys = pa.array(sorted(content_of))
        groups = pa.array([content_of[k] for k in keys.to_pylist()])
        col = pc.coalesce(pc.take(groups, pc.index_in(own, value_set=keys)), own)
    if "content" in table.column_names:
        return table.set_column(table.column_names.index("content"), "content", col)
    return table.add_column(table.column_names.index("src_sha256") + 1, "content", col)


def _string_codes(col: pa.ChunkedArray) -> tuple[list[str], np.ndarray]:
    """(the values in order of first appearance, each row's code, nulls 0), whatever dictionaries it carried."""
    col = (col if pa.types.is_dictionary(col.type) else pc.dictionary_encode(col)).unify_dictionaries()
    ix = np.concatenate([np.zeros(0, dtype=np.int64), *(
        pc.fill_null(c.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64) for c in col.chunks)])
    words = col.chunk(0).dictionary.to_pylist() if col.num_chunks else []
    used, first = np.unique(ix[ix >= 0], return_index=True)
    order = used[np.argsort(first, kind="stable")]
    lookup = np.zeros(max(len(words), 1), dtype=np.int64)
    lookup[order] = np.arange(len(order))
    return [words[i] for i in order], np.where(ix >= 0, lookup[np.maximum(ix, 0)], 0)


def _all_equal(a: pa.ChunkedArray, b: pa.ChunkedArray, rows: int = 1 << 20) -> bool:
    """Whether pc.all(pc.equal(a, b)) is true (nulls skipped; no row compared: not true), `rows` rows at a time: two
    columns of hashes compared whole were each made text, 2 GiB at 50,000 contents."""
    said = [pc.all(pc.equal(a.slice(at, rows), b.slice(at, rows))).as_py() for at in range(0, len(a), rows)]
    return False not in said and True in said


def _content_parts(read: Callable[[Sequence[str]], pa.Table], present: Sequence[str]) -> Iterator[bytes]:
    """Each content column of `present` as bytes that depend only on its values, in row order (nulls marked); `read`
    gives the columns asked for, a column (and the one it is compared with) at a time."""
    for name in (c for c in CONTENT_COLUMNS if c in present):
        table = read([name, "src_sha256"] if name == "content" else [name])
        col = table[name]
        if name == "content" and _all_equal(col, table["src_sha256"]):
            continue  # every source its own group: the identity of the same rows without the column (schema 2)
        del table
        if name == "teacher_sha256" and not pc.any(pc.not_equal(pc.fill_null(col, ""), "")).as_py():
            continue  # a built-in teacher everywhere: the identity of the same rows without the column (schema 3)
        if name in PARTIAL and col.null_count == len(col):
            continue  # not measured: the identity of the same rows without the column (schema 3, 5)
        want = SCHEMA.field(name).type
        text = pa.types.is_string(want) and (pa.types.is_dictionary(col.type) or pa.types.is_string(col.type))
        if not text and col.type != want:
            with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):  # else hashed as stored
                col = pc.cast(col, want, safe=True)
        valid = pc.is_valid(col).to_numpy(zero_copy_only=False).astype(np.uint8)
        yield f"{name}:{'string' if text else col.type}:{len(col)}".encode() + b"\0" + valid.tobytes()
        if text:
            words, codes = _string_codes(col)
            yield json.dumps(words, ensure_ascii=False).encode()
            yield codes.astype("<i8").tobytes()
        else:
            values = pc.fill_null(col, 0).to_numpy(zero_copy_only=False)
            yield values.astype(values.dtype.newbyteorder("<")).tobytes()


_content_memo: dict[tuple[str, int, int], str] = {}  # the identities computed, by resolved path, size, mtime


def corpus_sha256(path: Path) -> str:
    """The corpus's identity: sha256 over its CONTENT_COLUMNS, row by row (remembered by path, size and mtime)."""
    try:
        st = path.stat()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})",
                         hint="check that the path exists and that you may read it") from exc
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key in _content_memo:
        return _content_memo[key]
    present = set(parquet_columns(path))  # the footer read once, not once per column asked
    names = [c for c in CONTENT_COLUMNS if c in present]

    def read(columns: Sequence[str]) -> pa.Table:
        # a column at a time, the one before given back: the whole content of 50,000 contents' rows at once was
        # 6.6 GiB of each step that checks it
        give_back_memory()
        return read_parquet(path, columns, dictionary=[c for c in columns if pa.types.is_string(SCHEMA.field(c).type)])

    h = hashlib.sha256(CONTENT_HASH_VERSION.encode() + b"\0" + str(parquet_rows(path)).encode())
    for part in _content_parts(read, names):
        h.update(len(part).to_bytes(8, "little") + part)
    give_back_memory()  # the read's columns, left in arrow's pool otherwise: carried into the verdict's peak
    _content_memo[key] = h.hexdigest()
    return _content_memo[key]


# what the system says of the box in a row, as the lead is sent it (kit.infra.typed): a job keeps the words (its
# ledger's fingerprint names them), the shard their typed forms
NO_DEVICE = "unknown"  # a row's device where none was recorded (the bash kit's JSONL: kit.corpus.jsonl)


def row_device(name: str) -> str:
    """A corpus row's device typed (kit.infra.typed.device), NO_DEVICE as it is."""
    return name if name == NO_DEVICE else typed.device(name)


TYPED_COLUMNS: dict[str, Callable[[str], str]] = {"device": row_device, "ffmpeg_version": typed.version,
                                                   "pix_fmt": typed_pix_fmt, "enc_pix_fmt": typed_pix_fmt}


def typed_columns(table: pa.Table) -> pa.Table:
    """`table` with each of TYPED_COLUMNS' values in its typed form (each distinct value typed once), and a model
    file's teacher by its digest (kit.media.libvmaf.file_teacher_name: a kit before 2.5 named it by its file)."""
    for name, form in TYPED_COLUMNS.items():
        if name in table.column_names:
            col = pc.dictionary_encode(table[name]).combine_chunks()
            typed_values = pa.array([form(v) for v in col.dictionary.to_pylist()], pa.string())
            table = table.set_column(table.column_names.index(name), name, pc.take(typed_values, col.indices))
    if {"teacher_model", "teacher_sha256"} <= set(table.column_names):
        sha = table["teacher_sha256"]
        named = pc.binary_join_element_wise("model_", pc.utf8_slice_codeunits(pc.fill_null(sha, ""), 0, 12), "")
        from_file = pc.fill_null(pc.greater(pc.utf8_length(sha), 0), False)
        at = table.column_names.index("teacher_model")
        table = table.set_column(at, "teacher_model", pc.if_else(from_file, named, table["teacher_model"]))
    return table
