"""The report's sections on error and its spread: aggregate charts, the worst sources, error by source, by
quality setting, by encoder and box, and the intervals' coverage. Each says which file its figures come from."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kit.report.extras import Extras
from kit.report.frames import FAR_BELOW_1080P, PANELS, far_below_1080p, out_of_range_by_source, quality_rows
from kit.report.markup import ROWS_SHOWN, esc, note, table
from kit.verdict.kinds import POOLED, SOURCE

if TYPE_CHECKING:
    import pandas as pd

    from kit.corpus.summary import SourceInfo
    from kit.verdict.document import GroupErrors, Verdict

FOLDS_FILE = "03_loso/folds.parquet"
PREDICTIONS_FILE = "03_loso/predictions.parquet"
INTERVALS_FILE = "04_verdict/intervals.parquet"


def spread_section(verdict: Verdict, folds: pd.DataFrame, ranked: pd.DataFrame) -> list[str]:
    """Per-source PLCC: one marker per (seed, source) up to a readable number of sources, else their spread."""
    from kit.report import charts, figures

    parts = ["<h2 id='folds'>Per-source PLCC per seed</h2>"]
    if folds.empty:
        return [*parts, note("No folds in the verdict.")]
    threshold = verdict.gate.mean_plcc_threshold
    if folds["src_sha256"].nunique() <= charts.PER_SOURCE_TICKS:
        return [*parts, figures.figure_html(figures.fold_plcc_figure(folds, threshold),
                                            "Held-out PLCC of every (seed, source), from the predictions of the "
                                            "members that did not train on the source (its fold held out its "
                                            f"whole content group). From {FOLDS_FILE}.")]
    return [*parts, figures.figure_html(charts.source_spread_figure(folds, ranked, threshold),
                                        f"Left: every source's held-out PLCC, the mean over seeds (line) and the "
                                        f"seeds' lowest to highest (band), sorted; the {charts.LABELLED_WORST} "
                                        "worst of the ranking below named. Right: the sources' RMSE (mean over "
                                        f"seeds). From {FOLDS_FILE}.")]


def prediction_sections(per_row: pd.DataFrame | None, ranked: pd.DataFrame) -> list[str]:
    """The pooled density of every held-out frame, then the panels of the worst PANELS sources."""
    from kit.report import charts, figures

    parts = ["<h2 id='predictions'>Predicted vs teacher VMAF</h2>"]
    if per_row is None or per_row.empty:
        return [*parts, note("No held-out predictions available.")]
    parts.append(figures.figure_html(charts.pooled_density_figure(per_row),
                                     "All sources at once: each held-out frame's prediction (the mean over seeds "
                                     "of the members that did not train on it) against the vmaf_v0.6.1 teacher, "
                                     "as frames per cell; grey line = agreement; red = the teacher's range. "
                                     f"From {PREDICTIONS_FILE}.", "png"))
    worst = [str(s) for s in ranked["src"].head(PANELS)] if not ranked.empty else None
    chosen = (f"the {len(worst)} worst of the ranking below (by whichever of PLCC, RMSE and |bias| is furthest from "
              "the typical source)" if worst is not None else f"the {figures.MAX_PANELS} lowest PLCC")
    parts.append(f"<h3>Worst sources: {esc(chosen)}</h3>")
    parts.append(figures.figure_html(figures.pred_vs_teacher_figure(per_row, worst),
                                     "Per frame, one panel per source, worst first: the mean of the seeds' held-out "
                                     "predictions against the teacher, coloured by quality setting (one colour "
                                     "map per encoder, low cq dark), every panel on the same axes. ens. RMSE: the "
                                     "RMSE of that mean prediction (the tables' RMSE is the mean over seeds of each "
                                     f"seed's RMSE, a little larger). From {PREDICTIONS_FILE}.", "png"))
    return parts


def source_table_section(ranked: pd.DataFrame, folds: pd.DataFrame, extras: Extras) -> list[str]:
    """The worst sources' figures, worst first; the folds table holds every source's."""
    coverage = "coverage" in ranked
    nominal = extras.intervals.nominal if extras.intervals is not None else None
    at = extras.intervals.at(nominal) if extras.intervals is not None and nominal is not None else None
    open_ended = at is not None and at.coverage is None  # no coverage at the nominal level: none per source either
    headers = ["rank", "source", "why", "resolution", "frame rate", "frames", f"PLCC ({SOURCE})", f"RMSE ({SOURCE})",
               "bias",
               "max abs error", "share outside [0, 100]", *([f"coverage at {nominal:g}"] if coverage and nominal
                                                            else ["coverage"] if coverage else [])]
    rows = [[i + 1, r.src, r.reason, r.resolution, f"{r.fps:g}" if np.isfinite(r.fps) else "n/a", r.frames,
             r.plcc, r.rmse, r.bias, r.max_abs_error, r.share_out_of_range,
             *([bounded_cell(r.coverage, open_ended)] if coverage else [])]
            for i, r in enumerate(ranked.itertuples())]
    n_sources = folds["src_sha256"].nunique()
    more = n_sources - len(rows)
    shares = out_of_range_by_source(folds).to_numpy(dtype=float)
    said = (f"{int(np.sum(shares > 0))} of {n_sources} sources have predictions outside [0, 100]"
            + (f"; at most {np.nanmax(shares):.1%} of a source's frames." if np.nanmax(shares) > 0 else ".")
            ) if np.isfinite(shares).any() else "The folds record no out-of-range share."
    return ["<h2 id='sources'>Error by source, worst first</h2>",
            note(f"{SOURCE}: means over seeds of each seed's figures on the source (folds table); share outside "
                 "[0, 100]: of "
                 "its frames' predictions; resolution, frame rate and frames (distinct frame indices scored) from "
                 "the corpus" + (f"; coverage: the share of its rows inside their interval ({INTERVALS_FILE})"
                                 if coverage else "") + f". {said}"),
            table(headers, rows, cls="compact"),
            *([note(f"and {more} more sources, better than these ({FOLDS_FILE} holds every seed and source; the "
                    "verdict's per_fold the same rows)")] if more > 0 else [])]


def resolution_note(clips: tuple[SourceInfo, ...] | None) -> list[str]:
    """Said when sources are scored far below the 1080p viewing the teacher models."""
    far = far_below_1080p(clips)
    if not far:
        return []
    smallest = far[0]
    said = (f"{len(far)} of {len(clips or ())} sources are at most {FAR_BELOW_1080P} lines high (the smallest "
            f"{smallest.src}, {smallest.width}x{smallest.height}). libvmaf scores a clip at its native size, while "
            "vmaf_v0.6.1 models a 1080p picture viewed at three times its height: these teacher scores (and so the "
            "predictions) are not what a viewer of the clip upscaled to 1080p would report.")
    return [f"<p class='warn'>{esc(said)}</p>"]


GROUP_HEADERS = ["group", "frames", "sources", f"PLCC ({POOLED})", f"RMSE ({POOLED})", "bias", "max abs error",
                 "share outside [0, 100]"]


UNBOUNDED_CELL = "unbounded: no figure"  # a coverage or width where the interval is unbounded


def bounded_cell(value: float | None, unbounded: bool) -> object:
    """A coverage or width cell: the figure, or that there is none because the interval is unbounded."""
    return UNBOUNDED_CELL if unbounded and (value is None or not np.isfinite(value)) else value


def group_table(rows: list[GroupErrors]) -> str:
    """One grouping's figures (pooled over frames); coverage and width where the rows have intervals."""
    coverage = any(r.coverage is not None or r.coverage_reason for r in rows)
    return table([*GROUP_HEADERS, *(["coverage", "mean width"] if coverage else [])],
                 [[r.group, r.n_frames, r.n_sources, r.plcc, r.rmse, r.bias, r.max_abs_error, r.share_out_of_range,
                   *([bounded_cell(r.coverage, r.coverage is None), bounded_cell(r.mean_width, r.coverage is None)]
                     if coverage else [])] for r in rows])


