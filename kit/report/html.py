"""report.html: a self-contained page (no network) summarising a run.

Tables come from the verdict; the figures (kit.report.figures) from the held-out
predictions and the corpus, which `load_report_data` reads.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kit.infra.invocation import RunProvenance
from kit.infra.visible import visible

if TYPE_CHECKING:
    import pandas as pd

    from kit.platforms.prereqs import Prereqs
    from kit.verdict.document import Verdict


def esc(text: str) -> str:
    """Text for the page: HTML-escaped, and made visible (kit/infra/visible.py), so a source name or a path
    holding a line break, a terminal escape or a bidi override reads as it is spelled."""
    return html.escape(visible(text))


def _fmt(v: object) -> str:
    """A cell for people: floats to 4 places, yes/no for flags, None and NaN (null in the file) as n/a."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4f}" if math.isfinite(v) else "n/a"
    if v is None:
        return "n/a"
    if isinstance(v, list | tuple):
        return ", ".join(_fmt(x) for x in v)
    return str(v)


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(_fmt(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def kv_table(d: dict[str, object]) -> str:
    rows = table(["field", "value"], [(k.replace("_", " "), v) for k, v in d.items()
                                      if not isinstance(v, dict | list) or (isinstance(v, list) and len(v) <= 12)])
    return rows.replace("<table>", "<table class='kv'>", 1)


STYLE = """
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

    predictions: pd.DataFrame | None = None  # one row per held-out frame: src, vmaf (teacher), pred (seed mean)
    rate_quality: pd.DataFrame | None = None  # one row per (src, encoder, cq): bitrate_kbps, vmaf (mean)
    provenance: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Invocation:
    """What run.json says of the latest invocation (the steps read it; the report only shows it)."""

    invoked_at_utc: str
    argv: list[str]
    where: RunProvenance


def load_report_data(verdict: Verdict, predictions: Path, run: Invocation | None = None,
                     prereqs: Prereqs | None = None) -> ReportData:
    corpus_path = Path(verdict.corpus.path)
    return ReportData(held_out_predictions(predictions, verdict),
                      rate_quality_points(corpus_path) if corpus_path.is_file() else None,
                      run_provenance(run, prereqs))


def held_out_predictions(path: Path, verdict: Verdict) -> pd.DataFrame:
    """The ensemble's held-out prediction per frame: the mean over the verdict's seeds."""
    import pandas as pd

    df = pd.read_parquet(path, columns=["seed", "row", "src_sha256", "vmaf", "pred"])
    df = df[df["seed"].isin(verdict.seeds)]
    per_frame = df.groupby("row").agg(src_sha256=("src_sha256", "first"), vmaf=("vmaf", "first"),
                                      pred=("pred", "mean"))
    names = {f.src_sha256: f.src for f in verdict.per_fold}
    per_frame["src"] = per_frame["src_sha256"].map(lambda sha: names.get(sha, sha[:12]))
    return per_frame.reset_index(drop=True)


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
        (f"mean over seeds of each seed's mean {scheme} PLCC", gate.mean_plcc, f">= {_fmt(gate.mean_plcc_threshold)}",
         gate.mean_plcc_pass),
        ("seed spread (max - min of the seed means)", gate.plcc_spread, f"<= {_fmt(gate.plcc_spread_max)}",
         gate.plcc_spread_pass),
        ("every seed's mean PLCC (lowest shown)", lowest, f">= {_fmt(gate.per_seed_min)}", gate.per_seed_pass)]
    if lift_gate.enabled:
        rows.append(("RMSE ratio ensemble / ridge (--min-rmse-lift)", lift_gate.rmse_ratio,
                     f"<= {_fmt(lift_gate.threshold)}", lift_gate.passed))
    if challenger.enabled:
        rows.append(("margin over the incumbent (PLCC)", challenger.margin,
                     f"> seed spread {_fmt(challenger.seed_spread)}", challenger.passed))
    for g, what, flag in ((verdict.bias_gate, "largest |bias| of a source (mean over seeds)", "--max-abs-bias"),
                          (verdict.fold_rmse_gate, "largest RMSE of a source (mean over seeds)", "--max-fold-rmse")):
        if g is not None:
            limit = f"<= {g.threshold:g}" if g.enabled else f"off ({flag})"
            rows.append((f"{what}: {g.worst_src}", g.worst_value, limit, None if not g.enabled else g.passed))
    body = "".join(
        f"<tr><td>{esc(name)}</td><td>{esc(_fmt(value))}</td><td>{esc(limit)}</td>"
        f"<td class='{_result(ok)}'>{_result(ok)}</td></tr>" for name, value, limit, ok in rows)
    failing = gate.failing_seeds
    note = f"<p class='note'>Failing seeds: {esc(_fmt(failing))}</p>" if failing else ""
    return ("<table class='gate'><thead><tr><th>criterion</th><th>value</th><th>threshold</th><th>result</th>"
            f"</tr></thead><tbody>{body}</tbody></table>{note}")


def _result(ok: bool | None) -> str:
    return "off" if ok is None else "pass" if ok else "FAIL"


RMSE_NOTE = ("RMSE here is per held-out source, or the mean over seeds of each seed's per-source RMSE; the "
             "figures' RMSE is that of the seeds' mean prediction (an ensemble average is a little closer to the "
             "teacher). Bias is the mean of (prediction - teacher): an offset no correlation can see.")


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
    return [*parts, table(["model", "mean PLCC", "mean RMSE"], rows)]


def figure_sections(verdict: Verdict, data: ReportData) -> list[str]:
    import pandas as pd

    from kit.report import figures

    per_fold = pd.DataFrame([asdict(f) for f in verdict.per_fold])
    parts = ["<h2 id='folds'>Per-source PLCC per seed</h2>"]
    parts.append(figures.figure_html(figures.fold_plcc_figure(per_fold, verdict.gate.mean_plcc_threshold),
                                     "Held-out PLCC of every (seed, source), from the predictions of the members "
                                     "that did not train on the source (its fold held out its whole content "
                                     "group).")
                 if not per_fold.empty else "<p class='note'>No folds in the verdict.</p>")
    parts.append("<h2 id='predictions'>Predicted vs teacher VMAF per held-out source</h2>")
    parts.append(figures.figure_html(figures.pred_vs_teacher_figure(data.predictions),
                                     "Per frame: the mean of the seeds' held-out predictions against the "
                                     "vmaf_v0.6.1 teacher; grey line = perfect agreement; worst sources first. "
                                     "ens. RMSE: the RMSE of that mean prediction (the tables' RMSE is the mean "
                                     "over seeds of each seed's RMSE, a little larger).", "png")
                 if data.predictions is not None and not data.predictions.empty
                 else "<p class='note'>No held-out predictions available.</p>")
    parts.append("<h2 id='rate-quality'>Rate-quality curves</h2>")
    if data.rate_quality is None:
        parts.append("<p class='note'>The corpus records no bitrate.</p>")
    for encoder, fig in figures.rate_quality_figures(data.rate_quality) if data.rate_quality is not None else []:
        parts.append(figures.figure_html(fig, f"{encoder}: mean VMAF against bitrate, one line per source, one "
                                              "point per cq; a source keeps its colour in every chart."))
    return parts


SOURCES_SHOWN = 100  # rows of the corpus's tables (sources, groups): a corpus of 1,000 sources says how many more


def _capped(headers: Sequence[str], rows: Sequence[Sequence[object]], what: str) -> str:
    """A table of at most SOURCES_SHOWN rows, and a note of how many more there are."""
    more = len(rows) - SOURCES_SHOWN
    note = f"<p class='note'>and {more} more {what} (the verdict file lists them all)</p>" if more > 0 else ""
    return table(headers, rows[:SOURCES_SHOWN]) + note


def corpus_section(verdict: Verdict, demo: str) -> list[str]:
    """What the corpus holds: contents, files and groups, its fields, and each source's geometry, sorted by name."""
    corpus = verdict.corpus
    fields = {k: v for k, v in corpus.to_json().items() if k not in ("groups", "clips")}
    parts = [f"<h2 id='corpus'>Corpus{esc(demo)}</h2>", f"<p>{esc(corpus.contents_text)}.</p>", kv_table(fields)]
    if corpus.groups:
        parts += ["<h3>Content groups of more than one source (each held out as one)</h3>",
                  _capped(["content", "members", "why"],
                          [[g.content[:12], "; ".join(f"{m.src} ({m.box_id})" if m.box_id else m.src
                                                      for m in g.members), "; ".join(g.why)] for g in corpus.groups],
                          "groups")]
    if corpus.clips:
        rows = [[c.src, c.src_sha256[:12], "" if c.content == c.src_sha256 else c.content[:12],
                 f"{c.width}x{c.height}" if c.width and c.height else "n/a",
                 f"{c.fps:g}" if math.isfinite(c.fps) else "n/a", c.frames, c.pix_fmt or "n/a"]
                for c in sorted(corpus.clips, key=lambda c: (c.src, c.src_sha256))]
        parts += ["<h3>Sources</h3>", _capped(["source", "src_sha256", "content group", "resolution", "frame rate",
                                               "frames", "pixel format"], rows, "sources")]
    return parts


def render_report(verdict: Verdict, data: ReportData | None = None,
                  extra_sections: Sequence[tuple[str, str]] = ()) -> str:
    data = data or ReportData()
    v = verdict.verdict
    demo = " (DEMO corpus of synthetic clips)" if verdict.corpus.demo_corpus else ""
    nav = "".join(f"<a href='#{a}'>{t}</a>" for a, t in (
        ("gate", "gate"), ("folds", "folds"), ("predictions", "predicted vs teacher"),
        ("rate-quality", "rate-quality"), ("baselines", "baselines"), ("corpus", "corpus"),
        ("provenance", "provenance")))
    parts = [
        f"<h1>ensemble-kit verdict: <span class='{v}'>{v}</span></h1>", f"<nav>{nav}</nav>",
        f"<p>{esc(verdict.recommendation)}</p>",
        f"<p class='note'>{esc(verdict.plcc_measures)} "
        f"Teacher model: {esc(verdict.teacher_model)}.</p>",
        f"<p class='note'>Validation: {esc(verdict.scheme_text)}. Figures are per source, from each row's "
        "prediction by the members that did not train on it.</p>",
        "<h2 id='gate'>Gate</h2>", gate_table(verdict),
        *figure_sections(verdict, data),
        "<h2>Per seed</h2>",
        table(["seed", "mean PLCC", "std PLCC", "min PLCC", "max PLCC", "mean SROCC", "mean KROCC",
               "mean RMSE (over folds)", "mean bias", "max |bias| of a fold", "max abs error", "share outside [0, 100]",
               "sources"],
              [[r.seed, r.mean_plcc, r.std_plcc, r.min_plcc, r.max_plcc, r.mean_srocc, r.mean_krocc, r.mean_rmse,
                r.mean_bias, r.max_abs_bias, r.max_abs_error, r.share_out_of_range, r.n_folds]
               for r in verdict.per_seed]),
        f"<p class='note'>{esc(RMSE_NOTE)}</p>",
        *baselines_section(verdict),
        "<h2>Worst folds</h2>",
        "<p class='note'>Ranked by whichever of PLCC, RMSE and |bias| is furthest from the typical source "
        "(each relative to its median over the sources); the reason names it. Figures are means over seeds.</p>",
        table(["source", "why", "PLCC", "SROCC", "RMSE (mean over seeds)", "bias", "max abs error", "frames",
               "share at vmaf 100"],
              [[w.src, w.reason, w.plcc, w.srocc, w.rmse, w.bias, w.max_abs_error, w.n_frames, w.share_vmaf_100]
               for w in verdict.worst_folds]),
        "<details><summary>Every fold</summary>",
        table(["seed", "fold", "source", "frames", "PLCC", "SROCC", "KROCC", "RMSE", "bias", "max abs error",
               "share outside [0, 100]"],
              [[f.seed, f.fold, f.src, f.n_frames, f.plcc, f.srocc, f.krocc, f.rmse, f.bias, f.max_abs_error,
                f.share_out_of_range] for f in verdict.per_fold]),
        "</details>",
        *corpus_section(verdict, demo),
    ]
    for title, body in extra_sections:
        parts += [f"<h2>{esc(title)}</h2>", body]
    prov = {k: v for k, v in verdict.provenance.to_json().items() if not isinstance(v, dict)}
    parts += ["<h2 id='provenance'>Provenance</h2>", kv_table({**prov, **data.provenance})]
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>ensemble-kit report</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>\n")
