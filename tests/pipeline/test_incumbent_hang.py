"""A hostile --incumbent cannot hang the run (issue 24 C): a valid ONNX model with the kit's inputs whose output
waits on a Loop of 10^13 iterations once kept LOSO at 100 % CPU for ever, deaf to SIGINT and SIGTERM. Its
models now run in a child process: the timeout stops it (exit 2, naming the model), and an interrupt sent to
the kit or to its whole process group stops the run within moments, leaving no process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kit.infra.tree import Tree
from kit.model.incumbent import TIMEOUT_ENV
from kit.rundir import RunDir
from tests import pace
from tests.conftest import ROOT, assert_clean_failure, run_kit, synthetic_corpus
from tests.unit.test_incumbent_check import bundle, processes_mentioning

pytestmark = pytest.mark.slow  # real runs: prereqs, then LOSO's start

STOPPED_WITHIN_S = 20  # from the signal to the kit's exit, in the box's own time (tests/pace.py)


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.parquet"
    synthetic_corpus(n_src=4, rows_per_src=40).to_parquet(path, index=False)
    return path


def test_a_model_that_never_ends_is_stopped_at_the_timeout_naming_it(corpus: Path, tmp_path: Path) -> None:
    out, loop = tmp_path / "out", bundle(tmp_path / "hostile", "loop")
    res = run_kit("run", "--corpus", corpus, "--out-dir", out, "--seeds", "0,1", "--epochs", "5", "--recipe", "frames",
                  "--incumbent", loop, env={TIMEOUT_ENV: "4"}, timeout=120)  # the box's own time: a hang fails it
    assert_clean_failure(res, f"--incumbent model {loop / 'm0.onnx'}: not finished after 4 s on 160 rows; "
                              "it was stopped")
    assert TIMEOUT_ENV in res.stderr  # the hint says how to give a slow model more time
    run = RunDir(out)
    assert not run.loso_seed_files(Tree.open(run.root, make=False)) and not run.incumbent_work.exists()
    assert "kit.model.incumbent_child" in run.log("loso").read_text()  # the quoted command, as for every child


def _wait_for_the_model(run: RunDir, proc: subprocess.Popen[str], limit_s: float = 45) -> None:
    """Until the child runs the hostile model (state.json says so); at most limit_s, then the signal goes anyway
    (a kit that runs the model in its own process never writes that state: it would hang there)."""
    limit = pace.Deadline(limit_s)
    while not limit.expired() and proc.poll() is None:
        try:
            if json.loads((run.incumbent_work / "state.json").read_text()).get("stage") == "run":
                time.sleep(1)  # inside onnxruntime's loop by now
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.2)


@pytest.mark.parametrize(("signum", "to_group"), [
    pytest.param(signal.SIGINT, True, id="group-SIGINT"), pytest.param(signal.SIGTERM, False, id="process-SIGTERM"),
    pytest.param(signal.SIGINT, False, id="process-SIGINT"), pytest.param(signal.SIGTERM, True, id="group-SIGTERM")])
def test_an_interrupt_during_the_model_stops_the_run_at_once(corpus: Path, tmp_path: Path, signum: int,
                                                             to_group: bool) -> None:
    out, loop = tmp_path / "out", bundle(tmp_path / "hostile", "loop")
    run = RunDir(out)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop(TIMEOUT_ENV, None)  # the default timeout: only the interrupt can stop it within the test
    proc = subprocess.Popen([sys.executable, "-m", "kit", "run", "--corpus", str(corpus), "--out-dir", str(out),
                             "--seeds", "0,1", "--epochs", "5", "--recipe", "frames", "--incumbent", str(loop)],
                            cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        _wait_for_the_model(run, proc)
        assert proc.poll() is None, proc.communicate()
        with pace.ticking() as clock:
            os.killpg(proc.pid, signum) if to_group else os.kill(proc.pid, signum)
            _, stderr = pace.communicate(proc, STOPPED_WITHIN_S)
            took = clock.seconds()
    finally:
        if proc.poll() is None:  # a kit deaf to the signal: only SIGKILL ends it
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 128 + signum and took < STOPPED_WITHIN_S, (proc.returncode, took, stderr[-2000:])
    assert "Traceback" not in stderr
    time.sleep(0.5)
    assert not processes_mentioning(str(run.incumbent_work)), "the model's process outlived the run"
    assert not run.loso_seed_files(Tree.open(run.root, make=False))