def quality_section(extras: Extras, per_row: pd.DataFrame | None) -> list[str]:
    """Error per quality setting: the verdict's breakdown when it has one, else from the held-out predictions."""
    rows = extras.rows("quality")
    source = "the verdict's breakdown (its coverage at the nominal level)" if rows else PREDICTIONS_FILE
    if not rows and per_row is not None:
        rows = quality_rows(per_row)
    if not rows:
        return []
    return ["<h2 id='quality'>Error by quality setting</h2>",
            note(f"Each row: every held-out frame encoded at that setting, all sources; the ensemble's mean "
                 f"prediction over seeds ({POOLED}). From {source}."), group_table(rows)]


BREAKDOWNS = (("encoder", "Error by encoder"), ("box", "Error by box"), ("resolution", "Error by resolution class"),
              ("rung", "Error by ladder rung (share of the source's height encoded; native: its own size)"))


def breakdown_sections(extras: Extras) -> list[str]:
    """The verdict's per-encoder, per-box, per-resolution and per-rung tables, and the --holdout blocks (when
    present)."""
    parts = []
    for by, title in BREAKDOWNS:
        if rows := extras.rows(by):
            parts += [f"<h2 id='by-{by}'>{esc(title)}</h2>", group_table(rows)]
    if parts:
        parts.insert(1, note(f"From the verdict's breakdown: the ensemble's held-out predictions grouped, each figure "
                             f"{POOLED}; coverage at the nominal level, recomputable from {INTERVALS_FILE}."))
        parts += confounding_notes(extras.breakdown)
    for block in extras.holdout:
        parts += [f"<h2 id='holdout-{esc(block.kind)}'>Held out by {esc(block.kind)} (--holdout)</h2>",
                  note(f"{block.scheme}. Each {block.kind} held out whole: scored by members that saw neither "
                       f"it nor the row's content ({POOLED}). Its gate is in the gate table."),
                  group_table(list(block.groups)), *confounding_notes(block.groups),
                  *([f"<p class='warn'>{esc(block.left_out)}</p>"] if block.left_out else [])]
    return parts


def confounding_notes(groups: tuple[GroupErrors, ...]) -> list[str]:
    """What a group also stands for (a box that ran its own encoders), said under its table."""
    said = list(dict.fromkeys(g.note for g in groups if g.note and g.by in ("box", "encoder")))
    return [f"<p class='warn'>{esc(s)}</p>" for s in said]


def every_fold_table(verdict: Verdict) -> list[str]:
    """Every (seed, source) row while it stays readable; above that the file that holds them."""
    if len(verdict.per_fold) > 2 * ROWS_SHOWN:
        return [note(f"{len(verdict.per_fold):,} (seed, source) rows: {FOLDS_FILE} holds them all.")]
    return ["<details><summary>Every fold</summary>",
            table(["seed", "fold", "source", "frames", f"PLCC ({SOURCE}, this seed)", "SROCC", "KROCC",
                   f"RMSE ({SOURCE}, this seed)", "bias", "max abs error",
                   "share outside [0, 100]"],
                  [[f.seed, f.fold, f.src, f.n_frames, f.plcc, f.srocc, f.krocc, f.rmse, f.bias, f.max_abs_error,
                    f.share_out_of_range] for f in verdict.per_fold]),
            "</details>"]

