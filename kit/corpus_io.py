"""Reading corpus files for `merge` and `corpus info`.

Three kinds of input, each read into the schema-1 layout (kit.corpus.SCHEMA):

* parquet: a shard or a merged corpus (its `<stem>.manifest.json` is used when
  it sits beside the file and its sha256 matches);
* a results tarball: extracted with kit.bundle.safe_extract into a temporary
  folder only; its `02_corpus/shard.parquet` must match the tarball manifest;
* the bash kit's JSONL rows (see kit.jsonl_rows).

Every value problem names the file, the row (the line for JSONL) and the column.
"""

from __future__ import annotations

import re
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kit.bundle import MANIFEST, safe_extract
from kit.corpus import COLUMNS, SCHEMA
from kit.errors import InputError
from kit.fsio import read_json, sha256_file
from kit.host import kit_cli
from kit.jsonl_rows import read_jsonl, read_jsonl_fast
from kit.platforms.encoders import ENCODER_VOCAB
from kit.vmaf import FEATURES

KINDS = ("parquet", "tarball", "jsonl")
SHARD_IN_TARBALL = "02_corpus/shard.parquet"
REQUIRED_TEXT = ("src", "src_sha256", "encoder", "preset", "device")
REQUIRED_INT = ("cq", "frame_index")
SHA_HEX = re.compile(r"^[0-9a-f]{64}$")
COMPACT_UTC = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$")
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
BAD_SCHEMA_HINT = "merge accepts schema-1 shards and corpora written by the kit, results tarballs and bash-kit JSONL"


@dataclass(frozen=True)
class LoadedInput:
    """One input's rows in the schema-1 layout, and where they came from."""

    path: str
    kind: str  # parquet | tarball | jsonl
    sha256: str
    table: pa.Table
    recorded_utc: str = ""  # when the rows were made, "YYYY-MM-DDTHH:MM:SSZ"; "" when nothing recorded it
    manifest: dict[str, object] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return Path(self.path).name


def normalise_utc(text: object) -> str:
    """An ISO UTC stamp from the kit's two spellings; "" for anything else."""
    value = str(text or "")
    if m := COMPACT_UTC.match(value):
        return f"{m[1]}-{m[2]}-{m[3]}T{m[4]}:{m[5]}:{m[6]}Z"
    return value if ISO_UTC.match(value) else ""


def recorded_time(*manifests: dict[str, object]) -> str:
    """The first recorded time any of the manifests carries."""
    for manifest in manifests:
        for key in ("recorded_utc", "created_at_utc", "created_utc"):
            if stamp := normalise_utc(manifest.get(key)):
                return stamp
    return ""


