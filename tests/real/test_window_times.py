"""A consumer's window is the clip's first 5 s of its own timestamps, the frames `-t 5` gives, whatever its header's
rate (issue 76, item 5): the kit records each frame's time in the one decode that fingerprints a clip
(kit.media.fingerprint.FrameTimes) and places every sampling's windows by them (kit.corpus.samplings), by the rate
only where a corpus records none.

Each clip: the frames the kit's window holds, hashed from the frames the kit reads (`ffmpeg <its input> -fps_mode
passthrough -f framemd5`, each decoded frame once, as the kit encodes them), against the frames plain `ffmpeg -i CLIP
-t 5 -fps_mode passthrough -f framemd5` keeps; and LOSO's placement (kit.model.samplings.place_windows) of an encode
of that clip, its window's mean of a per-frame figure against the same mean over the plain frames. Synthetic clips
for what no public file shows (the issue's header of 25 fps over packets 1/30 s apart, a variable rate that halves
the rate after 3 s, a video stream that starts 0.5 s after the file), and real public clips
(tests/publicclips.py), wide cases: box.mp4 (a phone's 29.97 fps, 148 frames in 5 s where int(5 x rate)
is 149), cup.mp4 (134, not 133), tree.avi (Cinepak, 68 frames over 29.6 s: 12 frames in 5 s, where the rate's rule
took the whole clip), balle1-vp9.avi (187.35 fps by its header, 295 frames over 7.5 s at 5.3 to 32 ms apart) and
Megamind.avi (the fast tier runs the issue's synthetic clip)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kit.corpus.samplings import BY_RATE, BY_TIMES, FIRST, SAMPLINGS, VMAFTUNE_WINDOW_S, frames_in
from kit.infra.tree import Tree
from kit.media.cache import Sha256Cache
from kit.media.discovery import probe_clip
from kit.media.identity import fingerprint
from kit.media.refs import Clip
from kit.model.samplings import place_windows
from tests import pace
from tests.publicclips import fetched_or_skip, load_manifest

SMALL = ("-c:v", "libx264", "-preset", "ultrafast", "-threads", "1", "-pix_fmt", "yuv420p")


def run(ffmpeg: str, *args: str) -> None:
    pace.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", *args], check=True, timeout=120)


def header_25(ffmpeg: str, folder: Path) -> Path:
    """The issue's clip: packets 1/30 s apart under a 25 fps header (ffmpeg says '25 fps, 25 tbr, 1k tbn')."""
    run(ffmpeg, "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30:duration=7", *SMALL, str(folder / "at30.mp4"))
    run(ffmpeg, "-i", str(folder / "at30.mp4"), "-c", "copy", "-r", "25", str(folder / "header25.mkv"))
    return folder / "header25.mkv"


def variable(ffmpeg: str, folder: Path) -> Path:
    """A true variable rate: 10 pictures a second for 3 s, then 30 (each frame at its own time, -fps_mode vfr)."""
    run(ffmpeg, "-f", "lavfi", "-i", "mandelbrot=size=160x120:rate=30,trim=duration=8", "-vf",
        "select='if(lt(t\\,3)\\,not(mod(n\\,3))\\,1)'", "-fps_mode", "vfr", *SMALL, str(folder / "vfr.mkv"))
    return folder / "vfr.mkv"


def late(ffmpeg: str, folder: Path) -> Path:
    """A video stream that starts 0.5 s after its file (its audio from 0): `-t 5` keeps 4.5 s of its pictures."""
    run(ffmpeg, "-f", "lavfi", "-i", "gradients=size=160x120:rate=30:speed=0.02:duration=7", *SMALL,
        str(folder / "v.mp4"))
    run(ffmpeg, "-f", "lavfi", "-i", "sine=duration=8", "-itsoffset", "0.5", "-i", str(folder / "v.mp4"), "-map",
        "0:a", "-map", "1:v", "-c:v", "copy", "-c:a", "aac", str(folder / "late.mp4"))
    return folder / "late.mp4"


SYNTHETIC = {"header25": header_25, "vfr": variable, "late": late}
# what each synthetic clip's first 5 s hold by its timestamps, and what int(5 x its header's rate) took
EXPECTED = {"header25": (150, 125), "vfr": (90, 150), "late": (135, 150)}


def md5s(ffmpeg: str, args: list[str], pix_fmt: str) -> list[str]:
    """framemd5's md5 of each frame of `args` (an input, and any cut) in `pix_fmt`, each decoded frame once."""
    res = pace.run([ffmpeg, "-v", "error", *args, "-map", "0:v:0", "-fps_mode", "passthrough", "-pix_fmt",
                          pix_fmt, "-f", "framemd5", "-"], check=True, capture_output=True, text=True, timeout=300)
    return [ln.rsplit(",", 1)[1].strip() for ln in res.stdout.splitlines() if ln and not ln.startswith("#")]


def kit_clip(path: Path, ffmpeg: str, tmp: Path) -> tuple[Clip, list[float]]:
    """The clip as the kit's discovery reads it, and its frames' times from its fingerprint."""
    cache = Sha256Cache(Tree.open(tmp), tmp / "sha256.json")
    clip = probe_clip(path, ffmpeg, cache)
    times = fingerprint(clip, ffmpeg, cache).times
    assert times is not None and times.frames == clip.n_frames
    return clip, times.seconds()


