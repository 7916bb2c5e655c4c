"""The teacher's truth on material like the world's: every frame rate (10 to 120, and variable), 8 and 10 bit,
4:2:0 and 4:2:2, interlaced, a rotated phone clip, every container the kit reads, each clip scored through the
kit (its shared decode and without it) and by hand, with plain ffmpeg and libvmaf commands written here: each
clip decoded to raw frames, the kit's encode made again by hand and decoded, and libvmaf run on the two raw
files, which pairs frame i with frame i by construction (raw frames carry no timestamps). The kit's rows must
equal those scores frame by frame (0.01), and hold as many rows as a plain decode of the clip holds frames.

The fast tier runs the matrix below at 128x72 (about 30 s on one worker); the suite adds it at 320x180 with four times
the frames (a wide case): clips longer than the independent check's window, whose frames hold more than a few
macroblocks. The demo's 640x360 clips go through the kit and its independent check in every whole run.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from kit.corpus.jobs import REF_OWN, JobRunner, Ladder, Provenance, job_paths, plan_jobs, read_ledger
from kit.corpus.oracle import Oracle, pick_oracle_jobs
from kit.corpus.scheduler import run_jobs
from kit.corpus.shared import SharedDecodes, reads_shared_copy
from kit.errors import InputError
from kit.infra.host import cpu_name
from kit.infra.shown import Places
from kit.infra.tree import Tree
from kit.media.cache import Sha256Cache
from kit.media.discovery import discover
from kit.media.libvmaf import FEATURES, TEACHER_MODEL
from kit.media.pixfmt import score_pix_fmt
from kit.media.refs import Clip
from kit.media.svr import builtin_model_text, parse_model
from tests.conftest import ROOT

CQ = 30
W, H = 128, 72  # the fast tier's size; the wide case's is 320x180 with four times the frames
SIZES = [pytest.param((W, H, 1), id="128x72"), pytest.param((320, 180, 4), id="320x180", marks=pytest.mark.wide)]


@dataclass(frozen=True)
class Case:
    """A reference clip made here: its file name, the lavfi source (or a y4m made first), the options of its
    own encode, its frame count."""

    name: str
    rate: str
    codec: tuple[str, ...] = ("-c:v", "libx264", "-crf", "4", "-pix_fmt", "yuv420p")
    frames: int = 14
    vf: str = ""  # a filter applied before the clip's own encode (variable timing, rotation tags)
    pre: tuple[str, ...] = ()  # output options before the codec ones
    source: str = "testsrc2"


def lavfi(case: Case, w: int, h: int) -> str:
    sources = {"testsrc2": f"testsrc2=s={w}x{h}:r={case.rate}",
               "mandelbrot": f"mandelbrot=s={w}x{h}:r={case.rate}",
               "gradients": f"gradients=s={w}x{h}:r={case.rate}:speed=0.2:seed=3"}
    return sources[case.source]


X264 = ("-c:v", "libx264", "-crf", "4", "-pix_fmt", "yuv420p")
VFR_SELECT = "select='not(eq(mod(n\\,5)\\,1)+eq(mod(n\\,7)\\,3)+eq(mod(n\\,7)\\,4))'"
RATES = ["10", "12", "15", "24000/1001", "24", "25", "30000/1001", "30", "48", "50", "60000/1001", "60", "120"]
MATRIX = [
    *[Case(f"rate_{r.replace('/', '_')}.mp4", r, source=("testsrc2", "mandelbrot", "gradients")[i % 3])
      for i, r in enumerate(RATES)],
    # a phone's variable timing: frames 1/60 to 1/15 s apart, passed through as they are
    Case("phone_vfr.mkv", "60", vf="select='not(eq(mod(n\\,5)\\,1)+eq(mod(n\\,7)\\,3)+eq(mod(n\\,7)\\,4))'",
         pre=("-fps_mode", "passthrough"), frames=20),
    Case("deep_10bit.mkv", "24000/1001", ("-c:v", "libx264", "-crf", "4", "-pix_fmt", "yuv420p10le")),
    Case("wide_422.mov", "30000/1001", ("-c:v", "libx264", "-crf", "4", "-pix_fmt", "yuv422p"), source="mandelbrot"),
    Case("deep_422_10bit.mkv", "50", ("-c:v", "ffv1", "-pix_fmt", "yuv422p10le")),
    Case("interlaced.mkv", "25", ("-c:v", "libx264", "-crf", "4", "-pix_fmt", "yuv420p", "-flags", "+ildct+ilme",
                                  "-x264-params", "tff=1"), source="gradients"),
    # a phone held upright: a 128x72 stream with a display matrix that turns it into 72x128 frames
    Case("phone_rotated.mp4", "30", pre=("-display_rotation", "90")),
    Case("intra.y4m", "15", ("-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe")),
    Case("raw_24fps.yuv", "24", ("-pix_fmt", "yuv420p", "-f", "rawvideo")),
    # the containers people have besides (kit.media.containers: some read through the kit's lossless copy)
    Case("cam_mjpeg.avi", "30", ("-c:v", "mjpeg", "-pix_fmt", "yuvj422p", "-f", "avi"), source="mandelbrot"),
    Case("divx_bframes.avi", "24", ("-c:v", "mpeg4", "-q:v", "3", "-bf", "2", "-f", "avi")),
    # a camera's variable timing in AVI (empty chunks where frames are missing, as opencv-doc's tree.avi): read through
    # the kit's copy, each frame at its own time, so x264's rate control makes the encode a plain one makes
    Case("camera_vfr.avi", "30", ("-c:v", "mjpeg", "-pix_fmt", "yuvj422p", "-f", "avi"), vf=VFR_SELECT,
         pre=("-fps_mode", "passthrough"), frames=20, source="mandelbrot"),
    Case("dvd.mpg", "30000/1001", ("-c:v", "mpeg2video", "-q:v", "2", "-bf", "2", "-f", "vob"), source="gradients"),
    Case("vcd.mpeg", "24000/1001", ("-c:v", "mpeg1video", "-q:v", "2", "-f", "mpeg")),
    Case("broadcast.ts", "50", ("-c:v", "libx264", "-crf", "4", "-pix_fmt", "yuv420p", "-f", "mpegts")),
    Case("disc.m2ts", "24000/1001", ("-c:v", "libx264", "-crf", "4", "-pix_fmt", "yuv420p", "-f", "mpegts",
                                     "-mpegts_m2ts_mode", "1"), source="mandelbrot"),
    Case("camcorder.mts", "60000/1001", ("-c:v", "libx264", "-crf", "4", "-pix_fmt", "yuv420p", "-f", "mpegts",
                                         "-mpegts_m2ts_mode", "1")),
    Case("web.webm", "15", ("-c:v", "libvpx-vp9", "-deadline", "realtime", "-crf", "10", "-b:v", "0", "-pix_fmt",
                            "yuv420p", "-f", "webm"),
         source="gradients"),
    Case("phone.m4v", "30", ("-c:v", "libx264", "-crf", "4", "-pix_fmt", "yuv420p", "-f", "mp4")),
    Case("studio.mxf", "25", ("-c:v", "mpeg2video", "-q:v", "2", "-bf", "2", "-f", "mxf"), source="mandelbrot"),
    Case("film.ogv", "24", ("-c:v", "libtheora", "-q:v", "9", "-pix_fmt", "yuv420p", "-f", "ogg")),
    Case("web_vp8.ogg", "30", ("-c:v", "libvpx", "-crf", "4", "-b:v", "2M", "-pix_fmt", "yuv420p", "-f", "ogg"),
         source="gradients"),
    Case("phone_vfr.3gp", "30", X264, vf=VFR_SELECT, pre=("-fps_mode", "passthrough", "-f", "3gp"), frames=20),
    Case("old_phone.3g2", "15", ("-c:v", "mpeg4", "-q:v", "2", "-bf", "2", "-pix_fmt", "yuv420p", "-f", "3g2"),
         source="mandelbrot"),
    Case("cinema.mj2", "24", ("-c:v", "jpeg2000", "-pix_fmt", "yuv420p", "-f", "mov", "-brand", "mjp2")),
    Case("flash.f4v", "25", (*X264, "-f", "f4v")),
    Case("flash_bframes.flv", "30", (*X264, "-f", "flv"), source="gradients"),
    Case("screen.wmv", "25", ("-c:v", "wmv2", "-q:v", "2", "-pix_fmt", "yuv420p", "-f", "asf")),
    Case("stream.asf", "30000/1001", ("-c:v", "msmpeg4", "-q:v", "2", "-pix_fmt", "yuv420p", "-f", "asf"),
         source="mandelbrot"),
    Case("tape.dv", "25", ("-c:v", "dvvideo", "-pix_fmt", "yuv420p", "-f", "dv"), vf="scale=720:576"),
    Case("disc.vob", "25", ("-c:v", "mpeg2video", "-q:v", "2", "-bf", "2", "-f", "vob")),
    Case("camcorder.mod", "30000/1001", ("-c:v", "mpeg2video", "-q:v", "2", "-bf", "2", "-f", "vob"),
         source="gradients"),
    Case("hdv.m2t", "25", ("-c:v", "mpeg2video", "-q:v", "2", "-bf", "2", "-f", "mpegts")),
    Case("camcorder.tod", "30000/1001", ("-c:v", "mpeg2video", "-q:v", "2", "-bf", "2", "-f", "mpegts")),
    Case("archive.nut", "24", ("-c:v", "mpeg4", "-q:v", "2", "-bf", "2", "-f", "nut"), source="mandelbrot"),
    Case("web_vp9.ivf", "24", ("-c:v", "libvpx-vp9", "-deadline", "realtime", "-crf", "10", "-b:v", "0", "-pix_fmt",
                               "yuv420p", "-f", "ivf")),
]


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(argv, capture_output=True, text=True)
    assert res.returncode == 0, (argv, res.stderr[-1500:])
    return res


def make_clip(ffmpeg: str, folder: Path, case: Case, size: tuple[int, int, int]) -> Path:
    w, h, more = size
    frames = str(case.frames * more)
    dest = folder / (case.name.replace("raw_24fps.yuv", f"raw_{w}x{h}_24fps.yuv"))
    if case.pre[:1] == ("-display_rotation",):  # an input option: the stream keeps its size, the file says turn it
        plain = folder / "unrotated.mp4"
        run([ffmpeg, "-hide_banner", "-y", "-f", "lavfi", "-i", lavfi(case, w, h), "-frames:v", frames,
             *case.codec, str(plain)])
        run([ffmpeg, "-hide_banner", "-y", *case.pre, "-i", str(plain), "-c", "copy", str(dest)])
        plain.unlink()
        return dest
    vf = ["-vf", case.vf] if case.vf else []
    run([ffmpeg, "-hide_banner", "-y", "-f", "lavfi", "-i", lavfi(case, w, h), *vf, "-frames:v", frames,
         *case.pre, *case.codec, str(dest)])
    return dest


# --- by hand: plain ffmpeg and libvmaf, spelled here and nowhere in the kit -------------------------------------


def raw_input(clip: Clip) -> list[str]:
    """How a person reads the clip: a .yuv with the geometry its name gives, anything else as it is."""
    if clip.path.endswith(".yuv"):
        return ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{clip.width}x{clip.height}", "-framerate", "24",
                "-i", clip.path]
    return ["-i", clip.path]


def decode_raw(ffmpeg: str, inputs: list[str], dest: Path, pix_fmt: str, vf: str = "") -> int:
    """Every decoded frame once (no rate imposed) as raw `pix_fmt` frames; returns the file's size."""
    run([ffmpeg, "-hide_banner", "-y", *inputs, "-map", "0:v:0", "-fps_mode", "passthrough",
         *(["-vf", vf] if vf else []), "-pix_fmt", pix_fmt, "-f", "rawvideo", str(dest)])
    return dest.stat().st_size


