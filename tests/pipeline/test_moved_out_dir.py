"""An out-dir moved, copied or renamed (issue 67, item 5): its records name its own files relative to it, so a rerun
there redoes nothing, its bundle made again there ships the tarball the run made in place (the same members, the
same shard), `verify` says OK of it and `merge` takes it; a verdict reached after the move finds the shard too."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import tarfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests import pace
from tests.conftest import FAST, LENIENT, ROOT, run_here

pytestmark = pytest.mark.slow  # reruns of the session's whole run (json_run), on copies

BOX = "jsonbox"  # json_run's box
SHARD = "02_corpus/shard.parquet"


def args_of(out: Path, tiny_refs: Path) -> list[str | Path]:
    """json_run's arguments, without its --json, on `out`."""
    return ["--ref-dir", tiny_refs, "--out-dir", out, "--box-id", BOX, *FAST, *LENIENT]


def members(tarball: Path) -> dict[str, str]:
    """Each file of a results tarball, by its path under the top folder: its sha256."""
    found = {}
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            if member.isfile():
                fh = tar.extractfile(member)
                assert fh is not None
                found[member.name.split("/", 1)[1]] = hashlib.sha256(fh.read()).hexdigest()
    return found


def latest_tarball(out: Path) -> Path:
    return sorted((out / "05_bundle").glob("results-*.tar.gz"))[-1]


def relocate(how: str, out: Path, tmp_path: Path) -> Path:
    """The out-dir `out` moved to another folder, renamed beside itself, or copied (the original kept)."""
    if how == "moved":
        dest = tmp_path / "elsewhere" / "deeper" / "out"
        dest.parent.mkdir(parents=True)
        shutil.move(out, dest)
    elif how == "renamed":
        dest = out.with_name("renamed out")
        out.rename(dest)
    else:
        dest = tmp_path / "the copy"
        shutil.copytree(out, dest, symlinks=True)
        # the original stays, its shard then damaged: a copy that read it would refuse or ship it
        (out / SHARD).write_bytes(b"not the copy's shard")
    assert not (dest / SHARD).is_symlink()
    return dest


@pytest.mark.parametrize("how", ["moved", "renamed", "copied"])
def test_a_relocated_out_dir_reruns_nothing_and_bundles_the_tarball_made_in_place(
        json_run: tuple[Path, subprocess.CompletedProcess[str]], tiny_refs: Path, tmp_path: Path, how: str) -> None:
    in_place = members(latest_tarball(json_run[0]))
    assert SHARD in in_place and f"{SHARD[:-len('.parquet')]}.manifest.json" in in_place
    first = tmp_path / "a run" / "out"
    shutil.copytree(json_run[0], first)  # the shared run stays as it is
    recorded = json.loads((first / "04_verdict" / "PROMOTE.json").read_text())["corpus"]["path"]
    assert recorded == SHARD  # named relative to the out-dir, not by where it was made
    out = relocate(how, first, tmp_path)

    again = run_here("run", *args_of(out, tiny_refs))
    assert again.returncode == 0, again.stdout + again.stderr
    for step in ("prereqs", "corpus", "loso", "verdict", "bundle"):  # nothing redone that need not be
        assert re.search(rf"\[\d\d {step}\] skipped: up to date", again.stdout), (step, again.stdout)

    bundled = run_here("run", *args_of(out, tiny_refs), "--from", "bundle")  # the refit reads the shard here
    assert bundled.returncode == 0, bundled.stdout + bundled.stderr
    tarball = latest_tarball(out)
    assert tarball.parent == out / "05_bundle" and "send it to the lead as it is" in bundled.stdout
    here = members(tarball)
    assert sorted(here) == sorted(in_place)  # the same members as in place
    assert here[SHARD] == in_place[SHARD] == hashlib.sha256((out / SHARD).read_bytes()).hexdigest()
    verified = run_here("verify", tarball)
    assert verified.returncode == 0 and verified.stdout.startswith("OK: "), verified.stdout + verified.stderr
    merged = tmp_path / "merged.parquet"
    res = run_here("merge", tarball, "-o", merged)
    assert res.returncode == 0, res.stdout + res.stderr
    assert pq.read_metadata(merged).num_rows == pq.read_metadata(out / SHARD).num_rows


