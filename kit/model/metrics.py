"""Agreement between predictions and the teacher: PLCC, SROCC, KROCC, RMSE.

Rank statistics use scipy.stats, which gives tied values their average rank
(SROCC) and uses Kendall's tau-b (KROCC). Ties matter here: clips with many
frames at the vmaf ceiling of 100 are common. (The bash kit ranked ties
arbitrarily.) No logistic mapping is applied before PLCC.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from kit.corpus.schema import VMAF_RANGE


def _finite_or_nan(x: float) -> float:
    return float(x) if math.isfinite(x) else float("nan")


def agreement(target: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """PLCC, SROCC, KROCC and RMSE; a correlation is NaN when either side is constant."""
    y = np.asarray(target, dtype=np.float64)
    p = np.asarray(pred, dtype=np.float64)
    rmse = float(np.sqrt(np.mean((y - p) ** 2))) if len(y) else float("nan")
    if len(y) < 2 or np.ptp(y) == 0 or np.ptp(p) == 0:
        return {"plcc": float("nan"), "srocc": float("nan"), "krocc": float("nan"), "rmse": rmse}
    from scipy import stats  # here, not at import: importing scipy costs 0.5 s, which most commands never need

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plcc = stats.pearsonr(y, p).statistic
        srocc = stats.spearmanr(y, p).statistic
        krocc = stats.kendalltau(y, p).statistic
    return {"plcc": _finite_or_nan(plcc), "srocc": _finite_or_nan(srocc), "krocc": _finite_or_nan(krocc),
            "rmse": rmse}


def errors(target: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Bias and range beside the correlations: what PLCC cannot see.

    bias: mean of (prediction - teacher), signed: a constant offset a correlation ignores;
    max_abs_error: the largest single-frame miss; share_out_of_range: predictions outside [0, 100].
    """
    y = np.asarray(target, dtype=np.float64)
    p = np.asarray(pred, dtype=np.float64)
    if not len(y):
        return {"bias": float("nan"), "max_abs_error": float("nan"), "share_out_of_range": float("nan")}
    return {"bias": float(np.mean(p - y)), "max_abs_error": float(np.max(np.abs(p - y))),
            "share_out_of_range": float(np.mean((p < VMAF_RANGE[0]) | (p > VMAF_RANGE[1])))}


def summarise(values: list[float]) -> dict[str, float]:
    """mean/std/min/max over folds; NaN folds make the summary NaN (never silently dropped)."""
    arr = np.asarray(values, dtype=np.float64)
    if len(arr) == 0 or np.isnan(arr).any():
        nan = float("nan")
        return {"mean": nan, "std": nan, "min": nan, "max": nan}
    return {"mean": float(arr.mean()), "std": float(arr.std()), "min": float(arr.min()), "max": float(arr.max())}
