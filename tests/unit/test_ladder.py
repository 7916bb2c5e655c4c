"""The resolution ladder (kit.media.ladder) and the quality grids as the corpus plans them: rungs, sizes, jobs,
batches that share one downscale, rows of older layouts, the teacher range per encoder and --holdout rung."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from kit.corpus.jobs import Ladder, plan_jobs
from kit.corpus.rungs import received_vt_cq, vt_cq_received, with_rungs
from kit.corpus.shared import plan_batches
from kit.corpus.summary import TEACHER_SPAN, rung_labels, teacher_ranges
from kit.media.ladder import clip_rungs, parse_rung, rung_label, rung_size
from kit.media.refs import Clip
from kit.model.holdout import holdout_folds
from kit.platforms.grids import CqGrid
from tests.conftest import synthetic_corpus


def clip(name: str = "a", width: int = 1920, height: int = 1080, kind: str = "y4m") -> Clip:
    return Clip(f"/r/{name}.{kind}", name, kind, width, height, "25/1", "yuv420p", 10, f"{ord(name[0]):064x}")


def test_rungs_are_heights_or_fractions_and_keep_the_aspect_ratio() -> None:
    assert parse_rung(" NATIVE ") == "native" and parse_rung("540") == "540" and parse_rung(".5") == "0.5"
    assert rung_size(parse_rung("0.25"), 1920, 1080) == (480, 270) and rung_size("native", 640, 360) == (640, 360)
    assert rung_size(parse_rung("720"), 1920, 1080) == (1280, 720) and rung_size("360", 640, 360) == (640, 360)
    assert rung_size(parse_rung("0.5"), 640, 360) == (320, 180) and rung_size("0.5", 176, 144) == (88, 72)
    for bad in ("0", "1.5", "abc", "31", "-540"):
        with pytest.raises(ValueError):
            parse_rung(bad)


def test_a_clip_gets_the_rungs_below_its_size_each_size_once() -> None:
    """A rung at or above the clip's height is left out (the kit never upscales a reference); two rungs of one size
    are one encode; native first, then by falling height."""
    ladder = ("native", "1080", "720", "0.5", "540", "360")
    assert clip_rungs(ladder, 1920, 1080) == [("native", 1920, 1080), ("720", 1280, 720), ("0.5", 960, 540),
                                               ("360", 640, 360)]
    assert clip_rungs(ladder, 640, 360) == [("native", 640, 360), ("0.5", 320, 180)]
    assert clip_rungs(("0.5",), 64, 48) == []  # 24 lines: below MIN_HEIGHT, so nothing at all
    assert rung_label(540, 1080) == "0.50x" and rung_label(1080, 1080) == rung_label(0, 1080) == "native"


def test_jobs_cross_clips_rungs_and_each_encoders_own_grid() -> None:
    grid = CqGrid((20, 30), {"libsvtav1": (40,)})
    jobs = plan_jobs([clip("b"), clip("a", 640, 360)], grid.by_encoder(["libx264", "libsvtav1"]),
                     ladder=Ladder(("native", "0.5"), "area", "spline"))
    assert [j.job_id.split("__", 1)[1] for j in jobs[:6]] == [
        "libx264__cq020", "libx264__cq030", "libsvtav1__cq040", "libx264__cq020__320x180", "libx264__cq030__320x180",
        "libsvtav1__cq040__320x180"]
    scaled = jobs[3]
    assert scaled.scale_filter == "scale=320:180:flags=area" and scaled.upscaler == "spline"
    assert jobs[0].scale_filter == "" and jobs[0].upscaler == "bicubic" and jobs[0].size.down == ""
    assert len({j.job_id for j in jobs}) == len(jobs) == 12
    assert len({j.fingerprint(_prov()) for j in jobs}) == 12  # the rung is part of what a job's rows depend on


def _prov() -> object:
    from kit.corpus.jobs import Provenance

    return Provenance("box", "linux", "cpu", "ffmpeg", "8", "build", "3.0")


def test_a_rung_shares_one_downscale_in_batches_sized_by_its_pixels() -> None:
    master = clip("m", 1920, 1080, "master")
    jobs = plan_jobs([master], {"libx264": list(range(10, 16)), "libx265": list(range(10, 16))},
                     ladder=Ladder(("native", "0.5", "0.25")))
    batches = plan_batches(jobs, master_folder := Path("/w"))
    sizes = [(len(b.jobs), b.jobs[0].size.height, b.writes_ref) for b in batches]
    # native: 4 a batch (the decoded reference with the first); half: 16 share a downscale; quarter: 64
    assert sizes == [(4, 1080, True), (4, 1080, False), (4, 1080, False), (12, 540, False), (12, 270, False)]
    assert all(b.folder == master_folder for b in batches)
    y4m = plan_batches([j for j in plan_jobs([clip("y")], {"libx264": [20, 30]}, ladder=Ladder(("native", "0.5")))
                        if j.rendition is not None], master_folder)
    assert [(len(b.jobs), b.writes_ref) for b in y4m] == [(2, False)]  # a clip read as it is writes no copy


def test_rows_of_an_older_layout_read_as_the_references_own_size() -> None:
    old = pa.table({"width": pa.array([640, None], pa.int32()), "height": pa.array([360, None], pa.int32()),
                    "encoder": ["libx264", "h264_videotoolbox"], "cq": pa.array([25, 30], pa.int32()),
                    "quality_args": ["-crf 25", ""]})
    filled, changed = vt_cq_received(with_rungs(old))
    assert filled["enc_width"].to_pylist() == [640, 0] and filled["enc_height"].to_pylist() == [360, 0]
    assert filled["scaler_down"].to_pylist() == ["", ""] and filled["cq"].to_pylist() == [25, 40] and changed == 1
    assert received_vt_cq(60, "") == 1 and received_vt_cq(0, None) == 100 and received_vt_cq(10, "-q:v 77") == 77


def encodes(scores: dict[tuple[str, int], list[float]], height: int = 360) -> pd.DataFrame:
    """Rows of one source per (encoder, cq): each encode's frames with the given teacher scores."""
    rows = [{"src_sha256": "a" * 64, "encoder": e, "cq": cq, "vmaf": v, "enc_height": height, "height": 360}
            for (e, cq), vs in scores.items() for v in vs]
    return pd.DataFrame(rows)


