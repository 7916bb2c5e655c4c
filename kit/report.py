"""report.html: a self-contained page (no network) summarising a run."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    if v is None:
        return "n/a"
    if isinstance(v, list | tuple):
        return ", ".join(_fmt(x) for x in v)
    return str(v)


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def kv_table(d: dict[str, object]) -> str:
    return table(["field", "value"], [(k, v) for k, v in d.items() if not isinstance(v, dict | list)
                                      or (isinstance(v, list) and len(v) <= 12)])


STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
h1 span.PROMOTE{color:#1a7f37} h1 span.HOLD{color:#b35900}
table{border-collapse:collapse;margin:.5em 0 1.5em} td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3} td:first-child,th:first-child{text-align:left} .note{color:#555;font-size:.9em}
"""


def render_report(verdict: dict[str, object], extra_sections: Sequence[tuple[str, str]] = ()) -> str:
    v = str(verdict.get("verdict"))
    gate = verdict.get("gate", {})
    corpus = verdict.get("corpus", {})
    assert isinstance(gate, dict) and isinstance(corpus, dict)
    demo = " (DEMO corpus of synthetic clips)" if corpus.get("demo_corpus") else ""
    parts = [
        f"<h1>ensemble-kit verdict: <span class='{v}'>{v}</span></h1>",
        f"<p>{html.escape(str(verdict.get('recommendation', '')))}</p>",
        f"<p class='note'>{html.escape(str(verdict.get('plcc_measures', '')))} "
        f"Teacher model: {html.escape(str(verdict.get('teacher_model')))}.</p>",
        "<h2>Gate</h2>", kv_table(gate),
        "<h2>Per seed</h2>",
        table(["seed", "mean PLCC", "std PLCC", "min PLCC", "max PLCC", "mean SROCC", "mean KROCC", "mean RMSE",
               "folds"],
              [[r.get(k) for k in ("seed", "mean_plcc", "std_plcc", "min_plcc", "max_plcc", "mean_srocc",
                                   "mean_krocc", "mean_rmse", "n_folds")]
               for r in verdict.get("per_seed", [])]),  # type: ignore[union-attr]
        "<h2>Worst folds</h2>",
        table(["source", "PLCC", "SROCC", "RMSE", "frames", "share at vmaf 100"],
              [[r.get(k) for k in ("src", "plcc", "srocc", "rmse", "n_frames", "share_vmaf_100")]
               for r in verdict.get("worst_folds", [])]),  # type: ignore[union-attr]
        "<h2>Per fold</h2>",
        table(["seed", "fold", "source", "frames", "PLCC", "SROCC", "KROCC", "RMSE"],
              [[r.get(k) for k in ("seed", "fold", "src", "n_frames", "plcc", "srocc", "krocc", "rmse")]
               for r in verdict.get("per_fold", [])]),  # type: ignore[union-attr]
        f"<h2>Corpus{html.escape(demo)}</h2>", kv_table(corpus),
    ]
    lift = verdict.get("lift")
    if isinstance(lift, dict):
        lift_gate = verdict.get("lift_gate", {})
        parts += ["<h2>Ensemble vs ridge baseline (same folds)</h2>",
                  f"<p>{html.escape(str(lift.get('statement', '')))}</p>",
                  table(["model", "mean PLCC", "mean RMSE"],
                        [["ensemble", lift.get("ensemble_mean_plcc"), lift.get("ensemble_mean_rmse")],
                         ["ridge", lift.get("ridge_mean_plcc"), lift.get("ridge_mean_rmse")]]),
                  kv_table({"RMSE ratio (ensemble / ridge)": lift.get("rmse_ratio"),
                            "PLCC delta (ensemble - ridge)": lift.get("plcc_delta"),
                            **({"--min-rmse-lift": lift_gate.get("threshold"), "lift gate passed":
                                lift_gate.get("passed")} if isinstance(lift_gate, dict) and lift_gate.get("enabled")
                               else {})})]
    for title, body in extra_sections:
        parts += [f"<h2>{html.escape(title)}</h2>", body]
    prov = verdict.get("provenance", {})
    if isinstance(prov, dict):
        parts += ["<h2>Provenance</h2>", kv_table({k: v for k, v in prov.items() if not isinstance(v, dict)})]
    return ("<!doctype html><html><head><meta charset='utf-8'><title>ensemble-kit report</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>\n")
