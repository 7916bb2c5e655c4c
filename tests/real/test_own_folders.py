"""The box's own folders fail loudly, once (issue 98, item 2): every folder the kit writes (the out-dir, the kit's
cache, its temporary folder, which holds each child's) removed, made unwritable or filled while a command runs, at each
stage that writes (the prereqs step's test encode, a clip's first look, a job's scoring, LOSO's training): the run
ends with exit 0 (nothing of that folder was needed there) or with exit 2 and one `error:` line naming the folder,
its role and its cause (`no space left on /…/disk/out (out-dir)`), `retry:` offered, never exit 70, never a
parser's words about a file the disk cut short (2.4: the temporary folder removed mid-corpus ended in exit 70,
FileNotFoundError in infra/scratch.py; the out-dir's disk full was `libvmaf wrote a log the kit cannot read …
Expecting property name`). Once the folder is mended, the same command ends 0, the steps done before reused.

Each folder lies on a small tmpfs of the test's own (root may mount one: CI runs as root; elsewhere the test is
skipped, saying so); unwritable is `chattr -R +i` (root writes anywhere else). The fault comes from the wrapper of
the real ffmpeg (tests/faults.py) at the stage's child, or, for LOSO, which starts none, at the step's start. With -s
the table is printed as `cell STAGE x FOLDER x FAULT: ...`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from tests import pace
from tests.conftest import KIT, ROOT, TINY_SOURCES, render
from tests.faults import FOLDER_FAULTS, faulty_ffmpeg

FOLDERS = {"out": "out-dir", "cache": "the kit's cache", "temp": "the kit's temporary folder"}
STAGES = ("probe", "look", "score", "loso")
GRID = ["--encoders", "libx264", "--cqs", "25", "--scales", "native"]
# a run of LOSO's step with a fault at its start (it starts no ffmpeg): tests.faults.folder_fault, then the step
LOSO_HOOK = """
import os, sys
from tests.faults import folder_fault
from kit.steps import s03_loso
step = s03_loso.LosoStep.run
def run(self, ctx, plan):
    folder_fault(os.environ["FAULT_KIND"], os.environ["FAULT_FOLDER"])
    return step(self, ctx, plan)
