"""The report's section on intervals: each level, the coverage chart, per-clip use, the clip poolings and the
exported interval, from the verdict (recomputable from 04_verdict/intervals.parquet and clip_pooling.parquet)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from kit.report.markup import POOLING_TABLE, bounded_cell, cells, details, esc, headers, note, sorted_by, table
from kit.report.sections import INTERVALS_FILE
from kit.verdict.gates import CLIP_ERROR_GATES, Shown, shown
from kit.verdict.kinds import POOLED_CLIP

if TYPE_CHECKING:
    import pandas as pd

    from kit.verdict.document import ClipPooling, ExportedInterval, Verdict

LEVEL_HEADERS = ["nominal", "rank", "q (x std)", "q (VMAF points)", "unbounded with all groups",
                 "share of rows unbounded without their own group", "coverage (pooled over frames)", "mean width",
                 "lowest coverage of a source", "why no figure"]


def exported_section(e: ExportedInterval) -> list[str]:
    """What the manifests' confidence block exports, and what it covers on the held-out rows."""
    parts = ["<h3 id='exported'>The exported interval (the manifests' confidence block)</h3>",
             note(f"{e.recipe}. Recomputable from {INTERVALS_FILE} (pred, std, vmaf, content).")]
    if not e.calibrated:
        return [*parts, f"<p class='warn'>{esc('Not calibrated: no interval is exported. ' + (e.reason or ''))}</p>"]
    groups = e.group_coverage or {}
    rows: list[list[object]] = [["conformal_q_residual", e.conformal_q_residual],
            [f"coverage at {e.nominal:g}, pooled over the held-out frames (q of all groups)", e.coverage],
            ["coverage on held-out content (each group's q calibrated without it)",
             bounded_cell(e.coverage_held_out, e.coverage_held_out is None)],
            [f"lowest coverage of a content group ({len(groups)} groups)", e.group_coverage_min],
            [f"for comparison, not exported: mu +- {e.fallback_z:.3f} std (upstream's Gaussian fallback)",
             e.fallback_coverage]]
    return [*parts, table(["", "value"], rows, cls="kv")]


def pooling_table(pooling: ClipPooling, gates: list[Shown]) -> list[str]:
    """Per held-out clip, the error of each pooling (all clips, then each encoder's), and its gates."""
    from kit.model.pooling import POOL_WORDS

    errors = sorted((*pooling.pooled, *pooling.by_encoder),
                    key=lambda e: (-e.rmse if math.isfinite(e.rmse) else -math.inf, e.stat, e.encoder or ""))
    rows = [cells(POOLING_TABLE, e, stat=POOL_WORDS[e.stat], encoder=e.encoder or "all") for e in errors]
    parts = ["<h3 id='pooling'>Per clip, pooled as the consumers pool (mean, harmonic mean, 1st percentile, min)</h3>",
             sorted_by("by RMSE, worst first"), table(headers(POOLING_TABLE, POOLED_CLIP), rows, cls="compact"),
             note(f"{pooling.how}. Av1an's target quality pools with the 1st percentile by default, vmaf-tune with the "
                  "mean; libvmaf reports the mean, harmonic mean and min (docs/pooling.md).")]
    for s in gates:
        g = s.row
        said = f"{s.gate.setting(g)}: {'pass' if g.passed else 'FAIL'}: "
        parts.append(f"<p class='{'note' if g.passed else 'warn'}'>{esc(said + (g.statement or ''))}</p>")
    return parts


def intervals_section(verdict: Verdict, by_source: pd.DataFrame | None) -> list[str]:
    """The intervals: what they guarantee, their warning and the coverage chart open; the levels, per-clip
    use, the pooled clips and the exported interval folded."""
    from kit.report import figures

    iv = verdict.intervals
    if iv is None:
        return []
    parts = ["<h2 id='coverage'>Prediction intervals: coverage</h2>",
             note(f"{iv.method}: {iv.formula} Score: {iv.score}; unit of the guarantee: {iv.unit}; calibrated on "
                  f"{iv.n_groups} content groups; nominal level {iv.nominal:g}. A level whose interval is unbounded "
                  "for some held-out row has no coverage or width: 100 % of an unbounded interval says nothing.")]
    if iv.warning:
        parts.append(f"<p class='warn'>{esc(iv.warning)}</p>")
    # one row per level: its thresholds, and its coverage and width only where every row's interval is bounded
    levels = [[lv.level, lv.rank, lv.q, lv.q_abs, lv.unbounded, lv.share_unbounded,
               bounded_cell(lv.coverage, lv.coverage is None), bounded_cell(lv.mean_width, lv.coverage is None),
               bounded_cell(lv.source_coverage_min, lv.coverage is None), lv.reason or ""] for lv in iv.levels]
    folded = [sorted_by("by nominal level (a calibration reads in order)"), table(LEVEL_HEADERS, levels)]
    if iv.clip_use is not None:
        c = iv.clip_use
        folded += ["<h3>Per-clip use (a clip predicted from its mean features)</h3>",
                   table(["clips", "RMSE (per clip)", "max abs error", f"coverage at {iv.nominal:g}",
                          "intervals hold"],
                         [[c.n_clips, c.rmse, c.max_abs_error, bounded_cell(c.coverage, True), c.holds]]),
                   note(c.note)]
    if verdict.clip_pooling is not None:
        folded += pooling_table(verdict.clip_pooling, shown(verdict, CLIP_ERROR_GATES))
    if iv.exported is not None:
        folded += exported_section(iv.exported)
    chart = figures.figure_html(figures.coverage_figure(iv, by_source),
                                "Pooled coverage from the verdict; per source, the share of each source's rows with lo "
                                f"<= teacher <= hi at each level, from {INTERVALS_FILE}; unbounded levels have no "
                                "point.")
    more = details("each level, per-clip use, pooled clips and the exported interval", *folded)
    return [*parts, f"<div class='pair'>{chart}<div>{more}</div></div>"]
