"""Gate arithmetic and the agreement metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from kit.infra.records import dump
from kit.model.metrics import agreement, summarise
from kit.verdict.decide import recommendation
from kit.verdict.gate import GateThresholds, evaluate_gate


def test_gate_passes_only_when_all_three_criteria_hold() -> None:
    t = GateThresholds()
    ok = evaluate_gate({0: 0.991, 1: 0.993, 2: 0.992}, t)
    assert ok.passed and ok.failing_seeds == [] and ok.mean_plcc == pytest.approx(0.992)
    spread = evaluate_gate({0: 0.96, 1: 0.99}, t)
    assert not spread.passed and spread.mean_plcc_pass and not spread.plcc_spread_pass
    low = evaluate_gate({0: 0.949, 1: 0.951}, t)
    assert not low.passed and low.failing_seeds == [0] and low.plcc_spread_pass
    assert "HOLD" in recommendation(low) and "[0]" in recommendation(low)


def test_a_nan_seed_fails_the_gate() -> None:
    g = evaluate_gate({0: 0.99, 1: float("nan")}, GateThresholds())
    assert not g.passed and g.failing_seeds == [1] and math.isnan(g.mean_plcc)


def test_thresholds_are_honoured() -> None:
    g = evaluate_gate({0: 0.90, 1: 0.91}, GateThresholds(0.85, 0.02, 0.88))
    assert g.passed and g.mean_plcc_threshold == 0.85 and g.plcc_spread_max == 0.02


def test_rank_metrics_average_ties() -> None:
    y = np.array([100, 100, 100, 90, 80, 70.0])
    p = np.array([99, 98, 97, 91, 79, 72.0])
    m = agreement(y, p)
    assert m["srocc"] == pytest.approx(stats.spearmanr(y, p).statistic)
    # with averaged ranks the three tied 100s share rank 5: not a perfect rank agreement
    assert m["srocc"] < 1.0 and m["krocc"] < 1.0
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean((y - p) ** 2)))


def test_constant_predictions_give_nan_not_a_crash() -> None:
    m = agreement(np.array([1.0, 2.0, 3.0]), np.array([5.0, 5.0, 5.0]))
    assert math.isnan(m["plcc"]) and m["rmse"] > 0
    assert math.isnan(summarise([0.9, float("nan")])["mean"])
    assert dump({"a": [float("nan"), 1.0]}) == {"a": [None, 1.0]}
