"""The report's aggregate charts, readable at 1,000 sources; nothing here reads files."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from kit.model.conformal import level_key
from kit.model.metrics import residuals
from kit.report.figures import span  # also sets matplotlib's backend and style
from kit.verdict.document import Intervals

PER_SOURCE_TICKS = 40  # up to this many sources the fold chart names each; above, the spread chart ranks them
LABELLED_WORST = 5  # sources named on the spread chart


def pooled_density_figure(per_row: pd.DataFrame) -> Figure:
    """Every held-out row: prediction against teacher as a log density, the diagonal and [0, 100]."""
    y, p = per_row["vmaf"].to_numpy(dtype=float), per_row["pred"].to_numpy(dtype=float)
    fig = Figure(figsize=(5.0, 4.0), layout="constrained")
    ax = fig.add_subplot()
    lo, hi = span(per_row["vmaf"], per_row["pred"])  # fitted to the frames, not to the teacher's whole scale
    cells = ax.hexbin(y, p, gridsize=70, extent=(lo, hi, lo, hi), mincnt=1, norm=LogNorm(), cmap="viridis",
                      linewidths=0)
    ax.plot([lo, hi], [lo, hi], color="grey", linewidth=0.8)
    for bound in (b for b in (0.0, 100.0) if lo < b < hi):
        ax.axhline(bound, color="tab:red", linestyle="--", linewidth=0.8)
    r = residuals(p, y)
    ax.set(xlim=(lo, hi), ylim=(lo, hi), xlabel="teacher VMAF", ylabel="predicted (mean over seeds)",
           title=f"{r.n:,} held-out frames, {per_row['src'].nunique():,} sources: pooled PLCC "
                 f"{r.plcc:.4f}, RMSE {r.rmse:.2f}, {r.share_out_of_range:.1%} outside [0, 100]")
    ax.title.set_fontsize(8)
    fig.colorbar(cells, ax=ax, label="frames per cell")
    return fig


def source_spread_figure(folds: pd.DataFrame, ranked: pd.DataFrame, threshold: float | None) -> Figure:
    """Per source: its PLCC (mean over seeds, the seeds' band), lowest first, the worst few marked by rank;
    and the histogram of the sources' RMSE."""
    per = folds.groupby("src_sha256")["plcc"].agg(["mean", "min", "max"]).sort_values("mean", na_position="first")
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    strip, hist = fig.subplots(1, 2, width_ratios=(3, 2))
    x = np.arange(len(per))
    strip.fill_between(x, per["min"], per["max"], color="tab:blue", alpha=0.25, linewidth=0, label="seeds' range")
    strip.plot(x, per["mean"], color="tab:blue", linewidth=1.2, label="mean over seeds")
    if threshold is not None and np.isfinite(threshold) and threshold > -1:
        strip.axhline(threshold, color="tab:red", linestyle="--", linewidth=1, label=f"gate on the mean ({threshold})")
    position = {sha: i for i, sha in enumerate(per.index)}
    for rank, sha in enumerate(ranked["src_sha256"].head(LABELLED_WORST), start=1):
        i = position.get(sha)  # marked by its rank in the ranking: the page's key names it
        if i is not None and np.isfinite(per["mean"].iloc[i]):
            strip.annotate(str(rank), (i, per["mean"].iloc[i]), fontsize=7, xytext=(4, -3), textcoords="offset points",
                           fontweight="bold")
    strip.set(xlabel=f"{len(per):,} held-out sources, lowest PLCC first", ylabel="held-out PLCC vs teacher")
    strip.legend(fontsize=7, loc="lower right")
    rmse = folds.groupby("src_sha256")["rmse"].mean().to_numpy(dtype=float)
    hist.hist(rmse[np.isfinite(rmse)], bins=min(40, max(5, len(rmse) // 5)), color="tab:orange")
    hist.set(xlabel="RMSE of a source (mean over seeds)", ylabel="sources")
    return fig


def coverage_figure(intervals: Intervals, by_source: pd.DataFrame | None) -> Figure:
    """Nominal against empirical coverage: pooled per level, and a box per level over the sources."""
    fig = Figure(figsize=(5.0, 4.0), layout="constrained")
    ax = fig.add_subplot()
    levels = [lv for lv in intervals.levels if np.isfinite(lv.level) and lv.coverage is not None]
    ax.plot([0.45, 1.0], [0.45, 1.0], color="grey", linewidth=0.8, label="nominal = empirical")
    if by_source is not None:
        columns = [(lv.level, level_key(lv.level)) for lv in levels
                   if level_key(lv.level) in by_source and by_source[level_key(lv.level)].notna().any()]
        if columns:
            data = [by_source[c].dropna().to_numpy() for _, c in columns]
            ax.boxplot(data, positions=[lv for lv, _ in columns], widths=0.025, showfliers=True, manage_ticks=False,
                       flierprops={"markersize": 2, "alpha": 0.4}, medianprops={"color": "tab:orange"})
            ax.plot([], [], color="tab:orange", label=f"per source ({len(by_source):,}): median, quartiles")
    ax.plot([lv.level for lv in levels], [float(lv.coverage or 0.0) for lv in levels], "o-", color="tab:blue",
            label="pooled")
    unbounded = [lv.level for lv in intervals.levels if lv.coverage is None]
    if unbounded:  # no point where there is no figure: the levels said once, not a label per level on top of another
        ax.scatter(unbounded, [0.02] * len(unbounded), marker="x", color="tab:red")
        ax.annotate(f"no coverage at {', '.join(f'{lv:g}' for lv in unbounded)}: unbounded", (0.47, 0.06),
                    fontsize=7, color="tab:red")
    ax.set(xlim=(0.45, 1.0), ylim=(0.0, 1.02), xlabel="nominal coverage", ylabel="empirical coverage")
    ax.legend(fontsize=7, loc="upper left")
    return fig
