"""report.html: a self-contained page (no network) summarising a run, small at 1,000 sources: aggregate charts,
panels for the worst sources only, tables capped with the file of the rest named."""

from __future__ import annotations

import contextlib
import math
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kit.infra.invocation import RunProvenance
from kit.report.markup import capped, details, esc, kv_table, note, sorted_by, table
from kit.verdict.decide import AS_SAMPLED
from kit.verdict.kinds import DEFINITIONS, GROUPS, POOLED, SOURCE

if TYPE_CHECKING:
    import pandas as pd

    from kit.media.discovery import Unusable
    from kit.platforms.prereqs import Prereqs
    from kit.report.frames import HeldOut
    from kit.verdict.document import Verdict


STYLE = """
body{font-family:system-ui,sans-serif;margin:1.2em 2em;max-width:78em;color:#222;font-size:15px;overflow-wrap:anywhere}
h1{margin:.2em 0 .3em;font-size:1.7em} h2{margin:1.2em 0 .3em;font-size:1.25em} h3{margin:.8em 0 .3em}
h1 span.PROMOTE{color:#1a7f37} h1 span.HOLD{color:#b35900}
p{margin:.3em 0} p.warn{background:#fff4e0;border-left:4px solid #b35900;padding:.3em .8em}
p.sort{color:#666;font-size:.8em;font-style:italic;margin:.1em 0}
table{border-collapse:collapse;margin:.3em 0 .8em;max-width:100%}
td,th{border:1px solid #ccc;padding:.15em .5em;text-align:right}
th{background:#f3f3f3} td:first-child,th:first-child{text-align:left} .note{color:#555;font-size:.85em}
table.compact td,table.compact th{padding:.1em .4em;font-size:.85em}
table.kv td{text-align:left;overflow-wrap:anywhere} table.kv td:first-child{white-space:nowrap}
table.worst td{white-space:nowrap} table.worst td:nth-child(2){font-weight:bold;text-align:left;white-space:normal}
table.gate td{font-size:.9em;white-space:nowrap}
table.gate td:first-child{white-space:normal}
td.pass{color:#1a7f37} td.FAIL{color:#b00020;font-weight:bold} td.off{color:#777}
td.g1{background:#ffe9b3} td.g2{background:#f7c5c5;color:#7a0010;font-weight:bold}
figure{margin:.5em 0 1em} figure svg,figure img{max-width:100%;height:auto} figcaption{color:#555;font-size:.85em}
.pair{display:grid;grid-template-columns:repeat(auto-fit,minmax(28em,1fr));gap:0 1.5em}
.panels{display:grid;grid-template-columns:repeat(auto-fill,minmax(15em,1fr));gap:0 1em}
.panels figure{margin:0} .panels figcaption{text-align:center}
.key{font-size:.85em;margin:.2em 0 .6em} .key span{margin-right:1.2em;display:inline-block;max-width:100%}
.key i{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:-.1em;border-radius:2px}
details{margin:.4em 0} summary{cursor:pointer;color:#0645ad}
nav{font-size:.9em} nav a{margin-right:1em}
"""


@dataclass(frozen=True)
class ReportData:
    """What the figures need beyond the verdict; any part may be missing (its section says so)."""

    predictions: HeldOut | None = None  # what the report shows of the held-out rows (frames.held_out)
    rate_quality: pd.DataFrame | None = None  # one row per (src, encoder, cq): bitrate_kbps, vmaf (mean)
    provenance: dict[str, object] = field(default_factory=dict)
    coverage: pd.DataFrame | None = None  # per source, the share inside at each level (frames.coverage_by_source)
    skipped: tuple[Unusable, ...] = ()  # 02_corpus/skipped.json: the clips of --ref-dir the corpus step left out


@dataclass(frozen=True)
class Invocation:
    """What run.json says of the latest invocation (the steps read it; the report only shows it)."""

    invoked_at_utc: str
    argv: list[str]
    where: RunProvenance


