"""A master ffmpeg plays whole is used, whatever it reports before the first frame (issue 60, item 1).

A camera's H.264 .mp4 (640x480, 455 frames) held a slice ffmpeg reports ahead of its first picture ("A non-intra
slice in an IDR NAL unit."), then decodes every frame from: the kit's strict decode stopped there and left the clip
out. Made here the same way: a P slice relabelled an IDR slice, put ahead of the first picture of a libx264 stream.
A master damaged after its first frame is still left out, and its fix (the lossless copy of what ffmpeg plays of it)
runs as printed and makes a clip the kit takes.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from kit.errors import InputError
from kit.infra.invocation import kit_cli
from kit.media.cache import Sha256Cache
from kit.media.discovery import probe_clip
from kit.media.identity import fingerprint
from tests import pace
from tests.conftest import ROOT, render
from tests.printed import kit_words

FRAMES = 20
START = b"\x00\x00\x01"


def h264(ffmpeg: str, dest: Path) -> bytes:
    """A raw H.264 stream of FRAMES frames (Annex B: NAL units after start codes), one IDR then P slices."""
    render(ffmpeg, "testsrc2=s=160x120:r=25", dest, frames=FRAMES, fmt="h264",
           extra=("-c:v", "libx264", "-bf", "0", "-g", "250", "-x264-params", "log=-1"))
    return dest.read_bytes()


def nal_units(stream: bytes) -> list[tuple[int, int]]:
    """(start, end) of each NAL unit's bytes after its start code."""
    starts = [m.end() for m in re.finditer(re.escape(START), stream)]
    return [(s, (starts[i + 1] - len(START) if i + 1 < len(starts) else len(stream))) for i, s in enumerate(starts)]


def nal_type(stream: bytes, unit: tuple[int, int]) -> int:
    return stream[unit[0]] & 0x1F


def with_stray_slice(stream: bytes) -> bytes:
    """The stream with a copy of its first P slice, relabelled an IDR slice (type 5), ahead of its first picture."""
    units = nal_units(stream)
    p = next(u for u in units if nal_type(stream, u) == 1)
    idr = next(u for u in units if nal_type(stream, u) == 5)
    stray = b"\x00" + START + bytes([(stream[p[0]] & 0xE0) | 5]) + stream[p[0] + 1:p[1]].rstrip(b"\x00")
    head = idr[0] - len(START) - (1 if stream[idr[0] - 4] == 0 else 0)
    return stream[:head] + stray + stream[head:]


def damaged_mid_stream(stream: bytes) -> bytes:
    """The stream with bytes of its tenth slice's data flipped."""
    slices = [u for u in nal_units(stream) if nal_type(stream, u) in (1, 5)]
    start = slices[10][0]
    data = bytearray(stream)
    for k in range(start + 40, start + 80):
        data[k] ^= 0x5A
    return bytes(data)


def mp4(ffmpeg: str, stream: bytes, dest: Path) -> Path:
    """The raw stream's packets as they are in an .mp4 at 25 fps."""
    raw = dest.with_suffix(".h264")
    raw.write_bytes(stream)
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-framerate", "25", "-i", str(raw),
                    "-c", "copy", str(dest)], check=True)
    raw.unlink()
    return dest


def played(ffmpeg: str, path: Path) -> tuple[int, int, str]:
    """(exit code, frames, what it reported) of a plain decode of `path`, as a person plays it."""
    res = pace.run([ffmpeg, "-hide_banner", "-nostdin", "-i", str(path), "-f", "null", "-"],
                   capture_output=True, text=True, timeout=60)
    return res.returncode, int(re.findall(r"frame=\s*(\d+)", res.stderr)[-1]), res.stderr


def test_a_master_ffmpeg_plays_whole_is_used_whatever_it_reports_before_its_first_frame(
        ffmpeg: str, tmp_path: Path) -> None:
    clean = h264(ffmpeg, tmp_path / "clean.h264")
    stray = mp4(ffmpeg, with_stray_slice(clean), tmp_path / "camera.mp4")
    code, frames, said = played(ffmpeg, stray)
    assert (code, frames) == (0, FRAMES) and "IDR" in said, said  # ffmpeg reports it, then plays every frame
    clip = probe_clip(stray, ffmpeg, Sha256Cache(None))
    assert (clip.n_frames, clip.width, clip.height, clip.fps) == (FRAMES, 160, 120, "25/1")
    plain = probe_clip(mp4(ffmpeg, clean, tmp_path / "plain.mp4"), ffmpeg, Sha256Cache(None))
    # the very pictures of the stream without the stray slice, frame for frame
    assert fingerprint(clip, ffmpeg, Sha256Cache(None)) == fingerprint(plain, ffmpeg, Sha256Cache(None))


def test_a_master_damaged_after_its_first_frame_is_left_out_and_its_fix_runs_as_printed(
        ffmpeg: str, tmp_path: Path) -> None:
    refs = tmp_path / "clips [1] é"
    refs.mkdir()
    broken = mp4(ffmpeg, damaged_mid_stream(h264(ffmpeg, tmp_path / "clean.h264")), refs / "street cam.mp4")
    code, frames, _ = played(ffmpeg, broken)
    assert (code, frames) == (0, FRAMES)  # ffmpeg conceals the damage and plays on
    with pytest.raises(InputError, match="not a readable video") as refused:
        probe_clip(broken, ffmpeg, Sha256Cache(None))
    hint = refused.value.hint
    assert hint.index(kit_cli()) > 0, hint  # the command ends the hint
    command = hint[hint.index(kit_cli()):]
    env = {**{k: v for k, v in os.environ.items() if k != "KIT_FFMPEG"}, "PYTHONPATH": str(ROOT),
           "PATH": str(tmp_path)}  # no ffmpeg on the PATH: the kit's own runs
    done = pace.run([*shlex.split(kit_cli()), *kit_words(command, kit_cli())], cwd=ROOT, env=env,
                    capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (command, done.stderr[-2000:])
    copy = probe_clip(refs / "street cam.mkv", ffmpeg, Sha256Cache(None))
    assert (copy.n_frames, copy.width, copy.height) == (FRAMES, 160, 120)


def test_a_master_taken_on_a_second_look_scores_as_libvmaf_run_by_hand(ffmpeg: str, tmp_path: Path) -> None:
    """Its every frame, scored through the kit (the shared decode and on its own), is libvmaf's score by hand on a
    plain decode of the file and a plain encode of that (tests/real/test_teacher_truth.py's by-hand path)."""
    from kit.corpus.jobs import Ladder
    from tests.real.test_teacher_truth import by_hand, kit_rows

    stray = mp4(ffmpeg, with_stray_slice(h264(ffmpeg, tmp_path / "clean.h264")), tmp_path / "camera.mp4")
    clip = probe_clip(stray, ffmpeg, Sha256Cache(None))
    for shared in (True, False):
        rows = kit_rows(ffmpeg, [clip], tmp_path / f"kit-{shared}", shared, Ladder())
        ((job_id, got),) = rows.items()
        vmaf = got["rows"]["vmaf"]
        assert got["rows"]["frame_index"] == list(range(FRAMES)), job_id
        hand = by_hand(ffmpeg, clip, tmp_path / f"hand-{shared}", None)
        assert len(hand) == FRAMES and max(abs(a - b) for a, b in zip(vmaf, hand, strict=True)) <= 0.01, \
            (vmaf, hand)
