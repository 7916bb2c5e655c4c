"""--folds through a run: a change redoes the loso step (and only a change), and the seed reports, the verdict and
the summary say which scheme ran and why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit.infra.tree import Tree
from kit.rundir import RunDir
from tests.conftest import ROOT, run_kit, synthetic_corpus

pytestmark = pytest.mark.slow  # real LOSO runs


def test_folds_changes_redo_loso_and_the_verdict_names_the_scheme(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.parquet"
    synthetic_corpus(n_src=5, rows_per_src=40).to_parquet(corpus, index=False)
    out = tmp_path / "out"
    base = ["run", "--corpus", corpus, "--out-dir", out, "--seeds", "0", "--epochs", "2", "--recipe", "frames"]
    first = run_kit(*base, "--only", "loso", "--folds", "3", cwd=ROOT)
    assert first.returncode == 0, first.stderr
    assert "grouped 3-fold (--folds 3: 5 content group(s) of 5 source(s)" in first.stdout + first.stderr
    report = json.loads(RunDir(out).loso_seed(0).read_text())
    assert report["validation"]["scheme"] == "kfold" and report["validation"]["folds"] == 3
    assert report["n_folds"] == 5 and [f["src"] for f in report["folds"]] == ["s0", "s1", "s2", "s3", "s4"]

    same = run_kit(*base, "--only", "loso", "--folds", "3", cwd=ROOT)
    assert "skipped: up to date" in same.stdout + same.stderr
    changed = run_kit(*base, "--only", "loso", "--folds", "loso", cwd=ROOT)
    assert "setting folds: 3 -> loso" in changed.stdout + changed.stderr
    assert json.loads(RunDir(out).loso_seed(0).read_text())["validation"]["scheme"] == "loso"

    verdict = run_kit(*base, "--only", "verdict", "--folds", "loso", cwd=ROOT)
    assert verdict.returncode in (0, 1), verdict.stderr
    found = RunDir(out).verdict_on_disk(Tree.open(out, make=False))
    assert found is not None
    doc = json.loads(found[1].read_text())
    assert doc["validation"]["why"] == "--folds loso: one fold per content group, 5 content group(s) of 5 source(s)"
    assert "validation" in verdict.stdout and "LOSO: --folds loso" in verdict.stdout
