"""Rows that kits before 2.0 scored against the wrong reference frames (their shared decode of a master below 25 fps),
refused wherever a corpus comes in: `misscored` is the one rule (docs/lead.md, "Shards of kits before 2.0").
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kit.corpus.inputs import SCHEMA2_MISSING, SCHEMA3_MISSING, LoadedInput
from kit.corpus.jsonl import jsonl_src_sha256
from kit.corpus.manifests import ClipEntry, CorpusManifest, MergeManifest, SourceRows, read_manifest
from kit.errors import InputError
from kit.infra.files import remembered_sha256, sha256_file
from kit.infra.limits import MAX_CORPUS_ROWS
from kit.infra.outside import NotANumber, read_rate
from kit.infra.parquet import parquet_columns, parquet_rows, parquet_schema, read_batches
from kit.infra.resources import give_back_memory
from kit.infra.versions import release
from kit.platforms.encoders import SPECS
from kit.rundir import manifest_path

SHARED_DECODE_SCHEMAS = (3, 4)  # the corpus schemas the kits with the shared decode wrote
FIXED_KIT = (2, 0, 0)  # the first kit that pairs frame i with frame i at every rate
SHORT_RATE = Fraction(25)  # the shared decode renumbered at 25 fps: every rate below it lost frames
READ_AS_IS = (".y4m", ".yuv")  # clips read as they are, never through the shared decode
SOFTWARE = tuple(name for name, spec in SPECS.items() if not spec.traits.engine)  # the encoders that shared it
COLUMNS = ("src", "src_sha256", "encoder", "fps", "box_id")  # what the rule reads of the rows
MAX_LISTED = 5
FIRST_ROW = "first_row"  # a group's first row, by which the groups are taken in turn
LATER_COLUMNS = (*SCHEMA2_MISSING, *SCHEMA3_MISSING)  # what schema 3 and 4 added: a schema 1 or 2 file has none


@dataclass(frozen=True)
class Misscored:
    src: str
    fps: str  # as people read it: 23.976
    box: str
    rows: int


@dataclass(frozen=True)
class Finding:
    writer: str  # who scored them: "kit 1.0.5"
    sources: tuple[Misscored, ...]
    manifest: bool  # False: judged by the rows alone

    @property
    def boxes(self) -> str:
        return ", ".join(sorted({s.box or "(box not recorded)" for s in self.sources}))

    def listing(self) -> str:
        """`source a (23.976 fps, box b)`, `sources a (…) and c (…)`; the rest past MAX_LISTED counted."""
        shown = [f"{s.src} ({s.fps} fps, box {s.box or '(not recorded)'})" for s in self.sources[:MAX_LISTED]]
        if len(shown) == 1:
            return f"source {shown[0]}"
        last = f"{len(self.sources) - MAX_LISTED} more" if len(self.sources) > MAX_LISTED else shown.pop()
        return f"sources {', '.join(shown)} and {last}"


def scored_by(manifest: CorpusManifest | None, columns: Collection[str]) -> str:
    """Which kit may have scored the rows through the shared decode (`kit 1.0.5`), or "" when none that had it did."""
    if manifest is None:
        older = not set(LATER_COLUMNS) & set(columns)  # schema 1 or 2: before the shared decode
        return "" if older else "a kit before 2.0 (no manifest that describes the file says which)"
    fixed = (found := release(manifest.kit_version)) is not None and found >= FIXED_KIT  # the one rule of versions
    if manifest.schema_version not in SHARED_DECODE_SCHEMAS or fixed:
        return ""
    version = manifest.kit_version or "(not recorded)"
    if isinstance(manifest, MergeManifest):
        return f"a kit before 2.0 (the file was merged by kit {version}, which records no input's kit)"
    stage = " at corpus schema 3 (a stage of 1.0's making: 0.4 and 0.5 had the shared decode)"
    return f"kit {version}{stage if manifest.schema_version == 3 else ''}"


def _software_groups(parts: Iterable[pa.Table]) -> Iterator[dict[str, Any]]:
    """Each part's rows of software encoders, counted by source, box and rate (a group of several parts is each
    part's: misscored sums them), in the order of each group's first row, whatever order arrow's grouping gives (not
    the rows' across a table's chunks, nor, the text read as codes, where a key is null)."""
    for table in parts:
        if not {"encoder", "src_sha256"} <= set(table.column_names):
            continue
        keys = [c for c in ("src", "src_sha256", "box_id", "fps") if c in table.column_names]
        rows = table.filter(pc.fill_null(pc.is_in(table["encoder"], value_set=pa.array(SOFTWARE)), False))
        at = rows.select(keys).append_column(FIRST_ROW, pa.array(np.arange(rows.num_rows, dtype=np.int64)))
        groups = at.group_by(keys).aggregate([([], "count_all"), (FIRST_ROW, "min")])
        yield from groups.sort_by(f"{FIRST_ROW}_min").drop_columns([f"{FIRST_ROW}_min"]).to_pylist()


def _rate(entry: ClipEntry | SourceRows | None, fps: object) -> Fraction | None:
    """The source's rate: its manifest's exact `num/den`, else the rows' fps; None when neither says."""
    if isinstance(entry, ClipEntry) and entry.fps:
        with contextlib.suppress(NotANumber, ValueError):
            return read_rate(entry.fps)
    return Fraction(fps) if isinstance(fps, float) and math.isfinite(fps) else None


