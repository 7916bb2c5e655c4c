"""Every gate at its boundary (issue 76): each gate of kit.verdict.gates.GATES, the PLCC gate's three criteria, the
lift, evidence and challenger gates of kit.verdict.thresholds and lift, tried at its default threshold (an optional
gate's at its flag's example) with its figure equal to the threshold, one step below and one step above, computed from
real counts where the figure is a share (k of n encodes, rows or clips); the consumer's gates over their pool (the
encodes the ceiling lands within on) and the issue's own cases (issue 90); the consumer gates over every (student,
ceiling) count of a content (tests/unit/test_monotone_verdict.py proves every gate monotone over the class).
`boundary_table` is the table the notes give (docs/verdict.md)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from kit.corpus.schema import CORPUS_ROW
from kit.model.consumer import CRF_RANGE, crf_band
from kit.verdict.assess import holdout_block
from kit.verdict.confounding import Confounding
from kit.verdict.consumer import consumer_fit
from kit.verdict.document import ClipPooling, GroupErrors, IntervalLevel, Intervals, PoolError
from kit.verdict.gates import (
    ABS_BIAS,
    CLIP_ERROR,
    CONSUMER_CEILING,
    CONSUMER_CONTENT_SHARE,
    CONSUMER_SHARE,
    COVERAGE,
    FOLD_RMSE,
    GATES,
    HOLDOUT_PLCC,
    OUT_OF_RANGE,
    Evidence,
    Gate,
)
from kit.verdict.lift import challenger_gate, lift_gate
from kit.verdict.thresholds import GateThresholds, evaluate_gate, evidence_gate

DEFAULTS = GateThresholds()
TOL = 1.5  # --consumer-tolerance's default
IN, OUT = 0.5, 3.0  # a miss within the tolerance, and one beyond it


def thresholds(**given: Any) -> GateThresholds:
    return GateThresholds(**{**DEFAULTS.to_json(), **given})


# -- the inputs each gate reads, built from a figure -----------------------------------------------------------------
def per_source_evidence(column: str, value: float, t: GateThresholds) -> Evidence:
    """Two held-out sources over two seeds: `value` the worst's per-source figure (a mean over seeds), the other 1."""
    rows = [{"seed": seed, "fold": i, "src": src, "src_sha256": src * 8, "plcc": 0.99, "srocc": 0.99, "krocc": 0.9,
             "rmse": 1.0, "bias": 0.5, "max_abs_error": 2.0, "share_out_of_range": 0.0, "n_frames": 10,
             "share_vmaf_100": 0.0, column: figure}
            for seed in (0, 1) for i, (src, figure) in enumerate((("worst", value), ("other", 1.0)))]
    from kit.verdict.decide import per_source

    folds = pd.DataFrame(rows)
    return Evidence(folds, per_source(folds), None, t)


def assessed(t: GateThresholds, **parts: Any) -> Evidence:
    return Evidence(None, None, SimpleNamespace(**parts), t)  # type: ignore[arg-type]


def coverage_evidence(k: int, n: int, t: GateThresholds) -> Evidence:
    """Held-out coverage at the nominal level k of n rows."""
    level = IntervalLevel(0.8, 5, 1.0, 2.0, False, k / n, 3.0, k / n, 0.0)
    intervals = Intervals("conformal", "", "absolute", "VMAF", 0.8, 5, (level,), 1.0)
    return assessed(t, intervals=intervals)


def range_evidence(k: int, n: int, t: GateThresholds) -> Evidence:
    """A source with k of its n held-out predictions outside [0, 100]."""
    group = GroupErrors("source", "worst", n, 1, 0.99, 1.0, 0.0, 2.0, k / n, None, None)
    return assessed(t, breakdown=(group,))


