"""A reference that is itself heavily compressed is said at discovery (a 14 kb/s clip passed without a word)."""

from __future__ import annotations

from pathlib import Path

from kit.infra.tree import Tree
from kit.media.cache import Sha256Cache
from kit.media.discovery import LOW_BITS_PER_PIXEL, discover
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
