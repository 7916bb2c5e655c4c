"""Reference clips in the containers people have (issue 51, item 4; issue 67, item 2): every extension of
kit.media.containers is taken in --ref-dir like .mp4/.mkv/.mov masters (.webm, .m4v, .mxf, .ogv, .ogg, .3gp, .3g2,
.mj2, .f4v, .flv, .wmv, .asf, .nut, .ivf, .dv read as they are); those whose timestamps the kit does not trust (.avi,
program and transport streams: .mpg, .mpeg, .vob, .mod, .ts, .m2ts, .mts, .m2t, .tod) are read through a lossless copy
the kit makes in its cache. A raw stream (.264, .265, .obu, a raw .m4v) is left out with the lossless conversion at
its rate as its fix, which keeps every frame where a remux does not.

Each clip is made here with the kit's ffmpeg and checked against a plain computation: its frame count is what a
plain `ffmpeg -i FILE -map 0:v:0 -f null -` counts, its size what ffmpeg says, its src_sha256 the sha256 of its
bytes, and the frames the kit reads (Clip.input_args) the plain decode's, frame for frame (framemd5 of rawvideo);
a second discovery runs no ffmpeg at all (the copies are reused); a damaged or cut-short file is left out, named.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest

from kit.errors import InputError
from kit.infra.tree import Tree
from kit.media.argv import STRICT_DECODE, build_fingerprint_argv
from kit.media.cache import Sha256Cache
from kit.media.containers import DIRECT_EXTS, INTERMEDIATE_EXTS
from kit.media.discovery import Unusable, discover, list_clip_files
from kit.media.refs import CLIP_EXTS, Clip
from tests.conftest import ROOT, render

VFR = "setpts='N/24/TB+gte(N,5)*0.5/TB'"  # 24 fps with a half-second gap after frame 4
H264 = ("-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-x264-params", "b-adapt=0")
M2TS = ("-mpegts_m2ts_mode", "1")
# name: (size, rate, frames, pixel format, ffmpeg's format, encode options, a filter after the source)
CLIPS: dict[str, tuple[str, str, int, str, str, tuple[str, ...], str]] = {
    "camera.avi": ("96x64", "24", 12, "yuvj422p", "avi", ("-c:v", "mjpeg"), ""),
    "gaps.avi": ("64x48", "24", 14, "yuv420p", "avi", ("-c:v", "mpeg4", "-bf", "2", "-fps_mode", "passthrough"), VFR),
    "dvd.mpg": ("96x64", "30000/1001", 15, "yuv420p", "vob", ("-c:v", "mpeg2video", "-bf", "2"), ""),
    "vcd.mpeg": ("64x48", "24000/1001", 12, "yuv420p", "mpeg", ("-c:v", "mpeg1video"), ""),
    "broadcast.ts": ("96x64", "24000/1001", 16, "yuv420p", "mpegts", H264, ""),
    "bluray.m2ts": ("96x64", "24", 12, "yuv420p", "mpegts", (*H264, *M2TS), ""),
    "camcorder.mts": ("64x48", "30000/1001", 14, "yuv420p", "mpegts", (*H264, *M2TS), ""),
    "web.webm": ("96x64", "15", 10, "yuv420p", "webm", ("-c:v", "libvpx-vp9", "-deadline", "realtime"), ""),
    "phone.m4v": ("64x48", "30000/1001", 12, "yuv420p", "mp4", H264, ""),
    "studio.mxf": ("96x64", "25", 10, "yuv420p", "mxf", ("-c:v", "mpeg2video", "-bf", "2"), ""),
    "film.ogv": ("96x64", "24", 12, "yuv420p", "ogg", ("-c:v", "libtheora", "-q:v", "8"), ""),
    "web.ogg": ("64x48", "30", 10, "yuv420p", "ogg", ("-c:v", "libvpx", "-b:v", "1M"), ""),
    "phone.3gp": ("96x64", "24", 14, "yuv420p", "3gp", (*H264, "-fps_mode", "passthrough"), VFR),
    "old_phone.3g2": ("64x48", "15", 10, "yuv420p", "3g2", ("-c:v", "mpeg4", "-bf", "2"), ""),
    "cinema.mj2": ("64x48", "24", 8, "yuv420p", "mov", ("-c:v", "jpeg2000", "-brand", "mjp2"), ""),
    "flash.f4v": ("96x64", "25", 12, "yuv420p", "f4v", H264, ""),
    "flash.flv": ("64x48", "30000/1001", 12, "yuv420p", "flv", H264, ""),
    "screen.wmv": ("96x64", "25", 10, "yuv420p", "asf", ("-c:v", "wmv2"), ""),
    "stream.asf": ("64x48", "30000/1001", 12, "yuv420p", "asf", ("-c:v", "mpeg4", "-bf", "2"), ""),
    "archive.nut": ("96x64", "24", 12, "yuv420p", "nut", ("-c:v", "mpeg4", "-bf", "2", "-fps_mode", "passthrough"),
                    VFR),
    "web.ivf": ("64x48", "24", 10, "yuv420p", "ivf", ("-c:v", "libvpx-vp9", "-deadline", "realtime"), ""),
    "tape.dv": ("720x576", "25", 6, "yuv420p", "dv", ("-c:v", "dvvideo"), ""),
    "disc.vob": ("96x64", "25", 12, "yuv420p", "vob", ("-c:v", "mpeg2video", "-bf", "2"), ""),
    "camcorder.mod": ("64x48", "30000/1001", 12, "yuv420p", "vob", ("-c:v", "mpeg2video", "-bf", "2"), ""),
    "hdv.m2t": ("96x64", "25", 12, "yuv420p", "mpegts", ("-c:v", "mpeg2video", "-bf", "2"), ""),
    "camcorder.tod": ("64x48", "30000/1001", 12, "yuv420p", "mpegts", H264, ""),
}


def make(ffmpeg: str, folder: Path, name: str) -> Path:
    size, rate, frames, pix_fmt, fmt, options, after = CLIPS[name]
    lavfi = f"testsrc2=s={size}:r={rate}" + (f",{after}" if after else "")
    return render(ffmpeg, lavfi, folder / name, frames, pix_fmt, fmt, options)


def plain_count(ffmpeg: str, path: Path) -> int:
    """The frames a plain decode of the file counts (its closing frame= line)."""
    res = subprocess.run([ffmpeg, "-hide_banner", "-nostdin", "-i", str(path), "-map", "0:v:0", "-f", "null", "-"],
                         capture_output=True, text=True, check=True)
    return int(re.findall(r"frame=\s*(\d+)", res.stderr)[-1])


def plain_size(ffmpeg: str, path: Path) -> tuple[int, int]:
    res = subprocess.run([ffmpeg, "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True, text=True)
    m = re.search(r"Video: .*?, (\d+)x(\d+)", res.stderr)
    assert m, res.stderr
    return int(m[1]), int(m[2])


def frame_md5s(ffmpeg: str, input_args: list[str]) -> list[str]:
    """The md5 of every decoded frame, as rawvideo, in decoding order: each frame once (-fps_mode passthrough)."""
    res = subprocess.run([ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", *input_args, "-map", "0:v:0",
                          "-fps_mode", "passthrough", "-f", "framemd5", "-"],
                         capture_output=True, text=True, check=True)
    return [line.rsplit(",", 1)[1].strip() for line in res.stdout.splitlines() if line and not line.startswith("#")]


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def open_cache(folder: Path) -> Sha256Cache:
    """The kit's cache in `folder`, read afresh, as the next run reads it."""
    return Sha256Cache(Tree.open(folder), folder / "sha256.json")