def load_report_data(verdict: Verdict, predictions: Path, run: Invocation | None = None,
                     prereqs: Prereqs | None = None, intervals: Path | None = None,
                     skipped: tuple[Unusable, ...] = (), corpus: Path | None = None) -> ReportData:
    """`corpus`: the verdict's corpus where it is now (the bundle finds it in the out-dir), else as the verdict
    names it."""
    from kit.report.frames import coverage_by_source, held_out, panel_sources, rate_quality_points

    corpus_path = corpus if corpus is not None else Path(verdict.corpus.path)
    names = {f.src_sha256: f.src for f in verdict.per_fold}
    return ReportData(held_out(predictions, verdict.seeds, names, panel_sources(verdict), not verdict.breakdown),
                      rate_quality_points(corpus_path) if corpus_path.is_file() else None,
                      run_provenance(run, prereqs, [str(e) for e in verdict.corpus.encoders]),
                      coverage_by_source(intervals) if intervals is not None and intervals.is_file() else None,
                      skipped)


def run_provenance(run: Invocation | None, prereqs: Prereqs | None,
                   corpus_encoders: Sequence[str] = ()) -> dict[str, object]:
    """Where and how the run happened: command line, host, ffmpeg and libvmaf builds, the encoders used."""
    out: dict[str, object] = {}
    if run is not None:
        out |= {"invoked_at_utc": run.invoked_at_utc, "command": " ".join(run.argv), **run.where.to_json()}
    if prereqs is not None:
        ff, host = prereqs.ffmpeg, prereqs.host
        out |= {"ffmpeg": f"{ff.version} ({ff.source}): {ff.path}", "ffmpeg_build": ff.build,
                "libvmaf_version": prereqs.libvmaf_version, "host": f"{host.os}, {host.cpu}, {host.cores} cores",
                "encoders_used": ", ".join(prereqs.resolved_encoders)}
    if not out.get("encoders_used") and corpus_encoders:
        out["encoders_used"] = f"{', '.join(corpus_encoders)} (in the given corpus's rows; this run encoded nothing)"
    return out


RMSE_NOTE = (f"Every figure names its kind (docs/figures.md). {GROUPS}: {DEFINITIONS[GROUPS]}. {POOLED}: "
             f"{DEFINITIONS[POOLED]}: it adds the offsets between contents, so it is larger. {SOURCE}: "
             f"{DEFINITIONS[SOURCE]}. Bias is the mean of (prediction - teacher): an offset no correlation can see.")


def baselines_section(verdict: Verdict) -> list[str]:
    """The ensemble beside its baselines on the same folds, the worst (largest mean RMSE) first."""
    lift = verdict.lift
    rows: list[list[object]] = [["fr_regressor_v2 ensemble", lift.ensemble_mean_plcc, lift.ensemble_mean_rmse]]
    for name, b in verdict.baselines.items():
        rows.append([f"{name} ({b.details.get('inputs', '')})", b.mean_plcc, b.mean_rmse])
    if verdict.incumbent is not None:
        rows.append(["incumbent (previous bundle)", verdict.incumbent.mean_plcc, verdict.incumbent.mean_rmse])
    rows.sort(key=lambda r: -r[2] if isinstance(r[2], float) and math.isfinite(r[2]) else -math.inf)
    floor = verdict.correction.label if verdict.correction is not None else ""
    statements = [f"<p>{esc(s)}</p>" for s in (lift.statement, floor, verdict.challenger_gate.statement) if s]
    return ["<h2 id='baselines'>Ensemble vs baselines (same folds)</h2>", *statements,
            sorted_by(f"by mean RMSE ({GROUPS}), worst first"),
            table(["model", f"mean PLCC ({GROUPS})", f"mean RMSE ({GROUPS})"], rows)]


