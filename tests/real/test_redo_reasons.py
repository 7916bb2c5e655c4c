"""Every redone job and every test encode made again says why (issue 74, item 5), on real corpus and prereqs steps.

The issue's case: a corpus made at --cqs 25,37, then run at another grid; the independent check moves to a job made
before, which is encoded and scored again, and the prereqs step tests its encoder again at the grid's new first cq:
each said on its line. Then the class, generated from the kit's own table (kit.corpus.jobs.REDO_WHY): each reason the
job reuse check can give, made on a copy of one corpus (a ledger removed, damaged or of another fingerprint, the rows
removed, a forced run, the check moved to a job without one or to one that checked the lossless copy), says its words
naming that job and no other; a job never made before, or reused, says none. A reason added to the table without its
case here fails the test."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from kit.corpus.jobs import REDO_WHY
from tests.conftest import TINY_SOURCES, made_once, render, run_here

pytestmark = pytest.mark.slow  # a corpus of its own, and a rerun of it per reason

BASE = ["--encoders", "libx264", "--scales", "native", "--box-id", "redo"]
CQS = "25,37"
AVI = "epsilon"  # read through its lossless copy (kit.media.containers.INTERMEDIATE_EXTS)


@pytest.fixture(scope="module")
def refs(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three of the tiny clips, and one in an AVI (MPEG-4 Part 2), which the kit reads through a lossless copy."""
    def make(folder: Path) -> str:
        for name in ("alpha", "beta", "gamma"):
            render(ffmpeg, TINY_SOURCES[name], folder / f"{name}.y4m")
        render(ffmpeg, TINY_SOURCES["delta"], folder / f"{AVI}.avi", fmt="avi", extra=("-c:v", "mpeg4", "-q:v", "3"))
        return ""

    return made_once(tmp_path_factory, "redo-refs", make)[0]


