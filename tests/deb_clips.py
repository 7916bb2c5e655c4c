"""Real public clips nobody here made: files of Debian packages (opencv-doc, python3-imageio, python3-mecavideo,
kphotoalbum), extracted under /tmp/debs/x, copied and cut short for speed. A test that needs one skips, naming the
file and the reason, where it is absent. (The real tier's hash-pinned fetcher is to replace where they come from.)"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

DEBS = Path(os.environ.get("KIT_TEST_DEBS", "/tmp/debs/x"))
# each clip by the name the tests give it: its file in the extracted packages, and what it is
CLIPS = {
    # kphotoalbum's demo movie: an MJPEG camera clip at 15 fps that repeats each picture three times (motion2 runs
    # 0, 0, x per picture), 160x120, 68 frames
    "movie": "usr/share/kphotoalbum/demo/movie.avi",
    "force": "usr/share/pymecavideo/data/video/Force_constante.avi",  # MPEG-4 ASP, 400x300, 25 fps, 26 frames
    "realshort": "usr/lib/python3/dist-packages/imageio/resources/images/realshort.mp4",  # H.264, 320x240, 36 frames
    "tree": "usr/share/doc/opencv-doc/examples/data/tree.avi",  # Cinepak, 320x240 rgb24, 15 fps, 444 frames
    "megamind": "usr/share/doc/opencv-doc/examples/data/Megamind.avi",  # MPEG-4 ASP, 720x528, 23.976 fps
}


def source(name: str) -> Path:
    """The Debian file of clip `name`; the test skips, naming it, where it is absent."""
    path = DEBS / CLIPS[name]
    if not path.is_file():
        pytest.skip(f"the real clip {path} is absent (python3-mecavideo, python3-imageio, opencv-doc and kphotoalbum "
                    f"extracted under {DEBS}, or KIT_TEST_DEBS)")
    return path


def cut(ffmpeg: str, name: str, dest: Path, frames: int, vf: str = "") -> Path:
    """The first `frames` pictures of clip `name` as a 4:2:0 .y4m at its own size and rate (`vf`: a filter first)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-i", str(source(name)), "-map", "0:v:0",
                    *(["-vf", vf] if vf else []), "-frames:v", str(frames), "-pix_fmt", "yuv420p", "-f",
                    "yuv4mpegpipe", str(dest)], check=True, timeout=120)
    return dest
