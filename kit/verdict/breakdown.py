"""The ensemble's error by encoder, by box, by resolution class, by quality setting and by source.

Computed from the held-out rows of `04_verdict/intervals.parquet` (the ensemble: the mean over seeds of the
out-of-fold predictions), so every figure can be recomputed from that file: PLCC (Pearson, no mapping), RMSE,
bias (mean of prediction - teacher), the largest single-frame miss, the share of predictions outside [0, 100]
and the coverage and mean width of the interval at the run's nominal level.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from kit.corpus.schema import VMAF_RANGE
from kit.verdict.document import GroupErrors, LimitGate
from kit.verdict.intervals import column, level_key, level_of

GROUPINGS = ("encoder", "box", "resolution", "quality", "source")
# classes by picture height: what libvmaf's vmaf_v0.6.1 (trained for 1080p viewing) sees far from its setting
RESOLUTION_CLASSES = ((240, "<=240p"), (480, "<=480p"), (720, "<=720p"), (1080, "<=1080p"))


def resolution_class(height: int) -> str:
    if height <= 0:  # a corpus without the column (made by hand)
        return "unknown"
    return next((name for top, name in RESOLUTION_CLASSES if height <= top), ">1080p")


def group_labels(rows: pd.DataFrame, by: str) -> pd.Series:
    """Each row's group under one grouping: the encoder, the box id, the resolution class, "<encoder> cq<N>", or
    the source's name."""
    if by == "encoder":
        return rows["encoder"].astype(str)
    if by == "box":
        return rows["box_id"].astype(str)
    if by == "resolution":
        return rows["height"].map(resolution_class)
    if by == "quality":
        return pd.Series([quality_key(str(e), int(c)) for e, c in zip(rows["encoder"], rows["cq"], strict=True)],
                         index=rows.index)
    if by == "source":
        return rows["src"].astype(str)
    raise ValueError(f"unknown grouping {by!r}")


def quality_key(encoder: str, cq: int) -> str:
    """A quality setting's group: `libx264 cq25`."""
    return f"{encoder} cq{cq}"


def plcc(y: np.ndarray, p: np.ndarray) -> float:
    """Pearson's r; NaN when either side is constant or there are fewer than two rows."""
    if len(y) < 2 or np.ptp(y) == 0 or np.ptp(p) == 0:
        return float("nan")
    return float(np.corrcoef(y, p)[0, 1])


def errors_of(by: str, group: str, part: pd.DataFrame, pred: str = "pred") -> GroupErrors:
    y, p = part["vmaf"].to_numpy(dtype=np.float64), part[pred].to_numpy(dtype=np.float64)
    miss = p - y
    has_interval = "lo" in part
    width = (part["hi"] - part["lo"]).to_numpy() if has_interval else np.array([np.nan])
    inside = ((part["lo"] <= part["vmaf"]) & (part["vmaf"] <= part["hi"])).mean() if has_interval else math.nan
    levels = [lv for c in part.columns if c.startswith("lo") and (lv := level_of(c)) is not None]  # every level held
    return GroupErrors(by=by, group=group, n_frames=len(part), n_sources=int(part["src_sha256"].nunique()),
                       plcc=plcc(y, p), rmse=float(np.sqrt(np.mean(miss ** 2))), bias=float(miss.mean()),
                       max_abs_error=float(np.abs(miss).max()),
                       share_out_of_range=float(np.mean((p < VMAF_RANGE[0]) | (p > VMAF_RANGE[1]))),
                       coverage=float(inside),
                       mean_width=float(width.mean()) if has_interval and np.isfinite(width).all() else None,
                       coverage_by_level={level_key(lv): level_coverage(part, lv) for lv in levels} or None,
                       width_by_level={level_key(lv): level_width(part, lv) for lv in levels} or None)


def level_coverage(part: pd.DataFrame, level: float) -> float:
    """Rows inside [lo_<L>, hi_<L>] (closed)."""
    lo, hi = part[column(level, "lo")], part[column(level, "hi")]
    return float(((lo <= part["vmaf"]) & (part["vmaf"] <= hi)).mean())


def level_width(part: pd.DataFrame, level: float) -> float | None:
    """Mean hi_<L> - lo_<L>; None when any is unbounded."""
    width = (part[column(level, "hi")] - part[column(level, "lo")]).to_numpy()
    return float(width.mean()) if np.isfinite(width).all() else None


def breakdown(rows: pd.DataFrame, groupings: tuple[str, ...] = GROUPINGS) -> tuple[GroupErrors, ...]:
    """Every group of every grouping, in grouping order then by group name."""
    out: list[GroupErrors] = []
    for by in groupings:
        labels = group_labels(rows, by)
        for name, part in rows.groupby(labels.to_numpy(), sort=True):
            out.append(errors_of(by, str(name), part))
    return tuple(out)


def range_gate(groups: tuple[GroupErrors, ...], threshold: float | None) -> LimitGate:
    """--max-out-of-range: no source's share of held-out predictions outside [0, 100] above the threshold (off
    when None: the worst source is still recorded)."""
    sources = [g for g in groups if g.by == "source"]
    worst = max(sources, key=lambda g: (g.share_out_of_range, g.group), default=None)
    value = worst.share_out_of_range if worst else float("nan")
    failing = sorted(g.group for g in sources if threshold is not None and not g.share_out_of_range <= threshold)
    statement = (f"source {worst.group}: {value:.1%} of its held-out predictions lie outside [0, 100]"
                 if worst is not None and value > 0 else None)
    return LimitGate(enabled=threshold is not None, measure="share_out_of_range", threshold=threshold,
                     worst=worst.group if worst else None, worst_value=value, failing=failing,
                     passed=not failing, statement=statement)
