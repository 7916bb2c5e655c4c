"""The report's sections on error and its spread (by source, grouping and fold), the aggregate charts, the intervals
and the held-out encodes as vmaf-tune predicts them; each says which file its figures come from."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from kit.model.pooling import POOL_WORDS
from kit.report import figures, markup
from kit.report.frames import GROUPINGS, PANELS, HeldOut
from kit.report.gatelines import NOT_JUDGED
from kit.report.markup import ROWS_SHOWN, Graded, bounded_cell, cells, details, esc, note, sorted_by, table, typical
from kit.verdict.decide import per_source
from kit.verdict.gates import CLIP_ERROR_GATES, CONSUMER_GATES, shown
from kit.verdict.kinds import CONSUMER, POOLED, POOLED_CLIP, SOURCE
from kit.verdict.sampling import HOW_WORDS

if TYPE_CHECKING:
    import pandas as pd

    from kit.verdict.ceiling import ConsumerJudged
    from kit.verdict.document import (
        ConsumerFit,
        ConsumerGroup,
        ConsumerSampling,
        ExportedInterval,
        GroupErrors,
        HoldoutBlock,
        Intervals,
        Verdict,
    )

FOLDS_FILE = "03_loso/folds.parquet"
PREDICTIONS_FILE = "03_loso/predictions.parquet"
INTERVALS_FILE = "04_verdict/intervals.parquet"
SOURCE_ROWS = 10  # the sources table's rows shown open; the rest of the ranking folded under it


def spread_figure(verdict: Verdict, folds: pd.DataFrame, ranked: pd.DataFrame) -> str:
    """Per-source PLCC: a marker per (seed, source) up to PER_SOURCE_TICKS sources, else their spread."""
    threshold = verdict.gate.mean_plcc_threshold
    if folds["src_sha256"].nunique() <= figures.PER_SOURCE_TICKS and len(ranked) >= folds["src_sha256"].nunique():
        order = [str(s) for s in ranked["src_sha256"]]
        return figures.figure_html(figures.fold_plcc_figure(folds, threshold, order),
                                   "Held-out PLCC of every (seed, source), from the predictions of the members that "
                                   "did not train on the source (its fold held out its whole content group); each "
                                   f"source by its rank in the sources table. From {FOLDS_FILE}.",
                                   key=figures.rank_key([str(s) for s in ranked["src"]]))
    return figures.figure_html(figures.source_spread_figure(folds, ranked, threshold),
                               "Left: every source's held-out PLCC, the mean over seeds (line) and the seeds' lowest "
                               f"to highest (band), sorted; the {figures.LABELLED_WORST} worst of the ranking marked "
                               f"by rank. Right: the sources' RMSE (mean over seeds). From {FOLDS_FILE}.",
                               key=figures.rank_key([str(s) for s in ranked["src"].head(figures.LABELLED_WORST)]))


def agreement_section(verdict: Verdict, folds: pd.DataFrame, ranked: pd.DataFrame,
                      held: HeldOut | None) -> list[str]:
    """Side by side: per-source PLCC over the seeds, and the pooled density of every held-out frame."""
    charts_shown = []
    if not folds.empty:
        charts_shown.append(spread_figure(verdict, folds, ranked))
    if held is not None and held.n:
        charts_shown.append(figures.figure_html(
            figures.pooled_density_figure(held),
            "All sources at once: each held-out frame's prediction (the mean over seeds of the members that did not "
            "train on it) against the teacher, as frames per cell, on axes fitted to the frames; grey line = "
            f"agreement; red = the teacher's range where it falls inside. From {PREDICTIONS_FILE}.", "png"))
    if not charts_shown:
        return []
    return ["<h2 id='folds'>Held-out agreement: per source, per seed, and pooled</h2>",
            f"<div class='pair'>{''.join(charts_shown)}</div>"]


def panels_section(held: HeldOut | None, ranked: pd.DataFrame) -> list[str]:
    """The worst few sources of the ranking, frame by frame (the rows `held` keeps of them: frames.panel_sources)."""
    parts = ["<h2 id='predictions'>The worst sources, frame by frame</h2>"]
    if held is None or not held.n:
        return [*parts, note("No held-out predictions available.")]
    if ranked.empty:
        return []
    worst = [str(s) for s in ranked["src"].head(PANELS)]
    return [*parts, sorted_by("the ranking of the sources table, worst first"),
            figures.panels_html(held.panels, worst),
            note(f"The {len(worst)} worst sources. Per frame: the mean of the seeds' held-out predictions against the "
                 "teacher, coloured by quality setting (one colour map per encoder, low cq dark), each panel on axes "
                 "fitted to its own points. ens. RMSE: the RMSE of that mean prediction (the tables' RMSE is the "
                 f"mean over seeds of each seed's RMSE, a little larger). From {PREDICTIONS_FILE}.")]


def source_table_section(ranked: pd.DataFrame, folds: pd.DataFrame, intervals: Intervals | None) -> list[str]:
    """The worst sources' figures, worst first: the first SOURCE_ROWS open, the rest of the ranking folded."""
    coverage = "coverage" in ranked
    at = intervals.at(intervals.nominal) if intervals is not None else None
    open_ended = at is not None and at.coverage is None  # no coverage at the nominal level: none per source either
    names = [*markup.SOURCE_TABLE, *(["coverage"] if coverage else [])]
    headers = markup.headers(names, SOURCE, f" at {intervals.nominal:g}" if intervals is not None else "")
    sources = per_source(folds)  # every source's, not only the rows shown: what the cells are coloured against
    shade = typical(sources.itertuples())
    rows = [cells(names, r, shade, rank=i + 1, **({"coverage": bounded_cell(r.coverage, open_ended)} if coverage
                                                  else {})) for i, r in enumerate(ranked.itertuples())]
    n_sources = folds["src_sha256"].nunique()
    more = n_sources - len(rows)
    shares = sources["share_out_of_range"].to_numpy(dtype=float)
    said = (f"{int(np.sum(shares > 0))} of {n_sources} sources have predictions outside [0, 100]"
            + (f"; at most {np.nanmax(shares):.1%} of a source's frames." if np.nanmax(shares) > 0 else ".")
            ) if np.isfinite(shares).any() else "The folds record no out-of-range share."
    return ["<h2 id='sources'>Error by source, worst first</h2>",
            sorted_by("the verdict's ranking: by whichever of PLCC, RMSE and |bias| is furthest from the median "
                      "source's (relative to it); `why` names it"),
            table(headers, rows[:SOURCE_ROWS], cls="compact"),
            *([details(f"the next {len(rows) - SOURCE_ROWS} sources of the ranking",
                       table(headers, rows[SOURCE_ROWS:], cls="compact"))] if len(rows) > SOURCE_ROWS else []),
            note(f"{SOURCE}: means over seeds of each seed's figures on the source ({FOLDS_FILE}); share outside "
                 "[0, 100]: of its frames' predictions; resolution, frame rate and frames (distinct frame indices "
                 "scored) from the corpus" + (f"; coverage: the share of its rows inside their interval "
                                              f"({INTERVALS_FILE})" if coverage else "") + f". {said}"
                 + (f" And {more} more sources, better than these ({FOLDS_FILE} holds every seed and source; the "
                    "verdict's per_fold the same rows)." if more > 0 else ""))]


