"""The report's first screen: where the ensemble is worst, each kind against its typical one and its gate, and
the gate, failing rows first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from kit.report.frames import WorstItem
from kit.report.gatelines import GateLine, gate_lines
from kit.report.markup import LEGEND, Graded, esc, grade, note, sorted_by, table
from kit.report.markup import fmt as _fmt
from kit.verdict.kinds import POOLED, SOURCE

if TYPE_CHECKING:
    from kit.verdict.document import Verdict

WORST_HEADERS = ["worst", "name", "its figure", "typical (median)", "how far", "gate on it"]


def how_far(item: WorstItem) -> Graded:
    """`7.3x the median`, coloured; `the only one` when nothing compares."""
    if item.typical is None:
        return Graded(f"the only {item.what}")
    r = item.ratio
    css = "g2" if item.passed is False else grade(r)
    return Graded(f"{r:.1f}x the median" if r is not None else "n/a", css)


def figure_text(item: WorstItem) -> str:
    word = {"plcc": "PLCC", "rmse": "RMSE", "bias": "bias", "miss": "max abs error", "share": "share"}[item.measure]
    value = f"{item.value:+.2f}" if item.measure == "bias" else f"{item.value:.4f}" if item.measure == "plcc" \
        else f"{item.value:.2f}"
    return f"{word} {value} ({item.kind})"


def typical_text(item: WorstItem) -> str:
    if item.typical is None:
        return f"1 {item.what}"
    shown = "|bias| " if item.measure == "bias" else ""
    digits = 4 if item.measure == "plcc" else 2
    return f"{shown}{item.typical:.{digits}f} over {item.count:,} {item.plural}"


def worst_section(items: Sequence[WorstItem]) -> list[str]:
    """The table of the worst of each kind, and where its figures come from."""
    if not items:
        return [note("No held-out figures to rank.")]
    rows = [[item.what, item.name, figure_text(item), typical_text(item), how_far(item),
             Graded(item.gate, "g2" if item.passed is False else "pass" if item.passed else "") if item.gate else ""]
            for item in items]
    files = sorted({item.source for item in items})
    return ["<h2 id='worst'>Where it is worst</h2>",
            sorted_by("the kinds in a fixed order; in each, its worst by the figure named"),
            table(WORST_HEADERS, rows, cls="worst"),
            note(f"The source: the verdict's worst ({SOURCE}); the others: the largest RMSE ({POOLED}) of their kind. "
                 f"From {', '.join(files)}. {LEGEND}")]


def margin_text(row: GateLine) -> str:
    """How far inside the limit (+) or past it (-); nothing for a gate that is off or an exact count."""
    m = row.margin
    if m is None or (row.op == "=" and m == 0):
        return ""
    return f"{m:+.4g}"


def result(ok: bool | None) -> str:
    return "off" if ok is None else "pass" if ok else "FAIL"


def gate_table(verdict: Verdict) -> str:
    """Every criterion, failing first, then the passing ones by the share of their limit left, then those off."""
    rows = sorted(gate_lines(verdict), key=GateLine.order)
    body = "".join(
        f"<tr><td>{esc(r.name)}</td><td class='{'g2' if r.ok is False else ''}'>{esc(_fmt(r.value))}</td>"
        f"<td>{esc(r.limit)}</td><td>{esc(margin_text(r))}</td><td class='{result(r.ok)}'>{result(r.ok)}</td></tr>"
        for r in rows)
    failing = verdict.gate.failing_seeds
    said = f"<p class='note'>Failing seeds: {esc(_fmt(failing))}</p>" if failing else ""
    return (sorted_by("failing first, then passing by the share of the limit left (least first), then off")
            + "<table class='gate'><thead><tr><th>criterion</th><th>value</th><th>threshold</th>"
              f"<th>margin (+ inside)</th><th>result</th></tr></thead><tbody>{body}</tbody></table>{said}")