def per_seed_table(verdict: Verdict) -> str:
    """Each seed's figures, the lowest mean PLCC first, folded."""
    seeds = sorted(verdict.per_seed, key=lambda r: (r.mean_plcc if math.isfinite(r.mean_plcc) else -math.inf, r.seed))
    return details(
        "Per seed", note(f"Each seed's figures are {GROUPS}: one held-out content group is one fold, its sources' "
                         "frames pooled."),
        sorted_by(f"by mean PLCC ({GROUPS}), lowest first"),
        table(["seed", f"mean PLCC ({GROUPS})", "std PLCC", "min PLCC", "max PLCC", "mean SROCC", "mean KROCC",
               f"mean RMSE ({GROUPS})", "mean bias", "max |bias| of a group", "max abs error", "share outside [0, 100]",
               "content groups"],
              [[r.seed, r.mean_plcc, r.std_plcc, r.min_plcc, r.max_plcc, r.mean_srocc, r.mean_krocc, r.mean_rmse,
                r.mean_bias, r.max_abs_bias, r.max_abs_error, r.share_out_of_range, r.n_folds] for r in seeds],
              cls="compact"))


def rate_quality_section(data: ReportData, worst_first: pd.DataFrame) -> list[str]:
    """Bitrate against VMAF per encoder, two charts a row, the sources' colours named once under them."""
    from kit.report import figures, frames

    parts = ["<h2 id='rate-quality'>Rate-quality curves</h2>"]
    if data.rate_quality is None:
        return [*parts, "<p class='note'>The corpus records no bitrate.</p>"]
    sources = data.rate_quality["src"].nunique()
    colours = figures.source_colours(data.rate_quality, [str(s) for s in worst_first["src"].head(frames.PANELS)])
    charts = [figures.figure_html(fig, f"{encoder}: mean VMAF against bitrate, one line per source, one point per "
                                       "cq, on axes fitted to its points.")
              for encoder, fig in figures.rate_quality_figures(data.rate_quality, colours)]
    said = (f"the {len(colours)} worst sources coloured, the other {sources - len(colours):,} grey"
            if len(colours) < sources else "a source keeps its colour in every chart")
    return [*parts, f"<div class='pair'>{''.join(charts)}</div>",
            figures.legend_html(list(colours.items()), "sources:"),
            f"<p class='note'>{esc(said.capitalize())}. From the corpus.</p>"]


VERDICT_FILE = "04_verdict/PROMOTE.json or HOLD.json"
SUSPECT_HEADERS = ["source", "encoder", "settings, best first", "best cq", "mean teacher at best", "worst cq",
                   "mean teacher at worst", "fall", "why"]
SUSPECT_WHY = {"low": "low at its best setting", "flat": "flat"}


def teacher_section(verdict: Verdict) -> list[str]:
    """The sources whose teacher looks wrong at their own size, or that none does (nothing without the check)."""
    from kit.verdict.plausibility import BEST_FLOOR, HIGH_QUALITY, MIN_DROP

    if verdict.teacher_suspects is None:
        return []
    parts = ["<h2 id='teacher'>Plausibility of the teacher</h2>"]
    rule = (f"A source is a suspect where, at its own size, an encoder's encodes at the grid's best setting score "
            f"under {BEST_FLOOR:g} on average (a best setting within {HIGH_QUALITY:.0%} of the knob's range from its "
            f"best end), or its mean teacher falls less than {MIN_DROP:g} from the best setting to the worst (a flat "
            "rate-quality curve). A warning, not a gate: check such a source's teacher scores before trusting "
            "what the models learnt from them.")
    if not verdict.teacher_suspects:
        return [*parts, note(f"No suspect teacher. {rule}")]
    return [*parts, sorted_by("the lowest mean at the best setting first"),
            capped(SUSPECT_HEADERS, [[s.src, s.encoder, ",".join(map(str, s.settings)), s.best_cq, f"{s.best_mean:.1f}",
                                      s.worst_cq, f"{s.worst_mean:.1f}", f"{s.best_mean - s.worst_mean:.1f}",
                                      " and ".join(SUSPECT_WHY[w] for w in s.why)] for s in verdict.teacher_suspects],
                   "suspects", "the verdict file"),
            note(f"{rule} From the verdict's teacher_suspects ({VERDICT_FILE}), recomputable from the corpus file: "
                 "its rows at each clip's own size (enc_width and enc_height its width and height), the mean vmaf "
                 "per source, encoder and cq.")]


