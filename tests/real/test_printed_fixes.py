"""A fix is printed only where it fixes (issue 98, item 5): the command a refusal of a reference clip offers is run as
printed, with the kit's ffmpeg, and its output read by the same rules; it must be taken. Where the output would be
refused again (a crop that leaves a side under libvmaf's least, or a clip too short for a LOSO fold, which no crop
lengthens), no such fix is printed: the clip is said as what the fix would leave it. 2.4 named an 84x33 clip of 2
frames with a crop, whose output was then left out for having 2 frames, and the original named again with the same
crop.

Generated over odd sizes (each way, both, at and near the least side) x frame counts (below, at and above the least)
x the three kinds of clip the kit reads by their geometry (.y4m, .yuv with its size in its name, a master: .mkv
FFV1), and the y4m colour spaces the kit converts through an FFV1 .mkv. The fix table (every refusal's fix the kit
prints, and the rule that judges its result) is in the docstring of each case below.
"""

from __future__ import annotations

import shlex
import subprocess
from itertools import product
from pathlib import Path

import pytest

from kit.errors import InputError
from kit.media.cache import Sha256Cache
from kit.media.discovery import probe_clip
from kit.media.libvmaf import MIN_SCORED_SIDE
from kit.media.refs import MIN_FRAMES_PER_SOURCE
from tests import pace
from tests.conftest import ROOT

SIZES = [(84, 33), (33, 84), (85, 85), (19, 18), (18, 19), (17, 40), (40, 17), (176, 145)]
FRAMES = [2, MIN_FRAMES_PER_SOURCE - 1, MIN_FRAMES_PER_SOURCE, 12]
KINDS = ("y4m", "yuv", "mkv")


def make(ffmpeg: str, folder: Path, kind: str, w: int, h: int, frames: int) -> Path:
    name = f"clip_{w}x{h}_25fps_444.yuv" if kind == "yuv" else f"clip.{kind}"  # 4:4:4: odd sizes kept whole
    out = folder / name
    fmt = {"y4m": ["-f", "yuv4mpegpipe"], "yuv": ["-f", "rawvideo"], "mkv": ["-c:v", "ffv1"]}[kind]
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc=s={w}x{h}:r=25", "-frames:v", str(frames), "-pix_fmt", "yuv444p", *fmt, str(out)],
                   check=True)
    return out


def judged(path: Path, ffmpeg: str) -> str:
    """The kit's judgement of `path` as a reference: "" when taken (and at least MIN_FRAMES_PER_SOURCE frames, the
    corpus step's own rule after discovery), else the refusal's message and fix."""
    try:
        clip = probe_clip(path, ffmpeg, Sha256Cache(None))
    except InputError as refused:
        return f"{refused.message} || {refused.hint}"
    return "" if clip.n_frames >= MIN_FRAMES_PER_SOURCE else f"too short: {clip.n_frames} frame(s)"


def printed_fix(refusal: str) -> list[str] | None:
    """The command a refusal's fix prints (the kit's ffmpeg, as `ensemble-kit ffmpeg …`), as argv, its RATE the clip's
    own (the user's to give: a raw stream says none); None for none."""
    fix = refusal.split(" || ", 1)[1]
    at = fix.find("ffmpeg -")
    return [a.replace("RATE", "25") for a in shlex.split(fix[at:].removeprefix("ffmpeg"))] if at >= 0 else None


@pytest.mark.parametrize(("kind", "size", "frames"), list(product(KINDS, SIZES, FRAMES)),
                         ids=[f"{k}-{w}x{h}-{n}" for k, (w, h), n in product(KINDS, SIZES, FRAMES)])
