"""Commands going at once on shared files (issue 24 G): real processes, really concurrent.

- Two merges into one -o: the second is refused (exit 2, naming the first's pid) while the first runs;
  merges started together never crash and never leave a parquet its manifest does not describe.

The instants that matter are pinned with SIGSTOP/SIGCONT on the real processes, not left to timing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from kit.infra.files import sha256_file
from kit.rundir import manifest_path
from tests.conftest import ROOT, assert_clean_failure, run_kit
from tests.kitfiles import results_tarball, shard_table, write_shard

POLL_S = 0.005


def start(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """The kit in a child process, leader of its own process group (so a stop reaches its ffmpeg too)."""
    return subprocess.Popen([sys.executable, "-m", "kit", *map(str, args)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def wait_for(proc: subprocess.Popen[str], seen: Callable[[], bool], what: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not seen():
        assert proc.poll() is None, f"ended before {what}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"never saw {what}"
        time.sleep(POLL_S)


def stop(proc: subprocess.Popen[str]) -> None:
    os.killpg(proc.pid, signal.SIGSTOP)


def resume(proc: subprocess.Popen[str]) -> None:
    os.killpg(proc.pid, signal.SIGCONT)


# --- merge ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_inputs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A shard and a results tarball of 24,000 rows each: a merge of both lasts about a second."""
    root = tmp_path_factory.mktemp("merge-inputs")
    a = write_shard(root / "a.parquet", shard_table(n_src=6, rows_per_src=4000, box="boxa"))
    b = write_shard(root / "b" / "shard.parquet", shard_table(n_src=6, rows_per_src=4000, box="boxb", seed=1))
    return [a, results_tarball(root / "results-boxb.tar.gz", b, box="boxb")]


def consistent_pair(out: Path) -> int:
    """The parquet is the one its manifest describes; returns its rows."""
    manifest = json.loads(manifest_path(out).read_text())
    assert manifest["sha256"] == sha256_file(out), "the manifest describes another parquet"
    assert manifest["rows"] == pq.ParquetFile(out).metadata.num_rows
    return int(manifest["rows"])


def test_a_second_merge_into_one_output_is_refused_while_the_first_runs(big_inputs: list[Path],
                                                                        tmp_path: Path) -> None:
    out, scratch = tmp_path / "out" / "m.parquet", tmp_path / "tmp"
    out.parent.mkdir()
    scratch.mkdir()
    env = {"TMPDIR": str(scratch)}
    first = start("merge", *big_inputs, "-o", out, env=env)

    def merging() -> bool:  # the first merge's lock (once it names its holder), temporaries or extraction
        lock = out.with_name(f".{out.name}.merge-lock")
        return (lock.is_file() and lock.stat().st_size > 0) or any(out.parent.glob(f".tmp-{out.name}.*")) or \
            any(scratch.glob("kit-merge-*"))

    wait_for(first, merging, "the first merge at work")
    stop(first)  # held in the middle of its merge for as long as the second one takes
    try:
        second = run_kit("merge", big_inputs[0], "-o", out, env=env, timeout=120)
    finally:
        resume(first)
    stdout, stderr = first.communicate(timeout=120)
    assert_clean_failure(second, f"another merge (pid {first.pid} on ", f"is writing {out} right now")
    assert "wait for it to finish, or merge into another -o" in second.stderr
    assert first.returncode == 0, stdout + stderr
    assert consistent_pair(out) == 48_000  # the first merge's rows, whole
    assert sorted(p.name for p in out.parent.iterdir()) == ["m.manifest.json", "m.parquet"]  # no lock left
    assert list(scratch.iterdir()) == []
    again = run_kit("merge", big_inputs[0], "-o", out, env=env, timeout=120)  # once it is done, -o is free
    assert again.returncode == 0, again.stderr
    assert consistent_pair(out) == 24_000


def test_merges_started_together_never_crash_and_leave_a_described_pair(big_inputs: list[Path],
                                                                       tmp_path: Path) -> None:
    out = tmp_path / "m.parquet"
    for round_ in range(3):
        procs = [start("merge", *inputs, "-o", out) for inputs in (big_inputs, big_inputs[:1])]
        errs = [p.communicate(timeout=120)[1] for p in procs]
        for p, other, err in ((procs[0], procs[1], errs[0]), (procs[1], procs[0], errs[1])):
            assert p.returncode in (0, 2) and "Traceback" not in err, (round_, p.returncode, err)  # never 70
            if p.returncode == 2:
                assert f"error: another merge (pid {other.pid} on " in err and "right now" in err, err
        assert 0 in (procs[0].returncode, procs[1].returncode), errs
        assert consistent_pair(out) in (24_000, 48_000), round_
        assert sorted(p.name for p in tmp_path.iterdir()) == ["m.manifest.json", "m.parquet"], round_
