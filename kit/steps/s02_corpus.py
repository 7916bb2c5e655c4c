"""Step 02: encode every clip x encoder x cq, score every frame, write the shard."""

from __future__ import annotations

import concurrent.futures as cf
import os
import shutil
import threading
import time
from collections.abc import Callable

from kit.corpus import (
    Job,
    JobFailed,
    JobResult,
    JobRunner,
    Provenance,
    build_manifest,
    job_is_done,
    job_paths,
    plan_jobs,
    write_shard,
)
from kit.demo import DEMO_CLIPS, SECONDS, ensure_demo_set
from kit.errors import InputError, ToolError
from kit.events import Emit, Info, JobDone, JobProgress, JobsPlanned, JobStarted
from kit.events import JobFailed as JobFailedEvent
from kit.fsio import remove_temp_files, write_json
from kit.host import cache_dir, core_count, safe_box_id
from kit.platforms.encoders import HwArgs, get_spec, session_semaphores
from kit.proc import stop_all
from kit.recipe import MIN_SOURCES
from kit.refs import Clip, Sha256Cache, YuvDefaults, discover
from kit.shard import select_shard, shard_note, shard_settings
from kit.steps.base import Context, Outcome, Plan, read_prereqs


def prereq_encoders(prereqs: dict[str, object], requested: tuple[str, ...]) -> tuple[str, ...]:
    """The encoder list step 01 resolved (and probed) for the requested one."""
    asked = prereqs.get("requested_encoders")
    if asked != list(requested) or "resolved_encoders" not in prereqs:
        was = ",".join(map(str, asked)) if isinstance(asked, list) else "(unknown)"
        raise InputError(f"01_prereqs was run for --encoders {was}, not {','.join(requested)}",
                         hint="rerun it with the same flags: ensemble-kit step prereqs ... (or use `run`)")
    return tuple(str(e) for e in prereqs["resolved_encoders"])  # type: ignore[union-attr]


def prereq_hw(prereqs: dict[str, object]) -> dict[str, HwArgs]:
    probes = prereqs.get("encoders") or {}
    assert isinstance(probes, dict)
    return {name: HwArgs.from_json(p.get("hw")) for name, p in probes.items()}


