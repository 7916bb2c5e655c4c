"""Hierarchical split conformal (kit.model.conformal): the threshold rule, the leave-one-group-out thresholds, the
unbounded case, and coverage measured on simulated sources (frames of one source share an error)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from kit.model.conformal import Calibration, bounded, covered, interval, rank_needed, scores
from kit.verdict.intervals import UNBOUNDED_WHY, calibrate, column


def brute_threshold(s: np.ndarray, groups: np.ndarray, level: float) -> float:
    """The definition, spelled out: the smallest score t with sum_k F_k(t) >= (n+1) level."""
    ids = np.unique(groups)
    n = len(ids)
    if math.ceil((n + 1) * level - 1e-9) > n:
        return math.inf
    for t in np.sort(s):
        pooled = sum(np.mean(s[groups == k] <= t) for k in ids)
        if pooled >= (n + 1) * level - 1e-9:
            return float(t)
    return math.inf


def random_case(rng: np.random.Generator, n: int, ties: bool) -> tuple[np.ndarray, np.ndarray]:
    sizes = rng.integers(1, 9, n)
    groups = np.repeat(np.arange(n), sizes)
    s = rng.exponential(1.0, len(groups)) * rng.uniform(0.5, 3, n)[groups]
    if ties:
        s = np.round(s, 1)
    return s, groups


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("level", [0.5, 0.8, 0.9, 0.95])
def test_threshold_and_left_out_thresholds_follow_the_definition(level: float, ties: bool) -> None:
    rng = np.random.default_rng(7)
    for n in (3, 9, 19):
        s, groups = random_case(rng, n, ties)
        cal = Calibration.of(s, groups)
        assert cal.threshold(level) == brute_threshold(s, groups, level)
        left = cal.left_out(level)
        for k in range(n):
            keep = groups != k
            others = np.unique(groups[keep], return_inverse=True)[1]
            assert left[k] == brute_threshold(s[keep], others, level), (n, k)


def test_one_frame_per_group_is_the_rank_rule_and_never_the_largest_when_unbounded() -> None:
    rng = np.random.default_rng(1)
    s = rng.uniform(0, 10, 9)
    cal = Calibration.of(s, np.arange(9))
    for level in (0.5, 0.8, 0.9):
        assert cal.threshold(level) == np.sort(s)[rank_needed(9, level) - 1]
    assert rank_needed(9, 0.9) == 9 and rank_needed(9, 0.95) == 10
    assert not bounded(9, 0.95) and math.isinf(cal.threshold(0.95))  # not max(s): the guarantee would be lost
    assert bounded(19, 0.95) and not bounded(18, 0.95)


def test_intervals_scale_with_the_spread_and_an_unbounded_one_is_everything() -> None:
    mu, sd = np.array([50.0, 60.0, 70.0]), np.array([1.0, 0.0, 2.0])
    lo, hi = interval(mu, sd, np.array([2.0, 2.0, math.inf]))
    assert lo.tolist() == [48.0, 60.0, -math.inf] and hi.tolist() == [52.0, 60.0, math.inf]
    assert covered(np.array([52.0, 60.0, 1e9]), lo, hi).all()  # closed at both ends
    assert scores(np.array([60.0, 61.0]), np.array([60.0, 60.0]), np.array([0.0, 0.0])).tolist() == [0.0, math.inf]


def simulated_sources(rng: np.random.Generator, n: int, frames: int) -> pd.DataFrame:
    """Sources whose frames share an offset (content): frames are not exchangeable across sources."""
    offset = rng.normal(0, 3, n)
    sd = rng.uniform(0.5, 1.5, (n, frames))
    pred = rng.uniform(30, 90, (n, frames))
    y = pred + offset[:, None] + rng.normal(0, 1, (n, frames))
    ids = [f"{i:064x}" for i in range(n)]
    return pd.DataFrame({"src": np.repeat([f"s{i}" for i in range(n)], frames), "src_sha256": np.repeat(ids, frames),
                         "content": np.repeat(ids, frames), "vmaf": y.ravel(), "pred": pred.ravel(),
                         "std": sd.ravel()})


def uneven_sources(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(teacher, prediction, source) of long easy sources and short hard ones: frames of the long ones dominate
    a frame-level calibration."""
    frames = rng.choice([4, 80], n)
    source = np.repeat(np.arange(n), frames)
    offset = rng.normal(0, 1, n) * np.where(frames == 4, 6.0, 0.5)
    pred = rng.uniform(30, 90, len(source))
    return pred + offset[source] + rng.normal(0, 0.5, len(source)), pred, source


def test_a_new_source_is_covered_at_the_nominal_rate_where_frame_level_calibration_is_not() -> None:
    """Calibrate on 30 sources, test on a new one, many times: calibrated by content group, 90 % of a new
    source's frames are covered on average; calibrated on frames as if they were exchangeable, the long easy
    sources set the width and a new source is covered far less often."""
    rng = np.random.default_rng(3)
    hits_grouped, hits_frames = [], []
    for _ in range(200):
        y, mu, source = uneven_sources(rng, 31)
        cal, new = source < 30, source == 30
        s = scores(y[cal], mu[cal], None)
        q = Calibration.of(s, source[cal]).threshold(0.9)
        q_frames = Calibration.of(s, np.arange(len(s))).threshold(0.9)  # every frame its own unit
        hits_grouped.append(covered(y[new], *interval(mu[new], None, q)).mean())
        hits_frames.append(covered(y[new], *interval(mu[new], None, q_frames)).mean())
    assert np.mean(hits_grouped) >= 0.88, np.mean(hits_grouped)
    assert np.mean(hits_frames) < np.mean(hits_grouped) - 0.1, (np.mean(hits_frames), np.mean(hits_grouped))


