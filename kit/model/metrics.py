"""What predictions miss of their teacher: every figure by `residuals`, correlations by CORRELATION_RULE.

A figure per source, group, encode or clip is a field of Residuals, never a formula of its own
(tests/unit/test_residuals.py restates each); a file's record takes it by name (`Residuals.fields_of`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from kit.corpus.schema import VMAF_RANGE
from kit.model.correlation import kendall_tau_b, pearson, spearman  # scipy's figures, bit for bit

MIN_PAIRS = 3  # with two points any two distinct values lie on a line: |r| is 1 whatever the model
CORRELATION_RULE = (
    f"A held-out content group of fewer than {MIN_PAIRS} frames, or whose teacher scores are all equal, has no defined "
    "correlation: its fold is left out of the PLCC, SROCC and KROCC means (its RMSE still counts) and is named in "
    "folds_without_correlation. A fold whose predictions are constant while the teacher varies counts as correlation "
    "0. When no fold has a defined correlation (a teacher constant everywhere), the means are 0.0: no agreement is "
    "shown, and the gate holds.")


def correlated(n: int, teacher_constant: bool | None) -> bool:
    return n >= MIN_PAIRS and not teacher_constant


@dataclass(frozen=True)
class Residuals:
    """The figures of n predictions against their teacher; miss = predicted - teacher."""

    n: int
    rmse: float  # sqrt(mean(miss^2))
    bias: float  # mean(miss), signed: an offset a correlation cannot see
    mean_abs_error: float
    median_abs_error: float
    max_abs_error: float  # the largest single miss
    share_out_of_range: float  # predictions outside the teacher's [0, 100]
    plcc: float  # Pearson's r
    srocc: float | None = None  # Spearman's rho (tied ranks averaged): with ranks=True
    krocc: float | None = None  # Kendall's tau-b: with ranks=True
    share_within: float | None = None  # |miss| <= the tolerance given (a NaN miss is not)
    teacher_constant: bool = False  # every teacher score equal (n >= 1)
    worst: int = -1  # the position of the largest miss (a NaN miss first: it diverged); -1 without any

    def fields_of(self, record: type) -> dict[str, Any]:
        """The figures a file's record declares under these names (n, teacher_constant, worst: its own to spell)."""
        wanted = {f.name for f in fields(record)} - {"n", "teacher_constant", "worst"}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name in wanted}


def residuals(predicted: object, truth: object, *, ranks: bool = False, tolerance: float | None = None) -> Residuals:
    """Every figure of `predicted` against `truth`; `ranks`: SROCC and KROCC too (slow); `tolerance`: share_within."""
    p, y = np.asarray(predicted, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if not len(y):  # no figure, each NaN (a rank or a share not asked for: None)
        nan, rank = math.nan, math.nan if ranks else None
        return Residuals(0, nan, nan, nan, nan, nan, nan, nan, rank, rank, nan if tolerance is not None else None)
    miss = p - y
    size = np.abs(miss)
    constant = bool(np.ptp(y) == 0)
    return Residuals(n=len(y), rmse=float(np.sqrt(np.mean(miss ** 2))), bias=float(np.mean(miss)),
                     mean_abs_error=float(np.mean(size)), median_abs_error=float(np.median(size)),
                     max_abs_error=float(np.max(size)),
                     share_out_of_range=float(np.mean((p < VMAF_RANGE[0]) | (p > VMAF_RANGE[1]))),
                     **correlations(p, y, ranks, correlated(len(y), constant)),
                     share_within=float(np.mean(size <= tolerance)) if tolerance is not None else None,
                     teacher_constant=constant, worst=int(np.argmax(np.where(np.isnan(size), np.inf, size))))


def correlations(p: np.ndarray, y: np.ndarray, ranks: bool, defined: bool) -> dict[str, float]:
    """PLCC (and SROCC, KROCC) by the rule: NaN where undefined or a prediction is not finite, 0 if it is constant."""
    keys = ("plcc", "srocc", "krocc") if ranks else ("plcc",)
    if not defined or not np.isfinite(p).all():
        return dict.fromkeys(keys, math.nan)
    if np.ptp(p) == 0:
        return dict.fromkeys(keys, 0.0)
    found = {"plcc": pearson(y, p)}
    if ranks:
        found |= {"srocc": spearman(y, p), "krocc": kendall_tau_b(y, p)}
    return {k: v if math.isfinite(v) else math.nan for k, v in found.items()}


def summarise(values: list[float]) -> dict[str, float]:
    """mean/std/min/max over folds; NaN folds make the summary NaN (never silently dropped)."""
    arr = np.asarray(values, dtype=np.float64)
    if len(arr) == 0 or np.isnan(arr).any():
        return dict.fromkeys(("mean", "std", "min", "max"), float("nan"))
    return {"mean": float(arr.mean()), "std": float(arr.std()), "min": float(arr.min()), "max": float(arr.max())}
