"""Pooled per encode, as the consumer scores (issue 53): a native encode and its half-height rung are two clips, in
clips.parquet's key, in clip_pooling.parquet and its --max-clip-error gate, and in the calibration sidecar's
residuals; opposite errors of the two no longer cancel, and a rung's clip is named with its size."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kit.model.clips import ENCODE_KEY, clip_codes
from kit.verdict.gates import CLIP_ERROR
from kit.verdict.intervals import GroupThresholds, clip_use, sidecar
from kit.verdict.pooling import clip_error_gates, clip_frame, clip_pooling


def ladder_rows() -> pd.DataFrame:
    """The verdict's held-out rows of source a at libx264 cq 24: its native encode predicted 3 points high, its
    half-height rung 3 points low (4 frames each); source b's native encode exact."""
    frames = []
    for src, (w, h), vmaf, miss in (("a", (640, 360), 80.0, 3.0), ("a", (320, 180), 60.0, -3.0),
                                    ("b", (640, 360), 70.0, 0.0)):
        frames.append(pd.DataFrame({"src": src, "src_sha256": src * 64, "content": src * 64, "encoder": "libx264",
                                    "cq": 24, "width": 640, "height": 360, "enc_width": w, "enc_height": h,
                                    "vmaf": vmaf + np.arange(4.0), "pred": vmaf + miss + np.arange(4.0)}))
    return pd.concat(frames, ignore_index=True)


def test_a_native_encode_and_its_rung_are_two_clips() -> None:
    rows = ladder_rows()
    assert ENCODE_KEY == ("src_sha256", "encoder", "cq", "enc_width", "enc_height")
    assert len(set(clip_codes(rows))) == 3
    assert len(set(clip_codes(rows.drop(columns=["enc_width", "enc_height"])))) == 2  # no ladder recorded: one each
    frame = clip_frame(rows)
    assert list(frame["n_frames"]) == [4, 4, 4] and list(frame["enc_height"]) == [360, 180, 360]
    assert list(frame["pred_mean"] - frame["vmaf_mean"]) == pytest.approx([3.0, -3.0, 0.0])  # nothing cancels
    block = clip_pooling(frame)
    assert block.of("mean").max_abs_error == pytest.approx(3.0) and block.of("mean").n_clips == 3
    (gate,) = clip_error_gates(frame, block, {"mean": 2.0}, CLIP_ERROR.measure)
    assert not gate.passed and gate.failing == ["a libx264 cq 24", "a libx264 cq 24 at 320x180"]
    assert "held-out clip a libx264 cq 24" in str(gate.statement)


def test_the_sidecar_residuals_are_per_encode() -> None:
    """Six contents; content a's native encode 3 points high and its rung 3 points low: its residual is 3, where
    pooling the two (the mean of their predictions against the first's teacher) would have said 6 or 0."""
    contents = [c * 64 for c in "abcdef"]
    rows = pd.DataFrame({"content": np.repeat(contents, 4), "src_sha256": np.repeat(contents, 4),
                         "vmaf": np.tile([50.0, 60.0, 70.0, 80.0], 6), "std": 1.0})
    rows["pred"] = rows["vmaf"] + np.tile([0.5, -0.5, 0.2, -0.2], 6)
    clips = []
    for seed in (0, 1):
        for c in contents:
            for (w, h), vmaf, miss in (((640, 360), 80.0, 3.0 if c[0] == "a" else 0.4),
                                       ((320, 180), 60.0, -3.0 if c[0] == "a" else -0.4)):
                clips.append({"seed": seed, "src_sha256": c, "encoder": "libx264", "cq": 24, "enc_width": w,
                              "enc_height": h, "n_frames": 4, "vmaf_mean": vmaf,
                              "pred_from_mean_features": vmaf + miss, "pred_mean_of_frames": vmaf + miss})
    use, residuals = clip_use(pd.DataFrame(clips), rows, 0.8, GroupThresholds.of(rows, 0.8))
    assert use.n_clips == 12 and use.max_abs_error == pytest.approx(3.0)
    assert "12 encodes held out (a source at one encoder, cq and rung)" in use.note
    assert list(residuals["residual"]) == pytest.approx([3.0, 0.4, 0.4, 0.4, 0.4, 0.4])
    doc = sidecar(residuals, 0.8)
    assert doc["calibrated"] and "cq and rung" in str(doc["calibrates"])
