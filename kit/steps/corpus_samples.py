"""The consumer's samplings encoded on their own (--consumer-samplings encoded): the corpus step's sample jobs
planned, run after its corpus jobs in the step's one count, and their rows written (02_corpus/samples.parquet). A
helper of steps/s02_corpus.py (not a step)."""

from __future__ import annotations

from pathlib import Path

from kit.corpus.failures import failed_clips, refuse_failures
from kit.corpus.jobs import Job, JobRunner, Provenance
from kit.corpus.samples import SampleJob, plan_samples, run_samples, samples_failed, write_samples
from kit.corpus.samplings import ENCODED
from kit.corpus.scheduler import concurrency
from kit.events import Doing
from kit.infra.host import core_count
from kit.infra.shown import Spelled
from kit.media.discovery import Unusable
from kit.media.refs import Clip
from kit.model.consumer import QUERIED_ENCODERS
from kit.platforms.encoders import session_semaphores
from kit.steps.base import Context
from kit.steps.corpus_inputs import Prepared, strict


def sample_jobs(ctx: Context, jobs: list[Job], p: Prepared) -> list[SampleJob]:
    """The consumer's samplings to encode on their own (--consumer-samplings encoded; none on a box that cannot train,
    whose corpus LOSO never reads here): the jobs at vmaf-tune's encoders and CRFs, of clips longer than the window."""
    s = ctx.settings
    if s.consumer_samplings != ENCODED or ctx.corpus_only is not None:
        return []
    lo, hi = s.vmaftune_crf_range
    times = {c.sha256: tuple(t.seconds()) for c in {j.clip.sha256: j.clip for j in jobs}.values()
             if (t := p.refs.times(c)) is not None}  # each clip's once
    return plan_samples(jobs, s.consumer_window, lambda j: j.encoder in QUERIED_ENCODERS and lo <= j.cq <= hi,
                        lambda j: times.get(j.clip.sha256))


def encode_samples(ctx: Context, p: Prepared, samples: list[SampleJob], kept: list[Clip], count: tuple[int, int],
                   generation: str = "") -> tuple[dict[str, Unusable], list[str]]:
    """The sample jobs of the clips kept run (those done before, of this redo `generation`, reused; each counted on
    from the step's jobs, `count`: the corpus jobs and the step's total): the clips a sample job of which failed in a
    child, left out as a corpus job's are (failed_clips), and those of them a rerun tries again; a failure no clip is
    to blame for (a full disk, a clip changed mid-run) is said and stops the step as a corpus job's does
    (refuse_failures), so the rerun does it again: a step that completed without it would be up to date without it."""
    run, tree = ctx.run, ctx.tree
    paths = {c.path for c in kept}
    samples = [x for x in samples if x.job.clip.path in paths]
    if not samples:
        return {}, []
    cores = core_count()
    n_par = concurrency(ctx.settings.jobs, cores, len(samples))
    runner = JobRunner(ffmpeg=p.prov.ffmpeg_path, prov=p.prov, tree=tree, jobs_dir=run.jobs, work_dir=run.corpus_work,
                       vmaf_threads=max(1, cores // n_par), encoder_threads=1,  # a window a thread, as a corpus job's
                       sessions=session_semaphores(p.encoders), log=ctx.log, hw=p.hw, generation=generation)
    ctx.emit(Doing("corpus", f"encoding the consumer's samplings of {len(samples)} encodes on their own"))
    failures = run_samples(runner, samples, n_par, ctx.emit, *count)
    tree.remove_folder(run.corpus_work)
    failed, again, rest = failed_clips(failures, kept, strict(ctx.settings), len(samples), "sample jobs")
    if rest:  # each one's command and stderr tail are in the step log already (kit.infra.proc.run_process)
        ctx.say("corpus", samples_failed(rest, len(samples)))
        refuse_failures(rest, len(samples), p.prov.teacher, "sample jobs")
    return failed, again


def write_samplings(ctx: Context, prov: Provenance, samples: list[SampleJob], kept: list[Clip]) -> Path | None:
    """02_corpus/samples.parquet: the rows of the sample jobs of the clips kept that are done; None (and no file)
    where none was asked."""
    run, tree = ctx.run, ctx.tree
    paths = {c.path for c in kept}
    samples = [x for x in samples if x.job.clip.path in paths]
    if not samples:
        tree.remove(run.samples)
        return None
    rows = write_samples(tree, samples, run.jobs, run.samples, prov)
    ctx.log(Spelled(f"the consumer's samplings: {rows} frames of {len(samples)} encodes in ", run.samples))
    return run.samples
