"""A compressed master decoded once for all its corpus jobs (kit.corpus.shared): the rows are those of the
per-job decode, byte for byte, whatever the master's container, depth, colour tags or timestamps; the
decoded copy is gone when the step ends; a killed step resumes to the same rows; a disk too full for the
copy falls back to the per-job decode and says so."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections import namedtuple
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from kit.corpus.jobs import JobRunner, Provenance, job_paths, plan_jobs
from kit.corpus.scheduler import run_jobs
from kit.corpus.schema import corpus_sha256
from kit.corpus.shared import SharedDecodes
from kit.infra.host import cpu_name
from kit.infra.tree import Tree
from kit.media.cache import Sha256Cache
from kit.media.discovery import discover
from kit.media.ffmpeg import COLOUR_NAMES, parse_output_colour
from kit.rundir import RunDir
from tests import pace
from tests.conftest import ROOT, TINY_SOURCES, run_kit

GRID = ["--encoders", "libx264,libx265,libsvtav1", "--cqs", "25,37", "--scales", "native"]
OFF = {"KIT_SHARED_DECODE": "0"}


def make(ffmpeg: str, dest: Path, lavfi: str, *args: str, frames: int = 10) -> Path:
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", lavfi,
                    "-frames:v", str(frames), *args, str(dest)], check=True)
    return dest


@pytest.fixture(scope="module")
def masters(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four compressed masters, each with what could tell a decoded copy from the master itself: colour tags
    and full range at 29.97 fps, 10 bit, JPEG range, variable frame timing."""
    refs = tmp_path_factory.mktemp("masters")
    make(ffmpeg, refs / "alpha.mp4", TINY_SOURCES["alpha"].replace("r=25", "r=30000/1001"), "-c:v", "libx264",
         "-pix_fmt", "yuv420p", "-color_range", "pc", "-colorspace", "bt709", "-color_primaries", "bt709",
         "-color_trc", "bt709")
    make(ffmpeg, refs / "beta.mkv", TINY_SOURCES["beta"], "-c:v", "ffv1", "-pix_fmt", "yuv420p10le")
    make(ffmpeg, refs / "gamma.mov", TINY_SOURCES["gamma"], "-c:v", "mjpeg", "-pix_fmt", "yuvj420p")
    make(ffmpeg, refs / "delta.mkv", TINY_SOURCES["delta"], "-vf", "setpts='if(lt(N,4),N*2,N+4)/TB/25'",
         "-fps_mode", "passthrough", "-c:v", "libx264", frames=12)
    return refs


def corpus(refs: Path, out: Path, *extra: str, env: dict[str, str] | None = None) -> str:
    for step in ("prereqs", "corpus"):
        res = run_kit("step", step, "--ref-dir", refs, "--out-dir", out, *GRID, *extra, env=env)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    return corpus_sha256(RunDir(out).shard)


def step_log(out: Path) -> str:
    return RunDir(out).log("corpus").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("depth", ["8bit", "source"])
def test_the_rows_are_those_of_the_per_job_decode(masters: Path, tmp_path: Path, depth: str) -> None:
    per_job = corpus(masters, tmp_path / "per-job", "--encode-depth", depth, env=OFF)
    shared = corpus(masters, tmp_path / "shared", "--encode-depth", depth)
    assert shared == per_job
    assert "split=" not in step_log(tmp_path / "per-job")
    log = step_log(tmp_path / "shared")
    # one decode per clip for its 6 encodes (two batches: 4 + 2), its decoded copy read by every scoring
    assert log.count("split=5[e0][e1][e2][e3][r]") == 4 and log.count("split=2[e0][e1]") == 4
    assert log.count("ref.nut") >= 4 * 6 and "-color_range pc -colorspace bt709" in log
    assert "not recognised" not in log and "decoded would take" not in log
    assert not (RunDir(tmp_path / "shared").corpus_work).exists()
    rows = pq.read_table(RunDir(tmp_path / "shared").shard, columns=["enc_pix_fmt", "src"]).to_pylist()
    if depth == "source":  # the 10-bit master was encoded at 10 bit, read from its decoded copy
        assert {r["enc_pix_fmt"] for r in rows if r["src"] == "beta"} == {"yuv420p10le"}


