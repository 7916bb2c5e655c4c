"""What a corpus holds, in two views: `TableSummary` of any schema-1 table (for
`merge` and `corpus info`) and `CorpusSummary`, the verdict's corpus block."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from kit.corpus.manifests import (
    ContentGroup,
    CorpusManifest,
    GroupMember,
    LeftOut,
    MergeManifest,
    ShardManifest,
    SourceRows,
    read_manifest,
)
from kit.corpus.oracle import ORACLE_FRAMES, TOLERANCE, IndependentCheck
from kit.infra.files import sha256_file
from kit.infra.records import Record, keep, omit_none
from kit.infra.rules import COUNT, POINTS, RECORDED, SIGNED_FIGURE, Each
from kit.rundir import LAYOUT

if TYPE_CHECKING:  # the records here are read by light commands (status, the summary): no pyarrow at import
    import numpy as np
    import pandas as pd
    import pyarrow as pa


@dataclass(frozen=True)
class TableSummary(Record):
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
    enc_pix_fmts: list[str]  # "" = not recorded (bash-kit rows)
    teacher_sha256s: list[str]  # of the --teacher model files (none for built-ins)
    grids: dict[str, list[int]] = field(default_factory=dict)  # encoder -> its cq values
    rungs: list[str] = field(default_factory=list)


def _unique(col: pa.ChunkedArray) -> list[str]:
    """The column's values, each once, sorted (as numbers for a number column), as text; nulls left out."""
    import pyarrow.compute as pc

    return [str(v) for v in sorted(v for v in pc.unique(col).to_pylist() if v is not None)]


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
        encoders=_unique(table["encoder"]), boxes=_unique(table["box_id"]), devices=_unique(table["device"]),
        platforms=_unique(table["platform"]), cq_grid=[int(c) for c in _unique(table["cq"])],
        vmaf_range=[vmaf["min"].as_py(), vmaf["max"].as_py()], teacher_models=_unique(table["teacher_model"]),
        enc_pix_fmts=_unique(table["enc_pix_fmt"]), teacher_sha256s=[v for v in _unique(table["teacher_sha256"]) if v],
        grids={str(e): sorted(int(c) for c in part["cq"].unique())
               for e, part in table.select(["encoder", "cq"]).to_pandas().groupby("encoder", sort=True)},
        rungs=row_rungs(table.select(["enc_height", "height"]).to_pandas()),
    )


def row_rungs(df: pd.DataFrame) -> list[str]:
    return sorted(set(rung_codes(df)[1]), key=rung_order)


