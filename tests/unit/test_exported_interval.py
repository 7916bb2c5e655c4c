"""The interval the manifests export (issue 37, item 2): mu +- q sigma over the members, q the split-conformal
threshold of |teacher - mu| / sigma over content groups; what it covers on held-out contents, recomputed from the
rows; and, where the groups cannot bound it, no interval at all.

The simulated members agree with each other far more closely than with the teacher (sigma about a fifth of the
error), as the kit's seeds do: the Gaussian reading of their spread (upstream's fallback, mu +- 1.96 sigma) covers a
small share, the conformal multiplier covers the nominal level on contents it was not calibrated on.
"""

from __future__ import annotations

import importlib.util
import math
import sys

import numpy as np
import pandas as pd
import pytest

from kit.bundle.conformal import confidence
from kit.model.conformal import GAUSSIAN_Z95, scores
from kit.verdict.exported import exported_interval
from kit.verdict.intervals import calibrate
from tests.conftest import ROOT


def members_rows(n: int, frames: int = 40, seed: int = 3) -> pd.DataFrame:
    """Held-out rows of n content groups: the teacher off the members' mean by a per-content offset and noise, the
    members' std a fifth of that."""
    rng = np.random.default_rng(seed)
    pred = rng.uniform(30, 95, (n, frames))
    miss = rng.normal(0, 2.0, n)[:, None] + rng.normal(0, 1.5, (n, frames))
    std = np.abs(miss) / 5 + rng.uniform(0.1, 0.4, (n, frames))
    ids = [f"{i:064x}" for i in range(n)]
    return pd.DataFrame({"src": np.repeat([f"s{i}" for i in range(n)], frames), "src_sha256": np.repeat(ids, frames),
                         "content": np.repeat(ids, frames), "vmaf": (pred + miss).ravel(), "pred": pred.ravel(),
                         "std": std.ravel()})


def check_upstream() -> object:
    spec = importlib.util.spec_from_file_location("check_upstream", ROOT / "bench" / "check_upstream.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_upstream"] = module
    spec.loader.exec_module(module)
    return module


def hierarchical_q(rows: pd.DataFrame, level: float) -> float:
    """The threshold by its definition, the slow way: the smallest score t with sum_k F_k(t) >= (n+1) level."""
    s = scores(rows["vmaf"].to_numpy(), rows["pred"].to_numpy(), rows["std"].to_numpy())
    groups = rows["content"].to_numpy()
    n = len(set(groups))
    for t in np.sort(s):
        if sum(np.mean(s[groups == g] <= t) for g in set(groups)) >= (n + 1) * level - 1e-9:
            return float(t)
    return math.inf


def test_the_exported_multiplier_covers_held_out_contents_where_the_spread_alone_does_not() -> None:
    rows, iv = calibrate(members_rows(40), 0.95)
    e = exported_interval(rows, iv)
    assert e.calibrated and e.method == "ensemble+conformal"
    assert e.conformal_q_residual == pytest.approx(hierarchical_q(rows, 0.95), rel=1e-12)
    q = float(e.conformal_q_residual or 0.0)
    inside = (rows["vmaf"] >= rows["pred"] - q * rows["std"]) & (rows["vmaf"] <= rows["pred"] + q * rows["std"])
    assert e.coverage == pytest.approx(inside.mean())  # recomputed from intervals.parquet's columns
    per_group = inside.groupby(rows["content"]).mean()
    assert e.group_coverage == pytest.approx(per_group.to_dict()) and e.group_coverage_min == per_group.min()
    at = iv.at(0.95)
    assert at is not None and e.coverage_held_out == at.coverage  # each group's q calibrated without it
    assert e.coverage_held_out is not None and e.coverage_held_out >= 0.95 - 0.05
    gaussian = ((rows["vmaf"] - rows["pred"]).abs() <= GAUSSIAN_Z95 * rows["std"]).mean()
    assert e.fallback_coverage == pytest.approx(gaussian) and gaussian < 0.8  # the spread alone is no interval
    block = confidence(iv.__class__(**{**iv.__dict__, "exported": e})).to_json()
    assert block["method"] == "ensemble+conformal" and block["conformal_q_residual"] == q and block["calibrated"]
    # upstream's recipe (restated in bench/check_upstream.py, upstream's own with --upstream) agrees
    metrics = check_upstream().restated_coverage_metrics(  # type: ignore[attr-defined]
        rows["pred"].to_numpy(), rows["std"].to_numpy(), rows["vmaf"].to_numpy(), nominal_levels=(0.95,),
        conformal_q=q)
    assert metrics["conformal"]["empirical_coverage"] == pytest.approx(e.coverage)
    assert metrics["gaussian"]["95"]["empirical_coverage"] == pytest.approx(gaussian)


def test_too_few_contents_export_no_interval_and_no_field_reads_as_one() -> None:
    rows, iv = calibrate(members_rows(9), 0.95)
    e = exported_interval(rows, iv)
    assert not e.calibrated and e.conformal_q_residual is None and e.coverage is None and e.group_coverage is None
    assert "needs at least 19 groups" in str(e.reason) and "covers" in str(e.reason)  # why, with the fallback's
    block = confidence(iv.__class__(**{**iv.__dict__, "exported": e})).to_json()
    assert block == {"method": "ensemble", "nominal_coverage": 0.95, "gaussian_z": None,
                     "conformal_q_residual": None, "calibrated": False, "reason": e.reason}
    one_seed, iv1 = calibrate(members_rows(30).assign(std=np.nan), 0.95)
    e1 = exported_interval(one_seed, iv1)
    assert not e1.calibrated and "one seed" in str(e1.reason) and e1.fallback_coverage is None
    # members that agree exactly (a student that is its teacher's function): no multiplier, and not "one seed"
    agreed, iv0 = calibrate(members_rows(30).assign(std=0.0), 0.95)
    e0 = exported_interval(agreed, iv0)
    assert not e0.calibrated and e0.conformal_q_residual is None and "one seed" not in str(e0.reason)
    assert "agree exactly" in str(e0.reason) and e0.fallback_coverage == pytest.approx(
        float((agreed["vmaf"] == agreed["pred"]).mean()))  # mu +- 1.96 x 0 covers only the exact hits


def test_check_upstream_measures_held_out_contents_as_the_verdict_does() -> None:
    module = check_upstream()
    rows, iv = calibrate(members_rows(40), 0.95)
    fn = module.restated_coverage_metrics  # type: ignore[attr-defined]
    mu, sd, y = (rows[c].to_numpy() for c in ("pred", "std", "vmaf"))
    assert fn(mu, sd, y, nominal_levels=(0.95,))["gaussian"]["95"]["empirical_coverage"] < 0.9  # kit 0.4's block
    held = module.held_out_contents(fn, rows, 0.95)  # type: ignore[attr-defined]
    at = iv.at(0.95)
    assert at is not None and held["coverage"] == pytest.approx(at.coverage)
