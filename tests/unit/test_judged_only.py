"""A verdict judges only what can fail (issue 97, item 3): a gate that judged nothing has `passed` null and says why in
every file and line; where the held-out student is the teacher's function, the per-frame gates (PLCC, seed spread, the
lift over ridge, the challenger, bias, RMSE, coverage, range, clip error, a held-out block) judge nothing, and the
verdict is the consumer gates' alone; a verdict whose consumer gates all judged nothing says so in its first line; a
verdict of 2.4 (`passed: true` beside `not_judged`) still reads, and is said `not judged`."""

from __future__ import annotations

import html
import json
from dataclasses import replace
from pathlib import Path

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
    assert len(consumer) == 3 and all(row.passed is None and row.not_judged for row in consumer), consumer
    assert g.passed and g.consumer_unjudged == "the ceiling lands within 1.5 on none of the 15 held-out encodes"
    assert recommendation(g).startswith(f"PROMOTE: the consumer gates judged nothing ({g.consumer_unjudged})")


def test_a_box_whose_ceiling_lands_within_on_none_is_said_not_judged_in_every_file_and_line(tmp_path: Path) -> None:
    """Issue 97's box: the ceiling within 1.5 on none of 12 held-out encodes, the student on 4 (8 more than 1.5 off).
    2.4 filed the share gates `passed: true` and the ceiling's gap (at most 0 where the ceiling keeps none, so it
    cannot fail) a pass: a PROMOTE whose first line said nothing. Each consumer row is now null in PROMOTE.json, the
    summary's first line, the closing summary's and the report's heading say the consumer gates judged nothing, every
    row says `not judged`, and `verify` takes the tarball (a null pass with its reason claims nothing)."""
    from click.testing import CliRunner

    from kit.cli.main import cli
    from kit.model.consumer import CRF_RANGE
    from kit.report.html import render_report
    from kit.report.summary import closing_rows, summary_rows
    from kit.verdict.consumer import consumer_fit
    from tests.conftest import ROOT
    from tests.unit.test_ceiling_gate import IN, OUT, encodes, gates
    from tests.unit.test_claims_checked import PASSING, _with_verdict

    frame = encodes({("a", 20): [(IN, OUT), (IN, OUT), (OUT, OUT), (OUT, OUT)],
                     ("b", 30): [(IN, OUT), (OUT, OUT), (OUT, OUT), (OUT, OUT)],
                     ("c", 45): [(IN, OUT), (OUT, OUT), (OUT, OUT), (OUT, OUT)]})
    fit = consumer_fit(frame, 1.5, CRF_RANGE)
    assert fit.judged is not None and (fit.judged.whole.within, fit.judged.whole.ceiling_within) == (4, 0)
    rows = gates(fit, 0.9, 0.75, 0.15)
    why = "the ceiling lands within 1.5 on none of the 12 held-out encodes"
    for row in rows:
        assert row.passed is None and str(row.not_judged).startswith(why), row
    golden = Verdict.from_json(json.loads((ROOT / "tests" / "data" / "verdict_promote.json").read_text()))
    v = replace(golden, consumer=fit, consumer_gates=rows)
    doc = json.loads(json.dumps(v.to_json()))
    assert [(r["measure"], r["passed"], r["not_judged"][:len(why)]) for r in doc["consumer_gates"]] \
        == [(row.measure, None, why) for row in rows]
    back = Verdict.from_json(doc)
    assert back.headline.startswith(f"PROMOTE (the consumer gates judged nothing: {why}")
    assert summary_rows(tmp_path, back)[0] == ("verdict", back.headline)
    closing = closing_rows(tmp_path, back)
    assert closing[0] == ("verdict", back.headline), closing
    unjudged = dict(closing).get("not judged", "")
    consumer = [gate for gate in GATES if gate.block is CONSUMER_GATES]
    assert len(consumer) == 3 and all(f"{gate.short}: {why}" in unjudged for gate in consumer), unjudged
    page = render_report(back)
    assert f"PROMOTE</span> (the consumer gates judged nothing: {why}" in page
    table = page[page.index("<h2"):]  # the gate table: each consumer gate `not judged`, none `pass`
    for gate in consumer:
        row = table[table.index(f"<td>{html.escape(gate.label)}"):]
        row = row[:row.index("</tr>")]
        assert row.endswith("<td class='off'>not judged</td>") and "pass" not in row, row
        assert f"({gate.flag}, gate {getattr(DEFAULTS, gate.threshold):g}: not judged)" in page, gate.flag
    res = CliRunner().invoke(cli, ["verify", str(_with_verdict(tmp_path, {**PASSING, "consumer_gates":
                                                                          doc["consumer_gates"]}))])
    assert res.exit_code == 0 and "verdict PROMOTE" in res.output, res.output


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


