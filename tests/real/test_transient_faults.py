"""The moment is not the file (issue 91, item 1): what happens to the box while a clip's child runs is never kept as a
fact about the clip. Every stage a clip goes through (its open, a .y4m's pictures, a master's strict decode, its
lossless copy and the copy's check, the shared decode and its encodes, the scoring, the independent check, a sample
job) times every way the box or the moment can end it (TRANSIENT: a busy box's slow child, a stop longer than any
limit, a kill from outside, a full disk, the out-dir renamed), injected by the wrapper of the real ffmpeg
(tests/faults.py) for one clip at one stage:

* a slow child that progresses finishes: the clip is used by the same run (a limit on the child's whole time,
  2.3.0's, stopped it); a child stopped alone (SIGSTOP) while the kit runs is ended at its limit, said as stopped
  from outside (2.4 waited for it for ever: tests/real/test_child_or_box.py has its group, the kit's and the box);
* anything else leaves the clip out of that run, or stops it, in the box's words (never "damaged", never the fix
  that says the same job fails again), and the next run, the box whole again, uses the clip: nothing was kept as
  the clip's refusal, and a step that left a clip out for the moment is never up to date.

The fast tier runs a cut (CUT: one cell of each kind); the suite every cell. Their table, with -s, is printed as
`cell STAGE x KIND: ...`. The classifier's words for each ending, from captured stderr and exit statuses, are
tests/unit/test_moment_words.py's; a real SIGSTOP of the kit and all its ffmpegs mid-corpus is
tests/real/test_suspended_run.py's.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest

from kit.corpus import jobs, samples
from kit.media import decode, looks
from kit.rundir import RunDir
from tests.conftest import copy_prereqs, run_here, tiny_links
from tests.faults import OUT_ENV, STOP_S, TRANSIENT, faulty_ffmpeg, inject

GRID = ["--encoders", "libx264", "--cqs", "25,37", "--scales", "native"]
LIMIT_S = 6.0  # each job's child may count no frame on this long here; a look's start 3 s
# the stages: (the wrapper's stage, the clip it is injected for); `strict`: a master read as it is (.mp4)
STAGES = {"open": ("open", "alpha.ts"), "pictures": ("look", "alpha.y4m"), "strict": ("look", "alpha.mp4"),
          "copy": ("copy", "alpha.ts"), "copycheck": ("copycheck", "alpha.ts"), "encode": ("encode", "alpha.y4m"),
          "score": ("score", "alpha.y4m"), "check": ("check", "alpha.y4m"), "sample": ("sample", "alpha.y4m")}
LOOKS = ("open", "pictures", "strict", "copy", "copycheck")
# what the run that met the fault says, in the box's words
BOX_WORDS = {"slow": r"gave no frames for [\d.]+ s|timed out after [\d.]+ s",
             "stop": r"was stopped by a signal from outside for [\d.]+ s, its limit, while the kit ran",
             "kill": r"was killed \(SIGKILL\) from outside the kit",
             "full": r"on a full disk|No space left on device",
             # by a job's child (kit.corpus.children.OutDirMoved), or by the step around it (kit.steps.runner)
             "moved": r"the out-dir .* was moved, renamed or removed while the corpus jobs ran \(now at .*-moved\)|"
                      r"\(out-dir\) was moved or renamed while the kit ran \(now at .*-moved\)"}
# what blames the file: never said of the moment
BLAMES = re.compile(r"may be damaged|damaged container|not a readable video|the same job fails again|fix or replace "
                    r"the clip|cannot fingerprint|its lossless copy holds")
CUT = [("strict", "slow"), ("encode", "stop"), ("pictures", "kill"), ("copy", "full"), ("check", "moved")]


class Box(NamedTuple):
    refs: dict[str, Path]  # by the clip a stage is injected for: a --ref-dir holding it and three good clips
    wrapper: Path
    prereqs: Path


@pytest.fixture(scope="module")
def box(ffmpeg: str, tiny_refs: Path, tmp_path_factory: pytest.TempPathFactory) -> Box:
    root = tmp_path_factory.mktemp("transient")
    refs = {"alpha.y4m": tiny_links(tiny_refs, root / "y4m")}
    for ext, fmt in (("ts", "mpegts"), ("mp4", "mp4")):
        folder = tiny_links(tiny_refs, root / ext, leave_out=("alpha",))
        subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-i", str(tiny_refs / "alpha.y4m"), "-c:v",
                        "libx264", "-qp", "0", "-f", fmt, str(folder / f"alpha.{ext}")], check=True)
        refs[f"alpha.{ext}"] = folder
    wrapper = faulty_ffmpeg(root, ffmpeg)
    res = run_here("step", "prereqs", "--out-dir", root / "prereqs", "--ffmpeg", wrapper, "--encoders", "libx264")
    assert res.returncode == 0, res.stdout + res.stderr
    return Box(refs, wrapper, root / "prereqs")


@pytest.fixture()
def quick_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Limits of seconds: a job's children LIMIT_S without a frame, a look's start 3 s (its stall 3.4 s for these
    clips); the slow child gives a frame every second for 8, the stopped one is stopped for STOP_S."""
    monkeypatch.setattr(jobs, "stall_s", lambda clip, encodes=1: LIMIT_S)
    monkeypatch.setattr(samples, "stall_s", lambda clip, encodes=1: LIMIT_S)
    monkeypatch.setattr(looks, "LOOK_START_S", 3.0)
    monkeypatch.setattr(decode, "LOOK_START_S", 3.0)


