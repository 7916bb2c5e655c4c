"""A reference that is itself heavily compressed is said at discovery (a 14 kb/s clip passed without a word)."""

from __future__ import annotations

from pathlib import Path

from kit.infra.tree import Tree
from kit.media.cache import Sha256Cache
from kit.media.discovery import LOW_BITS_PER_PIXEL, bits_per_pixel, discover
from tests.conftest import render


def test_a_master_of_very_low_bitrate_is_warned_of_and_a_good_one_is_not(ffmpeg: str, tmp_path: Path) -> None:
    refs = tmp_path / "refs"
    lavfi = "testsrc2=s=352x288:r=25"
    render(ffmpeg, lavfi, refs / "starved.mp4", frames=50, fmt="mp4",
           extra=("-c:v", "libx264", "-b:v", "14k", "-maxrate", "14k", "-bufsize", "28k"))
    render(ffmpeg, lavfi, refs / "fine.mp4", frames=50, fmt="mp4", extra=("-c:v", "libx264", "-crf", "14"))
    render(ffmpeg, lavfi, refs / "raw.y4m", frames=50)
    said: list[str] = []
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    with Tree.open(cache_dir) as tree:
        clips = discover(refs, ffmpeg, Sha256Cache(tree, cache_dir / "sha256.json"), note=said.append)
    assert sorted(c.src for c in clips) == ["fine", "raw", "starved"]  # warned of, not refused
    warned = [line for line in said if line.startswith("warning: ")]
    assert len(warned) == 1 and str(refs / "starved.mp4") in warned[0], said
    assert "kb/s" in warned[0] and f"under {LOW_BITS_PER_PIXEL}" in warned[0]


def test_a_lossless_master_of_a_low_bitrate_is_not_called_compressed(ffmpeg: str, tmp_path: Path) -> None:
    """A still picture coded losslessly is small: x264 at -qp 0 (0.005 bits per pixel) and FFV1 of a flat picture
    (0.023) were warned of as heavily compressed references. Now a master under the floor is looked at once more (its
    first picture's headers): one coded losslessly is not warned of, and a lossy one of the same size still is."""
    refs = tmp_path / "refs"
    bars, flat = "smptebars=s=352x288:r=25", "color=c=gray:s=640x360:r=25"
    render(ffmpeg, bars, refs / "bars_qp0.mp4", frames=50, fmt="mp4", extra=("-c:v", "libx264", "-qp", "0"))
    render(ffmpeg, flat, refs / "flat_ffv1.mkv", frames=10, fmt="matroska", extra=("-c:v", "ffv1"))
    render(ffmpeg, bars, refs / "bars_crf30.mp4", frames=50, fmt="mp4", extra=("-c:v", "libx264", "-crf", "30"))
    said: list[str] = []
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    with Tree.open(cache_dir) as tree:
        clips = {c.src: c for c in discover(refs, ffmpeg, Sha256Cache(tree, cache_dir / "sha256.json"),
                                            note=said.append)}
    assert all(bits_per_pixel(c) < LOW_BITS_PER_PIXEL for c in clips.values()), clips  # each under the floor
    assert clips["bars_qp0"].lossless == "H.264 at QP 0 with its transform bypassed (lossless)"
    assert clips["flat_ffv1"].lossless == "ffv1, a lossless codec"
    assert clips["bars_crf30"].lossless == ""
    warned = [line for line in said if line.startswith("warning: ")]
    assert len(warned) == 1 and str(refs / "bars_crf30.mp4") in warned[0], said