s03_loso.LosoStep.run = run
sys.argv[0] = "ensemble-kit"
import runpy
runpy.run_module("kit", run_name="__main__")
"""
PARSER = re.compile(r"Expecting|cannot read|JSONDecodeError|internal error|Traceback")


class Box(NamedTuple):
    refs: Path
    wrapper: Path
    corpus: Path  # an out-dir whose prereqs and corpus steps are done (LOSO's cells start from a copy)


@pytest.fixture(scope="module")
def box(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> Box:
    root = tmp_path_factory.mktemp("own-folders")
    refs = root / "refs"
    refs.mkdir()
    for name in list(TINY_SOURCES)[:3]:
        render(ffmpeg, TINY_SOURCES[name], refs / f"{name}.y4m")
    wrapper = faulty_ffmpeg(root, ffmpeg)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KIT_CACHE_DIR": str(root / "cache")}
    for step in ("prereqs", "corpus"):
        res = pace.run([*KIT, "step", step, "--ref-dir", str(refs), "--out-dir", str(root / "corpus"),
                              "--ffmpeg", str(wrapper), *GRID], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=900)
        assert res.returncode == 0, res.stdout + res.stderr
    return Box(refs, wrapper, root / "corpus")


@contextlib.contextmanager
def small_disk(where: Path) -> Iterator[Path]:
    """A tmpfs at `where` of 2 GiB (the prereqs step asks for 1 GiB free; a tmpfs takes memory only for what it
    holds, and `fill` shrinks it to that first); the test is skipped, saying why, where this box refuses the mount."""
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2g", "tmpfs", str(where)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (root is needed; CI runs as root): {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["chattr", "-R", "-i", str(where)], capture_output=True)
        subprocess.run(["umount", str(where)], capture_output=True)


def command(stage: str, box: Box, out: Path) -> list[str]:
    if stage == "probe":
        return [*KIT, "step", "prereqs", "--out-dir", str(out), "--ffmpeg", str(box.wrapper), *GRID]
    if stage == "loso":
        return [os.fspath(Path(KIT[0])), "-c", LOSO_HOOK, "run", "--only", "loso", "--ref-dir", str(box.refs),
                "--out-dir", str(out), "--ffmpeg", str(box.wrapper), *GRID, "--seeds", "0", "--epochs", "1"]
    return [*KIT, "step", "corpus", "--ref-dir", str(box.refs), "--out-dir", str(out), "--ffmpeg", str(box.wrapper),
            *GRID]


@pytest.mark.slow
@pytest.mark.parametrize("fault", FOLDER_FAULTS)
@pytest.mark.parametrize("folder", FOLDERS)
@pytest.mark.parametrize("stage", STAGES)
def test_a_folder_of_the_kit_s_own_fails_loudly_once(box: Box, tmp_path: Path, stage: str, folder: str,
                                                     fault: str) -> None:
    if fault == "unwritable" and shutil.which("chattr") is None:
        pytest.skip("no chattr here: root writes anywhere, and nothing else makes a folder unwritable to it")
    with small_disk(tmp_path / "disk") as disk:
        places = {"out": tmp_path / "out", "cache": tmp_path / "cache", "temp": tmp_path / "tmp"}
        places[folder] = disk / folder
        out, cache, temp = places["out"], places["cache"], places["temp"]
        if stage != "probe":  # the prereqs step done; for LOSO the corpus's too, its clips' looks in the cache
            shutil.copytree(box.corpus, out, symlinks=True)
        if stage == "loso":
            shutil.copytree(box.corpus.parent / "cache", cache, symlinks=True)
        else:
            shutil.rmtree(out / "02_corpus", ignore_errors=True)
        temp.mkdir(mode=0o700, exist_ok=True)
        target = disk if fault == "fill" else places[folder]
        plan = {"probe": ("libx264", "probe"), "look": ("alpha.y4m", "look"), "score": ("alpha.y4m", "score"),
                "loso": ("", "")}[stage]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "KIT_CACHE_DIR": str(cache), "TMPDIR": str(temp),
               "FAULT_CLIP": plan[0], "FAULT_STAGE": plan[1], "FAULT_KIND": fault, "FAULT_FOLDER": str(target),
               "FAULT_FOLDER_DONE": str(tmp_path / "done")}
        res = pace.run(command(stage, box, out), cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=900)
        said = res.stdout + res.stderr
        errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
        print(f"cell {stage} x {folder} x {fault}: exit {res.returncode}: {errors[0] if errors else 'done'}")
        assert (tmp_path / "done").exists(), "the fault was never made: the cell proves nothing"
        assert res.returncode in (0, 2) and not PARSER.search(said), said[-4000:]
        if res.returncode == 2:
            (error,) = errors
            role = FOLDERS[folder].removeprefix("the ") if folder == "out" else FOLDERS[folder]
            assert f"({role})" in error and str(disk) in error, said[-4000:]
            assert "retry:" in res.stderr, said[-4000:]
        if folder == "out" and fault == "rmdir":
            return  # nothing of it is left to keep: the next run starts again
        subprocess.run(["chattr", "-R", "-i", str(disk)], capture_output=True)
        (disk / ".fill").unlink(missing_ok=True)
        subprocess.run(["mount", "-o", "remount,size=2g", str(disk)], check=True)
        temp.mkdir(mode=0o700, exist_ok=True)  # a TMPDIR the user names must be there (a kit's own one: made again)
        again = pace.run(command(stage, box, out), cwd=ROOT, env={**env, "FAULT_KIND": ""},
                               capture_output=True, text=True, timeout=900)
        assert again.returncode in (0, 1), (again.stdout + again.stderr)[-4000:]  # 1: LOSO's HOLD of 3 clips
        if stage != "probe" and (out / "01_prereqs" / "status.json").exists():
            assert json.loads((out / "01_prereqs" / "status.json").read_text())["outputs"], "prereqs lost"