def detect_kind(path: Path) -> str:
    if not path.is_file():
        raise InputError(f"{path} does not exist or is not a file",
                         hint="pass shard .parquet files, results-*.tar.gz tarballs or bash-kit .jsonl files")
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head == b"PAR1":
        return "parquet"
    if head[:2] == b"\x1f\x8b" or path.name.endswith((".tar", ".tar.gz", ".tgz")) or tarfile.is_tarfile(path):
        return "tarball"
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json") or head.lstrip()[:1] == b"{":
        return "jsonl"
    raise InputError(f"{path}: not a parquet file, a tarball or JSONL", hint=BAD_SCHEMA_HINT)


def load_input(path: Path) -> LoadedInput:
    kind = detect_kind(path)
    digest = sha256_file(path)
    if kind == "tarball":
        return load_tarball(path, digest)
    if kind == "jsonl":
        return LoadedInput(str(path), kind, digest, load_jsonl(path))
    manifest = sidecar_manifest(path, digest)
    return LoadedInput(str(path), kind, digest, read_parquet(path, str(path)), recorded_time(manifest), manifest)


def load_jsonl(path: Path) -> pa.Table:
    """Arrow's fast parser first; on any problem the line-by-line reader, whose errors name the line."""
    table = read_jsonl_fast(path)
    if table is not None:
        try:
            validate_table(table, str(path), lambda i: f"row {i}")
            return table
        except InputError:
            pass
    table, row_label = read_jsonl(path)
    validate_table(table, str(path), row_label)
    return table


def sidecar_manifest(path: Path, digest: str) -> dict[str, object]:
    """`<stem>.manifest.json` beside a parquet file, when it describes exactly these bytes."""
    candidate = path.with_name(path.stem + ".manifest.json")
    try:
        manifest = dict(read_json(candidate)) if candidate.is_file() else {}
    except (OSError, ValueError, TypeError):
        return {}
    return manifest if manifest.get("sha256") == digest else {}


def read_parquet(path: Path, label: str) -> pa.Table:
    """A schema-1 parquet file, cast to SCHEMA and validated."""
    try:
        names = pq.read_schema(path).names
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise InputError(f"{label}: not a readable parquet file ({exc})", hint=BAD_SCHEMA_HINT) from exc
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise InputError(f"{label}: column {missing[0]!r} is missing (schema 1 needs {', '.join(COLUMNS)})",
                         hint=BAD_SCHEMA_HINT)
    table = pq.read_table(path, columns=list(COLUMNS))
    table = pa.table([cast_column(table[c], SCHEMA.field(c).type, label, c) for c in COLUMNS], schema=SCHEMA)
    validate_table(table, label, lambda i: f"row {i}")
    return table


def cast_column(col: pa.ChunkedArray, typ: pa.DataType, label: str, name: str) -> pa.ChunkedArray:
    if col.type == typ:
        return col
    try:
        return pc.cast(col, typ, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    for i, value in enumerate(col.to_pylist()):  # the error path only: find the value that does not fit
        try:
            pc.cast(pa.array([value]), typ, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise InputError(f"{label}: row {i} column {name!r}: {value!r} is not {typ}",
                             hint=BAD_SCHEMA_HINT) from None
    raise InputError(f"{label}: column {name!r} is {col.type}, not {typ}", hint=BAD_SCHEMA_HINT)


def _first(mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if len(hits) else None


def _bad(label: str, row: str, name: str, problem: str) -> InputError:
    return InputError(f"{label}: {row} column {name!r}: {problem}",
                      hint="fix or drop that row, or re-create the file with the kit")


def validate_table(table: pa.Table, label: str, row_label: Callable[[int], str]) -> None:
    """Keys present and well-formed, scores finite, vmaf within [0, 100]; the first problem is raised."""
    if table.num_rows == 0:
        raise InputError(f"{label}: holds no rows", hint="pass a corpus with scored frames")
    for name in (*REQUIRED_TEXT, *REQUIRED_INT, *FEATURES, "vmaf"):
        if (i := _first(pc.is_null(table[name]).to_numpy(zero_copy_only=False))) is not None:
            raise _bad(label, row_label(i), name, "missing (null)")
    checks: list[tuple[str, pa.ChunkedArray, str]] = [
        ("src", pc.equal(pc.utf8_length(table["src"]), 0), "empty source name"),
        ("src_sha256", pc.invert(pc.match_substring_regex(table["src_sha256"], SHA_HEX.pattern)),
         "not 64 lowercase hex digits"),
        ("encoder", pc.invert(pc.is_in(table["encoder"], value_set=pa.array(ENCODER_VOCAB))),
         "not an encoder the kit knows (" + ", ".join(ENCODER_VOCAB) + ")"),
        ("frame_index", pc.less(table["frame_index"], 0), "negative"),
    ]
    for name, mask, problem in checks:
        if (i := _first(mask.to_numpy(zero_copy_only=False))) is not None:
            raise _bad(label, row_label(i), name, f"{table[name][i].as_py()!r} is {problem}")
    for name in (*FEATURES, "vmaf"):
        values = table[name].to_numpy()
        if (i := _first(~np.isfinite(values))) is not None:
            raise _bad(label, row_label(i), name, f"{values[i]} is not finite")
    vmaf = table["vmaf"].to_numpy()
    if (i := _first((vmaf < 0) | (vmaf > 100))) is not None:
        raise _bad(label, row_label(i), "vmaf", f"{vmaf[i]} is outside [0, 100]")


def load_tarball(path: Path, digest: str) -> LoadedInput:
    """The shard inside a results tarball, extracted into a temporary folder that is removed after."""
    with tempfile.TemporaryDirectory(prefix="kit-merge-") as tmp:
        written = safe_extract(path, Path(tmp))
        shards = [p for p in written if p.as_posix().endswith("/" + SHARD_IN_TARBALL)]
        if len(shards) != 1:
            raise InputError(f"{path}: holds {len(shards)} {SHARD_IN_TARBALL} files, expected one",
                             hint="pass a results tarball of a run that made its own shard (not one run with --corpus)")
        top = shards[0].parent.parent
        tar_manifest = _json_or_empty(top / MANIFEST)
        expected = _listed_sha(tar_manifest, SHARD_IN_TARBALL)
        if expected is not None and expected != sha256_file(shards[0]):
            raise InputError(f"{path}: {SHARD_IN_TARBALL} does not match the tarball's manifest.json",
                             hint=f"the tarball was damaged or edited; check it with: {kit_cli()} verify {path}")
        shard_manifest = _json_or_empty(top / "02_corpus" / "shard.manifest.json")
        table = read_parquet(shards[0], f"{path}:{top.name}/{SHARD_IN_TARBALL}")
    manifest = {**shard_manifest, "tarball": {k: tar_manifest.get(k) for k in ("box_id", "verdict", "created_utc")}}
    return LoadedInput(str(path), "tarball", digest, table, recorded_time(shard_manifest, tar_manifest), manifest)


def _json_or_empty(path: Path) -> dict[str, object]:
    try:
        return dict(read_json(path)) if path.is_file() else {}
    except (OSError, ValueError, TypeError):
        return {}


def _listed_sha(manifest: dict[str, object], arc: str) -> str | None:
    files = manifest.get("files")
    entry = files.get(arc) if isinstance(files, dict) else None
    return str(entry["sha256"]) if isinstance(entry, dict) and "sha256" in entry else None
