"""Running the corpus jobs on worker threads: how many at once, libvmaf's thread budget, live progress. An interrupt
cancels the queue and kills the running children; finished jobs stay on disk.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from kit.corpus.jobs import Job, JobResult, JobRunner
from kit.errors import ToolError
from kit.events import Emit, JobDone, JobProgress, JobStarted
from kit.events import JobFailed as JobFailedEvent
from kit.infra.interrupts import finished_batches
from kit.infra.proc import stop_all
from kit.infra.variables import JOB_THREADS

T = TypeVar("T")  # what a pool works on: a corpus job, a sample job
# the corpus's work (pixel-frames: job_work) per second of CPU, x264 at one thread and libvmaf: what the run prices
# the sample jobs at before it starts them (bench/bench_realfiles.py measures it; bench/README.md)
WORK_PER_CPU_S = 1.3e7


def fixed_threads(env: Mapping[str, str] | None = None) -> int | None:
    """KIT_JOB_THREADS: libvmaf threads per job, fixed; None when unset or 0 (the kit decides)."""
    threads: int | None = JOB_THREADS.read(env)
    return threads


def concurrency(requested: int, cores: int, to_run: int) -> int:
    """How many jobs run at once: --jobs, else one per core; never more than there are to run."""
    return max(1, min(requested if requested > 0 else cores, to_run))


class ScoreThreads:
    """libvmaf threads for the next scoring: the cores shared among the unfinished jobs."""

    def __init__(self, cores: int, parallel: int, unfinished: int, fixed: int | None = None) -> None:
        self.cores, self.parallel, self.fixed, self._unfinished = cores, parallel, fixed, unfinished
        self._lock = threading.Lock()

    def job_finished(self) -> None:
        with self._lock:
            self._unfinished -= 1

    def __call__(self) -> int:
        if self.fixed is not None:
            return self.fixed
        with self._lock:
            sharing = max(1, min(self.parallel, self._unfinished))
        return max(1, self.cores // sharing)


class ProgressRelay:
    """JobRunner progress -> JobProgress events: at most one per job and phase per period, plus the last."""

    def __init__(self, emit: Emit, frames: dict[str, int], period_s: float = 1.0) -> None:
        self.emit, self.frames, self.period_s = emit, frames, period_s
        self._lock = threading.Lock()
        self._started: dict[tuple[str, str], float] = {}
        self._last: dict[tuple[str, str], float] = {}

    def __call__(self, job_id: str, phase: str, frames_done: int, encodes: int = 1) -> None:
        now, key, total = time.monotonic(), (job_id, phase), self.frames[job_id]
        with self._lock:
            start = self._started.setdefault(key, now)
            if frames_done == 0 or (frames_done < total and now - self._last.get(key, start) < self.period_s):
                return
            self._last[key] = now
        fps = frames_done / (now - start) if now > start else 0.0
        self.emit(JobProgress(job_id, phase, min(frames_done, total), total, round(fps, 1), encodes))


def job_work(job: Job) -> float:
    """A job's pixel-frames: every frame encoded at its size, then scored at the reference's."""
    return float(job.clip.n_frames * (job.size.width * job.size.height + job.clip.width * job.clip.height))


def planned_work(jobs: list[Job], reused_ids: set[str]) -> dict[str, dict[str, float]]:
    """Per encoder, per source, the pixel-frames of the jobs still to run (kit.report.eta weighs them)."""
    work: dict[str, dict[str, float]] = {}
    for job in (j for j in jobs if j.job_id not in reused_ids):
        per_src = work.setdefault(job.encoder, {})
        per_src[job.clip.src] = per_src.get(job.clip.src, 0.0) + job_work(job)
    return work


def interrupted_words(kept: int, total: int) -> str:
    """What an interrupt says of the corpus step's jobs, of the one count JobsPlanned gives (sample jobs too), in the
    stop's sentence (kit.infra.interrupts.kept_at_stop)."""
    return f"{kept} of {total} corpus jobs are finished and kept; the rerun does the other {total - kept}"


def run_jobs(emit: Emit, runner: JobRunner, jobs: list[Job], n_par: int, reused_ids: set[str],
             finished: Callable[[], None], total: int = 0,
             kept: Callable[[JobResult], None] | None = None) -> list[ToolError]:
    """Run the jobs on n_par worker threads; reused ones hand back their ledgers. Returns the failures. `total`: the
    step's jobs the JobDone events count them of (the sample jobs after these too), len(jobs) when 0; `kept`: told
    each job this run finished (progress.DoneList.add)."""

    def work(job: Job) -> JobResult:
        if job.job_id in reused_ids:  # checked when planning
            return runner.reused(job)
        rung = f"{job.size.width}x{job.size.height}" if job.rendition is not None else ""
        emit(JobStarted(job.job_id, job.clip.src, job.encoder, job.cq, job.clip.n_frames, rung, job_work(job)))
        try:
            return runner.run(job)
        finally:
            finished()

    return run_pool(emit, work, jobs, [j.job_id for j in jobs], n_par, 0, total or len(jobs), "job", kept)


def run_pool(emit: Emit, work: Callable[[T], JobResult], items: Sequence[T], ids: Sequence[str], n_par: int,
             counted: int, total: int, name: str, kept: Callable[[JobResult], None] | None = None) -> list[ToolError]:
    """`work` of each item on n_par worker threads (named `name`), each said as it ends (JobDone, `done` counted on
    from the step's `counted` jobs of its `total`; or JobFailed); returns the failures. `kept` is told, on this
    thread, each item this run finished (not one reused). An interrupt cancels the queue and stops the running
    children; the step says what is kept (interrupted_words)."""
    failures: list[ToolError] = []
    done = counted
    with cf.ThreadPoolExecutor(max_workers=max(1, n_par), thread_name_prefix=name) as pool:
        futures = [pool.submit(work, item) for item in items]
        try:
            for batch in finished_batches(futures):  # a stop signal is handled between two
                for i in batch:
                    done += 1
                    try:
                        r = futures[i].result()
                    except ToolError as exc:  # a failed or timed-out job; the others go on
                        failures.append(exc)
                        emit(JobFailedEvent(ids[i], exc.message, exc.stderr_tail))
                        continue
                    if kept is not None and not r.reused:
                        kept(r)
                    enc_fps = r.rows / (r.enc_time_ms / 1000) if r.enc_time_ms > 0 and not r.reused else 0.0
                    emit(JobDone(r.job_id, done, total, r.reused, r.rows, r.enc_time_ms, r.vmaf_mean,
                                 round(r.score_time_ms, 3), round(enc_fps, 1)))
        except BaseException:  # interrupted (or a bug): the pool below joins within moments
            for f in futures:
                f.cancel()
            stop_all()
            raise
    return failures
