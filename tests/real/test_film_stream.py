"""Which of a master's video streams is its film (issue 98, item 9): a cover or a thumbnail track beside the film, as
phones, editors and tag tools write them, is never read as the film, whatever its flag, codec or place.

The class, generated with the kit's own ffmpeg: every container of the MP4 family and Matroska (.mp4, .mov, .mkv,
.m4v) x the picture's codec (MJPEG, PNG) x its place (before the film, after it) x flagged as an attached picture or
not x one picture or a track of three (timed thumbnails): 64 files, each the same 24-frame film beside a picture
stream (CLASS). Beside them (VARIANTS): a track of H.264 thumbnails first, a QuickTime timecode (a data stream) beside
a cover, and the two containers read through the kit's lossless copy (.avi, .ts). Each is read by discovery: its film
is the film's 24 frames, pixel for pixel (the film's own sha256, by hand), and the other stream is named.

Then every command that reads such a file maps that one stream (its looks, caught as they run; a corpus step's jobs,
from its log: the encodes, libvmaf, the independent check, the consumer's samples), and its teacher rows equal
libvmaf run by hand on the film stream alone (frame counts and VMAF, frame by frame). Two streams that could each be
the film (a stereo pair, a proxy) are decided and said, with a fix that reads the other: run here as printed.

Tiny clips (160x96, 24 frames): about 15 s of CPU in all on this box (the by-hand and corpus runs most of it).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import kit.media.looks as looks
from kit.corpus.jobs import Ladder
from kit.infra.proc import run_process
from kit.media.cache import Sha256Cache
from kit.media.discovery import discover
from kit.media.refs import Clip
from kit.media.streams import input_streams
from tests import pace
from tests.conftest import ROOT, run_kit
from tests.real.test_commands_as_printed import kit_env
from tests.real.test_dropped_streams import meta_first
from tests.real.test_teacher_truth import CQ, kit_rows, plane_bytes, vmaf_by_hand

SIZE, FILM_FRAMES = (160, 96), 24
CONTAINERS = (".mp4", ".mov", ".mkv", ".m4v")
PICTURES = ("mjpeg", "png")
PLACES = ("first", "second")


@dataclass(frozen=True)
class Case:
    container: str
    picture: str  # the picture stream's codec
    place: str  # where it lies: before the film or after it
    flagged: bool  # `-disposition attached_pic`
    frames: int  # 1: a cover; 3: a track of timed thumbnails

    @property
    def name(self) -> str:
        flag = "flagged" if self.flagged else "plain"
        return f"{self.container[1:]}_{self.picture}_{self.place}_{flag}_{self.frames}{self.container}"


CLASS = [Case(*c) for c in itertools.product(CONTAINERS, PICTURES, PLACES, (False, True), (1, 3))]


def ffmpeg_run(ffmpeg: str, *args: str | int | Path) -> None:
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", *map(str, args)], check=True)


def listed(ffmpeg: str, path: Path) -> str:
    return subprocess.run([ffmpeg, "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True,
                          text=True).stderr


def mux(ffmpeg: str, dest: Path, first: Path, second: Path, *options: str) -> Path:
    ffmpeg_run(ffmpeg, "-i", first, "-i", second, "-map", "0", "-map", "1", "-c", "copy", *options, dest)
    return dest


def make_case(ffmpeg: str, sources: Path, folder: Path, case: Case) -> Path:
    picture, film = sources / f"{case.picture}_{case.frames}.mkv", sources / "film.mp4"
    k = 0 if case.place == "first" else 1
    flags = ("-disposition:v:0", "0", "-disposition:v:1", "0",
             f"-disposition:v:{k}", "attached_pic" if case.flagged else "0", f"-disposition:v:{1 - k}", "default")
    muxer = ("-f", "mp4") if case.container == ".m4v" else ()  # the ipod muxer .m4v names takes no MJPEG or PNG
    inputs = (picture, film) if case.place == "first" else (film, picture)
    dest = folder / case.name
    if case.flagged and case.place == "first" and case.container in (".mp4", ".m4v"):
        # their muxer writes a flagged picture as the moov's `covr`, which ffmpeg lists after the tracks: moved first,
        # as other muxers write it (tests/real/test_dropped_streams.py)
        made = mux(ffmpeg, folder / f"after-{case.name}", *inputs, *flags, *muxer)
        meta_first(made, dest)
        made.unlink()
        return dest
    return mux(ffmpeg, dest, *inputs, *flags, *muxer)


def kept_as(case: Case) -> str:
    """What the container keeps of the picture stream: `flagged` (an attached picture), `track` (a video track of
    its own, its flag dropped: Matroska), or `dropped` (QuickTime's muxer writes no attached picture)."""
    if not case.flagged:
        return "track"
    return {".mov": "dropped", ".mkv": "track"}.get(case.container, "flagged")


@pytest.fixture(scope="module")
def made(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the sources: the film alone, the picture streams, a second film; the folder of the class and its variants)."""
    sources, folder = tmp_path_factory.mktemp("sources"), tmp_path_factory.mktemp("class")
    ffmpeg_run(ffmpeg, "-f", "lavfi", "-i", f"mandelbrot=s={SIZE[0]}x{SIZE[1]}:r=24", "-frames:v", FILM_FRAMES,
               "-c:v", "libx264", "-pix_fmt", "yuv420p", sources / "film.mp4")
    ffmpeg_run(ffmpeg, "-f", "lavfi", "-i", f"testsrc2=s={SIZE[0]}x{SIZE[1]}:r=24", "-frames:v", FILM_FRAMES,
               "-c:v", "libx264", "-pix_fmt", "yuv420p", sources / "angle.mp4")
    ffmpeg_run(ffmpeg, "-f", "lavfi", "-i", "testsrc2=s=80x48:r=24", "-frames:v", FILM_FRAMES, "-c:v", "libx264",
               "-pix_fmt", "yuv420p", sources / "proxy.mp4")
    ffmpeg_run(ffmpeg, "-f", "lavfi", "-i", "mandelbrot=s=48x32:r=1", "-frames:v", "2", "-c:v", "libx264",
               "-pix_fmt", "yuv420p", sources / "thumbs.mp4")
    for codec, n in itertools.product(PICTURES, (1, 3)):
        ffmpeg_run(ffmpeg, "-f", "lavfi", "-i", "testsrc2=s=64x64:r=3", "-frames:v", n, "-c:v", codec,
                   sources / f"{codec}_{n}.mkv")
    for case in CLASS:
        make_case(ffmpeg, sources, folder, case)
    film = sources / "film.mp4"
    mux(ffmpeg, folder / "thumbs_first.mp4", sources / "thumbs.mp4", film)
    mux(ffmpeg, folder / "cover_timecode.mov", sources / "mjpeg_1.mkv", film, "-timecode", "01:00:00:00")
    mux(ffmpeg, folder / "cover_first.avi", sources / "mjpeg_1.mkv", film)  # read through the lossless copy
    mux(ffmpeg, folder / "thumbs_first.ts", sources / "thumbs.mp4", film)  # read through the lossless copy
    return sources, folder


# the variants beside the class: (the film's place, what the other stream is said as)
VARIANTS = {"thumbs_first.mp4": (1, "#0:0 (2 frames, h264 48x32)"),
            "cover_timecode.mov": (1, "#0:0 (1 frame, mjpeg 64x64)"),
            "cover_first.avi": (1, "#0:0 (1 frame, mjpeg 64x64)"),
            "thumbs_first.ts": (1, "#0:0 (2 frames, h264 48x32)")}


def pixels_by_hand(ffmpeg: str, path: Path, place: int) -> str:
    """The sha256 of every decoded picture of the file's video stream `place`, as the kit hashes its film's."""
    res = subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-i", str(path), "-map", f"0:v:{place}",
                          "-c:v", "rawvideo", "-f", "hash", "-hash", "sha256", "-"], capture_output=True, text=True,
                         check=True)
    return res.stdout.strip().removeprefix("SHA256=")


@pytest.fixture(scope="module")
def cache() -> Sha256Cache:
    return Sha256Cache(None)  # held in memory: each master's decode, read once by discovery


@pytest.fixture(scope="module")
def read(made: tuple[Path, Path], ffmpeg: str, cache: Sha256Cache) -> dict[str, Clip]:
    _, folder = made
    return {Path(c.path).name: c for c in discover(folder, ffmpeg, cache)}


@pytest.fixture(scope="module")
def film_pixels(made: tuple[Path, Path], ffmpeg: str) -> str:
    return pixels_by_hand(ffmpeg, made[0] / "film.mp4", 0)


def expected(case: Case, listing: str) -> tuple[int, str | None, str]:
    """(the film's place, how the picture stream is named in the note, None where the file holds the film alone, and
    the film as the note says it)."""
    video = [s for s in input_streams(listing) if s.kind == "Video"]
    if kept_as(case) == "dropped":
        assert len(video) == 1, listing
        return 0, None, ""
    assert len(video) == 2, listing
    k = 0 if case.place == "first" else 1
    assert video[k].codec == case.picture and ("(attached pic)" in video[k].detail) == (kept_as(case) == "flagged")
    film = video[1 - k].index
    if kept_as(case) == "flagged":  # the one stream that could be the film: nothing counted
        return 1 - k, f"#0:{video[k].index} (a still picture)", f"(#0:{film}) is encoded and scored"
    plural = "s" if case.frames > 1 else ""
    return (1 - k, f"#0:{video[k].index} ({case.frames} frame{plural}, {case.picture} 64x64)",
            f"only the film (#0:{film}, {FILM_FRAMES} frames) is encoded and scored")


@pytest.mark.parametrize("case", CLASS, ids=lambda c: c.name)
def test_the_film_beside_a_picture_stream_is_read_and_the_picture_named(made: tuple[Path, Path], ffmpeg: str,
                                                                        read: dict[str, Clip], cache: Sha256Cache,
                                                                        film_pixels: str, case: Case) -> None:
    _, folder = made
    place, named, film_said = expected(case, listed(ffmpeg, folder / case.name))
    clip = read[case.name]
    assert (clip.n_frames, clip.width, clip.height, clip.film.place) == (FILM_FRAMES, *SIZE, place), clip
    assert cache.master_decode(folder / case.name, ffmpeg).identity.pixels_sha256 == film_pixels
    if named is None:
        assert clip.dropped == ()
        return
    (note,) = [d for d in clip.dropped if "more video stream" in d]
    assert named in note and note.endswith(film_said), note


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_a_thumbnail_track_a_data_track_and_a_copied_container_keep_the_film(
        made: tuple[Path, Path], ffmpeg: str, read: dict[str, Clip], cache: Sha256Cache, film_pixels: str,
        name: str) -> None:
    _, folder = made
    place, named = VARIANTS[name]
    clip = read[name]
    assert (clip.n_frames, clip.width, clip.height, clip.film.place) == (FILM_FRAMES, *SIZE, place), clip
    assert bool(clip.read_path) == (Path(name).suffix in (".avi", ".ts"))  # the copy holds the film alone
    decoded = cache.intermediate(folder / name, ffmpeg).decoded if clip.read_path else \
        cache.master_decode(folder / name, ffmpeg)
    assert decoded.identity.pixels_sha256 == film_pixels
    (note,) = [d for d in clip.dropped if "more video stream" in d]
    assert named in note and "only the film (#0:1, 24 frames)" in note, note


# -- every command that reads it maps the film ----------------------------------------------------------------------
MAPS = re.compile(r"(?:-map\s+'?|\[)(\d+:v(?::\d+)?)")


def film_maps(argv: list[str], path: str) -> set[str]:
    """The video streams a command maps of the input `path` (its -map values and filtergraph labels of that input)."""
    words = list(argv)
    if path not in words:
        return set()
    index = [w for k, w in enumerate(words) if k and words[k - 1] == "-i"].index(path)
    line = " ".join(words)
    return {m for m in MAPS.findall(line) if m.split(":")[0] == str(index)}


@pytest.mark.parametrize("name", ["mp4_mjpeg_first_plain_1.mp4", "thumbs_first.ts"])
def test_every_look_reads_the_one_film_stream(made: tuple[Path, Path], ffmpeg: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Each look discovery takes (its open, its count, its strict decode, the headers traced, the lossless copy and
    its check): none but the open and the count reads another stream than the film's."""
    _, folder = made
    refs = tmp_path / "refs"
    refs.mkdir()
    (refs / name).symlink_to(folder / name)
    seen: list[list[str]] = []

    def spy(argv: list[str], **kwargs: object) -> object:
        seen.append([str(a) for a in argv])
        return run_process(argv, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(looks, "run_process", spy)
    from kit.media.discovery import LOW_BITS_PER_PIXEL, bits_per_pixel

    (clip,) = discover(refs, ffmpeg, Sha256Cache(None))
    path = str(refs / name)
    mapped = [film_maps(argv, path) for argv in seen if path in argv]
    opened, counted, *rest = mapped
    assert opened == set() and counted == {"0:v"}, mapped  # the open and the count of every video stream
    assert rest and all(m == {"0:v:1"} for m in rest), mapped
    copy = clip.read_path  # the .ts's: its strict decode writes it, then it is checked, read alone
    checked = [a for a in seen if path not in a and str(Path(copy).parent) in " ".join(a)] if copy else []
    assert bool(copy) == name.endswith(".ts") and [film_maps(a, a[a.index("-i") + 1]) for a in checked] == \
        ([{"0:v:0"}] if copy else []), checked
    traced = bits_per_pixel(clip) < LOW_BITS_PER_PIXEL  # its first picture's headers read too
    # each of them once, or again where a look is taken again (a busy box's: kit.media.looks.LOOK_TRIES)
    assert len(rest) >= 1 + traced, mapped


@pytest.mark.parametrize("name", ["mp4_mjpeg_first_plain_1.mp4", "thumbs_first.ts"])
def test_every_job_command_reads_the_one_film_stream(made: tuple[Path, Path], tmp_path: Path, name: str) -> None:
    """A real corpus step with the consumer's samples encoded: each command of its log that reads the file (the
    shared decode into the encodes, libvmaf's reference, the independent check, the samples' encodes and scores) maps
    the film's stream; the file's lossless copy (.ts) holds the film alone."""
    _, folder = made
    refs = tmp_path / "refs"
    refs.mkdir()
    (refs / name).symlink_to(folder / name)
    out = tmp_path / "out"
    res = run_kit("run", "--ref-dir", refs, "--out-dir", out, "--encoders", "libx264", "--cqs", "31", "--scales",
                  "native", "--consumer-window", "0.2", "--consumer-samplings", "encoded")
    assert res.returncode == 1 and "corpus only: 1 distinct content(s)" in res.stdout, res.stdout + res.stderr
    commands = [shlex.split(line.split(" $ ", 1)[1]) for line in
                (out / "02_corpus" / "logs" / "corpus.log").read_text().splitlines() if " $ " in line]
    path = str((folder / name).resolve())  # a clip is named resolved
    own = [film_maps(argv, path) for argv in commands if path in argv]
    copied = [(argv, film_maps(argv, copy)) for argv in commands for copy in argv if copy.endswith(".nut")
              and "intermediates" in copy]
    assert own and all(m and {ref.split(":", 1)[1] for ref in m} == {"v:1"} for m in own), own
    # the copy holds the film alone: its first video stream, however it is labelled
    assert all({ref.split(":", 1)[1] for ref in m} <= {"v", "v:0"} for _, m in copied), copied
    assert bool(copied) == name.endswith(".ts")
    scored = [argv for argv in commands if path in argv and "libvmaf" in " ".join(argv)]
    assert scored, "the independent check reads the file itself"
    sampled = [argv for argv in commands if "split=4" in " ".join(argv)]  # the consumer's four samplings
    assert len(sampled) == 2 and all(path in a or any(".nut" in w for w in a) for a in sampled), sampled


# -- the teacher against libvmaf by hand, on the film stream alone -------------------------------------------------
def test_the_teacher_scores_the_film_as_libvmaf_by_hand_on_that_stream_alone(made: tuple[Path, Path], ffmpeg: str,
                                                                           read: dict[str, Clip],
                                                                           tmp_path: Path) -> None:
    """The kit's rows (its shared decode and without it, its independent check on one job each) against libvmaf run
    by hand: the film stream alone decoded to raw frames, the kit's encode made again by hand from that stream, and
    libvmaf on the two raw files: as many frames, the same bytes encoded, the same VMAF at every frame (0.01)."""
    names = ("mp4_mjpeg_first_plain_1.mp4", "mkv_png_first_plain_3.mkv", "m4v_mjpeg_first_flagged_1.m4v",
             "thumbs_first.ts")
    clips = [read[n] for n in names]
    shared = kit_rows(ffmpeg, clips, tmp_path / "shared", True, Ladder())
    own = kit_rows(ffmpeg, clips, tmp_path / "own", False, Ladder())
    assert len(shared) == len(names)
    for job_id, got in shared.items():
        clip: Clip = got["clip"]
        work = tmp_path / job_id
        work.mkdir()
        stream = ["-i", clip.path, "-map", f"0:v:{clip.film.place}", "-fps_mode", "passthrough"]
        ref = work / "ref.raw"
        subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", *stream, "-pix_fmt", "yuv420p", "-f",
                        "rawvideo", str(ref)], check=True)
        assert ref.stat().st_size // plane_bytes(SIZE, "yuv420p") == FILM_FRAMES == clip.n_frames
        enc = work / "enc.h264"
        subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", *stream, "-an", "-pix_fmt", "yuv420p", "-c:v",
                        "libx264", "-preset", "medium", "-crf", str(CQ), "-threads", "1", "-f", "h264", str(enc)],
                       check=True)
        dis = work / "dis.raw"
        subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-i", str(enc), "-fps_mode", "passthrough",
                        "-pix_fmt", "yuv420p", "-f", "rawvideo", str(dis)], check=True)
        hand = np.array(vmaf_by_hand(ffmpeg, dis, ref, SIZE, "yuv420p", work / "vmaf.json"))
        vmaf = np.array(got["rows"]["vmaf"])
        assert len(vmaf) == len(hand) == FILM_FRAMES, (clip.src, len(vmaf), len(hand))
        assert np.max(np.abs(vmaf - hand)) <= 0.01, clip.src
        assert np.max(np.abs(vmaf - np.array(own[job_id]["rows"]["vmaf"]))) <= 0.01, clip.src
        assert got["rows"]["enc_bytes"][0] == enc.stat().st_size, clip.src  # the kit's encode: the film's
        check = got["ledger"].oracle
        assert check is not None and check.passed and check.max_diff <= 0.01, (clip.src, check)
        assert json.loads((work / "vmaf.json").read_text())["frames"], clip.src


