"""LOSO's members on disk (kit.model.tasks): the store, the gather (those it lacks trained, or with --train-tasks N
refused naming the task that trains them), and one training task's share (`step loso --train-task K/N`)."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kit.errors import InputError
from kit.events import Forecast, Info
from kit.infra.files import host_name, sha256_json
from kit.infra.shown import Spelled
from kit.infra.variables import TRAIN_RETRY
from kit.model.recipe import TEACHER
from kit.steps import formats_of
from kit.steps.base import Context, Plan, rerun
from kit.steps.settings import RunSettings
from kit.steps.view import record_form

if TYPE_CHECKING:
    from kit.model.baselines import BaselineResult
    from kit.model.loso import LosoInputs, LosoResult, Said
    from kit.model.tasks import MemberKey, MemberRecord, MemberStore
    from kit.model.train import EpochCallback, TrainJob

# set by a scheduler adapter: how to train tasks again there, `{tasks}` their numbers (`sbatch --array={tasks} ...`)


def kept_apart(settings: RunSettings) -> tuple[str, ...]:
    """The extra columns training reads for --holdout's folds: the box, the encode's and the source's heights."""
    return (("box_id",) if "box" in settings.holdout else ()) + (
        ("enc_height", "height") if "rung" in settings.holdout else ())


def jobs_and_store(ctx: Context, plan: Plan, inputs: LosoInputs, settled: int | None,
                   on_epoch: EpochCallback | None = None, made_by: str = "the loso step",
                   ) -> tuple[list[TrainJob], MemberStore]:
    """What this LOSO trains (the ensemble's networks not where no correction can be kept: `settled`, the held-out
    encodes the teacher's function keeps, kit.model.floor.settled), and its members' store as `made_by` (the loso
    step, training task K/N) makes them."""
    from kit.model.baselines import loso_jobs
    from kit.model.tasks import MemberStore, Origin

    s = ctx.settings
    formats = formats_of("loso", plan)
    train = record_form(s.train, "loso")  # as LOSO's fingerprint holds it: a later field only off its default
    made_from = sha256_json({"corpus": plan.inputs["corpus"], "kept_apart": list(kept_apart(s)), "folds": str(s.folds),
                             "train": train, "formats": formats, "recipe": inputs.recipe})
    store = MemberStore(ctx.tree, ctx.run.members_of(made_from), Origin(
        made_from, plan.inputs["corpus"], sha256_json(train), formats, made_by,
        f"pid {os.getpid()} on {host_name()}"))
    return loso_jobs(inputs, list(s.seeds), s.train, on_epoch, ensemble=settled is None), store


@dataclass(frozen=True)
class TrainingTime:
    """The training behind a LOSO's members: in all, the training tasks', and how many runs of the step trained some."""

    seconds: float
    tasks_seconds: float
    attempts: int

    @classmethod
    def of(cls, records: list[MemberRecord]) -> TrainingTime:
        tasks = sum(r.seconds for r in records if r.made_by.startswith("training task"))
        runs = {r.process for r in records if not r.made_by.startswith("training task")}
        return cls(round(sum(r.seconds for r in records), 3), round(tasks, 3), len(runs))


def refuse_missing(ctx: Context, plan: Plan, inputs: LosoInputs, settled: int | None) -> None:
    from kit.model.tasks import job_keys

    if not ctx.settings.train_tasks:
        return
    jobs, store = jobs_and_store(ctx, plan, inputs, settled)
    keys = [key for job in jobs for key in job_keys(job)]
    if missing := [key for key in keys if not store.has(key)]:
        raise missing_members(ctx, jobs, missing, len(keys), store.folder)


def train_and_gather(ctx: Context, plan: Plan, inputs: LosoInputs, on_epoch: EpochCallback, workers: int,
                     settled: int | None, said: Said
                     ) -> tuple[LosoResult, dict[str, BaselineResult], list[MemberRecord]]:
    """LOSO and the baselines from every member in the store; what it lacks trained first (--train-tasks N: refused),
    the evaluation `said` as it goes. The teacher recipe's rows are let go before the evaluation, which needs only its
    function, unless a --holdout trains on them after. Where no correction can be kept (`settled`), the ensemble's
    members are its untrained zero corrections, said so."""
    from kit.infra.resources import give_back_memory
    from kit.model.baselines import evaluate_jobs, settled_ensemble
    from kit.model.tasks import gather, job_keys, missing_keys, train_missing
    from kit.model.train import TrainData

    s = ctx.settings
    jobs, store = jobs_and_store(ctx, plan, inputs, settled, on_epoch)
    found = store.load_all(jobs)
    missing = missing_keys(jobs, found)
    total = len(found) + len(missing)
    if missing and s.train_tasks:
        raise missing_members(ctx, jobs, missing, total, store.folder)
    if found:
        ensemble = 0 if settled is not None else len(jobs[0].members)  # loso_jobs: the ensemble's, then the baselines'
        ctx.say("loso", Spelled(f"{len(found)} of {total} members already trained (of {total}: the ensemble's "
                                f"{ensemble}, the baselines' {total - ensemble}) in ", store.folder,
                                f"; training the other {len(missing)}" if missing else ""))
    forecast_rest(ctx, jobs, len(missing) / max(1, total), workers, len(inputs.target), inputs.recipe)
    if missing:
        trained = train_missing(functools.partial(TrainData.of, inputs.feats, inputs.codec, inputs.target), jobs,
                                set(missing), (), store, s.train, workers, inputs.distil, release(inputs, s))
        give_back_memory()  # the training's tables and the threads' arrays, freed: not carried into the evaluation
        found |= store.load_all(jobs, set(trained))
        if lost := missing_keys(jobs, found):  # written a moment ago: only a neighbour could have removed them
            raise InputError(f"{len(lost)} member file(s) vanished from {store.folder} as soon as they were written",
                             hint="another process removes files in this out-dir: stop it, then rerun")
    if (done := release(inputs, s)) is not None:  # (again) where every member was on disk and none trained
        done()
    ensembles = gather(jobs, found)
    if settled is not None:
        ensembles = [settled_ensemble(inputs, list(s.seeds), s.train), *ensembles]
    result, baselines = evaluate_jobs(inputs, list(s.seeds), ensembles, s.train, said)
    return result, baselines, [found[key][1] for job in jobs for key in job_keys(job)]


