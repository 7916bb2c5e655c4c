"""Nothing private leaves the box by default (issue 60, item 4): the results tarball of a real run names no folder of
the box (the reference folder, the out-dir), in any byte of any file it holds, the tables' cells and metadata and the
report included; `verify` and `merge` take it as before; with --keep-paths the folders are sent."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kit.infra.tree import Tree
from kit.rundir import RunDir
from tests.conftest import run_here

pytestmark = pytest.mark.slow  # a whole run of the pipeline (the session's named_run)


def latest(out: Path) -> Path:
    """The out-dir's latest results tarball."""
    tree = Tree.open(out, make=False)
    found = RunDir(out).latest_tarball(tree)
    assert found is not None
    return found


def members(tarball: Path) -> dict[str, bytes]:
    """Every member of the tarball, decompressed: its name, then its bytes."""
    with tarfile.open(tarball) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def texts(name: str, data: bytes) -> list[str]:
    """What a member holds as text: its name, its bytes, and a table's metadata and every cell as read back."""
    found = [name, data.decode("utf-8", "replace")]
    if name.endswith(".parquet"):
        table = pq.read_table(pa.BufferReader(data))
        found += [repr(table.schema.metadata), repr(table.to_pylist())]
    return found


def naming(tarball: Path, *folders: Path) -> dict[str, list[str]]:
    """Each folder (as given, and as it resolves) by the members whose bytes or cells name it."""
    spelled = {str(f) for folder in folders for f in (folder.absolute(), folder.resolve())}
    held = members(tarball)
    return {s: [name for name, data in held.items() if any(s in t for t in texts(name, data))] for s in spelled}


def test_the_results_tarball_names_no_folder_of_the_box_unless_asked(
        named_run: tuple[Path, Path, subprocess.CompletedProcess[str]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    refs, out, res = named_run  # a clip left out (skipped.json), forged names, HOLD
    assert res.returncode == 1, res.stdout[-3000:] + res.stderr[-3000:]
    tarball = latest(out)
    held = members(tarball)
    assert any(name.endswith("02_corpus/skipped.json") for name in held)  # the left-out clip is there, by name
    skipped = next(data for name, data in held.items() if name.endswith("skipped.json")).decode()
    assert "[ref-dir]/odd.y4m" in skipped, skipped
    named = naming(tarball, refs, out, refs.parent)  # the folder both lie in, too
    assert not any(named.values()), named
    monkeypatch.chdir(tmp_path)
    checked = run_here("verify", tarball)
    assert checked.returncode == 0 and "match their sha256" in checked.stdout, checked.stdout + checked.stderr
    merged = run_here("merge", tarball, "-o", tmp_path / "union.parquet")
    assert merged.returncode == 0, merged.stdout[-2000:] + merged.stderr[-2000:]
    # asked: the same run's bundle again, in a copy of its out-dir, with --keep-paths
    kept = tmp_path / "kept" / "out"
    shutil.copytree(out, kept)
    again = run_here("run", "--settings", RunDir(kept).run_json, "--out-dir", kept, "--box-id", "forge",
                     "--keep-paths")
    assert again.returncode == 1, again.stdout[-3000:] + again.stderr[-3000:]  # HOLD, as before
    sent = latest(kept)
    assert sent.name != tarball.name
    named = naming(sent, refs, kept)
    assert named[str(refs.absolute())] and named[str(kept.absolute())], named  # the folders, as the run had them
    assert run_here("verify", sent).returncode == 0