def corpus(refs: Path, out: Path, cache: Path, *more: str) -> subprocess.CompletedProcess[str]:
    """`run --only prereqs`, then `run --only corpus`, as a user makes a box's corpus; the corpus's result."""
    args = ["run", "--ref-dir", str(refs), "--out-dir", str(out), *BASE, "--cqs", CQS, *more]
    env = {"KIT_CACHE_DIR": str(cache)}
    first = run_here(*args, "--only", "prereqs", env=env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr
    res = run_here(*args, "--only", "corpus", env=env)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr
    return subprocess.CompletedProcess(res.args, 0, first.stdout + res.stdout, first.stderr + res.stderr)


@pytest.fixture(scope="module")
def made(refs: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The corpus at --cqs 25,37 (8 jobs) and the kit cache it was made with (its probes, its copies)."""
    folder = tmp_path_factory.mktemp("redo")
    corpus(refs, folder / "out", folder / "cache")
    return folder / "out", folder / "cache"


def copied(made: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    out, cache = tmp_path / "out", tmp_path / "cache"
    shutil.copytree(made[0], out)
    shutil.copytree(made[1], cache)
    return out, cache


def ledger(out: Path, clip: str, cq: int) -> Path:
    (path,) = (out / "02_corpus" / "jobs").glob(f"{clip}-*__libx264__cq{cq:03d}.json")
    return path


def edit(path: Path, change: Callable[[dict[str, object]], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def redone_lines(res: subprocess.CompletedProcess[str]) -> list[str]:
    return [ln for ln in (res.stdout + res.stderr).splitlines() if "redone: " in ln]


def job_said(clip: str, cq: int) -> str:
    """A job as the step's lines name it (kit.corpus.children.job_words, its failure's words too)."""
    return f"{clip}.{'avi' if clip == AVI else 'y4m'} at libx264 cq {cq}"


def check_said(res: subprocess.CompletedProcess[str], out: Path, clip: str, cq: int, key: str) -> None:
    """The terminal names the job and its reason, and no other job as redone; the step log says it too."""
    lines = redone_lines(res)
    assert len(lines) == 1, (key, lines, res.stdout[-3000:])
    assert f"{job_said(clip, cq)}: {REDO_WHY[key]}" in lines[0], (key, lines)
    log = (out / "02_corpus" / "logs" / "corpus.log").read_text()
    assert f"redone: {job_said(clip, cq)}: {REDO_WHY[key]}" in log, log[-3000:]


def unlinked(out: Path, clip: str, cq: int, suffix: str) -> None:
    ledger(out, clip, cq).with_suffix(suffix).unlink()


def no_check_on_own_file(data: dict[str, object]) -> None:
    check = data["oracle"]
    assert isinstance(check, dict) and check.pop("own_file") is True  # as a kit before 2.2 wrote it: the copy checked


# each reason: (the clip and cq whose job it is made on, how it is made, the flags of the rerun); the rerun also lacks
# the shard, so the corpus step runs again (kit.steps.runner: "output 02_corpus/shard.parquet is missing")
Maker = tuple[str, int, Callable[[Path, str, int], None], tuple[str, ...]]
MAKERS: dict[str, Maker] = {
    "ledger missing": ("alpha", 37, lambda out, clip, cq: unlinked(out, clip, cq, ".json"), ()),
    "rows missing": ("beta", 37, lambda out, clip, cq: unlinked(out, clip, cq, ".parquet"), ()),
    "ledger damaged": ("gamma", 37, lambda out, clip, cq: ledger(out, clip, cq).write_text("{\"rows\": "), ()),
    "fingerprint": ("alpha", 37, lambda out, clip, cq: edit(ledger(out, clip, cq),
                                                           lambda d: d.update(fingerprint="0" * 64)), ()),
    "check on the copy": (AVI, 25, lambda out, clip, cq: edit(ledger(out, clip, cq), no_check_on_own_file), ()),
}


def test_every_redo_reason_has_its_case() -> None:
    assert set(MAKERS) | {"forced", "check moved"} == set(REDO_WHY)  # those two: the tests below


@pytest.mark.parametrize("key", list(MAKERS))
def test_a_job_redone_says_why(key: str, made: tuple[Path, Path], refs: Path, tmp_path: Path) -> None:
    out, cache = copied(made, tmp_path)
    clip, cq, make, flags = MAKERS[key]
    make(out, clip, cq)
    (out / "02_corpus" / "shard.parquet").unlink()
    res = corpus(refs, out, cache, *flags)
    check_said(res, out, clip, cq, key)


def test_the_issue_case_a_moved_check_and_a_new_first_cq_say_why(made: tuple[Path, Path], refs: Path,
                                                                  tmp_path: Path) -> None:
    """At --cqs 37,45 the check moves from each clip's cq 25 job to its cq 37 one, made before without a check: each
    of those four is redone saying so; the cq 45 jobs are new (no redo said); prereqs tests libx264 again at cq 37,
    saying the cache holds its test encode at cq 25."""
    out, cache = copied(made, tmp_path)
    res = corpus(refs, out, cache, "--cqs", "37,45")
    lines = redone_lines(res)
    assert len(lines) == 1 and REDO_WHY["check moved"] in lines[0], lines
    for clip in ("alpha", "beta", "gamma", AVI):
        assert job_said(clip, 37) in lines[0], lines
    assert "cq 45" not in lines[0] and "cq 25" not in lines[0]
    said = res.stdout + res.stderr
    assert "tested now: the cache holds its test encode at cq 25, not at cq 37" in said, said[-4000:]
    prereqs = json.loads((out / "01_prereqs" / "prereqs.json").read_text())
    assert "at cq 25, not at cq 37" in prereqs["encoders"]["libx264"]["tested"]


def test_a_forced_run_says_every_job_is_redone(made: tuple[Path, Path], refs: Path, tmp_path: Path) -> None:
    out, cache = copied(made, tmp_path)
    res = corpus(refs, out, cache, "--force")
    lines = redone_lines(res)
    assert len(lines) == 1 and REDO_WHY["forced"] in lines[0] and "and 3 more" in lines[0], lines
    log = (out / "02_corpus" / "logs" / "corpus.log").read_text()
    assert log.count(f": {REDO_WHY['forced']}") == 8  # the log names each of the 8 jobs


def test_a_first_run_says_why_it_tests_each_encoder(made: tuple[Path, Path], refs: Path, tmp_path: Path) -> None:
    """A cache with no probe of this ffmpeg build and host: its row says so; the same run again reads the cache and
    says nothing of a test encode."""
    out, cache = copied(made, tmp_path)
    shutil.rmtree(cache / "probes")
    args = ["run", "--ref-dir", refs, "--out-dir", out, *BASE, "--cqs", CQS, "--only", "prereqs", "--force"]
    first = run_here(*args, env={"KIT_CACHE_DIR": str(cache)})
    assert "tested now: the probe cache holds no result for this ffmpeg build and host" in first.stdout, first.stdout
    again = run_here(*args, env={"KIT_CACHE_DIR": str(cache)})
    assert again.returncode == 0 and "tested now" not in again.stdout and "cached" in again.stdout, again.stdout