def fixed_threads() -> int | None:
    """KIT_JOB_THREADS: libvmaf threads per job, fixed; None when unset (the kit decides)."""
    value = os.environ.get("KIT_JOB_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else None


def concurrency(requested: int, cores: int, to_run: int) -> int:
    """How many jobs run at once: --jobs, else one per core; never more than there are to run.

    Whole jobs in parallel scale better than threads inside one job (an encode and
    its scoring are sequential, and one job alone already keeps ~1.1 cores busy).
    """
    return max(1, min(requested if requested > 0 else cores, to_run))


class ScoreThreads:
    """libvmaf threads for the next scoring: the cores shared among the jobs still unfinished.

    With as many jobs left as run at once, each gets cores // parallel; once fewer are
    left (the tail of a run, or fewer jobs than cores on a big box) the freed cores go
    to their scoring. Encoders stay as they are: x264/x265 output depends on threads,
    libvmaf's scores do not.
    """

    def __init__(self, cores: int, parallel: int, unfinished: int, fixed: int | None = None) -> None:
        self.cores, self.parallel, self.fixed = cores, parallel, fixed
        self._unfinished = unfinished
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

    def __call__(self, job_id: str, phase: str, frames_done: int) -> None:
        now, key, total = time.monotonic(), (job_id, phase), self.frames[job_id]
        with self._lock:
            start = self._started.setdefault(key, now)
            if frames_done == 0 or (frames_done < total and now - self._last.get(key, start) < self.period_s):
                return
            self._last[key] = now
        fps = frames_done / (now - start) if now > start else 0.0
        self.emit(JobProgress(job_id, phase, min(frames_done, total), total, round(fps, 1)))


class CorpusStep:
    number = 2
    name = "corpus"
    dirname = "02_corpus"

    def __init__(self) -> None:
        self.encoders: tuple[str, ...] = ()  # what 01_prereqs resolved and probed; set by _prepare
        self.hw: dict[str, HwArgs] = {}  # device args per encoder, as the probe used them
        self.all_clips: list[Clip] = []  # the whole reference set, before --shard; set by _prepare

    def _clips(self, ctx: Context, ffmpeg: str) -> tuple[list[Clip], bool]:
        s = ctx.settings
        cache = Sha256Cache(cache_dir() / "sha256.json")
        if s.ref_dir is not None:
            return discover(s.ref_dir, ffmpeg, cache, YuvDefaults(s.width, s.height, s.fps)), False
        folder = ensure_demo_set(cache_dir(), ffmpeg, s.demo_clips or None,
                                 seconds=s.demo_seconds or SECONDS)
        clips = discover(folder, ffmpeg, cache)
        names = {c.name for c in DEMO_CLIPS[: s.demo_clips or None]}
        return [c for c in clips if c.src in names], True

    def _provenance(self, ctx: Context, prereqs: dict[str, object]) -> Provenance:
        ff = prereqs["ffmpeg"]
        host = prereqs["host"]
        probes = prereqs.get("encoders") or {}
        assert isinstance(ff, dict) and isinstance(host, dict) and isinstance(probes, dict)
        return Provenance(
            box_id=safe_box_id(ctx.settings.box_id), platform=str(host["platform"]), device=str(host["cpu"]),
            ffmpeg_path=str(ff["path"]), ffmpeg_version=str(ff["version"]), ffmpeg_build=str(ff["build"]),
            libvmaf_version=str(prereqs["libvmaf_version"]),
            # the hardware that encodes each encoder's rows (GPU, render node, VideoToolbox, CPU)
            devices=tuple((str(n), str(p.get("device") or host["cpu"])) for n, p in sorted(probes.items())),
        )

    def _prepare(self, ctx: Context) -> tuple[list[Clip], bool, Provenance]:
        prereqs = read_prereqs(ctx)
        self.encoders = prereq_encoders(prereqs, ctx.settings.encoders)
        self.hw = prereq_hw(prereqs)
        prov = self._provenance(ctx, prereqs)
        self.all_clips, demo = self._clips(ctx, prov.ffmpeg_path)
        return select_shard(self.all_clips, ctx.settings.shard), demo, prov

    def plan(self, ctx: Context) -> Plan:
        clips, _, prov = self._prepare(ctx)
        s = ctx.settings
        return Plan(
            settings={"encoders": list(self.encoders), "cqs": list(s.cqs), "box_id": prov.box_id,
                      "ref_dir": str(s.ref_dir) if s.ref_dir else "(demo set)",
                      "yuv_defaults": [s.width, s.height, s.fps], **shard_settings(s.shard, self.all_clips, clips)},
            # the geometry too: a .yuv renamed from _25fps to _30fps has the same bytes but other rows
            inputs={"clips": ",".join(sorted(f"{c.src}:{c.sha256}:{c.kind}:{c.width}x{c.height}:{c.fps}:"
                                             f"{c.pix_fmt}:{c.n_frames}" for c in clips)),
                    "ffmpeg": prov.ffmpeg_build, "libvmaf": prov.libvmaf_version, "device": prov.device,
                    "devices": repr(prov.devices)},
        )

    def run(self, ctx: Context) -> Outcome:
        s = ctx.settings
        clips, demo, prov = self._prepare(ctx)
        if demo:
            ctx.emit(Info(self.name, f"no --ref-dir: using the embedded DEMO corpus ({len(clips)} synthetic "
                                     "clips); pass --ref-dir for real content"))
        if len(self.all_clips) < MIN_SOURCES:  # a shard may hold fewer: the union is trained on
            raise InputError(f"{len(self.all_clips)} distinct source(s) found; LOSO needs at least {MIN_SOURCES}",
                             hint="add reference clips to --ref-dir")
        if note := shard_note(s.shard, self.all_clips, clips, MIN_SOURCES):
            ctx.emit(Info(self.name, note))
        for enc in self.encoders:
            for cq in s.cqs:
                get_spec(enc).check_cq(cq)
        jobs = plan_jobs(clips, self.encoders, s.cqs)
        jobs_dir, work_dir = ctx.step_dir / "jobs", ctx.step_dir / "work"
        jobs_dir.mkdir(parents=True, exist_ok=True)
        remove_temp_files(jobs_dir)
        shutil.rmtree(work_dir, ignore_errors=True)  # scratch of killed jobs; the out-dir lock makes us alone
        if ctx.forced:  # --force redoes the jobs too: forget their ledger entries, keep nothing stale
            for job in jobs:
                job_paths(jobs_dir, job)[1].unlink(missing_ok=True)
        reused_ids = {j.job_id for j in jobs if job_is_done(jobs_dir, j, prov)}
        reused = len(reused_ids)
        cores = core_count()
        n_par = concurrency(s.jobs, cores, len(jobs) - reused)
        threads = ScoreThreads(cores, n_par, len(jobs) - reused, fixed_threads())
        runner = JobRunner(
            ffmpeg=prov.ffmpeg_path, prov=prov, jobs_dir=jobs_dir, work_dir=work_dir, vmaf_threads=threads,
            # x264/x265 output depends on their thread count, so rows must not depend on --jobs:
            # software encoders always run single-threaded; parallelism comes from whole jobs
            encoder_threads=1,
            sessions=session_semaphores(self.encoders), log=ctx.log, hw=self.hw,
            progress=ProgressRelay(ctx.emit, {j.job_id: j.clip.n_frames for j in jobs}),
        )
        ctx.emit(JobsPlanned(len(jobs), reused))
        failures = self._run_jobs(ctx, runner, jobs, n_par, reused_ids, threads.job_finished)
        shutil.rmtree(work_dir, ignore_errors=True)
        if failures:
            first = failures[0]
            raise JobFailed(f"{len(failures)} of {len(jobs)} corpus jobs failed; first: {first.message}",
                            hint="fix the cause and rerun: finished jobs are kept and will not be redone",
                            stderr_tail=first.stderr_tail)
        shard = ctx.step_dir / "shard.parquet"
        rows = write_shard(jobs, jobs_dir, shard)
        manifest = build_manifest(shard, rows, prov, clips, list(self.encoders), list(s.cqs), demo,
                                  {"jobs": len(jobs), "reused_jobs": reused,
                                   **shard_settings(s.shard, self.all_clips, clips)})
        manifest_path = ctx.step_dir / "shard.manifest.json"
        write_json(manifest_path, manifest)
        return Outcome([shard, manifest_path], {"rows": rows, "jobs": len(jobs), "reused": reused,
                                                "sources": len(clips), "demo": demo})

    def _run_jobs(self, ctx: Context, runner: JobRunner, jobs: list[Job], n_par: int,
                  reused_ids: set[str], finished: Callable[[], None]) -> list[ToolError]:
        failures: list[ToolError] = []
        done = 0

        def work(job: Job) -> JobResult:
            if job.job_id in reused_ids:  # checked (parquet hashed) when planning: not again
                return runner.reused(job)
            ctx.emit(JobStarted(job.job_id, job.clip.src, job.encoder, job.cq, job.clip.n_frames))
            try:
                return runner.run(job)
            finally:
                finished()

        with cf.ThreadPoolExecutor(max_workers=n_par, thread_name_prefix="job") as pool:
            futures = {pool.submit(work, j): j for j in jobs}
            try:
                for fut in cf.as_completed(futures):
                    done += 1
                    try:
                        r = fut.result()
                    except ToolError as exc:  # a failed or timed-out job; the others go on
                        failures.append(exc)
                        ctx.emit(JobFailedEvent(futures[fut].job_id, exc.message, exc.stderr_tail))
                        continue
                    enc_fps = r.rows / (r.enc_time_ms / 1000) if r.enc_time_ms > 0 and not r.reused else 0.0
                    ctx.emit(JobDone(r.job_id, done, len(jobs), r.reused, r.rows, r.enc_time_ms, r.vmaf_mean,
                                     round(r.score_time_ms, 3), round(enc_fps, 1)))
            except BaseException:
                # interrupted (or a bug): queued jobs never start, running ffmpegs are killed,
                # so the pool below joins within moments; finished jobs stay on disk
                for f in futures:
                    f.cancel()
                stop_all()
                raise
        return failures