def test_every_coverage_figure_is_recomputable_from_the_rows_it_writes() -> None:
    rng = np.random.default_rng(5)
    rows = simulated_sources(rng, 25, 12)
    out, iv = calibrate(rows, 0.9)
    assert iv.n_groups == 25 and iv.score == "normalised" and iv.conformal_q_residual is not None
    for x in iv.levels:
        lo, hi = out[column(x.level, "lo")], out[column(x.level, "hi")]
        inside = (lo <= out["vmaf"]) & (out["vmaf"] <= hi)
        assert x.coverage == pytest.approx(inside.mean())
        assert x.source_coverage_min == pytest.approx(inside.groupby(out["src_sha256"]).mean().min())
        if x.mean_width is not None:
            assert x.mean_width == pytest.approx((hi - lo).mean())
    assert (out["lo"] == out[column(0.9, "lo")]).all()
    at95 = iv.at(0.95)
    assert at95 is not None and at95.rank == 25 and not at95.unbounded


def test_one_seed_gives_absolute_intervals_and_says_why_there_is_no_multiplier() -> None:
    rows = simulated_sources(np.random.default_rng(2), 25, 5).assign(std=np.nan)
    out, iv = calibrate(rows, 0.95)
    assert iv.score == "absolute" and iv.conformal_q_residual is None and "one seed" in str(iv.q_reason)
    at = iv.at(0.95)
    assert at is not None and at.q == at.q_abs
    half = (out["hi"] - out["lo"]) / 2
    assert np.allclose(half[np.isfinite(half)], half[np.isfinite(half)].iloc[0]) or half.nunique() > 1


@pytest.mark.parametrize("n", [4, 9, 25])
@pytest.mark.parametrize("flat", [1.0, 0.3])
def test_members_that_agree_where_the_teacher_differs_give_absolute_intervals_bounded_by_the_rank_rule(
        n: int, flat: float) -> None:
    """Seeds that agree exactly (a student that is its teacher's function: no spread) on some rows the teacher
    scores a little apart: scaled by a zero spread those rows would score infinite and every level read unbounded,
    said as too few groups. The scores are absolute instead, each level is unbounded exactly where the rank rule
    says, and the reason names the agreement. Rows the members agree on and hit exactly stay normalised."""
    rng = np.random.default_rng(n)
    rows = simulated_sources(rng, n, 6)
    rows.loc[rng.random(len(rows)) < flat, "std"] = 0.0
    rows.loc[rows.index[0], "std"] = 0.0  # at least one
    out, iv = calibrate(rows, 0.95)
    assert iv.score == "absolute" and iv.conformal_q_residual is None
    assert f"on {int((rows['std'] == 0).sum())} of the {len(rows)} held-out rows the members agree exactly" in str(
        iv.q_reason)
    for x in iv.levels:
        assert x.unbounded == (rank_needed(n, x.level) > n) and (x.q is None) == x.unbounded, x
        assert x.q == x.q_abs
        if x.coverage is not None:
            inside = (out[column(x.level, "lo")] <= out["vmaf"]) & (out["vmaf"] <= out[column(x.level, "hi")])
            assert x.coverage == pytest.approx(inside.mean()) and x.mean_width is not None and x.mean_width > 0
    assert any(x.coverage is not None for x in iv.levels)  # a bound, measured: 50 % needs 1 group held out
    exact = rows.assign(vmaf=np.where(rows["std"] == 0, rows["pred"], rows["vmaf"]))  # agreed and hit: score 0
    assert calibrate(exact, 0.95)[1].score == "normalised"


def test_too_few_groups_leave_the_interval_unbounded_and_say_how_many_it_needs() -> None:
    out, iv = calibrate(simulated_sources(np.random.default_rng(4), 9, 10), 0.95)
    at = iv.at(0.95)
    assert at is not None and at.unbounded and at.q is None and at.share_unbounded == 1.0
    assert iv.conformal_q_residual is None and "needs at least 19 groups" in str(iv.q_reason)
    assert out["hi"].isna().all() and out["lo_95"].isna().all()  # no bound is written as one: null
    assert at.coverage is None and at.mean_width is None and at.source_coverage_min is None
    assert "needs at least 19 groups" in str(at.reason)
    at90 = iv.at(0.9)  # bounded with 9 groups, not with 8: no coverage on held-out content either
    assert at90 is not None and not at90.unbounded and at90.q is not None and at90.coverage is None
    assert "not once a row's own group is left out" in str(at90.reason) and out["hi_90"].isna().all()
    assert (out["unbounded"] == "90,95: " + UNBOUNDED_WHY).all()
    at80 = iv.at(0.8)
    assert at80 is not None and at80.coverage is not None and out["hi_80"].notna().all()
