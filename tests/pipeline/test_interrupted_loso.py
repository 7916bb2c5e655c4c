"""A LOSO that is running, interrupted and resumed (issue 24 J), in real runs: `status` during the run says the
step is running, not "interrupted or failed"; after Ctrl-C and a rerun, train_seconds is the training of the members
the figures use, whichever run trained them, recomputable from 03_loso/training.json."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kit.rundir import RunDir
from tests import pace
from tests.conftest import LENIENT, ROOT, run_kit

pytestmark = pytest.mark.slow  # real runs with a LOSO long enough to be caught running

# the ensemble trains a few seconds on an idle 2-core box, long enough to be caught running; the interrupt comes
# once its members are written, while the baselines (linear, mlp_small) still train: the first attempt always
# leaves finished members for the resume to keep, and members for it to train
EPOCHS = 1000
WRITTEN_WAIT_S = 120.0  # how long a finished group's members may take to appear on disk, in the box's own time


@dataclass
class Interrupted:
    out: Path
    args: list[str]
    status_while_training: dict[str, Any]
    first_attempt_s: float  # what the test measured: from LOSO's first epoch to the interrupt
    kept: dict[str, dict[str, Any]]  # the member records the first attempt wrote, by file name


def stream(args: list[str | Path]) -> subprocess.Popen[str]:
    """A real `--json` run whose events are read as they come."""
    return subprocess.Popen([sys.executable, "-m", "kit", *map(str, args), "--json"], cwd=ROOT, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def records(folder: Path) -> dict[str, dict[str, Any]]:
    """The member records in a LOSO's members folder (kit.model.tasks: a record only once its file is in place)."""
    return {p.name: json.loads(p.read_text()) for p in folder.glob("*/*.json")}


def stop_once_written(proc: subprocess.Popen[str], folder: Path, what: str) -> None:
    """SIGINT to `proc` as soon as a finished group's members are on disk (the ensemble has trained its last epoch:
    they are written now), while it still trains the rest."""
    limit = pace.Deadline(WRITTEN_WAIT_S)  # tests/pace.py
    while not list(folder.glob("*/fr_regressor_v2.*.json")):
        assert proc.poll() is None, f"{what} ended before it was interrupted: raise EPOCHS"
        assert not limit.expired(), f"no member of {what} written {WRITTEN_WAIT_S:.0f} s after its last epoch"
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)


def loso_events(proc: subprocess.Popen[str]) -> Iterator[tuple[float, dict[str, Any]]]:
    """(when, event) for each of LOSO's events, as they come."""
    assert proc.stdout is not None
    for line in proc.stdout:
        event = json.loads(line)
        if event.get("step") == "loso":
            yield time.monotonic(), event


@pytest.fixture(scope="module")
def interrupted(tiny_refs: Path, tmp_path_factory: pytest.TempPathFactory) -> Interrupted:
    out = tmp_path_factory.mktemp("interrupted") / "out"
    args = ["--ref-dir", str(tiny_refs), "--out-dir", str(out), "--box-id", "resumed", "--epochs", str(EPOCHS),
            "--batch-size", "64", "--seeds", "0,1", "--cqs", "25,37", *LENIENT]
    proc = stream(["run", *args])
    first = None
    status: dict[str, Any] = {}
    for when, event in loso_events(proc):
        assert event["event"] != "step_finished", "LOSO ended before it was interrupted: raise EPOCHS"
        if event["event"] != "epoch":
            continue
        first = first or when
        if not status:  # LOSO is training: ask what the out-dir holds, as a user in another shell would
            res = run_kit("status", out, "--json")
            assert res.returncode == 0, res.stdout + res.stderr
            status = json.loads(res.stdout)
        if event["epoch"] >= event["epochs"]:
            break
    if first is None or not status:
        pace.wait(proc, 120)
        pytest.fail(f"the run ended (exit {proc.returncode}) before LOSO trained: {proc.stderr.read()[-3000:]}")
    folder = RunDir(out).members
    stop_once_written(proc, folder, "LOSO")
    trained = time.monotonic() - first
    _, err = pace.communicate(proc, 120)
    assert proc.returncode == 130, err[-3000:]
    return Interrupted(out, args, status, trained, records(folder))