def test_the_teacher_range_per_encoder_is_its_encodes_means_and_warns_when_short() -> None:
    df = encodes({("libx264", 10): [99.0, 97.0], ("libx264", 38): [40.0, 50.0],
                  ("libsvtav1", 20): [99.0, 99.4], ("libsvtav1", 37): [92.0, 93.0]})
    x264, svt = (next(t for t in teacher_ranges(df) if t.encoder == e) for e in ("libx264", "libsvtav1"))
    assert (x264.lo, x264.hi, x264.encodes, x264.cq_grid, x264.rungs) == (45.0, 98.0, 2, [10, 38], ["native"])
    assert x264.warning is None
    assert (svt.lo, svt.hi) == (92.5, 99.2) and svt.warning is not None
    assert f"none below {TEACHER_SPAN[0]:g}" in svt.warning and "--cqs libsvtav1:" in svt.warning
    low = teacher_ranges(encodes({("libx265", 30): [50.0], ("libx265", 40): [20.0]}))[0]
    assert low.warning is not None and f"none above {TEACHER_SPAN[1]:g}" in low.warning
    ladder = pd.concat([df, encodes({("libx264", 10): [80.0]}, height=180)])
    assert teacher_ranges(ladder)[1].rungs == ["native", "0.50x"] and teacher_ranges(ladder)[1].encodes == 3


def test_holdout_rung_leaves_each_rung_out_in_turn() -> None:
    df = synthetic_corpus(n_src=5, rows_per_src=40)
    df["content"] = df["src_sha256"]
    df["height"] = 360
    df["enc_height"] = np.where(np.arange(len(df)) % 2 == 0, 360, 180)
    folds, why = holdout_folds(df, "rung", "c.parquet")
    labels = np.asarray(rung_labels(df))
    assert {f.heldout for f in folds} == {"native", "0.50x"} and "every rung (0.50x, native) left out" in why
    for f in folds:
        assert set(labels[f.test]) == {f.heldout} and f.heldout not in set(labels[f.train])
        assert not set(df["content"].iloc[f.test]) & set(df["content"].iloc[f.train])
