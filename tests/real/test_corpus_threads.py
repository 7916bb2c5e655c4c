"""How many corpus jobs run at once and how many libvmaf threads each scoring gets,
and that the rows never depend on either."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest

from kit.corpus.jobs import JobResult, JobRunner, Provenance, job_paths, plan_jobs
from kit.corpus.scheduler import ScoreThreads, concurrency, fixed_threads, run_jobs
from kit.errors import InputError, ToolError
from kit.infra.host import cpu_name
from kit.infra.tree import Tree
from kit.media.cache import Sha256Cache
from kit.media.discovery import discover


def test_one_job_per_core_but_never_more_than_there_are_to_run() -> None:
    assert concurrency(0, 2, 36) == 2
    assert concurrency(0, 64, 16) == 16  # a big box with a small grid: no idle workers
    assert concurrency(3, 2, 36) == 3  # --jobs wins
    assert concurrency(0, 8, 0) == 1  # everything reused: one worker hands the ledgers back


def test_scoring_gets_the_cores_freed_by_finished_jobs() -> None:
    threads = ScoreThreads(cores=8, parallel=4, unfinished=6)
    assert threads() == 2  # 4 jobs share 8 cores
    for _ in range(3):
        threads.job_finished()
    assert threads() == 2  # 3 left: 8 // 3
    threads.job_finished()
    assert threads() == 4  # 2 left
    threads.job_finished()
    assert threads() == 8  # the last job alone
    assert ScoreThreads(cores=2, parallel=2, unfinished=16)() == 1
    assert ScoreThreads(cores=16, parallel=16, unfinished=4)() == 4  # fewer jobs than cores from the start


def test_kit_job_threads_fixes_the_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIT_JOB_THREADS", "3")
    threads = ScoreThreads(cores=8, parallel=4, unfinished=1, fixed=fixed_threads())
    assert threads() == 3
    for unset in ("0", ""):  # 0: the kit decides, as when it is unset
        monkeypatch.setenv("KIT_JOB_THREADS", unset)
        assert fixed_threads() is None
    for bad in ("-2", "two", "²", "9" * 5000):  # refused with a sentence naming it, no longer ignored
        monkeypatch.setenv("KIT_JOB_THREADS", bad)
        with pytest.raises(InputError, match="KIT_JOB_THREADS="):
            fixed_threads()


def _rows(ffmpeg: str, refs: Path, out: Path, threads: int | Callable[[], int]) -> list[dict[str, object]]:
    clips = discover(refs, ffmpeg, Sha256Cache(None))[:2]
    prov = Provenance("box", "linux-x86_64", cpu_name(), ffmpeg, "9", "9+x", "3.0")
    out.mkdir()
    runner = JobRunner(ffmpeg=ffmpeg, prov=prov, tree=Tree.open(out), jobs_dir=out, work_dir=out / "work",
                       vmaf_threads=threads,
                       encoder_threads=1, sessions={"libx264": threading.Semaphore(1)}, log=lambda line: None)
    rows = []
    for job in plan_jobs(clips, {"libx264": [30]}):
        runner.run(job)
        rows += pq.read_table(job_paths(out, job)[0]).drop(["enc_time_ms"]).to_pylist()
    return rows


def test_rows_do_not_depend_on_the_libvmaf_thread_count(ffmpeg: str, tiny_refs: Path, tmp_path: Path) -> None:
    calls: list[int] = []

    def four() -> int:
        calls.append(4)
        return 4

    one = _rows(ffmpeg, tiny_refs, tmp_path / "one", 1)
    many = _rows(ffmpeg, tiny_refs, tmp_path / "many", four)
    assert calls == [4, 4]  # asked once per scoring
    assert one and one == many


def test_the_step_counts_every_fresh_job_finished_once_and_no_reused_one() -> None:
    """Reused jobs are not counted; a failing job is; the count ends at zero, never below."""
    jobs = [SimpleNamespace(job_id=f"j{i}", encoder="libx264", cq=25, rendition=None,
                            size=SimpleNamespace(width=64, height=48),  # a job's work (the ETA's) needs its size
                            clip=SimpleNamespace(src=f"s{i}", n_frames=3, width=64, height=48))
            for i in range(6)]
    reused = {"j0", "j3"}
    threads = ScoreThreads(cores=4, parallel=2, unfinished=len(jobs) - len(reused))
    seen: list[int] = []

    class Runner:
        def reused(self, job: SimpleNamespace) -> JobResult:
            assert job.job_id in reused
            return JobResult(job.job_id, 3, 1.0, 1.0, True, 50.0)

        def run(self, job: SimpleNamespace) -> JobResult:
            assert job.job_id not in reused  # a reused job is never run (nor its parquet hashed) again
            seen.append(threads())  # what this job's scoring would get
            if job.job_id == "j4":
                raise ToolError("j4: encode failed")
            return JobResult(job.job_id, 3, 1.0, 1.0, False, 50.0)

    events: list[object] = []
    failures = run_jobs(events.append, Runner(), jobs, 2, reused, threads.job_finished)  # type: ignore[arg-type]
    assert [f.message for f in failures] == ["j4: encode failed"]
    assert threads._unfinished == 0
    assert len(seen) == 4 and set(seen) <= {2, 4}  # 2 threads while 2+ jobs were left, all 4 for the last one
    assert sum(type(e).__name__ == "JobStarted" for e in events) == 4