@pytest.fixture(scope="module")
def found(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Clip]]:
    """(the --ref-dir, the kit's cache, each clip discovered by file name): every container's clip, made here."""
    refs, cache = tmp_path_factory.mktemp("containers"), tmp_path_factory.mktemp("containers-cache")
    for name in CLIPS:
        make(ffmpeg, refs, name)
    clips = discover(refs, ffmpeg, open_cache(cache), unusable=[])
    return refs, cache, {Path(c.path).name: c for c in clips}


def test_every_container_is_a_clip_extension() -> None:
    assert {Path(name).suffix for name in CLIPS} == {*DIRECT_EXTS, *INTERMEDIATE_EXTS} - {".mp4", ".mkv", ".mov"}
    assert set(CLIP_EXTS) == {".y4m", ".yuv", *DIRECT_EXTS, *INTERMEDIATE_EXTS}


@pytest.mark.parametrize("name", CLIPS)
def test_a_clip_is_its_file_with_the_frames_a_plain_decode_gives(ffmpeg: str, found: tuple[Path, Path, dict[str, Clip]],
                                                                 name: str) -> None:
    refs, cache, clips = found
    original = refs / name
    clip = clips[name]
    assert (clip.path, clip.src, clip.kind) == (str(original.resolve()), original.stem, "master")
    assert clip.sha256 == sha256_of(original)
    assert clip.stamp[0] == original.stat().st_size and not clip.changed_on_disk()
    assert clip.n_frames == plain_count(ffmpeg, original) == CLIPS[name][2]
    assert (clip.width, clip.height) == plain_size(ffmpeg, original)
    copied = original.suffix in INTERMEDIATE_EXTS
    assert bool(clip.read_path) == copied
    if copied:  # the copy, in the cache, is what every ffmpeg of the corpus reads, its colour tags given back
        assert Path(clip.read_path).parent == cache / "intermediates" and Path(clip.read_path).suffix == ".nut"
        assert clip.input_args() == [*(a for tag, name in clip.read_tags for a in (f"-{tag}", name)),
                                     "-i", clip.read_path]
        assert ("color_range", "pc") in clip.read_tags if name == "camera.avi" else True  # MJPEG's full range
        # each frame at the time ffmpeg plays it at, so an encode of the copy is a plain encode of the file, byte
        # for byte (x264's rate control reads the frames' times: gaps.avi's half-second gap)
        assert frame_times(ffmpeg, clip.input_args()) == frame_times(ffmpeg, ["-i", str(original)])
        assert x264(ffmpeg, clip.input_args(), refs / f"{name}.copy.h264") == x264(
            ffmpeg, ["-i", str(original)], refs / f"{name}.plain.h264"), name
    assert frame_md5s(ffmpeg, clip.input_args()) == frame_md5s(ffmpeg, ["-i", str(original)])


