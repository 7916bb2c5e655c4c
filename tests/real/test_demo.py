"""The embedded demo set renders the same bytes every time (fixed seeds)."""

from __future__ import annotations

import hashlib
import shlex
import sys
from pathlib import Path

import pytest

from kit.infra.tree import Tree
from kit.media.demo import DEMO_CLIPS, clip_is_whole, demo_folder, render
from tests.conftest import FAST, ROOT, run_kit


def test_demo_clips_are_deterministic_and_distinct(ffmpeg: str, tmp_path: Path, tree: Tree) -> None:
    assert len(DEMO_CLIPS) >= 8
    digests = []
    for clip in DEMO_CLIPS:
        a = render(tree, clip, tmp_path / "a" / f"{clip.name}.y4m", ffmpeg, 160, 96, 0.4)
        b = render(tree, clip, tmp_path / "b" / f"{clip.name}.y4m", ffmpeg, 160, 96, 0.4)
        assert a.read_bytes() == b.read_bytes(), clip.name
        digests.append(hashlib.sha256(a.read_bytes()).hexdigest())
    assert len(set(digests)) == len(DEMO_CLIPS)


def test_a_demo_render_by_another_copy_of_the_kit_is_never_waited_for(ffmpeg: str, tree: Tree) -> None:
    """Two copies of the kit under one user's cache (an untarred release beside a clone) keep their demo clips
    apart: while another copy holds its render of a clip, this copy renders its own without a word of "another
    run" (a newcomer's first corpus line spoke of a run they never started)."""
    clip = DEMO_CLIPS[0]
    theirs = demo_folder(tree.root, 160, 96, 0.4, kit_root=Path("/elsewhere/ensemble-kit-2.0.0"))
    mine = demo_folder(tree.root, 160, 96, 0.4)
    assert mine != theirs and mine.parent == theirs.parent == tree.root
    tree.make_folder(theirs)
    heard: list[str] = []
    with tree.lock(theirs / f".{clip.name}.y4m.lock"):
        render(tree, clip, mine / f"{clip.name}.y4m", ffmpeg, 160, 96, 0.4, note=heard.append)
    assert heard == [] and clip_is_whole(tree, mine / f"{clip.name}.y4m", 160, 96, 0.4)


@pytest.mark.slow  # a whole run on a small demo set
def test_a_demo_run_says_its_tarball_is_the_demo_and_how_to_run_on_real_clips(tmp_path: Path) -> None:
    res = run_kit("run", "--out-dir", tmp_path / "out", "--demo-clips", "3", "--demo-seconds", "0.4", *FAST,
                  env={"KIT_CACHE_DIR": str(tmp_path / "cache")})
    assert res.returncode in (0, 1), res.stdout[-3000:] + res.stderr[-3000:]
    lines = res.stdout.splitlines()
    (tarball,) = (tmp_path / "out" / "05_bundle").glob("results-*.tar.gz")
    assert "send it to the lead" not in res.stdout
    label = lines[lines.index(f"  {tarball}") - 1]
    assert "of the DEMO corpus (synthetic clips, no --ref-dir)" in label and "not what the lead needs" in label
    run = lines[lines.index("the results to send are made from your own reference clips: run (with the other "
                            "flags you used):") + 1]
    assert shlex.split(run)[-5:] == ["run", "--ref-dir", "/path/to/clips", "--box-id", "mybox"]
    exe, *rest = shlex.split(run)[:-5]  # spelled as this run was started: this python, -m kit, from the kit's folder
    assert (ROOT / exe).absolute() == Path(sys.executable).absolute() and rest == ["-m", "kit"]
