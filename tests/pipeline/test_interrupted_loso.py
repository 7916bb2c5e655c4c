"""A LOSO that is running, then interrupted (issue 24 J), in a real run: `status` during the run says the step is
running, not "interrupted or failed"."""

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

import pytest

from tests.conftest import LENIENT, ROOT, run_kit

pytestmark = pytest.mark.slow  # real runs with a LOSO long enough to be caught running

FIRST_ATTEMPT_S = 4.0  # training seconds before the interrupt


@dataclass
class Interrupted:
    out: Path
    args: list[str]
    status_while_training: dict[str, object]
    first_attempt_s: float  # what the test measured: from the first epoch to the interrupt


def stream(args: list[str | Path]) -> subprocess.Popen[str]:
    """A real `--json` run whose events are read as they come."""
    return subprocess.Popen([sys.executable, "-m", "kit", *map(str, args), "--json"], cwd=ROOT, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def loso_events(proc: subprocess.Popen[str]) -> Iterator[tuple[float, dict[str, object]]]:
    """(when, event) for each of LOSO's events, as they come."""
    assert proc.stdout is not None
    for line in proc.stdout:
        event = json.loads(line)
        if event.get("step") == "loso":
            yield time.monotonic(), event


@pytest.fixture(scope="module")
def interrupted(tiny_refs: Path, tmp_path_factory: pytest.TempPathFactory) -> Interrupted:
    out = tmp_path_factory.mktemp("interrupted") / "out"
    args = ["--ref-dir", str(tiny_refs), "--out-dir", str(out), "--box-id", "resumed", "--epochs", "1500",
            "--batch-size", "64", "--seeds", "0,1", "--cqs", "25,37", *LENIENT]
    proc = stream(["run", *args])
    first = None
    status: dict[str, object] = {}
    for when, event in loso_events(proc):
        if event["event"] != "epoch":
            continue
        first = first or when
        if not status:  # LOSO is training: ask what the out-dir holds, as a user in another shell would
            res = run_kit("status", out, "--json")
            assert res.returncode == 0, res.stdout + res.stderr
            status = json.loads(res.stdout)
        if when - first >= FIRST_ATTEMPT_S:
            break
    if first is None or not status:
        proc.wait(timeout=120)
        pytest.fail(f"the run ended (exit {proc.returncode}) before LOSO trained: {proc.stderr.read()[-3000:]}")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-3000:]
    return Interrupted(out, args, status, time.monotonic() - first)


def test_status_during_a_run_says_the_step_it_is_in_is_running(interrupted: Interrupted) -> None:
    report = interrupted.status_while_training
    states = {s["step"]: (s["state"], s["reason"]) for s in report["steps"]}  # type: ignore[attr-defined]
    assert states["loso"] == ("running", "running now, in the run that holds this out-dir"), states
    assert states["prereqs"][0] == states["corpus"][0] == "done"
    assert states["verdict"][0] == states["bundle"][0] == "pending"
    assert str(report["running"]).startswith("pid ") and report["next_command"] is None
    lines = run_kit("status", interrupted.out).stdout.splitlines()  # the run is over: what it left
    assert any("loso" in ln and "started in this out-dir but did not complete (interrupted" in ln for ln in lines)
