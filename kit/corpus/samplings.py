"""Which frames of a clip a consumer's sampling takes: vmaf-tune's fast path today and the samplings measured beside it
(docs/vmaf-tune.md, "How vmaf-tune samples a clip"). Light (no numpy): the corpus step plans its sample encodes with
it, LOSO cuts the same frames from the whole encodes, and a test restates it.

vmaf-tune (lusoris/vmaf tools/vmaf-tune/src/vmaftune/fast.py at c2a3c7e0, `_build_production_sample_extractor`)
encodes each trial's chunk with `-ss <sample_clip_start_s> -t SAMPLE_CHUNK_SECONDS` on the input side and scores
`frame_cnt = int(SAMPLE_CHUNK_SECONDS * fps)` frames of it from `frame_skip_ref = 0`; nothing sets
`sample_clip_start_s`, so the chunk is the clip's first 5 s (the docstring and ADR-0301 say the centre). A clip no
longer than the window is the window: the chunk is the whole clip.

A window is a span of the clip's own timeline: the frames whose presentation time, as ffmpeg plays the clip (the
timeline an output `-t 5` cuts, the file's start at 0; kit.media.fingerprint.FrameTimes), lies in it, whatever the
header's rate says (issue 76: a clip whose header says 25 fps while its packets are 1/30 s apart has 150 frames in its
first 5 s, not 125). Where a corpus records no times (an older manifest, a hand-made or JSONL corpus), the frames are
placed by the header's rate as before (`frames_in`), and said so (PLACED_BY).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

VMAFTUNE_WINDOW_S = 5.0  # vmaf-tune's SAMPLE_CHUNK_SECONDS (fast.py): the length of a trial's chunk

Windows = tuple[tuple[int, int], ...]  # (first frame, end frame) of each window, in the clip's frame order
# how a clip's windows were placed: by its frames' own times, or (no times recorded) by its header's rate
BY_TIMES, BY_RATE = "times", "rate"
PLACED_BY = {BY_TIMES: "by the clip's own timestamps (the frames `-t` cuts)",
             BY_RATE: "by the header's frame rate (int(seconds x rate) frames), the corpus recording no timestamps"}


@dataclass(frozen=True)
class Sampling:
    """A way to sample a clip: `runs` windows of `run_s` seconds each (0: one of the whole window's length), placed
    `where` (first: from the first frame; centre: the clip's middle; spread: one in each of `runs` equal parts)."""

    name: str
    where: str  # first | centre | spread
    run_s: float = 0.0  # a spread window's length in seconds; 0: the one window is the consumer's whole window

    def runs(self, window_s: float) -> int:
        """How many windows (each encoded on its own: the encodes a trial costs) make the window's length: as many
        whole runs as fit in it (a window of 2.6 s holds two of 1 s), at least one."""
        return 1 if not self.run_s else max(1, math.floor(window_s / self.run_s + 1e-9))

    def words(self, window_s: float) -> str:
        """How people read it: `the first 5 s`, `the centre 5 s`, `5 windows of 1 s spread over the clip`."""
        if self.where == "spread":
            return f"{self.runs(window_s)} windows of {min(self.run_s, window_s):g} s spread over the clip"
        return f"the {self.where} {window_s:g} s"

    def windows(self, n_frames: int, fps: float, window_s: float, times: Sequence[float] | None = None) -> Windows:
        """The frames this sampling takes of a clip of `n_frames` at `fps` (`times`: each frame's time in seconds,
        where recorded: the windows are then spans of them, `timed_windows`): the whole clip when it is no longer than
        the window (vmaf-tune's `-t` then reads it all); otherwise windows of whole frames, never overlapping."""
        if times is not None and len(times) == n_frames:
            return self.timed_windows(times, window_s)
        total = frames_in(window_s, fps)
        if n_frames <= total:
            return ((0, n_frames),)
        if self.where == "first":
            return ((0, total),)
        if self.where == "centre":
            start = (n_frames - total) // 2
            return ((start, start + total),)
        # whole runs that fit in the window (runs x each <= total: floor(w/r) x floor(r x fps) <= floor(w x fps)), a
        # run no longer than the window (--consumer-window 0.3: one run of its 0.3 s)
        runs, each = self.runs(window_s), min(frames_in(self.run_s, fps), total)
        # each window centred in its part of the clip: n_frames > total >= runs x each, so parts of n/runs > each
        # frames, no two overlap and none starts before the first frame
        starts = [min(max(round((k + 0.5) * n_frames / runs - each / 2), 0), n_frames - each) for k in range(runs)]
        return tuple((s, s + each) for s in starts)

    def timed_windows(self, times: Sequence[float], window_s: float) -> Windows:
        """The frames whose time lies in each window: the first, those before `window_s` (what an output `-t` keeps:
        the file's start at 0); the centre, a `window_s` span centred on the clip's; spread, `runs` spans of `run_s`
        each centred in its equal part of the clip's span. The clip's span runs from its first frame's time to its
        last's plus that frame's step. A span no frame's time lies in (a variable rate's gap) takes the frame shown
        at its start, as a player shows it (two spans in one gap show the same frame)."""
        rising = list(times)
        for i in range(1, len(rising)):  # a time that steps back is read as the one before it (as RISING_TIMES)
            rising[i] = max(rising[i], rising[i - 1])
        n = len(rising)
        if not longer_in_time(rising, window_s):
            return ((0, n),)
        if self.where == "first":
            return ((0, max(bisect_left(rising, window_s), 1)),)  # one frame at least: a stream that starts late
        start = rising[0]
        span = rising[-1] - start + (rising[-1] - rising[-2] if n > 1 else 0.0)
        if self.where == "centre":
            return (_frames_between(rising, start + (span - window_s) / 2, window_s),)
        runs, each = self.runs(window_s), min(self.run_s, window_s)
        return tuple(_frames_between(rising, start + (k + 0.5) * span / runs - each / 2, each) for k in range(runs))


def _frames_between(rising: Sequence[float], start_s: float, length_s: float) -> tuple[int, int]:
    """The frames whose time lies in [start_s, start_s + length_s); where none does, the one shown at start_s. The
    span's ends are sums of floats (a 70-frame clip at 10 fps spans 6.9 + (6.9 - 6.8) = 7.000000000000001 s, so its
    centre began at 1.0000000000000004, past the frame at 1.0): each is read BOUNDARY_S earlier, so a frame exactly on
    one is in or out as the span says (at 10 fps a span of 0.5 s holds 5 frames wherever it starts)."""
    first = bisect_left(rising, start_s - BOUNDARY_S)
    end = bisect_left(rising, start_s + length_s - BOUNDARY_S)
    if end > first:
        return first, end
    shown = max(first - 1, 0) if first == len(rising) or rising[first] > start_s else first
    return shown, shown + 1


BOUNDARY_S = 1e-9  # far below any frame's step (a clip of 1,000 fps: 1e-3 s), far above a float sum's error


def longer_in_time(times: Sequence[float], window_s: float) -> bool:
    """Whether a `-t window_s` cut leaves a frame out: one frame's time is at or past it."""
    return bool(times) and max(times) >= window_s


def frames_in(seconds: float, fps: float) -> int:
    """Whole frames in `seconds` at `fps`, as vmaf-tune counts its chunk's (`int(seconds * fps)`), at least one."""
    return max(1, math.floor(seconds * fps + 1e-6))  # 1e-6: 0.5 s at 30 fps is 15 frames, not 14 by rounding


FIRST = Sampling("first", "first")  # what vmaf-tune's fast path takes today
CENTRE = Sampling("centre", "centre")  # what its docstring and ADR-0301 say it takes
SPREAD_1S = Sampling("spread-1s", "spread", 1.0)
SPREAD_HALF_S = Sampling("spread-0.5s", "spread", 0.5)
SAMPLINGS: tuple[Sampling, ...] = (FIRST, CENTRE, SPREAD_1S, SPREAD_HALF_S)  # the first is vmaf-tune's today


def sampling(name: str) -> Sampling:
    return next(s for s in SAMPLINGS if s.name == name)


def longer_than(n_frames: int, fps: float, window_s: float, times: Sequence[float] | None = None) -> bool:
    """Whether a clip is longer than the window: only then can a sampling differ from the whole clip (`times`, where
    recorded: by them)."""
    if times is not None and len(times) == n_frames:
        return longer_in_time(times, window_s)
    return n_frames > frames_in(window_s, fps)


# --consumer-samplings: `cut` (the default since 2.3), the samplings as frames cut from the whole encodes, which the
# verdict's consumer figures read; `encoded`, each sampling's windows also encoded on their own by the corpus step
# (clips longer than the window, vmaf-tune's encoders, native size), a study's opt-in (on six real clips 55 % more
# pixel-frames than the corpus, for one table the verdict gates nothing on)
SAMPLINGS_HOW = ("cut", "encoded")
CUT, ENCODED = SAMPLINGS_HOW
