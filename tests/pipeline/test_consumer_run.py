"""The consumer's figures of real runs (issue 53): every figure of the verdict's `consumer` block, of the closing
summary's row and of the report's section recomputed from 03_loso/encodes.parquet (the shared json_run); on a run with
a ladder (the shared ladder_run: native and half height), that file from clips.parquet (the members' own predictions)
and the teacher's frames of predictions.parquet, an encode's rungs apart."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kit.report.summary import closing_rows
from kit.rundir import RunDir
from kit.verdict.kinds import CONSUMER
from tests.kitfiles import verdict_of

pytestmark = pytest.mark.slow  # the shared real run
KEY = ["src_sha256", "encoder", "cq", "enc_width", "enc_height"]


def test_encodes_parquet_is_the_members_predictions_rungs_apart(
        ladder_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = ladder_run
    run = RunDir(out)
    encodes, clips = pd.read_parquet(run.encodes), pd.read_parquet(run.clips)
    preds = pd.read_parquet(run.predictions)
    assert set(encodes["rung"]) == {"native", "0.50x"} and len(clips) == 2 * len(encodes)  # two seeds
    teacher = preds[preds["seed"] == 0].groupby(KEY).agg(vmaf=("vmaf", "mean"), n=("vmaf", "size"))
    mine = encodes.set_index(KEY)
    assert (teacher.loc[mine.index, "n"].to_numpy() == mine["n_frames"].to_numpy()).all()  # one rung's frames
    assert np.allclose(teacher.loc[mine.index, "vmaf"], mine["teacher"])
    ensemble = clips.groupby(KEY)["pred_vmaftune"].mean()  # each seed's member that held the encode out
    assert np.allclose(ensemble.loc[mine.index], mine["predicted"])
    assert ((clips["pred_vmaftune"] >= 0) & (clips["pred_vmaftune"] <= 100)).all()  # the export's clip
    assert np.allclose(mine["miss"], (mine["predicted"] - mine["teacher"]).abs())
    assert (encodes["crf"] == encodes["cq"]).all() and encodes["counted"].all()


def test_every_consumer_figure_is_recomputed_from_encodes_parquet(
        json_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = json_run
    run, verdict = RunDir(out), verdict_of(out)
    c = verdict.consumer
    assert c is not None and verdict.figure_kinds is not None and verdict.figure_kinds["consumer"] == CONSUMER
    encodes = pd.read_parquet(run.encodes)
    counted = encodes[encodes["counted"]]
    within = counted["miss"] <= c.tolerance
    assert c.tolerance == 1.5 and c.crf_range == [10, 51] and c.n_encodes == len(counted)
    assert c.share_within == pytest.approx(within.mean())
    assert c.median_miss == pytest.approx(counted["miss"].median()) and c.max_miss == pytest.approx(
        counted["miss"].max())
    for g in c.groups:
        column = counted[g.by] if g.by != "content" else counted["content"].map(
            counted.groupby("content")["src"].agg(lambda s: " + ".join(sorted(set(s)))))
        part = counted[column == g.group]
        assert (g.n_encodes, g.share_within) == (len(part), pytest.approx((part["miss"] <= c.tolerance).mean()))
        assert g.max_miss == pytest.approx(part["miss"].max())
        # the ceiling beside it: the teacher's own function on the same encodes' mean features
        assert g.ceiling_share == pytest.approx((part["ceiling_miss"] <= c.tolerance).mean())
    assert c.ceiling_share == pytest.approx((counted["ceiling_miss"] <= c.tolerance).mean())
    assert counted["ceiling"].notna().all()
    bands = [g for g in c.groups if g.by == "crf_band"]
    assert [(g.share_within, -g.max_miss) for g in bands] == sorted((g.share_within, -g.max_miss) for g in bands)
    # the teacher recipe's models read no codec block: no slot is untrained, every queried encode counts
    assert verdict.recipe == "teacher" and c.codec_note and not c.untrained and not c.train_hint
    assert (encodes["counted"] == encodes["queried"]).all()
    gates = verdict.consumer_gates or ()
    assert [g.measure for g in gates] == ["consumer_share", "consumer_content_share", "consumer_ceiling_gap"]
    assert not any(g.enabled for g in gates)  # LENIENT turns them off: the block is measured all the same
    # the closing summary's one row, and the report's section, say the gates' figure: the student's share of the
    # encodes the ceiling lands within on (no clip here longer than the window: each encode judged whole)
    pool = counted["ceiling_miss"] <= c.tolerance
    gated = f"{(within & pool).sum() / pool.sum():.1%} of {pool.sum()} held-out encodes within 1.5 VMAF ({CONSUMER})"
    said = dict(closing_rows(out, verdict))["as vmaf-tune uses it"]
    # first what the student adds to its ceiling on every counted encode (issue 97), recomputed here, then the pool
    n, student, ceiling = len(counted), int(within.sum()), int(pool.sum())
    paired = f"the student {student} of {n} held-out encodes within 1.5 VMAF ({student / n:.1%}), its ceiling {ceiling}"
    assert said.startswith(paired) and f"; the gates' pool: {gated}" in said, said
    assert "the input can carry (the ceiling lands within on" in said
    assert f"largest {counted['miss'].max():.2f}" in said and "every encoder slot predicts alike" in said
    page = run.report.read_text()
    assert "As vmaf-tune uses it" in page and "03_loso/encodes.parquet" in page
    assert "04_verdict/consumer_encodes.parquet" in page and gated in page


def test_clips_shorter_than_the_window_give_the_same_figure_both_ways(
        json_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    """The tiny clips (8 frames at 25 fps) are shorter than vmaf-tune's 5 s window: its chunk is the whole clip, so
    the window's figures are the whole encode's to the bit, no window is encoded on its own, and the summary says
    there is no sampling to compare (issue 70; tests/pipeline/test_consumer_sampling.py has clips longer)."""
    out, _ = json_run
    run, verdict = RunDir(out), verdict_of(out)
    encodes = pd.read_parquet(run.encodes)
    assert not encodes["longer"].any() and (encodes["window_frames"] == encodes["n_frames"]).all()
    for whole in ("predicted", "ceiling", "teacher", "miss", "ceiling_miss"):
        assert (encodes[whole].to_numpy() == encodes[f"window_{whole}"].to_numpy()).all(), whole
    assert (encodes["window_gap"] == 0).all() and not run.samples.exists()
    c = verdict.consumer
    assert c is not None and c.sampling is not None
    assert (c.window_share, c.window_ceiling_share, c.n_longer) == (c.share_within, c.ceiling_share, 0)
    assert c.sampling.shares == () and c.sampling.warnings is None and c.sampling.best is None
    said = dict(closing_rows(out, verdict))
    assert "vmaf-tune's sampling" not in said  # said once, by the consumer's row
    assert "judged as vmaf-tune samples: no clip here is longer than its 5 s window, so each encode is judged " \
           "whole" in said["as vmaf-tune uses it"] and "a diagnosis" not in said["as vmaf-tune uses it"]
    assert c.judged is not None and c.judged.n_longer == 0 and c.judged.sampled
