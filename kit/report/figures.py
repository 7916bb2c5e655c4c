"""The report's figures, drawn with matplotlib (Agg, no pyplot state) and
returned as self-contained HTML: inline SVG for line and point charts, a
base64 PNG for the dense scatter plots. Nothing here reads files.
"""

from __future__ import annotations

import base64
import html
import io
import re

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from kit.infra.visible import visible

matplotlib.use("Agg")  # never a display: the kit runs on headless boxes (and no pyplot state is used)
matplotlib.rcParams.update({
    "svg.hashsalt": "ensemble-kit",  # stable element ids: the same run gives the same page
    "svg.fonttype": "path",  # glyphs as paths: no font needed where the page is opened
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
})
MAX_SCATTER_POINTS = 1500  # per source panel; more only slows the page down
MAX_PANELS = 24  # predicted-vs-teacher panels (the worst sources first)
PANEL_IN = 2.6  # inches per small-multiple panel


def label(name: str) -> str:
    """A source's name as a figure shows it: on one line, made visible (kit/infra/visible.py), and a `$` as
    itself (matplotlib reads $...$ as mathematics, and an unbalanced one as an error)."""
    return visible(name).replace("$", r"\$")


def figure_html(fig: Figure, caption: str, fmt: str = "svg") -> str:
    """One <figure> holding the chart inline (svg) or as a data: URI (png)."""
    buf = io.BytesIO()
    if fmt == "svg":
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
        svg = buf.getvalue().decode("utf-8")
        body = svg[svg.index("<svg"):]  # drop the XML prolog and doctype: inline SVG needs neither
        body = re.sub(r"<metadata>.*?</metadata>", "", body, flags=re.S)
    else:
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
        data = base64.b64encode(buf.getvalue()).decode("ascii")
        body = f"<img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"
    return f"<figure class='plot plot-{fmt}'>{body}<figcaption>{html.escape(caption)}</figcaption></figure>"


def fold_plcc_figure(per_fold: pd.DataFrame, threshold: float | None) -> Figure:
    """Per-fold PLCC, one marker per seed, sources ordered worst first."""
    order = per_fold.groupby("src")["plcc"].mean().sort_values(na_position="first").index.tolist()
    seeds = sorted(per_fold["seed"].unique())
    fig = Figure(figsize=(max(6.0, 0.45 * len(order) + 3), 3.6), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(order))
    width = 0.7 / max(1, len(seeds))
    for i, seed in enumerate(seeds):
        rows = per_fold[per_fold["seed"] == seed].set_index("src").reindex(order)
        ax.plot(x - 0.35 + width * (i + 0.5), rows["plcc"].to_numpy(dtype=float), "o", ms=5, label=f"seed {seed}")
    means = per_fold.groupby("src")["plcc"].mean().reindex(order).to_numpy(dtype=float)
    ax.hlines(means, x - 0.4, x + 0.4, colors="black", linewidth=1.5, label="mean over seeds")
    if threshold is not None and np.isfinite(threshold) and threshold > -1:
        ax.axhline(threshold, color="tab:red", linestyle="--", linewidth=1, label=f"gate on the mean ({threshold})")
    # rotated, so long source names never run together, however few folds there are
    ax.set_xticks(x, [label(src) for src in order], rotation=35, ha="right", rotation_mode="anchor")
    ax.set_ylabel("held-out PLCC vs teacher")
    ax.set_xlabel("held-out source (fold), worst first")
    fig.legend(loc="outside right upper", fontsize=7)
    return fig


