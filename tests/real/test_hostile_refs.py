"""Reference clips that used to pass discovery and then fail every job, as a table of real ffmpeg-made clips.

Each refused kind exits 2 at discovery under --strict, before any encode, with one `error:` line naming the clip and
a `hint:` line (without it, each is left out and the run goes on: tests/real/test_one_clip_never_loses_the_run.py);
the handled kinds (a variable-frame-rate master, y4m FRAME lines with parameters) give one row per decoded frame. The
README's troubleshooting table lists the messages.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from kit.corpus.children import ClipChanged
from kit.corpus.jobs import Job, JobFailed, JobRunner, Provenance, job_paths
from kit.errors import InputError
from kit.infra.host import cpu_name
from kit.infra.tree import Tree
from kit.media.cache import Sha256Cache
from kit.media.discovery import probe_clip
from kit.media.refs import Clip
from kit.model.recipe import MIN_FRAMES_PER_SOURCE
from tests.conftest import TINY_FRAMES, TINY_SOURCES, assert_clean_failure, render, run_here, run_kit, synthetic_corpus
from tests.training import make_folds

ARGS = ("--encoders", "libx264", "--cqs", "30", "--scales", "native", "--strict")  # a bad clip refuses the run
TINY_PICTURE = 176 * 144 * 3 // 2


def ffmpeg_run(ffmpeg: str, *args: str | Path) -> None:
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", *map(str, args)], check=True)


def odd_y4m(ffmpeg: str, dest: Path) -> Path:
    # lavfi sources round odd sizes down; a scale after them makes a real 321x181 4:2:0 picture
    return render(ffmpeg, "testsrc2=s=352x288:r=25,scale=321:181", dest)


def odd_yuv(ffmpeg: str, dest: Path) -> Path:
    ffmpeg_run(ffmpeg, "-i", odd_y4m(ffmpeg, dest.with_suffix(".src.y4m")), "-f", "rawvideo", dest)
    dest.with_suffix(".src.y4m").unlink()
    return dest


def vfr_mkv(ffmpeg: str, dest: Path) -> Path:
    """A phone-like variable-frame-rate recording: 34 frames whose steps vary from 40 ms to ~110 ms."""
    ffmpeg_run(ffmpeg, "-f", "lavfi", "-i", "testsrc2=s=176x144:r=25", "-frames:v", "34", "-vf",
               r"setpts='N/25/TB+if(gt(mod(N\,3)\,1)\,0.07/TB\,0)+N*N*0.0005/TB'", "-fps_mode", "passthrough",
               "-c:v", "libx264", "-f", "matroska", dest)
    return dest


def rotated_vfr_mp4(ffmpeg: str, dest: Path) -> Path:
    """The same recording as a phone writes it: mp4, a 90-degree display matrix (decoded frames are 144x176)."""
    src = vfr_mkv(ffmpeg, dest.with_suffix(".src.mkv"))
    ffmpeg_run(ffmpeg, "-display_rotation:v:0", "90", "-i", src, "-c", "copy", "-f", "mp4", dest)
    src.unlink()
    return dest


def damaged_mkv(ffmpeg: str, dest: Path) -> Path:
    """Five clusters; the third one's header overwritten: the demuxer resyncs and 10 frames go missing."""
    ffmpeg_run(ffmpeg, "-f", "lavfi", "-i", "testsrc2=s=176x144:r=25", "-frames:v", "50", "-c:v", "libx264",
               "-g", "10", "-cluster_time_limit", "400", "-f", "matroska", dest)
    data = bytearray(dest.read_bytes())
    clusters = [i for i in range(len(data) - 3) if data[i:i + 4] == b"\x1f\x43\xb6\x75"]
    assert len(clusters) >= 4, clusters
    data[clusters[2]:clusters[2] + 40] = b"\xff" * 40
    dest.write_bytes(bytes(data))
    return dest


def y4m_with_frame_params(ffmpeg: str, dest: Path) -> Path:
    """A y4m whose FRAME lines carry parameters (legal per the spec), rebuilt frame by frame."""
    plain = render(ffmpeg, TINY_SOURCES["delta"], dest.with_suffix(".plain.y4m"))
    data = plain.read_bytes()
    header_end = data.index(b"\n") + 1
    out, at = [data[:header_end]], header_end
    while at < len(data):
        assert data[at:at + 6] == b"FRAME\n"
        out += [b"FRAME Ip XNOTE=frame-params\n", data[at + 6:at + 6 + TINY_PICTURE]]
        at += 6 + TINY_PICTURE
    dest.write_bytes(b"".join(out))
    plain.unlink()
    return dest


