"""report.html: a self-contained page (no network) summarising a run.

Tables come from the verdict; the figures (kit.report.figures, kit.report.charts) from the held-out
predictions, the intervals and the corpus, which `load_report_data` reads. It stays readable and small at
1,000 sources: aggregate charts, panels for the worst sources only, tables capped with the file that holds
the rest named (kit.report.sections).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kit.infra.invocation import RunProvenance
from kit.report.extras import Extras
from kit.report.markup import capped, esc, kv_table, table
from kit.report.markup import fmt as _fmt
from kit.verdict.kinds import DEFINITIONS, GROUPS, POOLED, SOURCE

if TYPE_CHECKING:
    import pandas as pd

    from kit.platforms.prereqs import Prereqs
    from kit.verdict.document import Verdict


STYLE = """
p.warn{background:#fff4e0;border-left:4px solid #b35900;padding:.4em .8em}
table.compact td,table.compact th{padding:.1em .4em;font-size:.85em}
body{font-family:system-ui,sans-serif;margin:2em;max-width:75em;color:#222}
h1 span.PROMOTE{color:#1a7f37} h1 span.HOLD{color:#b35900}
table{border-collapse:collapse;margin:.5em 0 1.5em} td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3} td:first-child,th:first-child{text-align:left} .note{color:#555;font-size:.9em}
table.kv td{text-align:left;overflow-wrap:anywhere} table.kv td:first-child{white-space:nowrap}
td.pass{color:#1a7f37} td.FAIL{color:#b00020;font-weight:bold} td.off{color:#777}
figure{margin:1em 0 2em} figure svg,figure img{max-width:100%;height:auto} figcaption{color:#555;font-size:.9em}
nav a{margin-right:1em}
"""


@dataclass(frozen=True)
class ReportData:
    """What the figures need beyond the verdict; any part may be missing (its section says so)."""

    # one row per held-out frame: src, src_sha256, encoder, cq, vmaf (teacher), pred (seed mean)
    predictions: pd.DataFrame | None = None
    rate_quality: pd.DataFrame | None = None  # one row per (src, encoder, cq): bitrate_kbps, vmaf (mean)
    provenance: dict[str, object] = field(default_factory=dict)
    # per source (index src_sha256), from 04_verdict/intervals.parquet: the share inside, one column per level
    coverage: pd.DataFrame | None = None


@dataclass(frozen=True)
class Invocation:
    """What run.json says of the latest invocation (the steps read it; the report only shows it)."""

    invoked_at_utc: str
    argv: list[str]
    where: RunProvenance


def load_report_data(verdict: Verdict, predictions: Path, run: Invocation | None = None,
                     prereqs: Prereqs | None = None, intervals: Path | None = None) -> ReportData:
    from kit.report.frames import coverage_by_source, held_out_predictions, read_intervals

    corpus_path = Path(verdict.corpus.path)
    names = {f.src_sha256: f.src for f in verdict.per_fold}
    return ReportData(held_out_predictions(predictions, verdict.seeds, names),
                      rate_quality_points(corpus_path) if corpus_path.is_file() else None,
                      run_provenance(run, prereqs),
                      coverage_by_source(read_intervals(intervals))
                      if intervals is not None and intervals.is_file() else None)


def rate_quality_points(corpus: Path) -> pd.DataFrame | None:
    """Mean bitrate and VMAF per (src, encoder, cq); None when the corpus records no bitrate."""
    import numpy as np

    from kit.corpus.names import with_names
    from kit.infra.parquet import parquet_columns, read_parquet

    wanted = ["src", "src_sha256", "encoder", "cq", "bitrate_kbps", "vmaf"]
    if not set(wanted) <= set(parquet_columns(corpus)):
        return None
    df = with_names(read_parquet(corpus, wanted)).to_pandas()
    df = df[np.isfinite(df["bitrate_kbps"]) & (df["bitrate_kbps"] > 0)]
    if df.empty:
        return None
    return df.groupby(["src", "encoder", "cq"], as_index=False).agg(bitrate_kbps=("bitrate_kbps", "mean"),
                                                                     vmaf=("vmaf", "mean"))


def run_provenance(run: Invocation | None, prereqs: Prereqs | None) -> dict[str, object]:
    """Where and how the run happened: command line, host, ffmpeg and libvmaf builds."""
    out: dict[str, object] = {}
    if run is not None:
        out |= {"invoked_at_utc": run.invoked_at_utc, "command": " ".join(run.argv), **run.where.to_json()}
    if prereqs is not None:
        ff, host = prereqs.ffmpeg, prereqs.host
        out |= {"ffmpeg": f"{ff.version} ({ff.source}): {ff.path}", "ffmpeg_build": ff.build,
                "libvmaf_version": prereqs.libvmaf_version, "host": f"{host.os}, {host.cpu}, {host.cores} cores",
                "encoders_used": ", ".join(prereqs.resolved_encoders)}
    return out


# -- sections -------------------------------------------------------------------------------------
def gate_table(verdict: Verdict) -> str:
    gate, lift_gate, challenger = verdict.gate, verdict.lift_gate, verdict.challenger_gate
    lowest = min((v for v in gate.per_seed_plccs.values() if math.isfinite(v)), default=None)
    scheme = verdict.validation.label if verdict.validation is not None else "LOSO"
    rows: list[tuple[str, float | None, str, bool | None]] = [
        (f"mean over seeds of each seed's mean {scheme} PLCC ({GROUPS})", gate.mean_plcc,
         f">= {_fmt(gate.mean_plcc_threshold)}", gate.mean_plcc_pass),
        ("seed spread (max - min of the seed means)", gate.plcc_spread, f"<= {_fmt(gate.plcc_spread_max)}",
         gate.plcc_spread_pass),
        (f"every seed's mean PLCC, lowest shown ({GROUPS})", lowest, f">= {_fmt(gate.per_seed_min)}",
         gate.per_seed_pass)]
    if (e := verdict.evidence_gate) is not None:
        rows.append(("held-out content groups (--min-content-groups)", float(e.content_groups),
                     f">= {e.min_content_groups}" if e.enabled else "off", e.passed if e.enabled else None))
    if lift_gate.enabled:
        rows.append((f"RMSE ratio ensemble / ridge, --min-rmse-lift ({GROUPS})", lift_gate.rmse_ratio,
                     f"<= {_fmt(lift_gate.threshold)}", lift_gate.passed))
    if challenger.enabled:
        rows.append(("margin over the incumbent (PLCC)", challenger.margin,
                     f"> seed spread {_fmt(challenger.seed_spread)}", challenger.passed))
    for g, what, flag in ((verdict.bias_gate, f"largest |bias| of a source ({SOURCE}, mean over seeds)",
                           "--max-abs-bias"),
                          (verdict.fold_rmse_gate, f"largest RMSE of a source ({SOURCE}, mean over seeds)",
                           "--max-fold-rmse")):
        if g is not None:
            limit = f"<= {g.threshold:g}" if g.enabled else f"off ({flag})"
            rows.append((f"{what}: {g.worst_src}", g.worst_value, limit, None if not g.enabled else g.passed))
    rows += limit_rows(verdict)
    body = "".join(
        f"<tr><td>{esc(name)}</td><td>{esc(_fmt(value))}</td><td>{esc(limit)}</td>"
        f"<td class='{_result(ok)}'>{_result(ok)}</td></tr>" for name, value, limit, ok in rows)
    failing = gate.failing_seeds
    note = f"<p class='note'>Failing seeds: {esc(_fmt(failing))}</p>" if failing else ""
    return ("<table class='gate'><thead><tr><th>criterion</th><th>value</th><th>threshold</th><th>result</th>"
            f"</tr></thead><tbody>{body}</tbody></table>{note}")


LIMITS = {"coverage": (">=", "--min-coverage"), "share_out_of_range": ("<=", "--max-out-of-range"),
          "plcc": (">=", "--holdout-min-plcc")}


def limit_rows(verdict: Verdict) -> list[tuple[str, float | None, str, bool | None]]:
    """The gates of kit 0.4, when the verdict has them: coverage, range, each --holdout block, completeness."""
    gates = [(f"coverage at the nominal level ({POOLED})", verdict.coverage_gate),
             ("largest share of a source's predictions outside [0, 100]", verdict.range_gate),
             *((f"lowest PLCC of a held-out {h.kind}", h.gate) for h in verdict.holdout or ())]
    rows: list[tuple[str, float | None, str, bool | None]] = []
    for what, g in gates:
        if g is None:
            continue
        sign, flag = LIMITS.get(g.measure, ("vs", g.measure))
        value = g.worst_value if g.measure != "coverage" or math.isfinite(g.worst_value) else None
        what = f"{what}: unbounded, no figure ({g.statement})" if value is None and g.measure == "coverage" else what
        rows.append((f"{what}: {g.worst}" if g.worst else what, value,
                     f"{sign} {g.threshold:g}" if g.enabled and g.threshold is not None else f"off ({flag})",
                     g.passed if g.enabled else None))
    if (c := verdict.completeness) is not None:
        missing = f" (missing: {', '.join(c.missing[:5])}{' ...' if len(c.missing) > 5 else ''})" if c.missing else ""
        rows.append((f"sources with held-out results{missing}", c.with_results,
                     f"= {c.expected_sources}", c.passed))
    return rows


def _result(ok: bool | None) -> str:
    return "off" if ok is None else "pass" if ok else "FAIL"


RMSE_NOTE = (f"Every figure names its kind (docs/figures.md). {GROUPS}: {DEFINITIONS[GROUPS]}. {POOLED}: "
             f"{DEFINITIONS[POOLED]}: it adds the offsets between contents, so it is larger. {SOURCE}: "
             f"{DEFINITIONS[SOURCE]}. Bias is the mean of (prediction - teacher): an offset no correlation can see.")


def baselines_section(verdict: Verdict) -> list[str]:
    lift = verdict.lift
    rows: list[list[object]] = [["fr_regressor_v2 ensemble", lift.ensemble_mean_plcc, lift.ensemble_mean_rmse]]
    for name, b in verdict.baselines.items():
        rows.append([f"{name} ({b.details.get('inputs', '')})", b.mean_plcc, b.mean_rmse])
    if verdict.incumbent is not None:
        rows.append(["incumbent (previous bundle)", verdict.incumbent.mean_plcc, verdict.incumbent.mean_rmse])
    parts = ["<h2 id='baselines'>Ensemble vs baselines (same folds)</h2>"]
    for statement in (lift.statement, verdict.challenger_gate.statement):
        if statement:
            parts.append(f"<p>{esc(statement)}</p>")
    return [*parts, table(["model", f"mean PLCC ({GROUPS})", f"mean RMSE ({GROUPS})"], rows)]


def ranked(verdict: Verdict, data: ReportData, folds: pd.DataFrame) -> pd.DataFrame:
    """Every source worst first, with its figures (kit.report.frames.ranked_sources); empty without folds."""
    import pandas as pd

    from kit.report import frames

    if folds.empty:
        return pd.DataFrame(columns=["src", "src_sha256", "rmse"])
    return frames.ranked_sources(folds, verdict.corpus.clips, data.coverage)


def figure_sections(verdict: Verdict, data: ReportData, worst_first: pd.DataFrame | None = None,
                    folds: pd.DataFrame | None = None) -> list[str]:
    from kit.report import figures, frames, sections

    folds = frames.folds_frame(verdict.per_fold) if folds is None else folds
    worst_first = ranked(verdict, data, folds) if worst_first is None else worst_first
    parts = [*sections.spread_section(verdict, folds, worst_first),
             *sections.prediction_sections(data.predictions, worst_first),
             "<h2 id='rate-quality'>Rate-quality curves</h2>"]
    if data.rate_quality is None:
        return [*parts, "<p class='note'>The corpus records no bitrate.</p>"]
    sources = data.rate_quality["src"].nunique()
    many = sources > figures.LEGEND_SOURCES
    worst = [str(s) for s in worst_first["src"].head(frames.PANELS)]
    for encoder, fig in figures.rate_quality_figures(data.rate_quality, worst):
        caption = (f"{encoder}: mean VMAF against bitrate, one line per source, one point per cq; "
                   + (f"the {len(worst)} worst sources coloured and named, the other {sources - len(worst):,} grey."
                      if many else "a source keeps its colour in every chart.") + " From the corpus.")
        parts.append(figures.figure_html(fig, caption, "png" if many else "svg"))
    return parts


def corpus_section(verdict: Verdict, demo: str) -> list[str]:
    """What the corpus holds: contents, files and groups, its fields, and each source's geometry, sorted by name."""
    corpus = verdict.corpus
    fields = {k: v for k, v in corpus.to_json().items() if k not in ("groups", "clips", "teachers")}
    parts = [f"<h2 id='corpus'>Corpus{esc(demo)}</h2>", f"<p>{esc(corpus.contents_text)}.</p>", kv_table(fields)]
    if corpus.teachers:
        parts += ["<h3>Teacher range per encoder</h3>",
                  "<p class='note'>The lowest and highest mean teacher score of one of its encodes (a source at one "
                  "cq and rung); from the verdict's corpus block, recomputable from the corpus file.</p>",
                  table(["encoder", "encodes", "lowest", "highest", "cq grid", "rungs", "warning"],
                        [[t.encoder, t.encodes, t.lo, t.hi, ",".join(map(str, t.cq_grid)), ", ".join(t.rungs),
                          t.warning or ""] for t in corpus.teachers])]
    if corpus.groups:
        parts += ["<h3>Content groups of more than one source (each held out as one)</h3>",
                  capped(["content", "members", "why"],
                          [[g.content[:12], "; ".join(f"{m.src} ({m.box_id})" if m.box_id else m.src
                                                      for m in g.members), "; ".join(g.why)] for g in corpus.groups],
                          "groups", "the verdict file")]
    if corpus.clips:
        rows = [[c.src, c.src_sha256[:12], "" if c.content == c.src_sha256 else c.content[:12],
                 f"{c.width}x{c.height}" if c.width and c.height else "n/a",
                 f"{c.fps:g}" if math.isfinite(c.fps) else "n/a", c.frames, c.pix_fmt or "n/a"]
                for c in sorted(corpus.clips, key=lambda c: (c.src, c.src_sha256))]
        parts += ["<h3>Sources</h3>", capped(["source", "src_sha256", "content group", "resolution", "frame rate",
                                              "frames", "pixel format"], rows, "sources", "the verdict file")]
    return parts


NAV = (("gate", "gate"), ("folds", "folds"), ("predictions", "predicted vs teacher"), ("rate-quality", "rate-quality"),
       ("baselines", "baselines"), ("sources", "by source"), ("quality", "by quality"), ("coverage", "coverage"),
       ("corpus", "corpus"), ("provenance", "provenance"))


def render_report(verdict: Verdict, data: ReportData | None = None) -> str:
    from kit.report import intervals, sections
    from kit.report.frames import folds_frame

    data = data or ReportData()
    extras = Extras.of(verdict)
    folds = folds_frame(verdict.per_fold)
    worst_first = ranked(verdict, data, folds)
    v = verdict.verdict
    demo = " (DEMO corpus of synthetic clips)" if verdict.corpus.demo_corpus else ""
    body = [*(sections.source_table_section(worst_first, folds, extras) if not worst_first.empty else []),
            *sections.quality_section(extras, data.predictions), *sections.breakdown_sections(extras),
            *intervals.intervals_section(extras, data.coverage)]
    anchors = {a for part in body for a in re.findall(r"<h2 id='([^']+)'", part)} | {
        "gate", "folds", "predictions", "rate-quality", "baselines", "corpus", "provenance"}
    nav = "".join(f"<a href='#{a}'>{t}</a>" for a, t in NAV if a in anchors)
    parts = [
        f"<h1>ensemble-kit verdict: <span class='{v}'>{v}</span></h1>", f"<nav>{nav}</nav>",
        f"<p>{esc(verdict.recommendation)}</p>",
        f"<p class='note'>{esc(verdict.plcc_measures)} "
        f"Teacher model: {esc(verdict.teacher_model)}.</p>",
        f"<p class='note'>Validation: {esc(verdict.scheme_text)}. Every figure comes from each row's prediction by "
        f"the members that did not train on its content, and names its kind: the gate's are {esc(GROUPS)}.</p>",
        *sections.resolution_note(verdict.corpus.clips),
        "<h2 id='gate'>Gate</h2>", gate_table(verdict),
        *figure_sections(verdict, data, worst_first, folds),
        "<h2>Per seed</h2>",
        f"<p class='note'>Each seed's figures are {esc(GROUPS)}: one held-out content group is one fold, its "
        "sources' frames pooled.</p>",
        table(["seed", f"mean PLCC ({GROUPS})", "std PLCC", "min PLCC", "max PLCC", "mean SROCC", "mean KROCC",
               f"mean RMSE ({GROUPS})", "mean bias", "max |bias| of a group", "max abs error", "share outside [0, 100]",
               "content groups"],
              [[r.seed, r.mean_plcc, r.std_plcc, r.min_plcc, r.max_plcc, r.mean_srocc, r.mean_krocc, r.mean_rmse,
                r.mean_bias, r.max_abs_bias, r.max_abs_error, r.share_out_of_range, r.n_folds]
               for r in verdict.per_seed]),
        f"<p class='note'>{esc(RMSE_NOTE)}</p>",
        *baselines_section(verdict),
        "<h2>Worst folds</h2>",
        "<p class='note'>Ranked by whichever of PLCC, RMSE and |bias| is furthest from the typical source "
        "(each relative to its median over the sources); the reason names it. Figures are means over seeds.</p>",
        table(["source", "why", f"PLCC ({SOURCE})", "SROCC", f"RMSE ({SOURCE}, mean over seeds)", "bias",
               "max abs error", "frames",
               "share at vmaf 100"],
              [[w.src, w.reason, w.plcc, w.srocc, w.rmse, w.bias, w.max_abs_error, w.n_frames, w.share_vmaf_100]
               for w in verdict.worst_folds]),
        *body,
        *sections.every_fold_table(verdict),
        *corpus_section(verdict, demo),
    ]
    prov = {k: v for k, v in verdict.provenance.to_json().items() if not isinstance(v, dict)}
    parts += ["<h2 id='provenance'>Provenance</h2>", kv_table({**prov, **data.provenance})]
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>ensemble-kit report</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>\n")
