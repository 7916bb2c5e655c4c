"""Which steps of an out-dir are done, stale, pending or running, and why, as a run decides what to skip (each step's
`plan` on run.json's settings, `runner.stale_reason`); it runs no step and writes nothing.

Of a run in progress it reads the files alone: the jobs done of those planned (02_corpus/plan.json and the ledgers:
`jobs_progress`, kit.report.eta.jobs_left), the step the run is in from its log and status.json (`running_step`), no
step after it planned, and no clip the kit's cache has not read (kit.media.cache.NotRead)."""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kit.errors import InputError, KitError
from kit.infra.clock import seconds_since_utc
from kit.infra.host import core_count
from kit.infra.invocation import kit_command
from kit.infra.records import read_record
from kit.infra.tree import Tree, read_out_dir
from kit.rundir import RunDir
from kit.steps import STEPS, LazyStep
from kit.steps.base import Context, require_output
from kit.steps.records import read_run_record, read_step_record
from kit.steps.runner import NOT_RUN, UNFINISHED, stale_reason
from kit.steps.settings import RunSettings, settings_command


@dataclass(frozen=True)
class StepStatus:
    number: int
    step: str
    state: str  # done | stale | pending | running | unused
    reason: str
    completed_at_utc: str | None = None
    # the corpus step's, while a run does its jobs or after one stopped (jobs_progress): its plan's jobs done
    jobs_done: int | None = None
    jobs_planned: int | None = None
    seconds_left: float | None = None  # its jobs' time left, at the pace of this run's jobs (None: estimating)


@dataclass(frozen=True)
class RunStatus:
    out_dir: str
    invoked_at_utc: str | None  # the latest invocation, whose settings the plans use
    command: str | None  # the latest invocation's settings, as a run (settings_command)
    running: str | None  # who holds the out-dir's lock right now, if anyone
    verdict: str | None
    steps: tuple[StepStatus, ...]
    # why the latest run's settings cannot be read (run.json damaged): no command can be said that keeps them
    settings_lost: str | None = None

    @property
    def next_command(self) -> str | None:
        """The run that brings the out-dir up to date; None when it is, while a run holds it, or when the latest
        run's settings are lost (a command without them would redo every step with the defaults)."""
        if self.running or self.settings_lost or all(s.state in ("done", "unused") for s in self.steps):
            return None
        return self.command or kit_command("run", "--out-dir", self.out_dir)

    def to_json(self) -> dict[str, object]:
        return {**dataclasses.asdict(self), "next_command": self.next_command}


def step_status(step: LazyStep, ctx: Context) -> StepStatus:
    from kit.infra.host import cache_tree
    from kit.media.demo import SECONDS, missing_demo_clips

    s, said = ctx.settings, functools.partial(StepStatus, step.number, step.name)
    if step.name == "corpus" and s.corpus is not None:
        return said("unused", f"--corpus given: training uses {s.corpus}")
    if step.name == "corpus" and s.ref_dir is None and (
            missing := missing_demo_clips(cache_tree(), s.demo_clips or None, s.demo_seconds or SECONDS)):
        return said("stale", f"demo clip(s) {', '.join(missing)} are not in the cache or are damaged; the next run "
                             "renders them")
    from kit.media.cache import NotRead

    try:
        reason = stale_reason(ctx.tree, ctx.run, step.name, step.impl.plan(ctx.for_step(step.name)))
    except NotRead as exc:  # a clip the cache has not read: status reads none (a whole decode, seconds to minutes)
        return said("stale", exc.message)
    except KitError as exc:
        return said("pending", exc.message)
    if reason in (NOT_RUN, UNFINISHED):
        return said("pending", UNFINISHED if reason == UNFINISHED else "not completed in this out-dir yet")
    if reason is not None:
        return said("stale", reason)
    record, _ = read_step_record(ctx.tree, ctx.run.status(step.name))
    return said("done", "up to date", record.completed_at_utc if record else None)


RUNNING = "running now, in the run that holds this out-dir"


def running_step(tree: Tree, run: RunDir) -> str | None:
    """The step the run that holds the out-dir is in, from the files alone: its log written since the lock was taken
    and no status.json (the runner removes it as the step starts, and writes it as it ends); None while the run is
    between steps, or planning a step it may skip (its status.json of before still there)."""
    if (lock := tree.entry(run.lock)) is None:
        return None
    found = [step.name for step in STEPS if tree.entry(run.status(step.name)) is None
             and (log := tree.entry(run.log(step.name))) is not None and log.st.st_mtime >= lock.st.st_mtime]
    return found[-1] if found else None