def frame_times(ffmpeg: str, input_args: list[str]) -> list[Fraction]:
    """The time of every decoded frame after the first, in seconds, in its stream's own time base (not rounded to one
    over its rate): what an encoder's rate control reads (ffmpeg starts each file at its own first time)."""
    res = subprocess.run([ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", *input_args, "-map", "0:v:0",
                          "-fps_mode", "passthrough", "-enc_time_base:v", "demux", "-f", "framemd5", "-"],
                         capture_output=True, text=True, check=True)
    tb = Fraction(re.findall(r"^#tb 0: (\d+/\d+)$", res.stdout, re.MULTILINE)[0])
    times = [int(line.split(",")[2]) * tb for line in res.stdout.splitlines() if line and not line.startswith("#")]
    return [t - times[0] for t in times]


def x264(ffmpeg: str, input_args: list[str], dest: Path) -> bytes:
    """A plain encode of what `input_args` read: every frame once, libx264 at crf 34 on one thread, an elementary
    stream (its bytes: the encode, headers and all)."""
    subprocess.run([ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *input_args, "-map", "0:v:0",
                    "-an", "-fps_mode", "passthrough", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "medium",
                    "-crf", "34", "-threads", "1", "-f", "h264", str(dest)], check=True)
    return dest.read_bytes()


def test_the_copy_is_ffv1_each_frame_at_the_time_ffmpeg_plays_it_at(
        ffmpeg: str, found: tuple[Path, Path, dict[str, Clip]]) -> None:
    """gaps.avi (24 fps with a half-second gap after frame 4, as an AVI writes one: empty chunks): its copy's frames
    lie where a plain decode puts them, not renumbered one after another at its rate as 2.1's copy put them."""
    refs, _, clips = found
    clip = clips["gaps.avi"]
    res = subprocess.run([ffmpeg, "-hide_banner", "-nostdin", "-i", clip.read_path, "-map", "0:v:0", "-c", "copy",
                          "-f", "framecrc", "-"], capture_output=True, text=True, check=True)
    assert "Video: ffv1" in res.stderr
    tb = Fraction(re.findall(r"^#tb 0: (\d+/\d+)$", res.stdout, re.MULTILINE)[0])
    seconds = [int(line.split(",")[2]) * tb for line in res.stdout.splitlines() if line and not line.startswith("#")]
    assert len(seconds) == CLIPS["gaps.avi"][2]
    after = [s - seconds[0] for s in seconds]
    assert after == [Fraction(i, 24) + (Fraction(1, 2) if i >= 5 else 0) for i in range(len(seconds))]
    assert after == frame_times(ffmpeg, ["-i", str(refs / "gaps.avi")])


