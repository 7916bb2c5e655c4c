"""Step 02: encode every clip x encoder x cq, score every frame, write the shard."""

from __future__ import annotations

import concurrent.futures as cf
import threading
from pathlib import Path

from kit.corpus import (
    JobFailed,
    JobRunner,
    Provenance,
    build_manifest,
    job_is_done,
    plan_jobs,
    write_shard,
)
from kit.demo import DEMO_CLIPS, SECONDS, ensure_demo_set
from kit.errors import InputError, ToolError
from kit.events import Info, JobDone, JobsPlanned
from kit.events import JobFailed as JobFailedEvent
from kit.fsio import remove_temp_files, write_json
from kit.host import cache_dir, core_count, safe_box_id
from kit.loso import MIN_SOURCES
from kit.platforms.encoders import get_spec
from kit.refs import Clip, Sha256Cache, YuvDefaults, discover
from kit.steps.base import Context, Outcome, Plan, read_prereqs


def concurrency(requested: int, cores: int) -> tuple[int, int]:
    """(parallel jobs, libvmaf threads per job) for this many cores."""
    jobs = requested if requested > 0 else cores
    return jobs, max(1, cores // jobs)


class CorpusStep:
    number = 2
    name = "corpus"
    dirname = "02_corpus"

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
        assert isinstance(ff, dict) and isinstance(host, dict)
        return Provenance(
            box_id=safe_box_id(ctx.settings.box_id), platform=str(host["platform"]), device=str(host["cpu"]),
            ffmpeg_path=str(ff["path"]), ffmpeg_version=str(ff["version"]), ffmpeg_build=str(ff["build"]),
            libvmaf_version=str(prereqs["libvmaf_version"]),
        )

    def _prepare(self, ctx: Context) -> tuple[list[Clip], bool, Provenance]:
        prov = self._provenance(ctx, read_prereqs(ctx))
        clips, demo = self._clips(ctx, prov.ffmpeg_path)
        return clips, demo, prov

    def plan(self, ctx: Context) -> Plan:
        clips, _, prov = self._prepare(ctx)
        s = ctx.settings
        return Plan(
            settings={"encoders": list(s.encoders), "cqs": list(s.cqs), "box_id": prov.box_id,
                      "ref_dir": str(s.ref_dir) if s.ref_dir else "(demo set)",
                      "yuv_defaults": [s.width, s.height, s.fps]},
            inputs={"clips": ",".join(sorted(f"{c.src}:{c.sha256}" for c in clips)),
                    "ffmpeg": prov.ffmpeg_build, "libvmaf": prov.libvmaf_version, "device": prov.device},
        )

    def run(self, ctx: Context) -> Outcome:
        s = ctx.settings
        clips, demo, prov = self._prepare(ctx)
        if demo:
            ctx.emit(Info(self.name, f"no --ref-dir: using the embedded DEMO corpus ({len(clips)} synthetic "
                                     "clips); pass --ref-dir for real content"))
        if len(clips) < MIN_SOURCES:
            raise InputError(f"{len(clips)} distinct source(s) found; LOSO needs at least {MIN_SOURCES}",
                             hint="add reference clips to --ref-dir")
        for enc in s.encoders:
            for cq in s.cqs:
                get_spec(enc).check_cq(cq)
        jobs = plan_jobs(clips, s.encoders, s.cqs)
        jobs_dir, work_dir = ctx.step_dir / "jobs", ctx.step_dir / "work"
        jobs_dir.mkdir(parents=True, exist_ok=True)
        remove_temp_files(jobs_dir)
        n_par, vmaf_threads = concurrency(s.jobs, core_count())
        runner = JobRunner(
            ffmpeg=prov.ffmpeg_path, prov=prov, jobs_dir=jobs_dir, work_dir=work_dir, vmaf_threads=vmaf_threads,
            encoder_threads=vmaf_threads,
            sessions={e: threading.Semaphore(get_spec(e).session_cap) for e in s.encoders
                      if get_spec(e).session_cap > 0},
            log=ctx.log,
        )
        reused = sum(job_is_done(jobs_dir, j, prov) for j in jobs)
        ctx.emit(JobsPlanned(len(jobs), reused))
        failures = self._run_jobs(ctx, runner, jobs, n_par)
        if failures:
            first = failures[0]
            raise JobFailed(f"{len(failures)} of {len(jobs)} corpus jobs failed; first: {first.message}",
                            hint="fix the cause and rerun: finished jobs are kept and will not be redone",
                            stderr_tail=first.stderr_tail)
        shard = ctx.step_dir / "shard.parquet"
        rows = write_shard(jobs, jobs_dir, shard)
        manifest = build_manifest(shard, rows, prov, clips, list(s.encoders), list(s.cqs), demo,
                                  {"jobs": len(jobs), "reused_jobs": reused})
        manifest_path = ctx.step_dir / "shard.manifest.json"
        write_json(manifest_path, manifest)
        return Outcome([shard, manifest_path], {"rows": rows, "jobs": len(jobs), "reused": reused,
                                                "sources": len(clips), "demo": demo})

    def _run_jobs(self, ctx: Context, runner: JobRunner, jobs: list, n_par: int) -> list[ToolError]:
        failures: list[ToolError] = []
        done = 0
        with cf.ThreadPoolExecutor(max_workers=n_par, thread_name_prefix="job") as pool:
            futures = {pool.submit(runner.run, j): j for j in jobs}
            try:
                for fut in cf.as_completed(futures):
                    done += 1
                    try:
                        r = fut.result()
                    except ToolError as exc:  # a failed or timed-out job; the others go on
                        failures.append(exc)
                        ctx.emit(JobFailedEvent(futures[fut].job_id, exc.message, exc.stderr_tail))
                        continue
                    ctx.emit(JobDone(r.job_id, done, len(jobs), r.reused, r.rows, r.enc_time_ms, r.vmaf_mean))
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
        return failures


def shard_path(out_dir: Path) -> Path:
    return out_dir / "02_corpus" / "shard.parquet"
