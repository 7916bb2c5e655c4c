"""The report's figures, drawn with matplotlib (Agg, no pyplot state) and
returned as self-contained HTML: inline SVG for line and point charts, a
base64 PNG for the dense scatter plots. Nothing here reads files.
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
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
MAX_PANELS = 24  # predicted-vs-teacher panels when no sources are named
QUALITY_MAPS = ("viridis", "plasma", "cividis", "inferno")  # one per encoder: its cq grid dark to light
MARKERS = ("o", "s", "^", "D", "v", "P")  # one per encoder
LEGEND_SOURCES = 20  # rate-quality charts name every source up to this many; above, only the highlighted ones
Colour = tuple[float, float, float, float]  # RGBA, as a colour map returns it
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
        data = base64.b64encode(palette_png(buf.getvalue())).decode("ascii")
        body = f"<img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"
    return f"<figure class='plot plot-{fmt}'>{body}<figcaption>{html.escape(caption)}</figcaption></figure>"


def palette_png(png: bytes) -> bytes:
    """The image in 256 colours (a third of the bytes of a dense chart, no visible change), unless that is larger."""
    from PIL import Image  # matplotlib's own dependency

    out = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT).save(
        out, format="png", optimize=True)
    return out.getvalue() if out.tell() < len(png) else png


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


def quality_styles(keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], tuple[Colour, str]]:
    """A colour and a marker per quality setting: one marker and one sequential colour map per encoder, its cq
    grid from dark (low cq, high quality) to light, so a panel shows which settings a miss comes from."""
    encoders = sorted({e for e, _ in keys})
    out: dict[tuple[str, int], tuple[Colour, str]] = {}
    for i, encoder in enumerate(encoders):
        cmap = matplotlib.colormaps[QUALITY_MAPS[i % len(QUALITY_MAPS)]]
        grid = sorted(cq for e, cq in keys if e == encoder)
        for j, cq in enumerate(grid):
            out[(encoder, cq)] = (cmap(0.05 + 0.75 * j / max(1, len(grid) - 1)), MARKERS[i % len(MARKERS)])
    return out


def pred_vs_teacher_figure(preds: pd.DataFrame, sources: Sequence[str] | None = None, rng_seed: int = 0) -> Figure:
    """One panel per source (`sources`, in order; by default the lowest PLCC first, at most MAX_PANELS): the
    ensemble's mean prediction against the teacher, per frame, coloured by quality setting, every panel on the
    same axes (a bad panel looks bad).

    preds: one row per held-out frame with columns src, vmaf (teacher), pred (mean over seeds), and encoder and
    cq where recorded.
    """
    if sources is None:  # scored here: at 1,000 sources, score only the panels drawn
        ranked = preds.groupby("src").apply(_agreement, include_groups=False).sort_values("plcc", na_position="first")
        sources = ranked.index.tolist()[:MAX_PANELS]
    names = list(sources)
    shown = preds[preds["src"].isin(names)]
    stats = shown.groupby("src").apply(_agreement, include_groups=False)
    fig, axes = _grid(len(names))
    rng = np.random.default_rng(rng_seed)
    lo, hi = _span(shown["vmaf"], shown["pred"], pd.Series([0.0, 100.0]))
    by_quality = {"encoder", "cq"} <= set(preds.columns)
    styles = quality_styles(sorted({(str(e), int(c)) for e, c in zip(shown["encoder"], shown["cq"], strict=True)})
                            if by_quality else [])
    for ax, name in zip(axes, names, strict=True):
        rows = shown[shown["src"] == name]
        if len(rows) > MAX_SCATTER_POINTS:
            rows = rows.iloc[np.sort(rng.choice(len(rows), MAX_SCATTER_POINTS, replace=False))]
        ax.plot([lo, hi], [lo, hi], color="grey", linewidth=0.8)
        groups = rows.groupby(["encoder", "cq"], sort=True) if by_quality else [(None, rows)]
        for key, part in groups:
            colour, marker = styles[(str(key[0]), int(key[1]))] if key is not None else ("tab:blue", "o")
            ax.scatter(part["vmaf"], part["pred"], s=6, alpha=0.6, color=colour, marker=marker, linewidths=0)
        ax.set(xlim=(lo, hi), ylim=(lo, hi), title=f"{label(name)}\nPLCC {stats.at[name, 'plcc']:.3f}, "
                                                  f"ens. RMSE {stats.at[name, 'rmse']:.2f}")
        ax.title.set_fontsize(8)
        ax.set_xlabel("teacher VMAF", fontsize=8)
        ax.set_ylabel("predicted", fontsize=8)
    if styles:
        handles = [Line2D([], [], linestyle="", marker=m, color=c, label=f"{e} cq{cq}")
                   for (e, cq), (c, m) in styles.items()]
        fig.legend(handles=handles, loc="outside right upper", fontsize=7, title="quality", title_fontsize=8)
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


def rate_quality_figures(rq: pd.DataFrame, highlight: Sequence[str] = ()) -> list[tuple[str, Figure]]:
    """Bitrate against mean VMAF, one large figure per encoder, one line per source (its cq grid).

    Up to LEGEND_SOURCES sources each has its colour, kept across the encoders, and its name in the legend.
    Above that every source is a thin grey line (the spread of the corpus), and only the `highlight` sources
    (the worst) are coloured and named.

    rq: one row per (src, encoder, cq) with bitrate_kbps and vmaf (the mean over frames).
    """
    sources = sorted(rq["src"].unique())
    named = sources if len(sources) <= LEGEND_SOURCES else [s for s in highlight if s in set(sources)]
    colours = dict(zip(named, distinct_colours(len(named)), strict=True))
    figures = []
    for encoder in sorted(rq["encoder"].unique()):
        fig = Figure(figsize=(9.0, 5.2), layout="constrained")
        ax = fig.add_subplot()
        lines = rq[rq["encoder"] == encoder].sort_values(["src", "bitrate_kbps"])
        if len(named) < len(sources):  # the rest as one grey collection, not one artist per source
            rest = lines[~lines["src"].isin(named)]
            starts = np.flatnonzero(rest["src"].to_numpy()[1:] != rest["src"].to_numpy()[:-1]) + 1
            segments = np.split(rest[["bitrate_kbps", "vmaf"]].to_numpy(dtype=float), starts)
            ax.add_collection(LineCollection(segments, colors="grey", linewidths=0.5, alpha=0.35,
                                             label=f"{len(segments)} other sources"))
        for src in named:
            line = lines[lines["src"] == src]
            if not line.empty:
                ax.plot(line["bitrate_kbps"], line["vmaf"], "o-", ms=4, linewidth=1.5, color=colours[src],
                        label=label(src))
        ax.set_xscale("log")
        ax.autoscale_view()
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))  # 50, 100, 200, 500 ...: plain numbers
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set(title=encoder, xlabel="bitrate (kbps, log scale)", ylabel="mean VMAF", ylim=(0, 102))
        fig.legend(loc="outside right upper", fontsize=8, title="source", title_fontsize=9,
                   ncols=2 if len(named) > 16 else 1)
        figures.append((encoder, fig))
    return figures