def holdout_evidence(t: GateThresholds) -> tuple[Evidence, float]:
    """--holdout encoder on real rows: two encoders, their predictions a noisy line of the teacher (its PLCC the
    figure); the gate's threshold is set around the figure computed here."""
    rng = np.random.default_rng(7)
    vmaf = np.tile(np.linspace(30, 95, 20), 2)
    pred = vmaf + rng.normal(0, 6, len(vmaf))
    meta = pd.DataFrame({CORPUS_ROW: np.arange(40), "src_sha256": np.repeat(["a" * 64, "b" * 64], 20),
                         "encoder": np.repeat(["libx264", "libx265"], 20)}).set_index(CORPUS_ROW, drop=False)
    frame = pd.DataFrame({"seed": 0, CORPUS_ROW: np.arange(40), "vmaf": vmaf, "pred": pred,
                          "heldout": np.repeat(["libx264", "libx265"], 20), "scheme": "encoder"})
    block = holdout_block("encoder", frame, meta, Confounding())
    return assessed(t, holdout=(block,)), min(g.plcc for g in block.groups)


def clip_evidence(miss: float, t: GateThresholds) -> Evidence:
    """Two held-out clips, the worst's 1st-percentile-pooled prediction `miss` VMAF from its teacher's."""
    frame = pd.DataFrame({"src": ["a", "b"], "encoder": "libx264", "cq": 24, "enc_width": 64, "enc_height": 48,
                          "width": 64, "height": 48, "pred_p1": [50.0 + miss, 61.0], "vmaf_p1": [50.0, 60.0]})
    pooling = ClipPooling("", (PoolError("p1", 2, miss, miss, miss, miss, "a libx264 cq 24"),), ())
    return assessed(t, clips=frame, clip_pooling=pooling)


def encodes(contents: dict[str, tuple[int, int, int]]) -> pd.DataFrame:
    """encodes.parquet rows of libx264 at CRF 20: per content, (n encodes, the student within on k, the ceiling
    within on m), each a real count."""
    out = []
    for content, (n, k, m) in contents.items():
        for i in range(n):
            miss, ceiling = (IN if i < k else OUT), (IN if i < m else OUT)
            out.append({"content": content, "src": content, "src_sha256": content, "encoder": "libx264", "cq": 20,
                        "enc_width": 640, "enc_height": 360, "rung": "native", "crf": 20, "crf_band": crf_band(20),
                        "n_frames": 100, "teacher": 50.0, "predicted": 50.0 + miss, "miss": miss,
                        "encoder_trained": True, "queried": True, "counted": True, "n_seeds": 2,
                        "ceiling": 50.0 + ceiling, "ceiling_miss": ceiling})
    return pd.DataFrame(out)


def consumer_evidence(contents: dict[str, tuple[int, int, int]], t: GateThresholds) -> Evidence:
    return assessed(t, consumer=consumer_fit(encodes(contents), TOL, CRF_RANGE))


def row_of(gate: Gate, e: Evidence) -> Any:
    (row,) = gate.compute(gate, e)
    return row


# -- the cases: (gate, threshold, what the figure is, its value, expected pass) --------------------------------------
Case = tuple[str, str, float, str, float, bool, Callable[[], Any]]


def share_cases(gate: Gate, field: str, t_value: float, n: int, build: Callable[[int, int, GateThresholds], Evidence]
                ) -> list[Case]:
    """Equal, one count below, one count above, as k of n (k chosen so that k / n is the threshold)."""
    k = round(t_value * n)
    assert k / n == t_value
    t = thresholds(**{field: t_value})
    steps = ((k, True), (k - 1, not gate.at_least), (k + 1, gate.at_least))
    return [(gate.measure, gate.flag, t_value, f"{j} of {n}", j / n, keeps,
             (lambda j=j: row_of(gate, build(j, n, t)))) for j, keeps in steps]


