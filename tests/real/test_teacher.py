"""`--teacher` with the real ffmpeg (issue 39): a model libvmaf cannot score with stops the run before any encode,
naming the file; a model file's rows, shard manifest and job fingerprints carry its name and sha256, so another
file is another corpus."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from kit.media.libvmaf import file_teacher_name
from kit.media.teachers import teacher_of
from kit.rundir import RunDir
from tests.conftest import assert_clean_failure, render, run_kit
from tests.kitfiles import TINY_MODEL, write_tiny_model

CORPUS = ["--encoders", "libx264", "--cqs", "25,40", "--scales", "native"]  # no rung: the teacher scores at the
# reference's size whatever the rung (an encode is scored upscaled to it), and the size check is of the references
LADDER = CORPUS[:4]  # the default ladder: a model file's teacher scores a rung's encodes too (the rows test)


def test_a_model_libvmaf_cannot_use_is_refused_before_any_encode(tiny_refs: Path, tmp_path: Path) -> None:
    """JSON of libvmaf's shape whose feature this libvmaf does not have: exit 2 at the prereqs step, naming the
    file and libvmaf's own words; no corpus job ran and no encoder was probed."""
    bad = tmp_path / "no such feature.json"
    doc = json.loads(json.dumps(TINY_MODEL))
    doc["model_dict"]["feature_names"] = ["VMAF_feature_no_such_thing_score", "VMAF_integer_feature_adm2_score"]
    doc["model_dict"]["feature_dict"] = {"VMAF_feature": ["no_such_thing"], "VMAF_integer_feature": ["adm2"]}
    bad.write_text(json.dumps(doc))
    out = tmp_path / "out"
    res = run_kit("run", "--ref-dir", tiny_refs, "--out-dir", out, "--teacher", bad, *CORPUS)
    assert_clean_failure(res, f"--teacher {bad}", "libvmaf failed (exit ")
    run = RunDir(out)
    assert not run.step("corpus").exists() and not run.prereqs_json.exists()
    log = run.log("prereqs").read_text()  # the box's own (its twin under logs/sent-v4/ says the same, paths shown)
    assert "teacher-probe" in log and log.count("-c:v") == 1  # the teacher check's own encode, first: nothing else


@pytest.mark.slow  # three prereqs and three corpus steps (the fast tier's: tests/unit/test_teacher_identity.py)
def test_a_model_files_rows_carry_its_name_and_sha256_and_another_file_redoes_them(tiny_refs: Path,
                                                                                  tmp_path: Path) -> None:
    model = write_tiny_model(tmp_path / "models" / "tiny model.json")
    out = tmp_path / "out"
    first = run_kit("step", "prereqs", "--out-dir", out, "--teacher", model, *LADDER)
    assert first.returncode == 0, first.stderr[-3000:]
    # a model file's teacher is named by its digest (issue 96: the file's name is the box's own)
    named = file_teacher_name(hashlib.sha256(model.read_bytes()).hexdigest())
    assert f"{named} (model file, sha256" in first.stdout  # the check's row in the prereqs table
    res = run_kit("step", "corpus", "--ref-dir", tiny_refs, "--out-dir", out, "--teacher", model, *LADDER)
    assert res.returncode == 0, res.stderr[-3000:]
    run, sha = RunDir(out), teacher_of(str(model)).sha256
    table = pq.read_table(run.shard, columns=["teacher_model", "teacher_sha256", "vmaf", "adm2"])
    assert set(table["teacher_model"].to_pylist()) == {named}
    assert set(table["teacher_sha256"].to_pylist()) == {sha}
    vmaf = table["vmaf"].to_numpy()
    assert 0 <= vmaf.min() < vmaf.max() <= 100  # the model's own scores, not vmaf_v0.6.1's
    manifest = json.loads(run.shard_manifest.read_text())
    assert manifest["teacher_model"] == named and manifest["teacher_sha256"] == sha

    # another file under the same name is another teacher: the corpus step refuses until prereqs checked it
    doc = json.loads(model.read_text())
    doc["model_dict"]["model"] = doc["model_dict"]["model"].replace("gamma 4", "gamma 2")
    model.write_text(json.dumps(doc))
    stale = run_kit("step", "corpus", "--ref-dir", tiny_refs, "--out-dir", out, "--teacher", model, *LADDER)
    assert_clean_failure(stale, f"checked the teacher {named} (model file, sha256 " + sha[:12])
    redo = run_kit("step", "prereqs", "--out-dir", out, "--teacher", model, *LADDER)
    assert redo.returncode == 0, redo.stderr[-3000:]
    res = run_kit("step", "corpus", "--ref-dir", tiny_refs, "--out-dir", out, "--teacher", model, *LADDER)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "reused 0," in res.stdout  # every job's fingerprint names the teacher's sha256
    new = pq.read_table(run.shard, columns=["teacher_sha256", "vmaf"])
    assert set(new["teacher_sha256"].to_pylist()) == {teacher_of(str(model)).sha256} != {sha}
    assert (new["vmaf"].to_numpy() != vmaf).any()


