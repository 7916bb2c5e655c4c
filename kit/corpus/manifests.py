"""The manifests that sit beside a corpus file as `<stem>.manifest.json`.

A shard (`kind: shard`, written by the corpus step) and a merged corpus
(`kind: merged`, written by `ensemble-kit merge`) each describe exactly the
bytes of their parquet file (`sha256`). Read back, a manifest that is damaged,
of another kind or of a newer schema is treated as absent: the corpus itself is
always checked, its manifest only adds provenance.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kit.infra.files import read_json
from kit.infra.records import Record, RecordError, omit_none


def manifest_path(corpus: Path) -> Path:
    """`<stem>.manifest.json` beside the corpus file."""
    return corpus.with_name(corpus.stem + ".manifest.json")


@dataclass(frozen=True)
class ShardRecord(Record):
    """`--shard K/N`: which part of which reference set a box encoded."""

    k: int
    n: int
    label: str
    set_size: int
    set_sha256: str
    sources: list[str]


@dataclass(frozen=True)
class FFmpegRef(Record):
    path: str
    version: str
    build: str


@dataclass(frozen=True)
class ClipEntry(Record):
    src: str
    src_sha256: str
    width: int
    height: int
    fps: str
    pix_fmt: str
    frames: int


@dataclass(frozen=True)
class ShardManifest(Record):
    """`shard.manifest.json`: one box's corpus and everything about how it was made."""

    schema_version: int
    kind: str  # "shard"
    file: str
    sha256: str
    rows: int
    box_id: str
    platform: str
    device: str
    devices: dict[str, str]  # encoder -> the hardware that encoded its rows
    ffmpeg: FFmpegRef
    libvmaf_version: str
    teacher_model: str
    encoders: list[str]
    grid: dict[str, list[int]]
    demo_corpus: bool
    sources: tuple[ClipEntry, ...]
    kit_version: str
    created_at_utc: str  # when the rows were made: `merge --prefer newest` ranks inputs by it
    jobs: int
    reused_jobs: int
    shard: ShardRecord | None = omit_none()


@dataclass(frozen=True)
class SourceRows(Record):
    src: str
    src_sha256: str
    rows: int


@dataclass(frozen=True)
class InputEntry(Record):
    """One input of a merge and what became of its rows."""

    name: str
    path: str
    kind: str  # parquet | tarball | jsonl
    sha256: str
    recorded_utc: str | None
    box_ids: list[str]
    manifest_kind: str | None
    shard: str | None
    demo_corpus: bool
    read: int
    kept: int
    duplicate: int
    conflict: int


@dataclass(frozen=True)
class RepeatedInput(Record):
    path: str
    same_bytes_as: str


@dataclass(frozen=True)
class Conflicts(Record):
    keys: int
    rows_dropped: int
    examples: list[str]


@dataclass(frozen=True)
class MergeManifest(Record):
    """`<stem>.manifest.json` of a merged corpus: every input, the rule, the counts, what the union holds."""

    schema_version: int
    kind: str  # "merged"
    file: str
    sha256: str
    rows: int
    key: list[str]
    sort_order: list[str]
    scored_columns: list[str]
    prefer: str | None
    conflicts: Conflicts
    duplicates_dropped: int
    inputs: tuple[InputEntry, ...]
    repeated_inputs: tuple[RepeatedInput, ...]
    demo_corpus: bool
    jsonl_identity: str
    warnings: list[str]
    recorded_utc: str | None
    merged_at_utc: str
    kit_version: str
    n_sources: int
    sources: tuple[SourceRows, ...]
    encoders: list[str]
    boxes: list[str]
    devices: list[str]
    platforms: list[str]
    cq_grid: list[int]
    vmaf_range: list[float]
    teacher_models: list[str]



CorpusManifest = ShardManifest | MergeManifest


def parse_manifest(data: object, where: str) -> CorpusManifest | None:
    """A shard or merge manifest from its JSON; None for anything else or anything damaged."""
    kind = data.get("kind") if isinstance(data, dict) else None
    cls: type[ShardManifest] | type[MergeManifest] | None = {"shard": ShardManifest,
                                                            "merged": MergeManifest}.get(str(kind))
    if cls is None:
        return None
    try:
        return cls.from_json(data, where)
    except RecordError:
        return None


def read_manifest(corpus: Path) -> CorpusManifest | None:
    """The manifest beside `corpus`, or None when there is none or it cannot be read."""
    path = manifest_path(corpus)
    try:
        data = read_json(path) if path.is_file() else None
    except (OSError, ValueError):
        return None
    return parse_manifest(data, str(path))
