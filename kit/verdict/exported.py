"""The interval the bundle exports (mu +- q sigma over the members, q the split-conformal `conformal_q_residual`)
and what it covers on content the models did not see (docs/design/intervals.md); not calibrated, with no multiplier,
when the groups cannot bound the nominal level or the members have no spread (one seed, or members that agree
exactly). Recomputable from 04_verdict/intervals.parquet."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kit.model.conformal import covered, gaussian_z, interval, percent
from kit.verdict.document import ENSEMBLE, ENSEMBLE_CONFORMAL, ExportedInterval, Intervals
from kit.verdict.intervals import unbounded_reason

RECIPE = "mu +- conformal_q_residual x sigma; mu, sigma: the mean and the std (ddof=1) of the members' outputs"


def covered_rows(rows: pd.DataFrame, multiplier: float) -> np.ndarray:
    """Of the held-out rows with a spread, whether each teacher score lies within mu +- multiplier sigma."""
    ok = np.isfinite(sigma := rows["std"].to_numpy(dtype=np.float64))
    mu, y = rows["pred"].to_numpy(dtype=np.float64)[ok], rows["vmaf"].to_numpy(dtype=np.float64)[ok]
    return covered(y, *interval(mu, sigma[ok], multiplier))


def exported_interval(rows: pd.DataFrame, intervals: Intervals) -> ExportedInterval:
    """The exported interval at the nominal level: calibrated, with its coverages, or not, with why."""
    nominal = intervals.nominal
    at = intervals.at(nominal)
    assert at is not None  # calibrate always computes the nominal level
    z = gaussian_z(nominal)
    gaussian = covered_rows(rows, z)  # upstream's fallback: what the spread alone covers (None without any)
    fallback = float(gaussian.mean()) if len(gaussian) else None
    if intervals.score != "normalised" or at.q is None:
        return ExportedInterval(False, ENSEMBLE, nominal, RECIPE, None, None, None, None, None, z, fallback,
                                not_calibrated(intervals, z, fallback))
    q = float(at.q)
    inside = covered_rows(rows, q)  # every row has a spread: the scores are normalised
    # each content group's share covered, on the group's code (not on an array of its name a row), by name
    codes, names = pd.factorize(rows["content"], sort=True)
    by_group = np.bincount(codes, weights=inside, minlength=len(names)) / np.bincount(codes, minlength=len(names))
    return ExportedInterval(True, ENSEMBLE_CONFORMAL, nominal, RECIPE, q, float(inside.mean()), at.coverage,
                            {str(k): float(v) for k, v in zip(names, by_group, strict=True)},
                            float(by_group.min()) if len(by_group) else None, z, fallback)


def not_calibrated(intervals: Intervals, z: float, fallback: float | None) -> str:
    """Why the manifests export no interval, with what the members' spread alone would have covered."""
    if intervals.score != "normalised" and fallback is None:
        return ("one seed: the members have no spread, so upstream's recipe mu +- q sigma has no interval to give; "
                "the verdict's absolute intervals (q_abs, VMAF points) are not exported")
    if intervals.score != "normalised":
        said = ("the members agree exactly on held-out rows the teacher scores apart (intervals.q_reason), so "
                "upstream's recipe mu +- q sigma has no multiplier to give; the verdict's absolute intervals (q_abs, "
                "VMAF points) are not exported")
    else:
        said = unbounded_reason(intervals.n_groups, intervals.nominal)
    if fallback is not None:
        said += (f". The members' spread alone is no interval: upstream's Gaussian fallback mu +- {z:.3f} sigma "
                 f"covers {fallback:.1%} of the held-out rows at a nominal {percent(intervals.nominal)}, so it is "
                 "not exported either")
    return said