def cambi_model(path: Path) -> Path:
    """A model file with CAMBI, which scores step 01's 640x360 test pair but no 176x144 frame."""
    doc = json.loads(json.dumps(TINY_MODEL))
    doc["model_dict"]["feature_names"] = ["Cambi_feature_cambi_score", "VMAF_integer_feature_adm2_score"]
    doc["model_dict"]["feature_dict"] = {"Cambi_feature": ["cambi"], "VMAF_integer_feature": ["adm2"]}
    path.write_text(json.dumps(doc))
    return path


def test_a_teacher_that_scores_no_small_frames_is_refused_before_any_encode(tiny_refs: Path, tmp_path: Path) -> None:
    """Every clip 176x144: the corpus step checks each reference size below step 01's before any encode and, with
    no clip left, refuses (exit 2) naming a clip of that size and what to do, where every job would have failed
    one by one after its encode."""
    model = cambi_model(tmp_path / "cambi tiny.json")
    out = tmp_path / "out"
    res = run_kit("run", "--ref-dir", tiny_refs, "--out-dir", out, "--teacher", model, *CORPUS)
    assert_clean_failure(res, f"--teacher {model} scores no 176x144 frames, the size of {tiny_refs / 'alpha.y4m'} "
                              "(and 3 more of that size)", "no feature 'Cambi_feature_cambi_score'")
    run = RunDir(out)
    assert run.prereqs_json.is_file() and not run.jobs.exists() and not run.teacher_work.exists()


def test_clips_of_a_size_the_teacher_cannot_score_are_left_out_unless_strict(ffmpeg: str, tmp_path: Path) -> None:
    """Three 320x240 clips and one 176x144: the small one is left out with why and the fix (02_corpus/skipped.json,
    the summary), the others are encoded; --strict refuses before any encode instead."""
    refs = tmp_path / "refs"
    for name, lavfi in [("big1", "testsrc2=s=320x240:r=25"), ("big2", "mandelbrot=s=320x240:r=25"),
                        ("big3", "gradients=s=320x240:r=25:speed=0.05:n=3:seed=2"),
                        ("small", "life=s=176x144:r=25:mold=10:ratio=0.1:seed=4")]:
        render(ffmpeg, lavfi, refs / f"{name}.y4m")
    model = cambi_model(tmp_path / "cambi.json")
    strict = run_kit("run", "--ref-dir", refs, "--out-dir", tmp_path / "strict", "--teacher", model, "--strict",
                     *CORPUS)
    assert_clean_failure(strict, f"scores no 176x144 frames, the size of {refs / 'small.y4m'}")
    out = tmp_path / "out"
    assert run_kit("step", "prereqs", "--out-dir", out, "--teacher", model, *CORPUS).returncode == 0
    groups = tmp_path / "groups.json"  # an entry naming the clip left out says so, not "names no source"
    groups.write_text(json.dumps({"same": [["small", "big1"]]}))
    named = run_kit("step", "corpus", "--ref-dir", refs, "--out-dir", out, "--teacher", model,
                    "--content-groups", groups, *CORPUS)
    assert_clean_failure(named, f"'small' names {refs / 'small.y4m'}, which this run left out")
    res = run_kit("step", "corpus", "--ref-dir", refs, "--out-dir", out, "--teacher", model, *CORPUS)
    assert res.returncode == 0, res.stderr[-3000:]
    run = RunDir(out)
    skipped = json.loads(run.skipped_clips.read_text())["skipped"]
    assert [s["path"] for s in skipped] == [str(refs / "small.y4m")] and "176x144" in skipped[0]["reason"]
    assert f"skipped {refs / 'small.y4m'}" in res.stdout + res.stderr
    assert {p.name.split("-")[0] for p in run.jobs.glob("*.parquet")} == {"big1", "big2", "big3"}
    # status runs no check and writes nothing: what libvmaf answered for 176x144 is in the kit's cache
    before = sorted((str(p), p.stat().st_mtime_ns) for p in out.rglob("*"))
    status = run_kit("status", out, "--json")
    assert status.returncode == 0, status.stderr[-2000:]
    steps = {s["step"]: s["state"] for s in json.loads(status.stdout)["steps"]}
    assert steps["corpus"] == "done", steps
    assert sorted((str(p), p.stat().st_mtime_ns) for p in out.rglob("*")) == before


