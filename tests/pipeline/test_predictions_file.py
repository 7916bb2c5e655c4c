"""predictions.parquet says what each held-out row is (issue 37, item 7): its source, box and content group, and a
documented key back to the corpus the run read: `corpus_row` (the row's position in that file) and the corpus's
unique key (kit.corpus.dedup.KEY). A box run's predictions joined to its own 02_corpus/shard.parquet, either way,
give back the verdict's per-source RMSE."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kit.corpus.dedup import KEY
from kit.rundir import RunDir

pytestmark = pytest.mark.slow  # the shared real run


def test_a_box_run_s_predictions_join_its_own_shard_and_give_back_the_verdict_s_rmse(
        json_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = json_run
    run = RunDir(out)
    pred = pd.read_parquet(run.predictions)
    shard = pd.read_parquet(run.shard)
    assert "row" not in pred  # the column that meant a row of the training order, which no file has
    assert {"corpus_row", "src", "src_sha256", "content", "box_id", *KEY} <= set(pred.columns)
    assert (pred["box_id"] == "jsonbox").all()
    # by position: corpus_row is the row's place in the shard the run read
    at = shard.iloc[pred["corpus_row"].to_numpy()].reset_index(drop=True)
    for col in ("vmaf", "src", "src_sha256", "content", "box_id", *KEY):
        assert (at[col].to_numpy() == pred[col].to_numpy()).all(), col
    # by the corpus's unique key: the same rows
    by_key = pred.merge(shard[[*KEY, "vmaf"]], on=list(KEY), how="left", suffixes=("", "_shard"), validate="m:1")
    assert len(by_key) == len(pred) and (by_key["vmaf"] == by_key["vmaf_shard"]).all()
    # the verdict's per-source RMSE, recomputed from the joined rows
    verdict = json.loads(next(p for p in run.step("verdict").glob("*.json") if p.stem in ("PROMOTE", "HOLD"))
                         .read_text())
    joined = pred.assign(teacher=at["vmaf"].to_numpy(), err=lambda d: d["pred"] - d["teacher"])
    rmse = joined.groupby(["seed", "src"])["err"].apply(lambda e: float(np.sqrt(np.mean(e ** 2))))
    assert len(verdict["per_fold"]) == len(rmse) == 8  # 2 seeds x 4 sources
    for row in verdict["per_fold"]:
        assert row["rmse"] == pytest.approx(rmse.loc[(row["seed"], row["src"])], rel=1e-12)