def waiting(step: LazyStep, current: str) -> StepStatus:
    """A step after the one the run is in: planned when the run reaches it (its inputs are being made now)."""
    return StepStatus(step.number, step.name, "pending", f"after {current}, in the run that holds this out-dir")


def with_upstream_note(statuses: list[StepStatus]) -> list[StepStatus]:
    """A done step after a stale or pending one is up to date *now*; say it may rerun after that one."""
    waiting = ("stale", "pending", "running")
    return [dataclasses.replace(st, reason=f"up to date; reruns if {ahead[0]} changes its outputs")
            if st.state == "done" and (ahead := [u.step for u in statuses[:i] if u.state in waiting]) else st
            for i, st in enumerate(statuses)]


@dataclass(frozen=True)
class JobsProgress:
    """The corpus's jobs as the files say: planned (02_corpus/plan.json), done (those reused, and each whose ledger
    in jobs/ this run wrote), and the time left (report/eta.jobs_left)."""

    planned: int
    done: int
    reused: int
    seconds_left: float | None
    damaged: tuple[str, ...] = ()  # the ledgers that do not read, each `<job>.json is damaged (...)`: redone

    def words(self) -> str:
        """`5 of 8 jobs done (3 reused), about 1 min left for its jobs`."""
        reused = f" ({self.reused} reused)" if self.reused else ""
        if self.done == self.planned:
            left = "its rows going into the shard"
        elif self.seconds_left is None:
            left = "estimating the time left (until this run has done three times as many jobs as run at once)"
        else:
            from kit.report.eta import rough

            left = f"about {rough(self.seconds_left)} left for its jobs"
        return f"{self.done} of {self.planned} jobs done{reused}, {left}{self.damage}"

    @property
    def damage(self) -> str:
        """`; 1 job's ledger is damaged, redone: <job>.json is damaged (...)` ("" for none)."""
        n = len(self.damaged)
        whose = f"{n} jobs' ledgers are" if n > 1 else "1 job's ledger is"
        return f"; {whose} damaged, redone: {self.damaged[0]}{f' (and {n - 1} more)' if n > 1 else ''}" if n else ""


def jobs_progress(tree: Tree, run: RunDir, since_utc: str | None,
                  now: float | None = None) -> JobsProgress | str | None:
    """The corpus's jobs done of planned, and their time left; None without a plan made since `since_utc` (the run's
    invocation: one still reading its clips has planned no job yet); the words for a plan that is damaged (read as
    none: its jobs are not counted). Read without the out-dir's lock."""
    from kit.corpus.progress import JobsPlan, listed_done, planned_jobs_done
    from kit.report.eta import jobs_left  # with a corpus step running or stopped: a finished out-dir plans no job

    plan, why = read_record(JobsPlan, tree, run.jobs_plan)
    if plan is None and why not in ("", "missing"):
        return f"{run.rel(run.jobs_plan)} is {why}: its jobs are not counted"
    if plan is None or (since_utc is not None and plan.started_at_utc < since_utc):
        return None
    done, damaged = planned_jobs_done(tree, run.jobs, plan, listed_done(tree, run.jobs_done, plan))
    now = time.time() if now is None else now
    left = None
    if (elapsed := seconds_since_utc(plan.started_at_utc, now)) is not None:
        # each job's end in seconds since the plan: the plan's age less the seconds since the job ended
        ended = {job_id: elapsed - (seconds_since_utc(at, now) or 0.0) for job_id, at in done.items() if at}
        left = jobs_left(plan.jobs, ended, set(plan.reused), elapsed, plan.workers or core_count())
    return JobsProgress(len(plan.jobs), len(done), len(plan.reused), left, tuple(damaged))


def with_progress(st: StepStatus, progress: JobsProgress | str | None, running: bool) -> StepStatus:
    """The corpus step's status with its jobs done of planned, and (while it runs) their time left; or with why its
    plan was not read (`progress` a text)."""
    if isinstance(progress, str):
        return dataclasses.replace(st, reason=f"{st.reason}; {progress}")
    if progress is None:
        return dataclasses.replace(st, reason=f"{st.reason}: reading the clips, no job planned yet") if running else st
    if not running:  # stopped: what a rerun keeps
        return dataclasses.replace(st, reason=f"{st.reason}; {progress.done} of {progress.planned} jobs done, each "
                                              "of which the next run reuses if its files still match its ledger"
                                              f"{progress.damage}", jobs_done=progress.done,
                                   jobs_planned=progress.planned)
    return dataclasses.replace(st, reason=f"{st.reason}: {progress.words()}", jobs_done=progress.done,
                               jobs_planned=progress.planned, seconds_left=progress.seconds_left)


def input_corpus(path: Path) -> Path:
    """What `merge` and `corpus info` read for a path: a file as it is, a run directory as its finished_corpus."""
    return finished_corpus(path) if path.is_dir() else path


