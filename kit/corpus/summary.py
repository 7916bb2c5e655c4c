"""What a corpus holds, in two views: `TableSummary` of any schema-1 table (for
`merge` and `corpus info`) and `CorpusSummary`, the verdict's corpus block."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kit.corpus.manifests import CorpusManifest, MergeManifest, ShardManifest, SourceRows, read_manifest
from kit.infra.files import sha256_file
from kit.infra.records import Record, omit_none
from kit.rundir import LAYOUT

if TYPE_CHECKING:  # the records here are read by light commands (status, the summary): no pyarrow at import
    import pyarrow as pa


@dataclass(frozen=True)
class TableSummary(Record):
    """Rows, sources, encoders, boxes, devices, cq grid, vmaf range and encoded formats of a corpus table."""

    rows: int
    n_sources: int
    sources: tuple[SourceRows, ...]
    encoders: list[str]
    boxes: list[str]
    devices: list[str]
    platforms: list[str]
    cq_grid: list[int]
    vmaf_range: list[float]
    teacher_models: list[str]
    enc_pix_fmts: list[str]  # the encoded formats ("" = not recorded, bash-kit rows)


def _unique(col: pa.ChunkedArray) -> list[object]:
    import pyarrow.compute as pc

    return sorted(v for v in pc.unique(col).to_pylist() if v is not None)


def summarise_table(table: pa.Table) -> TableSummary:
    import pyarrow.compute as pc

    per_src = table.select(["src_sha256", "src"]).group_by("src_sha256").aggregate(
        [("src", "min"), ("src", "count")]).sort_by([("src_min", "ascending"), ("src_sha256", "ascending")])
    vmaf = pc.min_max(table["vmaf"])
    return TableSummary(
        rows=table.num_rows, n_sources=per_src.num_rows,
        sources=tuple(SourceRows(s, h, n) for s, h, n in zip(
            per_src["src_min"].to_pylist(), per_src["src_sha256"].to_pylist(), per_src["src_count"].to_pylist(),
            strict=True)),
        encoders=[str(v) for v in _unique(table["encoder"])], boxes=[str(v) for v in _unique(table["box_id"])],
        devices=[str(v) for v in _unique(table["device"])], platforms=[str(v) for v in _unique(table["platform"])],
        cq_grid=[int(str(c)) for c in _unique(table["cq"])],
        vmaf_range=[vmaf["min"].as_py(), vmaf["max"].as_py()],
        teacher_models=[str(v) for v in _unique(table["teacher_model"])],
        enc_pix_fmts=[str(v) for v in _unique(table["enc_pix_fmt"])],
    )


@dataclass(frozen=True)
class CorpusSummary(Record):
    """The verdict's `corpus` block: which corpus the verdict was reached on, and what it holds."""

    path: str
    sha256: str
    rows: int
    n_sources: int
    sources: list[str]
    boxes: list[str]
    devices: list[str]
    platforms: list[str]
    encoders: list[str]
    cq_grid: list[int]
    vmaf_range: list[float]
    demo_corpus: bool
    corpus_kind: str
    shard: str | None = omit_none()  # the shard label, for one box's shard of a split set
    merged_from: list[str] | None = omit_none()  # for a merged corpus: one line per input
    teacher_models: list[str] | None = omit_none()  # every teacher of its rows (absent from kit 0.1.0's verdicts)


def merged_from(manifest: MergeManifest) -> list[str]:
    return [f"{i.name} ({i.kind}{', shard ' + str(i.shard) if i.shard else ''}; "
            f"boxes {', '.join(i.box_ids)}; {i.kept} of {i.read} rows kept)" for i in manifest.inputs]


def summarise_corpus(path: Path, sha: str) -> CorpusSummary:
    """The corpus block for the verdict (`sha`: its corpus_sha256): the figures from the file, its kind from
    the manifest that describes exactly its bytes."""
    from kit.infra.parquet import parquet_columns, read_parquet

    names = parquet_columns(path)
    cols = [c for c in ("src", "src_sha256", "encoder", "cq", "box_id", "device", "platform", "vmaf",
                        "teacher_model") if c in names]
    df = read_parquet(path, cols).to_pandas()
    # beside it as <stem>.manifest.json; a shard copied under another name still finds its shard.manifest.json
    manifest = read_manifest(path) or read_manifest(path.with_name(LAYOUT.shard.name))

    def uniq(col: str) -> list[str]:
        return sorted(df[col].dropna().unique().tolist()) if col in df else []

    # a manifest describes its file's bytes; `sha` is the corpus's content identity (kit.corpus.schema)
    exact: CorpusManifest | None = (manifest if manifest is not None and manifest.sha256 == sha256_file(path)
                                    else None)
    return CorpusSummary(
        path=str(path.resolve()), sha256=sha, rows=len(df), n_sources=int(df["src_sha256"].nunique()),
        sources=sorted(df.groupby("src_sha256")["src"].first().tolist()),
        boxes=uniq("box_id"), devices=uniq("device"), platforms=uniq("platform"), encoders=uniq("encoder"),
        cq_grid=[int(c) for c in uniq("cq")], vmaf_range=[float(df["vmaf"].min()), float(df["vmaf"].max())],
        demo_corpus=bool(exact.demo_corpus) if exact is not None else False,
        corpus_kind=(exact.kind if exact is not None else "") or "unknown",
        shard=exact.shard.label if isinstance(exact, ShardManifest) and exact.shard is not None else None,
        merged_from=merged_from(exact) if isinstance(exact, MergeManifest) else None,
        teacher_models=uniq("teacher_model"),
    )
