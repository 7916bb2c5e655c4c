"""How long the corpus jobs still take: a cost model, fed by the corpus events.

A job's work is its pixel-frames (frames x (encode pixels + scoring pixels): `job_started.work`); the plan
gives the work still to do per encoder (`jobs_planned.work`). What is done counts the finished jobs and the
running ones' frames through each phase (encode, then score, weighed by the share of a job's time each phase
took in the finished jobs). An encoder's cost per unit of work is measured on its own finished jobs (a hardware
encoder and x265 differ by tens of times); an encoder with none finished yet costs the mean of the others. The
time left is the elapsed time scaled by the cost still to do over the cost done: the jobs running side by side
are in both, so the estimate needs neither the number of workers nor the box's speed.

Counting finished jobs alone (the plain lines of kit 0.1) read 8 to 10 times too long at the first jobs on a box
that runs many at once: one job was done while the others running beside it were nearly done too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

ENCODE_SHARE = 0.5  # of a job's time, until a finished job measures it


@dataclass
class Running:
    encoder: str
    work: float
    frames: int
    through: dict[str, int] = field(default_factory=lambda: {"encode": 0, "score": 0})


class CorpusClock:
    """Estimates the corpus jobs' time left; fed the events' figures and their times (seconds, monotonic)."""

    def __init__(self) -> None:
        self.started_at: float | None = None
        self.planned: dict[str, float] = {}  # encoder -> work of the jobs to run
        self.done: dict[str, float] = {}  # encoder -> work of the finished jobs
        self.seconds: dict[str, float] = {}  # encoder -> their encode + score seconds
        self.encode_s = self.score_s = 0.0
        self.running: dict[str, Running] = {}
        self.finished = 0

    def plan(self, work: dict[str, float], now: float) -> None:
        self.started_at, self.planned = now, dict(work)

    def start(self, job_id: str, encoder: str, work: float, frames: int) -> None:
        self.running[job_id] = Running(encoder, work, max(1, frames))

    def progress(self, job_id: str, phase: str, frames_done: int) -> None:
        job = self.running.get(job_id)
        if job is not None and phase in job.through:
            job.through[phase] = frames_done

    def finish(self, job_id: str, encode_ms: float, score_ms: float) -> None:
        job = self.running.pop(job_id, None)
        if job is None:
            return
        self.finished += 1
        self.done[job.encoder] = self.done.get(job.encoder, 0.0) + job.work
        self.seconds[job.encoder] = self.seconds.get(job.encoder, 0.0) + (encode_ms + score_ms) / 1000
        self.encode_s += encode_ms / 1000
        self.score_s += score_ms / 1000

    def fail(self, job_id: str) -> None:
        """A failed job: its work is no longer to do (the step fails once the others end)."""
        job = self.running.pop(job_id, None)
        if job is not None:
            self.planned[job.encoder] = max(0.0, self.planned.get(job.encoder, 0.0) - job.work)

    def _partial(self, job: Running) -> float:
        """The share of a running job done: each phase's frames, weighed by its share of a finished job's time."""
        total = self.encode_s + self.score_s
        share = self.encode_s / total if total > 0 else ENCODE_SHARE
        return min(1.0, (share * job.through["encode"] + (1 - share) * job.through["score"]) / job.frames)

    def _costs(self) -> dict[str, float]:
        """Seconds per unit of work, per encoder: measured, or the mean of those measured."""
        rates = {e: self.seconds[e] / w for e, w in self.done.items() if w > 0 and self.seconds.get(e, 0) > 0}
        fallback = sum(rates.values()) / len(rates) if rates else 1.0
        return {e: rates.get(e, fallback) for e in {*self.planned, *self.done, *(j.encoder for j in
                                                                                 self.running.values())}}

    def remaining_s(self, now: float) -> float | None:
        """Seconds left; None before a job has finished (nothing is measured yet)."""
        if self.started_at is None or self.finished == 0:
            return None
        cost = self._costs()
        done = dict(self.done)
        for job in self.running.values():
            done[job.encoder] = done.get(job.encoder, 0.0) + job.work * self._partial(job)
        spent = sum(cost[e] * w for e, w in done.items())
        left = sum(cost[e] * max(0.0, w - done.get(e, 0.0)) for e, w in self.planned.items())
        elapsed = now - self.started_at
        if spent <= 0 or not math.isfinite(left):
            return None
        return elapsed * left / spent