def corpus(box: Box, stage: str, out: Path) -> subprocess.CompletedProcess[str]:
    window = ["--consumer-window", "0.2", "--consumer-samplings", "encoded"] if stage == "sample" else []
    return run_here("step", "corpus", "--ref-dir", box.refs[STAGES[stage][1]], "--out-dir", out, "--ffmpeg",
                    box.wrapper, *GRID, *window)


def used(out: Path, clip: str) -> bool:
    manifest = json.loads(RunDir(out).shard_manifest.read_text())
    return clip in {Path(s["file"]).name for s in manifest["sources"]}


def outcome(res: subprocess.CompletedProcess[str], out: Path, clip: str) -> str:
    """How the run met the fault: `used`, `left out: WHY` or `stopped: ERROR`."""
    said = res.stdout + res.stderr
    if res.returncode == 2:
        (error,) = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
        assert "retry:" in res.stderr, said[-3000:]  # the same command, the box whole again, ends otherwise
        return "stopped: " + error.removeprefix("error: ")
    assert res.returncode == 0, said[-3000:]
    if used(out, clip):
        return "used"
    (left,) = [s for s in json.loads(RunDir(out).skipped_clips.read_text())["skipped"] if Path(s["path"]).name == clip]
    assert not BLAMES.search(left["fix"]) and "again" in left["fix"] and left.get("again") is True, left
    return "left out: " + left["reason"]


@pytest.mark.parametrize(("stage", "kind"), [
    pytest.param(s, k, marks=() if (s, k) in CUT else (pytest.mark.wide,)) for s in STAGES for k in TRANSIENT])
def test_the_moment_is_never_kept_as_the_clip_s(box: Box, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                quick_limits: None, stage: str, kind: str) -> None:
    wrapper_stage, clip = STAGES[stage]
    out = copy_prereqs(box.prereqs, tmp_path / "out")
    monkeypatch.setenv("KIT_CACHE_DIR", str(tmp_path / "cache"))  # one cache for both runs: what the first kept
    monkeypatch.setenv(OUT_ENV, str(out))
    inject(monkeypatch, clip, wrapper_stage, kind)
    first = corpus(box, stage, out)
    met = outcome(first, out if kind != "moved" else Path(f"{out}-moved"), clip)
    print(f"cell {stage} x {kind}: {met}")  # with -s, the table the notes give
    assert not BLAMES.search(met), met
    if kind == "slow" and stage != "open":  # the child progressed: the same run uses it
        assert met == "used", met
        assert first.stdout.count("[02 corpus] done") == 1
        return
    # an open shows no progress: its few seconds are a limit of its own time, and a slow one meets it (not kept)
    assert re.search(BOX_WORDS[kind], met), met
    if kind == "moved":
        Path(f"{out}-moved").rename(out)  # put back where it was: the same command then goes on
    monkeypatch.delenv("FAULT_KIND")
    again = corpus(box, stage, out)
    assert again.returncode == 0 and used(out, clip), again.stdout[-3000:] + again.stderr[-3000:]
    if met.startswith("left out"):  # never up to date: the step reruns for it, its jobs alone done
        said = again.stdout + again.stderr
        assert f"it left out {clip} for a cause a rerun can change" in said or (
            stage in LOOKS and "setting skipped" in said), said[-3000:]  # a look's: looked at again, and used
        assert json.loads(RunDir(out).status("corpus").read_text())["summary"]["reused"] >= 6


def test_every_transient_cell_is_named() -> None:
    assert set(BOX_WORDS) == set(TRANSIENT) and set(CUT) <= {(s, k) for s in STAGES for k in TRANSIENT}
    assert STOP_S > LIMIT_S


def test_a_moment_that_comes_again_is_said_with_its_count_and_its_fix(box: Box, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       quick_limits: None) -> None:
    """Issue 98, item 3: the box out of memory for a clip's encode, run after run. The first run says it as the
    moment's; the second and third say how many runs in a row, and the fix of that cause (fewer jobs, free memory),
    where 2.4 gave the same words and fix every time; the clip is never refused for it (tried again each run, its
    entry `again`), and once the box has room it is used and the count is gone (02_corpus/repeats.json, the box's
    own record of it, never sent)."""
    out = copy_prereqs(box.prereqs, tmp_path / "out")
    monkeypatch.setenv("KIT_CACHE_DIR", str(tmp_path / "cache"))
    inject(monkeypatch, "alpha.y4m", "encode", "oom")
    seen = []
    for _ in range(3):
        res = corpus(box, "encode", out)
        assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
        (entry,) = [s for s in json.loads(RunDir(out).skipped_clips.read_text())["skipped"]
                    if Path(s["path"]).name == "alpha.y4m"]
        assert entry.get("again") is True, entry
        seen.append((entry["reason"], entry["fix"], res.stdout + res.stderr))
        print(f"run {len(seen)}: {entry['reason']}; fix: {entry['fix']}")
    (first, fix1, _), (second, fix2, said2), (third, fix3, _) = seen
    assert "with the box out of memory" in first and "in a row" not in first + fix1, (first, fix1)
    assert second.endswith("; the 2nd run in a row to leave it out so") and "in a row" in said2, second
    assert third.endswith("; the 3rd run in a row to leave it out so"), third
    assert fix2.startswith("left out for the same cause in 2 runs in a row: the box ran out of memory for it: run "
                           "fewer jobs at once (--jobs 1) or free memory") and fix3.startswith(
        "left out for the same cause in 3 runs in a row"), (fix2, fix3)
    monkeypatch.delenv("FAULT_KIND")
    again = corpus(box, "encode", out)
    assert again.returncode == 0 and used(out, "alpha.y4m"), (again.stdout + again.stderr)[-3000:]
    assert not RunDir(out).repeats.exists() and not RunDir(out).skipped_clips.exists()