def value_cases(gate: Gate, field: str, t_value: float, step: float,
                build: Callable[[float, GateThresholds], Evidence]) -> list[Case]:
    t = thresholds(**{field: t_value})
    steps = ((t_value, True), (t_value - step, not gate.at_least), (t_value + step, gate.at_least))
    return [(gate.measure, gate.flag, t_value, f"{v:g}", v, keeps, (lambda v=v: row_of(gate, build(v, t))))
            for v, keeps in steps]


def consumer_cases() -> list[Case]:
    """The consumer's three gates at their defaults (0.9, 0.75, 0.15) on whole counts."""
    gap = DEFAULTS.max_consumer_ceiling_gap
    out: list[Case] = []
    # --min-consumer-share 0.9: 18 of 20 within (every group the same content), the ceiling 20 of 20
    for k, keeps in ((18, True), (17, False), (19, True)):
        e = consumer_evidence({"a": (20, k, 20)}, DEFAULTS)
        out.append((CONSUMER_SHARE.measure, CONSUMER_SHARE.flag, 0.9, f"{k} of 20", k / 20, keeps,
                    (lambda e=e: row_of(CONSUMER_SHARE, e))))
    # --min-consumer-content-share 0.75: a content at 15 of 20 beside a content at 20 of 20, ceilings 20 of 20
    for k, keeps in ((15, True), (14, False), (16, True)):
        e = consumer_evidence({"a": (20, k, 20), "b": (20, 20, 20)}, DEFAULTS)
        out.append((CONSUMER_CONTENT_SHARE.measure, CONSUMER_CONTENT_SHARE.flag, 0.75, f"{k} of 20", k / 20, keeps,
                    (lambda e=e: row_of(CONSUMER_CONTENT_SHARE, e))))
    # --max-consumer-ceiling-gap 0.15: a content under a ceiling of 15 of 20, at most 3 of 20 under it
    for k, keeps in ((12, True), (11, False), (13, True)):
        e = consumer_evidence({"a": (20, k, 15), "b": (20, 20, 20)}, DEFAULTS)
        out.append((CONSUMER_CEILING.measure, CONSUMER_CEILING.flag, gap or 0.0, f"{k} of 20 under 15 of 20",
                    round(0.75 - k / 20, 12), keeps, (lambda e=e: row_of(CONSUMER_CEILING, e))))
    return out


def gate_cases() -> list[Case]:
    """Every gate of GATES at its boundary."""
    return [
        *value_cases(ABS_BIAS, "max_abs_bias", DEFAULTS.max_abs_bias or 0.0, 0.5,
                     lambda v, t: per_source_evidence("bias", -v, t)),  # a bias either way: its size is gated
        *value_cases(FOLD_RMSE, "max_fold_rmse", 5.0, 0.5, lambda v, t: per_source_evidence("rmse", v, t)),
        *share_cases(COVERAGE, "min_coverage", 0.9, 20, coverage_evidence),
        *share_cases(OUT_OF_RANGE, "max_out_of_range", 0.05, 20, range_evidence),
        *value_cases(CLIP_ERROR, "max_clip_error", 4.0, 0.5, lambda v, t: clip_evidence(v, t)),
        *consumer_cases(),
    ]


def fixed(case: Case) -> Case:
    """CLIP_ERROR's threshold is a dict (p1:4): value_cases gave it a float; its evidence is rebuilt here."""
    measure, flag, t_value, said, value, keeps, _ = case
    if measure != CLIP_ERROR.measure:
        return case
    t = thresholds(max_clip_error={"p1": t_value})
    return (measure, flag, t_value, said, value, keeps, lambda: row_of(CLIP_ERROR, clip_evidence(value, t)))


CASES = [fixed(c) for c in gate_cases()]


def test_every_gate_of_the_table_is_tried() -> None:
    tried = {c[0] for c in CASES} | {HOLDOUT_PLCC.measure}
    assert {g.measure for g in GATES} == tried


