"""The union script `slurm` writes refuses to start while a shard is missing or unfinished, naming it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kit.corpus.split import ShardSpec
from kit.infra.tree import Tree
from kit.model.threads import choose_threads
from kit.steps.records import write_run_record
from kit.steps.settings import RunSettings
from tests import pace
from tests.conftest import ROOT, run_kit


@pytest.fixture
def union_script(tiny_refs: Path, tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "shared folder"
    res = run_kit("slurm", "--shards", "3", "--ref-dir", tiny_refs, "--out-dir", root, "--dry-run",
                  "--encoders", "libx264")
    assert res.returncode == 0, res.stderr
    script = tmp_path / "union.sh"
    (union,) = [part for part in res.stdout.split("# ==> ") if part.startswith(f"{root / 'slurm' / 'union.sh'} <==")]
    script.write_text(union.split("\n", 1)[1])
    return root, script


def bash(script: Path) -> subprocess.CompletedProcess[str]:
    return pace.run(["bash", str(script)], capture_output=True, text=True, timeout=120,
                    env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})


def errors(res: subprocess.CompletedProcess[str]) -> list[str]:
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr and any(ln.startswith("hint: ") for ln in res.stderr.splitlines())
    return [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]


def test_a_missing_shard_stops_the_union(union_script: tuple[Path, Path]) -> None:
    root, script = union_script
    res = bash(script)
    (errors_,) = errors(res)
    assert f"{root}/shards/shard1of3 does not exist: shard shard1of3 was never run" in errors_
    assert "hint: run that array task again (sbatch" in res.stderr  # not "pass .parquet files"
    assert not (root / "union.parquet").exists() and not (root / "union").exists()


def test_an_unfinished_shard_stops_the_union(union_script: tuple[Path, Path]) -> None:
    root, script = union_script
    shard = root / "shards" / "shard1of3"
    (shard / "02_corpus").mkdir(parents=True)  # a task killed in its corpus step: no status.json
    write_run_record(Tree.open(shard), shard / "run.json", RunSettings(out_dir=shard, shard=ShardSpec(1, 3)), ["run"],
                     choose_threads())
    (errors_,) = errors(bash(script))
    assert f"{shard} (shard 1/3): " in errors_ and "step 'corpus' has not completed" in errors_, errors_
    assert not (root / "union.parquet").exists()


def test_a_folder_that_is_no_run_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "not a run").mkdir()
    res = run_kit("merge", tmp_path / "not a run", "-o", tmp_path / "m.parquet")
    (error,) = errors(res)
    assert "not a run is a folder but no run directory" in error
    res = run_kit("corpus", "info", tmp_path / "not a run")  # corpus info reads a folder as merge does
    assert res.returncode == 2 and "not a run is a folder but no run directory" in errors(res)[0]
    assert "hint: pass a run's out-dir, a shard or corpus the kit wrote (parquet)" in res.stderr, res.stderr