def sidecar_yuv(ffmpeg: str, folder: Path, meta: dict[str, object]) -> None:
    render(ffmpeg, TINY_SOURCES["alpha"], folder / "Side.yuv", fmt="rawvideo")
    (folder / "Side.json").write_text(json.dumps(meta))


def size_change(ffmpeg: str, dest: Path, later: str = "352x288", rotation: int = 0) -> Path:
    """20 pictures at 176x144 then 20 at `later` in one stream (two MPEG-TS cuts joined, as a capture that changed
    its size does), in the container of `dest`'s suffix: ffmpeg scales the later ones to the first size unless told
    not to. `rotation`: a display matrix that turns the stream so many degrees."""
    parts = []
    for k, size in enumerate(("176x144", later)):
        parts.append(dest.with_suffix(f".{k}.ts"))
        ffmpeg_run(ffmpeg, "-f", "lavfi", "-i", f"testsrc2=s={size}:r=25", "-frames:v", "20", "-c:v", "libx264",
                   "-f", "mpegts", parts[-1])
    joined = dest.with_suffix(".joined.ts")
    joined.write_bytes(b"".join(p.read_bytes() for p in parts))
    turned = ("-display_rotation:v:0", str(rotation)) if rotation else ()
    ffmpeg_run(ffmpeg, *turned, "-i", joined, "-map", "0:v", "-c", "copy", dest)
    for p in (*parts, joined):
        p.unlink()
    return dest


def zero_width_y4m(ffmpeg: str, dest: Path) -> None:
    data = render(ffmpeg, TINY_SOURCES["alpha"], dest).read_bytes()
    dest.write_bytes(data.replace(b"W176", b"W0", 1))


def netflix_root(ffmpeg: str, root: Path, tiny_refs: Path) -> None:
    (root / "ref").mkdir(parents=True)
    (root / "dis").mkdir()
    for name in ("alpha", "beta"):
        (root / "ref" / f"{name.title()}_25fps.yuv").write_bytes(b"")  # only listed, never read
    render(ffmpeg, TINY_SOURCES["alpha"], root / "dis" / "Alpha_20_288_375.yuv", fmt="rawvideo")


@dataclass(frozen=True)
class Case:
    id: str
    # (the folder to fill beside two good clips, ffmpeg) -> nothing; the needles the error line must hold
    make: Callable[[Path, str], object]
    needles: tuple[str, ...]