def check_window(path: Path, ffmpeg: str, tmp: Path) -> tuple[int, int]:
    """The kit's first window of `path` holds the frames plain `-t 5` keeps, by md5, and LOSO places it so; returns
    (its frames, what int(5 x the header's rate) took)."""
    clip, seconds = kit_clip(path, ffmpeg, tmp)
    ((first, end),) = FIRST.windows(clip.n_frames, clip.fps_float, VMAFTUNE_WINDOW_S, seconds)
    kept = md5s(ffmpeg, ["-i", str(path), "-t", f"{VMAFTUNE_WINDOW_S:g}"], clip.pix_fmt)
    # the frames the kit reads, in its order, in the master's format (a lossless copy's where it has one: tree.avi's
    # rgb24 is kept losslessly in another layout)
    read = md5s(ffmpeg, clip.input_args(), clip.pix_fmt)
    assert len(read) == clip.n_frames
    assert first == 0 and read[first:end] == kept, (path.name, end, len(kept))
    # LOSO's placement of an encode of the clip: its first window's mean of a per-frame figure (here the frame's
    # md5 read as a number) is the mean over the frames -t 5 keeps
    figure = np.array([int(m[:8], 16) for m in read], dtype=np.float64)
    df = pd.DataFrame({"frame_index": np.arange(clip.n_frames), "fps": clip.fps_float, "src_sha256": clip.sha256})
    placed = place_windows(df, np.zeros(clip.n_frames, dtype=np.int64), VMAFTUNE_WINDOW_S, {clip.sha256: seconds})
    assert placed is not None and placed.lengths["placed"].tolist() == [BY_TIMES]
    assert placed.masks[FIRST.name].sum() == len(kept)
    assert figure[placed.masks[FIRST.name]].mean() == pytest.approx(np.mean([int(m[:8], 16) for m in kept]))
    assert bool(placed.lengths["longer"].iloc[0]) == (len(kept) < clip.n_frames)
    for s in SAMPLINGS:  # every sampling's windows lie inside the clip and take a frame each at least
        assert all(0 <= a < b <= clip.n_frames for a, b in s.windows(clip.n_frames, clip.fps_float, 5.0, seconds))
    return end, min(frames_in(VMAFTUNE_WINDOW_S, clip.fps_float), clip.n_frames)


# the fast tier: the issue's clip (its header's rate over other packets' timing); the other two are wide
@pytest.mark.parametrize("name", [pytest.param(n, marks=() if n == "header25" else pytest.mark.wide)
                                  for n in sorted(SYNTHETIC)])
def test_a_window_is_the_first_5_s_of_the_clips_own_timestamps(name: str, ffmpeg: str, tmp_path: Path) -> None:
    """The issue's clip (header 25 fps, packets 1/30 s apart: 150 frames, not 125), a variable rate (90, not 150) and
    a stream that starts late (135, not 150)."""
    path = SYNTHETIC[name](ffmpeg, tmp_path)
    assert check_window(path, ffmpeg, tmp_path / "cache") == EXPECTED[name]


# the fast tier: the synthetic clips above; five whole real clips are wide
REAL_CI: tuple[str, ...] = ()
REAL_RELEASE = ("box.mp4", "cup.mp4", "tree.avi", "balle1-vp9.avi", "Megamind.avi")
# (the kit's window, int(5 x rate) or the whole clip): measured with ffmpeg 9.0.2 (imageio-ffmpeg)
REAL_EXPECTED = {"box.mp4": (148, 149), "cup.mp4": (134, 133), "tree.avi": (12, 68), "balle1-vp9.avi": (295, 295),
                 "Megamind.avi": (119, 119)}


@pytest.mark.parametrize("name", [*REAL_CI, *(pytest.param(n, marks=pytest.mark.wide) for n in REAL_RELEASE)])
def test_a_real_clips_window_is_its_first_5_s_by_its_timestamps(name: str, ffmpeg: str, tmp_path: Path) -> None:
    manifest = load_manifest()
    (path,) = fetched_or_skip([manifest.clip(name)], manifest).values()
    assert check_window(Path(path), ffmpeg, tmp_path) == REAL_EXPECTED[name]


def test_a_corpus_without_times_places_its_windows_by_the_rate() -> None:
    """An older manifest, or one clip's times of another count of frames: the rule by the header's rate, said so."""
    df = pd.DataFrame({"frame_index": np.tile(np.arange(210), 2), "fps": 25.0,
                       "src_sha256": ["a" * 64] * 210 + ["b" * 64] * 210})
    codes = np.repeat([0, 1], 210)
    at_30 = [i / 30 for i in range(210)]
    placed = place_windows(df, codes, VMAFTUNE_WINDOW_S, {"a" * 64: at_30, "b" * 64: at_30[:100]})
    assert placed is not None
    assert placed.lengths["placed"].tolist() == [BY_TIMES, BY_RATE]
    first = placed.masks[FIRST.name]
    assert first[:210].sum() == 150 and first[210:].sum() == 125
    none = place_windows(df, codes, VMAFTUNE_WINDOW_S)
    assert none is not None and set(none.lengths["placed"]) == {BY_RATE} and none.masks[FIRST.name].sum() == 250
