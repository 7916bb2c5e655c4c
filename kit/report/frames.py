"""The report's tables as data, each read from one file the kit writes so every figure can be recomputed, and the
worst of each kind for the first screen (WorstItem).

A table's caption names the file it is read from."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from kit.corpus.schema import CORPUS_ROW
from kit.infra.parquet import parquet_columns, read_frame, read_parquet
from kit.model.conformal import level_key
from kit.model.results import FoldResult
from kit.report.markup import ROWS_SHOWN, Measure, median
from kit.verdict import decide
from kit.verdict.breakdown import errors_of, quality_key
from kit.verdict.document import GroupErrors, WorstFold
from kit.verdict.gates import HOLDOUT_PLCC, shown
from kit.verdict.intervals import level_of
from kit.verdict.kinds import POOLED, SOURCE

if TYPE_CHECKING:
    from kit.corpus.summary import SourceInfo
    from kit.verdict.document import HoldoutBlock, Verdict

PANELS = 6  # predicted-vs-teacher panels: the worst few sources of the verdict's ranking
ROW_COLUMNS = ("seed", CORPUS_ROW, "src_sha256", "encoder", "cq", "vmaf", "pred")


def held_out_predictions(path: Path, seeds: Sequence[int], names: dict[str, str]) -> pd.DataFrame:
    """One row per held-out corpus row: src, src_sha256, encoder, cq, vmaf and pred (the mean over `seeds`)."""
    have = set(parquet_columns(path))
    # the texts read as dictionaries (a code a row, each name once), made text again once a row of each is left: at
    # 10,000 contents the predictions are 15,000,000 rows, whose hashes as text were the bundle's peak
    texts = [c for c in ("src_sha256", "encoder") if c in have]
    df = read_parquet(path, [c for c in ROW_COLUMNS if c in have], dictionary=texts, max_rows=None).to_pandas()
    df = df[df["seed"].isin(list(seeds))]
    firsts = {c: (c, "first") for c in ("src_sha256", "encoder", "cq", "vmaf") if c in df}
    per_row = df.groupby(CORPUS_ROW, sort=True).agg(**firsts, pred=("pred", "mean")).reset_index(drop=True)
    del df
    per_row = per_row.assign(**{c: per_row[c].astype(str) for c in texts})
    shas = per_row["src_sha256"].astype(str)
    per_row["src"] = shas.map(names).fillna(shas.str[:12])  # a source the verdict does not name: its hash
    return per_row


def coverage_by_source(path: Path) -> pd.DataFrame:
    """Per source (index src_sha256) of the intervals at `path`: the share of its rows with lo <= teacher <= hi, one
    column per level keyed as the verdict keys levels ("nominal", "95", ...); NaN where a row is unbounded there."""
    intervals = read_frame(path, [c for c in parquet_columns(path)
                                  if c in ("src_sha256", "vmaf") or c.startswith(("lo", "hi"))])
    y, pairs = intervals["vmaf"], [(lo, "hi" + lo[2:]) for lo in intervals.columns if lo.startswith("lo")]
    frame = pd.DataFrame({"nominal" if (lv := level_of(lo)) is None else level_key(lv):
                          ((intervals[lo] <= y) & (y <= intervals[hi])).where(intervals[[lo, hi]].notna().all(axis=1))
                          for lo, hi in pairs if hi in intervals}).astype(float)
    by = frame.groupby(intervals["src_sha256"])
    return by.mean().where(~frame.isna().groupby(intervals["src_sha256"]).any())


def folds_frame(per_fold: Sequence[FoldResult]) -> pd.DataFrame:
    """The verdict's per-fold table (03_loso/folds.parquet) as a frame: one row per (seed, source)."""
    frame = pd.DataFrame([vars(f) for f in per_fold], columns=[f.name for f in fields(FoldResult)])
    figures = [c for c in frame.columns if c not in ("src", "src_sha256", "teacher_constant")]
    return frame.assign(**{c: pd.to_numeric(frame[c], errors="coerce") for c in figures})  # None (absent): NaN


def ranked_sources(folds: pd.DataFrame, clips: Sequence[SourceInfo] | None, coverage: pd.DataFrame | None
                   ) -> pd.DataFrame:
    """The ROWS_SHOWN worst sources as the verdict ranks them, with figures, geometry, coverage; empty without folds."""
    if folds.empty:
        return pd.DataFrame(columns=["src", "src_sha256", "rmse"])
    worst = decide.worst_folds(folds, n=ROWS_SHOWN)
    ranked = pd.DataFrame([vars(w) for w in worst], columns=[f.name for f in fields(WorstFold)])
    ranked["share_out_of_range"] = ranked["src_sha256"].map(decide.per_source(folds).set_index("src_sha256")
                                                            ["share_out_of_range"])
    geometry = {c.src_sha256: c for c in clips or ()}
    found = [geometry.get(s) for s in ranked["src_sha256"]]
    ranked["resolution"] = [f"{g.width}x{g.height}" if g and g.width and g.height else "n/a" for g in found]
    ranked["fps"] = [g.fps if g else float("nan") for g in found]
    ranked["frames"] = [g.frames if g else 0 for g in found]
    if coverage is not None and "nominal" in coverage:
        ranked["coverage"] = ranked["src_sha256"].map(coverage["nominal"])
    return ranked


