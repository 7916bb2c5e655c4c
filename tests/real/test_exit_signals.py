"""Exit codes at the end of a pipe and at each stop signal (issue 24 E), with the real kit in a child process.

One convention: SIGINT, SIGTERM and SIGHUP end a command with 128 + the signal (130, 143, 129), the same two
lines (`interrupted …; finished work is kept.`, `resume with: …`), and what was finished is kept. A reader that
goes away (`| head -1`) ends it with 141, quietly, never with 1 (HOLD).
"""

from __future__ import annotations

import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kit.infra.faults import KILL_ENV, SIGNAL_ENV
from tests import pace
from tests.conftest import FAST, KIT, LENIENT, ROOT, STOP_KEPT, processes_naming, run_kit

STOP = {"SIGINT": 130, "SIGTERM": 143, "SIGHUP": 129}
GRID = ["--cqs", "14,18,22,26,30,34,38,42", "--jobs", "1"]  # jobs long enough to signal the corpus step mid-way


def interrupted_lines(stderr: str, sig: str) -> list[str]:
    """The two closing lines, checked: `interrupted[ by SIGxxx] (N …) …: what is kept.` and `resume with:`, the stop
    said once (the step's kept jobs in its sentence, never on a line of their own: issue 98, item 6)."""
    by = "" if sig == "SIGINT" else f" by {sig}"
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert re.fullmatch(rf"interrupted{by} \(\d+ running process\(es\) stopped\){STOP_KEPT}\.", lines[-2]), stderr
    assert lines[-1].startswith("resume with: "), stderr
    assert "Traceback" not in stderr and "error:" not in stderr, stderr
    assert sum("interrupted" in line for line in lines) == 1, stderr
    return lines


def kit_args(refs: Path, out: Path, *extra: str) -> list[str]:
    return ["run", "--ref-dir", str(refs), "--out-dir", str(out), *FAST, *LENIENT, *extra]


def start(args: list[str], **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen([*KIT, *args], cwd=ROOT, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)}, **kw)  # type: ignore


def wait_for_a_job(out: Path, timeout_s: float = 60) -> None:
    jobs = out / "02_corpus" / "jobs"
    # in the box's own time (tests/pace.py)
    assert pace.until(lambda: jobs.is_dir() and list(jobs.glob("*.json")), timeout_s, poll_s=0.02), \
        "the corpus step never finished a job"


def test_run_piped_into_head_exits_141_quietly(tiny_refs: Path, tmp_path: Path) -> None:
    cmd = shlex.join([sys.executable, "-m", "kit", *kit_args(tiny_refs, tmp_path / "out")])
    res = pace.run(["bash", "-c", f"{cmd} | head -1; exit ${{PIPESTATUS[0]}}"], cwd=ROOT, capture_output=True,
                   text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 141, (res.returncode, res.stdout, res.stderr)  # rich made it 1, which means HOLD
    assert res.stdout.startswith("ensemble-kit ") and res.stdout.count("\n") == 1, res.stdout
    assert res.stderr == "", res.stderr


@pytest.fixture(scope="module")
def finished(json_run: tuple[Path, object], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An out-dir whose run is complete (a copy of the session's run, made with JSON_BOX): a rerun skips every
    step and goes straight to the summary."""
    out = tmp_path_factory.mktemp("signals") / "out"
    shutil.copytree(json_run[0], out)
    return out


JSON_BOX = ("--box-id", "jsonbox")  # the box id of the session's run (tests/conftest.py, json_run)


@pytest.mark.slow  # a whole run first, then a resumed one per signal
@pytest.mark.parametrize("sig", STOP)
def test_a_stop_signal_while_the_summary_is_written(sig: str, tiny_refs: Path, finished: Path) -> None:
    res = run_kit(*kit_args(tiny_refs, finished, *JSON_BOX), env={KILL_ENV: "summary", SIGNAL_ENV: sig})
    assert res.returncode == STOP[sig], (res.returncode, res.stderr)  # was 130 for SIGTERM, a silent 129 for SIGHUP
    assert "ensemble-kit summary" in res.stdout and "results tarball" not in res.stdout, res.stdout
    resume = interrupted_lines(res.stderr, sig)[-1].removeprefix("resume with: ")
    again = pace.run(shlex.split(resume), cwd=ROOT, capture_output=True, text=True, timeout=300,
                     env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("skipped: up to date") == 5, again.stdout  # nothing finished was lost


@pytest.mark.parametrize("sig", [s if s == "SIGTERM" else pytest.param(s, marks=pytest.mark.wide) for s in STOP])
def test_a_stop_signal_during_the_corpus_step(sig: str, tiny_refs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = start(kit_args(tiny_refs, out, *GRID))
    wait_for_a_job(out)
    proc.send_signal(getattr(signal, sig))  # to the kit alone: its ffmpegs are its to stop
    stdout, stderr = pace.communicate(proc, 60)
    assert proc.returncode == STOP[sig], (proc.returncode, stderr)
    interrupted_lines(stderr, sig)
    assert "interrupted" not in stdout, stdout
    kept = re.search(r"stopped\): (\d+) of (\d+) corpus jobs are finished and kept", stderr)
    assert kept and int(kept.group(1)) == len(list((out / "02_corpus" / "jobs").glob("*.json"))), stdout
    assert not processes_naming(out), processes_naming(out)


@pytest.mark.slow  # a whole run resumed after the hang-up
def test_a_dropped_terminal_ends_the_run_with_129_and_keeps_the_finished_jobs(tiny_refs: Path,
                                                                               tmp_path: Path) -> None:
    """An ssh session that drops: the kit's terminal hangs up (SIGHUP) and is gone for the closing lines."""
    out = tmp_path / "out"
    master, slave = os.openpty()
    # setsid -c: the kit leads a session whose controlling terminal is the pty, as a login shell's job
    proc = subprocess.Popen(["setsid", "-c", *KIT, *kit_args(tiny_refs, out, *GRID)], cwd=ROOT,
                            stdin=slave, stdout=slave, stderr=slave, env={**os.environ, "PYTHONPATH": str(ROOT)})
    os.close(slave)
    try:
        limit = pace.Deadline(60)  # tests/pace.py
        jobs = out / "02_corpus" / "jobs"
        while not (jobs.is_dir() and list(jobs.glob("*.json"))) and not limit.expired():
            if select.select([master], [], [], 0.05)[0]:
                os.read(master, 1 << 16)  # a terminal that is read, as ssh reads it
    finally:
        os.close(master)  # the session drops
    assert pace.wait(proc, 60) == 129  # it was killed by the signal (-1): no clean-up, no resume line
    done = len(list(jobs.glob("*.json")))
    assert done >= 1
    assert not processes_naming(out), processes_naming(out)
    res = run_kit(*kit_args(tiny_refs, out, *GRID, "--only", "corpus"))  # the steps after it: test_kill's resumes
    assert res.returncode == 0, res.stderr
    assert f"{done} already done and reused" in res.stdout, res.stdout