@pytest.mark.parametrize("case", CASES, ids=[f"{c[1]}={c[2]:g}@{c[3]}" for c in CASES])
def test_a_gate_at_its_boundary_keeps_what_its_sign_says(case: Case) -> None:
    measure, _, _, _, value, keeps, run = case
    row = run()
    assert row.passed is keeps, (measure, value, row)
    assert getattr(row, "not_judged", None) is None
    if measure != CONSUMER_CEILING.measure:  # the ceiling's gate's figure is the shortfall, restated in its case
        assert math.isclose(row.worst_value, value, abs_tol=1e-12)
    else:
        assert row.worst_value == value


def test_the_holdout_gate_at_its_figure() -> None:
    _, plcc = holdout_evidence(DEFAULTS)
    for t_value, keeps in ((plcc, True), (plcc + 1e-9, False), (plcc - 1e-9, True)):
        e, _ = holdout_evidence(thresholds(holdout_min_plcc=t_value))
        assert row_of(HOLDOUT_PLCC, e).passed is keeps


def test_the_plcc_lift_evidence_and_challenger_gates_at_their_defaults() -> None:
    t = DEFAULTS
    # the mean and each seed at 0.95; the spread 0.005 (0.955 - 0.95, not 0.0050000000000000044 by float rounding)
    for plccs, mean_ok, spread_ok, seed_ok in (
            ({0: 0.95, 1: 0.95}, True, True, True), ({0: 0.949, 1: 0.949}, False, True, False),
            ({0: 0.951, 1: 0.951}, True, True, True), ({0: 0.95, 1: 0.955}, True, True, True),
            ({0: 0.95, 1: 0.956}, True, False, True), ({0: 0.95, 1: 0.954}, True, True, True)):
        g = evaluate_gate(plccs, t)
        assert (g.mean_plcc_pass, g.plcc_spread_pass, g.per_seed_pass) == (mean_ok, spread_ok, seed_ok), plccs
    assert [lift_gate(r, t.min_rmse_lift).passed for r in (1.0, 1.01, 0.99)] == [True, False, True]
    assert [evidence_gate(n, t.min_content_groups).passed for n in (5, 4, 6)] == [True, False, True]
    # the challenger must beat the incumbent by MORE than the seed spread: equal is not enough (a strict gate)
    from kit.model.results import BaselineResult

    inc = BaselineResult("incumbent", mean_plcc=0.95, mean_rmse=3.0, n_folds=5)
    assert [challenger_gate(p, inc, 0.01).passed for p in (0.96, 0.959, 0.961)] == [False, False, True]


@pytest.mark.parametrize(("ceiling", "passes"), [(18, True), (19, False), (20, False), (17, True)])
def test_the_share_gate_counts_the_pool_the_ceiling_fixes(ceiling: int, passes: bool) -> None:
    """15 of 20 within under a ceiling of m of 20 (the student's hits among the ceiling's): the share gate judges 15 of
    m beside a content of 20 of 20, so a higher ceiling asks more of the student, never less."""
    t = thresholds(max_consumer_ceiling_gap=None)
    share = row_of(CONSUMER_SHARE, consumer_evidence({"poor": (20, 15, ceiling), "good": (20, 20, 20)}, t))
    assert share.worst == "all" and share.worst_value == round((15 + 20) / (ceiling + 20), 12)
    assert share.passed is passes and share.not_judged is None


