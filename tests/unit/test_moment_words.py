"""The box's or the moment's, or the clip's (issue 91, item 1), decided for every way a child can end, the widest
matrix where it is cheap: ffmpeg's endings as captured exit statuses and stderr (how_it_ended), a look's and a job's
child as small real processes that end each way (run_look, run_child), the job's moment read from a real out-dir
(moment_of: the out-dir renamed or removed, the work folder removed), and what the kit's cache keeps of a look's
refusal (only what the file's bytes decide). A whole run of each stage and fault: tests/real/test_transient_faults.py.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from kit.corpus.children import AGAIN, CAPPED_HINT, JobFailed, OutDirMoved, moment_of, run_child
from kit.corpus.jobs import Job, JobRunner, Provenance
from kit.corpus.oracle import Oracle
from kit.errors import InputError, ToolError
from kit.infra.proc import ProcResult
from kit.infra.shown import Places
from kit.infra.tree import Tree
from kit.media.cache import ChangedWhileRead, Sha256Cache, refusal_key
from kit.media.ffmpeg import CAPPED_SAID, how_it_ended
from kit.media.libvmaf import DEFAULT_TEACHER
from kit.media.looks import LookCutShort, LookKilled, LookStalled, run_look
from kit.media.refs import Clip
from kit.media.streams import FIRST

SIGNALS_FROM_OUTSIDE = (1, 2, 3, 9, 13, 15)  # a closing terminal, Ctrl-C, a quit, kill -9, a broken pipe, kill
CRASHES = (4, 5, 6, 7, 8, 11, 31)  # SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGSYS: the program's own
BOX_SHORT = {"[out#0/h264 @ 0x1] Error writing trailer: No space left on device": "on a full disk",
             "av_interleaved_write_frame(): Disk quota exceeded": "over the disk's quota",
             "[libx264 @ 0x2] malloc of size 829440 failed: Cannot allocate memory": "with the box out of memory",
             "[in#0 @ 0x3] Error opening input: Too many open files": "with the box out of open files"}
THE_CLIP_S = {  # ffmpeg's own exit on its input: the same input ends so again
    "[h264 @ 0x4] [error] Invalid NAL unit size (1234 > 56).": 1,
    "[out#0/h264 @ 0x5] Error opening output /gone/enc.h264: No such file or directory": 254,  # the job's moment
    "width not divisible by 2 (321x181)": 1,
}


def ended(code: int, stderr: str = "") -> ProcResult:
    return ProcResult(("ffmpeg",), code, b"", stderr, 0.1)


@pytest.mark.parametrize("signum", SIGNALS_FROM_OUTSIDE)
@pytest.mark.parametrize("how", ["negative", "shell"])  # Popen's -N, or a wrapper shell's 128+N
def test_a_signal_from_outside_is_the_moment_s(signum: int, how: str) -> None:
    said, telling, again = how_it_ended(ended(-signum if how == "negative" else 128 + signum))
    assert again and "from outside the kit" in said and telling == "", said


@pytest.mark.parametrize("signum", CRASHES)
def test_a_crash_is_the_clip_s(signum: int) -> None:
    said, _, again = how_it_ended(ended(-signum))
    assert not again and said.startswith("crashed ("), said


@pytest.mark.parametrize("signum", (2, 15))
def test_a_clean_stop_on_a_signal_is_the_moment_s(signum: int) -> None:
    said, _, again = how_it_ended(ended(255, f"Received > 3 system signals, hard exiting\nreceived signal {signum}."))
    assert again and "was stopped" in said and "from outside the kit" in said, said


@pytest.mark.parametrize(("line", "words"), BOX_SHORT.items())
@pytest.mark.parametrize("code", (1, 228, 244))
def test_what_the_box_ran_short_of_is_the_box_s(line: str, words: str, code: int) -> None:
    said, telling, again = how_it_ended(ended(code, f"frame=  3\n{line}\nConversion failed!\n"))
    assert again and said == f"failed (exit {code}) {words}" and telling, (said, telling)


@pytest.mark.parametrize(("line", "code"), THE_CLIP_S.items())
def test_an_exit_of_ffmpeg_s_own_is_the_clip_s_unless_its_job_says_otherwise(line: str, code: int) -> None:
    said, telling, again = how_it_ended(ended(code, line))
    assert not again and said == f"failed (exit {code})" and telling, said


def child(tmp_path: Path, body: str) -> Path:
    path = tmp_path / f"child{len(list(tmp_path.iterdir()))}"
    path.write_text(f"#!{sys.executable} -IS\nimport os, signal, sys, time\n{body}")
    path.chmod(0o755)
    return path


LOOK_ENDINGS = {  # a look's child: how it ends -> the refusal the kit makes (LookCutShort: never kept)
    "killed from outside": ("os.kill(os.getpid(), signal.SIGKILL)", LookKilled),
    "out of memory": ("sys.stderr.write('[error] Cannot allocate memory\\n'); sys.exit(1)", LookKilled),
    "stalled": ("sys.stdout.write('x'); sys.stdout.flush(); time.sleep(60)", LookStalled),
    "stopped from outside": ("sys.stdout.write('x'); sys.stdout.flush(); os.kill(os.getpid(), signal.SIGSTOP)",
                             LookStalled),
    "a full disk": ("sys.stderr.write('No space left on device\\n'); sys.exit(1)", ToolError),
    "a crash": ("os.kill(os.getpid(), signal.SIGSEGV)", InputError),
}


@pytest.mark.parametrize("ending", LOOK_ENDINGS)
def test_a_look_s_ending_is_said_as_whose_it_is(tmp_path: Path, ending: str) -> None:
    body, kind = LOOK_ENDINGS[ending]
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"x")
    with pytest.raises(kind) as refused:
        run_look(clip, [str(child(tmp_path, body))], math.inf, "decoding it strictly", film=FIRST, thumbnails=True,
                     stall_s=1.5)
    assert type(refused.value) is kind  # a crash is the clip's: an InputError, not a LookCutShort
    if isinstance(refused.value, LookCutShort | ToolError):
        assert refused.value.retry_helps and "again" in str(refused.value.hint), refused.value.hint
        assert "damaged" not in refused.value.message.split(";")[0], refused.value.message
    if ending == "stopped from outside":  # no fix of the file's: nothing of it held the look
        assert "was stopped by a signal from outside for 1.5 s" in refused.value.message, refused.value.message
        assert "lossless copy" not in str(refused.value.hint), refused.value.hint


def fake_clip(path: Path) -> Clip:
    path.write_bytes(b"x")
    return Clip(str(path), "clip", "y4m", 176, 144, "25/1", "yuv420p", 8, "ab" * 32)


JOB_ENDINGS = {  # a job's child: how it ends -> (tried again, its clip named)
    "stalled": ("print('frame=1', flush=True); time.sleep(60)", True, True),
    "stopped from outside": ("print('frame=1', flush=True); os.kill(os.getpid(), signal.SIGSTOP)", True, True),
    "killed from outside": ("os.kill(os.getpid(), signal.SIGKILL)", True, True),
    "stopped cleanly on SIGTERM": ("sys.stderr.write('received signal 15.\\n'); sys.exit(255)", True, True),
    "out of memory": ("sys.stderr.write('Cannot allocate memory\\n'); sys.exit(1)", True, True),
    "a full disk": ("sys.stderr.write('No space left on device\\n'); sys.exit(1)", True, False),  # the step stops
    "a crash": ("os.kill(os.getpid(), signal.SIGSEGV)", False, True),
    "its own exit": ("sys.stderr.write('[error] Invalid data found\\n'); sys.exit(1)", False, True),
}


@pytest.mark.parametrize("ending", JOB_ENDINGS)
def test_a_job_s_child_s_ending_is_said_as_whose_it_is(tmp_path: Path, ending: str) -> None:
    body, again, named = JOB_ENDINGS[ending]
    job = Job(fake_clip(tmp_path / "clip.y4m"), "libx264", 25)
    with pytest.raises(JobFailed) as failed:
        run_child(job, [str(child(tmp_path, body))], "ffmpeg", "encoding", stall_s=1.5, log=lambda line: None)
    assert failed.value.retry_helps == again and bool(failed.value.clip_path) == named, failed.value.message
    assert (failed.value.hint == AGAIN) == again, failed.value.hint
    if ending == "stalled":
        assert "gave no frames for 1.5 s encoding clip.y4m at libx264 cq 25: not the clip's verdict" in \
            failed.value.message, failed.value.message
    if ending == "stopped from outside":  # 2.4 waited for ever: a stopped child's own time stood still
        assert ("ffmpeg was stopped by a signal from outside for 1.5 s, its limit, while the kit ran, encoding "
                "clip.y4m at libx264 cq 25: not the clip's verdict") in failed.value.message, failed.value.message


PROGRESSING = "n = 0\nwhile True:\n    n += 1\n    print(f'frame={n}', flush=True)\n    time.sleep(0.1)\n"


@pytest.mark.parametrize("whose", ["a job's child", "the independent check"])
def test_a_child_capped_by_kit_timeout_s_says_the_cap_and_its_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   whose: str) -> None:
    """KIT_TIMEOUT_S is the user's cap, not the box's moment: a child that progresses until the cap stops it says so,
    with the hint that raises the cap (the same cap stops it again), whichever child it is; 2.4.0's independent
    check called it "not the clip's verdict" with the plain hint to run again."""
    monkeypatch.setenv("KIT_TIMEOUT_S", "2")
    job = Job(fake_clip(tmp_path / "clip.y4m"), "libx264", 25)
    program = str(child(tmp_path, PROGRESSING))
    with pytest.raises(JobFailed) as failed:
        if whose == "a job's child":
            run_child(job, [program], "libvmaf", "scoring", stall_s=60, log=lambda line: None)
        else:
            prov = Provenance("box", "linux-x86_64", "cpu", program, "9", "9+x", "3.0")
            oracle = Oracle(program, DEFAULT_TEACHER, lambda line: None, Places.KEPT)
            runner = JobRunner(program, prov, Tree.open(tmp_path), tmp_path / "jobs", tmp_path / "work", 1, 1, {},
                               lambda line: None, oracle=oracle, oracle_jobs=frozenset({job.job_id}))
            runner._checked(job, tmp_path / "enc.mp4", np.zeros(8), tmp_path / "oracle.json", 1)
    said = failed.value.message
    assert "ran past KIT_TIMEOUT_S (2 s), which caps every command," in said, said
    assert said.endswith(CAPPED_SAID) and "verdict" not in said, said
    assert failed.value.hint == CAPPED_HINT and failed.value.retry_helps and failed.value.clip_path == job.clip.path


@pytest.mark.parametrize("what", ["renamed", "removed", "work folder removed", "nothing"])
def test_a_job_s_moment_is_read_from_its_out_dir(tmp_path: Path, what: str) -> None:
    out = tmp_path / "out"
    job = Job(fake_clip(tmp_path / "clip.y4m"), "libx264", 25)
    failed = JobFailed("clip.y4m: ffmpeg failed (exit 254) encoding clip.y4m at libx264 cq 25", clip_path=job.clip.path)
    with Tree.open(out) as tree:
        work = tree.fresh_folder(out / "02_corpus" / "work" / job.job_id)
        if what == "renamed":
            out.rename(tmp_path / "elsewhere")
        elif what == "removed":
            tree.remove_folder(work)
            for folder in (out / "02_corpus" / "work", out / "02_corpus"):
                tree.remove_folder(folder)
            os.rmdir(out)
        elif what == "work folder removed":
            tree.remove_folder(work)
        said = moment_of(failed, job, tree, work)
    if what == "nothing":
        assert said is failed
    elif what == "work folder removed":
        assert said.retry_helps and said.clip_path == job.clip.path and "was removed while its job ran" in said.message
    else:
        assert isinstance(said, OutDirMoved) and said.retry_helps and not said.clip_path
        assert (f"(now at {tmp_path / 'elsewhere'})" if what == "renamed" else "(removed)") in said.message, said


@pytest.mark.parametrize(("refusal", "kept"), [
    (InputError("clip.mp4: not a readable video (frame 3 is damaged)"), True),  # its bytes decide: kept
    (LookStalled("clip.mp4: ffmpeg gave no frames for 63 s"), False),
    (LookKilled("clip.mp4: ffmpeg was killed (SIGKILL) from outside the kit"), False),
    (LookCutShort("clip.mp4: ffmpeg ran past KIT_TIMEOUT_S (2 s), which caps every command, ..."), False),
    ("changed", False),  # the file changed as it was read: ChangedWhileRead, whatever the look said
])
def test_the_cache_keeps_only_what_the_file_s_bytes_decide(tmp_path: Path, refusal: object, kept: bool) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"a version of the clip")
    (tmp_path / "cache").mkdir()
    ffmpeg = tmp_path / "ffmpeg"
    ffmpeg.write_bytes(b"#!/bin/sh\n")
    cache = Sha256Cache(Tree.open(tmp_path / "cache"), tmp_path / "cache" / "sha256.json")

    def looks() -> None:
        if refusal == "changed":
            clip.write_bytes(b"cut sho")  # cut short as it was read: the look then fails on what is left
            raise InputError("clip.mp4: not a readable video (decoding failed after frame 2)")
        assert isinstance(refusal, Exception)
        raise refusal

    with pytest.raises(ChangedWhileRead if refusal == "changed" else type(refusal)):  # type: ignore[arg-type]
        cache._looked(clip, str(ffmpeg), looks)
    entries = json.loads((tmp_path / "cache" / "sha256.json").read_text()) if kept else {}
    assert (refusal_key(clip, str(ffmpeg)) in entries) == kept
    assert not (tmp_path / "cache" / "sha256.json").exists() or kept


def test_a_repeating_moment_is_told_by_its_typed_kind_never_by_the_words_of_its_reason(tmp_path: Path) -> None:
    """Which moment left a clip out run after run (kit.corpus.failures.repeated) follows the typed end its child came
    to (kit.infra.ended), carried on its JobFailed, look refusal and Unusable: a reason that carries another moment's
    words (or every one's) is counted as the moment it is typed, and one of no typed moment is counted as none. Every
    end of every kind: the moment of its table, or none; end_of types what how_it_ended says."""
    from kit.corpus.failures import FIXES, Repeat, Repeats, repeated
    from kit.infra.ended import MOMENT_OF, MOMENTS, Ended, Kind
    from kit.media.discovery import Unusable
    from kit.media.ffmpeg import end_of
    from kit.media.looks import LookCutShort

    worded = ("clip.y4m: ffmpeg failed (exit 1) with the box out of memory, was killed (SIGKILL) from outside the "
              "kit, stopped by a signal from outside, gave no frames for 9 s, changed while the run was going")
    assert tuple(FIXES) == MOMENTS  # every moment has its fix, in its order
    before = Repeats(tuple(Repeat("clip.y4m", kind, 1) for kind in MOMENTS))
    for moment in (None, *MOMENTS):
        said, record, _ = repeated([Unusable("clip.y4m", worded, "fix", True, moment)], before)
        assert [r.kind for r in record.repeats] == ([moment] if moment else []), moment
        assert (said[0].fix == "fix") == (moment is None), said[0].fix
        if moment:
            assert said[0].fix == f"left out for the same cause in 2 runs in a row: {FIXES[moment]}"
    for kind in Kind:
        end = Ended(kind, code=1, signal=9, seconds=9, cap="KIT_TIMEOUT_S")
        assert JobFailed(worded, retry_helps=True, end=end).moment == MOMENT_OF.get(kind), kind
        assert LookCutShort(worded, end=end).moment == MOMENT_OF.get(kind), kind
    assert JobFailed(worded, retry_helps=True).moment is None and ChangedWhileRead(tmp_path / "c.y4m").moment == \
        "changed"
    for code, stderr, kind in ((-9, "", Kind.KILLED_OUTSIDE), (-11, "", Kind.CRASHED),
                               (255, "Received signal 15: terminating.", Kind.KILLED_OUTSIDE),
                               (1, "x: Cannot allocate memory", Kind.OUT_OF_MEMORY),
                               (1, "Too many open files", Kind.OUT_OF_FILES), (1, "No space left on device",
                                                                              Kind.DISK_FULL),
                               (1, "Invalid data found when processing input", Kind.EXIT)):
        res = ProcResult(("ffmpeg",), code, b"", stderr, 0.1)
        assert end_of(res).kind is kind, (code, stderr)
        assert how_it_ended(res)[2] == (kind in MOMENT_OF or kind is Kind.DISK_FULL), (code, stderr)
