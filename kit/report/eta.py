"""How long the corpus jobs still take: a cost model, fed by the corpus events.

A job's work is its pixel-frames (frames x (encode pixels + scoring pixels): `job_started.work`); the plan
gives the work still to do per encoder and source (`jobs_planned.work`). What is done counts the finished jobs
and the running ones' frames through each phase (encode, then score, weighed by the share of a job's time each
phase took in the finished jobs). The cost per unit of work is measured on finished jobs: of the same encoder
and source where there are some (content matters: a noisy 720p clip costs x264 several times what a cartoon
does per pixel), else of the same encoder (a hardware encoder and x265 differ by tens of times), else the mean
of the encoders measured. The time left is the elapsed time scaled by the cost still to do over the cost done:
the jobs running side by side are in both, so the estimate needs neither the number of workers nor the box's
speed.

Counting finished jobs alone (the plain lines of kit 0.1) read 8 to 10 times too long at the first jobs on a box
that runs many at once: one job was done while the others running beside it were nearly done too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import geometric_mean

ENCODE_SHARE = 0.5  # of a job's time, until a finished job measures it


Key = tuple[str, str]  # (encoder, source)


@dataclass
class Running:
    key: Key
    work: float
    frames: int
    through: dict[str, int] = field(default_factory=lambda: {"encode": 0, "score": 0})


class CorpusClock:
    """Estimates the corpus jobs' time left; fed the events' figures and their times (seconds, monotonic)."""

    def __init__(self) -> None:
        self.started_at: float | None = None
        self.planned: dict[Key, float] = {}  # (encoder, source) -> work of the jobs to run
        self.done: dict[Key, float] = {}  # -> work of the finished jobs
        self.seconds: dict[Key, float] = {}  # -> their encode + score seconds
        self.encode_s = self.score_s = 0.0
        self.running: dict[str, Running] = {}

    def plan(self, work: dict[str, dict[str, float]], now: float) -> None:
        """`jobs_planned.work`: per encoder, per source, the work of the jobs to run."""
        self.started_at = now
        self.planned = {(enc, src): w for enc, per_src in work.items() for src, w in per_src.items()}

    def start(self, job_id: str, encoder: str, src: str, work: float, frames: int) -> None:
        self.running[job_id] = Running((encoder, src), work, max(1, frames))

    def progress(self, job_id: str, phase: str, frames_done: int) -> None:
        job = self.running.get(job_id)
        if job is not None and phase in job.through:
            job.through[phase] = frames_done

    def finish(self, job_id: str, encode_ms: float, score_ms: float) -> None:
        job = self.running.pop(job_id, None)
        if job is None:
            return
        self.done[job.key] = self.done.get(job.key, 0.0) + job.work
        self.seconds[job.key] = self.seconds.get(job.key, 0.0) + (encode_ms + score_ms) / 1000
        self.encode_s += encode_ms / 1000
        self.score_s += score_ms / 1000

    def fail(self, job_id: str) -> None:
        """A failed job: its work is no longer to do (the step fails once the others end)."""
        job = self.running.pop(job_id, None)
        if job is not None:
            self.planned[job.key] = max(0.0, self.planned.get(job.key, 0.0) - job.work)

    def _partial(self, job: Running) -> float:
        """The share of a running job done: each phase's frames, weighed by its share of a finished job's time."""
        total = self.encode_s + self.score_s
        share = self.encode_s / total if total > 0 else ENCODE_SHARE
        return min(1.0, (share * job.through["encode"] + (1 - share) * job.through["score"]) / job.frames)

    def _costs(self) -> dict[Key, float]:
        """Seconds per unit of work: measured on the encoder's finished jobs of that source; for a source not yet
        measured, the geometric mean over the encoder's measured sources (content scales the cost: a source
        twice and one half as costly as the next average to it), else over every encoder's."""
        measured = {k: self.seconds[k] / w for k, w in self.done.items() if w > 0 and self.seconds.get(k, 0) > 0}
        rates: dict[str, list[float]] = {}
        for (enc, _), rate in measured.items():
            rates.setdefault(enc, []).append(rate)
        per_enc = {enc: geometric_mean(v) for enc, v in rates.items()}
        fallback = geometric_mean(per_enc.values()) if per_enc else 1.0
        keys = {*self.planned, *self.done, *(j.key for j in self.running.values())}
        return {k: measured.get(k, per_enc.get(k[0], fallback)) for k in keys}

    def remaining_s(self, now: float) -> float | None:
        """Seconds left; None before a job has finished (nothing is measured yet)."""
        if self.started_at is None or not self.done:
            return None
        cost = self._costs()
        done = dict(self.done)
        for job in self.running.values():
            done[job.key] = done.get(job.key, 0.0) + job.work * self._partial(job)
        spent = sum(cost[k] * w for k, w in done.items())
        left = sum(cost[k] * max(0.0, w - done.get(k, 0.0)) for k, w in self.planned.items())
        elapsed = now - self.started_at
        if spent <= 0 or not math.isfinite(left):
            return None
        return elapsed * left / spent
