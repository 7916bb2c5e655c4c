"""What a rerun of the corpus step redoes, and says: a forced run's redo generation (02_corpus/redo.json, which
outlives an interrupt), the jobs and sample jobs an earlier run made that this one reuses, and a line per reason for
those it redoes. A helper of steps/s02_corpus.py (not a step)."""

from __future__ import annotations

import uuid

from kit.corpus.children import job_words
from kit.corpus.jobs import REDO_WHY, Job, RedoStamp, job_redo_reason
from kit.corpus.samples import WHAT, SampleJob, sample_redo_reason
from kit.events import Info
from kit.infra.clock import utc_iso
from kit.infra.records import read_record
from kit.infra.shown import Spelled
from kit.steps.base import Context
from kit.steps.corpus_inputs import Prepared


def redo_generation(ctx: Context) -> str:
    """A forced corpus run's redo generation (its stamp outlives an interrupt), "" when every ledger may be reused."""
    stamp, tree = ctx.run.redo_stamp, ctx.tree
    if not ctx.forced:
        if tree.entry(stamp) is None:
            return ""
        recorded, _ = read_record(RedoStamp, tree, stamp)
        if recorded is not None and recorded.generation:
            ctx.emit(Info("corpus", f"an interrupted forced run (since {recorded.since_utc}) is resumed: "
                                    "jobs it had not redone yet are redone now"))
            return recorded.generation
        ctx.log(Spelled(stamp, " is damaged; it is rebuilt and every job is redone"))
        ctx.emit(Info("corpus", f"{stamp.name} (an interrupted forced run's record) was damaged: rebuilt, "
                                "every job is redone"))
    record = RedoStamp(uuid.uuid4().hex[:16], utc_iso())
    tree.write_json(stamp, record.to_json())
    return record.generation


REDONE_SHOWN = 5  # the jobs redone for one reason the terminal names; the step log names every one


def reused(ctx: Context, p: Prepared, jobs: list[Job], samples: list[SampleJob], generation: str,
           checked: frozenset[str]) -> tuple[set[str], set[str]]:
    """(the jobs, the sample jobs) an earlier run made that this one reuses (of this redo `generation`; `checked`: the
    jobs that hold the independent check); each it redoes said with why (say_redone)."""
    tree, folder = ctx.tree, ctx.run.jobs
    redo = {j.job_id: job_redo_reason(tree, folder, j, p.prov, generation, j.job_id in checked) for j in jobs}
    redo_samples = {x.job_id: sample_redo_reason(tree, folder, x, p.prov, generation) for x in samples}
    say_redone(ctx, [(job_words(j), redo[j.job_id]) for j in jobs]
               + [(job_words(x.job, WHAT), redo_samples[x.job_id]) for x in samples])
    return ({job_id for job_id, why in redo.items() if why is None},
            {job_id for job_id, why in redo_samples.items() if why is None})


def say_redone(ctx: Context, jobs: list[tuple[str, str | None]]) -> None:
    """Each job an earlier run made that this one redoes, and why (kit.corpus.jobs.REDO_WHY): a line per job in the
    step log; on the terminal a line per reason, naming its first REDONE_SHOWN jobs (a job reused, or never made
    before, is no redo)."""
    by_why: dict[str, list[str]] = {}
    for words, why in jobs:
        if why:
            by_why.setdefault(why, []).append(words)
            ctx.log(f"redone: {words}: {REDO_WHY[why]}")
    for why, named in by_why.items():
        more = f" and {len(named) - REDONE_SHOWN} more (the step log names them)" if len(named) > REDONE_SHOWN else ""
        ctx.emit(Info("corpus", f"redone: {', '.join(named[:REDONE_SHOWN])}{more}: {REDO_WHY[why]}"))
