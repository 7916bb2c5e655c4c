"""The corpus ETA's cost model (kit.report.eta) on simulated schedules: jobs of unequal work on several workers,
encoders tens of times apart; the estimate checked against the schedule's own truth."""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from kit.report.eta import CorpusClock


@dataclass(frozen=True)
class SimJob:
    job_id: str
    encoder: str
    work: float  # pixel-frames
    seconds: float  # what it takes on one worker
    frames: int = 75
    src: str = "clip"


def simulate(jobs: list[SimJob], workers: int) -> list[tuple[int, float, float | None]]:
    """Run the jobs in order on `workers` workers, feeding a clock the events a run emits (with progress at each
    tenth of each phase). Returns, at each finished job: how many are finished, the true time left, the estimate."""
    clock = CorpusClock()
    work: dict[str, dict[str, float]] = {}
    for j in jobs:
        work.setdefault(j.encoder, {})[j.src] = work.get(j.encoder, {}).get(j.src, 0.0) + j.work
    clock.plan(work, 0.0)
    events: list[tuple[float, int, str, SimJob, int]] = []  # (time, order, what, job, frames)
    free = [0.0] * workers
    for order, j in enumerate(jobs):
        start = heapq.heappop(free)
        heapq.heappush(events, (start, order, "start", j, 0))
        for tenth in range(1, 11):  # half the time encoding, half scoring
            heapq.heappush(events, (start + j.seconds * tenth / 20, order, "encode", j, j.frames * tenth // 10))
            heapq.heappush(events, (start + j.seconds * (10 + tenth) / 20 - 1e-9, order, "score", j,
                                    j.frames * tenth // 10))
        heapq.heappush(events, (start + j.seconds, order, "done", j, 0))
        heapq.heappush(free, start + j.seconds)
    end = max(t for t, *_ in events)
    seen: list[tuple[int, float, float | None]] = []
    while events:
        t, _, what, j, frames = heapq.heappop(events)
        if what == "start":
            clock.start(j.job_id, j.encoder, j.src, j.work, j.frames)
        elif what == "done":
            clock.finish(j.job_id, j.seconds * 500, j.seconds * 500)
            seen.append((len(seen) + 1, end - t, clock.remaining_s(t)))  # the jobs finished so far
        else:
            clock.progress(j.job_id, what, frames)
    return seen


def demo_like(n_clips: int = 9) -> list[SimJob]:
    """Each clip at 640x360, three cqs at its own size and three at a 320x180 rung (scored back at 640x360);
    clips of unequal complexity (a clip's time per pixel-frame from 1x to 3x)."""
    full, rung = 75 * 2 * 640 * 360, 75 * (320 * 180 + 640 * 360)
    jobs = []
    for c in range(n_clips):
        slow = 1 + 2 * ((c * 7) % n_clips) / n_clips
        jobs += [SimJob(f"c{c}-{q}", "libx264", full, full * slow * 1e-7, src=f"c{c}") for q in range(3)]
        jobs += [SimJob(f"c{c}-{q}-r", "libx264", rung, rung * slow * 1e-7, src=f"c{c}") for q in range(3)]
    return jobs


def test_nothing_is_estimated_before_a_job_has_finished() -> None:
    clock = CorpusClock()
    clock.plan({"libx264": {"a": 10.0}}, 0.0)
    clock.start("a", "libx264", "a", 10.0, 75)
    clock.progress("a", "encode", 75)
    assert clock.remaining_s(5.0) is None


def test_the_estimate_is_within_twice_the_truth_after_the_first_jobs_on_a_demo_like_corpus() -> None:
    """Two workers (the first ETA of kit 0.1 counted finished jobs and read 8-10x too long here)."""
    seen = simulate(demo_like(), workers=2)
    for finished, truth, estimate in seen[3:-1]:
        assert estimate is not None and truth / 2 <= estimate <= truth * 2, (finished, truth, estimate)


def test_jobs_side_by_side_are_counted_through_their_frames_not_only_once_finished() -> None:
    """Eight equal jobs on eight workers, all but one just short of done when the first finishes: the time left
    is a sliver, not seven jobs' worth."""
    jobs = [SimJob(f"j{i}", "libx264", 1.0, 10.0 + i * 0.1) for i in range(8)]
    finished, truth, estimate = simulate(jobs, workers=8)[0]
    assert finished == 1 and estimate is not None and estimate <= 2 * truth + 0.5, (truth, estimate)


def test_each_encoder_costs_what_its_own_jobs_measured() -> None:
    """A fast hardware encoder's jobs first, then x265's, 30x slower per pixel-frame: once both have a finished
    job, the estimate is within twice the truth (one cost for all would read many times too short)."""
    fast = [SimJob(f"n{i}", "hevc_nvenc", 1e6, 1e6 * 1e-7) for i in range(20)]
    slow = [SimJob(f"x{i}", "libx265", 1e6, 1e6 * 3e-6) for i in range(10)]
    seen = simulate(fast + slow, workers=2)
    both = next(i for i, (finished, *_) in enumerate(seen) if finished > 20)
    for finished, truth, estimate in seen[both:-1]:
        assert estimate is not None and truth / 2 <= estimate <= truth * 2, (finished, truth, estimate)


def test_a_failed_job_no_longer_counts_as_work_to_do() -> None:
    clock = CorpusClock()
    clock.plan({"libx264": {"clip": 30.0}}, 0.0)
    for job in ("a", "b", "c"):
        clock.start(job, "libx264", "clip", 10.0, 75)
    clock.finish("a", 5_000, 5_000)
    clock.fail("b")
    clock.progress("c", "encode", 75)
    clock.progress("c", "score", 74)  # c is all but done
    left = clock.remaining_s(10.0)
    assert left is not None and left < 1.0, left


def test_a_source_costs_what_its_own_jobs_measured_and_an_unseen_one_the_geometric_mean() -> None:
    """Three sources of one encoder at 1x, 16x and 4x the cost per pixel-frame (a cartoon, a noisy 720p clip, a
    zoom): a measured source costs its own; an unseen one the geometric mean of those measured (4x here), where
    one cost per encoder (pooled over its work) read the last source at twice its cost and more."""
    costs = {"cells": 1e-7, "street": 16e-7, "zoom": 4e-7}
    jobs = [SimJob(f"{src}-{q}", "libx264", 1e6, 1e6 * cost, src=src) for src, cost in costs.items()
            for q in range(6)]
    seen = simulate(jobs, workers=2)
    for finished, truth, estimate in seen[6:-2]:  # from the second source's first jobs
        assert estimate is not None and truth / 2 <= estimate <= truth * 2, (finished, truth, estimate)
    finished, truth, estimate = seen[11]  # the noisy clip done: the zoom costs the mean of 1x and 16x in logs
    assert estimate is not None and abs(estimate / truth - 1) < 0.1, (finished, truth, estimate)
