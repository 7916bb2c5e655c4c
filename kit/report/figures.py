"""The report's figures (matplotlib, Agg) as self-contained HTML: inline SVG, or a base64 PNG for dense scatters. Latin
fonts only, so no outside name is drawn: a chart marks a source by rank or colour, the page names it (`rank_key`)."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.colors import LogNorm, to_hex
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from kit.infra.interrupts import check
from kit.model.conformal import level_key
from kit.model.metrics import residuals
from kit.report.frames import HeldOut, padded
from kit.report.markup import esc
from kit.verdict.document import Intervals
from kit.verdict.intervals import unbounded_label, unbounded_words

matplotlib.use("Agg")  # never a display: the kit runs on headless boxes (and no pyplot state is used)
matplotlib.rcParams.update({
    "svg.hashsalt": "ensemble-kit",  # stable element ids: the same run gives the same page
    "svg.fonttype": "path",  # glyphs as paths: no font needed where the page is opened (the text is ASCII)
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
})
MAX_SCATTER_POINTS = 1500  # per source panel; more only slows the page down
QUALITY_MAPS = ("viridis", "plasma", "cividis", "inferno")  # one per encoder: its cq grid dark to light
MARKERS = ("o", "s", "^", "D", "v", "P")  # one per encoder
LEGEND_SOURCES = 20  # rate-quality charts name every source up to this many; above, only the highlighted ones
Colour = tuple[float, float, float, float]  # RGBA, as a colour map returns it
PANEL_IN = 2.3  # inches per source panel
PER_SOURCE_TICKS = 40  # up to this many sources the fold chart names each; above, the spread chart ranks them
LABELLED_WORST = 5  # sources named on the spread chart


def figure_html(fig: Figure, caption: str, fmt: str = "svg", key: str = "", caption_html: str = "") -> str:
    """One <figure>: the chart inline (svg) or as a data: URI (png); `key` and `caption_html` are escaped HTML."""
    check()  # a report draws dozens of figures: a stop signal between two (kit/infra/interrupts.py)
    buf = io.BytesIO()
    if fmt == "svg":
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
        svg = buf.getvalue().decode("utf-8")
        body = svg[svg.index("<svg"):]  # drop the XML prolog and doctype: inline SVG needs neither
        body = re.sub(r"<metadata>.*?</metadata>", "", body, flags=re.S)
    else:
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
        data = base64.b64encode(palette_png(buf.getvalue())).decode("ascii")
        body = f"<img alt='{esc(caption)}' src='data:image/png;base64,{data}'>"
    said = caption_html or esc(caption)
    return f"<figure class='plot plot-{fmt}'>{body}{key}<figcaption>{said}</figcaption></figure>"


def palette_png(png: bytes) -> bytes:
    """The image in 256 colours (a third of the bytes of a dense chart, no visible change), unless that is larger."""
    from PIL import Image  # matplotlib's own dependency

    out = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT).save(
        out, format="png", optimize=True)
    return out.getvalue() if out.tell() < len(png) else png


def legend_html(items: Sequence[tuple[str, Colour | str]], title: str = "") -> str:
    """A chart's legend as the page draws it: a colour swatch and the name, any script, for each item."""
    keys = " ".join(f"<span><i style='background:{to_hex(c)}'></i>{esc(name)}</span>" for name, c in items)
    return f"<div class='key'>{f'<b>{esc(title)}</b> ' if title else ''}{keys}</div>"


def rank_key(names: Sequence[str]) -> str:
    """Which number on a chart is which source: `1 perlin  2 life ...`."""
    keys = " ".join(f"<span><b>{i}</b> {esc(name)}</span>" for i, name in enumerate(names, start=1))
    return f"<div class='key'>{keys}</div>"


def fold_plcc_figure(per_fold: pd.DataFrame, threshold: float | None, order: Sequence[str]) -> Figure:
    """Per-fold PLCC, one marker per seed, one column per source in `order` (src_sha256), marked by rank."""
    seeds = sorted(per_fold["seed"].unique())
    fig = Figure(figsize=(max(5.0, 0.32 * len(order) + 2.5), 2.8), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(order))
    width = 0.7 / max(1, len(seeds))
    for i, seed in enumerate(seeds):
        rows = per_fold[per_fold["seed"] == seed].groupby("src_sha256")["plcc"].mean().reindex(order)
        ax.plot(x - 0.35 + width * (i + 0.5), rows.to_numpy(dtype=float), "o", ms=4, label=f"seed {seed}")
    means = per_fold.groupby("src_sha256")["plcc"].mean().reindex(order).to_numpy(dtype=float)
    ax.hlines(means, x - 0.4, x + 0.4, colors="black", linewidth=1.5, label="mean over seeds")
    lowest = np.min(means[np.isfinite(means)], initial=np.inf)  # no PLCC at all (a constant teacher): no warning
    if threshold is not None and np.isfinite(threshold) and threshold > -1 and lowest < threshold + 0.02:
        ax.axhline(threshold, color="tab:red", linestyle="--", linewidth=1, label=f"gate on the mean ({threshold})")
    ax.set_xticks(x, [str(i + 1) for i in x])
    ax.set(ylabel="held-out PLCC", xlabel="held-out source (fold) by rank, worst first")
    fig.legend(loc="outside right upper", fontsize=7)
    return fig