CASES = [
    Case("odd-geometry-y4m", lambda d, f: odd_y4m(f, d / "odd.y4m"),
         ("odd.y4m", "321x181 has an odd width and height", "4:2:0")),
    Case("size-change-mid-stream", lambda d, f: size_change(f, d / "resized.mkv"),
         ("resized.mkv: its pictures change size mid-stream (176x144 to 352x288)", "would scale the later")),
    Case("a-2x2-clip", lambda d, f: ffmpeg_run(f, "-f", "lavfi", "-i", "testsrc2=s=2x2:r=25", "-frames:v", "30",
                                              "-c:v", "ffv1", d / "t2x2.mkv"),
         ("t2x2.mkv: 2x2 is too small", "under 17 pixels")),  # a size of one digit was read as no video (2.3.0)
    Case("a-picture-named-mp4", lambda d, f: ffmpeg_run(f, "-f", "lavfi", "-i", "testsrc2=s=176x144", "-frames:v",
                                                       "1", "-c:v", "mjpeg", "-f", "image2", d / "thumb.mp4"),
         ("thumb.mp4: not a video: a picture (ffmpeg reads it as jpeg_pipe)",)),
    Case("a-picture-named-mkv", lambda d, f: ffmpeg_run(f, "-f", "lavfi", "-i", "testsrc2=s=176x144", "-frames:v",
                                                       "1", "-c:v", "png", "-f", "image2", d / "cover.mkv"),
         ("cover.mkv: not a video: a picture (ffmpeg reads it as png_pipe)",)),
    Case("odd-geometry-yuv", lambda d, f: odd_yuv(f, d / "Odd_321x181_25fps.yuv"),
         ("Odd_321x181_25fps.yuv", "odd width and height")),
    Case("damaged-mkv-cluster", lambda d, f: damaged_mkv(f, d / "bad.mkv"),
         ("bad.mkv: damaged container", "only 40 frames decode")),
    Case("zero-width-sidecar", lambda d, f: sidecar_yuv(f, d, {"width": 0, "height": 144, "fps": 25}),
         ("Side.yuv", "size 0x144")),
    Case("fps-1/0-sidecar", lambda d, f: sidecar_yuv(f, d, {"width": 176, "height": 144, "fps": "1/0"}),
         ("Side.yuv", "divides by zero")),
    Case("fractional-width-sidecar", lambda d, f: sidecar_yuv(f, d, {"width": 175.5, "height": 144, "fps": 25}),
         ("Side.yuv", "175.5 is not a whole number")),
    Case("zero-width-name", lambda d, f: render(f, TINY_SOURCES["alpha"], d / "Zero_0x144_25fps.yuv",
                                                fmt="rawvideo"), ("Zero_0x144_25fps.yuv", "size 0x144")),
    Case("zero-fps-name", lambda d, f: render(f, TINY_SOURCES["alpha"], d / "Still_176x144_0fps.yuv",
                                              fmt="rawvideo"), ("Still_176x144_0fps.yuv", "frame rate")),
    Case("zero-width-y4m-header", lambda d, f: zero_width_y4m(f, d / "w0.y4m"), ("w0.y4m", "size 0x144")),
    Case("fps-1/0-y4m-header", lambda d, f: (d / "f0.y4m").write_bytes(
        render(f, TINY_SOURCES["alpha"], d / "f0.y4m").read_bytes().replace(b"F25:1", b"F1:0", 1)),
         ("f0.y4m", "malformed y4m header")),
    Case("one-frame-clip", lambda d, f: render(f, TINY_SOURCES["gamma"], d / "short.y4m", frames=1),
         ("short.y4m: 1 frame(s)", f"at least {MIN_FRAMES_PER_SOURCE} frames per source")),
    Case("netflix-dis-file", lambda d, f: render(f, TINY_SOURCES["gamma"], d / "Gamma_20_288_375.yuv",
                                                 fmt="rawvideo"), ("Gamma_20_288_375.yuv: a distorted encode",)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_clip_is_refused_at_discovery(case: Case, ffmpeg: str, tiny_refs: Path, tmp_path: Path) -> None:
    refs = tmp_path / "refs"
    refs.mkdir()
    for name in ("alpha", "beta", "delta"):
        (refs / f"{name}.y4m").symlink_to(tiny_refs / f"{name}.y4m")
    case.make(refs, ffmpeg)
    # the CLI in this process: ~0.4 s a case, not a new interpreter's 2 s (the refusal through a real process: the
    # Netflix root and the touched clip below)
    res = run_here("run", "--ref-dir", refs, "--out-dir", tmp_path / "out", *ARGS)
    assert_clean_failure(res, *case.needles)
    assert "[02 corpus] failed" in res.stdout
    assert not list((tmp_path / "out" / "02_corpus").glob("jobs/*.parquet"))  # refused before any encode


def test_netflix_root_names_the_subfolder_that_holds_references(ffmpeg: str, tiny_refs: Path, tmp_path: Path) -> None:
    root = tmp_path / "NFLX_dataset_public"
    netflix_root(ffmpeg, root, tiny_refs)
    res = run_kit("run", "--ref-dir", root, "--out-dir", tmp_path / "out", *ARGS)
    assert_clean_failure(res, f"no clips directly in {root}", f"{root / 'ref'} holds 2 clip(s)",
                         f"{root / 'dis'} holds distorted encodes, not references")
    assert f"hint: use --ref-dir {root / 'ref'}" in res.stderr
    res = run_kit("run", "--ref-dir", root / "dis", "--out-dir", tmp_path / "out", *ARGS)
    assert_clean_failure(res, "Alpha_20_288_375.yuv: a distorted encode, not a reference")


def test_vfr_master_and_y4m_frame_params_give_one_row_per_decoded_frame(ffmpeg: str, tiny_refs: Path,
                                                                          tmp_path: Path) -> None:
    refs = tmp_path / "refs"
    refs.mkdir()
    (refs / "alpha.y4m").symlink_to(tiny_refs / "alpha.y4m")
    vfr_mkv(ffmpeg, refs / "phone.mkv")
    rotated_vfr_mp4(ffmpeg, refs / "portrait.mp4")
    y4m_with_frame_params(ffmpeg, refs / "params.y4m")
    out = tmp_path / "out"
    for step in ("prereqs", "corpus"):
        res = run_kit("step", step, "--ref-dir", refs, "--out-dir", out, *ARGS)
        assert res.returncode == 0, res.stdout + res.stderr
    df = pd.read_parquet(out / "02_corpus" / "shard.parquet")
    frames = df.groupby("src")["frame_index"].agg(["count", "max"])
    # the default CFR conversion made 48 of the phone's 34 frames; params.y4m used to be "truncated"
    assert frames.loc["phone"].tolist() == [34, 33]
    assert frames.loc["portrait"].tolist() == [34, 33]
    sizes = df.groupby("src")[["width", "height"]].first()
    assert sizes.loc["portrait"].tolist() == [144, 176]  # the decoded (rotated) frames, as encoded and scored
    assert frames.loc["params"].tolist() == [TINY_FRAMES, TINY_FRAMES - 1]
    assert frames.loc["alpha"].tolist() == [TINY_FRAMES, TINY_FRAMES - 1]
    for src in ("phone", "portrait"):  # frames paired one to one, not shifted by duplicates
        assert df.loc[df["src"] == src, "vmaf"].min() > 30, src


def runner(ffmpeg: str, tmp: Path) -> JobRunner:
    prov = Provenance("box", "linux-x86_64", cpu_name(), ffmpeg, "9", "9+x", "3.0")
    (tmp / "jobs").mkdir()
    return JobRunner(ffmpeg=ffmpeg, prov=prov, tree=Tree.open(tmp), jobs_dir=tmp / "jobs", work_dir=tmp / "work",
                     vmaf_threads=1,
                     encoder_threads=1, sessions={"libx264": threading.Semaphore(1)}, log=lambda line: None)


def test_clip_reexported_during_the_run_has_its_rows_discarded(ffmpeg: str, tmp_path: Path) -> None:
    path = render(ffmpeg, TINY_SOURCES["alpha"], tmp_path / "clip.y4m")
    clip = probe_clip(path, ffmpeg, Sha256Cache(None))
    render(ffmpeg, TINY_SOURCES["beta"], path)  # re-exported after discovery hashed it
    run = runner(ffmpeg, tmp_path)
    job = Job(clip, "libx264", 30)
    with pytest.raises(ClipChanged, match=r"clip\.y4m changed while the run was going \(its modification time"):
        run.run(job)
    assert not any(p.exists() for p in job_paths(tmp_path / "jobs", job))  # no rows under the old sha256


def test_job_failure_names_the_clip_and_ffmpegs_telling_line(ffmpeg: str, tmp_path: Path) -> None:
    path = odd_yuv(ffmpeg, tmp_path / "Odd_321x181_25fps.yuv")
    # as discovery used to let it through: the encode then fails, and the console must say why
    clip = Clip(str(path), "Odd", "yuv", 321, 181, "25/1", "yuv420p", TINY_FRAMES, "ab" * 32)
    with pytest.raises(JobFailed) as err:
        runner(ffmpeg, tmp_path).run(Job(clip, "libx264", 30))
    said = rf"{re.escape(str(path))}: ffmpeg failed \(exit \d+\) encoding {re.escape(path.name)} at libx264 cq 30: "
    assert re.match(said, err.value.message), err.value.message
    assert err.value.clip_path == str(path) and not err.value.retry_helps  # left out, never retried
    assert err.value.message.endswith("width not divisible by 2 (321x181)")


def test_training_refuses_a_corpus_source_with_too_few_frames() -> None:
    df = synthetic_corpus(n_src=4, rows_per_src=60)
    ok = make_folds(df)
    assert len(ok) == 4
    short = df[(df["src"] != "s2") | (df["frame_index"] < 2)]
    with pytest.raises(InputError, match=r"source 's2' \(000000000000\): 2 frame\(s\) in the corpus; a LOSO fold "
                                         rf"needs at least {MIN_FRAMES_PER_SOURCE} frames per source"):
        make_folds(short)


def test_clip_touched_during_the_corpus_step_fails_the_step_naming_it(ffmpeg: str, tiny_refs: Path,
                                                                       tmp_path: Path) -> None:
    refs = tmp_path / "refs"
    refs.mkdir()
    for name in ("alpha", "beta"):
        (refs / f"{name}.y4m").symlink_to(tiny_refs / f"{name}.y4m")
    clip = refs / "gamma.y4m"
    clip.write_bytes((tiny_refs / "gamma.y4m").read_bytes())
    # the real ffmpeg, behind a wrapper that re-exports (touches) the clip whenever it encodes it
    wrapper = tmp_path / "ffmpeg"
    wrapper.write_text(f'#!/bin/sh\ncase "$*" in *gamma.y4m*-c:v*) touch "{clip}" ;; esac\nexec "{ffmpeg}" "$@"\n')
    wrapper.chmod(0o755)
    res = run_kit("run", "--ffmpeg", wrapper, "--ref-dir", refs, "--out-dir", tmp_path / "out", *ARGS)
    assert_clean_failure(res, f"{clip} changed while the run was going", "sha256")
    made = sorted(p.name for p in (tmp_path / "out" / "02_corpus" / "jobs").glob("*.parquet"))
    assert len(made) == 2 and not any(n.startswith("gamma") for n in made), made  # its rows were never written