def test_the_issues_own_cases() -> None:
    """Issue 90: a content at 8 of 8 under a ceiling of 8 of 8, one at 6 of 8 under 6 of 8, one perfect: all gates
    pass, and still pass with the first content's ceiling at 7 of 8 (it leaves the pool one hit, no content); one at
    8 of 8 beside five at 6 of 8 under a ceiling of 7 of 8 fails --min-consumer-share 0.9 and passes every looser
    threshold (0.85, 0.8, 0.75), the pool the same at each (43 encodes)."""
    def rows(contents: dict[str, tuple[int, int, int]], t: GateThresholds) -> list[Any]:
        e = consumer_evidence(contents, t)
        return [row_of(g, e) for g in (CONSUMER_SHARE, CONSUMER_CONTENT_SHARE, CONSUMER_CEILING)]

    for first in (8, 7):
        assert all(r.passed for r in rows({"a": (8, 8, first), "b": (8, 6, 6), "c": (8, 8, 8)}, DEFAULTS)), first
    five = {"a": (8, 8, 8), **{f"b{i}": (8, 6, 7) for i in range(5)}}
    passing = {x: rows(five, thresholds(min_consumer_share=x))[0] for x in (0.9, 0.85, 0.8, 0.75)}
    assert [r.passed for r in passing.values()] == [False, True, True, True]
    assert {r.worst_value for r in passing.values()} == {round(38 / 43, 12)}


def test_the_consumer_gates_over_every_count() -> None:
    """One content of 8 beside a good one, over every student count k and ceiling count m (the student's hits among
    the ceiling's): the verdict is the rule read off the counts, and one more hit of the student never fails it."""
    def passes(k: int, m: int) -> bool:
        e = consumer_evidence({"c": (8, k, m), "good": (8, 8, 8)}, DEFAULTS)
        return all(row_of(g, e).passed for g in (CONSUMER_SHARE, CONSUMER_CONTENT_SHARE, CONSUMER_CEILING))

    table = {(k, m): passes(k, m) for k, m in itertools.product(range(9), range(9))}
    for (k, m), ok in table.items():
        if ok and k < 8:
            assert table[(k + 1, m)], (k, m)
        hits = min(k, m)  # on the pool
        assert ok is ((hits + 8) / (m + 8) >= 0.9 and (m == 0 or hits / m >= 0.75)
                      and round((m - k) / 8, 12) <= 0.15), (k, m)


def test_a_gate_with_nothing_to_judge_says_so() -> None:
    """No ceiling (a teacher vmaf-tune cannot feed): the ceiling's gate is not judged, and why; a ceiling that lands
    on no encode: the share gates are not judged; neither is ever a pass in the summary's words."""
    from kit.report.gatelines import gated, limit_line
    from kit.verdict.gates import Shown

    frame = encodes({"a": (8, 8, 8)}).assign(ceiling=np.nan)
    fit = consumer_fit(frame, TOL, CRF_RANGE, no_ceiling="NEG reads features of its own")
    row = row_of(CONSUMER_CEILING, assessed(DEFAULTS, consumer=fit))
    assert row.enabled and row.passed is None and row.not_judged == "no ceiling: NEG reads features of its own"
    assert gated(str(row.statement), row, "<= ").endswith(
        "(gate <= 0.15, not judged: no ceiling: NEG reads features of its own)")
    line = limit_line(Shown(CONSUMER_CEILING, row))  # the report's gate table: neither pass nor off
    assert line.ok is None and line.outcome == "not judged" and "not judged, no ceiling: NEG" in line.name
    assert row_of(CONSUMER_SHARE, assessed(DEFAULTS, consumer=fit)).worst_value == 1.0  # every encode its pool
    row = row_of(CONSUMER_SHARE, consumer_evidence({"a": (8, 8, 0)}, DEFAULTS))
    assert row.not_judged == "the ceiling lands within 1.5 on none of the 8 held-out encodes"
    empty = per_source_evidence("bias", 1.0, DEFAULTS)
    older = Evidence(empty.folds.drop(columns="bias"), empty.sources, None, DEFAULTS)
    assert row_of(ABS_BIAS, older).not_judged == "the folds table has no bias column (an older kit's)"