def encode_by_hand(ffmpeg: str, clip: Clip, dest: Path, scale: str = "") -> Path:
    run([ffmpeg, "-hide_banner", "-y", *raw_input(clip), "-map", "0:v:0", "-an", "-fps_mode", "passthrough",
         *(["-vf", scale] if scale else []), "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "medium",
         "-crf", str(CQ), "-threads", "1", "-f", "h264", str(dest)])
    return dest


def vmaf_by_hand(ffmpeg: str, dis: Path, ref: Path, size: tuple[int, int], pix_fmt: str, log: Path) -> list[float]:
    """libvmaf on two raw files of the same size and format: the raw demuxer numbers frames 0, 1, 2, ..."""
    raw = ["-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", f"{size[0]}x{size[1]}"]
    run([ffmpeg, "-hide_banner", *raw, "-i", str(dis), *raw, "-i", str(ref), "-lavfi",
         f"[0:v][1:v]libvmaf=log_fmt=json:log_path={log}", "-f", "null", "-"])
    return [f["metrics"]["vmaf"] for f in json.loads(log.read_text())["frames"]]


def plane_bytes(size: tuple[int, int], pix_fmt: str) -> int:
    w, h = size
    chroma = {"yuv420p": (2, 2, 1), "yuv420p10le": (2, 2, 2), "yuv422p": (2, 1, 1), "yuv422p10le": (2, 1, 2),
              "yuvj422p": (2, 1, 1)}
    cw, ch, depth = chroma[pix_fmt]
    return (w * h + 2 * (-(-w // cw)) * (-(-h // ch))) * depth


def by_hand(ffmpeg: str, clip: Clip, work: Path, rung: tuple[int, int] | None) -> list[float]:
    """The scores of the kit's job on `clip` (native, or `rung` downscaled with lanczos and scored upscaled with
    bicubic), every step by hand; asserts the plain decode's frame count is the clip's."""
    work.mkdir(exist_ok=True)
    size = (clip.width, clip.height)
    ref = work / "ref.raw"
    pix_fmt = score_pix_fmt(clip.pix_fmt, "yuv420p")  # libvmaf's: the clip's own where it takes it, else the encode's
    n = decode_raw(ffmpeg, raw_input(clip), ref, pix_fmt) // plane_bytes(size, pix_fmt)
    assert n == clip.n_frames, (clip.path, n, clip.n_frames)
    scale = f"scale={rung[0]}:{rung[1]}:flags=lanczos" if rung else ""
    enc = encode_by_hand(ffmpeg, clip, work / "enc.h264", scale)
    dis = work / "dis.raw"
    decode_raw(ffmpeg, ["-i", str(enc)], dis, pix_fmt, f"scale={size[0]}:{size[1]}:flags=bicubic")
    return vmaf_by_hand(ffmpeg, dis, ref, size, pix_fmt, work / "vmaf.json")


# --- through the kit --------------------------------------------------------------------------------------------


def kit_rows(ffmpeg: str, clips: list[Clip], out: Path, shared: bool, ladder: Ladder) -> dict[str, dict]:
    """Each job's rows and ledger, run as the corpus step runs them (with the oracle on its one job per clip)."""
    prov = Provenance("box", "linux-x86_64", cpu_name(), ffmpeg, "9", "9+x", "3.0")
    out.mkdir()
    jobs = plan_jobs(clips, {"libx264": [CQ]}, ladder=ladder)
    tree = Tree.open(out)
    decodes = SharedDecodes(tree, jobs, out / "work" / "decoded", lambda line: None) if shared else None
    checked = pick_oracle_jobs(jobs, lambda j: reads_shared_copy(j, lambda job: shared))
    runner = JobRunner(ffmpeg=ffmpeg, prov=prov, tree=tree, jobs_dir=out, work_dir=out / "work", vmaf_threads=1,
                       encoder_threads=1, sessions={}, log=lambda line: None, shared=decodes,
                       oracle=Oracle(ffmpeg, prov.teacher, lambda line: None, Places.KEPT), oracle_jobs=checked)
    failures = run_jobs(lambda event: None, runner, jobs, 2, set(), lambda: None)
    assert not failures, failures
    found = {}
    for job in jobs:
        data, ledger = job_paths(out, job)
        found[job.job_id] = {"rows": pq.read_table(data).to_pydict(), "ledger": read_ledger(tree, ledger),
                             "clip": job.clip, "rung": (job.size.width, job.size.height) if job.rendition else None}
    return found


@pytest.fixture(scope="module", params=SIZES)
def matrix(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
           ) -> tuple[Path, list[Clip]]:
    folder = tmp_path_factory.mktemp("matrix")
    for case in MATRIX:
        make_clip(ffmpeg, folder, case, request.param)
    clips = discover(folder, ffmpeg, Sha256Cache(None))
    assert len(clips) == len(MATRIX), sorted(c.src for c in clips)
    return folder, clips


def test_every_rate_and_format_scores_as_libvmaf_by_hand(ffmpeg: str, matrix: tuple[Path, list[Clip]],
                                                         tmp_path: Path) -> None:
    _, clips = matrix
    shared = kit_rows(ffmpeg, clips, tmp_path / "shared", True, Ladder())
    own = kit_rows(ffmpeg, clips, tmp_path / "own", False, Ladder())
    assert len(shared) == len(MATRIX)
    worst: dict[str, float] = {}
    for job_id, got in shared.items():
        clip: Clip = got["clip"]
        vmaf = np.array(got["rows"]["vmaf"])
        assert len(vmaf) == clip.n_frames and got["rows"]["frame_index"] == list(range(clip.n_frames))
        assert np.max(np.abs(vmaf - np.array(own[job_id]["rows"]["vmaf"]))) <= 0.01, clip.src  # shared = per-job
        hand = np.array(by_hand(ffmpeg, clip, tmp_path / job_id, None))
        assert len(hand) == len(vmaf), clip.src
        worst[clip.src] = float(np.max(np.abs(vmaf - hand)))
        # the kit's encode is the one made by hand: same bytes
        assert got["rows"]["enc_bytes"][0] == (tmp_path / job_id / "enc.h264").stat().st_size, clip.src
        check = got["ledger"].oracle
        if clip.kind == "master":  # its oracle ran through the shared path, and agreed
            assert check is not None and check.passed and check.max_diff <= 0.01, (clip.src, check)
    assert max(worst.values()) <= 0.01, worst
    # the teacher's function (kit.media.svr), evaluated from the six features, is libvmaf's score at every frame of
    # every clip of the matrix: from the kit's stored rows, and from the log of libvmaf run by hand (issue 59)
    teacher = parse_model(builtin_model_text(Path(ffmpeg), TEACHER_MODEL), TEACHER_MODEL)
    for job_id, got in shared.items():
        rows = got["rows"]
        fn = teacher.predict(np.column_stack([rows[f] for f in FEATURES]))
        assert np.max(np.abs(fn - np.array(rows["vmaf"]))) <= 0.01, job_id
        log = json.loads((tmp_path / job_id / "vmaf.json").read_text())["frames"]
        hand = np.array([[f["metrics"][f"integer_{name}"] for name in FEATURES] for f in log])
        assert np.max(np.abs(teacher.predict(hand) - [f["metrics"]["vmaf"] for f in log])) <= 0.01, job_id
    rotated, plain = (next(c for c in clips if c.src == name) for name in ("phone_rotated", "rate_30"))
    assert (rotated.width, rotated.height) == (plain.height, plain.width)  # the frames as a player shows them


def test_every_rung_of_a_film_rate_scores_as_libvmaf_by_hand(ffmpeg: str, matrix: tuple[Path, list[Clip]],
                                                             tmp_path: Path) -> None:
    _, clips = matrix
    # by file: phone_vfr.3gp's name reduces to phone_vfr too (the matrix's clips are planned here as they are)
    films = [c for c in clips if Path(c.path).name in ("rate_24000_1001.mp4", "rate_15.mp4", "phone_vfr.mkv")]
    rows = kit_rows(ffmpeg, films, tmp_path / "ladder", True, Ladder(("native", "0.5")))
    rungs = [(job_id, got) for job_id, got in rows.items() if got["rung"] is not None]
    assert len(rungs) == 3
    for job_id, got in rungs:
        hand = by_hand(ffmpeg, got["clip"], tmp_path / job_id, got["rung"])
        assert np.max(np.abs(np.array(got["rows"]["vmaf"]) - np.array(hand))) <= 0.01, job_id


def slipped_rows(ffmpeg: str, clip: Clip, out: Path, slip: str) -> tuple[list, dict]:
    """The clip's one job run with the shared decode's reference branch changed by `slip` (the old renumbering, a
    shifted frame): (the failures, the job's ledger or None)."""
    import kit.media.argv as argv

    original = argv.build_shared_graph
    prov = Provenance("box", "linux-x86_64", cpu_name(), ffmpeg, "9", "9+x", "3.0")
    out.mkdir()
    jobs = plan_jobs([clip], {"libx264": [CQ]})
    tree = Tree.open(out)
    runner = JobRunner(ffmpeg=ffmpeg, prov=prov, tree=tree, jobs_dir=out, work_dir=out / "work", vmaf_threads=1,
                       encoder_threads=1, sessions={}, log=lambda line: None,
                       shared=SharedDecodes(tree, jobs, out / "work" / "decoded", lambda line: None),
                       oracle=Oracle(ffmpeg, prov.teacher, lambda line: None, Places.KEPT),
                       oracle_jobs=frozenset({jobs[0].job_id}))
    slipped: list[str] = []

    def graph(*args: Any, **kwargs: Any) -> str:  # whatever the kit passes (scales, pix_fmt, stream...) goes through
        made = original(*args, **kwargs)
        if "[r]format=" in made:
            slipped.append(made)
        return made.replace("[r]format=", f"[r]{slip},format=")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(argv, "build_shared_graph", graph)
        if "settb" in slip:  # 1.0.x wrote it without -fps_mode passthrough
            patch.setattr(argv, "REF_FORMAT", ("-c:v", "rawvideo", "-f", "nut"))
        failures = run_jobs(lambda event: None, runner, jobs, 1, set(), lambda: None)
    assert slipped, "the shared decode's reference branch was never built: nothing slipped"
    return failures, {"ledger": read_ledger(tree, job_paths(out, jobs[0])[1])}


def test_a_shared_reference_that_slips_is_caught(ffmpeg: str, matrix: tuple[Path, list[Clip]], tmp_path: Path) -> None:
    """1.0.x's shared decode put back (a reference renumbered at 1/25 s: frames dropped below 25 fps), or a frame
    repeated past the check's window: the copy is counted as it is written, found short or long, and the scorings
    decode the master themselves. A reference shifted by one frame, its count kept: the oracle, reading the clip's
    own file, finds the frame and both scores."""
    _, clips = matrix
    film = next(c for c in clips if c.src == "rate_15")
    failures, found = slipped_rows(ffmpeg, film, tmp_path / "old", "settb=1/25,setpts=N")
    assert not failures and found["ledger"].reference == REF_OWN  # counted short: the master decoded instead
    failures, found = slipped_rows(ffmpeg, film, tmp_path / "shifted",
                                   f"tpad=start=1:start_mode=clone,trim=end_frame={film.n_frames}")
    assert not failures
    check = found["ledger"].oracle
    assert check is not None and not check.passed and check.max_diff > 0.5, check
    assert f"frame {check.at_frame} scores" in check.failure and "scored on its own" in check.failure
    # a frame repeated past the check's window keeps every job's scored count (libvmaf ends with the encode): the
    # copy is counted as it is written, found one frame long, and the scorings decode the master themselves
    failures, found = slipped_rows(ffmpeg, film, tmp_path / "repeated", "loop=loop=1:size=1:start=10")
    assert not failures and found["ledger"].reference == REF_OWN, found["ledger"]
    assert found["ledger"].oracle.passed


def test_a_disagreeing_oracle_names_the_clip_the_frame_and_both_scores() -> None:
    from kit.corpus.oracle import ORACLE_FRAMES, compare, oracle_refusals, oracle_window

    assert oracle_window(100) == (0, ORACLE_FRAMES + 1) and oracle_window(10) == (0, 10)
    rows = np.linspace(90, 99, 100)
    good = compare("j", (0, 17), rows, rows[:17].copy(), ["ffmpeg"])
    assert good.passed and good.first == 0 and good.last == 15 and good.max_diff == 0.0
    slipped = rows[:17].copy()
    slipped[10] -= 3.25
    bad = compare("j", (0, 17), rows, slipped, ["ffmpeg"])
    assert not bad.passed and bad.at_frame == 10 and bad.max_diff == pytest.approx(3.25)
    assert "frame 10 scores 90.91 in the corpus but 87.66" in bad.failure
    edge = rows[:17].copy()
    edge[16] = 0  # the window's last frame has no motion after it: not compared
    assert compare("j", (0, 17), rows, edge, ["ffmpeg"]).passed
    inner = compare("j", (40, 57), rows, rows[40:57].copy(), ["ffmpeg"])  # an inner window: both edges left out
    assert inner.passed and (inner.first, inner.last) == (41, 55)
    whole = compare("j", (0, 10), rows[:10], rows[:10].copy(), ["ffmpeg"])  # a short clip: every frame
    assert whole.passed and (whole.first, whole.last) == (0, 9)
    short = compare("j", (0, 17), rows, rows[:12], ["ffmpeg"])
    assert not short.passed and "gives 12 of frames 0 to 16, where the rows hold 100 frames" in short.failure
    clip = Clip("/r/a.mp4", "a", "master", 64, 48, "15/1", "yuv420p", 100, "0" * 64)
    other = Clip("/r/b.mp4", "b", "master", 64, 48, "15/1", "yuv420p", 100, "1" * 64)
    left = oracle_refusals([clip, other], {clip.path: bad, other.path: good}, strict=False)
    assert list(left) == [clip.path] and "/r/a.mp4: its teacher scores do not hold" in left[clip.path].reason
    with pytest.raises(InputError, match=r"frame 10 scores 90\.91"):
        oracle_refusals([clip, other], {clip.path: bad, other.path: good}, strict=True)


def test_an_odd_size_is_left_out_with_a_crop_command_that_runs_as_printed(ffmpeg: str, tmp_path: Path) -> None:
    """A 127x71 clip cannot be encoded 4:2:0: it is left out with the crop command as its fix; that command, run as
    printed, makes a clip whose rows are libvmaf's by hand."""
    from kit.media.discovery import Unusable

    refs = tmp_path / "refs"
    refs.mkdir()
    run([ffmpeg, "-hide_banner", "-y", "-f", "lavfi", "-i", "testsrc2=s=128x72:r=24000/1001,scale=127:71",
         "-frames:v", "12", "-c:v", "ffv1", "-pix_fmt", "yuv420p", str(refs / "odd.mkv")])  # testsrc2 makes even sizes
    left: list[Unusable] = []
    with pytest.raises(InputError):  # the only clip: left out, nothing remains, so its refusal stands
        discover(refs, ffmpeg, Sha256Cache(None), unusable=left)
    run([ffmpeg, "-hide_banner", "-y", "-f", "lavfi", "-i", "mandelbrot=s=128x72:r=30", "-frames:v", "12", "-c:v",
         "libx264", "-crf", "4", str(refs / "other.mp4")])
    clips = discover(refs, ffmpeg, Sha256Cache(None), unusable=left)
    assert [c.src for c in clips] == ["other"] and len(left) == 1 and "odd width and height" in left[0].reason
    res = subprocess.run(["bash", "-c", left[0].fix.split(": ", 1)[1]], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, (left[0].fix, res.stderr[-1500:])
    even = next(c for c in discover(refs, ffmpeg, Sha256Cache(None), unusable=[]) if c.src == "odd_even")
    assert (even.width, even.height, even.fps, even.n_frames) == (126, 70, "24000/1001", 12)
    got = kit_rows(ffmpeg, [even], tmp_path / "out", True, Ladder())
    (job_id, found), = got.items()
    hand = by_hand(ffmpeg, even, tmp_path / job_id, None)
    assert np.max(np.abs(np.array(found["rows"]["vmaf"]) - np.array(hand))) <= 0.01
