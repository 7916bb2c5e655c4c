"""kit.model.correlation against scipy.stats, bit for bit, over the class of inputs LOSO's held-out sets are drawn from:
every size from 3 pairs up (both sides of the discordant pairs' two ways of counting, SQUARE_UP_TO), no ties, ties on
either side or both (the teacher's ceiling, rounded scores, two values), a constant side, a NaN on either side, a
negative and a perfect correlation, values near overflow and sets that differ in the last bits; the pinned scipy's
figure is the one the kit wrote before it computed its own (requirements-frozen.txt)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats

from kit.model import correlation
from kit.model.correlation import SQUARE_UP_TO, kendall_tau_b, pearson, spearman

CI_SIZES = (3, 9, 300, SQUARE_UP_TO + 1)  # the fast tier's cut of the sizes; the suite runs them all
SIZES = (3, 4, 5, 7, 8, 9, 16, 17, 33, 128, 129, 300, SQUARE_UP_TO, SQUARE_UP_TO + 1, 4_099, 20_000, 100_000)
SHAPES = ("plain", "rounded", "ceiling", "two_values", "negative", "perfect", "near_constant", "huge", "tiny",
          "pred_ties", "nan_teacher", "nan_pred", "constant_pred", "constant_teacher")


def drawn(shape: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(teacher, prediction) of one shape."""
    y = rng.uniform(20, 100, n)
    p = y + rng.normal(0, 4, n)
    if shape == "rounded":
        y, p = np.round(y), np.round(p, 1)
    elif shape == "ceiling":  # a third at the teacher's 100
        y[rng.random(n) < 0.33] = 100.0
    elif shape == "two_values":
        y = np.where(rng.random(n) < 0.5, 60.0, 80.0)
        y[:2] = (60.0, 80.0)
    elif shape == "negative":
        p = -p
    elif shape == "perfect":
        p = 2 * y + 1
    elif shape == "near_constant":
        y = 50 + rng.normal(0, 1e-9, n)
    elif shape == "huge":
        y, p = y * 1e250, p * 1e250
    elif shape == "tiny":
        y, p = y * 1e-300, p * 1e-300
    elif shape == "pred_ties":
        p = np.round(p / 10)
    elif shape == "nan_teacher":
        y[n // 2] = math.nan
    elif shape == "nan_pred":
        p[n - 1] = math.nan
    elif shape == "constant_pred":
        p = np.full(n, 70.0)
    elif shape == "constant_teacher":
        y = np.full(n, 70.0)
    return y, p


def same(mine: float, theirs: float) -> bool:
    return mine == theirs or (math.isnan(mine) and math.isnan(theirs))


def scipy_figures(y: np.ndarray, p: np.ndarray) -> tuple[float, float, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return (float(stats.pearsonr(y, p).statistic), float(stats.spearmanr(y, p).statistic),
                float(stats.kendalltau(y, p).statistic))


def check(shape: str, n: int) -> None:
    rng = np.random.default_rng([n, SHAPES.index(shape)])
    y, p = drawn(shape, n, rng)
    mine = (pearson(y, p), spearman(y, p), kendall_tau_b(y, p))
    theirs = scipy_figures(y, p)
    for name, a, b in zip(("pearson", "spearman", "kendall"), mine, theirs, strict=True):
        assert same(a, b), (shape, n, name, a, b)


@pytest.mark.parametrize("n", [n if n in CI_SIZES else pytest.param(n, marks=pytest.mark.wide) for n in SIZES])
@pytest.mark.parametrize("shape", SHAPES)
def test_each_figure_is_scipys_bit_for_bit(shape: str, n: int) -> None:
    check(shape, n)


@pytest.mark.parametrize("n", [2, 3, 33, 1000, 5_000])
@pytest.mark.parametrize("values", [1, 7, None])
def test_the_merged_runs_count_every_inversion(n: int, values: int | None) -> None:
    """Discordant pairs above SQUARE_UP_TO are counted by merging runs: against the pairs counted one by one."""
    rng = np.random.default_rng([n, values or 0])
    v = rng.integers(0, values or n, n)
    plain = sum(int(np.count_nonzero(v[i] > v[i + 1:])) for i in range(n))
    assert correlation._inversions(v) == plain
    assert correlation._inversions(np.sort(v)) == 0
    assert correlation._inversions(np.sort(v)[::-1].copy()) == n * (n - 1) // 2 - sum(
        int(c) * (int(c) - 1) // 2 for c in np.bincount(v))


def test_the_rule_of_metrics_applies_before() -> None:
    """kit.model.metrics.correlations, through these: fewer than 3 pairs or a constant teacher NaN, a constant
    prediction 0, a NaN prediction NaN, and otherwise scipy's figure."""
    from kit.model.metrics import residuals

    rng = np.random.default_rng(7)
    y, p = drawn("rounded", 300, rng)
    got = residuals(p, y, ranks=True)
    assert (got.plcc, got.srocc, got.krocc) == scipy_figures(y, p)
    assert residuals(np.full(300, 5.0), y, ranks=True).krocc == 0.0
    assert math.isnan(residuals(p[:2], y[:2], ranks=True).plcc)
    constant = residuals(p, np.full(300, 3.0), ranks=True).srocc
    assert constant is not None and math.isnan(constant)
