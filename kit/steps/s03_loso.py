"""Step 03: leave-one-source-out training and evaluation for every seed, and the
baselines on the same folds."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from kit.corpus.schema import corpus_sha256
from kit.corpus.split import refuse_small_shard
from kit.errors import InputError, ResourceLimit
from kit.events import Epoch, Info
from kit.infra.files import (
    atomic_path,
    open_temp,
    remove_output,
    sha256_file,
    sha256_json,
    write_json,
)
from kit.infra.invocation import kit_command
from kit.infra.resources import out_of_memory
from kit.model.recipe import AUTO, AUTO_K, MIN_SOURCES
from kit.model.results import Baselines, CorpusRef, FoldScheme
from kit.model.threads import apply_threads, choose_threads
from kit.steps.base import Context, Outcome, Plan, require_output
from kit.steps.clock import TrainingClock, tasks_seconds
from kit.steps.members import (
    clear_members,
    kept_apart,
    members_fingerprint,
    refuse_missing,
    train_and_gather,
    train_share,
)
from kit.verdict.kinds import GROUPS

if TYPE_CHECKING:
    import pandas as pd

    from kit.model.loso import LosoInputs


def corpus_path(ctx: Context) -> Path:
    """The corpus LOSO trains on: --corpus, else this run's own shard."""
    if ctx.settings.corpus is not None:
        if ctx.settings.content_groups is not None:  # the groups of a corpus file are in its rows already
            raise InputError(f"--content-groups has no effect with --corpus: {ctx.settings.corpus}'s rows already name "
                             "their content groups",
                             hint=kit_command("merge", ctx.settings.corpus, "--content-groups",
                                              ctx.settings.content_groups, "-o", "regrouped.parquet")
                             + ", then --corpus regrouped.parquet")
        if not ctx.settings.corpus.is_file():
            raise InputError(f"--corpus {ctx.settings.corpus} does not exist",
                             hint="pass a shard.parquet or a merged corpus file")
        return ctx.settings.corpus
    return require_output(ctx, ctx.run.shard, "corpus")


def locate_incumbent(ctx: Context) -> tuple[Path, list[Path]]:
    """--incumbent's ensemble manifest and models. One that lies in this out-dir was copied when LOSO scored it
    (take_incumbent): once the bundle step has moved the original aside (a HOLD), that copy stands for it, so
    the same command still resumes."""
    from kit.model.incumbent import find_incumbent, kept_copy

    given = ctx.settings.incumbent
    assert given is not None
    try:
        return find_incumbent(given)
    except InputError:
        if (kept := kept_copy(ctx.run.incumbent_models, given)) is None:
            raise
        return kept


def take_incumbent(ctx: Context) -> tuple[Path, Path | None]:
    """The folder whose models LOSO scores, and the folder they were copied from. An incumbent inside the out-dir
    is copied first (into 03_loso/incumbent/): the bundle step moves earlier exports aside, and the models that
    were scored must stay where this run's record says they are."""
    from kit.model.incumbent import copied_from, copy_incumbent

    manifest, models = locate_incumbent(ctx)
    folder, run, given = manifest.parent, ctx.run, ctx.settings.incumbent
    assert given is not None
    if folder.resolve() == run.incumbent_models.resolve():
        return folder, copied_from(folder)
    if not folder.resolve().is_relative_to(ctx.out_dir.resolve()):
        return folder, None
    copy_incumbent(manifest, models, run.incumbent_models, given)
    ctx.emit(Info("loso", f"--incumbent {given} lies in this out-dir, whose bundle step moves earlier models aside: "
                          f"its {len(models)} model(s) were copied to {run.incumbent_models} and are scored there"))
    return run.incumbent_models, folder


def training_memory_error(exc: BaseException, rows: int, seeds: int, scheme: FoldScheme) -> ResourceLimit:
    """Training that ran out of memory, named with what to lower (exit 2, never an internal error)."""
    fewer = "--folds 10 (or auto), " if scheme.scheme == "loso" and scheme.folds > AUTO_K else ""
    return ResourceLimit(f"out of memory while training {seeds} seed(s) x {scheme.folds} folds ({scheme.label}) "
                         f"on {rows} rows: {type(exc).__name__}: {visible_cause(exc)}",
                         hint=f"lower {fewer}the seeds (--seeds) or the corpus's rows, or free memory (close other "
                              "programs), and rerun; the corpus is kept")


def visible_cause(exc: BaseException) -> str:
    """The first line of the exception's message, cut short (torch's allocator explains at length)."""
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else "no message"


