"""The generated test clips are the same bytes in every session: a test's outcome never rests on a random draw."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.conftest import TINY_SOURCES, render


@pytest.mark.parametrize("name", sorted(TINY_SOURCES))
def test_every_fixture_clip_renders_to_the_same_bytes_twice(name: str, ffmpeg: str, tmp_path: Path) -> None:
    digests = {hashlib.sha256(render(ffmpeg, TINY_SOURCES[name], tmp_path / f"{i}.y4m").read_bytes()).hexdigest()
               for i in range(2)}
    assert len(digests) == 1, f"{name}: {TINY_SOURCES[name]!r} renders differently each time; fix its seed/colours"


def test_the_check_tells_a_random_source_apart(ffmpeg: str, tmp_path: Path) -> None:
    """A source without a seed (gradients picks random colours) is caught by the comparison above."""
    lavfi = "gradients=s=64x64:r=25"
    digests = {hashlib.sha256(render(ffmpeg, lavfi, tmp_path / f"{i}.y4m", frames=2).read_bytes()).hexdigest()
               for i in range(3)}
    assert len(digests) > 1
