"""The corpus step's jobs: which may share a decode, their runner, their plan for `status` (02_corpus/plan.json),
what the line, the bar and the run's time left are told of them, what an interrupt says, and the clips they leave
out (with skipped.json, what the set left out before them). A helper of steps/s02_corpus.py (not a step)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from kit.corpus.failures import Repeats, failed_clips, refuse_failures, repeated
from kit.corpus.jobs import Job, JobRunner
from kit.corpus.oracle import Oracle, oracle_refusals
from kit.corpus.progress import JobsPlan
from kit.corpus.samples import SampleJob, sample_is_done, samples_price
from kit.corpus.scheduler import (
    ProgressRelay,
    ScoreThreads,
    concurrency,
    fixed_threads,
    interrupted_words,
    job_work,
    planned_work,
)
from kit.corpus.shard import ClipScoring, clip_scorings
from kit.corpus.shared import SharedDecodes, shared_decode_enabled
from kit.errors import InputError, ToolError
from kit.events import Forecast, JobsDropped, JobsPlanned
from kit.infra import interrupts
from kit.infra.clock import utc_iso
from kit.infra.host import core_count
from kit.infra.records import read_record
from kit.infra.tree import Tree
from kit.media.discovery import SkippedClips, Unusable
from kit.media.refs import Clip
from kit.model.recipe import MIN_SOURCES
from kit.model.threads import choose_threads
from kit.platforms.encoders import HwArgs
from kit.rundir import RunDir
from kit.steps.base import Context
from kit.steps.corpus_inputs import Prepared, cannot_train


def sharing(p: Prepared, sessions: Mapping[str, object]) -> Callable[[Job], bool]:
    """Which jobs a shared decode may feed (kit.corpus.shared): software encoders, with KIT_SHARED_DECODE on."""
    enabled = shared_decode_enabled()

    def shares(job: Job) -> bool:
        return enabled and job.encoder not in sessions and not any(h.init or h.filter for h in (
            p.hw.get(job.encoder, HwArgs()), p.depth.hw_10bit.get(job.encoder, HwArgs())))
    return shares


def job_runner(ctx: Context, p: Prepared, jobs: list[Job], reused_ids: set[str], generation: str,
               sessions: dict[str, threading.Semaphore], shares: Callable[[Job], bool],
               checked: frozenset[str]) -> tuple[JobRunner, ScoreThreads, int]:
    """The runner of the jobs still to do, its libvmaf thread budget and how many jobs run at once."""
    run, tree, cores = ctx.run, ctx.tree, core_count()
    n_par = concurrency(ctx.settings.jobs, cores, len(jobs) - len(reused_ids))
    threads = ScoreThreads(cores, n_par, len(jobs) - len(reused_ids), fixed_threads())
    to_do = [j for j in jobs if j.job_id not in reused_ids]
    shared = SharedDecodes(tree, to_do, run.decoded_refs, ctx.log, shares) if shared_decode_enabled() else None
    return JobRunner(
        ffmpeg=p.prov.ffmpeg_path, prov=p.prov, tree=tree, jobs_dir=run.jobs, work_dir=run.corpus_work,
        vmaf_threads=threads,
        encoder_threads=1,  # x264/x265 output depends on their thread count: rows must not depend on --jobs
        sessions=sessions, log=ctx.log, hw=p.hw, hw_10bit=p.depth.hw_10bit,
        progress=ProgressRelay(ctx.emit, {j.job_id: j.clip.n_frames for j in jobs}), generation=generation,
        shared=shared, oracle=Oracle(p.prov.ffmpeg_path, p.prov.teacher, ctx.log, ctx.places), oracle_jobs=checked,
    ), threads, n_par


def write_jobs_plan(ctx: Context, jobs: list[Job], samples: list[SampleJob], reused: set[str], generation: str,
                    workers: int, started_at_utc: str = "") -> JobsPlan:
    """02_corpus/plan.json, what `status` counts this run's ledgers against while it goes (kit.steps.status): the
    corpus jobs, then the sample jobs (each with its work as a job's is counted: SampleJob.work), those done before
    as reused; kept until the samplings are written, which can take most of the step."""
    plan = JobsPlan(started_at_utc or utc_iso(), {**{j.job_id: job_work(j) for j in jobs},
                                                  **{x.job_id: x.work() for x in samples}},
                    sorted(reused & {*(j.job_id for j in jobs), *(x.job_id for x in samples)}), generation, workers)
    ctx.tree.write_json(ctx.run.jobs_plan, plan.to_json())
    return plan


def announce(ctx: Context, p: Prepared, jobs: list[Job], samples: list[SampleJob], reused_ids: set[str],
             n_par: int, trains: bool = True) -> None:
    """The step's jobs planned with their work, the sample jobs after the corpus's (one count: the line, the bar,
    an interrupt and `status` say it), the sample jobs' price, and the work of the steps after them (kit.model.cost),
    for the run's ETA."""
    from kit.model.cost import BUNDLE_CORPUS_WORK, forecast  # pandas loads with it: at run time, never for `status`

    work = planned_work(jobs, reused_ids)
    for x in (x for x in samples if x.job_id not in reused_ids):
        per_src = work.setdefault(x.job.encoder, {})
        per_src[x.job.clip.src] = per_src.get(x.job.clip.src, 0.0) + x.work()
    ctx.emit(JobsPlanned(len(jobs) + len(samples), len(reused_ids), work, n_par, len(samples),
                         any(j.rendition is not None for j in jobs)))
    if samples:
        ctx.say("corpus", samples_price(jobs, samples, reused_ids))
    if ctx.corpus_only is not None or not trains:  # no LOSO, no verdict: the bundle of the shard
        ctx.emit(Forecast("bundle", BUNDLE_CORPUS_WORK))
        return
    loso = ctx.ahead("loso")  # LOSO's work is a function of LOSO's settings
    groups = len({p.refs.grouping.content_of.get(c.sha256, c.sha256) for c in p.clips})
    for cost in forecast(sum(j.clip.n_frames for j in jobs), groups, len(p.clips), len(loso.seeds), loso.folds,
                         loso.train, choose_threads().train, len(loso.holdout)):
        ctx.emit(Forecast(cost.step, round(cost.work), round(cost.training), round(cost.setup)))


@contextlib.contextmanager
def kept_said(ctx: Context, runner: JobRunner, jobs: list[Job], samples: Callable[[], list[SampleJob]],
              generation: str) -> Iterator[None]:
    """On an interrupt, the step's jobs finished and kept said, of the count its line gave (the sample jobs too,
    `samples()`: those still planned, after drop_samples)."""
    try:
        yield
    except KeyboardInterrupt:
        with contextlib.suppress(Exception):  # saying so must never hide the interrupt
            planned = samples()
            kept = sum(1 for j in jobs if runner.is_done(j)) + sum(
                1 for x in planned if sample_is_done(ctx.tree, ctx.run.jobs, x, runner.prov, generation))
            interrupts.kept_at_stop(interrupted_words(kept, len(jobs) + len(planned)))
        raise


def drop_samples(ctx: Context, plan: JobsPlan, jobs: list[Job], samples: list[SampleJob], refused: Mapping[str, object],
                 reused: set[str]) -> list[SampleJob]:
    """The sample jobs still to run: those of the clips the corpus jobs left out (`refused`) dropped from the step's
    one count, said (JobsDropped: the line, the bar, the time left) and taken out of its plan.json (`status`)."""
    dropped = [x for x in samples if x.job.clip.path in refused]
    if not dropped:
        return samples
    kept = [x for x in samples if x.job.clip.path not in refused]
    write_jobs_plan(ctx, jobs, kept, reused, plan.generation, plan.workers, plan.started_at_utc)
    done_before = [x for x in dropped if x.job_id in reused]
    ctx.emit(JobsDropped(len(jobs) + len(kept), len(kept), len(dropped), len(done_before),
                         sum(x.work() for x in dropped if x.job_id not in reused)))
    return kept


def left_out_by_jobs(p: Prepared, jobs: list[Job], failures: list[ToolError], checked: frozenset[str], tree: Tree,
                     run: RunDir, strict: bool) -> tuple[dict[str, Unusable], list[str], dict[str, ClipScoring]]:
    """After the jobs: the clips a job of which failed (failed_clips: what no clip is to blame for refused), then
    those whose independent check failed, each left out with why; those a rerun tries again; each clip's scorings."""
    failed, again, failures = failed_clips(failures, p.clips, strict, len(jobs))
    refuse_failures(failures, len(jobs), p.prov.teacher)
    scorings = clip_scorings(tree, [j for j in jobs if j.clip.path not in failed], run.jobs, checked)
    checks = {path: sc.oracle for path, sc in scorings.items()}
    return {**failed, **oracle_refusals([c for c in p.clips if c.path not in failed], checks, strict)}, again, scorings


def kept_clips(clips: Sequence[Clip], refused: Mapping[str, Unusable]) -> list[Clip]:
    """The clips not left out."""
    return [c for c in clips if c.path not in refused]


def too_few_left(ctx: Context, p: Prepared, kept: list[Clip], refused: Mapping[str, Unusable],
                 shard: bool) -> str | None:
    """Why LOSO cannot train on what the jobs kept, where the clips they left out leave fewer contents than it needs
    (`shard`: a shard's union is what LOSO trains on: never said here): the corpus is made and bundled all the same
    (kit.steps.corpus_inputs.cannot_train)."""
    contents = len({p.refs.grouping.content_of.get(c.sha256, c.sha256) for c in kept})
    if not refused or shard or contents >= MIN_SOURCES:
        return None
    names = ", ".join(Path(path).name for path in refused)
    return cannot_train(ctx, f"{len(refused)} clip(s) were left out as their jobs ran ({names}): {contents} "
                             f"content(s) are left, and LOSO needs at least {MIN_SOURCES}",
                        "fix or replace those clips, each one's reason above, or add reference clips of other content "
                        "to --ref-dir")


def write_skipped(ctx: Context, unusable: list[Unusable]) -> list[Path]:
    """What was left out, and why, beside the shard (the summary says it): skipped.json and its twin as the tarball
    sends it, written with it (kit.infra.shown); both removed when nothing was; the files written."""
    tree, run = ctx.tree, ctx.run
    sent = run.sent(run.skipped_clips)
    if not unusable:
        tree.remove(run.skipped_clips)
        tree.remove(sent)
        return []
    tree.write_json(run.skipped_clips, SkippedClips(tuple(unusable)).to_json())
    tree.write_json(sent, SkippedClips(tuple(u.sent(ctx.places) for u in unusable)).to_json())
    return [run.skipped_clips, sent]


def repeated_causes(ctx: Context, unusable: list[Unusable]) -> tuple[list[Unusable], list[str]]:
    """The clips left out, each the box's or the moment's cause left out in the run before too said so, with the fix
    of that cause (kit.corpus.failures.repeated), and the paths whose words that changed; 02_corpus/repeats.json
    written for the next run (removed when none was left out so). A damaged record counts from this run."""
    path = ctx.run.repeats
    try:
        before, _ = read_record(Repeats, ctx.tree, path)
    except InputError:  # not the user's own, or a rule broken: counted afresh, never trusted
        before = None
    said, record, changed = repeated(unusable, before)
    if record.repeats:
        ctx.tree.write_json(path, record.to_json())
    else:
        ctx.tree.remove(path)
    return said, changed
