"""Reading corpus files for `merge` and `corpus info` into the current layout (kit.corpus.schema.SCHEMA): a parquet
shard or merged corpus (an older schema's columns filled), a results tarball (checked as `verify` checks it), or the
bash kit's JSONL. Every value problem names the file, the row and the column.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from kit.corpus.jsonl import check_size, read_jsonl, read_jsonl_fast
from kit.corpus.manifests import (
    SCHEMA_VERSION,
    CorpusManifest,
    LeftOut,
    ShardManifest,
    given_manifest,
)
from kit.corpus.rungs import RUNG_COLUMNS, vt_cq_received, with_rungs
from kit.corpus.schema import (
    COLUMNS,
    EXTRA_FEATURES,
    SCHEMA,
    TEACHER_FEATURES,
    typed_columns,
    validate_table,
    with_content,
)
from kit.errors import InputError
from kit.infra.archive import ResultsManifest, check_results, extraction_dir
from kit.infra.clock import normalise_utc
from kit.infra.files import count_lines, sha256_file
from kit.infra.invocation import kit_command
from kit.infra.keys import Signed
from kit.infra.outside import read_json
from kit.infra.parquet import parquet_columns, parquet_rows
from kit.infra.parquet import read_parquet as read_guarded
from kit.media.pixfmt import SCHEMA1_ENC_PIX_FMT
from kit.rundir import LAYOUT

SHARD_IN_TARBALL = LAYOUT.shard.as_posix()
SHARD_TAG = re.compile(r"shard\d+of\d+")  # ShardSpec.tag
ACCEPTED = "a run's out-dir, a shard or corpus the kit wrote (parquet), a results tarball or bash-kit JSONL"
INPUT_HINT = f"pass {ACCEPTED}"
# the columns a schema-1, 2, 3 and 5 file lacks (read_parquet fills them)
SCHEMA1_MISSING = ("enc_pix_fmt",)
SCHEMA2_MISSING = ("content",)
SCHEMA3_MISSING = (*RUNG_COLUMNS, "teacher_sha256", *EXTRA_FEATURES)
SCHEMA5_MISSING = TEACHER_FEATURES  # null: the teacher's own six were not measured (its rows prove no such teacher)


@dataclass(frozen=True)
class LoadedInput:
    path: str
    kind: str  # parquet | tarball | jsonl
    sha256: str
    table: pa.Table
    recorded_utc: str = ""  # when the rows were made, "YYYY-MM-DDTHH:MM:SSZ"; "" when nothing recorded it
    manifest: CorpusManifest | None = None  # the manifest that describes exactly these rows
    upgraded: str = ""  # how an older schema's rows were brought to this one
    columns: tuple[str, ...] = ()  # the parquet file's own columns (() for JSONL)
    signed: Signed | None = None  # a results tarball's signature, checked (kit 2.5 on: kit.infra.keys)

    @property
    def name(self) -> str:
        return Path(self.path).name


def recorded_time(manifest: CorpusManifest | None, tarball: ResultsManifest | None = None) -> str:
    """When the rows were made: the shard's creation, a merge's newest input, else the tarball's time."""
    made = manifest.created_at_utc if isinstance(manifest, ShardManifest) else manifest and manifest.recorded_utc
    stamps = (made, tarball.get("created_utc") if tarball is not None else None)
    return next((s for s in map(normalise_utc, stamps) if s), "")


