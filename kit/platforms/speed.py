"""This box's speed as step 01 measures it: the prior of the run's ETA (kit.report.eta), before any corpus job ran.

Scorings of a clip against itself, each on one libvmaf thread: a few tiny frames (nearly all of it ffmpeg's
start-up: opening the inputs, building the filter graph, loading the model) and PROBE_FRAMES frames at PROBE_SIZE
(the median of TRIES).
Their difference is libvmaf's own speed; the first, the start-up every ffmpeg of a job pays. Each encoder's probe
(kit.platforms.probe) measured its encode speed at PROBE_SIZE, start-up included. A corpus job's prior is its two
processes' start-up and its pixels at those speeds (`job_seconds`); the training's and the other steps' priors scale
by libvmaf's speed against the box they were measured on (`slowness`, kit.model.cost).

The figures vary with the load of the moment (a shared box); the ETA corrects them as the run measures its own.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kit.errors import ToolError
from kit.infra.proc import LogFn
from kit.infra.records import Record
from kit.media.argv import build_score_argv
from kit.platforms.probe import (
    PAIR_FPS,
    PROBE_FRAMES,
    PROBE_SIZE,
    PROBE_TIMEOUT_S,
    VMAF_CHECK_SIZE,
    ProbeResult,
    render_probe_clip,
    run_probe,
)

STARTUP_FRAMES = 2  # the start-up scoring's frames, at VMAF_CHECK_SIZE: their own cost is a few milliseconds
# the PROBE_SIZE scoring is timed this many times and the median kept: one of a fraction of a second is at the mercy of
# a neighbour's burst (on this box shared with other sessions, at the same load, one read 34 fps and the next 75; the
# quickest of three read 136 where the run then went as 50 would say)
TRIES = 3


def pixels(size: str) -> int:
    """`640x360` -> 230400."""
    w, h = (int(v) for v in size.split("x"))
    return w * h


@dataclass(frozen=True)
class BoxSpeed(Record):
    """libvmaf's speed and ffmpeg's start-up on this box, as step 01 measured them (0: not measured)."""

    LENIENT = True

    score_fps: float = 0.0  # frames of `size` libvmaf scores a second on one thread, start-up taken out
    startup_s: float = 0.0  # what one ffmpeg of a job pays before its first frame
    size: str = PROBE_SIZE

    @property
    def measured(self) -> bool:
        return self.score_fps > 0

    @property
    def said(self) -> str:
        """`; 180 fps at 640x360 on one thread` for the prereqs table ("" where not measured)."""
        return f"; {self.score_fps:.0f} fps at {self.size} on one thread" if self.measured else ""

    @property
    def score_px_s(self) -> float:
        """Pixels libvmaf scores a second on one thread (the reference box's where not measured)."""
        return self.score_fps * pixels(self.size) if self.measured else REFERENCE.score_px_s

    @property
    def slowness(self) -> float:
        """How much longer than on the reference box the same work takes here: 2.0 on a box libvmaf runs at half
        its speed (1.0 where not measured)."""
        return REFERENCE.score_px_s / self.score_px_s if self.measured else 1.0


# This box (2 cores, AMD EPYC, imageio-ffmpeg 9.0.2's libvmaf), idle, on which kit.model.cost's constants were
# measured: bench/bench_eta.py measures both at once.
REFERENCE = BoxSpeed(score_fps=180.0, startup_s=0.06)


def measure_speed(ffmpeg: str, work: Path, log: LogFn | None = None) -> BoxSpeed:
    """Time libvmaf on two pairs (a clip scored against itself); an unmeasured BoxSpeed when a scoring fails (the
    libvmaf check passed before: nothing here refuses a run)."""
    try:
        tiny = _score_self(ffmpeg, render_probe_clip(ffmpeg, work / "speed_tiny.y4m", VMAF_CHECK_SIZE,
                                                     STARTUP_FRAMES, log), VMAF_CHECK_SIZE, log)
        clip = render_probe_clip(ffmpeg, work / "speed.y4m", PROBE_SIZE, PROBE_FRAMES, log)
        fulls = [_score_self(ffmpeg, clip, PROBE_SIZE, log) for _ in range(TRIES)]
    except ToolError as exc:
        if log is not None:
            log(f"libvmaf's speed not measured: {exc.message}")
        return BoxSpeed()
    if tiny is None or None in fulls:
        return BoxSpeed()
    full = statistics.median(f for f in fulls if f is not None)
    own = max(full - tiny, full / 4)  # a noisy start-up must not leave libvmaf's own time at nothing
    return BoxSpeed(round(PROBE_FRAMES / own, 1), round(tiny, 3), PROBE_SIZE)


def _score_self(ffmpeg: str, clip: Path, size: str, log: LogFn | None) -> float | None:
    """Seconds libvmaf takes to score `clip` against itself on one thread; None when it fails."""
    w, h = (int(v) for v in size.split("x"))
    argv = build_score_argv(ffmpeg, clip, ["-i", str(clip)], w, h, "yuv420p", clip.with_suffix(".json"), 1,
                            fps=PAIR_FPS)
    res = run_probe(argv, "libvmaf's speed test", PROBE_TIMEOUT_S, log)
    return res.elapsed_s if res.returncode == 0 else None


def encode_px_s(probe: ProbeResult | None, speed: BoxSpeed) -> float:
    """Pixels an encoder encodes a second, from its probe (PROBE_FRAMES frames of PROBE_SIZE, start-up taken out),
    as fast as libvmaf is now against when it was probed (a probe read from the cache may date from an idler or a
    busier hour); libvmaf's speed stands in for an encoder whose probe has no figure."""
    if probe is None or not probe.fps or probe.fps <= 0:
        return speed.score_px_s
    seconds = PROBE_FRAMES / probe.fps
    startup = speed.startup_s if speed.measured else REFERENCE.startup_s
    now_then = speed.score_fps / probe.score_fps if speed.measured and probe.score_fps > 0 else 1.0
    return PROBE_FRAMES * pixels(PROBE_SIZE) / max(seconds - startup, seconds / 4) * now_then


def encode_rates(probes: Mapping[str, ProbeResult], speed: BoxSpeed, encoders: Iterable[str]) -> dict[str, float]:
    """Each encoder's pixels a second (encode_px_s), by its probe in prereqs.json."""
    return {name: encode_px_s(probes.get(name), speed) for name in encoders}


def job_seconds(frames: int, encode_px: int, score_px: int, encode_rate: float, speed: BoxSpeed,
                score_threads: int) -> tuple[float, float]:
    """A corpus job's prior, (encode, scoring) seconds: each one ffmpeg's start-up and its pixel-frames at the
    measured speeds (libvmaf on `score_threads` threads)."""
    startup = speed.startup_s if speed.measured else REFERENCE.startup_s
    return (startup + frames * encode_px / encode_rate,
            startup + frames * score_px / (speed.score_px_s * score_threads))
