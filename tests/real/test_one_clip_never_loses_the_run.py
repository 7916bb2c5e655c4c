"""No clip loses the run (issue 91, item 2): every refusal the kit can make of one entry of --ref-dir, each made for
real here, in ONE run beside four good clips: each is left out, named with its reason in the run's lines,
skipped.json, the shard manifest's left_out and the report, the summary's SKIPPED row counts them, and the run ends
with its verdict (0 or 1), never 2. Beside them, the files that 2.3.0 refused and a plain decode plays whole are
used: an .mkv whose first video stream is a PNG cover (its film read), a DV file whose timecode ffmpeg calls invalid
(decoded whole). `--strict` still refuses. A corpus made alone (`--only corpus`, a box that cannot train) is made
whatever its count of contents; LOSO's minimum is said where LOSO runs.

The refusals, by where the kit makes them (kit.media.discovery: the listing, probe_clip; kit.media.refs: geometry;
kit.media.containers: the container's structure; kit.media.decode: the looks; kit.steps.corpus_inputs: too short):
CASES. Not made here: a clip unreadable by permissions (this box's tests run as root, who reads any file), a clip
replaced by a pipe between the listing and its read (tests/real/test_discovery.py races it), the teacher's sizes
(another teacher: tests/real/test_teacher.py) and what a job's child does (tests/real/test_faults.py).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from kit.infra.visible import visible
from kit.model.recipe import MIN_FRAMES_PER_SOURCE
from tests.conftest import FAST, LENIENT, TINY_SOURCES, copy_prereqs, made_once, render, run_here, run_kit
from tests.pipeline.test_no_torch import NO_TORCH
from tests.real.test_bounded_looks import first_picture_damaged
from tests.real.test_hostile_refs import damaged_mkv, ffmpeg_run, odd_y4m, size_change, zero_width_y4m

GOOD = ("alpha", "beta", "gamma", "delta")  # four contents: LOSO has its three with one left to spare
ARGS = ("--encoders", "libx264", "--seeds", "0")


@dataclass(frozen=True)
class Case:
    name: str  # the entry's name in --ref-dir
    make: Callable[[Path, str], object]  # (the entry's path, ffmpeg)
    reason: str  # a pattern its reason must hold


def frames_of(n: int) -> Callable[[Path, str], object]:
    return lambda p, f: ffmpeg_run(f, "-f", "lavfi", "-i", "testsrc2=s=176x144:r=25", "-frames:v", str(n),
                                   "-c:v", "libx264", p)


def turned_size_change(path: Path, ffmpeg: str) -> None:
    """176x144 then 144x176 in one stream, in an .mp4 whose display matrix turns it 90 degrees: the later pictures'
    size is the first ones' turned, which 2.3.0 took for the turned picture and used, every later one rescaled."""
    size_change(ffmpeg, path, "144x176", rotation=90)


def cover_first(path: Path, ffmpeg: str) -> None:
    """A PNG cover as the .mkv's first video stream (`-disposition attached_pic`, which Matroska keeps as a track of
    one picture), the film of 24 frames second."""
    cover = path.with_suffix(".png")
    ffmpeg_run(ffmpeg, "-f", "lavfi", "-i", "testsrc2=s=64x64", "-frames:v", "1", cover)
    film = path.with_suffix(".film.mp4")
    ffmpeg_run(ffmpeg, "-f", "lavfi", "-i", "mandelbrot=s=160x96:r=24", "-frames:v", "24", "-c:v", "libx264", film)
    ffmpeg_run(ffmpeg, "-i", cover, "-i", film, "-map", "0", "-map", "1", "-c:v:0", "png", "-c:v:1", "copy",
               "-disposition:v:0", "attached_pic", path)
    cover.unlink()
    film.unlink()


def dv_bad_timecode(path: Path, ffmpeg: str) -> None:
    """A PAL DV file of 10 frames whose subcode holds no timecode pack (its pack id overwritten): ffmpeg's demuxer
    says `Detected timecode is invalid` at [error], then decodes every frame under -xerror."""
    ffmpeg_run(ffmpeg, "-f", "lavfi", "-i", "life=s=720x576:r=25:seed=9:mold=5", "-frames:v", "10", "-c:v",
               "dvvideo", "-pix_fmt", "yuv420p", "-timecode", "10:00:00:00", "-f", "dv", path)
    data = bytearray(path.read_bytes())
    for block in range(0, len(data), 80):  # DIF blocks; a subcode block's section type is 1
        if data[block] >> 5 == 1:
            for pack in range(block + 3, block + 80, 8):  # its sync blocks: 3 bytes of id, then a 5-byte pack
                if data[pack + 3] == 0x13:  # the timecode pack
                    data[pack + 3] = 0xFF
    path.write_bytes(bytes(data))


