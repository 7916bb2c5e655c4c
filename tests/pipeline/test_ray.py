"""`ensemble-kit ray` on a real Ray cluster: a local one the command starts (no network), two shard tasks and the
union task on the tiny clips; the union's verdict, figures and models equal one local run on the same clips;
the same command again redoes nothing; a failing shard is named, exit 2."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from kit.verdict.document import NOTHING_TO_SEND, SEND_BACK
from tests.conftest import FAST, LENIENT, ROOT, assert_same_predictions, run_kit

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray", reason="Ray is an optional extra (pip install 'ensemble-kit[ray]'); `.ci/run` "
                                       "and `nox -s release` install it")

FLAGS = ["--encoders", "libx264", *FAST, *LENIENT]


@pytest.fixture(scope="module")
def ray_run(tiny_refs: Path, x264_run: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """The union on Ray, and the session's one local run of the same flags (x264_run) it must equal."""
    root = tmp_path_factory.mktemp("ray") / "shared"
    res = run_kit("ray", "--shards", "2", "--train-tasks", "2", "--ref-dir", tiny_refs, "--out-dir", root, "--box-id",
                  "raybox", *FLAGS, env={"RAY_ADDRESS": ""})
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return root, x264_run, res.stderr


def content(corpus: Path) -> pd.DataFrame:
    """A corpus's rows without what differs between boxes making the same rows (a timing, the box id)."""
    df = pd.read_parquet(corpus).drop(columns=["enc_time_ms", "box_id"])
    return df.sort_values(["src_sha256", "encoder", "cq", "frame_index"]).reset_index(drop=True)


def verdict(out: Path) -> dict[str, object]:
    return json.loads(next((out / "04_verdict").glob("PROMOTE.json")).read_text())


def test_the_union_on_ray_is_the_run_on_one_box(ray_run: tuple[Path, Path, str]) -> None:
    root, local, stderr = ray_run
    assert "started a local Ray cluster" in stderr and "shard 1/2 done" in stderr and "shard 2/2 done" in stderr
    assert "gather done" in stderr and "exit 0 (PROMOTE)" in stderr
    # --train-tasks 2: the union task merged, two training tasks trained LOSO's members, the gather used them
    assert "training task 1/2 done" in stderr and "training task 2/2 done" in stderr and "gather done" in stderr
    for k in (1, 2):  # each task placed itself by KIT_ARRAY_TASK: its own half of the clips
        manifest = json.loads((root / "shards" / f"shard{k}of2" / "02_corpus" / "shard.manifest.json").read_text())
        assert manifest["shard"]["label"] == f"{k}/2" and manifest["box_id"] == f"raybox-shard{k}of2"
    # the union holds exactly the local run's rows (but for who encoded them), and trains the same figures
    pd.testing.assert_frame_equal(content(root / "union.parquet"), content(local / "02_corpus" / "shard.parquet"))
    union, alone = verdict(root / "union"), verdict(local)
    for key in ("verdict", "gate", "per_fold", "worst_folds", "seeds", "baselines"):
        assert union[key] == alone[key], key
    # the same advice, but that the union's results are the lead's own: nothing to send
    kept = f"; {NOTHING_TO_SEND['lead']}"
    assert union["recommendation"] == alone["recommendation"].replace(f" and {SEND_BACK}", kept)
    rel = "03_loso/folds.parquet"  # trained in two tasks, to the bit
    assert (root / "union" / rel).read_bytes() == (local / rel).read_bytes(), rel
    assert_same_predictions(root / "union" / "03_loso/predictions.parquet", local / "03_loso/predictions.parquet")
    logs = sorted(p.name for p in (root / "ray" / "logs").iterdir())
    assert logs == ["gather.log", "shard1of2.log", "shard2of2.log", "train-task1of2.log", "train-task2of2.log",
                    "union.log"]
    assert json.loads((root / "ray" / "plan.json").read_text())["shards"] == 2


