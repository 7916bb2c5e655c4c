"""A run with the default ladder (the shared ladder_run: native and half height) says per encoder how far its rows
reach on the teacher's scale and how the ensemble does per rung; each figure recomputed here from the file the kit
wrote it from (the shard for the teacher ranges, intervals.parquet for the per-rung errors), and `corpus info`
shows each encoder's grid and the rungs; every parquet file it wrote holds its pages' checksums."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from kit.errors import InputError
from kit.infra.parquet import read_parquet
from kit.report.summary import summary_rows
from kit.rundir import RunDir
from tests.conftest import run_here
from tests.kitfiles import verdict_of
from tests.unit.test_parquet_write import page_flipped

pytestmark = pytest.mark.slow  # the shared real run


def test_the_teacher_range_per_encoder_is_recomputed_from_the_shard(
        ladder_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = ladder_run
    verdict = verdict_of(out)
    shard = pd.read_parquet(RunDir(out).shard)
    assert set(shard["enc_height"]) == {144, 72} and set(shard["scaler_down"]) == {"", "lanczos"}
    means = shard.groupby(["src_sha256", "encoder", "cq", "enc_height"])["vmaf"].mean()
    teachers = verdict.corpus.teachers or ()
    assert {t.encoder for t in teachers} == set(shard["encoder"]) and verdict.corpus.rungs == ["native", "0.50x"]
    for t in teachers:
        mine = means.xs(t.encoder, level="encoder")
        assert (t.lo, t.hi, t.encodes) == (round(float(mine.min()), 3), round(float(mine.max()), 3), len(mine))
        assert t.cq_grid == [25, 37] and t.rungs == ["native", "0.50x"]
    said = dict(summary_rows(out, verdict))
    t = teachers[0]
    assert said[f"teacher range {t.encoder}"].startswith(f"{t.lo:.1f} to {t.hi:.1f} (mean score of each of its "
                                                         f"{t.encodes} encodes); cq 25,37; rungs native, 0.50x")
    page = (RunDir(out).report).read_text()
    assert "Teacher range per encoder" in page and "ladder rung (share of the source&#x27;s height)" in page


def test_the_per_rung_breakdown_is_recomputed_from_the_held_out_rows(
        ladder_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = ladder_run
    verdict = verdict_of(out)
    rows = pd.read_parquet(RunDir(out).intervals)
    rungs = [g for g in verdict.breakdown or () if g.by == "rung"]
    assert [g.group for g in rungs] == ["0.50x", "native"]
    for g in rungs:
        part = rows[(rows["enc_height"] == (72 if g.group == "0.50x" else 144))]
        y, p = part["vmaf"].to_numpy(), part["pred"].to_numpy()
        assert g.n_frames == len(part) and np.isclose(g.rmse, np.sqrt(np.mean((p - y) ** 2)))
        assert np.isclose(g.plcc, np.corrcoef(y, p)[0, 1])


def test_corpus_info_shows_each_encoders_grid_and_the_rungs(
        ladder_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = ladder_run
    res = run_here("corpus", "info", out)  # the CLI in this process (conftest.run_here): no new interpreter
    assert res.returncode == 0, res.stderr
    assert "cq grid   libx264: 25, 37" in res.stdout and "rungs     native, 0.50x" in res.stdout
    info = json.loads(run_here("corpus", "info", out, "--json").stdout)
    assert info["rungs"] == ["native", "0.50x"] and info["grids"] == {"libx264": [25, 37]}


def test_a_scaled_job_says_its_rung_in_its_events(ladder_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    _, res = ladder_run
    parsed = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    done = [p for p in parsed if p["event"] == "job_done"]
    assert len(done) == 16 and sum(str(p["job_id"]).endswith("__88x72") for p in done) == 8  # 4 clips x 2 cqs x 2
    (planned,) = [p for p in parsed if p["event"] == "jobs_planned"]  # its line counts the rungs too (issue 98)
    assert planned["total"] == len(done) and planned["rungs"] is True, planned
    started = [p for p in parsed if p["event"] == "job_started"]
    assert sorted({str(p["rung"]) for p in started}) == ["", "88x72"]
    assert all(str(p["job_id"]).endswith(f"__{p['rung']}") == bool(p["rung"]) for p in started)


def test_the_model_cards_say_the_model_takes_no_scale_input(
        ladder_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    """The decision on a scale input and its measurement, in each model's card and each vmaf-tune sidecar."""
    from kit.model.contract import SCALE_INPUT_NOTE

    out, _ = ladder_run
    cards = [json.loads(p.read_text()) for p in sorted(RunDir(out).exports.rglob("*.json"))]
    said = [c["resolution"] for c in cards if isinstance(c, dict) and "resolution" in c]
    assert len(said) >= 4  # the kit's own cards and the vmaf-tune sidecars of its 2 seeds
    assert all(r == {"rungs": ["native", "0.50x"], "scale_input": False, "note": SCALE_INPUT_NOTE} for r in said)


def test_every_parquet_file_of_the_run_holds_its_pages_checksums(
        ladder_run: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    """The corpus and its jobs' rows, LOSO's and the verdict's tables (what the tarball sends the lead): a copy of
    each with a byte of a page flipped is refused by the kit's reader naming the checksum (kit.infra.parquet), never
    read as other values."""
    out, _ = ladder_run
    files = sorted(p for p in out.rglob("*.parquet") if pq.ParquetFile(p).metadata.num_rows)
    assert {"02_corpus", "03_loso", "04_verdict"} <= {p.relative_to(out).parts[0] for p in files}
    assert {"shard.parquet", "predictions.parquet", "intervals.parquet"} <= {p.name for p in files}
    assert any(p.parent.name == "jobs" for p in files)  # each job's rows, read back against its ledger
    for k, path in enumerate(files):
        copy = tmp_path / f"{k}-{path.name}"
        copy.write_bytes(page_flipped(path.read_bytes()))
        with pytest.raises(InputError, match="CRC checksum verification failed"):
            read_parquet(copy, max_rows=None)
