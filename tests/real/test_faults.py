"""No run is lost to one file, whatever its child process does (issue 74, item 1): every stage a clip's child runs at
times every way it can fail, injected by a wrapper of the real ffmpeg (tests/faults.py) for one clip at one stage, the
real ffmpeg otherwise. Each cell ends the corpus step with the clip left out, in the kit's words naming the clip, its
stage and its cause (never ffmpeg's last banner line), in the step's lines, skipped.json and the shard manifest's
left_out; `retry:` never where the same child would fail again. One whole run goes on to a verdict with the SKIPPED
row and the report naming it. A clip libvmaf cannot score (16x16: its ADM pyramid runs out) is refused before its
first encode, and a teacher model file libvmaf would crash on before any job.

The fast tier runs a cut of the matrix (CUT); the suite every cell (the others `@pytest.mark.wide`).
"""

from __future__ import annotations

import copy
import io
import json
import re
import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest

from kit.corpus import jobs, samples
from kit.media import decode, looks
from kit.media.libvmaf import MIN_SCORED_SIDE
from kit.rundir import RunDir
from tests.conftest import FAST, LENIENT, TINY_SOURCES, copy_prereqs, render, run_here, tiny_links
from tests.faults import FAULTS, SAID, SIGNALS, STAGES, faulty_ffmpeg, inject
from tests.kitfiles import TINY_MODEL

CLIP = "alpha.y4m"  # the clip each fault is injected for; beta, gamma and delta go on
CLIP_TS = "alpha.ts"  # the clip of the stages of a master read through its lossless copy (MASTER_STAGES)
MASTER_STAGES = ("open", "copy", "copycheck")
GRID = ["--encoders", "libx264", "--cqs", "25,37", "--scales", "native"]
HANG_S = 6.0  # each job's child may count no frame on this long here (kit.corpus.jobs.stall_s); a look's start 3 s
STAGE_WORDS = {  # what the kit's reason says of each stage, where it found the fault
    "open": "", "copy": "", "copycheck": "", "look": "reading its pictures",
    "encode": "encoding alpha.y4m at libx264 cq",
    "score": "scoring alpha.y4m at libx264 cq", "check": "in the independent check of alpha.y4m at libx264 cq",
    "sample": "alpha.y4m's windows on their own (the consumer's samplings) at libx264 cq",
}
# what the kit says of each fault: a signal by its name, a hang by its timeout, a bad output by what it found wrong
FAULT_WORDS = {
    "exit1": r"failed \(exit 1\)", "segv": r"crashed \(SIGSEGV\)", "abrt": r"crashed \(SIGABRT\)",
    "kill": r"was killed \(SIGKILL\) from outside the kit", "hang": "timed out after|gave no frames for",
    "truncate": "frames' scores, not|cannot read|frames' thumbnails, the clip holds|wrote .* frames of",
    "garble": r"holds no frames|cannot read|printed no pixel hash|wrote .* frames of|frames' scores, not|failed \(exit",
}
# a master's looks say what they found in their own words, each naming the clip: a look cut short or garbled, its
# copy found wrong by the copy's check
MASTER_WORDS = "not a readable video|its lossless copy holds|printed 0 pixel hashes"
# outputs no step reads, so nothing is wrong where they are cut short: the clip is used (an open writes nothing; the
# copy's check is read by its pixel hash and frame count on stderr, not its stdout)
UNUSED_OUTPUT = {("open", "truncate"), ("copycheck", "truncate")}
# where a bad output is found: an encode's or the look's own output by the step after it
FOUND_AT = {("encode", "truncate"): "score", ("encode", "garble"): "score"}
CUT = [("encode", "exit1"), ("check", "kill"), ("score", "garble"), ("encode", "truncate")]  # the fast tier's cells
# (score x segv: its whole run; a look's hang: tests/real/test_bounded_looks.py)


class FaultBox(NamedTuple):
    refs: Path
    masters: Path  # the same clips, alpha as a transport stream (CLIP_TS): read through its lossless copy
    wrapper: Path
    prereqs: Path  # an out-dir holding the prereqs step made with the wrapper (conftest.copy_prereqs)


