"""A suspended box finishes what a quiet one does (issue 91, item 1): the kit and every process it started are stopped
with SIGSTOP mid-corpus, as `scontrol suspend` (or a laptop's lid, a shell's Ctrl-Z of the whole job) stops them,
for longer than any limit a child has, then continued with SIGCONT. 2.3.0 then killed the children at their limits
(`ffmpeg timed out after 189 s encoding a.y4m at libx264 cq 37`, `fix: the same job fails again`) and ended 0 without
two clips of six, the same command again saying `up to date`. Now the run ends with its verdict, every clip used,
nothing left out, the step's summary asking nothing again.

Two stops: 40 s over KIT_TIMEOUT_S=20, which caps every child's limit; and the issue's, 200 s over the kit's own
limits (a job of these clips may go 128 s without a frame, a look 30 s).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests import pace
from tests.conftest import FAST, KIT, LENIENT, ROOT, TINY_SOURCES, render, tiny_links

MORE = {"epsilon": "cellauto=s=176x144:r=25:rule=110:seed=3", "zeta": "gradients=s=176x144:r=25:seed=5"}


def descendants(root: int) -> list[int]:
    """`root` and every process below it, from /proc (a child of the kit is in a session of its own, still its
    child)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, todo = [root], [root]
    while todo:
        pid = todo.pop()
        kids = [p for p, ppid in parents.items() if ppid == pid]
        found += kids
        todo += kids
    return found


def corpus_child(kit: int) -> bool:
    """Whether one of the kit's processes is a corpus job's ffmpeg (its argv under 02_corpus)."""
    for pid in descendants(kit)[1:]:
        try:
            if b"02_corpus" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return True
        except OSError:
            continue
    return False


def suspend(kit: subprocess.Popen[str], seconds: float) -> list[int]:
    """Stop the kit and everything it started (again, for what it started as the first stop went out), wait
    `seconds`, continue them; the pids stopped."""
    stopped: list[int] = []
    for _ in range(2):
        for pid in descendants(kit.pid):
            if pid not in stopped:
                try:
                    os.kill(pid, signal.SIGSTOP)
                    stopped.append(pid)
                except ProcessLookupError:
                    continue
    time.sleep(seconds)
    for pid in reversed(stopped):
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            continue
    return stopped


@pytest.mark.parametrize(("hold_s", "env"), [
    pytest.param(40.0, {"KIT_TIMEOUT_S": "20"}, marks=pytest.mark.slow, id="40s-over-a-20s-cap"),
    pytest.param(200.0, {}, marks=(pytest.mark.slow, pytest.mark.wide), id="200s-over-the-kit-s-limits"),
])
def test_a_run_suspended_mid_corpus_uses_every_clip(ffmpeg: str, tiny_refs: Path, tmp_path: Path, hold_s: float,
                                                    env: dict[str, str]) -> None:
    refs = tiny_links(tiny_refs, tmp_path / "refs")
    for name, lavfi in MORE.items():
        render(ffmpeg, lavfi, refs / f"{name}.y4m")
    out = tmp_path / "out"
    kit = subprocess.Popen([*KIT, "run", "--ref-dir", str(refs), "--out-dir", str(out), "--encoders", "libx264",
                            *FAST, *LENIENT], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **env},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        pace.until(lambda: corpus_child(kit.pid) or kit.poll() is not None, 300, poll_s=0.01)  # tests/pace.py
        assert kit.poll() is None, "the run ended before its corpus jobs were caught running"
        stopped = suspend(kit, hold_s)
        stdout, stderr = pace.communicate(kit, 900)
    finally:
        if kit.poll() is None:
            kit.kill()
    said = stdout + stderr
    print(f"suspended {len(stopped)} processes (the kit, its reaper and ffmpegs) for {hold_s:.0f} s mid-corpus; "
          f"the run ended {kit.returncode}")
    assert len(stopped) >= 2, stopped  # the kit and at least one corpus ffmpeg
    assert kit.returncode in (0, 1), said[-4000:]
    assert not (out / "02_corpus" / "skipped.json").exists(), (out / "02_corpus" / "skipped.json").read_text()
    manifest = json.loads((out / "02_corpus" / "shard.manifest.json").read_text())
    assert sorted(s["src"] for s in manifest["sources"]) == sorted([*TINY_SOURCES, *MORE])
    summary = json.loads((out / "02_corpus" / "status.json").read_text())["summary"]
    assert summary.get("retry", []) == [] and summary["jobs"] == 12 and summary["skipped"] == 0, summary
    assert "timed out" not in said and "gave no frame" not in said and "SKIPPED" not in said, said[-4000:]
