"""LOSO's training split into tasks (issue 27, item 3), in real processes: three `step loso --train-task auto` tasks
placed by KIT_ARRAY_TASK, run out of order, one twice, one whose files were deleted and then run again, and the
gather (`run --train-tasks 3`), end with the files of one process training everything: the LOSO reports, folds and
predictions, baselines, verdict and the exported ONNX, byte for byte (bench/compare_runs.py)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from kit.rundir import RunDir
from tests import pace
from tests.conftest import FAST, LENIENT, ROOT, run_kit

pytestmark = pytest.mark.slow  # seven real processes on the tiny corpus

sys.path.insert(0, str(ROOT / "bench"))
from compare_runs import compare  # noqa: E402


def members(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in RunDir(out).members.glob("*/*.npy")}


def task(k: int, args: list[str | Path]) -> subprocess.CompletedProcess[str]:
    res = run_kit("step", "loso", "--train-task", "auto", *args, env={"KIT_ARRAY_TASK": f"{k}/3"})
    assert res.returncode == 0, res.stdout + res.stderr
    return res


def test_tasks_in_any_order_then_the_gather_make_the_one_node_run_byte_for_byte(
        json_run: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    corpus = json_run[0] / "02_corpus" / "shard.parquet"
    one, split = tmp_path / "one", tmp_path / "split"
    flags: list[str | Path] = ["--corpus", corpus, "--box-id", "split", *FAST, *LENIENT]
    res = run_kit("run", "--out-dir", one, *flags)
    assert res.returncode == 0, res.stdout + res.stderr
    assert not RunDir(one).members.exists()  # gathered, then removed: the reports hold the figures

    args = ["--out-dir", split, *flags]
    shares = {}
    for k in (3, 1):
        before = set(members(split))
        out = task(k, args).stdout
        shares[k] = set(members(split)) - before
        assert f"task {k}/3: {len(shares[k])} of LOSO's " in out and f"trained {len(shares[k])}" in out, out
    again = members(split)
    out = task(1, args).stdout  # run twice: the second finds its share on disk and trains nothing
    assert "trained 0" in out and members(split) == again, out
    before = set(members(split))
    task(2, args)
    shares[2] = set(members(split)) - before
    assert all(shares.values()) and sum(map(len, shares.values())) == len(members(split))
    assert (RunDir(split).log("loso").parent / "train-task2of3.log").is_file()

    # task 2's files lost: the gather refuses, naming them and the task that trains them, and changes nothing
    kept = members(split)
    for path in RunDir(split).members.glob("*/*.npy"):
        if path.name in shares[2]:
            path.unlink()
    res = run_kit("run", "--train-tasks", "3", *args)
    assert res.returncode == 2, res.stdout + res.stderr
    error = next(line for line in res.stderr.splitlines() if line.startswith("error: "))
    assert f"{len(shares[2])} of {len(kept)} LOSO member(s) missing" in error and "task(s) 2 of 3" in error, error
    hint = next(line for line in res.stderr.splitlines() if line.startswith("hint: "))
    again_cmd = hint.split("train them again: ")[1].split("; then rerun")[0]
    assert "step loso --settings " in again_cmd and again_cmd.endswith(" --train-task 2/3"), hint
    assert not RunDir(split).loso_seed(0).exists()
    # the command printed runs as printed, where it was printed (the kit spells itself relative to that folder,
    # .venv/bin/python): the gather's settings (run.json), task 2 alone
    res = pace.run(shlex.split(again_cmd), cwd=ROOT, capture_output=True, text=True, timeout=600,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 0, res.stdout + res.stderr  # resumed: only task 2's members, the same bytes
    assert members(split) == kept

    # each member's record: the task that trained it, its sha256, its share of that task's training seconds
    records = [json.loads(p.read_text()) for p in RunDir(split).members.glob("*/*.json")]
    assert len(records) == len(kept) and {r["made_by"] for r in records} == {f"training task {k}/3" for k in (1, 2, 3)}
    assert all(r["seconds"] >= 0 for r in records) and sum(r["seconds"] for r in records) > 0
    tasks_total = round(sum(r["seconds"] for r in records), 3)

    res = run_kit("run", "--train-tasks", "3", *args)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"{len(kept)} of {len(kept)} members already trained" in res.stdout, res.stdout
    assert not RunDir(split).members.exists()
    assert compare(one, split) == []
    report = json.loads(RunDir(split).loso_seed(0).read_text())
    assert "train_attempts" not in report  # the refused gather was no attempt
    # train_seconds is the training of the members behind the figures: the tasks' (recomputed from their records,
    # which 03_loso/training.json keeps once the members are removed)
    assert abs(report["train_tasks_seconds"] - tasks_total) < 0.01, report
    assert abs(report["train_seconds"] - tasks_total) < 0.01, report
    kept_records = json.loads(RunDir(split).training.read_text())["members"]
    assert abs(sum(r["seconds"] for r in kept_records) - tasks_total) < 0.01
    assert sorted(r["sha256"] for r in kept_records) == sorted(r["sha256"] for r in records)
    status = json.loads(RunDir(split).status("loso").read_text())
    assert status["summary"]["tasks_seconds"] == report["train_tasks_seconds"], status["summary"]
    assert "train_tasks_seconds" not in json.loads(RunDir(one).loso_seed(0).read_text())  # one process: no tasks
    assert list((split / "05_bundle" / "exports").glob("*.onnx")), "PROMOTE exports ONNX: compared above"
    # a task run once LOSO is complete finds nothing to do
    out = task(2, args).stdout
    assert "LOSO is up to date" in out and not RunDir(split).members.exists(), out
