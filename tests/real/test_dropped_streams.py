"""What the corpus does not keep of a master gets one note line each (issue 40, item 6): an alpha channel, a second
video stream, HDR tags. Tiny masters made by the kit's own ffmpeg; read by discovery (as the corpus step does,
from the cache too) and through the real CLI, where the note is an event of the corpus step and a line of its log."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest

from kit.infra.tree import Tree
from kit.media.cache import Sha256Cache
from kit.media.discovery import discover
from kit.media.looks import stream_copy_command
from kit.media.streams import choose_film, dropped, input_streams, no_video
from tests.conftest import run_kit

SIZE = "s=176x144:r=25"
# PQ transfer and BT.2020 tags on the frames, mastering display and light level in x265's bitstream
HDR = ("-vf", "setparams=color_trc=smpte2084:color_primaries=bt2020:colorspace=bt2020nc,format=yuv420p10le",
       "-c:v", "libx265", "-x265-params",
       "log-level=error:master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1):"
       "max-cll=1000,400")


def make(ffmpeg: str, dest: Path, *args: str) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", *args, "-frames:v", "8", str(dest)],
                   check=True)
    return dest


def alpha(ffmpeg: str, dest: Path) -> Path:
    return make(ffmpeg, dest, "-f", "lavfi", "-i", f"mandelbrot={SIZE}", "-vf", "format=yuva420p", "-c:v", "ffv1")


def two_streams(ffmpeg: str, dest: Path) -> Path:
    return make(ffmpeg, dest, "-f", "lavfi", "-i", f"testsrc2={SIZE}", "-f", "lavfi", "-i", f"rgbtestsrc={SIZE}",
                "-map", "0", "-map", "1", "-c:v", "ffv1")


def hdr(ffmpeg: str, dest: Path) -> Path:
    return make(ffmpeg, dest, "-f", "lavfi", "-i", f"smptebars={SIZE}", *HDR)


def plain(ffmpeg: str, dest: Path) -> Path:
    """A video with a sound track: the sound is not worth a note."""
    return make(ffmpeg, dest, "-f", "lavfi", "-i", f"gradients={SIZE}:seed=2", "-f", "lavfi", "-i", "sine=d=1",
                "-pix_fmt", "yuv420p", "-c:v", "ffv1", "-c:a", "flac", "-shortest")


@pytest.fixture(scope="module")
def masters(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("masters")
    alpha(ffmpeg, folder / "alpha.mkv")
    two_streams(ffmpeg, folder / "two.mkv")
    hdr(ffmpeg, folder / "hdr.mkv")
    plain(ffmpeg, folder / "plain.mkv")
    return folder


EXPECTED = {
    "alpha.mkv": ["its alpha channel (yuva420p) is dropped: the encodes and their scores see the colour planes only"],
    # two real films of 8 frames each: the first read, the other named, with how to read it instead
    "two.mkv": ["1 more video stream(s) (#0:1 (8 frames, ffv1 176x144)) not used: only the film (#0:0, 8 frames) is "
                "encoded and scored",
                "#0:0 and #0:1 could each be the film (8 frames of 176x144, 8 frames of 176x144): the kit reads #0:0, "
                "the first of them"],
    "hdr.mkv": ["its HDR tags (transfer smpte2084, mastering display metadata, content light level metadata) are "
                "not kept: the corpus has no column for them, and vmaf_v0.6.1 scores the pictures as SDR"],
    "plain.mkv": [],
}


def test_each_thing_dropped_is_one_note_of_discovery_also_from_the_cache(masters: Path, ffmpeg: str,
                                                                         tmp_path: Path) -> None:
    for attempt, tool in enumerate((ffmpeg, str(tmp_path / "no-such-ffmpeg"))):  # the second: all from the cache
        notes: list[str] = []
        clips = discover(masters, tool, Sha256Cache(Tree.open(tmp_path), tmp_path / "sha256.json"), note=notes.append)
        assert sorted(c.src for c in clips) == ["alpha", "hdr", "plain", "two"], attempt
        expected = [f"{masters / name}: {line}" for name, lines in EXPECTED.items() for line in lines]
        other = stream_copy_command(masters / "two.mkv", 1)
        expected.append(f"{masters / 'two.mkv'}: to read its video stream 0:v:1 as the film instead, copy it alone, "
                        f"as it is, with the kit's ffmpeg: {other}; then put that file in --ref-dir in this one's "
                        "place")
        assert sorted(notes) == sorted(expected), attempt


def test_the_notes_come_from_ffmpeg_s_stream_list(masters: Path, ffmpeg: str) -> None:
    res = subprocess.run([ffmpeg, "-hide_banner", "-nostdin", "-i", str(masters / "two.mkv"), "-map", "0:v:0",
                          "-f", "null", "-"], capture_output=True, text=True)
    assert [(s.index, s.kind, s.picture) for s in input_streams(res.stderr)] == [(0, "Video", True),
                                                                                (1, "Video", True)]
    assert no_video(res.stderr) is None and len(dropped(res.stderr, choose_film(res.stderr, (8, 8)))) == 2


def test_the_corpus_step_says_each_note_and_logs_it(masters: Path, tmp_path: Path) -> None:
    refs = tmp_path / "refs"
    refs.mkdir()
    for name in ("alpha.mkv", "two.mkv"):  # two sources: a corpus for the lead, no verdict (issue 98: exit 1)
        (refs / name).symlink_to(masters / name)
    out = tmp_path / "out"
    res = run_kit("run", "--ref-dir", refs, "--out-dir", out, "--encoders", "libx264", "--cqs", "31", "--scales",
                  "native")
    assert res.returncode == 1 and "corpus only: 2 distinct content(s)" in res.stdout, res.stdout + res.stderr
    said = [ln for ln in (res.stdout + res.stderr).splitlines()
            if ln.startswith("[02 corpus]") and ("alpha channel" in ln or "more video stream" in ln)]
    assert len(said) == 2, res.stdout + res.stderr
    log = (out / "02_corpus" / "logs" / "corpus.log").read_text()
    assert f"{masters / 'alpha.mkv'}: its alpha channel (yuva420p) is dropped" in log  # a clip is named resolved
    assert f"{masters / 'two.mkv'}: 1 more video stream(s) (#0:1 (8 frames, ffv1 176x144)) not used" in log
    sent = (out / "02_corpus" / "logs" / "sent-v4" / "corpus.log").read_text()  # the fix's paths as the lead sees them
    assert "to read its video stream 0:v:1 as the film instead" in sent and str(masters) not in sent, sent


# -- a cover picture before the film (issue 98, item 9) ----------------------------------------------------------
def meta_first(source: Path, dest: Path) -> Path:
    """`source` (an MP4 family file) with its moov's user data (udta, where a cover's `covr` lies) moved before its
    tracks, as other muxers than ffmpeg's write it: ffmpeg then lists the cover as stream #0:0, the film after it.
    The mdat is not moved, so every chunk offset stays true."""
    data = source.read_bytes()

    def atoms(start: int, end: int) -> list[tuple[bytes, int, int]]:
        found, at = [], start
        while at < end:
            size, kind = struct.unpack(">I4s", data[at:at + 8])
            found.append((kind, at, at + size))
            at += size
        return found

    out = bytearray()
    for kind, a, b in atoms(0, len(data)):
        if kind != b"moov":
            out += data[a:b]
            continue
        kids = atoms(a + 8, b)
        order = [k for k in kids if k[0] == b"mvhd"] + [k for k in kids if k[0] == b"udta"] + \
            [k for k in kids if k[0] not in (b"mvhd", b"udta")]
        out += data[a:a + 8] + b"".join(data[x:y] for _, x, y in order)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(bytes(out))
    return dest


# the containers of the MP4 family ffmpeg reads a `covr` from, the cover's codecs, the film's (lossless: its first
# picture's headers are what the kit traces)
COVER_FIRST = [(suffix, cover, film) for suffix in (".mp4", ".m4v") for cover in ("mjpeg", "png")
               for film in ("libx264", "lossless")]


@pytest.mark.parametrize(("suffix", "cover", "film"), COVER_FIRST)
def test_a_cover_before_the_film_is_passed_over_and_named(ffmpeg: str, tmp_path: Path, suffix: str, cover: str,
                                                          film: str) -> None:
    """The film read (its 24 frames, its size, its headers traced for a lossless coding), the cover named as not
    used, and a fix printed for the file maps the film, never the cover."""
    from kit.media.decode import lossless_coding, unreadable_hint

    still = tmp_path / f"cover.{'jpg' if cover == 'mjpeg' else 'png'}"
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=s=64x64", "-c:v",
                    cover, "-frames:v", "1", "-update", "1", str(still)], check=True)
    codec = ["-c:v", "libx264", "-qp", "0"] if film == "lossless" else ["-c:v", "libx264"]
    movie = make(ffmpeg, tmp_path / f"film{suffix}", "-f", "lavfi", "-i", "mandelbrot=s=160x96:r=24", *codec,
                 "-pix_fmt", "yuv420p")
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-i", str(still), "-i", str(movie), "-map", "0",
                    "-map", "1", "-c", "copy", "-disposition:v:0", "attached_pic", str(tmp_path / f"after{suffix}")],
                   check=True)
    path = meta_first(tmp_path / f"after{suffix}", tmp_path / "refs" / f"covered{suffix}")
    opened = subprocess.run([ffmpeg, "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    streams = input_streams(opened)
    assert [(s.index, s.picture) for s in streams] == [(0, False), (1, True)], opened  # the cover first, as meant
    (clip,) = discover(path.parent, ffmpeg, Sha256Cache(None))
    assert (clip.n_frames, clip.width, clip.height, clip.film.place) == (8, 160, 96, 1), clip
    assert clip.dropped == ("1 more video stream(s) (#0:0 (a still picture)) not used: only the video stream of "
                            "moving pictures (#0:1) is encoded and scored",), clip.dropped
    assert "-map 0:v:1 " in unreadable_hint(path, opened, clip.film)
    if film == "lossless":  # the film's first picture traced, not the cover's
        assert lossless_coding(path, ffmpeg, clip.film) == "H.264 at QP 0 with its transform bypassed (lossless)"