def test_the_consumer_gates_say_which_student_they_judge_where_a_fold_keeps_other_factors() -> None:
    """Issue 97's box: the export keeps no correction (the student is the teacher's function) while one fold kept its
    whole correction (fold_scales [0, 1, 0, 0, 0]) and a content is under its ceiling there (the student 3 of 8, the
    ceiling 5 of 8). The held-out gates judge each fold's student at its own factors (an honest held-out figure: each
    fold's factors chosen on the other folds' encodes), which is not the export: each consumer row, and so the HOLD,
    says so. Where every fold keeps the export's factors, nothing is added."""
    from types import SimpleNamespace

    from kit.model.results import Correction
    from kit.verdict.decide import hold_reasons, whose

    def of(correction: Correction) -> str | None:
        return whose([SimpleNamespace(correction=correction)])  # type: ignore[list-item]

    said = of(Correction(0.0, [0.0, 1.0, 0.0, 0.0, 0.0], 40, 38, 37))
    assert said == "judging each fold's student at its own factors (corrections 0, 1, 0, 0, 0), not the export"
    assert of(Correction(0.0, [0.0] * 5, 40, 38, 38)) is None and of(Correction(0.5, [0.5] * 5, 40, 38, 39)) is None
    under = ((True, True),) * 3 + ((False, True),) * 2 + ((False, False),) * 3  # the student 3 of 8, the ceiling 5
    box = (*(((True, True),) * 8,) * 4, under)
    plain = inputs({"groups": 5}, hits_of(box))
    for student in (None, said):
        g, _ = judge(replace(plain, whose=student), DEFAULTS)
        assert not g.passed
        consumer = [(gate, row) for gate, row in g.rows if gate.block is CONSUMER_GATES]
        failing = [gate.failure(row) for gate, row in consumer if row.passed is False]
        assert len(failing) == 2 and all(reason in hold_reasons(g) for reason in failing), failing
        assert "the student 3 of 8, the ceiling 5 of 8" in failing[-1]
        for _, row in consumer:
            assert str(row.statement).startswith(f"{said}: ") == (student is not None), row.statement
        assert all(reason.startswith(f"{said}: ") == (student is not None) for reason in failing)


def test_the_words_of_which_student_is_judged_are_catalogued() -> None:
    """Each consumer gate row's statement and HOLD reason, with and without which student it judges (issue 97), is a
    text the catalogue admits (kit.bundle.messages): the tarball sends it."""
    from kit.bundle.messages import GATE_REASON, LIMIT_STATEMENT_OR_NOT
    from kit.infra.kinds import Names
    from kit.verdict.decide import hold_reasons

    names = Names(sources=frozenset(f"c{k}" for k in range(5)))
    said = "judging each fold's student at its own factors (spreads 1, 0.75; corrections 0, 1), not the export"
    under = ((True, True),) * 3 + ((False, True),) * 2 + ((False, False),) * 3
    plain = inputs({"groups": 5}, hits_of((*(((True, True),) * 8,) * 4, under)))
    for student in (None, said):
        g, _ = judge(replace(plain, whose=student), DEFAULTS)
        rows = [row for gate, row in g.rows if gate.block is CONSUMER_GATES]
        assert rows and all(LIMIT_STATEMENT_OR_NOT.admits(str(row.statement), names) for row in rows), rows
        assert all(GATE_REASON.admits(reason, names) for reason in hold_reasons(g)), hold_reasons(g)
