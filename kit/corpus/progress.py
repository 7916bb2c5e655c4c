"""What a running corpus step planned and finished, as `status` counts it while it runs: `02_corpus/plan.json` (the
jobs planned), `02_corpus/done.txt` (the jobs this run finished, a line each) and the ledgers of `jobs/` for what the
list does not name (kit.steps.status.jobs_progress)."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from kit.corpus.jobs import JobLedger, JobResult
from kit.infra.limits import MAX_RECORD_COUNT
from kit.infra.records import Record, keep, read_record
from kit.infra.rules import COUNT, FILE_NAME, STAMP, Each, Keys, Real
from kit.infra.tree import Tree


@dataclass(frozen=True)
class JobsPlan(Record):
    """`02_corpus/plan.json`: the jobs a corpus run planned, each with its work (pixel-frames,
    kit.corpus.scheduler.job_work), then its sample jobs (kit.corpus.samples, their ids `<job>__samples`, their work
    counted alike), those it reused and its redo generation; written as its jobs start, removed once its shard and
    samplings are written. `status` counts the ledgers of jobs/ against it while the run goes, or after it stopped
    (a plan of before 2.2.0 lists no sample job: read the same)."""

    LENIENT = True  # a plan of before 2.3 says no workers

    started_at_utc: str = field(metadata=keep(STAMP))
    # each job by its id, the name of its files in jobs/ (a folder in it would be read outside jobs/), and its work in
    # pixel-frames
    jobs: dict[str, float] = field(metadata=keep(Keys(FILE_NAME), Each(Real(0, MAX_RECORD_COUNT))))
    reused: list[str] = field(metadata=keep(Each(FILE_NAME)))
    generation: str = ""
    # how many jobs run at once (status's time left waits for twice as many done); 0: not said
    workers: int = field(default=0, metadata=keep(COUNT))


class DoneList:
    """`02_corpus/done.txt`: each job this run finishes, a line (`<job id>\\t<its end, UTC>`, the end its ledger
    says) appended as the step's own thread hears of it (scheduler.run_pool's `kept`). Begun anew before each plan
    is written (a link or pipe planted at its name is refused there, before any job) and opened once; a line that
    cannot be written only costs `status` a read of that job's ledger, never the job or the step."""

    def __init__(self, tree: Tree, path: Path) -> None:
        tree.remove(path)
        self._fh: IO[str] | None = tree.open_append(path)

    def add(self, result: JobResult) -> None:
        if self._fh is None or not result.completed_at_utc:
            return
        try:
            self._fh.write(f"{result.job_id}\t{result.completed_at_utc}\n")
            self._fh.flush()
        except OSError:  # a full disk: status reads the ledgers of the jobs not listed
            self.close()

    def close(self) -> None:
        fh, self._fh = self._fh, None
        if fh is not None:
            with contextlib.suppress(OSError):
                fh.close()


def listed_done(tree: Tree, path: Path, plan: JobsPlan) -> dict[str, str]:
    """The plan's jobs that `02_corpus/done.txt` says this run finished, each with its end. A line of another plan
    (an end before it started), of no job it plans, or that does not read (cut short by a stop, a stamp that is no
    date) is passed by, and so is a list that is missing or writable by others: those jobs' ledgers are read
    instead. A link or pipe planted at its name is refused, as at plan.json."""
    if (fh := tree.open_checked(path)) is None:
        return {}
    with fh:
        text = fh.read().decode("utf-8", "replace")
    found: dict[str, str] = {}
    for line in text.splitlines():
        job_id, tab, at = line.partition("\t")
        if tab and job_id in plan.jobs and STAMP.problem(at) is None and at >= plan.started_at_utc:
            found[job_id] = at
    return found


def planned_jobs_done(tree: Tree, jobs_dir: Path, plan: JobsPlan,
                      listed: Mapping[str, str] | None = None) -> tuple[dict[str, str], list[str]]:
    """The plan's jobs done, each with when it ended (its ledger's completed_at_utc; "" for one reused): those it
    reused, those `listed` (listed_done: this run's, by the line it wrote as each ended, so a step of thousands of
    jobs is counted without reading thousands of ledgers), and each other one whose ledger this run wrote (completed
    since the plan was made, of its redo generation): a ledger present from before is a job still to redo; and the
    words for each ledger read that is damaged (its job is redone, as a missing one's)."""
    reused, present = set(plan.reused), tree.file_names(jobs_dir)  # the folder read once, not each ledger's path
    done, damaged = {job_id: "" for job_id in plan.jobs if job_id in reused}, []
    for job_id in (j for j in plan.jobs if j not in reused):
        if listed and job_id in listed:
            done[job_id] = listed[job_id]
            continue
        path = jobs_dir / f"{job_id}.json"
        ledger, why = read_record(JobLedger, tree, path) if path.name in present else (None, "missing")
        if ledger is None and why != "missing":
            damaged.append(f"{path.name} is {why}")
        if ledger is not None and ledger.completed_at_utc >= plan.started_at_utc and ledger.generation == (
                plan.generation or None):
            done[job_id] = ledger.completed_at_utc
    return done, damaged