def test_a_teacher_check_ended_by_a_signal_proves_nothing_and_refuses_no_size(ffmpeg: str, tmp_path: Path) -> None:
    """libvmaf killed by a signal while it checks a clip's size: no refusal of that size (which the corpus step
    would cache for every later run), but the probe's own "proved nothing, rerun" error."""
    from kit.errors import InputError
    from kit.media.libvmaf import DEFAULT_TEACHER
    from kit.platforms.probe import ProbeInterrupted
    from kit.platforms.teacher import check_teacher

    killed = tmp_path / "ffmpeg"  # the real ffmpeg, but a scoring run is killed as the OOM killer would
    killed.write_text(f'#!/bin/sh\ncase "$*" in *libvmaf*) kill -9 $$;; esac\nexec {ffmpeg} "$@"\n')
    killed.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    try:
        check_teacher(str(killed), DEFAULT_TEACHER, work, size="176x144", clip="alpha.y4m")
    except ProbeInterrupted as exc:
        assert "killed by signal 9" in exc.message and "proved nothing" in exc.message
    except InputError as exc:  # a SizeRefused is an InputError: the old code refused the size
        raise AssertionError(f"a killed check refused the size: {exc.message}") from None
    else:
        raise AssertionError("a killed teacher check passed")


def size_answer_cases(every: bool) -> list[tuple[str, str, object]]:
    """The teacher check's cached answer (kit.platforms.teacher.SizeAnswer) damaged as tests/unit/test_record_fields.py
    generates it: (field, label, value) for each field and malformed value (`every`), or the cause's first (the fast
    tier: one rerun, about 3 s of CPU; the unit test reads every case of every field in-process)."""
    from kit.platforms.teacher import SizeAnswer
    from tests.unit.test_record_fields import MISSING, breakers, breaks, rules_of, walk, wrong_types

    cases = []
    for f in walk(SizeAnswer):
        values = [v for v in (*wrong_types(f.tp), *breakers(rules_of(f.f), f.tp)) if breaks(f, v)] + [MISSING]
        cases += [(f.key, "missing" if v is MISSING else json.dumps(v), v) for v in values]
    return cases if every else [next(c for c in cases if c[0] == "cause")]


# a real corpus step on each damage, both wide (tests/unit/test_record_fields.py reads every damage of the record in
# process)
@pytest.mark.parametrize("every", [pytest.param(False, id="the-cause", marks=pytest.mark.wide),
                                   pytest.param(True, id="every-value", marks=pytest.mark.wide)])
def test_a_damaged_answer_of_the_teacher_check_in_the_cache_is_said_once_and_checked_again(
        every: bool, tiny_refs: Path, tmp_path: Path) -> None:
    """The corpus step keeps libvmaf's answer for each small size in the kit's cache (teacher-sizes/<key>.json) and
    reads it back by its fields' rules: a damaged one is said once, naming the file and the field (the corpus log and
    an info line), the check is run again and the answer written anew; never read as if it were right, never a
    silent miss (before: read as the cache's plain JSON, 7 of the 15 damaged answers a miss nothing said, 8 read as if
    they were right), never a crash."""
    from tests.unit.test_record_fields import MISSING, with_value

    model, cache = cambi_model(tmp_path / "cambi tiny.json"), tmp_path / "cache"
    out, env = tmp_path / "out", {"KIT_CACHE_DIR": str(cache)}
    first = run_kit("run", "--ref-dir", tiny_refs, "--out-dir", out, "--teacher", model, *CORPUS, env=env)
    refusal = "scores no 176x144 frames"
    assert first.returncode == 2 and refusal in first.stderr, first.stderr[-2000:]
    (record,) = (cache / "ensemble-kit" if (cache / "ensemble-kit").is_dir() else cache).rglob("teacher-sizes/*.json")
    kept, log = json.loads(record.read_text()), out / "02_corpus" / "logs" / "corpus.log"
    for key, label, value in size_answer_cases(every):
        before = len(log.read_text().splitlines())  # each run appends its lines to the step's log
        damaged = with_value(kept, (key,), value)
        record.write_text(json.dumps(damaged))
        res = run_kit("run", "--ref-dir", tiny_refs, "--out-dir", out, "--teacher", model, *CORPUS, env=env)
        assert res.returncode == 2 and refusal in res.stderr, (key, label, res.stderr[-2000:])
        said = [ln for ln in log.read_text().splitlines()[before:] if str(record) in ln and "is damaged" in ln]
        shown = f"lacks '{key}'" if value is MISSING else f".{key}: "
        assert len(said) == 1 and shown in said[0] and "run again" in said[0], (key, label, said)
        assert "teacher's check in the kit's cache was damaged" in res.stdout + res.stderr, (key, label)
        assert json.loads(record.read_text()) == kept, (key, label)  # written anew, as the check answered