def truncated(make: Callable[[Path, str], object], keep: float) -> Callable[[Path, str], object]:
    def cut(path: Path, ffmpeg: str) -> None:
        make(path, ffmpeg)
        data = path.read_bytes()
        path.write_bytes(data[:int(len(data) * keep)] + (b"\0" * 5 if path.suffix == ".ts" else b""))
    return cut


def sidecar_yuv(path: Path, ffmpeg: str) -> None:
    render(ffmpeg, TINY_SOURCES["alpha"], path, fmt="rawvideo")
    path.with_suffix(".json").write_text(json.dumps({"width": 176, "height": 144, "fps": "1/0"}))


def link(target: str) -> Callable[[Path, str], object]:
    return lambda p, f: p.symlink_to(p.parent / target if not target.startswith("/") else target)


CASES = [
    # too short for a LOSO fold (kit.steps.corpus_inputs.too_short): 2.3.0 ended the run with exit 2
    Case("short2.mp4", frames_of(2), rf"2 frame\(s\); a LOSO fold needs at least {MIN_FRAMES_PER_SOURCE} frames"),
    Case("short5.mp4", frames_of(5), r"5 frame\(s\); a LOSO fold needs at least"),
    Case("photo.y4m", lambda p, f: render(f, TINY_SOURCES["gamma"], p, frames=1), r"1 frame\(s\); a LOSO fold"),
    # the looks (kit.media.decode): what the file's pictures are
    Case("turned_resized.mp4", turned_size_change,
         r"its pictures change size mid-stream \(176x144 to 144x176, as its decoder gives them before their display"),
    Case("resized.mkv", lambda p, f: size_change(f, p),
         r"its pictures change size mid-stream \(176x144 to 352x288\)"),
    Case("audio.mp4", lambda p, f: ffmpeg_run(f, "-f", "lavfi", "-i", "sine=d=1", "-c:a", "aac", p),
         r"not a video: it has no video stream \(only audio\)"),
    Case("thumb.mp4", lambda p, f: ffmpeg_run(f, "-f", "lavfi", "-i", "testsrc2=s=176x144", "-frames:v", "1",
                                              "-c:v", "mjpeg", "-f", "image2", p),
         r"not a video: a picture \(ffmpeg reads it as jpeg_pipe\)"),
    Case("bad.mkv", lambda p, f: damaged_mkv(f, p), r"damaged container: the demuxer skipped data"),
    Case("damaged.mp4", lambda p, f: first_picture_damaged(f, p.parent).replace(p),
         r"not a readable video \(frame 0 is damaged"),
    # the container's structure (kit.media.containers.check_container), the file itself
    Case("empty.mov", lambda p, f: p.write_bytes(b""), r"empty file \(0 bytes\)"),
    Case("cut.avi", truncated(lambda p, f: ffmpeg_run(f, "-f", "lavfi", "-i", "testsrc2=s=176x144:r=25",
                                                      "-frames:v", "10", "-c:v", "mjpeg", p), 0.5),
         r"truncated AVI: its chunks say it is \d+ bytes long"),
    Case("cut.ts", truncated(lambda p, f: ffmpeg_run(f, "-f", "lavfi", "-i", "testsrc2=s=176x144:r=25", "-frames:v",
                                                     "10", "-c:v", "libx264", "-f", "mpegts", p), 0.5),
         r"truncated transport stream"),
    Case("raw.m4v", lambda p, f: ffmpeg_run(f, "-f", "lavfi", "-i", "testsrc2=s=176x144:r=25", "-frames:v", "10",
                                            "-c:v", "mpeg4", "-f", "m4v", p),
         r"a raw MPEG-4 video stream, not an MP4 file"),
    # geometry (kit.media.refs)
    Case("w0.y4m", lambda p, f: zero_width_y4m(f, p), r"size 0x144"),
    Case("f0.y4m", lambda p, f: p.write_bytes(render(f, TINY_SOURCES["alpha"], p).read_bytes().replace(
        b"F25:1", b"F1:0", 1)), r"malformed y4m header"),
    Case("odd.y4m", lambda p, f: odd_y4m(f, p), r"321x181 has an odd width and height"),
    Case("t2x2.mkv", lambda p, f: ffmpeg_run(f, "-f", "lavfi", "-i", "testsrc2=s=2x2:r=25", "-frames:v", "30",
                                             "-c:v", "ffv1", p), r"2x2 is too small for libvmaf to score"),
    Case("tiny16.y4m", lambda p, f: render(f, "testsrc2=s=16x16:r=25", p), r"16x16 is too small for libvmaf"),
    Case("Gamma_20_288_375.yuv", lambda p, f: render(f, TINY_SOURCES["gamma"], p, fmt="rawvideo"),
         r"a distorted encode, not a reference"),
    Case("Noname.yuv", lambda p, f: render(f, TINY_SOURCES["gamma"], p, fmt="rawvideo"),
         r"cannot tell its geometry from the name"),
    Case("Side.yuv", sidecar_yuv, r"divides by zero"),
    Case("Ragged_176x144_25fps.yuv", lambda p, f: p.write_bytes(
        render(f, TINY_SOURCES["beta"], p, fmt="rawvideo").read_bytes()[:-100]), r"is not a whole number of"),
    # the listing (kit.media.discovery, kit.media.entries): what the entry is
    Case("gone.y4m", link("unmounted/gone.y4m"), r"a symbolic link to .*unmounted/gone\.y4m, which does not exist"),
    Case("loop.y4m", link("loop.y4m"), r"which leads back to itself"),
    Case("folder.y4m", lambda p, f: p.mkdir(), r"a folder, not a clip file"),
    Case("pipe.y4m", lambda p, f: os.mkfifo(p), r"a named pipe \(FIFO\), not a clip file"),
    Case("zero.mov", link("/dev/zero"), r"a symbolic link to /dev/zero, a device"),
    Case("notes.txt", lambda p, f: p.write_text("clips from the camera\n"), r"not a video: a document \(\.txt\)"),
    Case("trailer.264", lambda p, f: ffmpeg_run(f, "-f", "lavfi", "-i", "testsrc2=s=176x144:r=25", "-frames:v",
                                                "10", "-c:v", "libx264", "-f", "h264", p),
         r"raw .*stream"),
]
# what 2.3.0 refused and a plain decode plays whole: used, its frames those a plain decode gives
# (how it is made, its frames, their size, its film's stream as a plain decode maps it)
USED = {"coverk.mkv": (cover_first, 24, (160, 96), "0:1"), "dv_timecode.dv": (dv_bad_timecode, 10, (720, 576), "0:0")}


