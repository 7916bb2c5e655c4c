"""A broken --incumbent stops the run before any training, naming the model file (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT, run_kit, synthetic_corpus
from tests.unit.test_incumbent_check import bundle

pytestmark = pytest.mark.slow  # a real run (prereqs, then LOSO's start)


# the same scoring's check without a run: tests/unit/test_incumbent_check.py::
# test_a_broken_incumbent_is_refused_naming_the_file[nan] (in its child process, it refuses NaN outputs naming the file)
def test_the_run_refuses_it_before_training(tmp_path: Path) -> None:
    corpus = synthetic_corpus(n_src=4, rows_per_src=40)
    path = tmp_path / "corpus.parquet"
    corpus.to_parquet(path, index=False)
    res = run_kit("run", "--corpus", path, "--out-dir", tmp_path / "out", "--epochs", "200", "--seeds", "0,1,2",
                  "--recipe", "frames", "--incumbent", bundle(tmp_path / "nan", "nan"), cwd=ROOT)
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    assert "outputs NaN" in res.stderr and "m0.onnx" in res.stderr
    assert not list((tmp_path / "out" / "03_loso").glob("loso_seed*.json"))
