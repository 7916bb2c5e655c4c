"""make_tarball.py: reproducible, complete, and the one command works from it."""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

import make_tarball
from tests.conftest import ROOT


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_tree_gives_same_sha256(tmp_path: Path) -> None:
    a = make_tarball.build(tmp_path / "a")
    b = make_tarball.build(tmp_path / "b")
    assert a.name == f"ensemble-kit-{make_tarball.kit_version()}.tar.gz"
    assert sha(a) == sha(b)
    with tarfile.open(a) as tar:
        names = tar.getnames()
    top = a.name.removesuffix(".tar.gz")
    for required in ("kit/run_full_pipeline.py", "kit/steps/s02_corpus.py", "kit/platforms/encoders.py",
                     "binaries/README.md", "pyproject.toml", "install.py", "install_python.py", "install_steps.py",
                     "requirements-frozen.txt", "requirements-train.txt", "requirements-torch.txt", "README.md"):
        assert f"{top}/{required}" in names, required
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_a_changed_file_changes_the_sha256(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    for name in make_tarball.INCLUDE:
        src = ROOT / name
        if src.is_dir():
            for p in src.rglob("*.py"):
                (tree / p.relative_to(ROOT)).parent.mkdir(parents=True, exist_ok=True)
                (tree / p.relative_to(ROOT)).write_bytes(p.read_bytes())
            (tree / name).mkdir(parents=True, exist_ok=True)
        else:
            (tree / name).write_bytes(src.read_bytes())
    first = sha(make_tarball.build(tmp_path / "o1", tree))
    (tree / "README.md").write_text("changed\n")
    assert sha(make_tarball.build(tmp_path / "o2", tree)) != first


@pytest.mark.slow
def test_untarred_kit_runs_the_one_command(ladder_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    # the session's ladder run is the one command (with --json and the default ladder) of a kit built and untarred
    # by conftest.ladder_run, run from another folder with no PYTHONPATH (what it makes: tests/pipeline/test_ladder_run)
    out, res = ladder_run
    (kit_dir,) = (out.parent / "unpacked").iterdir()
    assert kit_dir.name == f"ensemble-kit-{make_tarball.kit_version()}"
    assert res.returncode == 0, res.stdout + res.stderr
    status = json.loads((out / "05_bundle" / "status.json").read_text())
    assert status["summary"]["verdict"] == "PROMOTE"
    run_json = json.loads((out / "run.json").read_text())
    assert run_json["argv"][0].endswith("run_full_pipeline.py")
    assert run_json["provenance"]["kit_root"] == str(kit_dir / "kit")  # the unpacked copy ran, not the checkout
    assert list((out / "05_bundle").glob("results-*.tar.gz"))