def group_rows(rows: Sequence[GroupErrors], coverage: bool, label: str = "") -> list[list[object]]:
    """One grouping's rows, the largest RMSE first (no figure before all), coloured against its median."""
    shade = typical(rows)
    return [cells(group_columns(coverage, bool(label)), r, shade, label=label)
            for r in sorted(rows, key=lambda r: (-r.rmse if math.isfinite(r.rmse) else -math.inf, r.group))]


def group_columns(coverage: bool, labelled: bool = False) -> list[str]:
    return [*(["label"] if labelled else []), *markup.GROUP_TABLE, *(["coverage", "mean_width"] if coverage else [])]


def has_coverage(rows: Sequence[GroupErrors]) -> bool:
    return any(r.coverage is not None or r.coverage_reason for r in rows)


BREAKDOWNS = [(by, what + (" (share of the source's height)" if by == "rung" else "")) for by, what, _ in GROUPINGS]


def groups_section(breakdown: tuple[GroupErrors, ...], held: HeldOut | None) -> list[str]:
    """Error per encoder, box, quality setting, resolution class and rung, each worst first (kit.verdict.breakdown)."""
    found = [(label, rows) for by, label in BREAKDOWNS if (rows := [r for r in breakdown if r.by == by])]
    source = (f"the verdict's breakdown, recomputable from {INTERVALS_FILE} (coverage at the nominal level)"
              if found else PREDICTIONS_FILE)
    if not found and held is not None and held.quality:
        found = [("quality setting", list(held.quality))]
    if not found:
        return []
    coverage = any(has_coverage(rows) for _, rows in found)
    body = [row for label, rows in found for row in group_rows(rows, coverage, label)]
    return ["<h2 id='groups'>Error by encoder, box, quality setting, resolution and rung</h2>",
            sorted_by(f"within each grouping by RMSE ({POOLED}), worst first; colours against that grouping's median"),
            table(markup.headers(group_columns(coverage, labelled=True), POOLED), body, cls="compact"),
            note(f"Each row: every held-out frame of that group, all sources; the ensemble's mean prediction over "
                 f"seeds ({POOLED}). From {source}."), *confounding_notes(breakdown)]


