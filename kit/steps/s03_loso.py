"""Step 03: leave-one-source-out training and evaluation for every seed, and the
baselines on the same folds."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from kit.corpus.schema import EXTRA_FEATURES, corpus_sha256
from kit.corpus.split import refuse_small_shard
from kit.errors import InputError, ResourceLimit
from kit.events import Epoch, Info
from kit.infra.files import sha256_file
from kit.infra.perms import describe, given_file_problem
from kit.infra.resources import out_of_memory
from kit.model.contract import MODEL_FEATURES, input_features
from kit.model.recipe import AUTO, AUTO_K, MIN_SOURCES
from kit.model.results import Baselines, CorpusRef, FoldScheme
from kit.model.threads import apply_threads, choose_threads
from kit.rundir import manifest_path
from kit.steps.base import Context, Outcome, Plan, Timer, require_output
from kit.steps.members import (
    TrainingTime,
    clear_members,
    kept_apart,
    refuse_missing,
    train_and_gather,
    train_share,
)
from kit.verdict.kinds import GROUPS

if TYPE_CHECKING:
    import pandas as pd

    from kit.model.baselines import BaselineResult
    from kit.model.loso import LosoInputs, LosoResult
    from kit.model.tasks import MemberRecord


def corpus_path(ctx: Context) -> Path:
    """The corpus LOSO trains on: --corpus, else this run's own shard."""
    if ctx.settings.corpus is not None:  # its rows name their content groups (--content-groups is the corpus step's)
        if not ctx.settings.corpus.is_file():
            what = describe(ctx.settings.corpus.stat(), ctx.settings.corpus) if ctx.settings.corpus.exists() else ""
            raise InputError(f"--corpus {ctx.settings.corpus} {f'is {what}' if what else 'does not exist'}",
                             hint="pass a shard.parquet or a merged corpus file")
        check_described(ctx.settings.corpus)
        return ctx.settings.corpus
    return require_output(ctx, ctx.run.shard, "corpus")


def check_described(corpus: Path) -> None:
    """A corpus whose manifest (the merge's or the corpus step's, beside it) records other bytes was changed after
    it was made, or the manifest is another file's: refused, naming both; so is a manifest that cannot be read
    (it vouches for nothing). One without a manifest is the user's own to vouch for (a corpus made by hand)."""
    from kit.corpus.manifests import manifest_or_why

    for path in (corpus, manifest_path(corpus)):
        if os.path.lexists(path) and (problem := given_file_problem(path)) is not None:
            raise InputError(f"--corpus: {path} {problem}: anyone who can write there could have made it",
                             hint="copy the corpus and its manifest into a folder of yours (the copy is yours) and "
                                  "pass that copy; or ask its owner to merge it where only they can write")
    manifest, why = manifest_or_why(corpus)
    if why:
        raise InputError(f"--corpus {corpus}: its manifest {manifest_path(corpus)} is {why}, so the corpus cannot be "
                         "checked against it",
                         hint="merge the inputs again (merge writes both), or remove the manifest to vouch for the "
                              "corpus yourself")
    if manifest is None or not manifest.sha256:
        return
    if (found := file_sha256(corpus)) != manifest.sha256:
        made = getattr(manifest, "created_at_utc", "") or "by the kit"
        raise InputError(f"--corpus {corpus} has sha256 {found[:12]}…, but its manifest {manifest_path(corpus).name} "
                         f"({manifest.kind}, {made}) records {manifest.sha256[:12]}…: the corpus was changed after "
                         "it was made, or the manifest is another file's",
                         hint="merge the inputs again (merge writes both), or pass the corpus the manifest describes")


