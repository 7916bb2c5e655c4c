"""Reference clips: names, geometry, probing real files."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.errors import InputError
from kit.infra.tree import Tree
from kit.media.cache import Sha256Cache
from kit.media.discovery import discover, probe_clip
from kit.media.refs import (
    YuvDefaults,
    frame_bytes,
    parse_fps,
    source_name,
    y4m_geometry,
    yuv_geometry,
)
from tests.conftest import render


@pytest.mark.parametrize(("name", "src"), [
    ("Tennis_1920x1080_24fps.yuv", "Tennis"),
    ("BigBuckBunny_25fps.yuv", "BigBuckBunny"),
    ("clip a_640x360_30fps_10bit_422.yuv", "clip a"),
    ("plain.y4m", "plain"),
    ("Ducks_3840x2160_50fps_yuv420p10le.mkv", "Ducks"),
])
def test_source_name_drops_geometry_tokens(name: str, src: str) -> None:
    assert source_name(Path(name)) == src


def test_parse_fps_is_exact() -> None:
    assert parse_fps("25") == "25/1"
    assert parse_fps("29.97") == "2997/100"
    assert parse_fps("30000/1001") == "30000/1001"
    assert parse_fps("25:1") == "25/1"


def test_yuv_geometry_from_every_naming_form(tmp_path: Path) -> None:
    none = YuvDefaults()
    assert yuv_geometry(Path("A_176x144_25fps.yuv"), none) == (176, 144, "25/1", "yuv420p")
    assert yuv_geometry(Path("A_176x144_50fps_10bit_444.yuv"), none) == (176, 144, "50/1", "yuv444p10le")
    assert yuv_geometry(Path("Netflix_24fps.yuv"), none) == (1920, 1080, "24/1", "yuv420p")
    side = tmp_path / "Side.yuv"
    (tmp_path / "Side.json").write_text('{"width": 320, "height": 240, "fps": "30000/1001", "pix_fmt": "yuv422p"}')
    assert yuv_geometry(side, none) == (320, 240, "30000/1001", "yuv422p")
    with pytest.raises(InputError, match="cannot tell its geometry"):
        yuv_geometry(Path("NoTokens.yuv"), none)
    given = YuvDefaults(640, 360, "50/1")
    assert yuv_geometry(Path("Netflix_24fps.yuv"), given) == (640, 360, "24/1", "yuv420p")
    assert yuv_geometry(Path("Sized_320x240.yuv"), given) == (320, 240, "50/1", "yuv420p")
    assert yuv_geometry(Path("NoTokens.yuv"), given) == (640, 360, "50/1", "yuv420p")
    with pytest.raises(InputError):
        yuv_geometry(Path("Sized_320x240.yuv"), YuvDefaults(640, 360))  # no rate anywhere


def test_frame_bytes() -> None:
    assert frame_bytes(176, 144, "yuv420p") == 38016
    assert frame_bytes(176, 144, "yuv444p10le") == 176 * 144 * 3 * 2
    assert frame_bytes(175, 143, "yuv420p") == 175 * 143 + 2 * 88 * 72


@pytest.mark.parametrize(("pix_fmt", "extra"), [("yuv420p", ()), ("yuv420p10le", ("-strict", "-1")),
                                                ("yuv444p", ()), ("yuv422p", ())])
def test_y4m_header_and_frame_count(ffmpeg: str, tmp_path: Path, pix_fmt: str, extra: tuple[str, ...]) -> None:
    clip = render(ffmpeg, "testsrc2=s=176x144:r=30000/1001", tmp_path / "c.y4m", frames=5, pix_fmt=pix_fmt,
                  extra=extra)
    w, h, fps, pix, n = y4m_geometry(clip)
    assert (w, h, fps, pix, n) == (176, 144, "30000/1001", pix_fmt, 5)


def test_truncated_y4m_is_refused(ffmpeg: str, tmp_path: Path) -> None:
    clip = render(ffmpeg, "testsrc2=s=176x144:r=25", tmp_path / "c.y4m", frames=5)
    clip.write_bytes(clip.read_bytes()[:-100])
    with pytest.raises(InputError, match="truncated y4m"):
        y4m_geometry(clip)


def test_mp4_master_is_probed(ffmpeg: str, tmp_path: Path) -> None:
    master = render(ffmpeg, "testsrc2=s=320x240:r=24", tmp_path / "Master_clip.mp4", frames=12, fmt="mp4",
                    extra=("-c:v", "libx264"))
    clip = probe_clip(master, ffmpeg, Sha256Cache(None))
    assert (clip.src, clip.kind, clip.width, clip.height, clip.fps, clip.n_frames, clip.pix_fmt) == (
        "Master_clip", "master", 320, 240, "24/1", 12, "yuv420p")


def test_not_a_video_is_refused(ffmpeg: str, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.mp4"
    bogus.write_bytes(b"this is not a video at all" * 100)
    with pytest.raises(InputError, match="not a readable video"):
        probe_clip(bogus, ffmpeg, Sha256Cache(None))


def test_sha_cache_reuses_by_path_size_mtime(tmp_path: Path) -> None:
    f = tmp_path / "a.y4m"
    f.write_bytes(b"abc")
    cache = Sha256Cache(Tree.open(tmp_path), tmp_path / "cache.json")
    first = cache.get(f)
    reloaded = Sha256Cache(Tree.open(tmp_path), tmp_path / "cache.json")
    assert reloaded.get(f) == first and len(reloaded._data) == 1
    f.write_bytes(b"abcd")
    assert reloaded.get(f) != first


def test_discover_per_clip_geometry(ffmpeg: str, tmp_path: Path) -> None:
    render(ffmpeg, "testsrc2=s=176x144:r=25", tmp_path / "small.y4m", frames=4)
    render(ffmpeg, "mandelbrot=s=320x180:r=30", tmp_path / "Wide_320x180_30fps.yuv", frames=3, fmt="rawvideo")
    clips = {c.src: c for c in discover(tmp_path, ffmpeg, Sha256Cache(None))}
    assert (clips["small"].width, clips["small"].n_frames) == (176, 4)
    assert (clips["Wide"].width, clips["Wide"].height, clips["Wide"].fps, clips["Wide"].n_frames) == (
        320, 180, "30/1", 3)


def test_a_masters_probe_is_kept_in_the_cache_file(ffmpeg: str, tmp_path: Path) -> None:
    master = render(ffmpeg, "testsrc2=s=320x240:r=24", tmp_path / "Master_clip.mp4", frames=12, fmt="mp4",
                    extra=("-c:v", "libx264"))
    geometry = Sha256Cache(Tree.open(tmp_path), tmp_path / "cache.json").master_decode(master, ffmpeg).geometry
    # read from the file: no ffmpeg is run again
    reloaded = Sha256Cache(Tree.open(tmp_path), tmp_path / "cache.json")
    assert reloaded.master_decode(master, str(tmp_path / "no-such-ffmpeg")).geometry == geometry


@pytest.mark.parametrize("name", ["audio.mp4", "audio.avi", "text.mkv"])
def test_status_reads_a_refusal_the_run_was_given_as_the_run_reads_it(ffmpeg: str, tmp_path: Path,
                                                                      name: str) -> None:
    """A clip its looks refused (a master's decode, an .avi's lossless copy): the run kept the refusal, and `status`
    (a reading cache) leaves the clip out as the run does; it said "not checked: ... not among the clips this kit's
    cache has read" and the corpus step stale, for an out-dir whose rerun was up to date (a hostile tester's
    audio-only .mp4). A clip never looked at is still NotRead."""
    import subprocess

    from kit.media.cache import NotRead

    clip = tmp_path / name
    if name.startswith("audio"):
        subprocess.run([ffmpeg, "-v", "error", "-f", "lavfi", "-i", "sine=d=1", "-c:a", "pcm_s16le" if
                        name.endswith(".avi") else "aac", str(clip)], check=True)
    else:
        clip.write_text("notes, not a video\n" * 50)
    with pytest.raises(InputError) as run_said:
        probe_clip(clip, ffmpeg, Sha256Cache(Tree.open(tmp_path), tmp_path / "cache.json"))
    with pytest.raises(InputError) as status_said:
        probe_clip(clip, ffmpeg, Sha256Cache(Tree.open(tmp_path), tmp_path / "cache.json", reading=True))
    assert not isinstance(status_said.value, NotRead) and status_said.value.message == run_said.value.message
    other = tmp_path / "other.mp4"
    render(ffmpeg, "testsrc2=s=176x144:r=24", other, frames=12, fmt="mp4", extra=("-c:v", "libx264"))
    with pytest.raises(NotRead):
        probe_clip(other, ffmpeg, Sha256Cache(Tree.open(tmp_path), tmp_path / "cache.json", reading=True))