def test_an_odd_clip_s_crop_is_offered_only_where_its_result_is_taken(ffmpeg: str, tmp_path: Path, kind: str,
                                                                       size: tuple[int, int], frames: int) -> None:
    """An odd size's fix is a crop to the even size below it (kit.media.refs.check_even): judged by the size rule
    (no side under MIN_SCORED_SIDE) and the frames rule (a LOSO fold's MIN_FRAMES_PER_SOURCE), it is printed only
    where both pass, and then its output is taken; else the clip is said as too small or too short, with no crop."""
    w, h = size
    clip = make(ffmpeg, tmp_path, kind, w, h, frames)
    refusal = judged(clip, ffmpeg)
    assert refusal, "an odd size is never taken"
    fix = printed_fix(refusal)
    cropped_ok = min(w - w % 2, h - h % 2) >= MIN_SCORED_SIDE and frames >= MIN_FRAMES_PER_SOURCE
    print(f"case {kind} {w}x{h} {frames} frames: {refusal.split(str(tmp_path))[-1][:160]}")
    assert (fix is not None) == cropped_ok, refusal
    if fix is None:
        assert ("too small" in refusal) if min(w - w % 2, h - h % 2) < MIN_SCORED_SIDE else \
            f"{frames} frame(s); a LOSO fold needs at least {MIN_FRAMES_PER_SOURCE}" in refusal, refusal
        return
    res = pace.run([ffmpeg, "-hide_banner", "-loglevel", "error", *fix], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    (made,) = [Path(a) for a in fix if a.endswith("_even.mkv")]
    assert judged(made, ffmpeg) == "", judged(made, ffmpeg)  # the fix's output is taken


@pytest.mark.parametrize("colorspace", ["411", "444p16", "420p14"])
def test_a_y4m_colour_space_s_conversion_is_taken(ffmpeg: str, tmp_path: Path, colorspace: str) -> None:
    """A .y4m in a colour space the kit reads no frames of by their size is refused with its lossless conversion
    into an FFV1 .mkv (kit.media.refs.y4m_geometry): judged by the same rules, the converted clip is taken."""
    pix = {"411": "yuv411p", "444p16": "yuv444p16le", "420p14": "yuv420p14le"}[colorspace]
    clip = tmp_path / "deep.y4m"
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=s=64x48:r=25",
                    "-frames:v", "12", "-pix_fmt", pix, "-strict", "-1", "-f", "yuv4mpegpipe", str(clip)], check=True)
    refusal = judged(clip, ffmpeg)
    if not refusal:
        pytest.skip(f"C{colorspace} is read as it is: no fix printed")
    fix = printed_fix(refusal)
    assert fix is not None, refusal
    res = pace.run([ffmpeg, "-hide_banner", "-loglevel", "error", *fix], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    (made,) = [Path(a) for a in fix if a.endswith(".mkv")]
    assert judged(made, ffmpeg) == "", judged(made, ffmpeg)


# the conversions a refusal prints for what the kit reads no frames of as they are, each made of `frames` frames: a
# palette AVI, a raw MPEG-4 stream, a y4m in 4:1:1 (tests/real/test_commands_as_printed.py runs each at 8 frames)
CONVERTED = {"palette.avi": ("-pix_fmt", "pal8", "-c:v", "bmp", "-f", "avi"),
             "raw.m4v": ("-c:v", "mpeg4", "-f", "m4v"),
             "c411.y4m": ("-pix_fmt", "yuv411p", "-strict", "-1", "-f", "yuv4mpegpipe")}


@pytest.mark.parametrize(("name", "frames"), [(n, f) for n in CONVERTED for f in (5, MIN_FRAMES_PER_SOURCE)])
def test_a_conversion_is_offered_only_where_its_result_is_long_enough(ffmpeg: str, tmp_path: Path, name: str,
                                                                      frames: int) -> None:
    """A lossless conversion keeps the file's frames (kit.media.discovery.fix_judged): judged by the frames rule, it
    is printed only for a clip a LOSO fold can take, and then its output is taken; a shorter clip is said as too
    short, with no conversion (2.4 printed it, and left its output out)."""
    clip = tmp_path / name
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=s=64x48:r=25",
                    "-frames:v", str(frames), *CONVERTED[name], str(clip)], check=True)
    refusal = discovered(clip, ffmpeg)
    fix = printed_fix(refusal)
    print(f"case {name} {frames} frames: {refusal.split(str(tmp_path))[-1][:160]}")
    assert (fix is not None) == (frames >= MIN_FRAMES_PER_SOURCE), refusal
    if fix is None:
        assert f"{frames} frame(s); a LOSO fold needs at least {MIN_FRAMES_PER_SOURCE}" in refusal, refusal
        return
    res = pace.run([ffmpeg, "-hide_banner", "-loglevel", "error", *fix], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    (made,) = [Path(a) for a in fix if a.endswith(".mkv")]
    assert judged(made, ffmpeg) == "", judged(made, ffmpeg)


def discovered(path: Path, ffmpeg: str) -> str:
    """The refusal discovery leaves `path` out with (its fix judged: kit.media.discovery.fix_judged)."""
    from kit.media.discovery import Unusable, discover

    left: list[Unusable] = []
    folder = path.parent / "one"
    folder.mkdir()
    (folder / path.name).symlink_to(path)
    (folder / "good.y4m").symlink_to(make(ffmpeg, path.parent, "y4m", 64, 48, 12))
    discover(folder, ffmpeg, Sha256Cache(None), unusable=left)
    (found,) = [u for u in left if Path(u.path).name == path.name]
    return f"{found.reason} || {found.fix}"