_described: dict[tuple[str, int, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """A user's corpus file's sha256, once per file version in this process (planning and running both ask)."""
    st = path.stat()
    key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
    if key not in _described:
        _described[key] = sha256_file(path)
    return _described[key]


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
        if (kept := kept_copy(ctx.tree, ctx.run.incumbent_models, given)) is None:
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
        return folder, copied_from(ctx.tree, folder)
    if not folder.resolve().is_relative_to(ctx.out_dir.resolve()):
        return folder, None
    inside = [ctx.out_dir / p.resolve().relative_to(ctx.out_dir.resolve()) for p in (manifest, *models)]
    copy_incumbent(ctx.tree, inside[0], inside[1:], run.incumbent_models, given)
    ctx.emit(Info("loso", f"--incumbent {given} lies in this out-dir, whose bundle step moves earlier models aside: "
                          f"its {len(models)} model(s) were copied to {run.incumbent_models} and are scored there"))
    return run.incumbent_models, folder


def incumbent_sha256(ctx: Context, path: Path) -> str:
    """An incumbent model's sha256: through the out-dir's Tree when it lies there (never through a link planted
    in its place), as the user's file otherwise."""
    return ctx.tree.sha256(path) if ctx.tree.holds(path) else sha256_file(path)


def training_memory_error(exc: BaseException, rows: int, seeds: int, scheme: FoldScheme) -> ResourceLimit:
    """Training that ran out of memory, named with what to lower (exit 2, never an internal error)."""
    fewer = "--folds 10 (or auto), " if scheme.scheme == "loso" and scheme.folds > AUTO_K else ""
    return ResourceLimit(f"out of memory while training {seeds} seed(s) x {scheme.folds} folds ({scheme.label}) "
                         f"on {rows} rows: {type(exc).__name__}: {visible_cause(exc)}",
                         hint=f"lower {fewer}the seeds (--seeds) or the corpus's rows, or free memory (close other "
                              "programs), and rerun; the corpus is kept")


def measured_inputs(inputs: str) -> tuple[str, ...]:
    """The features of the input set `inputs` a corpus measures only when asked (VMAF v1's): every training row
    must have them."""
    return tuple(f for f in input_features(inputs) if f in EXTRA_FEATURES)


def visible_cause(exc: BaseException) -> str:
    """The first line of the exception's message, cut short (torch's allocator explains at length)."""
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else "no message"


@dataclass(frozen=True)
class Trained:
    """What LOSO's training gave: the evaluation, the baselines, the members' records, the --holdout frames."""

    result: LosoResult
    models: dict[str, BaselineResult]
    records: list[MemberRecord]
    held: dict[str, pd.DataFrame]
    holdout_s: float
    time: TrainingTime


class LosoStep:
    name = "loso"

    def plan(self, ctx: Context) -> Plan:
        s = ctx.settings
        # the corpus's content, not its bytes: a rerun whose rows differ only in enc_time_ms is the same corpus
        inputs = {"corpus": corpus_sha256(corpus_path(ctx))}
        if s.incumbent is not None:
            _, models = locate_incumbent(ctx)
            inputs["incumbent"] = ",".join(f"{p.name}:{incumbent_sha256(ctx, p)}" for p in models)
        # --folds at its default is left out, so a run of an earlier kit (LOSO, no --folds) resumes as it was; K as
        # the text earlier kits recorded
        folds = {"folds": str(s.folds)} if s.folds != AUTO else {}
        holdout = {"holdout": list(s.holdout)} if s.holdout else {}  # likewise: absent when not asked
        return Plan(settings={"seeds": list(s.seeds), "train": s.train.to_json(),
                              "incumbent": str(s.incumbent) if s.incumbent else None, **folds, **holdout},
                    inputs=inputs)

    def holdout(self, ctx: Context, df: pd.DataFrame, inputs: LosoInputs, kind: str,
                on_epoch: Callable[[int, int, float], None], workers: int) -> pd.DataFrame:
        """--holdout `kind`: every encoder (box, rung) left out in turn, crossed with grouped folds over contents."""
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
        from kit.corpus.training import training_corpus
        from kit.model.incumbent import SOURCE, incumbent_loso, incumbent_scores
        from kit.model.loso import ROW_IDENTITY, LosoInputs

        s, run = ctx.settings, ctx.run
        corpus = corpus_path(ctx)
        df, duplicates = training_corpus(corpus, (*kept_apart(s), *ROW_IDENTITY),  # + what predictions.parquet says
                                         measured_inputs(s.train.inputs))
        if duplicates:  # merge's rule: one key, the same scores (kit.corpus.dedup)
            line = (f"{duplicates} duplicate row(s) dropped from {corpus} (same key and scores as another row, "
                    f"as merge drops them); training on {len(df)} rows")
            ctx.log(line)
            ctx.emit(Info(self.name, line))
        n_sources = df["src_sha256"].nunique()
        refuse_small_shard(corpus, int(df["content"].nunique()), MIN_SOURCES)
        threads = choose_threads()
        inputs = LosoInputs.of(df, s.folds, s.train.inputs)  # the folds: a source too short for one is refused here
        scheme, n_folds = inputs.scheme, len(inputs.folds)
        ctx.emit(Info(self.name, f"{len(df)} rows, {n_sources} sources; {scheme.label} ({scheme.why}); training "
                                 f"{len(s.seeds)} seeds x {n_folds} folds and the baselines on {threads.train} "
                                 "thread(s)"))
        apply_threads(threads)
        ctx.log(threads.describe())
        # the incumbent runs first: one that cannot score this corpus is refused before any training
        folder, original = take_incumbent(ctx) if s.incumbent else (None, None)
        # an incumbent is a canonical6 model: every input set starts with the canonical six
        six = inputs.feats[:, :len(MODEL_FEATURES)]
        scored = (incumbent_scores(ctx.tree, folder, six, inputs.codec, run.incumbent_work, ctx.log)
                  if folder is not None else None)
        refuse_missing(ctx, plan, inputs)  # --train-tasks N: members another task has not trained yet
        trained = self.train(ctx, plan, df, inputs, threads.train)
        result, models, held, time_used = trained.result, trained.models, trained.held, trained.time
        incumbent = incumbent_loso(scored, inputs.target, inputs.folds, original) if scored is not None else None
        outputs = self.write_reports(ctx, plan, corpus, len(df), result, Baselines(plan.inputs["corpus"], models),
                                     incumbent, time_used, scheme)
        ctx.tree.write_json(run.training, {"schema_version": 1, "members": [r.to_json() for r in trained.records],
                                           "holdout_seconds": trained.holdout_s})
        outputs.append(run.training)
        if scored is not None and original is not None:  # the copy scored: recorded, so an edit of it is seen
            outputs += [scored[0], *scored[1], scored[0].parent / SOURCE]
        outputs += self.write_frames(ctx, [(run.folds, result.folds), (run.predictions, result.predictions),
                                           (run.clips, result.clips),
                                           *((run.holdout(kind), frame) for kind, frame in held.items())])
        for stale in (run.holdout(kind) for kind in ("encoder", "box", "rung") if kind not in held):
            ctx.tree.remove(stale)
        clear_members(ctx.tree, run)  # the reports hold what the members were kept for
        return Outcome(outputs, self.summary(ctx, trained, scheme, duplicates))

    def train(self, ctx: Context, plan: Plan, df: pd.DataFrame, inputs: LosoInputs, workers: int) -> Trained:
        """Every member trained (or found, checked) and evaluated, then the --holdout validations."""
        s = ctx.settings

        def on_epoch(epoch: int, epochs: int, loss: float) -> None:
            ctx.emit(Epoch(self.name, epoch, epochs, len(s.seeds) * len(inputs.folds), loss))

        try:
            result, models, records = train_and_gather(ctx, plan, inputs, on_epoch, workers)
            holdout_timer = Timer()
            held = {kind: self.holdout(ctx, df, inputs, kind, on_epoch, workers) for kind in s.holdout}
        except BaseException as exc:
            if out_of_memory(exc):
                raise training_memory_error(exc, len(df), len(s.seeds), inputs.scheme) from exc
            raise
        holdout_s = holdout_timer.seconds if held else 0.0
        time_used = TrainingTime.of(records)
        if time_used.attempts > 1:
            ctx.emit(Info(self.name, f"{time_used.attempts} runs of this step trained its members (earlier ones "
                                     "were stopped): the members they finished were kept, and train_seconds counts "
                                     "their training"))
        time_used = replace(time_used, seconds=round(time_used.seconds + holdout_s, 3))
        return Trained(result, models, records, held, holdout_s, time_used)

    def summary(self, ctx: Context, trained: Trained, scheme: FoldScheme, duplicates: int) -> dict[str, object]:
        """The step's summary in status.json and the finished event."""
        means = [r.mean_plcc for r in trained.result.seed_reports]
        time_used = trained.time
        extra: dict[str, object] = {"attempts": time_used.attempts} if time_used.attempts > 1 else {}
        if time_used.tasks_seconds:
            extra["tasks_seconds"] = time_used.tasks_seconds
        if duplicates:
            extra["duplicates_dropped"] = duplicates
        return {"seeds": list(ctx.settings.seeds), "folds": scheme.label, "members": trained.result.n_members,
                "mean_plcc": sum(means) / len(means), "mean_plcc_is": GROUPS,
                "ridge_mean_plcc": trained.models["ridge"].mean_plcc, "seconds": time_used.seconds, **extra}

    def write_reports(self, ctx: Context, plan: Plan, corpus: Path, rows: int, result: LosoResult,
                      baselines: Baselines, incumbent: BaselineResult | None, time_used: TrainingTime,
                      scheme: FoldScheme) -> list[Path]:
        """The seeds' reports (an earlier run's other seeds removed), the baselines and the incumbent's."""
        s, run, tree = ctx.settings, ctx.run, ctx.tree
        for stale in run.loso_seed_files(tree):  # seeds of an earlier run must not linger
            tree.remove(stale)
        outputs: list[Path] = []
        ref = CorpusRef(os.path.abspath(corpus), plan.inputs["corpus"], rows)  # hashed when planning
        for report in result.seed_reports:
            path = run.loso_seed(report.seed)
            tree.write_json(path, replace(report, corpus=ref, train_config=s.train.to_json(),
                                          batched_members=result.n_members, train_seconds=time_used.seconds,
                                          train_tasks_seconds=time_used.tasks_seconds or None,
                                          train_attempts=time_used.attempts if time_used.attempts > 1 else None,
                                          validation=scheme).to_json())
            outputs.append(path)
        tree.write_json(run.baselines, baselines.to_json())
        outputs.append(run.baselines)
        tree.remove(run.incumbent)
        if incumbent is not None:
            tree.write_json(run.incumbent, incumbent.to_json())
            outputs.append(run.incumbent)
        return outputs

    def write_frames(self, ctx: Context, frames: list[tuple[Path, pd.DataFrame]]) -> list[Path]:
        for path, frame in frames:
            with ctx.tree.atomic(path) as fh:
                frame.to_parquet(fh, index=False)
        return [path for path, _ in frames]

    def train_task(self, ctx: Context, plan: Plan, k: int, n: int) -> dict[str, object]:
        """`step loso --train-task K/N` (steps/runner.run_train_task): the members of share K of N not yet on disk,
        trained and written; LOSO itself is left to the gather (this step's run)."""
        from kit.corpus.training import training_corpus
        from kit.model.loso import LosoInputs

        s = ctx.settings
        df, _ = training_corpus(corpus_path(ctx), kept_apart(s), measured_inputs(s.train.inputs))  # the gather's rows
        refuse_small_shard(corpus_path(ctx), int(df["content"].nunique()), MIN_SOURCES)
        threads = choose_threads()
        inputs = LosoInputs.of(df, s.folds, s.train.inputs)
        apply_threads(threads)

        def on_epoch(epoch: int, epochs: int, loss: float) -> None:
            ctx.emit(Epoch(self.name, epoch, epochs, len(s.seeds) * len(inputs.folds), loss))

        try:
            return train_share(ctx, plan, inputs, k, n, threads.train, on_epoch)
        except BaseException as exc:
            if out_of_memory(exc):
                raise training_memory_error(exc, len(df), len(s.seeds), inputs.scheme) from exc
            raise
