"""Every criterion of a verdict's gate, derived once for the report's gate table and the summary's gate rows, and
the report's first screen (where it is worst, and the gate table). No pandas: the summary imports it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from kit.report.markup import LEGEND, Graded, esc, fmt, grade, note, num, ratio, sorted_by, table
from kit.verdict.gates import Shown, shown
from kit.verdict.kinds import GROUPS, POOLED, SOURCE

if TYPE_CHECKING:
    from kit.report.frames import WorstItem
    from kit.verdict.document import Verdict

OUTCOME: dict[bool | None, str] = {True: "pass", False: "FAIL", None: "off"}
NOT_JUDGED = "not judged"  # a gate that is on with nothing to judge: never said as a pass


def outcome_of(passed: bool | None, why: str | None) -> str:
    """A gate's outcome as said: `not judged: <why>` where it had nothing to judge, else pass, FAIL or off."""
    return f"{NOT_JUDGED}: {why}" if why else OUTCOME[passed]


def ok_of(row: Any) -> bool | None:
    """A gate row's outcome: None for a gate that is off or has nothing to judge (its `not_judged` says why)."""
    return row.passed if row.enabled and not getattr(row, "not_judged", None) else None


def gated(said: str, row: Any, sign: str = "", off: str = "no gate") -> str:
    """A gate row's sentence: what it found, then its threshold and outcome (`not judged` where it has nothing to
    judge), or `off`."""
    outcome = outcome_of(row.passed, getattr(row, "not_judged", None))
    return f"{said}  ({f'gate {sign}{row.threshold:g}, {outcome}' if row.enabled else off})"


@dataclass(frozen=True)
class GateLine:
    """One criterion: name, figure, limit as shown, outcome (None: off); `short`, `said`: the summary's row."""

    name: str
    value: float | int | None  # a count is an int, shown as one (`4`, not `4.0000`)
    op: str  # >=, <=, >, =
    threshold: float | None
    limit: str
    ok: bool | None
    short: str = ""
    said: str = ""
    unjudged: bool = False  # on, with nothing to judge: shown `not judged`, never `pass`
    why: str = ""  # why it is not judged

    @property
    def outcome(self) -> str:
        return NOT_JUDGED if self.unjudged else OUTCOME[self.ok]

    @property
    def margin(self) -> float | None:
        """How far inside the limit (positive) or past it (negative)."""
        if self.ok is None or self.value is None or self.threshold is None or not math.isfinite(self.value):
            return None
        return self.threshold - self.value if self.op == "<=" else self.value - self.threshold

    def order(self) -> tuple[int, float]:
        rank = {False: 0, True: 1, None: 2}[self.ok]
        scale = max(abs(self.threshold or 0.0), 1e-9)
        exact = self.op == "=" and self.ok  # a count that is what it must be: nothing to watch
        return rank, (self.margin / scale) if self.margin is not None and not exact else math.inf


def gate_lines(verdict: Verdict) -> list[GateLine]:
    """The PLCC gate's three criteria, the evidence floor, lift, challenger, kit.verdict.gates's, the completeness."""
    gate, lift_gate, challenger, ok = verdict.gate, verdict.lift_gate, verdict.challenger_gate, OUTCOME
    lowest = min((v for v in gate.per_seed_plccs.values() if math.isfinite(v)), default=None)
    per_seed = ", ".join(f"seed {k} {num(v)}" for k, v in gate.per_seed_plccs.items())
    scheme = verdict.validation.label if verdict.validation is not None else "LOSO"
    why = gate.not_judged or ""  # the held-out student is the teacher's function: its figures are libvmaf's own
    seeds = why or gate.seeds_not_judged or ""  # the seeds are one student: their spread is 0 by construction

    def said(passed: bool | None, reason: str = why) -> str:
        return outcome_of(passed, reason)

    lines = [
        GateLine(f"mean {scheme} PLCC ({GROUPS}; mean over seeds)", gate.mean_plcc, ">=", gate.mean_plcc_threshold,
                 f">= {fmt(gate.mean_plcc_threshold)}", gate.mean_plcc_pass, f"mean {scheme} PLCC",
                 f"{num(gate.mean_plcc)}, {GROUPS}  (gate >= {gate.mean_plcc_threshold}, {said(gate.mean_plcc_pass)})",
                 bool(why), why),
        GateLine("seed spread (max - min of the seed means)", gate.plcc_spread, "<=", gate.plcc_spread_max,
                 f"<= {fmt(gate.plcc_spread_max)}", gate.plcc_spread_pass, "seed spread",
                 f"{num(gate.plcc_spread)}  (gate <= {gate.plcc_spread_max}, {said(gate.plcc_spread_pass, seeds)})",
                 bool(seeds), seeds),
        GateLine(f"lowest seed's mean PLCC ({GROUPS})", lowest, ">=", gate.per_seed_min, f">= {fmt(gate.per_seed_min)}",
                 gate.per_seed_pass, "per seed",
                 f"{per_seed}, each a {GROUPS}  (each >= {gate.per_seed_min}, {said(gate.per_seed_pass, seeds)})",
                 bool(seeds), seeds)]
    if (e := verdict.evidence_gate) is not None:
        least = float(e.min_content_groups) if e.min_content_groups is not None else None
        lines.append(GateLine("held-out content groups (--min-content-groups)", int(e.content_groups), ">=", least,
                              f">= {e.min_content_groups}" if e.enabled else "off", e.passed if e.enabled else None,
                              "evidence", f"{e.statement}  ({'gate, ' + ok[e.passed] if e.enabled else 'no gate'})"))
    if lift_gate.enabled:
        lines.append(GateLine(f"RMSE ratio ensemble / ridge, --min-rmse-lift ({GROUPS})", lift_gate.rmse_ratio, "<=",
                              lift_gate.threshold, f"<= {fmt(lift_gate.threshold)}", ok_of(lift_gate),
                              "RMSE ensemble / ridge", gated(f"{num(lift_gate.rmse_ratio, '.3f')}, of means over "
                                                            "content groups", lift_gate, "<= "),
                              bool(lift_gate.not_judged), lift_gate.not_judged or ""))
    if challenger.enabled:
        lines.append(GateLine("margin over the incumbent (PLCC)", challenger.margin, ">", challenger.seed_spread,
                              f"> seed spread {fmt(challenger.seed_spread)}", ok_of(challenger),
                              unjudged=bool(challenger.not_judged), why=challenger.not_judged or ""))
    lines += [limit_line(s) for s in shown(verdict) if s.gate.label]
    if (c := verdict.completeness) is not None:
        missing = f" (missing: {', '.join(c.missing[:5])}{' ...' if len(c.missing) > 5 else ''})" if c.missing else ""
        lines.append(GateLine(f"sources with held-out results{missing}", c.with_results, "=", c.expected_sources,
                              f"= {c.expected_sources}", c.passed))
    return lines