# -- two streams that could each be the film: decided, said, and the other read as printed ---------------------------
@pytest.mark.parametrize(("other", "why"), [("angle.mp4", "the first of them"),
                                            ("proxy.mp4", "the one of the larger picture")])
def test_two_streams_that_could_each_be_the_film_are_said_and_the_other_read_as_printed(
        made: tuple[Path, Path], ffmpeg: str, tmp_path: Path, other: str, why: str) -> None:
    sources, _ = made
    refs = tmp_path / "refs"
    refs.mkdir()
    first, second = (sources / other, sources / "film.mp4") if other == "proxy.mp4" else \
        (sources / "film.mp4", sources / other)
    pair = mux(ffmpeg, refs / "pair.mkv", first, second)
    notes: list[str] = []
    (clip,) = discover(refs, ffmpeg, Sha256Cache(None), note=notes.append)
    read_place = 1 if other == "proxy.mp4" else 0
    rival = 1 - read_place
    assert (clip.film.place, clip.film.rivals, clip.n_frames) == (read_place, (rival,), FILM_FRAMES), clip
    said = [n for n in notes if "could each be the film" in n]
    assert len(said) == 1 and said[0].endswith(f"the kit reads #0:{read_place}, {why}"), notes
    (fix,) = [n for n in notes if "as the film instead" in n]
    assert f"0:v:{rival}" in fix
    command = fix.split("with the kit's ffmpeg: ", 1)[1].split("; then put", 1)[0]
    done = pace.run(shlex.split(command), timeout=300, cwd=ROOT, env=kit_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    (alone,) = [p for p in refs.iterdir() if p.name != "pair.mkv"]
    pair.rename(tmp_path / "pair.mkv")  # put in its place, as the fix says
    (then,) = discover(refs, ffmpeg, Sha256Cache(None))
    assert Sha256Cache(None).master_decode(alone, ffmpeg).identity.pixels_sha256 == \
        pixels_by_hand(ffmpeg, tmp_path / "pair.mkv", rival)  # the other stream, whole
    assert then.film.rivals == () and then.path == str(alone.resolve())
    assert hashlib.sha256(alone.read_bytes()).hexdigest() == then.sha256
