"""A verdict judges only what can fail (issue 97, item 3): a gate that judged nothing has `passed` null and says why in
every file and line; where the held-out student is the teacher's function, the per-frame gates (PLCC, seed spread, the
lift over ridge, the challenger, bias, RMSE, coverage, range, clip error, a held-out block) judge nothing, and the
verdict is the consumer gates' alone; a verdict whose consumer gates all judged nothing says so in its first line; a
verdict of 2.4 (`passed: true` beside `not_judged`) still reads, and is said `not judged`."""

from __future__ import annotations

import json
from dataclasses import replace

from kit.verdict.decide import PER_FRAME, TAUTOLOGY, judge, recommendation
from kit.verdict.document import LimitGate, Verdict
from kit.verdict.gates import CONSUMER_GATES, GATES
from kit.verdict.thresholds import FoldGate, fold_gate
from tests.unit.test_monotone_verdict import DEFAULTS, PASSING, boxes, hits_of, inputs

FAILING = {"plccs": (0.5, 0.9), "ratio": 3.0, "bias": 40.0, "rmse": 30.0, "coverage": 0.1, "out_of_range": 0.9,
           "holdout": 0.2, "clip": 50.0}  # every per-frame figure far past its default threshold


def test_a_gate_that_judged_nothing_is_never_passed_in_its_file() -> None:
    limit = LimitGate.of("consumer_share", 0.9, None, float("nan"), [], "not judged: x", "none of the 12")
    fold = fold_gate("abs_bias", {}, 2.0, "no held-out source")
    for row in (limit, fold):
        doc = json.loads(json.dumps(row.to_json()))
        assert doc["passed"] is None and doc["not_judged"], doc
        assert type(row).from_json(doc).to_json() == row.to_json()
    off = LimitGate.of("consumer_share", None, None, float("nan"), [], "off", "why")  # off: no gate, not unjudged
    assert off.passed is True and off.not_judged is None and not off.enabled


def test_the_per_frame_gates_judge_nothing_where_the_student_is_the_teachers_function() -> None:
    """Every per-frame figure failing, the consumer's passing: HOLD as a model; PROMOTE where the held-out student is
    the teacher's function (those figures are libvmaf's own score), each such row said `not judged` and why."""
    box = (((True, True),) * 3,) * 5
    failing = inputs({**FAILING, "groups": 5}, hits_of(box))
    assert not judge(failing, DEFAULTS)[0].passed
    g, _ = judge(replace(failing, tautology=TAUTOLOGY), DEFAULTS)
    assert g.passed
    assert g.gate.passed is None and g.gate.not_judged == TAUTOLOGY and g.gate.mean_plcc_pass is None
    assert g.lift.passed is None and g.lift.not_judged == TAUTOLOGY
    judged_rows = {gate: row for gate, row in g.rows}
    for gate in PER_FRAME:
        row = judged_rows.get(gate)
        if row is not None and row.enabled:
            assert row.passed is None and row.not_judged == TAUTOLOGY, gate.measure
    for gate, row in g.rows:
        if gate.block is CONSUMER_GATES:
            assert row.passed is True and row.not_judged is None
    # and the consumer gates still decide: a student under its ceiling holds
    under = inputs({**FAILING, "groups": 5}, hits_of((((False, True),) * 3,) * 5))
    assert not judge(replace(under, tautology=TAUTOLOGY), DEFAULTS)[0].passed


def test_the_verdict_under_the_tautology_is_the_consumer_gates_alone_for_every_small_box() -> None:
    """Every box of at most 3 encodes: the verdict with every per-frame figure failing and the student the teacher's
    function is the verdict with every per-frame figure passing, so it stays monotone in the consumer's hits."""
    for box in boxes(3):
        groups = {"groups": max(5, len(box))}
        bad = replace(inputs({**FAILING, **groups}, hits_of(box)), tautology=TAUTOLOGY)
        good = inputs({**PASSING, **groups}, hits_of(box))
        assert judge(bad, DEFAULTS)[0].passed == judge(good, DEFAULTS)[0].passed, box


def test_a_verdict_whose_consumer_gates_judged_nothing_says_so_first() -> None:
    box = (((True, False),) * 3,) * 5  # the ceiling lands within on none: no pool, nothing to judge
    g, _ = judge(inputs({"groups": 5}, hits_of(box)), DEFAULTS)
    consumer = [row for gate, row in g.rows if gate.block is CONSUMER_GATES and row.enabled]
    assert consumer and all(row.passed is None for row in consumer[:2])
    if g.consumer_unjudged is not None:
        said = recommendation(g)
        assert said.startswith(f"PROMOTE: the consumer gates judged nothing ({g.consumer_unjudged})")


def test_a_verdict_of_2_4_still_reads_and_its_unjudged_rows_are_not_passes() -> None:
    """2.4 wrote `passed: true` beside `not_judged`: it reads, and every reader says `not judged`."""
    from kit.report.gatelines import ok_of

    row = {"enabled": True, "measure": "consumer_share", "threshold": 0.9, "worst": None, "worst_value": None,
           "failing": [], "passed": True, "statement": "x", "not_judged": "none of the 12"}
    old = LimitGate.from_json(row)
    assert old.passed is True and not old.judged and ok_of(old) is None
    fold = FoldGate.from_json({"enabled": True, "measure": "abs_bias", "threshold": 2.0, "worst_src": None,
                               "worst_value": None, "failing_sources": [], "passed": True, "not_judged": "none"})
    assert not fold.judged and ok_of(fold) is None


def test_every_gate_row_class_carries_not_judged() -> None:
    from dataclasses import fields

    from kit.verdict.lift import ChallengerGate, LiftGate
    from kit.verdict.thresholds import GateResult

    for cls in {LimitGate, FoldGate, LiftGate, ChallengerGate, GateResult}:
        names = {f.name for f in fields(cls)}
        assert {"passed", "not_judged"} <= names, cls
    assert all(any(gate.block.key == f.name for f in fields(Verdict)) for gate in GATES)


def test_the_seed_spread_judges_nothing_where_every_seed_is_one_student() -> None:
    """No fold keeps a correction: each seed's member is the same function (its clip's spread kept or not), so the
    seed spread and the per-seed floor are 0 and equal by construction: not judged; the mean PLCC still is."""
    from kit.verdict.decide import SEEDS_ALIKE

    box = (((True, True),) * 3,) * 5
    spread = inputs({"plccs": (0.99, 0.96), "groups": 5}, hits_of(box))  # a spread of 0.03, past 0.005
    assert not judge(spread, DEFAULTS)[0].passed
    g, _ = judge(replace(spread, seeds_alike=SEEDS_ALIKE), DEFAULTS)
    assert g.passed and g.gate.passed is True and g.gate.seeds_not_judged == SEEDS_ALIKE
    assert g.gate.plcc_spread_pass is None and g.gate.per_seed_pass is None and g.gate.mean_plcc_pass is True
    low = inputs({"plccs": (0.90, 0.90), "groups": 5}, hits_of(box))  # the mean below 0.95 still holds
    assert not judge(replace(low, seeds_alike=SEEDS_ALIKE), DEFAULTS)[0].passed