def holdout_sections(holdout: tuple[HoldoutBlock, ...]) -> list[str]:
    """Each --holdout block: its groups worst first, what they also stand for, the rows it could not score."""
    parts = []
    for block in holdout:
        coverage = has_coverage(block.groups)
        parts += [f"<h2 id='holdout-{esc(block.kind)}'>Held out by {esc(block.kind)} (--holdout)</h2>",
                  sorted_by(f"by RMSE ({POOLED}), worst first"),
                  note(f"{block.scheme}. Each {block.kind} held out whole: scored by members that saw neither "
                       f"it nor the row's content ({POOLED}). Its gate is in the gate table."),
                  table(markup.headers(group_columns(coverage), POOLED), group_rows(block.groups, coverage)),
                  *confounding_notes(block.groups),
                  *([f"<p class='warn'>{esc(block.left_out)}</p>"] if block.left_out else [])]
    return parts


def confounding_notes(groups: tuple[GroupErrors, ...]) -> list[str]:
    """What a group also stands for (a box that ran its own encoders), said under its table."""
    said = list(dict.fromkeys(g.note for g in groups if g.note and g.by in ("box", "encoder")))
    return [f"<p class='warn'>{esc(s)}</p>" for s in said]


def every_fold_table(verdict: Verdict) -> list[str]:
    """Every (seed, source) row, lowest PLCC first, folded, while it stays readable; above that the file."""
    if len(verdict.per_fold) > 2 * ROWS_SHOWN:
        return [note(f"{len(verdict.per_fold):,} (seed, source) rows: {FOLDS_FILE} holds them all.")]
    folds = sorted(verdict.per_fold, key=lambda f: (f.plcc if math.isfinite(f.plcc) else -math.inf, f.seed, f.src))
    return [details("Every fold (seed, source)",
                    sorted_by(f"by PLCC ({SOURCE}, this seed), lowest first"),
                    table(markup.headers(markup.FOLD_TABLE, f"{SOURCE}, this seed"),
                          [cells(markup.FOLD_TABLE, f) for f in folds], cls="compact"))]


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


def intervals_section(verdict: Verdict, by_source: pd.DataFrame | None) -> list[str]:
    """The intervals: their guarantee, warning and coverage chart; levels, clip use and exports folded."""
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
    if (pooling := verdict.clip_pooling) is not None:  # per held-out clip, each pooling's error (all, each encoder)
        errors = sorted((*pooling.pooled, *pooling.by_encoder),
                        key=lambda e: (-e.rmse if math.isfinite(e.rmse) else -math.inf, e.stat, e.encoder or ""))
        rows = [cells(markup.POOLING_TABLE, e, stat=POOL_WORDS[e.stat], encoder=e.encoder or "all") for e in errors]
        folded += ["<h3 id='pooling'>Per clip, pooled as the consumers pool (mean, harmonic mean, 1st percentile, "
                   "min)</h3>", sorted_by("by RMSE, worst first"),
                   table(markup.headers(markup.POOLING_TABLE, POOLED_CLIP), rows, cls="compact"),
                   note(f"{pooling.how}. Av1an's target quality pools with the 1st percentile by default, vmaf-tune "
                        "with the mean; libvmaf reports the mean, harmonic mean and min (docs/pooling.md).")]
        for s in shown(verdict, CLIP_ERROR_GATES):
            outcome = f"not judged, {s.row.not_judged}" if s.row.not_judged else "pass" if s.row.passed else "FAIL"
            said = f"{s.gate.setting(s.row)}: {outcome}: " + (s.row.statement or "")
            folded.append(f"<p class='{'warn' if s.row.passed is False else 'note'}'>{esc(said)}</p>")
    if iv.exported is not None:
        folded += exported_section(iv.exported)
    chart = figures.figure_html(figures.coverage_figure(iv, by_source),
                                "Pooled coverage from the verdict; per source, the share of each source's rows with lo "
                                f"<= teacher <= hi at each level, from {INTERVALS_FILE}; an unbounded level has no "
                                "point: a red dashed line, no finite interval and so no coverage.")
    more = details("each level, per-clip use, pooled clips and the exported interval", *folded)
    return [*parts, f"<div class='pair'>{chart}<div>{more}</div></div>"]