class LosoStep:
    name = "loso"

    def plan(self, ctx: Context) -> Plan:
        s = ctx.settings
        # the corpus's content, not its bytes: a rerun whose rows differ only in enc_time_ms is the same corpus
        inputs = {"corpus": corpus_sha256(corpus_path(ctx))}
        if s.incumbent is not None:
            _, models = locate_incumbent(ctx)
            inputs["incumbent"] = ",".join(f"{p.name}:{sha256_file(p)}" for p in models)
        # --folds at its default is left out, so a run of an earlier kit (LOSO, no --folds) resumes as it was
        folds = {"folds": s.folds} if s.folds != AUTO else {}
        holdout = {"holdout": list(s.holdout)} if s.holdout else {}  # likewise: absent when not asked
        return Plan(settings={"seeds": list(s.seeds), "train": s.train.to_json(),
                              "incumbent": str(s.incumbent) if s.incumbent else None, **folds, **holdout},
                    inputs=inputs)

    def holdout(self, ctx: Context, df: pd.DataFrame, inputs: LosoInputs, kind: str,
                on_epoch: Callable[[int, int, float], None], workers: int) -> pd.DataFrame:
        """--holdout `kind`: every encoder (box) left out in turn, crossed with grouped folds over contents."""
        from kit.model.holdout import run_holdout

        s = ctx.settings
        ctx.emit(Info(self.name, f"--holdout {kind}: training {len(s.seeds)} seeds on every {kind} left out in "
                                 "turn"))
        frame, why = run_holdout(df, inputs.feats, inputs.codec, inputs.target, kind, list(s.seeds), s.train,
                                 str(corpus_path(ctx)), on_epoch, workers)
        ctx.log(f"--holdout {kind}: {why}")
        return frame.assign(scheme=why)

    def run(self, ctx: Context, plan: Plan) -> Outcome:
        # torch, pyarrow and pandas load here, not when planning: `status` plans every step
        from kit.corpus.schema import training_corpus
        from kit.model.incumbent import SOURCE, incumbent_loso, incumbent_scores
        from kit.model.loso import ROW_IDENTITY, LosoInputs

        s, run = ctx.settings, ctx.run
        corpus = corpus_path(ctx)
        df, duplicates = training_corpus(corpus, (*kept_apart(s), *ROW_IDENTITY))  # + what predictions.parquet says
        if duplicates:  # merge's rule: one key, the same scores (kit.corpus.dedup)
            line = (f"{duplicates} duplicate row(s) dropped from {corpus} (same key and scores as another row, "
                    f"as merge drops them); training on {len(df)} rows")
            ctx.log(line)
            ctx.emit(Info(self.name, line))
        n_sources = df["src_sha256"].nunique()
        refuse_small_shard(corpus, int(df["content"].nunique()), MIN_SOURCES)
        threads = choose_threads()
        inputs = LosoInputs.of(df, s.folds)  # the folds: a source too short for one is refused here
        scheme, n_folds = inputs.scheme, len(inputs.folds)
        ctx.emit(Info(self.name, f"{len(df)} rows, {n_sources} sources; {scheme.label} ({scheme.why}); training "
                                 f"{len(s.seeds)} seeds x {n_folds} folds and the baselines on {threads.train} "
                                 "thread(s)"))
        apply_threads(threads)
        ctx.log(threads.describe())
        # the incumbent runs first: one that cannot score this corpus is refused before any training
        folder, original = take_incumbent(ctx) if s.incumbent else (None, None)
        scored = (incumbent_scores(folder, inputs.feats, inputs.codec, run.incumbent_work, ctx.log)
                  if folder is not None else None)
        refuse_missing(ctx, plan, inputs)  # --train-tasks N: members another task has not trained yet
        clock = TrainingClock(run.loso_attempts, sha256_json({"settings": plan.settings, "inputs": plan.inputs}))
        if clock.attempts > 1:
            ctx.emit(Info(self.name, f"{clock.attempts - 1} earlier attempt(s) of this LOSO stopped after "
                                     f"{clock.earlier:.1f} s of training; the members they finished are "
                                     "kept, and train_seconds counts them too"))

        def on_epoch(epoch: int, epochs: int, loss: float) -> None:
            ctx.emit(Epoch(self.name, epoch, epochs, len(s.seeds) * n_folds, loss))
            clock.tick()

        try:
            result, models = train_and_gather(ctx, plan, inputs, on_epoch, threads.train)  # kit.steps.members
            held = {kind: self.holdout(ctx, df, inputs, kind, on_epoch, threads.train) for kind in s.holdout}
        except BaseException as exc:
            with contextlib.suppress(Exception):  # never in the way of why training stopped
                clock.save()  # an interrupt or a failure: the next attempt counts this one's training
            if out_of_memory(exc):
                raise training_memory_error(exc, len(df), len(s.seeds), scheme) from exc
            raise
        # --train-tasks N: what the tasks trained counts too (their records sit beside the members)
        fingerprint = members_fingerprint(ctx, plan)
        tasks = tasks_seconds(run.task_clocks(fingerprint), fingerprint)
        train_seconds = round(clock.seconds + tasks, 3)
        corpus_sha = plan.inputs["corpus"]  # hashed when planning, before the file was read
        baselines = Baselines(corpus_sha, models)
        incumbent = incumbent_loso(scored, inputs.target, inputs.folds, original) if scored is not None else None

        for stale in run.loso_seed_files():  # seeds of an earlier run must not linger
            remove_output(stale)
        outputs: list[Path] = []
        ref = CorpusRef(str(corpus.resolve()), corpus_sha, len(df))
        for report in result.seed_reports:
            path = run.loso_seed(report.seed)
            write_json(path, replace(report, corpus=ref, train_config=s.train.to_json(),
                                     batched_members=result.n_members, train_seconds=train_seconds,
                                     train_tasks_seconds=tasks or None,
                                     train_attempts=clock.attempts if clock.attempts > 1 else None,
                                     validation=scheme).to_json())
            outputs.append(path)
        write_json(run.baselines, baselines.to_json())
        outputs.append(run.baselines)
        remove_output(run.incumbent)
        if incumbent is not None:
            write_json(run.incumbent, incumbent.to_json())
            outputs.append(run.incumbent)
        if scored is not None and original is not None:  # the copy scored: recorded, so an edit of it is seen
            outputs += [scored[0], *scored[1], scored[0].parent / SOURCE]
        for stale in (run.holdout(kind) for kind in ("encoder", "box") if kind not in held):
            remove_output(stale)
        frames = [(run.folds, result.folds), (run.predictions, result.predictions), (run.clips, result.clips),
                  *((run.holdout(kind), frame) for kind, frame in held.items())]
        for path, frame in frames:
            with atomic_path(path) as tmp, open_temp(tmp) as fh:
                frame.to_parquet(fh, index=False)
            outputs.append(path)
        clock.done()
        clear_members(run)  # the reports hold what the members were kept for
        means = [r.mean_plcc for r in result.seed_reports]
        extra: dict[str, object] = {"attempts": clock.attempts} if clock.attempts > 1 else {}
        if tasks:
            extra["tasks_seconds"] = tasks
        if duplicates:
            extra["duplicates_dropped"] = duplicates
        return Outcome(outputs, {"seeds": list(s.seeds), "folds": scheme.label, "members": result.n_members,
                                 "mean_plcc": sum(means) / len(means), "mean_plcc_is": GROUPS,
                                 "ridge_mean_plcc": baselines.ridge.mean_plcc, "seconds": train_seconds, **extra})

    def train_task(self, ctx: Context, plan: Plan, k: int, n: int) -> dict[str, object]:
        """`step loso --train-task K/N` (steps/runner.run_train_task): the members of share K of N not yet on disk,
        trained and written; LOSO itself is left to the gather (this step's run)."""
        from kit.corpus.schema import training_corpus
        from kit.model.loso import LosoInputs

        s = ctx.settings
        df, _ = training_corpus(corpus_path(ctx), kept_apart(s))  # the rows the gather reads
        refuse_small_shard(corpus_path(ctx), int(df["content"].nunique()), MIN_SOURCES)
        threads = choose_threads()
        inputs = LosoInputs.of(df, s.folds)
        apply_threads(threads)

        # this task's training seconds, added to by a retry of it, and counted by the gather (kit.steps.clock)
        fingerprint = members_fingerprint(ctx, plan)
        clock = TrainingClock(ctx.run.task_clock(fingerprint, k, n), fingerprint)

        def on_epoch(epoch: int, epochs: int, loss: float) -> None:
            ctx.emit(Epoch(self.name, epoch, epochs, len(s.seeds) * len(inputs.folds), loss))
            clock.tick()

        try:
            summary = train_share(ctx, plan, inputs, k, n, threads.train, on_epoch)
            clock.save()
            return {**summary, "seconds": clock.seconds}
        except BaseException as exc:
            with contextlib.suppress(Exception):  # never in the way of why training stopped
                clock.save()
            if out_of_memory(exc):
                raise training_memory_error(exc, len(df), len(s.seeds), inputs.scheme) from exc
            raise