def corpus_section(verdict: Verdict, demo: str) -> list[str]:
    """What the corpus holds: contents, files and groups, its fields, and each source's geometry, folded."""
    corpus = verdict.corpus
    fields = {"rows sha256 (a hash of the rows' content, not of the file's bytes)" if k == "sha256" else k: v
              for k, v in corpus.to_json().items() if k not in ("groups", "clips", "teachers", "left_out", "warnings")}
    parts = [kv_table(fields)]
    if corpus.teachers:
        teachers = sorted(corpus.teachers, key=lambda t: (t.hi - t.lo, t.encoder))
        parts += ["<h3>Teacher range per encoder</h3>", sorted_by("narrowest range first"),
                  "<p class='note'>The lowest and highest mean teacher score of one of its encodes (a source at one "
                  "cq and rung); from the verdict's corpus block, recomputable from the corpus file.</p>",
                  table(["encoder", "encodes", "lowest", "highest", "cq grid", "rungs", "warning"],
                        [[t.encoder, t.encodes, t.lo, t.hi, ",".join(map(str, t.cq_grid)), ", ".join(t.rungs),
                          t.warning or ""] for t in teachers])]
    if corpus.groups:
        parts += ["<h3>Content groups of more than one source (each held out as one)</h3>",
                  sorted_by("most members first"),
                  capped(["content", "members", "why"],
                         [[g.content[:12], "; ".join(f"{m.src} ({m.box_id})" if m.box_id else m.src
                                                     for m in g.members), "; ".join(g.why)]
                          for g in sorted(corpus.groups, key=lambda g: (-len(g.members), g.content))],
                         "groups", "the verdict file")]
    if corpus.clips:
        rows = [[c.src, c.src_sha256[:12], "" if c.content == c.src_sha256 else c.content[:12],
                 f"{c.width}x{c.height}" if c.width and c.height else "n/a",
                 f"{c.fps:g}" if math.isfinite(c.fps) else "n/a", c.frames, c.pix_fmt or "n/a"]
                for c in sorted(corpus.clips, key=lambda c: (c.height or 0, c.src, c.src_sha256))]
        parts += ["<h3>Sources</h3>", sorted_by("by height, smallest first (furthest below the teacher's 1080p)"),
                  capped(["source", "src_sha256", "content group", "resolution", "frame rate", "frames",
                          "pixel format"], rows, "sources", "the verdict file")]
    return [f"<h2 id='corpus'>Corpus{esc(demo)}</h2>", f"<p>{esc(corpus.contents_text)}.</p>",
            details("the corpus's fields, teacher ranges, content groups and sources", *parts)]


def left_out_section(verdict: Verdict, skipped: tuple[Unusable, ...]) -> list[str]:
    """The clips this box's corpus step left out (02_corpus/skipped.json), else those the boxes left out."""
    heading = "<h2 id='skipped'>Clips left out</h2>"
    if skipped:
        return [heading, sorted_by("by path"),
                capped(["clip", "why", "fix"], [[u.path, u.why, u.fix] for u in sorted(skipped, key=lambda u: u.path)],
                       "clips", SKIPPED_FILE),
                note(f"From {SKIPPED_FILE}, which the results tarball carries: each clip the corpus step could not "
                     "use (--strict refuses the run instead), with the words and the fix it printed.")]
    if not (left := verdict.corpus.left_out):
        return []
    refuted = any(u.by_check for u in left)  # a column only where some row has something in it
    return [heading, sorted_by("by box, then file"),
            capped(["box", "clip", "why", *(["refuted by the independent check"] if refuted else [])],
                   [[u.box_id, u.file, u.why, *(["yes" if u.by_check else ""] if refuted else [])]
                    for u in sorted(left, key=lambda u: (u.box_id, u.file))], "clips", "the verdict file"),
            note("From each box's corpus manifest, carried by the merge (the union's manifest, `left_out`): each "
                 "clip a box's corpus step could not use, with its words; the fix is in that box's "
                 f"{SKIPPED_FILE}.")]


