"""Which frames of a clip a consumer's sampling takes: vmaf-tune's fast path today and the samplings measured beside it
(docs/vmaf-tune.md, "How vmaf-tune samples a clip"). Light (no numpy): the corpus step plans its sample encodes with
it, LOSO cuts the same frames from the whole encodes, and a test restates it.

vmaf-tune (lusoris/vmaf tools/vmaf-tune/src/vmaftune/fast.py at c2a3c7e0, `_build_production_sample_extractor`)
encodes each trial's chunk with `-ss <sample_clip_start_s> -t SAMPLE_CHUNK_SECONDS` on the input side and scores
`frame_cnt = int(SAMPLE_CHUNK_SECONDS * fps)` frames of it from `frame_skip_ref = 0`; nothing sets
`sample_clip_start_s`, so the chunk is the clip's first 5 s (the docstring and ADR-0301 say the centre). A clip no
longer than the window is the window: the chunk is the whole clip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

VMAFTUNE_WINDOW_S = 5.0  # vmaf-tune's SAMPLE_CHUNK_SECONDS (fast.py): the length of a trial's chunk

Windows = tuple[tuple[int, int], ...]  # (first frame, end frame) of each window, in the clip's frame order


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

    def windows(self, n_frames: int, fps: float, window_s: float) -> Windows:
        """The frames this sampling takes of a clip of `n_frames` at `fps`: the whole clip when it is no longer than
        the window (vmaf-tune's `-t` then reads it all); otherwise windows of whole frames, never overlapping."""
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


def longer_than(n_frames: int, fps: float, window_s: float) -> bool:
    """Whether a clip is longer than the window: only then can a sampling differ from the whole clip."""
    return n_frames > frames_in(window_s, fps)


# --consumer-samplings: `cut` (the default since 2.3), the samplings as frames cut from the whole encodes, which the
# verdict's consumer figures read; `encoded`, each sampling's windows also encoded on their own by the corpus step
# (clips longer than the window, vmaf-tune's encoders, native size), a study's opt-in (on six real clips 55 % more
# pixel-frames than the corpus, for one table the verdict gates nothing on)
SAMPLINGS_HOW = ("cut", "encoded")
CUT, ENCODED = SAMPLINGS_HOW
