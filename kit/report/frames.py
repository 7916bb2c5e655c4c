"""The report's tables as data: each read from one file the kit writes, so every figure can be recomputed.

- per row (03_loso/predictions.parquet): the ensemble's held-out prediction, the mean over the verdict's seeds;
- per source (03_loso/folds.parquet, the verdict's `per_fold`): the means over seeds of each seed's figures,
  ranked worst first as the verdict ranks its worst folds (kit.verdict.decide.worst_folds);
- per source and level (04_verdict/intervals.parquet): the share of its rows inside their interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kit.corpus.schema import CORPUS_ROW
from kit.model.results import FoldResult
from kit.report.markup import ROWS_SHOWN
from kit.verdict.breakdown import errors_of, plcc, quality_key
from kit.verdict.document import GroupErrors
from kit.verdict.intervals import level_key, level_of

if TYPE_CHECKING:
    from kit.corpus.summary import SourceInfo

PANELS = 12  # predicted-vs-teacher panels: the worst sources of the verdict's ranking
FAR_BELOW_1080P = 540  # lines: a source at most half the teacher's viewing height is "far" below it
ROW_COLUMNS = ("seed", CORPUS_ROW, "src_sha256", "encoder", "cq", "vmaf", "pred")


def held_out_predictions(path: Path, seeds: Sequence[int], names: dict[str, str]) -> pd.DataFrame:
    """One row per held-out corpus row: src, src_sha256, encoder, cq (when recorded), vmaf (teacher) and pred,
    the mean over `seeds` of the held-out predictions."""
    from kit.infra.parquet import parquet_columns, read_frame

    have = set(parquet_columns(path))
    df = read_frame(path, [c for c in ROW_COLUMNS if c in have])
    df = df[df["seed"].isin(list(seeds))]
    firsts = {c: (c, "first") for c in ("src_sha256", "encoder", "cq", "vmaf") if c in df}
    per_row = df.groupby(CORPUS_ROW, sort=True).agg(**firsts, pred=("pred", "mean")).reset_index(drop=True)
    shas = per_row["src_sha256"].astype(str)
    per_row["src"] = shas.map(names).fillna(shas.str[:12])  # a source the verdict does not name: its hash
    return per_row


def read_intervals(path: Path) -> pd.DataFrame:
    """The held-out rows' intervals: src_sha256, vmaf, and every lo*/hi* pair the file holds."""
    from kit.infra.parquet import parquet_columns, read_frame

    wanted = [c for c in parquet_columns(path) if c in ("src_sha256", "vmaf") or c.startswith(("lo", "hi"))]
    return read_frame(path, wanted)


def coverage_by_source(intervals: pd.DataFrame) -> pd.DataFrame:
    """Per source (index src_sha256): the share of its rows with lo <= teacher <= hi, one column per level
    keyed as the verdict keys levels ("nominal" for lo/hi, "95" for lo_95/hi_95, "97.5" for lo_97.5/hi_97.5);
    NaN (no figure) where some row of the source has no bound at that level (null: unbounded)."""
    inside = {}
    for lo in (c for c in intervals.columns if c.startswith("lo")):
        hi = "hi" + lo[2:]
        if hi in intervals:
            level = level_of(lo)
            name = "nominal" if level is None else level_key(level)
            open_ended = intervals[lo].isna() | intervals[hi].isna()
            inside[name] = ((intervals[lo] <= intervals["vmaf"]) & (intervals["vmaf"] <= intervals[hi])).where(
                ~open_ended, np.nan)
    frame = pd.DataFrame(inside).astype(float)
    by = frame.groupby(intervals["src_sha256"])
    return by.mean().where(~frame.isna().groupby(intervals["src_sha256"]).any())


def folds_frame(per_fold: Sequence[FoldResult]) -> pd.DataFrame:
    """The verdict's per-fold table (03_loso/folds.parquet) as a frame: one row per (seed, source)."""
    frame = pd.DataFrame([vars(f) for f in per_fold], columns=[f.name for f in fields(FoldResult)])
    figures = [c for c in frame.columns if c not in ("src", "src_sha256", "teacher_constant")]
    return frame.assign(**{c: pd.to_numeric(frame[c], errors="coerce") for c in figures})  # None (absent): NaN


def ranked_sources(folds: pd.DataFrame, clips: Sequence[SourceInfo] | None, coverage: pd.DataFrame | None = None,
                   n: int = ROWS_SHOWN) -> pd.DataFrame:
    """The `n` worst sources, worst first (the verdict's ranking, its reason named), with the means over seeds of
    their figures, their share of predictions outside [0, 100], geometry and coverage at the nominal level."""
    from kit.verdict.decide import worst_folds
    from kit.verdict.document import WorstFold

    ranked = pd.DataFrame([vars(w) for w in worst_folds(folds, n=n)], columns=[f.name for f in fields(WorstFold)])
    ranked["share_out_of_range"] = ranked["src_sha256"].map(out_of_range_by_source(folds))
    geometry = {c.src_sha256: c for c in clips or ()}
    ranked["resolution"] = [f"{g.width}x{g.height}" if (g := geometry.get(s)) and g.width and g.height else "n/a"
                            for s in ranked["src_sha256"]]
    ranked["height"] = [g.height if (g := geometry.get(s)) else 0 for s in ranked["src_sha256"]]
    ranked["fps"] = [g.fps if (g := geometry.get(s)) else float("nan") for s in ranked["src_sha256"]]
    ranked["frames"] = [g.frames if (g := geometry.get(s)) else 0 for s in ranked["src_sha256"]]
    if coverage is not None and "nominal" in coverage:
        ranked["coverage"] = ranked["src_sha256"].map(coverage["nominal"])
    return ranked


def out_of_range_by_source(folds: pd.DataFrame) -> pd.Series:
    """Per source (index src_sha256): the mean over seeds of its share of predictions outside [0, 100]."""
    share = folds["share_out_of_range"] if "share_out_of_range" in folds else pd.Series(np.nan, index=folds.index)
    return share.astype(float).groupby(folds["src_sha256"]).mean()


def plcc_rmse(teacher: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    """PLCC (kit.verdict.breakdown.plcc: NaN when either side is constant) and RMSE, without the rank
    correlations: the report's pooled figures span every held-out frame, where Kendall's tau alone takes seconds."""
    y, p = np.asarray(teacher, dtype=float), np.asarray(pred, dtype=float)
    if len(y) == 0:
        return float("nan"), float("nan")
    return plcc(y, p), float(np.sqrt(np.mean((y - p) ** 2)))


def quality_rows(per_row: pd.DataFrame) -> list[GroupErrors]:
    """The error of each quality setting ("<encoder> cq<N>") over its held-out rows, as the verdict's breakdown
    makes them (kit.verdict.breakdown.errors_of; coverage NaN: that needs the intervals). For a verdict of a kit
    without the breakdown."""
    if not {"encoder", "cq"} <= set(per_row.columns):
        return []
    return [errors_of("quality", quality_key(str(encoder), int(cq)), rows)
            for (encoder, cq), rows in per_row.groupby(["encoder", "cq"], sort=True)]


def far_below_1080p(clips: Sequence[SourceInfo] | None) -> list[SourceInfo]:
    """The sources scored far below the teacher's viewing resolution (at most FAR_BELOW_1080P lines), smallest
    first."""
    return sorted((c for c in clips or () if 0 < c.height <= FAR_BELOW_1080P), key=lambda c: (c.height, c.src))