def quality_styles(keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], tuple[Colour, str]]:
    """A colour and a marker per quality setting: a marker and a colour map per encoder, low cq dark."""
    out: dict[tuple[str, int], tuple[Colour, str]] = {}
    for i, encoder in enumerate(sorted({e for e, _ in keys})):
        cmap = matplotlib.colormaps[QUALITY_MAPS[i % len(QUALITY_MAPS)]]
        grid = sorted(cq for e, cq in keys if e == encoder)
        for j, cq in enumerate(grid):
            out[(encoder, cq)] = (cmap(0.05 + 0.75 * j / max(1, len(grid) - 1)), MARKERS[i % len(MARKERS)])
    return out


def source_panel(rows: pd.DataFrame, styles: dict[tuple[str, int], tuple[Colour, str]],
                 rng: np.random.Generator) -> Figure:
    """One source's held-out frames, mean prediction against teacher by quality setting, on one fitted square."""
    fig = Figure(figsize=(PANEL_IN, PANEL_IN), layout="constrained")
    ax = fig.add_subplot()
    if len(rows) > MAX_SCATTER_POINTS:
        rows = rows.iloc[np.sort(rng.choice(len(rows), MAX_SCATTER_POINTS, replace=False))]
    lo, hi = span(rows["vmaf"], rows["pred"])
    ax.plot([lo, hi], [lo, hi], color="grey", linewidth=0.8)
    groups = rows.groupby(["encoder", "cq"], sort=True) if styles else [(None, rows)]
    for key, part in groups:
        colour, marker = styles[(str(key[0]), int(key[1]))] if key is not None else ("tab:blue", "o")
        ax.scatter(part["vmaf"], part["pred"], s=6, alpha=0.6, color=colour, marker=marker, linewidths=0)
    ax.set(xlim=(lo, hi), ylim=(lo, hi))
    ax.set_xlabel("teacher VMAF", fontsize=8)
    ax.set_ylabel("predicted", fontsize=8)
    return fig


def span(*columns: pd.Series) -> tuple[float, float]:
    """One square range around the data (teacher and prediction share an axis scale)."""
    values = np.concatenate([c.to_numpy(dtype=float) for c in columns])
    values = values[np.isfinite(values)]
    return padded(float(values.min()), float(values.max())) if len(values) else padded(0.0, 100.0)


def panels_html(preds: pd.DataFrame, sources: Sequence[str]) -> str:
    """One small chart per source in `sources`, its name, PLCC and RMSE under it, and one legend."""
    shown = preds[preds["src"].isin(list(sources))]
    by_quality = {"encoder", "cq"} <= set(preds.columns)
    styles = quality_styles(sorted({(str(e), int(c)) for e, c in zip(shown["encoder"], shown["cq"], strict=True)})
                            if by_quality else [])
    rng = np.random.default_rng(0)  # the same points sampled in every report of the run
    cells = []
    for rank, name in enumerate(sources, start=1):
        rows = shown[shown["src"] == name]
        if rows.empty:
            continue
        r = residuals(rows["pred"], rows["vmaf"])  # as every fold's
        said = f"<b>{esc(f'{rank}. {name}')}</b><br>{esc(f'PLCC {r.plcc:.3f}, ens. RMSE {r.rmse:.2f}')}"
        cells.append(figure_html(source_panel(rows, styles, rng), f"{rank}. {name}", "png", caption_html=said))
    legend = legend_html([(f"{e} cq{cq}", c) for (e, cq), (c, _) in styles.items()], "quality") if styles else ""
    return f"<div class='panels'>{''.join(cells)}</div>{legend}"


def distinct_colours(n: int) -> list[tuple[float, float, float, float]]:
    """n colours no two alike: tab10, tab20 (pairs split apart), then evenly spaced hues in two lightnesses."""
    if n <= 10:
        return [matplotlib.colormaps["tab10"](i) for i in range(n)]
    if n <= 20:
        tab20 = matplotlib.colormaps["tab20"]
        return [tab20(i) for i in (*range(0, 20, 2), *range(1, 20, 2))][:n]
    import colorsys

    return [(*colorsys.hls_to_rgb(i / n, 0.38 if i % 2 else 0.55, 0.75), 1.0) for i in range(n)]


