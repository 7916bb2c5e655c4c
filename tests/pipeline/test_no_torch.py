"""A box without torch contributes (issue 54): where torch, onnx and onnxruntime cannot be imported (an Intel Mac,
an old macOS), the one command runs prereqs, the corpus and a corpus-only bundle, exits 0 and says that training
happens at the lead; `verify` accepts the tarball, `merge` takes it, and a step that trains is refused.

Such a Python is simulated for real: the kit runs in a child process whose import system refuses the three packages
(a meta-path finder ahead of every other raises ModuleNotFoundError for them), as an interpreter without them
would."""

from __future__ import annotations

import json
import os
import re
import sys
import tarfile
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import FAST, ROOT, passed, run_here, run_kit, synthetic_corpus

BLOCKED = ("torch", "onnx", "onnxruntime")
LIBGOMP = "libgomp.so.1: cannot open shared object file: No such file or directory"
# the kit as `python -m kit`, in a Python that cannot import BLOCKED (their wheels are installed here: only importing
# them is refused, so what the kit decides from comes from the import system, not from the packages' metadata)
NO_TORCH = [sys.executable, "-c", (
    "import runpy, sys\n"
    "class Blocker:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    f"        if name.partition('.')[0] in {BLOCKED!r}:\n"
    "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
    "sys.meta_path.insert(0, Blocker())\n"
    "sys.argv = ['kit', *sys.argv[1:]]\n"
    "runpy.run_module('kit', run_name='__main__', alter_sys=True)\n")]


@pytest.mark.slow
def test_a_box_without_torch_makes_and_bundles_its_corpus(tiny_refs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = passed(run_kit("run", "--ref-dir", tiny_refs, "--out-dir", out, "--box-id", "mac", *FAST, entry=NO_TORCH))
    said = res.stdout + res.stderr
    assert "corpus only: torch, onnx, onnxruntime cannot be imported" in said
    assert "training happens at the lead" in said and "send it to the lead as it is" in said
    assert re.search(r"independent check\s+│ 4 clip\(s\), the first 16 frames", said), said  # what was checked
    assert "Traceback" not in said
    assert not (out / "03_loso").exists() and not (out / "04_verdict").exists()
    prereqs = json.loads((out / "01_prereqs" / "prereqs.json").read_text())
    assert (prereqs["can_train"], prereqs["can_export"]) == (False, False)

    (tarball,) = (out / "05_bundle").glob("results-mac-*.tar.gz")
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
        top = names[0].split("/")[0]
        manifest = json.loads(tar.extractfile(f"{top}/manifest.json").read())  # type: ignore[union-attr]
    members = {name.split("/", 1)[1] for name in names}
    assert members == {"run.json", "01_prereqs/prereqs.json", "01_prereqs/logs/prereqs.log", "02_corpus/shard.parquet",
                       "02_corpus/shard.manifest.json", "02_corpus/logs/corpus.log", "manifest.json"}
    assert manifest["contents"] == "corpus" and "verdict" not in manifest and manifest["box_id"] == "mac"
    assert set(manifest["files"]) == members - {"manifest.json"}

    checked = run_kit("verify", tarball, entry=NO_TORCH)
    assert checked.returncode == 0, checked.stderr
    assert "OK: 6 files match their sha256" in checked.stdout and "a corpus, no verdict" in checked.stdout

    merged = tmp_path / "union.parquet"
    res = run_here("merge", tarball, "-o", merged)
    assert res.returncode == 0, res.stdout + res.stderr
    assert len(pd.read_parquet(merged)) == len(pd.read_parquet(out / "02_corpus" / "shard.parquet")) > 0

    again = run_kit("step", "loso", "--out-dir", out, "--box-id", "mac", *FAST, entry=NO_TORCH)
    assert again.returncode == 2, again.stdout + again.stderr
    assert "the loso step trains, and this box cannot" in again.stderr
    assert "send its results tarball to the lead" in again.stderr


def test_a_torch_that_is_installed_but_does_not_import_makes_the_box_corpus_only(tmp_path: Path) -> None:
    """Issue 60: a torch that is found but fails to import (a missing libgomp, a broken wheel) once ended a run as
    `internal error in ensemble-kit (a bug)`, exit 70. Now it is a reason like a missing torch's: prereqs records
    that the box cannot train and says why (the import's own error), and a step that trains is refused, exit 2.
    The torch is a real package ahead of the venv's on the path, whose import raises what a missing libgomp does.
    Prereqs alone (a few seconds): the fast tier's."""
    broken = tmp_path / "broken" / "torch"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text(f"raise OSError({LIBGOMP!r})\n")
    env = {"PYTHONPATH": os.pathsep.join([str(broken.parent), str(ROOT)])}
    out = tmp_path / "out"
    res = passed(run_kit("run", "--only", "prereqs", "--out-dir", out, "--box-id", "gomp", env=env))
    said = res.stdout + res.stderr
    assert f"torch is installed in this Python ({sys.executable}) but does not import (OSError: {LIBGOMP})" in said
    assert "training happens at the lead" in said and "Traceback" not in said
    prereqs = json.loads((out / "01_prereqs" / "prereqs.json").read_text())
    assert (prereqs["can_train"], prereqs["can_export"]) == (False, True)

    again = run_kit("step", "loso", "--out-dir", out, "--box-id", "gomp", env=env)
    assert again.returncode == 2 and "Traceback" not in again.stderr, again.stdout + again.stderr
    assert "the loso step trains, and this box cannot: torch is installed in this Python" in again.stderr
    assert "libgomp.so.1" in again.stderr
    # a run on a given corpus has no corpus step to fall back to: refused once prereqs finds torch broken (before:
    # LOSO and the verdict dropped, then the bundle refused for a missing 02_corpus/shard.parquet, its hint to run
    # the corpus step; found by tests/pipeline/test_private_layouts.py, whose kit path torch cannot import from)
    corpus = tmp_path / "corpus.parquet"
    synthetic_corpus(n_src=4, rows_per_src=10).to_parquet(corpus, index=False)
    given = run_kit("run", "--corpus", corpus, "--out-dir", out, "--box-id", "gomp", env=env)
    assert given.returncode == 2 and "Traceback" not in given.stderr, given.stdout + given.stderr
    assert "error: a run on a given --corpus trains, and this box cannot: torch is installed" in given.stderr
    assert "shard.parquet is missing" not in given.stderr
