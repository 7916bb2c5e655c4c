"""The embedded demo set renders the same bytes every time (fixed seeds)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from kit.media.demo import DEMO_CLIPS, render


def test_demo_clips_are_deterministic_and_distinct(ffmpeg: str, tmp_path: Path) -> None:
    assert len(DEMO_CLIPS) >= 8
    digests = []
    for clip in DEMO_CLIPS:
        a = render(clip, tmp_path / "a" / f"{clip.name}.y4m", ffmpeg, 160, 96, 0.4)
        b = render(clip, tmp_path / "b" / f"{clip.name}.y4m", ffmpeg, 160, 96, 0.4)
        assert a.read_bytes() == b.read_bytes(), clip.name
        digests.append(hashlib.sha256(a.read_bytes()).hexdigest())
    assert len(set(digests)) == len(DEMO_CLIPS)