def test_a_second_discovery_runs_no_ffmpeg(ffmpeg: str, found: tuple[Path, Path, dict[str, Clip]],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    refs, cache, clips = found
    copies = {name: os.stat(c.read_path) for name, c in clips.items() if c.read_path}

    def no_ffmpeg(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"ffmpeg run again: {args}")

    monkeypatch.setattr("kit.media.looks.run_process", no_ffmpeg)  # every look at a clip runs there
    again = {Path(c.path).name: c for c in discover(refs, ffmpeg, open_cache(cache))}
    assert again == clips
    assert all(again[name].read_path == clips[name].read_path for name in clips)
    for name, st in copies.items():
        now = os.stat(clips[name].read_path)
        assert (now.st_ino, now.st_mtime_ns) == (st.st_ino, st.st_mtime_ns), name


@pytest.fixture()
def refs(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "refs"
    folder.mkdir()
    yield folder


def test_a_new_version_of_the_file_gets_a_new_copy(ffmpeg: str, refs: Path, tmp_path: Path) -> None:
    clip_file = make(ffmpeg, refs, "broadcast.ts")
    (first,) = discover(refs, ffmpeg, open_cache(tmp_path))
    before = os.stat(first.read_path)
    os.utime(clip_file, ns=(before.st_mtime_ns, before.st_mtime_ns + 10**9))  # the same bytes, another version
    (second,) = discover(refs, ffmpeg, open_cache(tmp_path))
    assert second.read_path != first.read_path  # one copy per version of the file: a cache shared by boxes, each
    assert (second.sha256, second.n_frames) == (first.sha256, first.n_frames)  # with a file at that path, shares none
    assert os.stat(first.read_path).st_ino == before.st_ino


def joined(parts: list[bytes]) -> bytes:
    """Transport streams joined as a splicer joins them: each packet's continuity counter runs on across the join
    (`cat` would break them, which ffmpeg reports as damage), the timestamps jump."""
    out, counters = bytearray(), {}
    for data in parts:
        for at in range(0, len(data), 188):
            packet = bytearray(data[at:at + 188])
            pid = (packet[1] & 0x1F) << 8 | packet[2]
            if packet[3] & 0x10:  # it carries a payload: its counter counts
                counters[pid] = (counters.get(pid, -1) + 1) & 0x0F
                packet[3] = packet[3] & 0xF0 | counters[pid]
            out += packet
    return bytes(out)


# a second part joined at the first's end, each part 10 frames at 25 fps from 5 s (its last frame at 5.36 s): the
# second starting k frames back (k = 1 repeats the last frame's time, 10 overlaps the whole first part), or after a gap
SPLICES = {"repeat": "5.36", "back-2": "5.32", "back-5": "5.2", "overlap": "5", "gap": "5.6"}
# what the joined parts are: a transport stream (each packet's continuity counter run on, as a splicer does) or a
# program stream (.mpg: packs one after the other, as `cat` of two recordings of a DVD recorder makes)
SPLICED = {"spliced.ts": ("mpegts", H264), "spliced.mpg": ("vob", ("-c:v", "mpeg2video", "-bf", "2"))}


# the fast tier's cut: a repeat in a program stream and a step back of two frames in a transport stream (copy version
# 2 made another encode of each); every other splice of both is wide
SPLICES_CI = {("repeat", "spliced.mpg"), ("back-2", "spliced.ts")}


@pytest.mark.parametrize(("offset", "name"), [
    pytest.param(offset, name, id=f"{kind}-{name}",
                 marks=() if (kind, name) in SPLICES_CI else pytest.mark.wide)
    for kind, offset in SPLICES.items() for name in SPLICED])
def test_a_spliced_stream_is_read_whole_and_encoded_as_a_plain_encode_reads_it(ffmpeg: str, refs: Path,
                                                                               tmp_path: Path, name: str,
                                                                               offset: str) -> None:
    """Two recordings joined, the second stepping back (or a repeat, or a gap): ffmpeg passes a step back on, and the
    strict decode a master gets fails on it (a muxer's "non monotonically increasing dts"). Through the copy, every
    frame is read in order, each at the time a plain decode gives it, step back and all, so an encode of the copy is
    the plain encode of the file, byte for byte (copy version 2 moved a step back one tick on: other bytes)."""
    fmt, codec = SPLICED[name]
    parts = []
    for k, start in enumerate(("5", offset)):
        part = render(ffmpeg, "testsrc2=s=64x48:r=25" + (",hflip" if k else ""), tmp_path / f"part{k}.{fmt}", 10,
                      fmt=fmt, extra=(*codec, "-output_ts_offset", start))
        parts.append(part.read_bytes())
    spliced = refs / name
    spliced.write_bytes(joined(parts) if fmt == "mpegts" else b"".join(parts))
    (clip,) = discover(refs, ffmpeg, open_cache(tmp_path / "cache"))
    assert clip.read_path
    assert clip.n_frames == plain_count(ffmpeg, spliced) == 20
    assert frame_md5s(ffmpeg, clip.input_args()) == frame_md5s(ffmpeg, ["-i", str(spliced)])
    assert frame_times(ffmpeg, clip.input_args()) == frame_times(ffmpeg, ["-i", str(spliced)])
    assert x264(ffmpeg, clip.input_args(), tmp_path / "copy.h264") == x264(ffmpeg, ["-i", str(spliced)],
                                                                            tmp_path / "plain.h264")


def test_a_step_back_fails_the_strict_decode(ffmpeg: str, tmp_path: Path) -> None:
    """Why such a stream is read through a copy: the strict look stops on the step back."""
    parts = [render(ffmpeg, "testsrc2=s=64x48:r=25", tmp_path / f"part{k}.ts", 10, fmt="mpegts",
                    extra=(*H264, "-output_ts_offset", start)).read_bytes() for k, start in enumerate(("5", "5.32"))]
    spliced = tmp_path / "spliced.ts"
    spliced.write_bytes(joined(parts))
    strict = subprocess.run(build_fingerprint_argv(ffmpeg, ["-i", str(spliced)], checks=STRICT_DECODE, count=True),
                            capture_output=True)
    assert b"non monotonically increasing dts" in strict.stderr


def left_out(refs: Path, ffmpeg: str, cache: Path) -> dict[str, Unusable]:
    unusable: list[Unusable] = []
    discover(refs, ffmpeg, open_cache(cache), unusable=unusable)
    return {Path(u.path).name: u for u in unusable}


def test_a_damaged_or_cut_short_file_is_left_out_named(ffmpeg: str, refs: Path, tmp_path: Path) -> None:
    whole = make(ffmpeg, tmp_path, "broadcast.ts").read_bytes()
    (refs / "cut.ts").write_bytes(whole[:len(whole) // 2 + 100])  # a copy that stopped mid-packet
    avi = bytearray(make(ffmpeg, tmp_path, "gaps.avi").read_bytes())
    (refs / "cut.avi").write_bytes(avi[:len(avi) // 2])
    middle = len(avi) // 2
    avi[middle:middle + 400] = bytes((i * 37) & 0xFF for i in range(400))  # damaged mid-stream
    (refs / "damaged.avi").write_bytes(avi)
    make(ffmpeg, refs, "camera.avi")  # and one good clip: the run goes on with it
    skipped = left_out(refs, ffmpeg, tmp_path / "cache")
    assert set(skipped) == {"cut.ts", "cut.avi", "damaged.avi"}
    assert skipped["cut.ts"].line().startswith(f"skipped {refs / 'cut.ts'}: truncated transport stream: ")
    assert skipped["cut.avi"].line().startswith(f"skipped {refs / 'cut.avi'}: truncated AVI: its chunks say it is ")
    assert skipped["damaged.avi"].line().startswith(f"skipped {refs / 'damaged.avi'}: not a readable video "
                                                    "(decoding failed")
    assert not list((tmp_path / "cache" / "intermediates").glob("cut*")), "no copy is kept of a refused clip"


def test_a_raw_mpeg4_stream_named_m4v_is_left_out(ffmpeg: str, refs: Path, tmp_path: Path) -> None:
    render(ffmpeg, "testsrc2=s=64x48:r=30000/1001", refs / "raw.m4v", 10, fmt="m4v", extra=("-c:v", "mpeg4"))
    with pytest.raises(InputError, match=r"raw\.m4v: a raw MPEG-4 video stream, not an MP4 file"):
        discover(refs, ffmpeg, open_cache(tmp_path))


def test_raw_streams_are_named_with_a_lossless_conversion_that_keeps_every_frame(ffmpeg: str, refs: Path,
                                                                                 tmp_path: Path) -> None:
    """A raw H.264, HEVC or AV1 stream holds no timestamps: named, its fix the conversion to FFV1 at its rate. Measured
    here: a remux (`-c copy` into an .mp4, as 2.1.0 printed for a raw .m4v) of a stream with B-frames decodes to other
    frames; the printed conversion, run, to the plain decode's frames, which the kit then takes."""
    made = {"camera.264": ("h264", ("-c:v", "libx264", "-bf", "3")), "phone.265": ("hevc", ("-c:v", "libx265")),
            "drone.obu": ("obu", ("-c:v", "libsvtav1")), "raw.m4v": ("m4v", ("-c:v", "mpeg4", "-bf", "2"))}
    for name, (fmt, codec) in made.items():
        render(ffmpeg, "testsrc2=s=64x48:r=30000/1001", refs / name, 20, fmt=fmt, extra=codec)
    render(ffmpeg, "mandelbrot=s=64x48:r=25", refs / "good.y4m", 8)  # a clip the run goes on with
    files, skipped = list_clip_files(refs)
    assert [p.name for p in files] == ["good.y4m", "raw.m4v"]  # named .m4v: refused when it is read
    assert [s.path.name for s in skipped] == ["camera.264", "drone.obu", "phone.265"]
    remuxed = tmp_path / "remuxed.mp4"
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-framerate", "30000/1001", "-i",
                    str(refs / "camera.264"), "-map", "0:v:0", "-c", "copy", str(remuxed)], check=True)
    assert frame_md5s(ffmpeg, ["-i", str(remuxed)]) != frame_md5s(ffmpeg, ["-i", str(refs / "camera.264")])
    unusable: list[Unusable] = []
    discover(refs, ffmpeg, open_cache(tmp_path / "cache"), unusable=unusable)
    fixes = {Path(u.path).name: u.fix.split(": ", 1)[1] for u in unusable}
    assert set(fixes) == set(made)
    for name, command in fixes.items():
        res = subprocess.run(["bash", "-c", command.replace("RATE", "30000/1001")], cwd=ROOT, capture_output=True,
                             text=True, stdin=subprocess.DEVNULL)
        assert res.returncode == 0, (command, res.stderr[-1500:])
        (refs / name).rename(tmp_path / name)  # the original moved out, as the fix says
    converted = {Path(c.path).name: c for c in discover(refs, ffmpeg, open_cache(tmp_path / "cache"))}
    assert set(converted) == {"good.y4m", *(f"{Path(name).stem}.mkv" for name in made)}
    for name in made:
        clip = converted[f"{Path(name).stem}.mkv"]
        assert (clip.fps, clip.n_frames) == ("30000/1001", 20), name
        assert frame_md5s(ffmpeg, clip.input_args()) == frame_md5s(ffmpeg, ["-i", str(tmp_path / name)]), name


def test_only_a_clip_read_through_a_copy_is_redone_when_the_copy_s_version_moves(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """2.2's copy keeps each frame's time (2.1's renumbered them): the jobs of a clip read through a copy name the
    copy's version in their fingerprint, so they are done again; a clip read as it is keeps its jobs."""
    import kit.corpus.jobs as jobs

    prov = jobs.Provenance("box", "linux-x86_64", "cpu", "ffmpeg", "9", "9+abc", "3.0")
    own = Clip("/r/a.mp4", "a", "master", 64, 48, "24/1", "yuv420p", 12, "a" * 64)
    copied = Clip("/r/b.avi", "b", "master", 64, 48, "24/1", "yuv420p", 12, "b" * 64,
                  read_path="/cache/intermediates/b-0123456789abcdef.nut")
    now = {c.path: jobs.Job(c, "libx264", 25).fingerprint(prov) for c in (own, copied)}
    monkeypatch.setattr(jobs, "COPY_VERSION", jobs.COPY_VERSION - 1)
    before = {c.path: jobs.Job(c, "libx264", 25).fingerprint(prov) for c in (own, copied)}
    assert now[own.path] == before[own.path] and now[copied.path] != before[copied.path]
