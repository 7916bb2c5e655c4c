"""The poolings a clip's frames are judged by (issue 39): each restated here from its consumer, on numbers worked
by hand, so a drift in kit.model.pooling fails; the --max-clip-error flag's parsing; a gate and its sentence."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from kit.errors import InputError
from kit.model.pooling import POOLS, clipped, pool_groups
from kit.verdict.gates import CLIP_ERROR
from kit.verdict.pooling import clip_error_gates, clip_frame, clip_pooling
from kit.verdict.thresholds import ClipErrorLimits


def pool(values: np.ndarray, stat: str) -> float:
    """One clip's frames pooled by `stat` (pool_groups with one group)."""
    values = np.asarray(values, dtype=np.float64)
    return float(pool_groups(values, np.zeros(len(values), dtype=np.int64), 1)[stat][0])


def libvmaf_harmonic_mean(scores: list[float]) -> float:
    """libvmaf/src/libvmaf.c, vmaf_feature_score_pooled: i_sum += 1 / (s + 1); score = pic_cnt / i_sum - 1."""
    return len(scores) / sum(1.0 / (s + 1.0) for s in scores) - 1.0


def av1an_percentile(scores: list[float], index: int) -> float:
    """Av1an, av1an-core/src/metrics/statistics.rs, MetricStatistics::percentile: the sorted scores' element at
    (index / 100 x len) truncated to an integer."""
    ordered = sorted(scores)
    return ordered[int(index / 100 * len(ordered))]


def test_each_pooling_is_its_consumers_own() -> None:
    rng = np.random.default_rng(3)
    for n in (1, 7, 99, 100, 101, 250):
        scores = list(rng.uniform(0, 100, n))
        assert pool(np.array(scores), "mean") == pytest.approx(sum(scores) / n)
        assert pool(np.array(scores), "harmonic_mean") == pytest.approx(libvmaf_harmonic_mean(scores))
        assert pool(np.array(scores), "p1") == av1an_percentile(scores, 1)
        assert pool(np.array(scores), "min") == min(scores)
    assert pool(np.arange(250.0)[::-1], "p1") == 2.0  # floor(250 / 100) = 2: the third lowest
    assert pool(np.array([0.0, 0.0]), "harmonic_mean") == 0.0  # a score of 0 stays finite (the + 1)


def test_groups_pool_apart_and_a_nan_spoils_only_its_own_clip() -> None:
    values = np.array([3.0, 1.0, 2.0, 10.0, np.nan, 5.0, 7.0])
    groups = np.array([0, 0, 0, 1, 1, 2, 2])
    pooled = pool_groups(values, groups, 3)
    assert list(pooled) == list(POOLS)
    assert pooled["min"][0] == 1.0 and pooled["mean"][2] == 6.0 and pooled["p1"][2] == 5.0
    assert all(math.isnan(pooled[s][1]) for s in POOLS)
    assert list(clipped(np.array([-3.0, 50.0, 104.0]))) == [0.0, 50.0, 100.0]


def held_out_rows() -> pd.DataFrame:
    """Two clips of one source (libx264 at two cqs) and one of another encoder: the verdict's held-out rows."""
    frames = []
    for src, enc, cq, vmaf, pred in (("a", "libx264", 25, [90, 80, 70], [91, 79, 60]),
                                     ("a", "libx264", 37, [50, 40, 45], [52, 41, 45]),
                                     ("b", "libx265", 25, [99, 98, 99], [104, 98, 97])):
        frames.append(pd.DataFrame({"src": src, "src_sha256": src * 64, "content": src * 64, "encoder": enc,
                                    "cq": cq, "vmaf": vmaf, "pred": pred}))
    return pd.concat(frames, ignore_index=True)


def test_the_verdict_block_and_its_gates_follow_the_clip_frame() -> None:
    frame = clip_frame(held_out_rows())
    assert list(frame[["src", "encoder", "cq"]].itertuples(index=False, name=None)) == [
        ("a", "libx264", 25), ("a", "libx264", 37), ("b", "libx265", 25)]
    assert list(frame["vmaf_min"]) == [70, 40, 98] and list(frame["pred_min"]) == [60, 41, 97]
    assert frame["pred_mean"].iloc[2] == pytest.approx((100 + 98 + 97) / 3)  # 104 read as 100
    block = clip_pooling(frame)
    worst = block.of("min")
    assert worst.max_abs_error == 10 and worst.worst_clip == "a libx264 cq 25" and worst.n_clips == 3
    assert worst.rmse == pytest.approx(math.sqrt((100 + 1 + 1) / 3)) and worst.bias == pytest.approx(-10 / 3)
    assert [(e.encoder, e.stat) for e in block.by_encoder] == [("libx264", s) for s in POOLS] + [
        ("libx265", s) for s in POOLS]
    (gate,) = clip_error_gates(frame, block, {"min": 5.0}, CLIP_ERROR.measure)
    assert not gate.passed and gate.failing == ["a libx264 cq 25"] and gate.worst_value == 10
    assert CLIP_ERROR.failure(gate) == ("the min-pooled prediction of held-out clip a libx264 cq 25 is 10.00 VMAF "
                                        "points from its teacher's (per clip, frames pooled), beyond --max-clip-error "
                                        "min:5")
    assert clip_error_gates(frame, block, {"min": 10.0, "mean": 4.0}, CLIP_ERROR.measure)[0].passed


def test_the_flag_reads_stat_limits_and_refuses_the_rest() -> None:
    flag = ClipErrorLimits()
    assert flag.parse("p1:4", "--max-clip-error") == {"p1": 4.0}
    assert flag.parse("min:8, p1:2.5", "--max-clip-error") == {"p1": 2.5, "min": 8.0}  # in POOLS order
    assert flag.parse("off", "--max-clip-error") == {}
    for bad, said in (("p2:4", "is not STAT:X"), ("p1", "is not STAT:X"), ("p1:nan", "p1's limit is not a number"),
                      ("p1:inf", "is not a number"), ("p1:0", "must be above 0"), ("p1:1,p1:2", "twice"),
                      ("p1:²", "is not a number")):
        with pytest.raises(InputError) as info:
            flag.parse(bad, "--max-clip-error")
        assert "--max-clip-error" in info.value.message and said in info.value.message, bad