def test_a_verdict_reached_after_the_move_finds_the_shard_and_its_tarball_ships_it(
        json_run: tuple[Path, subprocess.CompletedProcess[str]], tiny_refs: Path, tmp_path: Path) -> None:
    """A HOLD reached in the moved out-dir (the verdict step reads LOSO's record of its corpus): no export reads the
    corpus, and the tarball still holds it (2.1.0 left it out, said `send it`, and verify said OK)."""
    first = tmp_path / "made here"
    shutil.copytree(json_run[0], first)
    out = relocate("moved", first, tmp_path)
    # HOLD by the evidence gate (4 content groups): the student (the teacher's function and a correction) is
    # the teacher here to 1e-11 of PLCC, so no PLCC floor below 1 holds
    res = run_here("run", *args_of(out, tiny_refs), "--min-content-groups", "5")
    assert res.returncode == 1, res.stdout + res.stderr  # HOLD
    assert re.search(r"\[\d\d loso\] skipped: up to date", res.stdout)
    held = json.loads((out / "04_verdict" / "HOLD.json").read_text())
    assert "4 content groups; PROMOTE needs at least 5 (--min-content-groups)" in held["recommendation"], held
    assert held["corpus"]["path"] == SHARD
    tarball = latest_tarball(out)
    assert members(tarball)[SHARD] == hashlib.sha256((out / SHARD).read_bytes()).hexdigest()
    assert run_here("verify", tarball).returncode == 0


def test_verify_refuses_a_tarball_without_the_corpus_its_verdict_was_reached_on(
        json_run: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """What 2.1.0 sent from a moved out-dir: every file matching manifest.json, the shard absent; signed again (by a
    key of its own, as a box that sent it would have) so that only the missing shard is wrong."""
    from kit.infra.keys import SIGNER, sign_manifest

    monkeypatch.setenv("KIT_CACHE_DIR", str(tmp_path / "signer-cache"))
    source = latest_tarball(json_run[0])
    cut = tmp_path / source.name
    with tarfile.open(source) as tar, tarfile.open(cut, "w:gz") as out:
        for member in tar.getmembers():
            fh = tar.extractfile(member) if member.isfile() else None
            data = fh.read() if fh is not None else b""
            if member.name.endswith(f"/{SHARD}"):
                continue
            if member.name.endswith("/manifest.json") and member.name.count("/") == 1:
                manifest = json.loads(data)
                del manifest["files"][SHARD]
                manifest = sign_manifest(manifest, str(manifest["box_id"]), str(manifest[SIGNER]["part"]))
                data = json.dumps(manifest, indent=2).encode()
                member.size = len(data)
            out.addfile(member, io.BytesIO(data) if member.isfile() else None)
    res = run_here("verify", cut)
    assert res.returncode == 2, res.stdout + res.stderr
    assert f"04_verdict/PROMOTE.json was reached on this box's corpus {SHARD}, which the tarball does not hold" \
        in res.stderr
    assert "OK" not in res.stdout


def test_a_bundle_whose_shard_is_missing_refuses_and_its_hint_mends_it(
        json_run: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    """No tarball of a verdict on this box's shard is made without that shard: the bundle is refused before it starts,
    naming the shard and the step that made it, and the printed command (run as printed, in a process) makes the shard
    again from the jobs kept and bundles it."""
    out = tmp_path / "out"
    shutil.copytree(json_run[0], out)
    before = hashlib.sha256((out / SHARD).read_bytes()).hexdigest()
    (out / SHARD).unlink()
    refused = run_here("step", "bundle", "--settings", out / "run.json", "--out-dir", out, "--box-id", BOX, "--force")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    # refused before any work by the check of what the steps before it made (kit.steps.runner.check_upstream)
    assert f"{out / SHARD} is missing: step 'corpus' made it" in refused.stderr, refused.stderr
    assert latest_tarball(out).name == latest_tarball(json_run[0]).name  # none made
    hint = next(line for line in refused.stderr.splitlines() if line.startswith("hint: "))
    argv = shlex.split(hint.split("make it again: ", 1)[1])
    mended = pace.run(argv, capture_output=True, text=True, timeout=600,
                      env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert mended.returncode == 0, mended.stdout[-2000:] + mended.stderr[-3000:]
    assert re.search(r"\[02 corpus\] runs: output 02_corpus/shard.parquet is missing", mended.stdout)
    assert "0 already done and reused" not in mended.stdout  # its jobs were kept, not redone
    assert re.search(r"\[03 loso\] skipped: up to date", mended.stdout)
    assert members(latest_tarball(out))[SHARD] == before