def _bash_kit_boxes(manifest: CorpusManifest | None) -> set[str]:
    """The boxes of a merged corpus whose rows all came from bash-kit JSONL inputs."""
    if not isinstance(manifest, MergeManifest):
        return set()
    kit = {b for i in manifest.inputs if i.kind != "jsonl" for b in i.box_ids}
    return {b for i in manifest.inputs if i.kind == "jsonl" for b in i.box_ids} - kit


def misscored(table: pa.Table | Callable[[], Iterable[pa.Table]], manifest: CorpusManifest | None,
              columns: Collection[str]) -> Finding | None:
    """The rule: the sources of `table` (or of the parts it gives, read only where the rule needs the rows) a kit
    before 2.0 scored through its shared decode below 25 fps, or None."""
    writer = scored_by(manifest, columns)
    if not writer:
        return None
    entries = {e.src_sha256: e for e in manifest.sources} if manifest is not None else {}
    bash_boxes = _bash_kit_boxes(manifest)
    found: dict[tuple[str, str], Misscored] = {}
    for g in _software_groups([table] if isinstance(table, pa.Table) else table()):
        sha, box = str(g["src_sha256"]), str(g.get("box_id") or "")
        entry = entries.get(sha)
        rate = _rate(entry, g.get("fps"))
        if rate is None or rate >= SHORT_RATE or (entry is not None and entry.file.lower().endswith(READ_AS_IS)) \
                or box in bash_boxes or sha == jsonl_src_sha256(str(g.get("src") or "")):  # never shared the decode
            continue
        before = found.get((box, sha))  # a source's name and rate as its first rows say (a batch's or the table's)
        fps = before.fps if before else f"{float(rate):.3f}".rstrip("0").rstrip(".")
        rows = int(g["count_all"]) + (before.rows if before else 0)
        found[(box, sha)] = Misscored(before.src if before else str(g.get("src") or sha[:12]), fps, box, rows)
    return Finding(writer, tuple(found[k] for k in sorted(found)), manifest is not None) if found else None


def refusal(label: str, finding: Finding, done: str, then: str, leave_out: str, beside: Path | None) -> InputError:
    n = sum(s.rows for s in finding.sources)
    one = len(finding.sources) == 1
    back = "" if finding.manifest or beside is None else (
        f"if kit 2.0 wrote the file, put its manifest back beside it ({manifest_path(beside).name}); else ")
    return InputError(
        f"{label}: {finding.listing()} {'was' if one else 'were'} scored by {finding.writer} through the shared "
        f"decode of a master below 25 fps, which paired encode frames with the wrong reference frames: "
        f"{'its' if one else 'their'} {n} row(s) of software encoders have wrong vmaf and features (fixed in kit "
        f"2.0), so nothing was {done}",
        hint=f"{back}rescore them: box {finding.boxes} reruns its corpus step with kit 2.0 on the same clips (its run "
             "command and --out-dir as before: the finished jobs are redone, their rows' version changed), "
             f"{then}; or {leave_out}")


def refuse_export(loaded: LoadedInput) -> None:
    if loaded.kind != "jsonl" and (finding := misscored(loaded.table, loaded.manifest, loaded.columns)) is not None:
        raise refusal(loaded.path, finding, "exported", "then merge its new results tarball and export the new "
                      "corpus", f"merge again without box {finding.boxes}'s inputs and export that",
                      Path(loaded.path) if loaded.kind == "parquet" else None)


def refuse_inputs(inputs: Sequence[LoadedInput]) -> None:
    """`merge`: an input holding such rows is refused, naming it (and the other inputs that hold them too)."""
    found = [(inp, f) for inp in inputs if inp.kind != "jsonl"
             and (f := misscored(inp.table, inp.manifest, inp.columns)) is not None]
    if not found:
        return
    inp, finding = found[0]
    others = [i.name for i, _ in found[1:]]
    more = f" (so do {len(others)} more input(s): {', '.join(others)})" if others else ""
    raise refusal(inp.path, finding, f"merged{more}", "then merge its new results tarball in place of the old one",
                  f"merge without {inp.name}", Path(inp.path) if inp.kind == "parquet" else None)


def refuse_corpus(path: Path) -> None:
    manifest = read_manifest(path)
    if manifest is not None and (not manifest.sha256
                                 or manifest.sha256 != remembered_sha256(path, path.stat(), sha256_file)):
        manifest = None
    columns = parquet_columns(path)
    if parquet_rows(path) > MAX_CORPUS_ROWS:  # refused, nothing read, where the corpus is (training_corpus)
        return
    read = [c for c in COLUMNS if c in columns]

    def parts() -> Iterator[pa.Table]:  # a batch at a time: at 10,000 contents the columns whole held 0.8 GiB
        # the text as dictionaries, a code a row: a batch of it as text held 0.5 GiB at its peak
        texts = [f.name for f in parquet_schema(path) if f.name in read
                 and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))]
        return (pa.Table.from_batches([batch]) for batch in read_batches(path, read, f"--corpus {path}", texts))
    try:
        finding = misscored(parts, manifest, columns)
    finally:
        give_back_memory()  # what arrow's pool kept of the batches: 0.5 GiB carried into training's read before
    if finding is not None:
        raise refusal(f"--corpus {path}", finding, "trained", "then merge again and train on the new corpus",
                      f"merge again without box {finding.boxes}'s inputs", path)