def test_the_same_command_again_redoes_nothing(ray_run: tuple[Path, Path, str], tiny_refs: Path) -> None:
    root = ray_run[0]
    status = [root / "shards" / f"shard{k}of2" / "02_corpus" / "status.json" for k in (1, 2)]
    status.append(root / "union" / "04_verdict" / "status.json")
    before = {p: p.read_bytes() for p in status}
    res = run_kit("ray", "--shards", "2", "--train-tasks", "2", "--ref-dir", tiny_refs, "--out-dir", root, "--box-id",
                  "raybox", *FLAGS, env={"RAY_ADDRESS": ""})
    assert res.returncode == 0, res.stderr[-3000:]
    assert {p: p.read_bytes() for p in status} == before  # no step completed again
    log = (root / "ray" / "logs" / "shard1of2.log").read_text()
    assert log.count("skipped: up to date") == 2, log[-3000:]  # prereqs and corpus, the second time
    trained = (root / "ray" / "logs" / "train-task1of2.log").read_text()
    assert "task 1/2: LOSO is up to date" in trained, trained[-3000:]  # nothing trained again


def test_a_failing_shard_is_named_and_nothing_runs_after_it(tiny_refs: Path, tmp_path: Path) -> None:
    broken = tmp_path / "ffmpeg"
    broken.write_text("#!/bin/sh\necho 'this ffmpeg is broken' >&2\nexit 1\n")
    broken.chmod(broken.stat().st_mode | stat.S_IXUSR)
    res = run_kit("ray", "--shards", "2", "--ref-dir", tiny_refs, "--out-dir", tmp_path / "o", "--ffmpeg", broken,
                  *FLAGS, env={"RAY_ADDRESS": "", "PATH": os.environ["PATH"]})
    assert res.returncode == 2, res.stderr[-3000:]
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and "failed on" in errors[0] and "step prereqs" in errors[0], res.stderr[-3000:]
    assert "run the same command again" in res.stderr
    assert not (tmp_path / "o" / "union.parquet").exists() and not (tmp_path / "o" / "union").exists()


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stop_signal_stops_every_task_and_what_it_runs(tiny_refs: Path, tmp_path: Path, ffmpeg: str, signum: int,
                                                         code: int) -> None:
    """Ctrl-C or SIGTERM to the driver interrupts each running task (Ray's own SIGTERM handler, which would just
    exit, is replaced by the kit's); the kit command a task runs ends with its ffmpegs; 128 + the signal."""
    slow = tmp_path / "slow-ffmpeg"  # encodes wait 60 s, so the tasks are caught in the middle
    slow.write_text(f"#!/bin/sh\ncase \"$*\" in *-version*|*-filters*|*-encoders*|*-hwaccels*|*testsrc2*|*' null '*) "
                    f"exec {ffmpeg} \"$@\";; esac\nsleep 60\nexec {ffmpeg} \"$@\"\n")
    slow.chmod(slow.stat().st_mode | stat.S_IXUSR)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "kit", "ray", "--shards", "2", "--ref-dir", str(tiny_refs),
                             "--out-dir", str(out), "--ffmpeg", str(slow), *FLAGS], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "RAY_ADDRESS": ""})
    # a local Ray cluster starts, then each task's kit command: on a loaded box (the other worker in the kill
    # harness, dealt out at the same time) that took over 120 s once
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(running(out)) < 2:  # both tasks are inside a slow encode
        time.sleep(0.5)
    assert len(running(out)) >= 2, running(out)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == code, err[-3000:]
    assert "interrupted: 2 task(s) stopped" in err and "resume with:" in err
    time.sleep(2)
    assert running(out) == [], running(out)


def running(out: Path) -> list[str]:
    """Every process whose command line names the out-dir (the kit commands and their encodes)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(out) in text and "slow-ffmpeg" in text:
            found.append(text)
    return found