def finished_corpus(out_dir: Path) -> Path:
    """The corpus a completed corpus step wrote in the run directory `out_dir`, refused naming the folder otherwise."""
    rundir = RunDir(out_dir)
    what = str(out_dir)
    with read_out_dir(out_dir) as tree:
        if tree.is_file(rundir.run_json):
            run, _ = read_run_record(tree, rundir.run_json)  # only names the shard: the corpus is checked below
            shard = run.settings.shard if run is not None else None
            what += f" (shard {shard.label})" if shard is not None else ""
        elif not tree.is_folder(rundir.step("corpus")):
            from kit.corpus.inputs import INPUT_HINT

            raise InputError(f"{out_dir} is a folder but no run directory (it has no run.json)", hint=INPUT_HINT)
        if (holder := tree.lock_holder(rundir.lock)) is not None:
            raise InputError(f"{what} is in use by a run ({holder}): its corpus may not be final",
                             hint="wait for that run to finish, then read its corpus again", retry_helps=True)
        quiet = Context(RunSettings(out_dir=out_dir.absolute()), lambda event: None, lambda line: None, tree)
        try:
            return require_output(quiet, rundir.shard, "corpus")
        except InputError as exc:
            raise InputError(f"{what}: {exc.message}",
                             hint=f"finish that run first ({kit_command('status', out_dir)} says what is "
                                  "left and the command that does it), or leave it out (of a merge)") from None


def all_pending(reason: str) -> tuple[StepStatus, ...]:
    return tuple(StepStatus(s.number, s.name, "pending", reason) for s in STEPS)


def recorded_only(tree: Tree, rundir: RunDir, why: str) -> Iterator[StepStatus]:
    """Each step as its own record says it ended, where run.json (`why`: how it is damaged) cannot say what the next
    run compares it with: pending, with when it completed, which a rerun with the same flags keeps."""
    for step in STEPS:
        try:
            record, _ = read_step_record(tree, rundir.status(step.name))
        except InputError as exc:  # a link or a pipe planted where its record lies: said as what it is
            yield StepStatus(step.number, step.name, "pending", exc.message)
            continue
        if record is None:
            yield StepStatus(step.number, step.name, "pending",
                             f"not completed in this out-dir yet ({rundir.rel(rundir.run_json)} is {why})")
        else:
            yield StepStatus(step.number, step.name, "pending",
                             f"completed; its settings were in {rundir.rel(rundir.run_json)}, which is {why}: a rerun "
                             "with the same flags keeps it if its inputs are unchanged", record.completed_at_utc)


def run_status(out_dir: Path) -> RunStatus:
    out_dir = out_dir.absolute()
    rundir = RunDir(out_dir)
    if not out_dir.is_dir():
        return RunStatus(str(out_dir), None, None, None, None, all_pending(NOT_RUN))
    with read_out_dir(out_dir) as tree:
        run, why = read_run_record(tree, rundir.run_json)
        running = tree.lock_holder(rundir.lock)
        if run is None and why == "missing":
            return RunStatus(str(out_dir), None, None, running, None, all_pending(NOT_RUN))
        if run is None:  # the steps' own records say what was done; the settings they were done with are lost
            lost = f"{rundir.rel(rundir.run_json)} is {why}"
            found = rundir.verdict_on_disk(tree)
            return RunStatus(str(out_dir), None, None, running, found[0] if found is not None else None,
                             tuple(recorded_only(tree, rundir, why)), settings_lost=lost)
        settings = dataclasses.replace(run.settings, out_dir=out_dir)  # the out-dir asked about (it may have moved)
        quiet = Context(settings, lambda event: None, lambda line: None, tree)
        # the step the run is in is running, those after it wait for it: neither is planned (a plan would read what
        # the running step is writing, and the corpus step's reads every clip)
        current = running_step(tree, rundir) if running is not None else None
        names = [step.name for step in STEPS]
        statuses = [StepStatus(step.number, step.name, "running", RUNNING) if step.name == current
                    else waiting(step, current) if current is not None and names.index(step.name) > names.index(current)
                    else step_status(step, quiet) for step in STEPS]
        found = rundir.verdict_on_disk(tree)
        statuses = [with_progress(st, jobs_progress(tree, rundir, run.invoked_at_utc if st.state == "running"
                                                    else None), st.state == "running")
                    if st.step == "corpus" and (st.state == "running" or st.reason == UNFINISHED) else st
                    for st in statuses]
        return RunStatus(str(out_dir), run.invoked_at_utc, settings_command(settings, rundir.run_json, "run"),
                         running, found[0] if found is not None else None, tuple(with_upstream_note(statuses)))
