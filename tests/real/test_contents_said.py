"""What the corpus step says about contents, with real ffmpeg: each grouping that moves the folds (on the terminal
and in the step log), the refusal of too few contents naming the pair and --content-groups, and a --content-groups
file that contradicts itself (exit 2, naming the file, its lines and the pair). The step stops before any encode.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import TINY_SOURCES, assert_clean_failure, copy_prereqs, render, run_kit

ALPHA = TINY_SOURCES["alpha"]


@pytest.fixture(scope="module")
def refs(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """alpha, alpha letterboxed (black bars of 12.5 % at the top and the bottom), beta: two contents."""
    folder = tmp_path_factory.mktemp("bars-refs")
    render(ffmpeg, ALPHA, folder / "alpha.y4m", frames=12)
    render(ffmpeg, f"{ALPHA},scale=176:108,pad=176:144:0:18:black", folder / "alpha_tv.y4m", frames=12)
    render(ffmpeg, TINY_SOURCES["beta"], folder / "beta.y4m", frames=12)
    return folder


# contents are told apart on the references, whatever the rungs: one rung halves the jobs the way out encodes
CORPUS = ["--encoders", "libx264", "--cqs", "25,37", "--scales", "native"]


def _corpus(prereqs_of: Path, refs: Path, out: Path, *extra: str | Path) -> subprocess.CompletedProcess[str]:
    """The run (whose LOSO holds its corpus to three contents: a corpus made alone, `step corpus`, is made whatever
    its contents) in a fresh out-dir, after the prereqs step of the session's x264_run (--encoders libx264)."""
    copy_prereqs(prereqs_of, out)
    return run_kit("run", "--ref-dir", refs, "--out-dir", out, *CORPUS, *extra)


def test_the_letterboxed_copy_is_grouped_said_and_the_refusal_names_the_pair(refs: Path, x264_run: Path,
                                                                            tmp_path: Path) -> None:
    """Was: no word of the grouping, and "2 distinct content(s) found in 3 sources" naming neither the pair
    nor --content-groups (and the letterboxed copy, 0.17 from alpha, was not grouped at all). Too few contents to
    train here, the run bundles its corpus for the lead, exit 1 (issue 98: it ended 2, sending nothing)."""
    res = _corpus(x264_run, refs, tmp_path / "out")
    reverse = '{"different": [["alpha", "alpha_tv"]]}'
    assert res.returncode == 1 and "Traceback" not in res.stderr and "error:" not in res.stderr, res.stderr[-2000:]
    assert "2 distinct content(s) found in 3 sources; LOSO needs at least 3; held out as one content: alpha and " \
           "alpha_tv (near-duplicate: thumbnail distance 0.00" in res.stdout, res.stdout[-3000:]
    assert f"(to train here: if they are different contents, pass --content-groups FILE with FILE holding {reverse}" \
           in res.stdout, res.stdout[-3000:]
    assert "send it to the lead as it is" in res.stdout
    said = ("alpha and alpha_tv are held out together as one content (near-duplicate: thumbnail distance 0.00")
    assert said in res.stdout + res.stderr
    (line,) = [ln for ln in (res.stdout + res.stderr).splitlines() if said in ln]
    assert "alpha_tv compared inside its letterbox bars (1" in line and line.rstrip().endswith(reverse)
    log = "\n".join(p.read_text() for p in (tmp_path / "out" / "02_corpus" / "logs").glob("*.log"))
    assert said in log

    # the line said is the way out: with it, three contents, and the step goes on to plan its jobs
    groups = tmp_path / "groups.json"
    groups.write_text(reverse)
    res = run_kit("run", "--ref-dir", refs, "--out-dir", tmp_path / "out", *CORPUS, "--content-groups", groups,
                  "--only", "corpus")
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    manifest = json.loads((tmp_path / "out" / "02_corpus" / "shard.manifest.json").read_text())
    assert manifest["groups"] == [] and len(manifest["apart"]) == 1


def test_a_contradictory_content_groups_file_is_exit_2_naming_its_lines_and_the_pair(refs: Path, x264_run: Path,
                                                                                   tmp_path: Path) -> None:
    """alpha = alpha_tv, alpha_tv = beta, yet alpha != beta: was accepted, "different" silently winning."""
    groups = tmp_path / "groups.json"
    groups.write_text('{\n  "same": [["alpha", "alpha_tv.y4m"],\n           ["alpha_tv", "beta"]],\n'
                      '  "different": [["beta", "alpha"]]\n}\n')
    res = _corpus(x264_run, refs, tmp_path / "out", "--content-groups", groups)
    assert_clean_failure(res, f"{groups}: 'beta' and 'alpha' are one content by \"same\" entry 1 (line 2), \"same\" "
                              "entry 2 (line 3) and different contents by \"different\" entry 1 (line 4)")
