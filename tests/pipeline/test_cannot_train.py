"""A box that cannot train still sends (issue 98, items 9 and 10): its corpus is the lead's to use, whatever its count
of contents. Before, a box left with one or two usable clips ended `LOSO needs at least 3`, exit 2, and sent nothing,
a corpus-only box among them (a torch that does not import, found by prereqs: round nine's).

The class, every cell run for real: the box (one that trains; one whose torch is installed but does not import, found
as prereqs imports it; one without torch, found before the run) x when its clips fall short of LOSO's three contents
(from the start: two clips; mid-run: three, one of whose scoring crashes, the fault wrapper's SIGSEGV). Each makes
its corpus and a corpus-only results tarball (`contents: corpus`, no LOSO, no verdict), which `verify` accepts, says
so, and ends: 1 for the box that trains (its command asked for a verdict and got none: no PROMOTE to ship, a tarball
to send, as a HOLD's), 0 for a box that cannot train (it did all it can: as before). docs/collaborator.md says why.
"""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.conftest import ROOT, copy_prereqs, run_kit, tiny_links
from tests.faults import faulty_ffmpeg
from tests.pipeline.test_no_torch import LIBGOMP, NO_TORCH

pytestmark = pytest.mark.slow  # whole runs (prereqs, corpus, bundle) of a few tiny clips

GRID = ["--encoders", "libx264", "--cqs", "30", "--scales", "native", "--seeds", "0"]
BOXES = ("trains", "torch broken", "no torch")
WHEN = ("from the start", "mid-run")
SHORT = "LOSO needs at least 3: this box makes the corpus and bundles it; training happens at the lead"


class Box(NamedTuple):
    wrapper: Path  # the fault wrapper, as the box's ffmpeg
    env: dict[str, str]  # what makes the box what it is (a torch that does not import)
    entry: list[str] | None  # how the kit is started (a Python without torch)
    prereqs: Path  # an out-dir holding its prereqs step


@pytest.fixture(scope="module")
def boxes(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Box]:
    """Each kind of box, its prereqs step made once (a broken torch is found there, as it imports it)."""
    root = tmp_path_factory.mktemp("cannot-train")
    wrapper = faulty_ffmpeg(root, ffmpeg)
    broken = root / "broken" / "torch"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text(f"raise OSError({LIBGOMP!r})\n")
    made = {}
    for name, env, entry in (("trains", {}, None),
                             ("torch broken", {"PYTHONPATH": os.pathsep.join([str(broken.parent), str(ROOT)])}, None),
                             ("no torch", {}, NO_TORCH)):
        out = root / name.replace(" ", "-")
        res = run_kit("step", "prereqs", "--out-dir", out, "--ffmpeg", wrapper, *GRID, env=env, entry=entry)
        assert res.returncode == 0, res.stdout + res.stderr
        made[name] = Box(wrapper, env, entry, out)
    return made


@pytest.mark.parametrize("when", WHEN)
@pytest.mark.parametrize("box", BOXES)
def test_a_box_whose_clips_fall_short_of_loso_sends_its_corpus(boxes: dict[str, Box], tiny_refs: Path,
                                                               tmp_path: Path, box: str, when: str) -> None:
    b = boxes[box]
    refs = tiny_links(tiny_refs, tmp_path / "refs", leave_out=("delta", "gamma") if when == "from the start" else
                      ("delta",))
    env = {**b.env, **({"FAULT_CLIP": "gamma.y4m", "FAULT_STAGE": "score", "FAULT_KIND": "segv"}
                       if when == "mid-run" else {})}
    out = copy_prereqs(b.prereqs, tmp_path / "out")
    res = run_kit("run", "--ref-dir", refs, "--out-dir", out, "--ffmpeg", b.wrapper, "--box-id", "small", *GRID,
                  env=env, entry=b.entry)
    said = res.stdout + res.stderr
    assert res.returncode == (1 if box == "trains" else 0), said[-3000:]
    assert "Traceback" not in said and "error:" not in res.stderr, said[-3000:]
    assert "corpus only: " in said and "send it to the lead as it is" in said, said[-3000:]
    if box == "trains":  # said once, as the corpus step finds it, with its count
        needed = "2 distinct content(s) found" if when == "from the start" else \
            "1 clip(s) were left out as their jobs ran (gamma.y4m): 2 content(s) are left, and"
        assert said.count(SHORT) >= 1 and needed in said, said[-3000:]
    assert not (out / "03_loso").exists() and not (out / "04_verdict").exists()
    (tarball,) = (out / "05_bundle").glob("results-small-*.tar.gz")
    with tarfile.open(tarball) as tar:
        top = tar.getnames()[0].split("/")[0]
        manifest = json.loads(tar.extractfile(f"{top}/manifest.json").read())  # type: ignore[union-attr]
    assert manifest["contents"] == "corpus" and "verdict" not in manifest
    rows = json.loads((out / "02_corpus" / "shard.manifest.json").read_text())
    assert sorted(s["src"] for s in rows["sources"]) == ["alpha", "beta"]
    checked = run_kit("verify", tarball)
    assert checked.returncode == 0 and "a corpus, no verdict" in checked.stdout, checked.stdout + checked.stderr


def test_the_rerun_of_a_box_too_small_to_train_redoes_nothing_and_ends_alike(boxes: dict[str, Box],
                                                                             tiny_refs: Path, tmp_path: Path) -> None:
    """The same command again: every step up to date, the same end (1), and LOSO refused by name where asked for."""
    b = boxes["trains"]
    refs = tiny_links(tiny_refs, tmp_path / "refs", leave_out=("delta", "gamma"))
    out = copy_prereqs(b.prereqs, tmp_path / "out")
    args = ["run", "--ref-dir", refs, "--out-dir", out, "--ffmpeg", b.wrapper, "--box-id", "small", *GRID]
    assert run_kit(*args).returncode == 1
    again = run_kit(*args)
    assert again.returncode == 1 and "runs:" not in again.stdout, again.stdout[-3000:]
    assert "corpus only: 2 distinct content(s) found" in again.stdout
    loso = run_kit("step", "loso", "--out-dir", out, "--box-id", "small", *GRID[:2])
    assert loso.returncode == 2 and "the loso step trains, and this box cannot: 2 distinct content(s)" in loso.stderr
    assert "hint: add reference clips of other content to --ref-dir" in loso.stderr, loso.stderr