def fill(ffmpeg: str, refs: Path) -> None:
    refs.mkdir(parents=True)
    for name in GOOD:
        render(ffmpeg, TINY_SOURCES[name], refs / f"{name}.y4m")
    for case in CASES:
        case.make(refs / case.name, ffmpeg)
    for name, (make, *_) in USED.items():
        make(refs / name, ffmpeg)


def plain_frames(ffmpeg: str, path: Path, stream: str) -> int:
    """The frames a plain decode of the file's film (`stream`) gives, `-xerror` stopping it at a damaged picture."""
    res = subprocess.run([ffmpeg, "-hide_banner", "-xerror", "-i", str(path), "-map", stream, "-f", "null", "-"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    return int(re.findall(r"frame=\s*(\d+)", res.stderr)[-1])


@pytest.fixture(scope="module")
def one_run(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """The run, made once: every case and the good clips in one --ref-dir, the whole pipeline."""
    def make(folder: Path) -> dict[str, object]:
        fill(ffmpeg, folder / "refs")
        res = run_kit("run", "--ref-dir", folder / "refs", "--out-dir", folder / "out", *FAST, *LENIENT, *ARGS)
        return {"code": res.returncode, "said": res.stdout + res.stderr}
    return made_once(tmp_path_factory, "one-clip-never", make)


@pytest.mark.slow
def test_every_refusal_of_one_clip_leaves_it_out_named_and_the_run_goes_on(
        one_run: tuple[Path, dict[str, object]], ffmpeg: str) -> None:
    folder, kept = one_run
    said = str(kept["said"])
    assert kept["code"] in (0, 1), said[-4000:]
    out = folder / "out"
    skipped = {Path(s["path"]).name: s for s in json.loads((out / "02_corpus" / "skipped.json").read_text())["skipped"]}
    manifest = json.loads((out / "02_corpus" / "shard.manifest.json").read_text())
    left_out = {Path(u["file"]).name: u["why"] for u in manifest["left_out"]}
    report = (out / "05_bundle" / "report.html").read_text()
    wrong = []
    for case in CASES:
        entry = skipped.get(case.name)
        if entry is None:
            wrong.append(f"{case.name}: not in skipped.json")
            continue
        if not re.search(case.reason, entry["reason"]) or not entry["fix"]:
            wrong.append(f"{case.name}: its reason {entry['reason']!r} (fix {entry['fix']!r}) lacks {case.reason!r}")
        if not any(f"skipped {entry['path']}" in line for line in said.splitlines()):
            wrong.append(f"{case.name}: not named in the run's lines")
        if case.name not in left_out:
            wrong.append(f"{case.name}: not in the shard manifest's left_out")
        if visible(case.name) not in report:
            wrong.append(f"{case.name}: not in the report")
    others = set(skipped) - {c.name for c in CASES}
    assert not wrong and not others, "\n".join([*wrong, f"left out too: {sorted(others)}", said[-3000:]])
    assert re.search(rf"SKIPPED clips\s*│\s*{len(CASES)} left out", said), said[-3000:]
    used = {Path(s["file"]).name: s for s in manifest["sources"]}
    assert set(used) == {*(f"{n}.y4m" for n in GOOD), *USED}, sorted(used)
    for name, (_, frames, size, stream) in USED.items():
        assert plain_frames(ffmpeg, folder / "refs" / name, stream) == frames
        assert (used[name]["frames"], used[name]["width"], used[name]["height"]) == (frames, *size), used[name]
    cover = next(line for line in said.splitlines() if "coverk.mkv: 1 more video stream(s)" in line)
    # each stream's frames counted (issue 98 item 9): the cover by its frame, the film by its frames
    assert "(#0:0 (1 frame, png 64x64)) not used: only the film (#0:1, 24 frames)" in cover, cover


def test_strict_still_refuses_the_first(one_run: tuple[Path, dict[str, object]], tmp_path: Path) -> None:
    folder, _ = one_run
    out = copy_prereqs(folder / "out", tmp_path / "out")
    res = run_here("step", "corpus", "--ref-dir", folder / "refs", "--out-dir", out, *ARGS, "--strict")
    assert res.returncode == 2, res.stdout + res.stderr
    (error,) = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
    assert any(case.name in error and re.search(case.reason, error) for case in CASES), error


@pytest.mark.slow
@pytest.mark.parametrize("alone", ["--only corpus", "a box that cannot train"])
def test_a_corpus_made_alone_is_made_whatever_its_contents(one_run: tuple[Path, dict[str, object]], ffmpeg: str,
                                                           tmp_path: Path, alone: str) -> None:
    """Two contents: `--only corpus` and a box that cannot train (its corpus-only bundle) make and send them (2.3.0
    sent nothing: `LOSO needs at least 3`, on a box that runs no LOSO); the run that trains then says LOSO's
    minimum and bundles the corpus for the lead, exit 1 (issue 98: it ended 2, sending nothing)."""
    refs = tmp_path / "refs"
    refs.mkdir()
    for name in ("alpha", "beta"):
        render(ffmpeg, TINY_SOURCES[name], refs / f"{name}.y4m")
    out = copy_prereqs(one_run[0] / "out", tmp_path / "out")
    flags = ["--ref-dir", refs, "--out-dir", out, *ARGS, "--cqs", "37", "--scales", "native"]
    if alone == "--only corpus":
        res = run_here("run", *flags, "--only", "corpus")
    else:
        res = run_kit("run", *flags, entry=NO_TORCH)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    manifest = json.loads((tmp_path / "out" / "02_corpus" / "shard.manifest.json").read_text())
    assert sorted(s["src"] for s in manifest["sources"]) == ["alpha", "beta"]
    if alone != "--only corpus":
        assert list((tmp_path / "out" / "05_bundle").glob("results-*.tar.gz")), res.stdout[-2000:]
        return
    trains = run_here("run", *flags)  # the corpus up to date: LOSO says its minimum, the corpus goes to the lead
    assert trains.returncode == 1 and "corpus only: 2 distinct content(s) found; LOSO needs at least 3" in \
        trains.stdout and "send it to the lead as it is" in trains.stdout, trains.stdout[-2000:] + trains.stderr[-2000:]
    assert list((out / "05_bundle").glob("results-*.tar.gz")) and not (out / "03_loso").exists()