def test_status_during_a_run_says_the_step_it_is_in_is_running(interrupted: Interrupted) -> None:
    report = interrupted.status_while_training
    states = {s["step"]: (s["state"], s["reason"]) for s in report["steps"]}
    assert states["loso"] == ("running", "running now, in the run that holds this out-dir"), states
    assert states["prereqs"][0] == states["corpus"][0] == "done"
    assert states["verdict"][0] == states["bundle"][0] == "pending"
    assert str(report["running"]).startswith("pid ") and report["next_command"] is None
    lines = run_kit("status", interrupted.out).stdout.splitlines()  # the run is over: what it left
    assert any("loso" in ln and "started in this out-dir but did not complete (interrupted" in ln for ln in lines)


def test_train_seconds_after_a_resumed_loso_is_its_members_training(interrupted: Interrupted) -> None:
    run = RunDir(interrupted.out)
    kept = interrupted.kept  # what the first run finished: the ensemble's members at least
    assert any(name.startswith("fr_regressor_v2.") for name in kept), kept
    proc = stream(["step", "loso", *interrupted.args])  # the resume: the same settings, LOSO alone
    _, err = pace.communicate(proc, 600)
    assert proc.returncode == 0, err[-3000:]
    training = json.loads(run.training.read_text())["members"]
    first = {r["process"] for r in kept.values()}
    assert all(r in training for r in kept.values())  # finished members are reused, not trained again
    runs = {r["process"] for r in training}
    assert len(runs) == 2, (runs, first)  # the interrupted run's members and the resume's: both trained some
    total = sum(r["seconds"] for r in training)
    for seed in (0, 1):
        report = json.loads(run.loso_seed(seed).read_text())
        assert abs(report["train_seconds"] - total) < 0.01, (report["train_seconds"], total)
        assert report.get("train_attempts") == 2, (report, runs, first)
    assert "2 runs of this step trained its members" in err  # said on stderr (--json)
    assert not run.members.exists()  # LOSO completed: training.json holds the members' records
    status = json.loads(run.status("loso").read_text())
    assert status["summary"]["seconds"] == report["train_seconds"] and "training.json" in " ".join(
        json.loads(run.status("loso").read_text())["outputs"])


def test_an_interrupted_training_task_keeps_the_members_it_finished(
        json_run: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    """`step loso --train-task 1/2` stopped by Ctrl-C: every member it wrote has its record (the task, its process,
    the file's sha256); run again, the task trains only what is missing and keeps what the first attempt made."""
    out = tmp_path / "out"
    corpus = json_run[0] / "02_corpus" / "shard.parquet"
    args: list[str | Path] = ["step", "loso", "--train-task", "1/2", "--corpus", corpus, "--out-dir", out,
                              "--box-id", "task", "--epochs", str(EPOCHS), "--batch-size", "64", "--seeds", "0,1",
                              "--recipe", "frames", *LENIENT]  # the teacher recipe trains no network on it: settled
    proc = stream(args)
    for _, event in loso_events(proc):
        assert event["event"] != "step_finished", "the task ended before it was interrupted: raise EPOCHS"
        if event["event"] == "epoch" and event["epoch"] >= event["epochs"]:
            break
    else:
        pytest.fail(f"the task ended (exit {pace.wait(proc, 120)}) before it trained: "
                    f"{proc.stderr.read()[-3000:] if proc.stderr else ''}")
    stop_once_written(proc, RunDir(out).members, "the task")
    _, err = pace.communicate(proc, 120)
    assert proc.returncode == 130, err[-3000:]
    folder = RunDir(out).members
    kept = {p.stem: json.loads(p.read_text()) for p in folder.glob("*/*.json")}
    assert kept and {p.stem for p in folder.glob("*/*.npy")} >= set(kept)  # a record only once its file is in place
    for record in kept.values():
        assert record["made_by"] == "training task 1/2" and record["process"].startswith("pid ")
    res = run_kit(*args)
    assert res.returncode == 0, res.stdout + res.stderr
    after = {p.stem: json.loads(p.read_text()) for p in folder.glob("*/*.json")}
    assert all(after[name] == record for name, record in kept.items())  # not trained again
    assert f"{len(kept)} already in" in res.stdout, res.stdout