def _grid(n: int, cols: int = 4) -> tuple[Figure, list[Axes]]:
    ncols = min(cols, max(1, n))
    nrows = -(-n // ncols)
    fig = Figure(figsize=(PANEL_IN * ncols + 0.5, PANEL_IN * nrows + 0.4), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def pred_vs_teacher_figure(preds: pd.DataFrame, rng_seed: int = 0) -> Figure:
    """One panel per held-out source: the ensemble's mean prediction against the teacher, per frame.

    preds: one row per held-out frame with columns src, vmaf (teacher), pred (mean over seeds).
    """
    stats = preds.groupby("src").apply(_agreement, include_groups=False).sort_values("plcc", na_position="first")
    names = stats.index.tolist()[:MAX_PANELS]
    fig, axes = _grid(len(names))
    rng = np.random.default_rng(rng_seed)
    for ax, name in zip(axes, names, strict=True):
        rows = preds[preds["src"] == name]
        if len(rows) > MAX_SCATTER_POINTS:
            rows = rows.iloc[np.sort(rng.choice(len(rows), MAX_SCATTER_POINTS, replace=False))]
        lo, hi = _span(rows["vmaf"], rows["pred"])
        ax.plot([lo, hi], [lo, hi], color="grey", linewidth=0.8)
        ax.scatter(rows["vmaf"], rows["pred"], s=6, alpha=0.5, color="tab:blue", linewidths=0)
        ax.set(xlim=(lo, hi), ylim=(lo, hi), title=f"{label(name)}\nPLCC {stats.at[name, 'plcc']:.3f}, "
                                                  f"ens. RMSE {stats.at[name, 'rmse']:.2f}")
        ax.title.set_fontsize(8)
    for ax in axes:
        ax.set_xlabel("teacher VMAF", fontsize=8)
        ax.set_ylabel("predicted", fontsize=8)
    return fig


def _span(*columns: pd.Series) -> tuple[float, float]:
    """One square range around the data (teacher and prediction share an axis scale)."""
    values = np.concatenate([c.to_numpy(dtype=float) for c in columns])
    values = values[np.isfinite(values)]
    lo, hi = (float(values.min()), float(values.max())) if len(values) else (0.0, 100.0)
    pad = max(1.0, 0.05 * (hi - lo))
    return lo - pad, hi + pad


def _agreement(rows: pd.DataFrame) -> pd.Series:
    """PLCC and RMSE of one source's frames against the teacher, as kit.model.metrics scores every fold."""
    from kit.model.metrics import agreement

    scores = agreement(rows["vmaf"].to_numpy(dtype=float), rows["pred"].to_numpy(dtype=float))
    return pd.Series({"plcc": scores["plcc"], "rmse": scores["rmse"]})


def distinct_colours(n: int) -> list[tuple[float, float, float, float]]:
    """n colours no two alike: tab10, tab20 (pairs split apart), then evenly spaced hues in two lightnesses."""
    if n <= 10:
        return [matplotlib.colormaps["tab10"](i) for i in range(n)]
    if n <= 20:
        tab20 = matplotlib.colormaps["tab20"]
        return [tab20(i) for i in (*range(0, 20, 2), *range(1, 20, 2))][:n]
    import colorsys

    return [(*colorsys.hls_to_rgb(i / n, 0.38 if i % 2 else 0.55, 0.75), 1.0) for i in range(n)]


def rate_quality_figures(rq: pd.DataFrame) -> list[tuple[str, Figure]]:
    """Bitrate against mean VMAF, one large figure per encoder, one line per source (its cq grid);
    a source keeps its colour across the encoders.

    rq: one row per (src, encoder, cq) with bitrate_kbps and vmaf (the mean over frames).
    """
    sources = sorted(rq["src"].unique())
    colours = dict(zip(sources, distinct_colours(len(sources)), strict=True))
    figures = []
    for encoder in sorted(rq["encoder"].unique()):
        fig = Figure(figsize=(9.0, 5.2), layout="constrained")
        ax = fig.add_subplot()
        for src in sources:
            line = rq[(rq["encoder"] == encoder) & (rq["src"] == src)].sort_values("bitrate_kbps")
            if not line.empty:
                ax.plot(line["bitrate_kbps"], line["vmaf"], "o-", ms=4, linewidth=1.5, color=colours[src],
                        label=label(src))
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))  # 50, 100, 200, 500 ...: plain numbers
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set(title=encoder, xlabel="bitrate (kbps, log scale)", ylabel="mean VMAF", ylim=(0, 102))
        fig.legend(loc="outside right upper", fontsize=8, title="source", title_fontsize=9,
                   ncols=2 if len(sources) > 16 else 1)
        figures.append((encoder, fig))
    return figures