def check_section(verdict: Verdict) -> list[str]:
    """What the independent libvmaf check found (kit.corpus.oracle), from the verdict's `independent_check`."""
    c = verdict.independent_check
    if c is None:
        return []
    rows = {"clips checked (passed)": c.clips, "frames of each": f"the first {c.frames}",
            "largest difference (VMAF)": f"{c.max_diff:.6f}" if c.clips else "n/a", "where": c.worst or "n/a",
            "tolerance": c.tolerance, "refused": "; ".join(c.refused) or "none",
            "not checked": ", ".join(c.unchecked) or "none"}
    if c.from_copy:
        rows["checked against the kit's lossless copy (an older kit)"] = ", ".join(c.from_copy)
    return ["<h2 id='check'>Independent check</h2>", kv_table(rows),
            note("One job of every clip scored a second time by libvmaf run on its own: the same encode against the "
                 "reference decoded from the clip's own file (also where the kit scores a lossless copy of it, an "
                 ".avi or a .ts), compared frame by frame with the corpus's scores; a clip whose scores differ by "
                 "more than the tolerance is left out. From the verdict's independent_check block; each check's "
                 "command is its `oracle.argv` in the corpus manifest and the job's ledger (02_corpus/jobs/).")]


SKIPPED_FILE = "02_corpus/skipped.json"
FAR_BELOW_1080P = 540  # lines: a source at most half the teacher's viewing height is "far" below it
NAV = (("worst", "worst"), ("gate", "gate"), ("consumer", "vmaf-tune"), ("sources", "by source"),
       ("predictions", "worst panels"), ("groups", "by group"), ("folds", "agreement"),
       ("rate-quality", "rate-quality"), ("teacher", "teacher"), ("baselines", "baselines"), ("coverage", "coverage"),
       ("skipped", "left out"), ("check", "check"), ("corpus", "corpus"), ("provenance", "provenance"))


def caveats(verdict: Verdict, skipped: tuple[Unusable, ...] = ()) -> list[str]:
    """What limits what the figures mean, for the first screen: sources far below the teacher's 1080p first."""
    from kit.verdict.plausibility import suspects_text

    clips, said = verdict.corpus.clips or (), []
    if far := sorted((c for c in clips if 0 < c.height <= FAR_BELOW_1080P), key=lambda c: (c.height, c.src)):
        text = (f"{len(far)} of {len(clips)} sources are at most {FAR_BELOW_1080P} lines high (the smallest "
                f"{far[0].src}, {far[0].width}x{far[0].height}). libvmaf scores a clip at its native size, while "
                "vmaf_v0.6.1 models a 1080p picture viewed at three times its height: these teacher scores (and so "
                "the predictions) are not what a viewer of the clip upscaled to 1080p would report.")
        said.append(f"<p class='warn'>{esc(text)}</p>")
    said += [f"<p class='warn'>{esc(f'{t.encoder}: {t.warning}')}</p>" for t in verdict.corpus.teachers or ()
             if t.warning]
    if verdict.teacher_suspects:
        text = suspects_text(verdict.teacher_suspects)
        said.append(f"<p class='warn'>{esc(text[:1].upper() + text[1:])}: <a href='#teacher'>the table</a>.</p>")
    said += [f"<p class='warn'>{esc(f'WARNING: {w}')}</p>" for w in verdict.corpus.warnings or ()]
    said += [f"<p class='warn'>{esc(f'WARNING: {r.text}.')} <a href='#consumer'>As vmaf-tune uses it</a>.</p>"
             for r in verdict.frame_regimes or ()]
    if skipped:
        said.append(f"<p class='warn'>{len(skipped)} clip(s) of --ref-dir were left out of the corpus: "
                    "<a href='#skipped'>which, why and the fix</a>.</p>")
    elif left := verdict.corpus.left_out:
        said.append(f"<p class='warn'>{len(left)} clip(s) were left out on the boxes: "
                    "<a href='#skipped'>which and why</a>.</p>")
    return said