@pytest.mark.slow
def test_a_rung_is_one_downscale_shared_by_its_encodes(masters: Path, tmp_path: Path) -> None:
    """--scales native,0.5: a master's rung is downscaled once for its 6 encodes (one batch: the rung's quarter of
    the pixels lets 16 encodes share it), the same bitstreams and rows as each job's own scaled encode."""
    ladder = ("--scales", "native,0.5", "--cqs", "25,37")
    per_job = corpus(masters, tmp_path / "per-job", *ladder, env=OFF)
    shared = corpus(masters, tmp_path / "shared", *ladder)
    assert shared == per_job
    log = step_log(tmp_path / "shared")
    assert log.count("[s0]scale=88:72:flags=lanczos,split=6[e0][e1][e2][e3][e4][e5]") == 4  # one per master
    assert log.count("flags=bicubic") >= 4 * 12  # every scoring upscales (a no-op at the native size)
    rows = pq.read_table(RunDir(tmp_path / "shared").shard, columns=[
        "enc_width", "enc_height", "scaler_down", "scaler_up", "width", "height"]).to_pylist()
    assert {(r["enc_width"], r["enc_height"], r["scaler_down"], r["scaler_up"]) for r in rows} == {
        (176, 144, "", ""), (88, 72, "lanczos", "bicubic")}
    assert all((r["width"], r["height"]) == (176, 144) for r in rows)


