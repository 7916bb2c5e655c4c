"""One record, one function for every residual figure (issue 55, item 2): each figure restated the plain way (numpy,
scipy) and compared; the one rule for correlations (fewer than 3 pairs or a constant teacher: none; constant
predictions: 0), and the consumers of the figures (LOSO's groups and the gate, the breakdown, the pooling, the
consumer's groups) following it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from kit.model.metrics import MIN_PAIRS, correlated, residuals


def plain(p: np.ndarray, y: np.ndarray, tolerance: float) -> dict[str, float]:
    """Every figure, written out here."""
    d = p - y
    return {"n": len(y), "rmse": math.sqrt(sum(x * x for x in d) / len(d)), "bias": sum(d) / len(d),
            "mean_abs_error": sum(abs(x) for x in d) / len(d), "median_abs_error": float(np.median(np.abs(d))),
            "max_abs_error": max(abs(x) for x in d), "share_within": sum(abs(x) <= tolerance for x in d) / len(d),
            "share_out_of_range": sum((v < 0) or (v > 100) for v in p) / len(p),
            "plcc": float(np.corrcoef(p, y)[0, 1]), "srocc": stats.spearmanr(p, y).statistic,
            "krocc": stats.kendalltau(p, y).statistic}


@pytest.mark.parametrize("n", [3, 4, 50])
def test_every_figure_is_the_plain_one(n: int) -> None:
    rng = np.random.default_rng(n)
    y = np.round(rng.uniform(40, 100, n))  # rounded: ties, as at the teacher's ceiling
    p = y + rng.normal(2, 6, n)
    p[0] = 103.0  # one above the teacher's range
    got = residuals(p, y, ranks=True, tolerance=4.0)
    for name, value in plain(p, y, 4.0).items():
        assert getattr(got, name) == pytest.approx(value, rel=1e-12, abs=1e-12), name
    assert correlated(got.n, got.teacher_constant) and not got.teacher_constant
    assert got.worst == int(np.argmax(np.abs(p - y)))  # where the largest miss is
    lean = residuals(p, y)  # ranks and the share within only when asked
    assert lean.srocc is None and lean.krocc is None and lean.share_within is None and lean.plcc == got.plcc


def test_constant_predictions_have_correlation_zero_and_fail_the_gate() -> None:
    from kit.model.loso import figures, seed_report
    from kit.model.results import GroupResult
    from kit.verdict.thresholds import GateThresholds, evaluate_gate

    y = np.array([70.0, 80.0, 90.0, 95.0])
    p = np.full(4, 85.0)
    got = residuals(p, y, ranks=True)
    assert (got.plcc, got.srocc, got.krocc) == (0.0, 0.0, 0.0)
    assert np.sum((p - p.mean()) * (y - y.mean())) == 0.0 and np.std(p) == 0.0  # plainly 0 / 0: the rule says 0
    assert got.rmse == pytest.approx(math.sqrt(np.mean((p - y) ** 2))) and got.bias == pytest.approx(np.mean(p - y))
    # a constant predictor on every content group: its mean PLCC is 0.0, a number, and no correlation gate passes
    groups = [GroupResult(f"c{i}", f"s{i}", 1, i, 4, **figures(y, p)) for i in range(5)]
    report = seed_report(0, [], groups)
    assert report.mean_plcc == 0.0 and report.folds_without_correlation is None
    for threshold in (0.95, 0.5, 1e-9):
        gate = evaluate_gate({0: report.mean_plcc, 1: report.mean_plcc}, GateThresholds(threshold, 1.0, threshold))
        assert not gate.passed
    diverged = residuals(np.array([85.0, math.nan, 85.0, 85.0]), y, ranks=True)
    assert math.isnan(diverged.plcc) and math.isnan(diverged.srocc or 0.0) and math.isnan(diverged.rmse)


@pytest.mark.parametrize("n", [0, 1, 2])
def test_fewer_than_three_pairs_have_no_correlation(n: int) -> None:
    y, p = np.array([60.0, 90.0][:n]), np.array([61.0, 88.0][:n])
    got = residuals(p, y, ranks=True, tolerance=1.5)
    assert n < MIN_PAIRS and not correlated(got.n, got.teacher_constant)
    assert all(math.isnan(v) for v in (got.plcc, got.srocc or 0.0, got.krocc or 0.0))
    if n == 2:  # plainly |r| = 1 whatever the model: two points lie on a line
        assert abs(np.corrcoef(p, y)[0, 1]) == pytest.approx(1.0)
    if n:
        assert got.rmse == pytest.approx(math.sqrt(np.mean((p - y) ** 2)))
        assert got.max_abs_error == pytest.approx(np.max(np.abs(p - y)))
    else:
        assert got.n == 0 and math.isnan(got.rmse) and got.share_within is not None and math.isnan(got.share_within)


def test_a_constant_teacher_has_no_correlation_and_is_left_out_of_the_means() -> None:
    from kit.model.loso import figures, seed_report
    from kit.model.results import GroupResult

    flat = residuals(np.array([99.0, 100.0, 98.0]), np.full(3, 100.0), ranks=True)
    assert flat.teacher_constant and not correlated(flat.n, True) and math.isnan(flat.plcc)
    rng = np.random.default_rng(0)
    y = rng.uniform(50, 90, 20)
    p = y + rng.normal(0, 1, 20)
    good = figures(y, p)
    assert good["plcc"] == pytest.approx(np.corrcoef(p, y)[0, 1])
    groups = [GroupResult("a", "a", 1, 0, 20, **good),
              GroupResult("b", "b", 1, 1, 3, **figures(np.full(3, 100.0), np.array([99.0, 100.0, 98.0]))),
              GroupResult("c", "c", 1, 2, 2, **figures(np.array([60.0, 90.0]), np.array([61.0, 88.0])))]
    report = seed_report(0, [], groups)
    assert report.mean_plcc == pytest.approx(good["plcc"])  # the one group with a correlation
    assert report.folds_without_correlation == ["b", "c"]  # named, each by the one rule
    assert report.mean_rmse == pytest.approx(np.mean([g.rmse for g in groups]))  # every group's RMSE counts


def test_every_table_follows_the_one_rule() -> None:
    """The breakdown (and --holdout), each pooling's per-clip error and the consumer's groups: the figures of
    residuals() on the same rows, a constant prediction's PLCC 0 and two rows' NaN."""
    from kit.verdict.breakdown import errors_of
    from kit.verdict.consumer import figures as consumer_figures
    from kit.verdict.pooling import pool_error

    y = np.array([70.0, 80.0, 90.0, 95.0])
    rows = pd.DataFrame({"vmaf": y, "pred": np.full(4, 85.0), "src_sha256": "a" * 64})
    group = errors_of("encoder", "libx264", rows)
    want = residuals(rows["pred"], rows["vmaf"])
    assert group.plcc == 0.0 and (group.rmse, group.bias, group.max_abs_error, group.share_out_of_range) == \
        (want.rmse, want.bias, want.max_abs_error, want.share_out_of_range)
    assert math.isnan(errors_of("encoder", "libx264", rows.head(2).assign(pred=[71.0, 79.0])).plcc)
    clips = pd.DataFrame({"pred_mean": [71.0, 78.0, 93.0], "vmaf_mean": [70.0, 80.0, 90.0], "src": "a",
                          "encoder": "libx264", "cq": [10, 24, 38], "width": 640, "height": 360, "enc_width": 640,
                          "enc_height": 360})
    e = pool_error(clips, "mean")
    d = clips["pred_mean"] - clips["vmaf_mean"]
    assert (e.n_clips, e.rmse, e.mean_abs_error, e.max_abs_error, e.bias) == pytest.approx(
        (3, math.sqrt((d ** 2).mean()), d.abs().mean(), d.abs().max(), d.mean()))
    assert e.worst_clip == "a libx264 cq 38"
    encodes = pd.DataFrame({"predicted": [51.0, 52.0, 49.8], "teacher": 50.0, "src": "a", "encoder": "libx264",
                            "cq": [10, 24, 38], "enc_width": 640, "enc_height": 360, "rung": "native"})
    encodes["miss"] = (encodes["predicted"] - encodes["teacher"]).abs()
    got = consumer_figures(encodes, 1.5)
    assert got["n_encodes"] == 3 and got["share_within"] == pytest.approx(2 / 3)
    assert got["median_miss"] == pytest.approx(1.0) and got["max_miss"] == pytest.approx(2.0)
    assert got["worst_encode"] == "a libx264 cq 24"
