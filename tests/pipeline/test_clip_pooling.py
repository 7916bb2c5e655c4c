"""Pooling beyond the mean on a real run (issue 39): every figure of the verdict's `clip_pooling` block recomputed
from 04_verdict/clip_pooling.parquet, that file from the frames of intervals.parquet and of predictions.parquet,
clips.parquet's per-member poolings from predictions.parquet; the report's per-clip table and the summary name
the kind; --max-clip-error holds a run whose pooled clips miss, naming the clip, and passes a loose limit."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kit.model.pooling import POOLS, clipped
from kit.rundir import RunDir
from kit.verdict.kinds import POOLED_CLIP
from tests.conftest import FAST, LENIENT, full_summary, run_kit
from tests.unit.test_pooling import pool

pytestmark = pytest.mark.slow  # real runs
CLIP = ["src_sha256", "encoder", "cq"]


def verdict(out: Path) -> dict:
    (path,) = RunDir(out).step("verdict").glob("[PH]*.json")
    return json.loads(path.read_text())


def errors(frame: pd.DataFrame, stat: str) -> np.ndarray:
    return (frame[f"pred_{stat}"] - frame[f"vmaf_{stat}"]).to_numpy()


def test_every_pooled_figure_is_recomputed_from_the_files(
        json_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = json_run
    run, v = RunDir(out), verdict(out)
    frame = pd.read_parquet(run.clip_pooling)
    block = v["clip_pooling"]
    assert v["figure_kinds"]["clip_pooling"] == POOLED_CLIP
    for e in block["pooled"]:
        miss = errors(frame, e["stat"])
        assert e["n_clips"] == len(frame) > 0
        assert e["rmse"] == pytest.approx(float(np.sqrt(np.mean(miss ** 2))))
        assert e["max_abs_error"] == pytest.approx(float(np.abs(miss).max()))
        assert e["mean_abs_error"] == pytest.approx(float(np.abs(miss).mean()))
        assert e["bias"] == pytest.approx(float(miss.mean()))
    for e in block["by_encoder"]:
        part = frame[frame["encoder"] == e["encoder"]]
        assert e["rmse"] == pytest.approx(float(np.sqrt(np.mean(errors(part, e["stat"]) ** 2))))
    # the file from the frames: the ensemble (mean over seeds of the members that never saw the content), clipped
    rows = pd.read_parquet(run.intervals)
    preds = pd.read_parquet(run.predictions)
    ensemble = preds.groupby("corpus_row").agg(pred=("pred", "mean"), vmaf=("vmaf", "first"))
    keys = rows.set_index("corpus_row")[CLIP]
    for _, clip in frame.iterrows():
        mine = ensemble.loc[keys.index[(keys[CLIP] == clip[CLIP].to_numpy()).all(axis=1)]]
        assert len(mine) == clip["n_frames"]
        for stat in POOLS:
            assert clip[f"vmaf_{stat}"] == pytest.approx(pool(mine["vmaf"].to_numpy(), stat))
            assert clip[f"pred_{stat}"] == pytest.approx(pool(clipped(mine["pred"].to_numpy()), stat))
    # clips.parquet: each member's own poolings of the clips its fold held out
    clips = pd.read_parquet(run.clips)
    seed, first = int(clips["seed"].iloc[0]), clips.iloc[0]
    own = preds[(preds["seed"] == seed) & (preds[CLIP] == first[CLIP].to_numpy()).all(axis=1)]
    for stat in POOLS:
        assert first[f"pred_{stat}"] == pytest.approx(pool(clipped(own["pred"].to_numpy()), stat))
        assert first[f"vmaf_{stat}"] == pytest.approx(pool(own["vmaf"].to_numpy(), stat))
    # the report's per-clip table and the summary say each pooling with its kind
    html = run.report.read_text()
    assert "Per clip, pooled as the consumers pool" in html and "RMSE (per clip, frames pooled)" in html
    assert "1st percentile" in html and "clip_pooling.parquet" in html
    said = full_summary(out)  # the summary's rows (the closing summary points to them in the report)
    assert f"1st percentile: RMSE {block['pooled'][2]['rmse']:.2f}" in said and f"({POOLED_CLIP})" in said


def test_the_clip_error_gate_holds_naming_the_clip_and_a_loose_one_passes(
        json_run: tuple[Path, subprocess.CompletedProcess[str]], tiny_refs: Path, tmp_path: Path) -> None:
    """The session's run trains by the teacher recipe, whose student is its teacher's function there: its pooled clips
    miss by a few 1e-5 (libvmaf's float against the graph's), no error to gate. Its copy trains again by the frames
    recipe, a student that misses by whole VMAF points; then only the verdict runs, with the gate tight and loose."""
    out, _ = json_run
    copy = tmp_path / "out"
    shutil.copytree(out, copy)  # the corpus is kept: LOSO trains again, by the frames recipe
    args = ["--ref-dir", tiny_refs, "--out-dir", copy, "--box-id", "jsonbox", *FAST, *LENIENT, "--recipe", "frames"]
    trained = run_kit("step", "loso", *args)
    assert trained.returncode == 0, trained.stdout[-2000:] + trained.stderr[-3000:]
    assert verdict(out)["recipe"] == "teacher"  # the session's own, untouched
    base = ["step", "verdict", *args]
    tight = run_kit(*base, "--max-clip-error", "p1:0.001")
    assert tight.returncode == 1, tight.stdout[-2000:] + tight.stderr[-3000:]
    v = verdict(copy)
    (gate,) = v["clip_error_gates"]
    assert gate["measure"] == "clip_error:p1" and not gate["passed"] and gate["worst"] in gate["failing"]
    assert "beyond --max-clip-error p1:0.001" in v["recommendation"] and gate["worst"] in v["recommendation"]
    assert v["recipe"] == "frames" and gate["worst_value"] > 0.5  # a miss of the student's, not a float's
    loose = run_kit(*base, "--max-clip-error", "p1:100,min:100")
    assert loose.returncode == 0, loose.stdout[-2000:] + loose.stderr[-3000:]
    assert [g["passed"] for g in verdict(copy)["clip_error_gates"]] == [True, True]