ENCODES_FILE = "03_loso/encodes.parquet"
BY_WORDS = {"all": "all", "encoder": "encoder", "crf_band": "CRF band (vmaf-tune's)", "rung": "rung",
            "content": "content group"}
GATED = ("consumer_share", "consumer_content_share")  # the gates on the student's share of a group's pool


def failing_labels(verdict: Verdict, measures: tuple[str, ...]) -> set[str]:
    """The groups these consumer gates fail (as their rows name them: `all`, `CRF 36-51`, `content a + b`)."""
    return {label for s in shown(verdict, CONSUMER_GATES) if s.row.measure in measures for label in s.row.failing}


def consumer_table(verdict: Verdict, c: ConsumerFit, j: ConsumerJudged) -> tuple[list[str], list[list[object]]]:
    """Each tally beside its group's per-encode figures: the gates' columns first (the figure a gate line prints, red
    where that gate fails it), then the whole encode's (its shares only where a clip is longer than the window, where
    the two can differ)."""
    share_failing, gap_failing = failing_labels(verdict, GATED), failing_labels(verdict, ("consumer_ceiling_gap",))
    per_encode = {(g.by, g.group): g for g in (c.whole, *c.groups)}
    ceiling = j.whole.ceiling_within is not None
    whole = " (the whole encode's features)" if j.n_longer else ""
    headers = ["grouping", "group", "encodes"]
    headers += (["the ceiling within: the pool", "the student within, of the pool (gated)",
                 "the student within, of all", "under the ceiling, of all (gated per content)"] if ceiling else
                ["the student within (gated)"])
    headers += [f"the student within{whole}", f"the ceiling within{whole}"] if j.n_longer else []
    headers += [f"median miss{whole}", f"largest miss{whole}", f"worst encode{whole}"]
    rows = []
    for by, words in BY_WORDS.items():
        for t in [t for t in j.tallies if t.by == by][:ROWS_SHOWN]:
            g = per_encode.get((t.by, "all held-out encodes" if t.by == "all" else t.group))
            pool = Graded(t.pooled_words() if t.pool else "no pool", "g2" if t.label in share_failing else "")
            row: list[object] = [words, t.group, t.n_encodes]
            row += ([f"{t.ceiling_within} ({markup.num(t.ceiling_share, '.1%')})", pool,
                     f"{t.within} ({markup.num(t.share, '.1%')})",
                     Graded(markup.num(t.gap, ".1%"), "g2" if t.label in gap_failing else "")] if ceiling else [pool])
            if j.n_longer:
                row += [markup.num(g.share_within, ".1%"), ceiling_cell(g)] if g else ["n/a", "n/a"]
            row += [markup.num(g.median_miss, ".2f"), markup.num(g.max_miss, ".2f"), g.worst_encode] if g else \
                ["n/a", "n/a", ""]
            rows.append(row)
    return headers, rows


def ceiling_cell(g: ConsumerGroup) -> str:
    """The ceiling's share, said as beaten where the models do better than it (it is no bound)."""
    shown = markup.num(g.ceiling_share, ".1%")
    return f"{shown}, beaten by the models" if g.beats_ceiling else shown