def release(inputs: LosoInputs, settings: RunSettings) -> Callable[[], None] | None:
    """What lets the teacher recipe's rows go once its members are trained (the baselines and the evaluation need
    only its function); None where there are none, or a --holdout trains on them after."""
    from kit.infra.resources import give_back_memory

    if (distil := inputs.distil) is None or settings.holdout:
        return None

    def done() -> None:
        distil.release()
        give_back_memory()
    return done


def forecast_rest(ctx: Context, jobs: list[TrainJob], share: float, workers: int, rows: int, recipe: str) -> None:
    """The work left of LOSO, and the verdict's and the bundle's after it (kit.model.cost), for the run's ETA."""
    from kit.model.cost import WORK_PER_PARAM_STEP, bundle_work, loso_rest, verdict_work
    from kit.model.train import planned_arithmetic

    config, holdouts = ctx.settings.train, len(ctx.settings.holdout)
    teacher = recipe == TEACHER
    units = planned_arithmetic(jobs, config, workers, teacher) * share \
        + planned_arithmetic(jobs[:1], config, workers, teacher) * holdouts
    training = round(units * WORK_PER_PARAM_STEP)
    seeds = len(ctx.settings.seeds)
    setup, after = loso_rest(rows, seeds, config, holdouts)
    if not share:  # no member to train (every one on disk, a cluster's gather): the set-up is done, none of it left
        setup = 0.0
    # else the set-up, done by now, is counted done at the training's first epoch (its pace is the set-up's)
    ctx.emit(Forecast("loso", round(training + setup + after), training, round(setup)))
    ctx.emit(Forecast("verdict", round(verdict_work(rows).work)))
    bundle = bundle_work(rows, seeds, config, workers)
    ctx.emit(Forecast("bundle", round(bundle.work), round(bundle.training), round(bundle.setup)))


def missing_members(ctx: Context, jobs: list[TrainJob], missing: list[MemberKey], total: int,
                    folder: Path) -> InputError:
    """Members missing under --train-tasks N: which, the tasks that train them, and how to run those again."""
    from kit.model.tasks import describe, share_out, task_of

    n = ctx.settings.train_tasks
    where = task_of(share_out(jobs, n))
    tasks = sorted({where[key] for key in missing})
    listed = ",".join(map(str, tasks))
    retry = str(TRAIN_RETRY.read()).strip()
    again = retry.replace("{tasks}", listed) if retry else \
        rerun(ctx, "step", "loso", "--train-task", f"{tasks[0]}/{n}") \
        + (f" (and so for task(s) {listed})" if len(tasks) > 1 else "")
    return InputError(f"{len(missing)} of {total} LOSO member(s) missing from {folder}: {describe(missing)}; "
                      f"--train-tasks {n}: task(s) {listed} of {n} train them",
                      hint=f"train them again: {again}; then rerun this command (the members on disk are kept)")


def train_share(ctx: Context, plan: Plan, inputs: LosoInputs, k: int, n: int, workers: int,
                on_epoch: EpochCallback, settled: int | None) -> dict[str, object]:
    """Training task K of N: the members of share K the store lacks, written as they finish; the summary."""
    from kit.model.tasks import share_out, train_missing
    from kit.model.train import TrainData

    s = ctx.settings
    jobs, store = jobs_and_store(ctx, plan, inputs, settled, on_epoch, f"training task {k}/{n}")
    share = share_out(jobs, n)[k - 1]
    have = store.load_all(jobs, set(share))
    ctx.emit(Info("loso", f"task {k}/{n}: {len(share)} of LOSO's {sum(len(j.members) for j in jobs)} members, "
                          f"{len(have)} already in {store.folder}"))
    trained = train_missing(functools.partial(TrainData.of, inputs.feats, inputs.codec, inputs.target), jobs,
                            set(share), set(have), store, s.train, workers, inputs.distil, release(inputs, s))
    return {"task": f"{k}/{n}", "members": len(share), "on_disk": len(have), "trained": len(trained)}