@pytest.mark.slow
def test_a_killed_step_resumes_to_the_same_rows(masters: Path, tmp_path: Path) -> None:
    expected = corpus(masters, tmp_path / "clean", env=OFF)
    out = tmp_path / "killed"
    res = run_kit("step", "prereqs", "--ref-dir", masters, "--out-dir", out, *GRID)
    assert res.returncode == 0, res.stderr
    jobs = RunDir(out).jobs
    proc = subprocess.Popen([sys.executable, "-m", "kit", "step", "corpus", "--ref-dir", str(masters), "--out-dir",
                             str(out), *GRID], cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})
    pace.until(lambda: len(list(jobs.glob("*.json"))) >= 7 or proc.poll() is not None, 300, poll_s=0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # mid-way: a clip's decoded copy is on disk, some of its jobs done
    proc.wait()
    done = len(list(jobs.glob("*.json")))
    assert 7 <= done < 24, done
    res = run_kit("step", "corpus", "--ref-dir", masters, "--out-dir", out, *GRID)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    assert corpus_sha256(RunDir(out).shard) == expected
    log = step_log(out).split("step corpus starts")[-1]  # the rerun's part of the log
    # only clips with jobs left are decoded again: fewer decodes than clips x batches
    assert log.count("split=") < 8 and log.count("split=") >= 1
    assert not RunDir(out).corpus_work.exists()


Usage = namedtuple("Usage", "total used free")


def _rows(ffmpeg: str, refs: Path, out: Path, shared: bool, log: list[str]) -> list[dict[str, object]]:
    clips = [c for c in discover(refs, ffmpeg, Sha256Cache(None)) if c.src in ("alpha", "beta")]
    prov = Provenance("box", "linux-x86_64", cpu_name(), ffmpeg, "9", "9+x", "3.0")
    out.mkdir()
    jobs = plan_jobs(clips, {"libx264": [25, 37]})
    tree = Tree.open(out)
    runner = JobRunner(ffmpeg=ffmpeg, prov=prov, tree=tree, jobs_dir=out, work_dir=out / "work", vmaf_threads=1,
                       encoder_threads=1, sessions={}, log=log.append,
                       shared=SharedDecodes(tree, jobs, out / "work" / "decoded", log.append) if shared else None)
    failures = run_jobs(lambda event: None, runner, jobs, 2, set(), lambda: None)
    assert not failures, failures
    rows = []
    for job in jobs:
        rows += pq.read_table(job_paths(out, job)[0]).drop(["enc_time_ms"]).to_pylist()
    return rows


def test_a_disk_too_full_for_the_decoded_copy_falls_back_and_says_so(
        ffmpeg: str, masters: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    per_job = _rows(ffmpeg, masters, tmp_path / "per-job", False, [])
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(1 << 40, (1 << 40) - (100 << 20), 100 << 20))
    log: list[str] = []
    assert _rows(ffmpeg, masters, tmp_path / "full", True, log) == per_job
    said = [line for line in log if "decoded would take" in line]
    assert len(said) == 2 and "alpha" in said[0] + said[1], said  # once per clip, both fall back
    assert not [line for line in log if "ref.nut" in line]  # every scoring decoded its master
    assert [line for line in log if "split=3[e0][e1][r]" in line] == []  # no copy was written
    assert len([line for line in log if "split=2[e0][e1]" in line]) == 2  # the encodes still share a decode
    assert not list((tmp_path / "full" / "work" / "decoded").iterdir())  # each clip's folder went with its jobs


def test_with_room_the_decoded_copy_feeds_the_scorings_and_goes(ffmpeg: str, masters: Path, tmp_path: Path) -> None:
    per_job = _rows(ffmpeg, masters, tmp_path / "per-job", False, [])
    log: list[str] = []
    assert _rows(ffmpeg, masters, tmp_path / "shared", True, log) == per_job
    assert len([line for line in log if "split=3[e0][e1][r]" in line]) == 2
    # 2 written, each counted once (its packets: kit.corpus.jobs), 4 scorings read them
    assert len([line for line in log if "ref.nut" in line]) == 2 + 2 + 4
    assert len([line for line in log if "ref.nut" in line and "-c copy -f null" in line]) == 2
    assert not list((tmp_path / "shared" / "work" / "decoded").iterdir())


def test_colour_tags_are_read_from_the_output_stream_line() -> None:
    line = ("Output #4, nut, to 'x':\n  Stream #4:0: Video: rawvideo (I420 / 0x30323449), yuv420p(pc, "
            "bt709/unknown/unknown, progressive), 1920x1080 [SAR 1:1 DAR 16:9], q=2-31, 25 fps, 25 tbn\n")
    assert parse_output_colour(line, 4) == (("color_range", "pc"), ("colorspace", "bt709"))
    assert parse_output_colour(line, 3) is None  # no such output
    plain = "  Stream #1:0: Video: rawvideo (I420 / 0x30323449), yuv420p(progressive), 176x144, 25 fps\n"
    assert parse_output_colour(plain, 1) == ()
    bare = "  Stream #1:0: Video: rawvideo (Y3[11][10] / 0xA0B3359), yuv420p10le, 176x144, 25 fps\n"
    assert parse_output_colour(bare, 1) == ()
    same = "  Stream #2:0: Video: rawvideo, yuv420p(tv, bt709, top first), 176x144, 25 fps\n"
    assert parse_output_colour(same, 2) == (("color_range", "tv"), ("colorspace", "bt709"),
                                           ("color_primaries", "bt709"), ("color_trc", "bt709"))
    odd = "  Stream #2:0: Video: rawvideo, yuv420p(tv, reserved/bt709/bt709, progressive), 176x144, 25 fps\n"
    assert parse_output_colour(odd, 2) is None  # not a name to give back: the scorings decode the master


def test_every_colour_name_is_taken_by_this_ffmpeg_as_an_input_option(ffmpeg: str, tmp_path: Path) -> None:
    nut = make(ffmpeg, tmp_path / "x.nut", TINY_SOURCES["alpha"], "-c:v", "rawvideo", "-f", "nut", frames=1)
    for option, names in COLOUR_NAMES.items():
        for name in sorted(names):
            res = subprocess.run([ffmpeg, "-hide_banner", "-nostdin", f"-{option}", name, "-i", str(nut),
                                  "-f", "null", "-"], capture_output=True, text=True)
            assert res.returncode == 0, (option, name, res.stderr[-500:])


@pytest.mark.wide  # three masters through a whole corpus step; the fast tier keeps the shared decode's rows and lines
def test_a_shared_decode_says_the_encodes_it_makes_and_the_eta_counts_each_once(ffmpeg: str, tmp_path: Path) -> None:
    """Three masters (LOSO's least), four cqs each: one job's encode phase per master makes its batch's four
    encodes (`job_progress.encodes` 4), the other three only score; the run's clock (kit.report.eta), fed the step's
    events as the renderer feeds them, ends the jobs with their planned work done and no encode counted twice or left
    uncounted."""
    from kit import events as ev
    from kit.report.eta import RunClock

    refs = tmp_path / "refs"
    refs.mkdir()
    for name in ("alpha", "beta", "gamma"):
        make(ffmpeg, refs / f"{name}.mkv", TINY_SOURCES[name], "-c:v", "ffv1")
    out = tmp_path / "out"
    grid = ("--encoders", "libx264", "--cqs", "20,28,36,44", "--scales", "native")
    assert run_kit("step", "prereqs", "--ref-dir", refs, "--out-dir", out, *grid).returncode == 0
    res = run_kit("step", "corpus", "--json", "--ref-dir", refs, "--out-dir", out, *grid)
    assert res.returncode == 0, res.stderr[-3000:]
    kinds = {cls.kind: cls for cls in vars(ev).values() if isinstance(cls, type) and issubclass(cls, ev.Event)}
    events = []
    for line in res.stdout.splitlines():
        doc = json.loads(line)
        cls = kinds[doc.pop("event")]
        if cls is not ev.Eta:
            events.append(cls(**doc))
    encodes = {e.job_id: e.encodes for e in events if isinstance(e, ev.JobProgress) and e.phase == "encode"}
    scored = {e.job_id for e in events if isinstance(e, ev.JobProgress) and e.phase == "score"}
    assert list(encodes.values()) == [4, 4, 4] and len(scored) == 12, (encodes, scored)
    clock = RunClock()
    for t, e in enumerate(events):
        clock.feed(e, float(t))
        if isinstance(e, ev.JobDone) and e.done == 12:  # the last job: every encode and scoring counted, once
            assert clock.done["corpus", "jobs"] == pytest.approx(clock.planned["corpus", "jobs"])
    assert not any(clock.encoded.values())
