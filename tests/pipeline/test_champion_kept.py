"""`run --incumbent OUT --out-dir OUT` never destroys the champion (issue 24 B).

Retrain and compare with what I have: the challenger HOLDs, and the bundle step once deleted
05_bundle/exports/ and the PROMOTE tarball, the only copies of the champion, without a word. Now the
incumbent is copied into 03_loso/incumbent/ before it is scored, the bundle moves earlier exports and
tarballs into 05_bundle/previous/<utc>/ and says where (step line, step log, summary), the new tarball
holds nothing of them, and the same command rerun is up to date."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from kit.infra.files import sha256_file
from kit.infra.tree import Tree
from kit.rundir import ENSEMBLE_MANIFEST, RunDir
from tests.conftest import FAST, LENIENT, run_kit

pytestmark = pytest.mark.slow  # two runs of the pipeline on the tiny clips, beside a copy of the shared one


def files_of(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): sha256_file(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def members(tarball: Path) -> list[str]:
    with tarfile.open(tarball) as tar:
        return [m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name]


def test_a_challenger_that_holds_keeps_the_champion_and_says_where(
        json_run: tuple[Path, subprocess.CompletedProcess[str]], tiny_refs: Path, tmp_path: Path) -> None:
    # the champion: a copy of the session's PROMOTE run (json_run), its exports/ and tarball the only copies of it
    out = tmp_path / "out"
    shutil.copytree(json_run[0], out)
    run = RunDir(out)
    champion = files_of(run.exports)
    (promoted,) = run.tarballs(Tree.open(run.root, make=False))
    promoted_sha = sha256_file(promoted)

    # the challenger: the champion's own command (its recipe, so prereqs and corpus are up to date) with --incumbent.
    # It cannot beat the champion: the incumbent is scored on the rows it was trained on (its figures are optimistic,
    # the verdict says), the challenger on the sources each member never saw
    same = ["run", "--ref-dir", tiny_refs, "--out-dir", out, "--box-id", "jsonbox", *FAST, *LENIENT]
    challenge = [*same, "--incumbent", out]
    res = run_kit(*challenge)
    assert res.returncode == 1, res.stdout + res.stderr
    verdict = json.loads(run.verdict_file("HOLD").read_text())
    assert verdict["gate"]["passed"] and not verdict["challenger_gate"]["passed"]  # held by the champion alone
    cg = verdict["challenger_gate"]  # not beaten by more than the seed spread
    assert cg["enabled"] and cg["margin"] <= cg["seed_spread"] and "does not beat the incumbent" in verdict[
        "recommendation"]
    assert verdict["incumbent"]["members"] == ["fr_regressor_v2_seed0.onnx", "fr_regressor_v2_seed1.onnx"]
    # the incumbent was copied before it was scored, and the record names the copy and its original
    assert f"--incumbent {out} lies in this out-dir" in res.stdout
    copied = files_of(run.incumbent_models)
    assert {k: v for k, v in copied.items() if k != "source.json"} == {
        k: v for k, v in champion.items() if k == ENSEMBLE_MANIFEST or (k.endswith(".onnx") and "/" not in k)}
    incumbent = json.loads(run.incumbent.read_text())
    # named relative to the out-dir, which may be moved
    assert incumbent["path"] == run.rel(run.incumbent_models) and incumbent["copied_from"] == run.rel(run.exports)
    # the champion and its tarball moved aside, byte for byte, and the step line, log and summary say where
    (tarball,) = run.tarballs(Tree.open(run.root, make=False))
    aside = run.set_aside_for(tarball)
    assert files_of(aside / "exports") == champion
    assert sha256_file(aside / promoted.name) == promoted_sha
    assert not run.exports.exists()
    said = f"moved aside, not deleted: exports, {promoted.name} of an earlier bundle, now in {aside}"
    assert said in res.stdout and said in run.log("bundle").read_text()
    lines = (res.stdout + res.stderr).splitlines()
    assert f"  {aside}" in lines and any(ln.startswith("the earlier models and tarballs it replaced") for ln in lines)
    # stale models never ship: the HOLD tarball holds no model at all
    assert not [m for m in members(tarball) if "exports" in m or m.endswith(".onnx")]

    # the same command again: the copy stands for the champion the bundle moved, so every step is up to date
    res = run_kit(*challenge)
    assert res.returncode == 1, res.stdout + res.stderr
    for step in ("loso", "verdict", "bundle"):
        assert re.search(rf"\[\d\d {step}\] skipped: up to date", res.stdout), (step, res.stdout)
    assert run.tarballs(Tree.open(run.root, make=False)) == [tarball]
    assert sorted(p.name for p in run.previous.iterdir()) == [aside.name]

    # the out-dir moved, the same command on it (its --incumbent the moved out-dir too): the records name the copy
    # and the incumbent relative to the out-dir, so every step is still up to date (issue 67, item 5)
    moved = tmp_path / "moved" / "out"
    moved.parent.mkdir()
    shutil.move(out, moved)
    out, run = moved, RunDir(moved)
    same = ["run", "--ref-dir", tiny_refs, "--out-dir", out, "--box-id", "jsonbox", *FAST, *LENIENT]
    challenge = [*same, "--incumbent", out]
    res = run_kit(*challenge)
    assert res.returncode == 1, res.stdout + res.stderr
    for step in ("prereqs", "corpus", "loso", "verdict", "bundle"):
        assert re.search(rf"\[\d\d {step}\] skipped: up to date", res.stdout), (step, res.stdout)
    tarball = run.tarballs(Tree.open(run.root, make=False))[0]
    aside = run.set_aside_for(tarball)

    # a later PROMOTE moves the HOLD tarball aside too, and ships only its own models
    res = run_kit(*same, "--seeds", "2,3")
    assert res.returncode == 0, res.stdout + res.stderr
    (newest,) = run.tarballs(Tree.open(run.root, make=False))
    assert (run.set_aside_for(newest) / tarball.name).is_file() and files_of(aside / "exports") == champion
    shipped = [m for m in members(newest) if m.endswith(".onnx") and "/vmaftune/" not in m]
    assert sorted(Path(m).name for m in shipped) == ["fr_regressor_v2_seed2.onnx", "fr_regressor_v2_seed3.onnx"]