def quality_rows(per_row: pd.DataFrame) -> list[GroupErrors]:
    """The error of each quality setting over its held-out rows, for a verdict without the breakdown."""
    if not {"encoder", "cq"} <= set(per_row.columns):
        return []
    return [errors_of("quality", quality_key(str(encoder), int(cq)), rows)
            for (encoder, cq), rows in per_row.groupby(["encoder", "cq"], sort=True)]


GROUPINGS = (("encoder", "encoder", "encoders"), ("box", "box", "boxes"), ("quality", "quality setting", "settings"),
             ("resolution", "resolution class", "classes"), ("rung", "ladder rung", "rungs"))


@dataclass(frozen=True)
class WorstItem:
    """One line of the first screen: the worst of one kind, its figure, the median of its kind and its gate."""

    what: str  # source | encoder | box | quality setting | resolution class | ladder rung
    name: str
    measure: Measure  # the figure that makes it worst
    value: float
    kind: str  # the figure's kind (kit.verdict.kinds)
    typical: float | None  # the median over its kind; None when it is the only one
    count: int  # how many of its kind there are
    plural: str
    source: str  # the file its figures come from
    gate: str = ""  # the limit on this figure, e.g. "|bias| <= 10 (--max-abs-bias)"
    passed: bool | None = None  # that gate's outcome; None without one


def worst_source(folds: pd.DataFrame, verdict: Verdict) -> WorstItem | None:
    """The source the verdict ranks worst, with its value against the per-source gate on (its worst figure's first)."""
    if folds.empty:
        return None
    sources, scores, order = decide.ranked(folds)
    top = sources.iloc[order[0]]
    measure: Measure = str(scores.iloc[order[0]].idxmax())  # type: ignore[assignment]
    typical = float(sources[measure].abs().median() if measure == "bias" else sources[measure].median())
    item = WorstItem("source", str(top["src"]), measure, float(top[measure]), SOURCE, typical,
                     len(sources), "sources", "03_loso/folds.parquet")
    on = [s for s in shown(verdict) if s.per_source and s.row.enabled and s.row.threshold is not None]
    if not on:
        return item
    first = min(on, key=lambda s: s.gate.column != measure)  # the gate on its worst figure, else the first
    gate, threshold = first.gate, first.row.threshold
    value = abs(float(top[gate.column])) if gate.absolute else float(top[gate.column])
    return replace(item, gate=f"{gate.figure} {value:.2f} {gate.sign} {threshold:g} ({gate.flag})",
                   passed=math.isfinite(value) and gate.keeps(value, threshold))


def worst_groups(groups: Sequence[GroupErrors], holdout: Sequence[HoldoutBlock] = ()) -> list[WorstItem]:
    """Per grouping: the group of the largest RMSE against the median group's; for an encoder or box --holdout
    judges, its own held-out PLCC, else the gate's worst."""
    items = []
    for by, what, plural in GROUPINGS:
        mine = [g for g in groups if g.by == by and math.isfinite(g.rmse)]
        if not mine:
            continue
        worst = max(mine, key=lambda g: (g.rmse, g.group))
        typical = median([g.rmse for g in mine]) if len(mine) > 1 else None
        item = WorstItem(what, worst.group, "rmse", worst.rmse, POOLED, typical, len(mine), plural,
                         "04_verdict/intervals.parquet (the verdict's breakdown)")
        block = next((b for b in holdout if b.kind == by), None)
        if block is not None and (gate := block.gate).enabled and gate.threshold is not None:
            rule = f"{HOLDOUT_PLCC.sign} {gate.threshold:g} ({HOLDOUT_PLCC.flag})"
            if (unseen := next((g for g in block.groups if g.group == worst.group), None)) is not None:
                item = replace(item, gate=f"held out: PLCC {unseen.plcc:.4f} {rule}",
                               passed=unseen.plcc >= gate.threshold)
            else:
                item = replace(item, gate=f"held out, lowest: {gate.worst} PLCC {gate.worst_value:.4f} {rule}",
                               passed=gate.passed)
        items.append(item)
    return items