def boundary_table() -> list[str]:
    """The notes' table: each case's gate, flag, threshold, figure and outcome as the kit computes it."""
    lines = ["| gate | flag | threshold | figure | value | expected | kit |", "|---|---|---|---|---|---|---|"]
    for measure, flag, t_value, said, value, keeps, run in CASES:
        lines.append(f"| {measure} | {flag} | {t_value:g} | {said} | {value:.12g} | {'pass' if keeps else 'FAIL'} | "
                     f"{'pass' if run().passed else 'FAIL'} |")
    return lines


def test_a_teacher_whose_features_vmaf_tune_does_not_feed_has_its_ceiling_said_absent() -> None:
    """vmaf_v0.6.1neg reads features of its own: LOSO proves its function on them, and no ceiling is computed on what
    vmaf-tune feeds; the block and the ceiling's gate say why, naming the teacher and its features."""
    from kit.model.teacher_fn import TeacherFunction
    from kit.verdict.consumer import no_ceiling_why

    neg = TeacherFunction("vmaf_v0.6.1neg", True, 40, 0.01, 0.0, own_features="adm_enhn_gain_limit=1.0")
    why = no_ceiling_why(neg)
    assert why is not None and why.startswith("vmaf_v0.6.1neg reads features of its own (adm_enhn_gain_limit=1.0)")
    frame = encodes({"a": (8, 8, 8)}).assign(ceiling=np.nan)
    fit = consumer_fit(frame, TOL, CRF_RANGE, no_ceiling=why)
    assert fit.no_ceiling == why and fit.judged is not None and fit.judged.whole.ceiling_within is None
    row = row_of(CONSUMER_CEILING, assessed(DEFAULTS, consumer=fit))
    assert row.not_judged == f"no ceiling: {why}" and row.statement == f"not judged: no ceiling: {why}"
    assert no_ceiling_why(TeacherFunction("vmaf_v0.6.1", True, 40, 0.01, 0.0)) is None  # proven on the six


def test_every_gate_threshold_a_setting_takes_is_one_its_verdict_reads_back() -> None:
    """The class of a threshold too large to keep: each numeric gate setting's rule refuses what a verdict's figure
    rules refuse (kit.infra.limits.MAX_RECORD_FIGURE), so a verdict written with any accepted threshold is read back
    (--max-plcc-spread 1e13 was written, then refused as damaged by every reader after: bundle, summary, what is sent);
    and a lift ratio over a ridge all but exact is kept as an exact one's (null), never a figure its rule refuses."""
    import dataclasses
    import math

    from kit.infra.changes import field_rules
    from kit.infra.limits import MAX_RECORD_FIGURE
    from kit.infra.rules import POINTS, SIGNED_FIGURE
    from kit.model.results import BaselineResult
    from kit.verdict.lift import lift
    from kit.verdict.thresholds import GateThresholds

    numeric = 0
    for f in dataclasses.fields(GateThresholds):
        for rule in field_rules(f):
            takes_numbers = rule.problem(1.0) is None or rule.problem(0.5) is None or rule.problem(2) is None
            if not takes_numbers or isinstance(getattr(GateThresholds(), f.name), dict):
                continue
            numeric += 1
            for value in (MAX_RECORD_FIGURE * 10, 1e300):
                assert rule.problem(value) is not None, (f.name, value)  # a threshold no verdict could keep: refused
            if rule.problem(MAX_RECORD_FIGURE) is None:
                assert SIGNED_FIGURE.problem(MAX_RECORD_FIGURE) is None  # the largest taken, kept
    assert numeric >= 8
    clip = GateThresholds.__dataclass_fields__["max_clip_error"]
    (limits,) = field_rules(clip)
    assert limits.problem({"p1": MAX_RECORD_FIGURE * 10}) is not None and limits.problem({"p1": 4.0}) is None
    ridge = BaselineResult("ridge", {}, 0.9, 0.9, 0.9, 1e-14, 3, [], 3)
    ratio = lift(0.95, 1.0, ridge).rmse_ratio
    assert math.isinf(ratio) and POINTS.problem(float("nan")) is None  # written as null, read back as not worked out
