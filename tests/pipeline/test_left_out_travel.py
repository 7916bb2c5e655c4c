"""The clips left out travel with the tarball as the out-dir says them: a file added to or gone from the left-out ones
makes the bundle again (a hostile tester's rerun kept the tarball and report of the set before, either way)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.conftest import FAST, LENIENT, run_kit

pytestmark = pytest.mark.slow


def tarball_skipped(out: Path) -> list[str] | None:
    """The left-out clips' paths in the out-dir's tarball (its 02_corpus/skipped.json), None when it has none."""
    (tarball,) = (out / "05_bundle").glob("results-*.tar.gz")
    with tarfile.open(tarball) as tar:
        member = next((m for m in tar.getmembers() if m.name.endswith("/02_corpus/skipped.json")), None)
        if member is None:
            return None
        data = tar.extractfile(member)
        assert data is not None
        return sorted(s["path"] for s in json.loads(data.read())["skipped"])


def report_names(out: Path, name: str) -> bool:
    return name in (out / "05_bundle" / "report.html").read_text(encoding="utf-8")


def bundle_line(res: subprocess.CompletedProcess[str]) -> str:
    found = re.search(r"\[05 bundle\] ([^\n]*)", res.stdout)
    assert found, res.stdout[-3000:]
    return found[1]


def test_a_clip_added_to_or_gone_from_the_left_out_ones_makes_the_bundle_again(
        json_run: tuple[Path, subprocess.CompletedProcess[str]], tiny_refs: Path, tmp_path: Path) -> None:
    refs, out = tmp_path / "refs", tmp_path / "out"
    shutil.copytree(tiny_refs, refs)
    shutil.copytree(json_run[0], out)
    args = ["run", "--ref-dir", refs, "--out-dir", out, "--box-id", "jsonbox", *FAST, *LENIENT]
    settled = run_kit(*args)  # the ref-dir's new path: the corpus step reuses every job
    assert settled.returncode == 0, settled.stdout[-3000:] + settled.stderr[-3000:]
    assert tarball_skipped(out) is None and not (out / "02_corpus" / "skipped.json").exists()

    (refs / "zero.mp4").write_bytes(b"")
    added = run_kit(*args)
    assert added.returncode == 0, added.stdout[-3000:] + added.stderr[-3000:]
    assert bundle_line(added).startswith("runs: "), bundle_line(added)
    kept = sorted(s["path"] for s in json.loads((out / "02_corpus" / "skipped.json").read_text())["skipped"])
    sent = tarball_skipped(out)  # the sent twin: the folder said as [ref-dir] (nothing below a root leaves the box)
    assert [Path(p).name for p in kept] == ["zero.mp4"] and sent == ["[ref-dir]/zero.mp4"], (kept, sent)
    assert report_names(out, "zero.mp4")

    (refs / "zero.mp4").unlink()
    gone = run_kit(*args)
    assert gone.returncode == 0, gone.stdout[-3000:] + gone.stderr[-3000:]
    assert bundle_line(gone).startswith("runs: "), bundle_line(gone)
    assert tarball_skipped(out) == (None if not (out / "02_corpus" / "skipped.json").exists() else [])
    assert not report_names(out, "zero.mp4")

    again = run_kit(*args)
    assert again.returncode == 0 and bundle_line(again).startswith("skipped: up to date"), bundle_line(again)