@pytest.fixture(scope="module")
def fault_box(ffmpeg: str, tiny_refs: Path, tmp_path_factory: pytest.TempPathFactory) -> FaultBox:
    root = tmp_path_factory.mktemp("faults")
    refs = tiny_links(tiny_refs, root / "refs")
    masters = tiny_links(tiny_refs, root / "masters", leave_out=("alpha",))
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-i", str(tiny_refs / CLIP), "-c:v", "libx264",
                    "-qp", "0", "-f", "mpegts", str(masters / CLIP_TS)], check=True)
    wrapper = faulty_ffmpeg(root, ffmpeg)
    res = run_here("step", "prereqs", "--out-dir", root / "prereqs", "--ffmpeg", wrapper, "--encoders", "libx264")
    assert res.returncode == 0, res.stdout + res.stderr
    return FaultBox(refs, masters, wrapper, root / "prereqs")


@pytest.fixture()
def quick_hangs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hung child is stopped in seconds: a job's children at HANG_S, a look's start allowance (an open's budget)
    3 s."""
    monkeypatch.setattr(jobs, "stall_s", lambda clip, encodes=1: HANG_S)
    monkeypatch.setattr(samples, "stall_s", lambda clip, encodes=1: HANG_S)
    monkeypatch.setattr(looks, "LOOK_START_S", 3.0)
    monkeypatch.setattr(decode, "LOOK_START_S", 3.0)  # an open's whole budget


def corpus_with_fault(box: FaultBox, out: Path, monkeypatch: pytest.MonkeyPatch, stage: str,
                      kind: str) -> subprocess.CompletedProcess[str]:
    master = stage in MASTER_STAGES
    inject(monkeypatch, CLIP_TS if master else CLIP, stage, kind)
    if stage in ("look", *MASTER_STAGES):  # a cache of its own: a clip, once read, is never looked at again
        monkeypatch.setenv("KIT_CACHE_DIR", str(out.with_name("cache")))
    # sample jobs only where the cell needs them: the samplings encoded on their own (`cut`, the default, runs none)
    window = ["--consumer-window", "0.2", "--consumer-samplings", "encoded"] if stage == "sample" else []
    return run_here("step", "corpus", "--ref-dir", box.masters if master else box.refs, "--out-dir",
                    copy_prereqs(box.prereqs, out), "--ffmpeg", box.wrapper, *GRID, *window)


def reason_said(stage: str, kind: str) -> re.Pattern[str]:
    """The kit's words for the cell: the fault's, then the stage's where the kit found it."""
    at = FOUND_AT.get((stage, kind), stage)
    fault = f"({FAULT_WORDS[kind]}|{MASTER_WORDS})" if stage in MASTER_STAGES else f"({FAULT_WORDS[kind]})"
    return re.compile(f"{fault}.*{re.escape(STAGE_WORDS[at])}|{re.escape(STAGE_WORDS[at])}.*{fault}"
                      if at not in ("look", *MASTER_STAGES) else fault, re.DOTALL)


def check_left_out(res: subprocess.CompletedProcess[str], out: Path, stage: str, kind: str) -> str:
    """The cell's clip left out in the step's lines, skipped.json and the shard manifest, in the kit's words; the
    reason."""
    said = res.stdout + res.stderr
    assert res.returncode == 0, said[-3000:]
    name = CLIP_TS if stage in MASTER_STAGES else CLIP
    clip = [ln for ln in said.splitlines() if re.search(rf"skipped \S*{name}", ln)]
    assert len(clip) == 1, said[-3000:]
    run = RunDir(out)
    (skipped,) = json.loads(run.skipped_clips.read_text())["skipped"]
    assert Path(skipped["path"]).name == name
    reason = skipped["reason"]
    assert reason_said(stage, kind).search(reason), reason
    assert "wrapped_avframe" not in reason and "Stream #" not in reason, reason  # never ffmpeg's banner
    if kind in SIGNALS:
        assert SIGNALS[kind] in clip[0]
    manifest = json.loads(run.shard_manifest.read_text())
    assert [u["file"] for u in manifest["left_out"]] == [name] and manifest["left_out"][0]["why"], manifest
    # a kill from outside and a hang (a stall: the box's or the moment's, issue 91) can end otherwise: the step's
    # summary asks the runner again for it (a look's is looked at again too: never kept, kit.media.looks.LookCutShort)
    again = kind in ("kill", "hang")
    status = json.loads(run.status("corpus").read_text())
    assert status["summary"].get("retry", []) == ([name] if again else []), status["summary"]
    assert skipped.get("again", False) is again, skipped
    assert ("the same command again" in skipped["fix"]) == again, skipped["fix"]
    assert "retry:" not in said
    said_of = skipped["reason"].split(": ", 1)[1]
    print(f"cell {stage} x {kind}: {name}: {said_of}")  # with -s, the matrix as the notes give it
    return reason


CELLS = [(s, k) for s in STAGES if s != "teacher" for k in FAULTS]  # the teacher check's: below


@pytest.mark.parametrize(("stage", "kind"), [
    pytest.param(s, k, marks=() if (s, k) in CUT else (pytest.mark.wide,)) for s, k in CELLS])
def test_a_child_that_fails_leaves_its_clip_out_in_the_kit_s_words(
        fault_box: FaultBox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quick_hangs: None, stage: str,
        kind: str) -> None:
    res = corpus_with_fault(fault_box, tmp_path / "out", monkeypatch, stage, kind)
    if (stage, kind) in UNUSED_OUTPUT:  # nothing the kit reads was cut: the clip is used, nothing left out
        assert res.returncode == 0 and not RunDir(tmp_path / "out").skipped_clips.exists(), res.stdout + res.stderr
        return
    check_left_out(res, tmp_path / "out", stage, kind)


@pytest.mark.wide
def test_a_kill_from_outside_is_tried_again_by_the_rerun(fault_box: FaultBox, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The one fault a rerun can change: the next run of the same command reruns the step for that clip alone (its
    finished jobs and the other clips' reused), saying why, and uses it."""
    out = tmp_path / "out"
    check_left_out(corpus_with_fault(fault_box, out, monkeypatch, "score", "kill"), out, "score", "kill")
    monkeypatch.delenv("FAULT_KIND")
    again = run_here("step", "corpus", "--ref-dir", fault_box.refs, "--out-dir", out, "--ffmpeg", fault_box.wrapper,
                     *GRID)
    said = again.stdout + again.stderr
    assert again.returncode == 0, said[-3000:]
    assert f"it left out {CLIP} for a cause a rerun can change" in said, said[-3000:]
    run = RunDir(out)
    assert not run.skipped_clips.exists(), run.skipped_clips.read_text()
    assert json.loads(run.status("corpus").read_text())["summary"]["reused"] == 6  # the others' (alpha's two killed)


def test_every_fault_s_cell_is_named() -> None:
    """The matrix is every stage times every fault: each stage and fault has its words."""
    assert set(STAGE_WORDS) | {"teacher"} == set(STAGES) and set(FAULT_WORDS) == set(FAULTS)
    assert set(CUT) <= set(CELLS)


@pytest.mark.slow
def test_a_crash_of_libvmaf_ends_in_a_verdict_naming_the_clip(
        fault_box: FaultBox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's case, the whole run: libvmaf crashes on one clip's job; the run ends in a verdict, the summary's
    SKIPPED row and the report name the clip and the crash."""
    inject(monkeypatch, CLIP, "score", "segv")
    out = copy_prereqs(fault_box.prereqs, tmp_path / "out")
    res = run_here("run", "--ref-dir", fault_box.refs, "--out-dir", out, "--ffmpeg", fault_box.wrapper, *FAST,
                   *LENIENT)
    said = res.stdout + res.stderr
    assert res.returncode in (0, 1), said[-3000:]
    row = [ln for ln in said.splitlines() if "SKIPPED" in ln]
    assert row and CLIP in said[said.index(row[0]):] and "libvmaf crashed (SIGSEGV) scoring" in said, said[-3000:]
    assert "retry:" not in said
    report = RunDir(out).report.read_text()
    assert CLIP in report and "libvmaf crashed (SIGSEGV) scoring alpha.y4m at libx264 cq" in report


def test_a_clip_smaller_than_libvmaf_scores_is_refused_before_its_first_encode(
        ffmpeg: str, fault_box: FaultBox, tmp_path: Path) -> None:
    """16x16 crashes libvmaf (its ADM pyramid's fourth level is one pixel: SIGSEGV); the smallest size it scores is
    MIN_SCORED_SIDE each way, measured here on the real ffmpeg, and the kit refuses below it at discovery."""
    def scores(width: int, height: int) -> int:
        graph = (f"[0:v]scale={width}:{height},format=yuv420p[d];[1:v]scale={width}:{height},format=yuv420p[r];"
                 f"[d][r]libvmaf=log_fmt=json:log_path={tmp_path / 'l.json'}")
        return subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                               "testsrc2=s=64x64:r=25", "-f", "lavfi", "-i", "testsrc2=s=64x64:r=25,hue=h=20",
                               "-frames:v", "2", "-lavfi", graph, "-f", "null", "-"], capture_output=True).returncode
    side = MIN_SCORED_SIDE
    assert (scores(side - 1, 64), scores(64, side - 1), scores(side, 64), scores(64, side)) == (-11, -11, 0, 0)
    refs = tmp_path / "refs"
    render(ffmpeg, "testsrc2=s=16x16:r=25", refs / "tiny.y4m")
    for name in ("beta", "gamma", "delta"):
        render(ffmpeg, TINY_SOURCES[name], refs / f"{name}.y4m")
    out = copy_prereqs(fault_box.prereqs, tmp_path / "out")  # no fault set: the wrapper runs the real ffmpeg
    res = run_here("step", "corpus", "--ref-dir", refs, "--out-dir", out, "--ffmpeg", fault_box.wrapper, *GRID)
    said = res.stdout + res.stderr
    assert res.returncode == 0, said[-3000:]
    (skipped,) = json.loads(RunDir(out).skipped_clips.read_text())["skipped"]
    assert skipped["reason"].endswith("tiny.y4m: 16x16 is too small for libvmaf to score: its width and height are "
                                      f"under {side} pixels, where libvmaf's ADM feature runs out of pyramid levels "
                                      "and crashes (SIGSEGV) on the first job"), skipped
    assert not list((out / "02_corpus" / "jobs").glob("tiny*")), "a job of the tiny clip was run"


@pytest.mark.parametrize("broken", ["no model", "not libsvm's text"])
def test_a_teacher_model_libvmaf_would_crash_on_is_refused_before_any_job(tmp_path: Path, broken: str) -> None:
    model = copy.deepcopy(TINY_MODEL)
    if broken == "no model":
        del model["model_dict"]["model"]
    else:
        model["model_dict"]["model"] = "these are not libsvm's words"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(model))
    res = run_here("step", "prereqs", "--out-dir", tmp_path / "out", "--teacher", path, "--encoders", "libx264")
    said = res.stdout + res.stderr
    assert res.returncode == 2, said[-2000:]
    assert f"--teacher {path}: is not a model libvmaf can load: its `model_dict" in said, said[-2000:]
    assert "wrapped_avframe" not in said and "retry:" not in said
    assert not (tmp_path / "out" / "01_prereqs" / "status.json").exists()


@pytest.mark.parametrize("kind", [pytest.param(k, marks=() if k == "segv" else (pytest.mark.wide,))
                                  for k in ("exit1", "segv", "abrt")])
def test_a_teacher_check_that_fails_is_said_in_the_kit_s_words(
        fault_box: FaultBox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """The teacher check's libvmaf failing: the teacher is refused (one teacher a run: no verdict without it), in
    the kit's words, never a banner line, and no `retry:` for what comes again."""
    model = tmp_path / "model.json"
    model.write_text(json.dumps(TINY_MODEL))
    inject(monkeypatch, "*", "teacher", kind)
    res = run_here("step", "prereqs", "--out-dir", tmp_path / "out", "--ffmpeg", fault_box.wrapper, "--teacher",
                   model, "--encoders", "libx264")
    said = res.stdout + res.stderr
    assert res.returncode == 2, said[-2000:]
    words = {"exit1": f"failed (exit 1) scoring a test pair with it: {SAID.removeprefix('[fault] ')}",
             "segv": "crashed (SIGSEGV) scoring a test pair with it",
             "abrt": "crashed (SIGABRT) scoring a test pair with it"}[kind]
    assert f"--teacher {model}: this ffmpeg's libvmaf {words}" in said, said[-2000:]
    assert "wrapped_avframe" not in said and "retry:" not in said


# a clip left out mid-step with its samplings encoded on their own: by its corpus jobs (encode, score, the independent
# check: its sample jobs are dropped before they run) or by a sample job (its others run: nothing dropped)
LEFT_OUT_MID_STEP = ("encode", "score", "check", "sample")


@pytest.mark.parametrize(("stage", "interrupted"), [  # wide: the fast tier leaves them out
    pytest.param(s, i, marks=(pytest.mark.wide,)) for s in LEFT_OUT_MID_STEP for i in (False, True)])
def test_a_clip_left_out_mid_step_leaves_the_step_one_count_and_its_bar_full(
        fault_box: FaultBox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stage: str, interrupted: bool) -> None:
    """Issue 77 item 5: with --consumer-samplings encoded, a clip its corpus jobs left out kept its sample jobs in the
    bar's total (never full) while plan.json (`status`) had dropped them. Now the step's count drops them
    (jobs_dropped): the line's count, each job_done's after it, `status`'s as the sample jobs start and an
    interrupt's then are one, and the bar, fed the run's events, is full at the step's end."""
    import kit.steps.corpus_samples as corpus_samples
    from kit import events as ev
    from kit.infra.tree import read_out_dir
    from kit.report.terminal import KitConsole, Renderer
    from kit.steps.status import jobs_progress

    inject(monkeypatch, CLIP, stage, "exit1")
    out = copy_prereqs(fault_box.prereqs, tmp_path / "out")
    seen = []
    run_samples = corpus_samples.run_samples

    def samples_watched(*args: object, **kwargs: object) -> object:
        with read_out_dir(out) as tree:  # as `status` reads it, in another process
            seen.append(jobs_progress(tree, RunDir(out), None))
        if interrupted:
            raise KeyboardInterrupt
        return run_samples(*args, **kwargs)

    monkeypatch.setattr(corpus_samples, "run_samples", samples_watched)
    res = run_here("step", "corpus", "--ref-dir", fault_box.refs, "--out-dir", out, "--ffmpeg", fault_box.wrapper,
                   *GRID, "--consumer-window", "0.2", "--consumer-samplings", "encoded", "--json")
    events = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    [planned] = [e for e in events if e["event"] == "jobs_planned"]
    dropped = [e for e in events if e["event"] == "jobs_dropped"]
    total = planned["total"] - sum(e["dropped"] for e in dropped)
    # 4 clips x 2 CRFs, each with its sample job; the clip's 2 sample jobs dropped unless a sample job left it out
    assert (planned["total"], planned["samples"], total) == (16, 8, 16 if stage == "sample" else 14), dropped
    assert [e["total"] for e in dropped] == ([] if stage == "sample" else [total])
    [progress] = seen
    assert progress is not None and progress.planned == total, progress  # status's count
    if interrupted:
        assert res.returncode == 130, res.stdout[-2000:] + res.stderr[-2000:]
        # the stop's one sentence says what the cut work keeps (issue 98 item 6), in the step's one count
        said = [line for line in (res.stdout + res.stderr).splitlines() if "interrupted" in line]
        assert len(said) == 1 and re.search(rf"stopped\): \d+ of {total} corpus jobs are finished", said[0]), said
        return
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    after = events.index(dropped[0]) if dropped else 0
    assert {e["total"] for e in events[after:] if e["event"] == "job_done"} == {total}
    console = KitConsole(file=io.StringIO(), force_terminal=True, width=100, color_system=None)
    r = Renderer(console=console)  # the run's events drawn as a terminal draws them: the bar full at the end
    kinds = {"jobs_planned": ev.JobsPlanned, "jobs_dropped": ev.JobsDropped, "job_started": ev.JobStarted,
             "job_done": ev.JobDone, "job_failed": ev.JobFailed}
    r(ev.RunStarted(str(out), ["corpus"], "2.3.0"))
    r(ev.StepStarted("corpus", "not completed in this out-dir yet"))
    for e in events:
        if e["event"] in kinds:
            r(kinds[str(e["event"])](**{k: v for k, v in e.items() if k != "event"}))
    assert r.bars is not None and r.bars.corpus is not None
    task = r.bars.progress.tasks[r.bars.corpus]
    assert (task.completed, task.total) == (total, total) and task.finished, task
    assert sum(e["event"] in ("job_done", "job_failed") for e in events) == total  # each ended once, counted once
    r.close()
