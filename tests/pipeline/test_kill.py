"""Kill -9 at random instants, Ctrl-C, and resume: nothing lost, nothing duplicated.

The harness kills the real pipeline's whole process group (ffmpeg children
included) at random instants spread over a whole run (corpus, LOSO, bundle),
reruns it, and checks the final rows, verdict and ONNX files equal those of an
uninterrupted run. CI runs KIT_KILL_COUNT=6 instants by default; set
KIT_KILL_COUNT=20 (or more) for the full harness.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import FAST, LENIENT, ROOT, run_kit

pytestmark = pytest.mark.slow  # whole runs of the pipeline

KILL_COUNT = int(os.environ.get("KIT_KILL_COUNT", "6"))
KEY = ["src_sha256", "encoder", "preset", "enc_pix_fmt", "cq", "frame_index", "device"]


def start(args: list[str | Path]) -> subprocess.Popen[str]:
    """The kit as the leader of its own process group, as a terminal would start it."""
    return subprocess.Popen([sys.executable, "-m", "kit", *map(str, args)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def outcome(out: Path) -> tuple[pd.DataFrame, dict, dict[str, bytes]]:
    rows = pd.read_parquet(out / "02_corpus" / "shard.parquet").drop(columns=["enc_time_ms"])
    (verdict_path,) = [p for p in (out / "04_verdict").glob("*.json") if p.stem in ("PROMOTE", "HOLD")]
    verdict = json.loads(verdict_path.read_text())
    for volatile in ("generated_at_utc", "corpus", "provenance"):
        verdict.pop(volatile)
    # whole files: their metadata's corpus_sha256 hashes content, not the measured enc_time_ms
    models = {p.name: p.read_bytes() for p in sorted((out / "05_bundle" / "exports").glob("*.onnx"))}
    return rows, verdict, models


@pytest.fixture(scope="module")
def reference(tiny_refs: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str | Path], float, tuple]:
    out = tmp_path_factory.mktemp("reference")
    args: list[str | Path] = ["run", "--ref-dir", tiny_refs, "--box-id", "killbox", *FAST, *LENIENT]
    begin = time.monotonic()
    res = run_kit(*args, "--out-dir", out)
    assert res.returncode == 0, res.stderr
    return args, time.monotonic() - begin, outcome(out)


def test_kill_9_at_random_instants_then_resume(reference: tuple, tmp_path: Path) -> None:
    args, full_s, expected = reference
    rng = random.Random(20261121)
    instants = sorted(rng.uniform(0.3, full_s * 0.95) for _ in range(KILL_COUNT))
    for i, delay in enumerate(instants):
        out = tmp_path / f"run{i}"
        proc = start([*args, "--out-dir", out])
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 5
        while group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not group_alive(proc.pid), f"kill at {delay:.2f} s left processes behind"
        res = run_kit(*args, "--out-dir", out)
        assert res.returncode == 0, f"rerun after a kill at {delay:.2f} s failed:\n{res.stdout}\n{res.stderr}"
        rows, verdict, models = outcome(out)
        exp_rows, exp_verdict, exp_models = expected
        assert not rows.duplicated(KEY).any()
        pd.testing.assert_frame_equal(rows, exp_rows)
        assert verdict == exp_verdict, f"kill at {delay:.2f} s"
        assert models == exp_models, f"kill at {delay:.2f} s"
        leftovers = [p for p in out.rglob("*") if p.name.startswith(".tmp-")]
        assert not leftovers, leftovers
        work = out / "02_corpus" / "work"
        assert not work.exists() or not any(work.iterdir()), list(work.iterdir())


def test_ctrl_c_stops_fast_kills_children_and_prints_the_resume_command(
        tiny_refs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args: list[str | Path] = ["run", "--ref-dir", tiny_refs, "--out-dir", out, *FAST,
                              "--cqs", "14,18,22,26,30,34,38,42", "--jobs", "1"]
    proc = start(args)
    jobs = out / "02_corpus" / "jobs"
    deadline = time.monotonic() + 60
    while not (jobs.is_dir() and list(jobs.glob("*.json"))) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(jobs.glob("*.json")), "the corpus step never started a job"
    sent = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C at a terminal does
    _, stderr = proc.communicate(timeout=30)
    took = time.monotonic() - sent
    assert proc.returncode == 130, stderr
    assert took <= 2.0, f"stopping took {took:.2f} s"
    assert not group_alive(proc.pid), "ffmpeg children outlived the interrupt"
    assert "resume with: " in stderr and "--out-dir" in stderr.split("resume with: ")[1]
    assert "Traceback" not in stderr
    done = len(list(jobs.glob("*.json")))
    res = run_kit(*args[:-2])  # resume (any parallelism): the finished jobs are reused
    assert res.returncode in (0, 1), res.stderr
    assert f"{done} already done" in res.stdout, res.stdout
