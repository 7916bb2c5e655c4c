"""Gate arithmetic and the agreement metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from kit.infra.records import dump
from kit.model.metrics import residuals, summarise
from kit.verdict.decide import Gates, recommendation
from kit.verdict.document import Completeness
from kit.verdict.lift import challenger_gate, lift_gate
from kit.verdict.thresholds import GateResult, GateThresholds, evaluate_gate, evidence_gate


def only_gate(gate: GateResult, complete: Completeness | None = None) -> Gates:
    """The PLCC gate (and completeness) alone: every other gate off, so it passes."""
    return Gates(gate, lift_gate(1.0, None), challenger_gate(gate.mean_plcc, None, 0.0), evidence_gate(0, None), (),
                 complete)


def test_gate_passes_only_when_all_three_criteria_hold() -> None:
    t = GateThresholds()
    ok = evaluate_gate({0: 0.991, 1: 0.993, 2: 0.992}, t)
    assert ok.passed and ok.failing_seeds == [] and ok.mean_plcc == pytest.approx(0.992)
    spread = evaluate_gate({0: 0.96, 1: 0.99}, t)
    assert not spread.passed and spread.mean_plcc_pass and not spread.plcc_spread_pass
    low = evaluate_gate({0: 0.949, 1: 0.951}, t)
    assert not low.passed and low.failing_seeds == [0] and low.plcc_spread_pass
    assert "HOLD" in recommendation(only_gate(low)) and "[0]" in recommendation(only_gate(low))


def test_a_nan_seed_fails_the_gate() -> None:
    g = evaluate_gate({0: 0.99, 1: float("nan")}, GateThresholds())
    assert not g.passed and g.failing_seeds == [1] and math.isnan(g.mean_plcc)


def test_thresholds_are_honoured() -> None:
    g = evaluate_gate({0: 0.90, 1: 0.91}, GateThresholds(0.85, 0.02, 0.88))
    assert g.passed and g.mean_plcc_threshold == 0.85 and g.plcc_spread_max == 0.02


def test_rank_metrics_average_ties() -> None:
    y = np.array([100, 100, 100, 90, 80, 70.0])
    p = np.array([99, 98, 97, 91, 79, 72.0])
    m = residuals(p, y, ranks=True)
    assert m.srocc == pytest.approx(stats.spearmanr(y, p).statistic)
    # with averaged ranks the three tied 100s share rank 5: not a perfect rank agreement
    assert m.srocc is not None and m.krocc is not None and m.srocc < 1.0 and m.krocc < 1.0
    assert m.rmse == pytest.approx(np.sqrt(np.mean((y - p) ** 2)))


def test_constant_predictions_give_no_correlation_not_a_crash() -> None:
    m = residuals(np.array([5.0, 5.0, 5.0]), np.array([1.0, 2.0, 3.0]))
    assert m.plcc == 0.0 and m.rmse > 0  # kit.model.metrics' rule: a constant predictor shows no agreement
    assert math.isnan(summarise([0.9, float("nan")])["mean"])
    assert dump({"a": [float("nan"), 1.0]}) == {"a": [None, 1.0]}


@pytest.mark.parametrize(("ratio", "words"), [
    (0.5, "The ensemble cuts RMSE to 0.50x a ridge regression's (1.00 vs 2.00, each a mean over content groups) "
          "and changes PLCC by +0.0100."),
    (0.9, "The ensemble adds little over a ridge regression: its RMSE is 0.90x the ridge's (1.80 vs 2.00, each a "
          "mean over content groups)."),
    (9.45, "The ensemble is worse than a ridge regression: its RMSE is 9.45x the ridge's (18.90 vs 2.00, each a "
           "mean over content groups)."),
])
def test_the_lift_sentence_matches_the_number(ratio: float, words: str) -> None:
    from kit.model.results import BaselineResult
    from kit.verdict.lift import lift

    got = lift(0.96, 2.0 * ratio, BaselineResult("ridge", mean_plcc=0.95, mean_rmse=2.0))
    assert got.statement == words and got.rmse_ratio == pytest.approx(ratio)
    assert got.small_lift == (ratio >= 0.8)


def test_bias_and_range_beside_the_correlations() -> None:
    y = np.array([90.0, 95.0, 100.0, 100.0])
    e = residuals(y + np.array([8.0, 9.0, 10.0, 11.0]), y)  # a +9.5 offset: PLCC would be perfect
    assert e.bias == pytest.approx(9.5) and e.max_abs_error == pytest.approx(11.0)
    assert e.share_out_of_range == pytest.approx(0.75)  # 104, 110 and 111 are above the teacher's 100


def test_a_fold_gate_names_the_source_nearest_its_limit() -> None:
    from kit.verdict.thresholds import fold_gate

    off = fold_gate("abs_bias", {"a": 1.0, "b": 10.5, "c": float("nan")}, 5.0)
    assert not off.passed and off.worst_src == "b" and off.failing_sources == ["b", "c"]  # NaN: diverged, fails
    assert fold_gate("abs_bias", {"a": 1.0}, None).to_json()["enabled"] is False


def test_worst_folds_are_named_by_whichever_measure_is_furthest_off() -> None:
    import pandas as pd

    from kit.verdict.decide import worst_folds

    rows = [  # (src, plcc, rmse, bias): "offset" correlates perfectly but sits 9 points high
        ("typical1", 0.995, 1.0, 0.2), ("typical2", 0.994, 1.1, -0.3), ("typical3", 0.996, 0.9, 0.1),
        ("offset", 0.998, 9.2, 9.0), ("scattered", 0.90, 3.0, 0.4)]
    folds = pd.DataFrame([{"seed": s, "fold": i, "src": src, "src_sha256": f"{i:064x}", "n_frames": 10,
                           "share_vmaf_100": 0.0, "plcc": p, "srocc": p, "krocc": p, "rmse": r, "bias": b,
                           "max_abs_error": 2 * r} for s in (0, 1) for i, (src, p, r, b) in enumerate(rows)])
    worst = worst_folds(folds, n=3)
    assert [w.src for w in worst][:2] == ["offset", "scattered"]
    assert worst[0].reason == "bias +9.0" and worst[1].reason == "PLCC 0.900"  # what sets each apart
    assert worst[0].bias == pytest.approx(9.0) and worst[0].max_abs_error == pytest.approx(18.4)


def test_sources_that_print_alike_rank_by_name_whatever_their_last_bits() -> None:
    """The demo's near tie (three sources at PLCC 1.000, bias +0.0): one CPU's training moved the last bits and
    the third worst fold changed name. Figures as the summary prints them tie, and the name decides."""
    import pandas as pd

    from kit.verdict.decide import worst_folds

    def folds(nudge: float) -> pd.DataFrame:
        rows = [("life", 0.99991, 0.3, 0.21), ("gradients", 0.99996 + nudge, 0.1, 0.01),
                ("deepzoom", 0.99997, 0.1, 0.04 - 5 * nudge), ("bars", 0.99996, 0.1, 0.02 + nudge)]
        return pd.DataFrame([{"seed": 0, "fold": i, "src": src, "src_sha256": f"{i:064x}", "n_frames": 10,
                              "share_vmaf_100": 0.0, "plcc": p, "srocc": p, "krocc": p, "rmse": r, "bias": b,
                              "max_abs_error": 2 * r} for i, (src, p, r, b) in enumerate(rows)])

    for nudge in (0.0, 1e-9, -1e-9, 3e-6):
        assert [w.src for w in worst_folds(folds(nudge), n=4)] == ["life", "bars", "deepzoom", "gradients"], nudge
    assert worst_folds(folds(0.0), n=1)[0].reason == "RMSE 0.3, bias +0.2"  # 3 and 2 units of their medians
    # most biases print 0.0: a bias of 0.1 is one unit of it, and cannot hide a source 15 times the median RMSE off
    nine = [("broken", 0.990, 1.5, 0.0), *((f"a{i}", 0.9996, 0.1, 0.0) for i in range(5)),
            *((f"b{i}", 0.9996, 0.1, b) for i, b in enumerate((0.1, -0.1, 0.06)))]
    frame = pd.DataFrame([{"seed": 0, "fold": i, "src": src, "src_sha256": f"{i:064x}", "n_frames": 10,
                           "share_vmaf_100": 0.0, "plcc": p, "srocc": p, "krocc": p, "rmse": r, "bias": b,
                           "max_abs_error": 2 * r} for i, (src, p, r, b) in enumerate(nine)])
    (first,) = worst_folds(frame, n=1)
    assert (first.src, first.reason) == ("broken", "PLCC 0.990, RMSE 1.5")


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_no_figure_moved_within_its_printed_unit_changes_the_worst_folds(data: st.DataObject) -> None:
    """The class of the demo's near tie: any source's any figure moved by less than half its printed unit (the bits
    another CPU trains) ranks the worst folds and names their reasons alike. Drawn on the printed grid, many tied."""
    import pandas as pd

    from kit.verdict.decide import SHOWN_DIGITS, worst_folds

    n = data.draw(st.integers(3, 12))
    grid = {"plcc": [1 - k / 1000 for k in data.draw(st.lists(st.integers(0, 30), min_size=n, max_size=n))],
            "rmse": [k / 10 for k in data.draw(st.lists(st.integers(0, 40), min_size=n, max_size=n))],
            "bias": [k / 10 for k in data.draw(st.lists(st.integers(-30, 30), min_size=n, max_size=n))]}

    def moved() -> pd.DataFrame:  # each figure within 0.45 of a unit of its grid point (PLCC at most 1)
        figures = {c: [min(v + data.draw(st.floats(-0.45, 0.45)) * 10.0 ** -SHOWN_DIGITS[c], 1.0 if c == "plcc"
                           else math.inf) for v in values] for c, values in grid.items()}
        return pd.DataFrame([{"seed": 0, "fold": i, "src": f"s{i:02d}", "src_sha256": f"{i:064x}", "n_frames": 10,
                              "share_vmaf_100": 0.0, "plcc": figures["plcc"][i], "srocc": 0.9, "krocc": 0.9,
                              "rmse": figures["rmse"][i], "bias": figures["bias"][i], "max_abs_error": 1.0}
                             for i in range(n)])

    first, second = ([(w.src, w.reason) for w in worst_folds(moved(), n=n)] for _ in range(2))
    assert first == second


def test_two_contents_of_one_name_are_judged_apart() -> None:
    import pandas as pd

    from kit.corpus.names import named_frame
    from kit.verdict.decide import per_source
    from kit.verdict.thresholds import fold_gate

    folds = pd.DataFrame([{"seed": 0, "fold": i, "src": "a", "src_sha256": f"{i}" * 64, "n_frames": 5,
                           "share_vmaf_100": 0.0, "plcc": 0.99, "srocc": 0.99, "krocc": 0.9, "rmse": 1.0,
                           "bias": b, "max_abs_error": 2.0} for i, b in enumerate((20.0, 0.0))])
    sources = per_source(named_frame(folds))
    gate = fold_gate("abs_bias", dict(zip(sources["src"], sources["bias"].abs(), strict=True)), 10.0)
    assert not gate.passed and gate.failing_sources == ["a~000000"]