def consumer_section(verdict: Verdict) -> list[str]:
    """The section: the gates' figure, the gates, untrained slots, the table, how vmaf-tune samples; nothing without
    the block. Every figure from the verdict's `consumer` block, the gates' as their lines print them."""
    c = verdict.consumer
    if c is None:
        return []
    parts = ["<h2 id='consumer'>As vmaf-tune uses it</h2>"]
    j = c.judged
    if j is None or not j.whole.n_encodes:
        return [*parts, note(f"No held-out encode vmaf-tune can query ({c.not_counted or 'none held out'}): no "
                             "figure.")]
    said = c.judged_words()
    parts.append(f"<p>{esc(said[:1].upper() + said[1:])}. As judged: median miss {j.median_miss:.2f}, largest "
                 f"{j.max_miss:.2f} ({esc(j.worst_encode)}).</p>")
    if short := j.shortfall_words():
        parts.append(f"<p>{esc(short[:1].upper() + short[1:])}.</p>")
    for s in shown(verdict, CONSUMER_GATES):
        g = s.row
        outcome = NOT_JUDGED if g.not_judged else "pass" if g.passed else "FAIL"
        state = f"gate {g.threshold:g}: {outcome}" if g.enabled else "no gate"
        parts.append(f"<p class='{'warn' if g.enabled and g.passed is False else 'note'}'>"
                     f"{esc(f'{g.statement} ({s.gate.flag}, {state}).')}</p>")
    if c.train_hint:
        said = ("vmaf-tune's one-hot slots the models never trained (no figure here is theirs; its predictions there "
                f"are extrapolation): {c.train_hint}.")
        parts.append(f"<p class='warn'>{esc(said)}</p>")
    if c.codec_note:
        parts.append(note(f"The one-hot: {c.codec_note}."))
    if verdict.teacher_function is not None:
        parts.append(note(f"The teacher's function: {verdict.teacher_function.label}; the recipe: "
                          f"{verdict.recipe or 'frames'} (docs/teachers.md)."))
    bands = c.unmeasured_bands
    unmeasured = (f"CRF {', '.join(bands)}: no held-out encode falls there, so vmaf-tune's queries there are "
                  "unmeasured (widen --cqs to cover them)." if bands else None)
    parts += [note(text) for text in (c.not_counted, unmeasured) if text]
    headers, rows = consumer_table(verdict, c, j)
    return [*parts, sorted_by("all first, then encoder, CRF band, rung and content group; in each, the lowest share "
                              "of its pool first, then the most encodes the ceiling misses"),
            table(headers, rows, cls="compact"),
            note(f"{CONSUMER}: {c.how}. The gates judge {j.how}; the pool: {j.pool}. Misses in VMAF points; a figure a "
                 f"gate fails in red (rungs are shown, not gated). The counts from {j.file} (one row per counted "
                 f"encode: sum its columns per group), the per-encode figures from {ENCODES_FILE}; every content "
                 "group is in both files."),
            *sampling_section(c.sampling, c.tolerance)]


SAMPLINGS_FILE = "03_loso/samplings.parquet"


def sampling_section(s: ConsumerSampling | None, tolerance: float) -> list[str]:
    """How vmaf-tune samples a clip: its window's figure, the samplings measured beside it, the best, the warnings."""
    if s is None or s.not_measured or not (s.shares or s.warnings):  # no window, or none but the clip: said once
        return []
    parts = [f"<h3 id='sampling'>As vmaf-tune samples a clip (the first {s.window_s:g} s)</h3>",
             note(f"The columns from vmaf-tune's window: {s.how}" + (f". {s.placed}." if s.placed else "."))]
    parts += [f"<p class='warn'>{esc('WARNING: ' + w)}.</p>" for w in s.warnings or ()]
    if not s.shares:
        return parts
    if s.best:
        parts.append(f"<p>{esc('The best: ' + s.best + '.')}</p>")
    rows = [cells(markup.SAMPLING_TABLE, x, how=HOW_WORDS[x.how], share_within=markup.num(x.share_within, ".1%"))
            for x in s.shares]
    return [*parts, table(markup.headers(markup.SAMPLING_TABLE), rows, cls="compact"),
            note(f"Over the {s.shares[0].n_encodes} counted held-out encodes the samplings are compared on (said "
                 "above, with how the window was taken): each sampling's frames, their mean canonical-6 fed to the "
                 "proxy, "
                 f"against the whole clip's teacher score, within {tolerance:g}; the ceiling the teacher's function "
                 f"on the same features; a trial on the whole clip encodes {s.whole_frames_per_trial:.0f} frames. "
                 f"From {SAMPLINGS_FILE}.")]