def side(value: float, threshold: float) -> int:
    return (value > threshold) - (value < threshold)


def beside_threshold(value: float, threshold: float | None) -> str:
    """A gate's worst value as its line prints it beside the threshold: to one decimal more than the threshold is
    given with (one at least), and more where fewer would put it on the threshold's other side or on it, so the two
    compare as printed as the gate compared them (an |bias| of 0.03 under `<= 0.04`, never `0.0`; 5.04 over `<= 5`,
    never `5.0`)."""
    if threshold is None or not math.isfinite(value):
        return num(value, ".1f")
    digits = max(1, 1 - Decimal(repr(float(threshold))).normalize().as_tuple().exponent)  # type: ignore[operator]
    while digits < 12 and side(float(format(value, f".{digits}f")), threshold) != side(value, threshold):
        digits += 1
    return num(value, f".{digits}f")


def limit_line(s: Shown) -> GateLine:
    """A gate of kit.verdict.gates: its worst value (a per-source gate's names its source) against its threshold."""
    g, gate, what = s.row, s.gate, s.label
    said = ""
    if s.per_source:
        what, value = f"{what}: {g.worst_src}", g.worst_value
        if g.worst_src is not None:
            said = gated(f"{beside_threshold(g.worst_value, g.threshold)} on {g.worst_src}, {SOURCE}", g,
                         f"{gate.sign} ", f"no gate: {gate.flag} off")
    else:
        value = g.worst_value if not gate.no_figure or math.isfinite(g.worst_value) else None
        # why there is no figure is said where its figures are, at length: here, that there is none
        what = f"{what}: {gate.no_figure}" if value is None else what
        what = f"{what}: {g.worst}" if g.worst else what
    limit = f"{gate.sign} {g.threshold:g}" if g.enabled and g.threshold is not None else f"off ({gate.flag})"
    if why := getattr(g, "not_judged", None):
        what = f"{s.label}: not judged, {why}"
    return GateLine(what, value, gate.sign, g.threshold, limit, ok_of(g), s.short, said, bool(why), why or "")


WORST_HEADERS = ["worst", "name", "its figure", "typical (median)", "how far", "gate on it"]


def how_far(item: WorstItem) -> Graded:
    """`7.3x the median`, coloured; `the only one` when nothing compares."""
    if item.typical is None:
        return Graded(f"the only {item.what}")
    r = ratio(item.value, item.typical, item.measure)
    css = "g2" if item.passed is False else grade(r)
    return Graded(f"{r:.1f}x the median" if r is not None else "n/a", css)


def figure_text(item: WorstItem) -> str:
    word = {"plcc": "PLCC", "rmse": "RMSE", "bias": "bias", "miss": "max abs error", "share": "share"}[item.measure]
    return f"{word} {format(item.value, {'bias': '+.2f', 'plcc': '.4f'}.get(item.measure, '.2f'))} ({item.kind})"


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
    return ["<h2 id='worst'>Where it is worst</h2>",
            sorted_by("the kinds in a fixed order; in each, its worst by the figure named"),
            table(WORST_HEADERS, rows, cls="worst"),
            note(f"The source: the verdict's worst ({SOURCE}); the others: the largest RMSE ({POOLED}) of their kind. "
                 f"From {', '.join(sorted({item.source for item in items}))}. {LEGEND}")]


def margin_text(row: GateLine) -> str:
    """How far inside the limit (+) or past it (-); nothing for a gate that is off or an exact count."""
    m = row.margin
    if m is None or (row.op == "=" and m == 0):
        return ""
    return f"{m:+.4g}"


def gate_table(verdict: Verdict) -> str:
    """Every criterion, failing first, then the passing ones by the share of their limit left, then those off."""
    body = "".join(
        f"<tr><td>{esc(r.name)}</td><td class='{'g2' if r.ok is False else ''}'>{esc(fmt(r.value))}</td>"
        f"<td>{esc(r.limit)}</td><td>{esc(margin_text(r))}</td><td class='{OUTCOME[r.ok]}'>{r.outcome}</td></tr>"
        for r in sorted(gate_lines(verdict), key=GateLine.order))
    failing = verdict.gate.failing_seeds
    said = f"<p class='note'>Failing seeds: {esc(fmt(failing))}</p>" if failing else ""
    return (sorted_by("failing first, then passing by the share of the limit left (least first), then off")
            + "<table class='gate'><thead><tr><th>criterion</th><th>value</th><th>threshold</th>"
              f"<th>margin (+ inside)</th><th>result</th></tr></thead><tbody>{body}</tbody></table>{said}")
