"""The size-change refusal read from ffmpeg's own lines, as each release writes them (captured text, no ffmpeg run):
a reconfigured size other than the first picture's as its decoder gave it (a turned clip's turned back) refuses the
clip; the same size, a rotation or a cut line does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.errors import InputError
from kit.media.decode import refuse_size_change

INPUT = ("[info]   Stream #0:0: Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive), 320x240 [SAR 1:1 DAR "
         "4:3], 25 fps, 25 tbr, 1k tbn\n")
# fftools/ffmpeg_filter.c: 9.0 adds the alpha mode after the size, 7.x ends the line with it
RECONFIGURED_9 = ("[vf#0:0 @ 0x5650fcdff980] [info] Reconfiguring filter graph because video parameters changed to "
                  "yuv420p(tv, smpte170m), {size}, unspecified alpha\n")
RECONFIGURED_7 = ("[vf#0:0 @ 0x5650fcdff980] Reconfiguring filter graph because video parameters changed to "
                  "yuv420p(tv, unknown), {size}\n")


@pytest.mark.parametrize("line", [RECONFIGURED_9, RECONFIGURED_7], ids=["ffmpeg 9", "ffmpeg 7"])
def test_a_size_change_is_refused_in_each_release_s_words(line: str) -> None:
    with pytest.raises(InputError, match=r"change size mid-stream \(320x240 to 640x480\)"):
        refuse_size_change(Path("joined.mkv"), INPUT + line.format(size="640x480"), (320, 240))


@pytest.mark.parametrize("line", [RECONFIGURED_9, RECONFIGURED_7], ids=["ffmpeg 9", "ffmpeg 7"])
def test_what_is_no_size_change_is_kept(line: str) -> None:
    refuse_size_change(Path("a.mkv"), INPUT + line.format(size="320x240"), (320, 240))  # colour alone changed
    refuse_size_change(Path("phone.mp4"), INPUT + line.format(size="320x240"), (240, 320))  # a rotation's output
    refuse_size_change(Path("a.mkv"), INPUT + line.format(size="640x480")[:-1].removesuffix(", unspecified alpha")
                       [:-1], (320, 240))  # a line cut inside its size ("640x48"), at the end of what was kept


@pytest.mark.parametrize("line", [RECONFIGURED_9, RECONFIGURED_7], ids=["ffmpeg 9", "ffmpeg 7"])
def test_a_turned_clip_s_change_to_its_turned_size_is_refused(line: str) -> None:
    """Issue 91: ffmpeg's line says the decoder's size, before the display matrix's turn. A phone clip's stream of
    320x240 turned upright (240x320 out) whose pictures become 240x320 changed size; 2.3.0 took the line for the
    turned picture and used the clip, every later picture rescaled."""
    with pytest.raises(InputError, match=r"change size mid-stream \(320x240 to 240x320, as its decoder gives them "
                                         r"before their display turn\)"):
        refuse_size_change(Path("phone.mp4"), INPUT + line.format(size="240x320"), (240, 320))
    with pytest.raises(InputError, match=r"change size mid-stream \(320x240 to 640x480, as its decoder"):
        refuse_size_change(Path("phone.mp4"), INPUT + line.format(size="640x480"), (240, 320))


# every way a stream can change size: larger, smaller, one side alone, and back to the first size after another
CHANGES = [("640x480", "320x240 to 640x480"), ("160x120", "320x240 to 160x120"), ("320x480", "320x240 to 320x480"),
           ("640x240", "320x240 to 640x240"), ("2x2", "320x240 to 2x2"), ("16384x8640", "320x240 to 16384x8640")]


@pytest.mark.parametrize("line", [RECONFIGURED_9, RECONFIGURED_7], ids=["ffmpeg 9", "ffmpeg 7"])
@pytest.mark.parametrize(("size", "said"), CHANGES, ids=[c[0] for c in CHANGES])
def test_every_size_change_is_refused(line: str, size: str, said: str) -> None:
    with pytest.raises(InputError, match=rf"change size mid-stream \({said}\)"):
        refuse_size_change(Path("a.mkv"), INPUT + line.format(size=size), (320, 240))
    # the change after a reconfigure of colour alone, and a return to the first size after it: refused all the same
    colour_then_size = line.format(size="320x240") + line.format(size=size) + line.format(size="320x240")
    with pytest.raises(InputError, match=rf"change size mid-stream \({said}\)"):
        refuse_size_change(Path("a.mkv"), INPUT + colour_then_size, (320, 240))
