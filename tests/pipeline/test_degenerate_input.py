"""Degenerate input gets a sentence (issue 37, item 8 b and c): a teacher that never varies is said, with no
warning on stderr and a mean_plcc that stays a number; a holdout that cannot keep a row says how many rows it left
out and why."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kit.model.holdout import holdout_folds
from kit.rundir import RunDir
from tests.conftest import ROOT, full_summary, run_kit, synthetic_corpus

pytestmark = pytest.mark.slow  # real runs

# the frames recipe: the teacher recipe first proves libvmaf's function on every row, which a synthetic corpus's
# scores (a constant, random features) are not
QUICK = ["--seeds", "0,1", "--epochs", "2", "--recipe", "frames"]


def test_a_constant_teacher_is_a_sentence_not_a_warning_and_mean_plcc_stays_a_number(tmp_path: Path) -> None:
    corpus, out = tmp_path / "flat.parquet", tmp_path / "out"
    synthetic_corpus(n_src=5, rows_per_src=30).assign(vmaf=100.0).to_parquet(corpus, index=False)
    res = run_kit("run", "--corpus", corpus, "--out-dir", out, *QUICK, cwd=ROOT)
    assert res.returncode == 1, res.stderr[-3000:]  # HOLD
    assert "Warning" not in res.stderr and "Warning" not in res.stdout, res.stderr[:2000]
    run = RunDir(out)
    for seed in (0, 1):
        report = json.loads(run.loso_seed(seed).read_text())
        assert isinstance(report["mean_plcc"], float) and report["mean_plcc"] == 0.0  # upstream's gate: float(...)
        assert len(report["folds_without_correlation"]) == 5
    verdict = json.loads((run.step("verdict") / "HOLD.json").read_text())
    said = verdict["recommendation"]
    assert "a constant teacher" in said and "no correlation to measure" in said and "nan" not in said
    assert "is below 0.95" not in said  # no figure stands for the missing one
    assert "the ridge baseline predicts every held-out frame exactly" in said


def one_row_encoder_corpus(path: Path) -> pd.DataFrame:
    """Five sources of libx264, and one frame of s0 encoded with libx265 too."""
    df = synthetic_corpus(n_src=5, rows_per_src=40, seed=2)
    extra = df[df["src"] == "s0"].head(1).assign(encoder="libx265", vmaf=lambda d: np.clip(d["vmaf"] + 1, 0, 100))
    both = pd.concat([df, extra], ignore_index=True)
    both.to_parquet(path, index=False)
    return both


def test_a_holdout_that_cannot_keep_a_row_says_how_many_it_left_out(tmp_path: Path) -> None:
    corpus, out = tmp_path / "odd.parquet", tmp_path / "out"
    df = one_row_encoder_corpus(corpus)
    _, why = holdout_folds(df, "encoder", str(corpus))
    # libx264 held out in s0's fold: the only other encoder's row is in that fold, so nothing is left to train on
    assert "40 of 201 rows left out (40 of libx264)" in why and "no row of another encoder" in why
    flags = ["run", "--corpus", corpus, "--out-dir", out, *QUICK, "--holdout", "encoder", "--min-content-groups",
             "3"]
    res = run_kit(*flags, cwd=ROOT)
    assert res.returncode in (0, 1), res.stderr[-3000:]
    run = RunDir(out)
    held = pd.read_parquet(run.holdout("encoder"))
    assert held.groupby("seed")["corpus_row"].nunique().eq(len(df) - 40).all()
    verdict = json.loads(next(p for p in run.step("verdict").glob("*.json") if p.stem in ("PROMOTE", "HOLD"))
                         .read_text())
    (block,) = verdict["holdout"]
    assert block["rows_left_out"] == 40 and "40 of 201 rows were left out" in block["left_out"]
    assert "libx264 40" in block["left_out"] and "40 of 201 rows left out" in block["scheme"]
    assert "rows left out 40 of 201 rows were left out" in full_summary(out)