def detect_kind(path: Path) -> str:
    if not path.is_file():
        if path.exists():  # a folder is resolved before (status.input_corpus); this is a device, a FIFO, a socket
            raise InputError(f"{path} is not a regular file", hint=INPUT_HINT)
        if SHARD_TAG.fullmatch(path.name):  # a shard folder of a Slurm submission (kit/cluster/slurm.py)
            raise InputError(f"{path} does not exist: shard {path.name} was never run",
                             hint="run that array task again (sbatch <folder>/slurm/array.sh; finished shards end "
                                  "at once), then the union (sbatch <folder>/slurm/union.sh)")
        raise InputError(f"{path} does not exist", hint=f"check the path; {INPUT_HINT}")
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head == b"PAR1":
        return "parquet"
    if head[:2] == b"\x1f\x8b" or path.name.endswith((".tar", ".tar.gz", ".tgz")) or tarfile.is_tarfile(path):
        return "tarball"
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json") or head.lstrip()[:1] == b"{":
        return "jsonl"
    raise InputError(f"{path}: not a parquet file, a tarball or JSONL", hint=INPUT_HINT)


@dataclass(frozen=True)
class Declared:
    """What an input declares before a row of it is read: its rows (a parquet file's, or a JSONL file's lines), and
    for a signed tarball that is a run of its box (kit.corpus.signers.signed_run: not one whose shard manifest records
    no sha256) which box's chain of runs it is one of (BoxRun.box: its box id and part of a set, of which a merge keeps
    one run) and the run's own digest."""

    rows: int
    box: tuple[str, str] | None = None
    run: str = ""


def run_signature(manifest: CorpusManifest | None, signed: Signed | None) -> Signed | None:
    """A tarball's signature where it makes the tarball a run of its box (kit.corpus.signers.signed_run): signed, of
    a shard whose manifest records its sha256; else None."""
    return signed if signed is not None and isinstance(manifest, ShardManifest) and manifest.sha256 else None


def no_check(declared: Declared) -> None:
    """A reader's `before_read` that checks nothing."""


def same_bytes(read: LoadedInput, path: Path) -> LoadedInput:
    """The input at `path`, whose bytes are those of one `read` before: its rows, not read again; a parquet file with
    the manifest beside it, of its own (where it describes these bytes), and the time that records."""
    if read.kind != "parquet":  # a tarball's and a JSONL file's are all in their bytes
        return dataclasses.replace(read, path=str(path))
    manifest = given_manifest(path, str(path))
    manifest = manifest if manifest is not None and manifest.sha256 == read.sha256 else None
    return dataclasses.replace(read, path=str(path), manifest=manifest, recorded_utc=recorded_time(manifest))


def load_input(path: Path, before_read: Callable[[Declared], None] = no_check, digest: str | None = None
               ) -> LoadedInput:
    """The input's rows, `before_read` given what it declares (Declared) before a row of it is read (a merge's
    memory: kit.corpus.merge.check_memory); `digest`: its sha256, where the caller has it already."""
    kind = detect_kind(path)
    digest = digest or sha256_file(path)
    if kind == "tarball":
        return load_tarball(path, digest, before_read)
    if kind == "jsonl":
        check_size(path)
        before_read(Declared(lines := count_lines(path)))  # a row a line at most (load_jsonl holds it to that)
        return LoadedInput(str(path), kind, digest, load_jsonl(path, lines))
    manifest = given_manifest(path, str(path))  # one that does not read is refused, naming its key and box
    manifest = manifest if manifest is not None and manifest.sha256 == digest else None
    before_read(Declared(parquet_rows(path, str(path))))
    table, upgraded, columns = read_parquet(path, str(path))
    return LoadedInput(str(path), kind, digest, table, recorded_time(manifest), manifest, upgraded, columns)


def load_jsonl(path: Path, lines: int | None = None) -> pa.Table:
    """Arrow's fast parser first; on any problem the line-by-line reader, whose errors name the line. `lines`: the
    file's lines, which Arrow's rows may not outnumber (it reads several objects on one line, which the line reader
    refuses, naming the line)."""
    table = read_jsonl_fast(path)
    if table is not None and (lines is None or table.num_rows <= lines):
        with contextlib.suppress(InputError):
            validate_table(table, str(path))
            return legacy_rows(table)
    table, row_label = read_jsonl(path)
    validate_table(table, str(path), row_label)
    return legacy_rows(table)


def legacy_rows(table: pa.Table) -> pa.Table:
    """Bash-kit rows in the current layout: every source its own content group, encoded at its own size, what the
    system says of the box in its typed forms (kit.corpus.schema.TYPED_COLUMNS)."""
    return typed_columns(with_content(vt_cq_received(with_rungs(table))[0]))


def read_parquet(path: Path, label: str) -> tuple[pa.Table, str, tuple[str, ...]]:
    """(a kit parquet file cast to SCHEMA and validated, how an older schema was upgraded, the file's columns)."""
    names = parquet_columns(path, label)
    optional = (*SCHEMA1_MISSING, *SCHEMA2_MISSING, *SCHEMA3_MISSING, *SCHEMA5_MISSING)
    if gap := next((c for c in COLUMNS if c not in names and c not in optional), None):
        raise InputError(f"{label}: column {gap!r} is missing (schema {SCHEMA_VERSION} needs "
                         f"{', '.join(COLUMNS)})", hint=INPUT_HINT)
    table = read_guarded(path, [c for c in COLUMNS if c in names], label)
    notes = []
    if "enc_pix_fmt" not in names:
        table, note = upgrade_schema1(table)
        notes.append(note)
    if "content" not in names:
        table = with_content(table)
    if missing := [c for c in RUNG_COLUMNS if c not in names]:  # schema 1-3 (kit.corpus.rungs)
        table, vt_rows = vt_cq_received(with_rungs(table))
        notes.append(f"schema 3 or older (no {', '.join(missing)}): every row read as encoded at its reference's own "
                     "size, with no scaler" + (f"; cq of {vt_rows} VideoToolbox row(s) set to the -q:v they were "
                                               "encoded with" if vt_rows else ""))
    table = with_rungs(table)  # a hand-made file may leave them null
    for name in (c for c in ("teacher_sha256", *EXTRA_FEATURES, *TEACHER_FEATURES) if c not in names):
        table = table.append_column(name, pa.nulls(table.num_rows, SCHEMA.field(name).type))
    cols = [cast_column(table[c], SCHEMA.field(c).type, label, c) for c in COLUMNS]
    # a hand-made file may leave them null: "" is "not recorded" (a built-in teacher), one value to key and sort on
    for name in ("enc_pix_fmt", "teacher_sha256"):
        cols[COLUMNS.index(name)] = pc.fill_null(cols[COLUMNS.index(name)], "")
    # what the system said of the box (a kit before 2.5 kept its words: a CPU's name, ffmpeg's version) typed
    table = typed_columns(pa.table(cols, schema=SCHEMA))
    validate_table(table, label)
    return table, "; ".join(notes), tuple(names)


def upgrade_schema1(table: pa.Table) -> tuple[pa.Table, str]:
    """A schema-1 table with `enc_pix_fmt`: "" where the row has no reference format (a bash-kit row)."""
    known = pc.is_valid(table["pix_fmt"])
    filled = pc.if_else(known, pa.scalar(SCHEMA1_ENC_PIX_FMT), pa.scalar(""))
    n_known = pc.sum(known.cast(pa.int64())).as_py() or 0
    note = (f"schema 1 (no enc_pix_fmt column): enc_pix_fmt filled with {SCHEMA1_ENC_PIX_FMT} on {n_known} row(s), "
            "since every schema-1 encode was 8-bit 4:2:0")
    if n_known < table.num_rows:
        note += f"; left \"\" (not recorded) on {table.num_rows - n_known} row(s) without a reference pix_fmt"
    return table.append_column("enc_pix_fmt", filled), note


def cast_column(col: pa.ChunkedArray, typ: pa.DataType, label: str, name: str) -> pa.ChunkedArray:
    if col.type == typ:
        return col
    with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pc.cast(col, typ, safe=True)
    for i, value in enumerate(col.to_pylist()):  # the error path only: find the value that does not fit
        try:
            pc.cast(pa.array([value]), typ, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise InputError(f"{label}: row {i} column {name!r}: {value!r} is not {typ}",
                             hint=INPUT_HINT) from None
    raise InputError(f"{label}: column {name!r} is {col.type}, not {typ}", hint=INPUT_HINT)


def load_tarball(path: Path, digest: str, before_read: Callable[[Declared], None] = no_check) -> LoadedInput:
    """The shard inside a results tarball, once the tarball passed `verify`'s check."""
    with extraction_dir("kit-merge") as tmp:
        check = check_results(path, tmp)
        if not check.ok or check.top is None or check.manifest is None:
            more = f" (and {len(check.problems) - 1} more)" if len(check.problems) > 1 else ""
            raise InputError(f"{path}: fails verification: {check.problems[0]}{more}; nothing of it was read",
                             hint=f"the tarball was damaged in transit or edited; ask the sender for it again "
                                  f"(details: {kit_command('verify', path)})")
        top = check.top
        shard = top / SHARD_IN_TARBALL
        if SHARD_IN_TARBALL not in check.manifest.files or not shard.is_file():
            raise InputError(f"{path}: holds no {SHARD_IN_TARBALL}",
                             hint="pass a results tarball of a run that made its own shard (not one run with --corpus)")
        box = str(check.manifest.get("box_id") or "")
        # the box's files as they are: one that does not read as a kit writes it is refused, naming its key and the
        # box, never read as absent (the rows would pass for an older kit's, which wrote no manifest)
        shard_manifest = given_manifest(shard, str(path), box)
        if shard_manifest is not None and not shard_manifest.sha256:  # one made by hand describes no bytes: no say
            shard_manifest = None
        if shard_manifest is not None and shard_manifest.sha256 != check.manifest.files[SHARD_IN_TARBALL].sha256:
            who = box or getattr(shard_manifest, "box_id", "") or "(not recorded)"
            raise InputError(f"{path}: the manifest of box {who}'s shard records sha256 {shard_manifest.sha256[:12]}…, "
                             f"but its {SHARD_IN_TARBALL} is {check.manifest.files[SHARD_IN_TARBALL].sha256[:12]}…: "
                             "the tarball holds another corpus's manifest; nothing was merged",
                             hint=f"ask box {who} to bundle again (its run command: the bundle step makes the tarball "
                                  "from its own files), or leave the tarball out")
        if LAYOUT.skipped_clips.as_posix() in check.manifest.files:  # checked against its sha256 with the rest
            shard_manifest = with_skipped(shard_manifest, top / LAYOUT.skipped_clips, f"{path}", box)
        label = f"{path}:{top.name}/{SHARD_IN_TARBALL}"
        run = run_signature(shard_manifest, check.signed)
        before_read(Declared(parquet_rows(shard, label), (run.box_id, run.signer.part), run.digest) if run is not None
                    else Declared(parquet_rows(shard, label)))
        table, upgraded, columns = read_parquet(shard, label)
    return LoadedInput(str(path), "tarball", digest, table, recorded_time(shard_manifest, check.manifest),
                       shard_manifest, upgraded, columns, check.signed)


def with_skipped(manifest: CorpusManifest | None, skipped: Path, label: str = "",
                 box: str = "") -> CorpusManifest | None:
    """A kit-2.0 box's shard manifest, with the clips its tarball's skipped.json lists as left out; a skipped.json that
    does not read as a kit writes it is refused (exit 2), naming its key and the box, as the manifest is."""
    from kit.media.discovery import SkippedClips

    if not isinstance(manifest, ShardManifest) or manifest.left_out:
        return manifest
    try:
        record = SkippedClips.from_json(read_json(skipped), skipped.name)
    except (OSError, ValueError) as exc:  # RecordError (a ValueError) names the dotted key
        said = box or manifest.box_id or "(not recorded)"
        raise InputError(f"{label or skipped}: box {said}'s {LAYOUT.skipped_clips.as_posix()} is damaged: {exc}: "
                         "nothing was read from it",
                         hint=f"ask box {said} for its results tarball again, made by a kit of this release, or "
                              "leave it out") from None
    return dataclasses.replace(manifest, left_out=tuple(LeftOut(Path(u.path).name, u.why, manifest.box_id)
                                                        for u in record.skipped))