def source_colours(rq: pd.DataFrame, highlight: Sequence[str] = ()) -> dict[str, Colour]:
    """The sources the rate-quality charts colour (all up to LEGEND_SOURCES, else `highlight`), one colour each."""
    sources = sorted(rq["src"].unique())
    named = sources if len(sources) <= LEGEND_SOURCES else [s for s in highlight if s in set(sources)]
    return dict(zip(named, distinct_colours(len(named)), strict=True))


def rate_quality_figures(rq: pd.DataFrame, colours: dict[str, Colour]) -> list[tuple[str, Figure]]:
    """Bitrate against mean VMAF, a figure per encoder; the `colours` sources coloured, the rest thin grey."""
    figures = []
    for encoder in sorted(rq["encoder"].unique()):
        fig = Figure(figsize=(5.6, 3.4), layout="constrained")
        ax = fig.add_subplot()
        lines = rq[rq["encoder"] == encoder].sort_values(["src", "bitrate_kbps"])
        rest = lines[~lines["src"].isin(list(colours))]
        if not rest.empty:  # the rest as one grey collection, not one artist per source
            starts = np.flatnonzero(rest["src"].to_numpy()[1:] != rest["src"].to_numpy()[:-1]) + 1
            segments = np.split(rest[["bitrate_kbps", "vmaf"]].to_numpy(dtype=float), starts)
            ax.add_collection(LineCollection(segments, colors="grey", linewidths=0.5, alpha=0.35))
        for src, colour in colours.items():
            line = lines[lines["src"] == src]
            if not line.empty:
                ax.plot(line["bitrate_kbps"], line["vmaf"], "o-", ms=3.5, linewidth=1.4, color=colour)
        ax.set_xscale("log")
        ax.autoscale_view()
        ax.margins(y=0.06)  # fitted to the points: flat curves at 92-99 show as what they are
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))  # 50, 100, 200, 500 ...: plain numbers
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set(title=encoder, xlabel="bitrate (kbps, log scale)", ylabel="mean VMAF")
        figures.append((encoder, fig))
    return figures


def pooled_density_figure(held: HeldOut) -> Figure:
    """Every held-out row: prediction against teacher as a log density (held.density's cells, drawn as gathered),
    the diagonal and [0, 100]."""
    fig = Figure(figsize=(5.0, 4.0), layout="constrained")
    ax = fig.add_subplot()
    lo, hi = held.span  # fitted to the frames, not to the teacher's whole scale
    edges = np.linspace(lo, hi, len(held.density) + 1)
    cells = ax.pcolormesh(edges, edges, np.ma.masked_equal(held.density.T, 0), norm=LogNorm(), cmap="viridis",
                          linewidth=0, rasterized=True)
    ax.plot([lo, hi], [lo, hi], color="grey", linewidth=0.8)
    for bound in (b for b in (0.0, 100.0) if lo < b < hi):
        ax.axhline(bound, color="tab:red", linestyle="--", linewidth=0.8)
    ax.set(xlim=(lo, hi), ylim=(lo, hi), xlabel="teacher VMAF", ylabel="predicted (mean over seeds)",
           title=f"{held.n:,} held-out frames, {len(held.names):,} sources: pooled PLCC "
                 f"{held.plcc:.4f}, RMSE {held.rmse:.2f}, {held.share_out_of_range:.1%} outside [0, 100]")
    ax.title.set_fontsize(8)
    fig.colorbar(cells, ax=ax, label="frames per cell")
    return fig


def source_spread_figure(folds: pd.DataFrame, ranked: pd.DataFrame, threshold: float | None) -> Figure:
    """Per source: its PLCC (mean over seeds, the seeds' band), the worst few marked; and a histogram of RMSE."""
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
    unbounded = [lv for lv in intervals.levels if lv.coverage is None]
    for i, lv in enumerate(unbounded):  # no point where there is no figure (a mark low on the axis reads as 0 %): the
        # level's whole height struck through, and said so, once in the legend and along the line itself
        ax.axvline(lv.level, color="tab:red", linestyle="--", linewidth=1.0,
                   label=unbounded_words([x.level for x in unbounded]) if i == 0 else None)
        ax.text(lv.level - 0.006, 0.5, unbounded_label(lv, intervals.n_groups), rotation=90, fontsize=6.5,
                color="tab:red", ha="right", va="center")
    ax.set(xlim=(0.45, 1.0), ylim=(0.0, 1.02), xlabel="nominal coverage", ylabel="empirical coverage")
    ax.legend(fontsize=7, loc="lower right")  # below the diagonal the pooled points keep to
    return fig
