"""The exported confidence block on a real run (issue 37, item 2): bench/check_upstream.py fails the block the kit
exported before (the members' spread read as a 95 % Gaussian interval) and passes one that claims no interval; the
shipped calibration sidecar names the ensemble's ONNX files by sha256, and `verify` refuses a tarball whose
sidecar names others."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from kit.bundle.tarball import write_results_tarball
from kit.infra.tree import Tree
from kit.rundir import RunDir
from tests.conftest import ROOT, run_kit

pytestmark = pytest.mark.slow  # the shared real run


def check(out: Path, *extra: str) -> tuple[int, dict]:
    res = subprocess.run([sys.executable, str(ROOT / "bench" / "check_upstream.py"), str(out), *extra],
                         capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin"})
    return res.returncode, json.loads(res.stdout)


def test_check_upstream_fails_the_old_block_and_passes_one_that_claims_nothing(
        json_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = json_run
    rc, report = check(out)
    cov = report["coverage"]
    assert rc == 0 and cov["interval"] is None and cov["block"]["calibrated"] is False
    assert cov["block_from"].endswith("fr_regressor_v2_ensemble_v1.json") and "restated" in cov["measured_by"]
    rc, old = check(out, "--as-kit-0.4")
    assert rc == 1 and old["coverage"]["interval"].endswith("(gaussian_z: method ensemble)")
    assert old["coverage"]["coverage"] < 0.9 and "MORE THAN 5%" in old["coverage"]["verdict"]


def test_the_shipped_sidecar_names_its_models_and_verify_checks_them(
        json_run: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    out, _ = json_run
    run = RunDir(out)
    folder = run.exports / "vmaftune"
    side = json.loads((folder / "fr_regressor_v2_ensemble_v1_calibration.json").read_text())
    manifest = json.loads((folder / "fr_regressor_v2_ensemble_v1.json").read_text())
    assert side["model_id"] == manifest["id"] and side["models"] == {m["onnx"]: m["sha256"]
                                                                     for m in manifest["members"]}
    assert run_kit("verify", run.latest_tarball(Tree.open(run.root, make=False))).returncode == 0
    # the same files, the sidecar claiming another model: a tarball consistent with its own manifest, refused
    top = tmp_path / "x"
    with tarfile.open(run.latest_tarball(Tree.open(run.root, make=False))) as tar:
        tar.extractall(top, filter="data")
    (root,) = list(top.iterdir())
    files = {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file() and p.name != "manifest.json"}
    forged = next(p for a, p in files.items() if a.endswith("_calibration.json"))
    doc = json.loads(forged.read_text())
    first = sorted(doc["models"])[0]
    doc["models"][first] = "0" * 64
    forged.write_text(json.dumps(doc))
    write_results_tarball(Tree.open(tmp_path), tmp_path / "forged.tar.gz", root.name, files,
                          {"box_id": "x", "verdict": "PROMOTE"})
    res = run_kit("verify", tmp_path / "forged.tar.gz")
    assert res.returncode == 2 and f"calibrates {first} with sha256 000000000000" in res.stderr