def rung_codes(df: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Each row's rung as a code into the rungs' labels (kit.media.ladder.rung_label: `native` for rows that record no
    encode size), a label made once for each pair of sizes the rows hold, never a string a row (15,000,000 rows at
    50,000 contents)."""
    import numpy as np

    from kit.media.ladder import NATIVE, rung_label

    if "enc_height" not in df or "height" not in df:
        return np.zeros(len(df), dtype=np.intp), [NATIVE] if len(df) else []
    sizes = np.stack([df[c].fillna(0).astype(int).to_numpy(dtype=np.int64) for c in ("enc_height", "height")])
    pairs, codes = np.unique(sizes, axis=1, return_inverse=True)
    return codes.reshape(-1).astype(np.intp), [rung_label(int(e), int(h)) for e, h in pairs.T]


def rung_labels(df: pd.DataFrame) -> np.ndarray:
    """Each row's rung (kit.media.ladder.rung_label), as an array of the labels rung_codes makes."""
    import numpy as np

    codes, labels = rung_codes(df)
    return np.asarray(labels, dtype=object)[codes]


# an encoder's encodes should reach below the first and above the second: the range the proxy is queried over
TEACHER_SPAN = (60.0, 95.0)


@dataclass(frozen=True)
class TeacherRange(Record):
    """How far one encoder's encodes reach on the teacher's scale; a warning when short of TEACHER_SPAN."""

    encoder: str
    encodes: int = field(metadata=keep(COUNT))
    lo: float = field(metadata=keep(SIGNED_FIGURE))
    hi: float = field(metadata=keep(SIGNED_FIGURE))
    cq_grid: list[int] = field(metadata=keep(Each(COUNT)))
    rungs: list[str]
    warning: str | None = omit_none()


def teacher_ranges(df: pd.DataFrame) -> tuple[TeacherRange, ...]:
    keys = [c for c in ("src_sha256", "encoder", "cq", "box_id", "device", "enc_width", "enc_height", "scaler_down",
                        "scaler_up") if c in df]
    df = df.assign(_rung=rung_labels(df))
    encodes = df.groupby([*keys, "_rung"], sort=False, dropna=False)["vmaf"].mean().reset_index()
    out = []
    for encoder, part in encodes.groupby("encoder", sort=True):
        lo, hi = float(part["vmaf"].min()), float(part["vmaf"].max())
        short = [f"none below {TEACHER_SPAN[0]:g}" if lo > TEACHER_SPAN[0] else "",
                 f"none above {TEACHER_SPAN[1]:g}" if hi < TEACHER_SPAN[1] else ""]
        warning = (f"{encoder}'s encodes scored {lo:.1f} to {hi:.1f} ({' and '.join(s for s in short if s)}): its rows "
                   f"do not span the {TEACHER_SPAN[0]:g}-{TEACHER_SPAN[1]:g} the proxy is used over; give it a wider "
                   f"grid (--cqs {encoder}:...)") if any(short) else None
        out.append(TeacherRange(str(encoder), len(part), round(lo, 3), round(hi, 3),
                                sorted(int(c) for c in part["cq"].unique()),
                                sorted(set(part["_rung"]), key=rung_order), warning))
    return tuple(out)


def rung_order(label: str) -> tuple[bool, float]:
    """`native` first, then by falling share of the source's height."""
    return label != "native", -float(label.rstrip("x")) if label != "native" else 0.0


@dataclass(frozen=True)
class SourceInfo(Record):
    """One source of the corpus as the report lists it (0, NaN and "" where its rows do not record it)."""

    src: str  # as people read it (kit.corpus.names)
    src_sha256: str
    content: str
    width: int = field(metadata=keep(COUNT))
    height: int = field(metadata=keep(COUNT))
    fps: float = field(metadata=keep(POINTS))
    frames: int = field(metadata=keep(COUNT))  # distinct frame indices scored
    pix_fmt: str


@dataclass(frozen=True)
class CorpusSummary(Record):
    """The verdict's `corpus` block: which corpus the verdict was reached on, and what it holds."""

    # relative to the out-dir for its own shard (`02_corpus/shard.parquet`), else absolute (a --corpus)
    path: str = field(metadata=keep(RECORDED))
    sha256: str
    rows: int = field(metadata=keep(COUNT))
    n_sources: int = field(metadata=keep(COUNT))
    sources: list[str]
    boxes: list[str]
    devices: list[str]
    platforms: list[str]
    encoders: list[str]
    cq_grid: list[int] = field(metadata=keep(Each(COUNT)))
    vmaf_range: list[float] = field(metadata=keep(Each(SIGNED_FIGURE)))
    demo_corpus: bool
    corpus_kind: str
    shard: str | None = omit_none()  # the shard label, for one box's shard of a split set
    merged_from: list[str] | None = omit_none()  # for a merged corpus: one line per input
    teacher_models: list[str] | None = omit_none()
    teacher_sha256: str | None = omit_none()  # of its teacher's model file (absent: a built-in)
    n_contents: int | None = omit_none(COUNT)  # the rows' distinct `content`
    n_files: int | None = omit_none(COUNT)  # each source once per box that holds it, and the twins a shard skipped
    groups: tuple[ContentGroup, ...] | None = omit_none()  # of more than one source
    clips: tuple[SourceInfo, ...] | None = omit_none()
    teachers: tuple[TeacherRange, ...] | None = omit_none()
    rungs: list[str] | None = omit_none()
    # from the manifest: the clips the boxes left out and the corpus's warnings, each a WARNING row of the summary
    left_out: tuple[LeftOut, ...] | None = omit_none()
    warnings: list[str] | None = omit_none()

    @property
    def contents_text(self) -> str:
        """"10 contents in 16 files" (and the sources when they are neither), or the sources of an older verdict."""
        if self.n_contents is None or self.n_files is None:
            return f"{self.n_sources} sources"
        text = f"{self.n_contents} contents in {self.n_files} files"
        if self.n_sources not in (self.n_contents, self.n_files):
            text += f" ({self.n_sources} sources)"
        if self.groups:
            text += f", {len(self.groups)} group(s) of more than one source"
        return text


def merged_from(manifest: MergeManifest) -> list[str]:
    return [f"{i.name} ({i.kind}{', shard ' + str(i.shard) if i.shard else ''}; "
            f"boxes {', '.join(i.box_ids)}; {i.kept} of {i.read} rows kept)" for i in manifest.inputs]


SUMMARY_COLUMNS = ("src", "src_sha256", "content", "encoder", "cq", "frame_index", "box_id", "device", "platform",
                   "vmaf", "width", "height", "fps", "pix_fmt", "teacher_model", "teacher_sha256", "enc_width",
                   "enc_height", "scaler_down", "scaler_up")
UNEXPLAINED = "the corpus rows hold them as one content; no manifest beside the file says why"


def summarise_corpus(path: Path, sha: str, named: str | None = None) -> CorpusSummary:
    """The verdict's corpus block (`sha`: its corpus_sha256): the figures from the file (the sources under the names
    people read, kit.corpus.names), its kind, twins, groups and left-out clips from the manifest that describes
    exactly its bytes (none when no manifest does: `unknown`); `named`: how the verdict names the file
    (kit.rundir.RunDir.recorded: relative to the out-dir it lies in), else its path."""
    from kit.corpus.names import with_names
    from kit.corpus.schema import with_content
    from kit.corpus.training import coded_frame, text_columns
    from kit.infra.parquet import parquet_columns, read_parquet

    names = parquet_columns(path)
    columns = [c for c in SUMMARY_COLUMNS if c in names]
    # its text read as dictionaries, a code a row (at 50,000 contents the text as Python strings peaked at 8 GiB);
    # a corpus of schema 1 (no content column, which with_content makes of the text) as text
    texts = sorted(text_columns(path).intersection(columns)) if "content" in names else []
    table = read_parquet(path, columns, dictionary=texts)
    if texts:
        table = table.unify_dictionaries()
    if "content" not in names:
        table = with_content(table)
    held = [with_names(table)]
    del table
    df = coded_frame(held)
    exact = exact_manifest(path)

    def uniq(col: str) -> list[str]:
        return sorted(df[col].dropna().unique().tolist()) if col in df else []

    clips = source_infos(df)
    said = manifest_says(exact)
    return CorpusSummary(
        path=named if named is not None else str(path.resolve()), sha256=sha, rows=len(df), n_sources=len(clips),
        sources=sorted(c.src for c in clips),
        boxes=uniq("box_id"), devices=uniq("device"), platforms=uniq("platform"), encoders=uniq("encoder"),
        cq_grid=[int(c) for c in uniq("cq")], vmaf_range=[float(df["vmaf"].min()), float(df["vmaf"].max())],
        teacher_models=uniq("teacher_model"), teacher_sha256=next((t for t in uniq("teacher_sha256") if t), None),
        n_contents=int(df["content"].nunique()), n_files=count_files(df, exact),
        groups=content_groups(df, exact), clips=clips, teachers=teacher_ranges(df), rungs=row_rungs(df),
        demo_corpus=said.demo_corpus, corpus_kind=said.corpus_kind, shard=said.shard, merged_from=said.merged_from,
        left_out=said.left_out, warnings=said.warnings,
    )


def count_files(df: pd.DataFrame, manifest: CorpusManifest | None) -> int:
    """The reference files the corpus came from: each source once per box that holds it, and the frame-identical
    twins a shard recorded and skipped (its manifest's; none without one)."""
    held = df[[c for c in ("box_id", "src_sha256") if c in df]].drop_duplicates()
    twins = len(manifest.twins) if manifest is not None else 0
    return len(held) + twins


@dataclass(frozen=True)
class ManifestSays:
    """The corpus block's fields only a manifest of the corpus's bytes knows: whether it is the demo's, its kind, a
    shard's K/N, a merge's inputs, the clips its boxes left out and its warnings. Without one (a corpus made by
    hand, or edited since): not the demo's, of kind `unknown`, and nothing claimed of the rest (null)."""

    demo_corpus: bool = False
    corpus_kind: str = "unknown"
    shard: str | None = None
    merged_from: list[str] | None = None
    left_out: tuple[LeftOut, ...] | None = None
    warnings: list[str] | None = None


def manifest_says(exact: CorpusManifest | None) -> ManifestSays:
    """What the manifest of the corpus's bytes says for its block; ManifestSays' defaults when none does."""
    if exact is None:
        return ManifestSays()
    shard = exact.shard.label if isinstance(exact, ShardManifest) and exact.shard is not None else None
    inputs = merged_from(exact) if isinstance(exact, MergeManifest) else None
    return ManifestSays(bool(exact.demo_corpus), exact.kind or "unknown", shard, inputs, tuple(exact.left_out),
                        list(exact.warnings))


def exact_manifest(path: Path) -> CorpusManifest | None:
    """The manifest that describes exactly the bytes of the corpus at `path` (beside it as <stem>.manifest.json; a
    shard copied under another name still finds its shard.manifest.json), else None."""
    manifest = read_manifest(path) or read_manifest(path.with_name(LAYOUT.shard.name))
    return manifest if manifest is not None and manifest.sha256 == sha256_file(path) else None


def independent_check(manifest: CorpusManifest, name_boxes: bool = False) -> IndependentCheck:
    """What the independent check found over the corpus a manifest describes: a shard's from its sources' checks
    and the clips it left out, a merged corpus's as the merge gathered it (`name_boxes`: each refused clip's box)."""
    if isinstance(manifest, MergeManifest):
        return manifest.check or IndependentCheck(ORACLE_FRAMES, TOLERANCE, 0, math.nan, "", [],
                                                  sorted(s.src for s in manifest.sources), [])
    from kit.media.containers import needs_intermediate  # ffmpeg's helpers: not at import, for `status`

    checked = [(c.src, c.file, c.oracle) for c in manifest.sources if c.oracle is not None and c.oracle.passed]
    worst = max(checked, key=lambda c: c[2].max_diff, default=None)
    return IndependentCheck(
        ORACLE_FRAMES, TOLERANCE, len(checked), worst[2].max_diff if worst else math.nan,
        f"{worst[0]} frame {worst[2].at_frame}" if worst else "",
        [refused_line(u, name_boxes) for u in manifest.left_out if u.by_check],
        sorted(c.src for c in manifest.sources if c.oracle is None),
        sorted(src for src, file, check in checked if check.own_file is None and file
               and needs_intermediate(Path(file))))


def refused_line(u: LeftOut, name_boxes: bool = True) -> str:
    """A clip the independent check refuted, as the check's `refused` names it."""
    return f"{u.file}{_whose(u) if name_boxes and u.box_id else ''}: {u.why}"


def _whose(u: LeftOut) -> str:
    """` (box B)`, or ` (box B, input I)` where the merge named the input that brought it (two boxes of one id)."""
    return f" (box {u.box_id}{f', input {u.input}' if u.input else ''})"


def combine_checks(checks: Sequence[IndependentCheck]) -> IndependentCheck:
    top = max((c for c in checks if c.clips), key=lambda c: c.max_diff, default=None)
    return IndependentCheck(ORACLE_FRAMES, TOLERANCE, sum(c.clips for c in checks),
                            top.max_diff if top else math.nan, top.worst if top else "",
                            [r for c in checks for r in c.refused], sorted({u for c in checks for u in c.unchecked}),
                            sorted({u for c in checks for u in c.from_copy}))


def corpus_check(path: Path) -> IndependentCheck | None:
    """The verdict's `independent_check`, from the manifest; None where no manifest describes the corpus."""
    return independent_check(exact) if (exact := exact_manifest(path)) is not None else None


def content_groups(df: pd.DataFrame, manifest: CorpusManifest | None) -> tuple[ContentGroup, ...]:
    """The content groups of more than one source: as the manifest records them, else as the rows hold them."""
    one = df.drop_duplicates("src_sha256")
    shown = dict(zip(one["src_sha256"], one["src"], strict=True))  # the names people read (kit.corpus.names)
    recorded = [replace(g, members=tuple(replace(m, src=shown.get(m.src_sha256, m.src)) for m in g.members))
                for g in manifest.groups if len(g.members) > 1] if manifest is not None else []
    if not recorded:
        per = df.drop_duplicates(["content", "src_sha256"])
        for content, rows in per.groupby("content", sort=True):
            if len(rows) > 1:
                members = tuple(GroupMember(str(r.src), str(r.src_sha256), str(getattr(r, "box_id", "") or ""))
                                for r in rows.sort_values(["src", "src_sha256"]).itertuples())
                recorded.append(ContentGroup(str(content), members, [UNEXPLAINED]))
    return tuple(sorted(recorded, key=lambda g: ([m.src for m in g.members], g.content)))


def source_infos(df: pd.DataFrame) -> tuple[SourceInfo, ...]:
    """Per source, sorted by name: its name and content from its first row, its geometry each the first value its
    rows hold (a groupby's first skips the missing), its frames counted. Grouped once on codes: a frame's part per
    source cost seconds a thousand sources."""
    import numpy as np  # at run time: the module's are for type checking alone
    import pandas as pd

    codes, _ = pd.factorize(df["src_sha256"])  # a missing digest -1: no source, as a groupby leaves it out
    rows, codes = (df, codes) if (codes >= 0).all() else (df[codes >= 0], codes[codes >= 0])
    grouped = rows.groupby(codes, sort=True)  # the codes 0 to n - 1, in order
    firsts = {c: grouped[c].first().to_numpy() for c in ("width", "height", "fps", "pix_fmt") if c in rows}
    frames = grouped["frame_index"].nunique().to_numpy()
    at = np.unique(codes, return_index=True)[1]  # each source's first row
    shas, names, contents = (rows[c].take(at).to_numpy() for c in ("src_sha256", "src", "content"))  # no text a row

    def first(col: str, i: int) -> object:
        value = firsts[col][i] if col in firsts else None
        return None if value is None or pd.isna(value) else value

    out = []
    for i, sha in enumerate(shas):
        width, height, fps, pix_fmt = (first(c, i) for c in ("width", "height", "fps", "pix_fmt"))
        out.append(SourceInfo(str(names[i]), str(sha), str(contents[i]),
                              int(float(str(width))) if width is not None else 0,  # a column with nulls is float
                              int(float(str(height))) if height is not None else 0,
                              float(str(fps)) if fps is not None else float("nan"),
                              int(frames[i]), str(pix_fmt or "")))
    return tuple(sorted(out, key=lambda c: (c.src, c.src_sha256)))