def recommendation_html(verdict: Verdict) -> list[str]:
    """The recommendation: a HOLD's reasons first, listed one a line (the gates that failed), then what to do, then
    what no gate counts (the input's shortfall, as the recommendation names it) and the rest it says; a PROMOTE's
    as it is."""
    if (advice := verdict.advice) is None:
        return [f"<p>{esc(verdict.recommendation)}</p>"]
    reasons = "".join(f"<li>{esc(r[:1].upper() + r[1:])}.</li>" for r in verdict.reasons or ())
    act, _, rest = advice.partition(f" {AS_SAMPLED}")
    uncounted = [f"<p class='note'>What no gate counts: {esc(AS_SAMPLED.lower() + rest)}</p>"] if rest else []
    return [f"<p>{esc(verdict.verdict)}, for the gates that failed:</p>", f"<ul>{reasons}</ul>",
            f"<p>{esc(act)}</p>", *uncounted]


def matplotlib_home() -> None:
    """matplotlib's configuration (MPLCONFIGDIR) in the kit's cache unless set or loaded: an unwritable home warns."""
    if os.environ.get("MPLCONFIGDIR") or "matplotlib" in sys.modules:
        return
    from kit.errors import KitError
    from kit.infra.host import cache_tree

    with contextlib.suppress(KitError, OSError):  # no cache folder: matplotlib finds a temporary one itself
        tree = cache_tree()
        os.environ["MPLCONFIGDIR"] = str(tree.make_folder(tree.root / "matplotlib"))


def render_report(verdict: Verdict, data: ReportData | None = None) -> str:
    matplotlib_home()
    from kit.report import frames, gatelines, sections

    data = data or ReportData()
    breakdown, holdout = verdict.breakdown or (), verdict.holdout or ()
    folds = frames.folds_frame(verdict.per_fold)
    worst_first = frames.ranked_sources(folds, verdict.corpus.clips, data.coverage)
    v = verdict.verdict
    demo = " (DEMO corpus of synthetic clips)" if verdict.corpus.demo_corpus else ""
    worst = [w for w in [frames.worst_source(folds, verdict)] if w is not None]
    body = [*sections.consumer_section(verdict),
            *(sections.source_table_section(worst_first, folds, verdict.intervals) if not worst_first.empty else []),
            *sections.panels_section(data.predictions, worst_first),
            *sections.groups_section(breakdown, data.predictions), *sections.holdout_sections(holdout),
            *sections.agreement_section(verdict, folds, worst_first, data.predictions),
            *rate_quality_section(data, worst_first), *teacher_section(verdict), *baselines_section(verdict),
            *sections.intervals_section(verdict, data.coverage),
            *left_out_section(verdict, data.skipped), *check_section(verdict)]
    anchors = {a for part in body for a in re.findall(r"<h2 id='([^']+)'", part)} | {
        "worst", "gate", "corpus", "provenance"}
    nav = "".join(f"<a href='#{a}'>{t}</a>" for a, t in NAV if a in anchors)
    parts = [
        f"<h1>ensemble-kit verdict: <span class='{v}'>{v}</span>{esc(verdict.headline[len(v):])}{esc(demo)}</h1>",
        *recommendation_html(verdict),
        *gatelines.worst_section([*worst, *frames.worst_groups(breakdown, holdout)]),
        "<h2 id='gate'>Gate</h2>", gatelines.gate_table(verdict), *caveats(verdict, data.skipped), f"<nav>{nav}</nav>",
        f"<p class='note'>{esc(verdict.plcc_measures)} Teacher model: {esc(verdict.teacher_model)}. Validation: "
        f"{esc(verdict.scheme_text)}. Every figure comes from each row's prediction by the members that did not "
        f"train on its content, and names its kind: the gate's are {esc(GROUPS)}.</p>",
        *body, per_seed_table(verdict), *sections.every_fold_table(verdict), *corpus_section(verdict, demo)]
    prov = {k: v for k, v in verdict.provenance.to_json().items() if not isinstance(v, dict)}
    parts += ["<h2 id='provenance'>Provenance</h2>", details("the run's command, host and builds",
                                                             kv_table({**prov, **data.provenance})),
              details("How to read these figures", note(RMSE_NOTE))]
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>ensemble-kit report</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>\n")
