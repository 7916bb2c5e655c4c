"""Step 03: leave-one-source-out training and evaluation for every seed, and the baselines on the same folds."""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from kit.corpus.columns import EXTRA_FEATURES
from kit.corpus.manifests import corpus_identity, corpus_sha256, manifest_or_why, read_manifest, source_times
from kit.corpus.split import refuse_small_shard
from kit.errors import InputError, ResourceLimit
from kit.events import Epoch, Info
from kit.infra.files import remembered_sha256, sha256_file, sha256_json
from kit.infra.perms import describe, require_trusted
from kit.infra.resources import give_back_memory, out_of_memory
from kit.infra.shown import Spelled
from kit.infra.visible import reason_line
from kit.model.contract import CANONICAL6, MODEL_FEATURES, input_features
from kit.model.cost import WORK_PER_PARAM_STEP
from kit.model.realrows import file_sha256 as realrows_sha256
from kit.model.recipe import AUTO_K, MIN_SOURCES, TEACHER
from kit.model.threads import apply_threads, choose_threads
from kit.rundir import manifest_path
from kit.steps.after import AfterTraining
from kit.steps.base import Context, Outcome, Plan, cached_sha256, require_output, seconds_since, teacher_sources
from kit.steps.members import TrainingTime, kept_apart, refuse_missing, train_and_gather, train_share
from kit.steps.memory import check_memory
from kit.verdict.kinds import GROUPS

if TYPE_CHECKING:
    import pandas as pd

    from kit.media.svr import SvrModel
    from kit.model.baselines import BaselineResult
    from kit.model.loso import LosoInputs, LosoResult, Samples
    from kit.model.predictions import HeldPredictions
    from kit.model.recipe import TrainConfig
    from kit.model.spread import Spread
    from kit.model.tasks import MemberRecord
    from kit.model.teacher_fn import TeacherFunction
    from kit.model.train import EpochCallback


def corpus_path(ctx: Context) -> Path:
    """The corpus LOSO trains on: --corpus, else this run's own shard."""
    if (given := ctx.settings.corpus) is None:
        return require_output(ctx, ctx.run.shard, "corpus")
    from kit.corpus.misscored import refuse_corpus

    if not given.is_file():
        what = describe(given.stat(), given) if given.exists() else ""
        raise InputError(f"--corpus {given} {f'is {what}' if what else 'does not exist'}",
                         hint="pass a shard.parquet or a merged corpus file")
    check_described(given)
    refuse_corpus(given)  # rows a kit before 2.0 scored against the wrong reference frames
    return given


def check_described(corpus: Path) -> None:
    """A corpus whose manifest records other bytes, or cannot be read, is refused (no manifest: the user vouches)."""
    require_trusted(corpus, "--corpus")  # the trust rule, the corpus's folders and any link on the way included
    if os.path.lexists(manifest_path(corpus)):
        require_trusted(manifest_path(corpus), "--corpus's manifest")
    manifest, why = manifest_or_why(corpus)
    if why:
        raise InputError(f"--corpus {corpus}: its manifest {manifest_path(corpus)} is {why}, so the corpus cannot be "
                         "checked against it",
                         hint="merge the inputs again (merge writes both), or remove the manifest to vouch for the "
                              "corpus yourself")
    if manifest is None or not manifest.sha256:
        return
    if (found := remembered_sha256(corpus, corpus.stat(), sha256_file)) != manifest.sha256:
        made = getattr(manifest, "created_at_utc", "") or "by the kit"
        raise InputError(f"--corpus {corpus} has sha256 {found[:12]}…, but its manifest {manifest_path(corpus).name} "
                         f"({manifest.kind}, {made}) records {manifest.sha256[:12]}…: the corpus was changed after "
                         "it was made, or the manifest is another file's",
                         hint="merge the inputs again (merge writes both), or pass the corpus the manifest describes")


def locate_incumbent(ctx: Context) -> tuple[Path, list[Path]]:
    """--incumbent's ensemble manifest and models, held to the trust rule (or the copy LOSO scored, take_incumbent)."""
    from kit.model.incumbent import find_incumbent, kept_copy

    given = ctx.settings.incumbent
    assert given is not None
    try:
        manifest, models = find_incumbent(given)
    except InputError:
        if (kept := kept_copy(ctx.tree, ctx.run.incumbent_models, {ctx.run.recorded(given), str(given)})) is None:
            raise
        return kept
    for path in (manifest, *models):
        require_trusted(path, "--incumbent")
    return manifest, models


def take_incumbent(ctx: Context) -> tuple[Path, str | None]:
    """The folder whose models LOSO scores, and the one they were copied from, as the records name it (one in the
    out-dir is copied first)."""
    from kit.model.incumbent import copied_from, copy_incumbent

    manifest, models = locate_incumbent(ctx)
    folder, run, given = manifest.parent, ctx.run, ctx.settings.incumbent
    out = run.root.resolve()
    assert given is not None
    if folder.resolve() == run.incumbent_models.resolve():
        return folder, copied_from(ctx.tree, folder)
    if not folder.resolve().is_relative_to(out):
        return folder, None
    inside = [run.root / p.resolve().relative_to(out) for p in (manifest, *models)]
    copy_incumbent(ctx.tree, inside[0], inside[1:], run.incumbent_models, run.recorded(given), run.recorded(folder))
    ctx.emit(Info("loso", f"--incumbent {given} lies in this out-dir, whose bundle step moves earlier models aside: "
                          f"its {len(models)} model(s) were copied to {run.incumbent_models} and are scored there"))
    return run.incumbent_models, run.recorded(folder)


@dataclass(frozen=True)
class Setup:
    corpus: Path
    df: pd.DataFrame
    duplicates: int
    inputs: LosoInputs
    workers: int
    # the held-out encodes the teacher's function keeps, all of those counted, where no correction can be kept: the
    # ensemble's networks are not trained (kit.model.floor.settled); None where one may be
    settled: int | None = None


@dataclass(frozen=True)
class Trained:
    result: LosoResult
    models: dict[str, BaselineResult]
    records: list[MemberRecord]
    held: dict[str, pd.DataFrame]
    holdout_s: float
    time: TrainingTime


@dataclass(frozen=True)
class Incumbent:
    result: BaselineResult
    copied: list[Path]


class LosoStep:
    name = "loso"

    def plan(self, ctx: Context) -> Plan:
        s = ctx.settings
        # the own shard by its manifest's record of its content (no pass over the rows: `status` plans this step)
        corpus = corpus_path(ctx)
        inputs = {"corpus": corpus_identity(corpus, functools.partial(cached_sha256, ctx.tree)) if s.corpus is None
                  else corpus_sha256(corpus)}
        if s.incumbent is not None:
            _, models = locate_incumbent(ctx)
            inputs["incumbent"] = ",".join(f"{p.name}:{ctx.tree.sha256(p) if ctx.tree.holds(p) else sha256_file(p)}"
                                           for p in models)
        # the corpus step's windows encoded on their own (absent where it made none, as 2.1.0 left the inputs)
        if (samples := samples_path(ctx)) is not None:
            inputs["samples"] = cached_sha256(ctx.tree, samples)
        # the frames' times the consumer's windows are placed by (absent where the manifest records none: its windows
        # by the header's rate, the inputs as 2.2.0 left them)
        if times := source_times(read_manifest(corpus)):
            inputs["frame_times"] = sha256_json({sha: t.to_json() for sha, t in sorted(times.items())})
        # the public encodes the kit carries, read by the teacher recipe's floor beside the box's (kit.model.realrows)
        if s.train.recipe == TEACHER and (real := realrows_sha256()):
            inputs["public_encodes"] = real
        return Plan(settings=ctx.fingerprint(), inputs=inputs)

    def run(self, ctx: Context, plan: Plan) -> Outcome:
        setup = self.set_up(ctx)  # the corpus read and cut into folds
        scheme, seeds = setup.inputs.scheme, len(ctx.settings.seeds)
        folds = len(setup.inputs.folds)
        training = f"training {seeds} seeds x {folds} folds and the baselines" if setup.settled is None else \
            "training the baselines"
        ctx.emit(Info(self.name, f"{len(setup.df)} rows, {setup.df['src_sha256'].nunique()} sources; {scheme.label} "
                                 f"({scheme.why}); {training} on {setup.workers} thread(s)"))
        if setup.settled is not None:
            ctx.emit(Info(self.name, f"the student's {seeds * folds} networks are not trained: the teacher's function "
                                     f"keeps all {setup.settled} held-out encodes the floor counts within "
                                     f"{setup.inputs.tolerance:g} VMAF, so no correction can keep more, and each "
                                     "would be multiplied by 0 (docs/teachers.md, the floor): each member is the "
                                     "function"))
        incumbent = self.incumbent(ctx, setup)  # first: one that cannot score this corpus is refused before training
        refuse_missing(ctx, plan, setup.inputs, setup.settled)  # --train-tasks N: members not trained yet
        after = self.after_training(ctx, setup)
        trained = self.train(ctx, plan, setup, after)  # what is missing trained, every member gathered and evaluated
        outputs = self.write(ctx, plan, setup, trained, incumbent, after)
        ctx.tree.remove_folder(ctx.run.members)  # of this LOSO and any earlier one: the reports hold what they gave
        return Outcome(outputs, self.summary(ctx, trained, setup))

    def set_up(self, ctx: Context, task: bool = False) -> Setup:
        """The corpus as training reads it (duplicates dropped, said), cut into folds; the training threads applied.
        `task`: a training task's (`step loso --train-task`), its inputs `training_only`."""
        from kit.corpus.schema import TEACHER_FEATURES  # numpy's, pyarrow's: never for `status`, which imports the step
        from kit.corpus.training import training_corpus, without
        from kit.model.holdout import holdout_folds
        from kit.model.loso import ENCODE_IDENTITY, LosoInputs
        from kit.model.predictions import ROW_IDENTITY
        from kit.model.samplings import SAMPLING_COLUMNS
        from kit.model.teacher_fn import prove

        s = ctx.settings
        corpus = corpus_path(ctx)
        check_memory(ctx, corpus)  # LOSO's, and the verdict's and bundle's after it: before the corpus is read
        # the opt-in features, measured only when asked: every training row must have them
        measured = tuple(f for f in input_features(s.train.inputs) if f in EXTRA_FEATURES)
        df, duplicates = training_corpus(corpus, (*kept_apart(s), *ROW_IDENTITY, *ENCODE_IDENTITY, *SAMPLING_COLUMNS),
                                         measured, coded=True)  # its text as codes (written back as text: as_text)
        if duplicates:  # merge's rule: one key, the same scores (kit.corpus.dedup)
            ctx.say(self.name, Spelled(f"{duplicates} duplicate row(s) dropped from ", corpus, " (same key and scores "
                                       f"as another row, as merge drops them); training on {len(df)} rows"))
        refuse_small_shard(corpus, int(df["content"].nunique()), MIN_SOURCES)
        for kind in s.holdout:  # a --holdout this corpus cannot cut is refused before any training, not after it
            holdout_folds(df, kind, str(corpus))
        proof, model = prove(df, *teacher_sources(ctx), strict=s.train.recipe == TEACHER)
        ctx.say(self.name, f"the teacher's function: {proof.label}")
        threads = choose_threads()
        inputs = LosoInputs.of(df, s.folds, s.train.inputs, s.vmaftune_crf_range)
        sources = set(map(str, df["src_sha256"].unique()))
        # the scores and features are LosoInputs' arrays from here (its own copies): the frame keeps what names, groups
        # and places each row (0.15 GiB less at 3,000,000 rows), let go before the teacher's windows are made beside
        # the rest, the set-up's peak (0.8 GiB less at 15,000,000 rows)
        scores = {c for c in (*input_features(s.train.inputs), *TEACHER_FEATURES, "vmaf") if c in df}
        df = without(df, scores)
        inputs = replace(inputs, df=df, window_s=s.consumer_window, tolerance=s.gate.consumer_tolerance,
                         samples=self.samples(ctx), times=frame_seconds(corpus, sources))
        del df  # the inputs' alone from here, handed over: a training task's lets it go (distilled_and_settled)
        held = [inputs]
        del inputs
        give_back_memory()
        inputs, found = distilled_and_settled(held, proof, model, s.train, task)
        if s.train.recipe == TEACHER and inputs.distil is None:
            why = (f"{proof.teacher} is no function of the six the student reads: it computes {proof.own_features}"
                   if proof.own_features else "the teacher recipe needs the teacher's function of the canonical six, "
                                              f"and {proof.label}")
            ctx.emit(Info(self.name, f"the recipe: frames ({why}): the members train on the corpus's per-frame "
                                     "scores"))
        apply_threads(threads)
        ctx.log(threads.describe())
        give_back_memory()  # the set-up's tables, freed: not carried into the training
        return Setup(corpus, inputs.df, duplicates, inputs, threads.train, found)

    def samples(self, ctx: Context) -> Samples | None:
        """The corpus step's sample encodes (kit.corpus.samples), checked against its record; None where it made
        none (a --corpus run, --consumer-samplings cut, clips no longer than the window) or vmaf-tune is not fed."""
        from kit.infra.parquet import read_frame
        from kit.model.loso import Samples

        if (path := samples_path(ctx)) is None or ctx.settings.train.inputs != CANONICAL6:
            return None
        frame = read_frame(require_output(ctx, path, "corpus"))
        return Samples.of(frame) if len(frame) else None

    def incumbent(self, ctx: Context, setup: Setup) -> Incumbent | None:
        """--incumbent's models scored on this corpus's canonical six, its figures on LOSO's folds."""
        from kit.model.incumbent import SOURCE, incumbent_loso, incumbent_scores

        if ctx.settings.incumbent is None:
            return None
        folder, original = take_incumbent(ctx)
        inputs = setup.inputs
        scored = incumbent_scores(ctx.tree, folder, inputs.feats[:, :len(MODEL_FEATURES)], inputs.codec,
                                  ctx.run.incumbent_work, ctx.log)
        # the copy scored: recorded, so an edit of it is seen
        copied = [scored[0], *scored[1], scored[0].parent / SOURCE] if original is not None else []
        return Incumbent(incumbent_loso(scored, inputs.target, inputs.folds, original, ctx.run.recorded(folder)),
                         copied)

    def holdout(self, ctx: Context, setup: Setup, kind: str, on_epoch: EpochCallback, scale: float,
                spread: Spread | None) -> pd.DataFrame:
        """--holdout `kind`: every encoder (box, rung) left out in turn, crossed with grouped folds over contents."""
        from kit.model.holdout import run_holdout, trains_networks

        s, inputs = ctx.settings, setup.inputs
        if trains_networks(inputs, scale):
            ctx.emit(Info(self.name, f"--holdout {kind}: training {len(s.seeds)} seeds on every {kind} left out in "
                                     "turn"))
        else:
            ctx.emit(Info(self.name, f"--holdout {kind}: the teacher's function on every {kind} left out in turn, "
                                     "no network trained (LOSO's export keeps no correction: each would be "
                                     "multiplied by 0)"))
        frame, why = run_holdout(inputs, kind, list(s.seeds), s.train, str(setup.corpus), on_epoch, setup.workers,
                                 scale, spread)
        ctx.log(f"--holdout {kind}: {why}")
        return frame.assign(scheme=why)

    def after_training(self, ctx: Context, setup: Setup) -> AfterTraining:
        """What LOSO does after its training, said as it goes: every model's rows predicted, each --holdout kind's."""
        from kit.model.baselines import evaluated_rows

        s, inputs = ctx.settings, setup.inputs
        return AfterTraining(ctx, evaluated_rows(inputs, list(s.seeds), s.train), len(s.holdout),
                             len(s.seeds) * len(inputs.target))

    def train(self, ctx: Context, plan: Plan, setup: Setup, after: AfterTraining) -> Trained:
        """Every member trained (or found, checked) and evaluated, then the --holdout validations; `after` told."""
        with memory_named(ctx, setup):
            on_epoch = self.on_epoch(ctx, setup)
            result, models, records = train_and_gather(ctx, plan, setup.inputs, on_epoch, setup.workers,
                                                       setup.settled, after)
            holdout_start = time.monotonic()
            scale = result.correction.scale if result.correction is not None else 0.0
            spread = result.correction.spread if result.correction is not None else None
            held = {}
            for kind in ctx.settings.holdout:
                after(f"--holdout {kind}: every {kind} left out in turn", 0)
                held[kind] = self.holdout(ctx, setup, kind, on_epoch, scale, spread)
                after(f"--holdout {kind} done", after.per_holdout)
        holdout_s = seconds_since(holdout_start) if held else 0.0
        time_used = TrainingTime.of(records)
        if time_used.attempts > 1:
            ctx.emit(Info(self.name, f"{time_used.attempts} runs of this step trained its members (earlier ones "
                                     "were stopped): the members they finished were kept, and train_seconds counts "
                                     "their training"))
        time_used = replace(time_used, seconds=round(time_used.seconds + holdout_s, 3))
        return Trained(result, models, records, held, holdout_s, time_used)

    def on_epoch(self, ctx: Context, setup: Setup) -> EpochCallback:
        members = len(ctx.settings.seeds) * len(setup.inputs.folds)
        return lambda epoch, epochs, loss, steps: ctx.emit(Epoch(self.name, epoch, epochs, members, loss,
                                                                 round(steps * WORK_PER_PARAM_STEP)))

    def summary(self, ctx: Context, trained: Trained, setup: Setup) -> dict[str, object]:
        means, time_used = [r.mean_plcc for r in trained.result.seed_reports], trained.time
        extra = {key: value for key, value in (("attempts", time_used.attempts if time_used.attempts > 1 else 0),
                                               ("tasks_seconds", time_used.tasks_seconds),
                                               ("duplicates_dropped", setup.duplicates)) if value}
        return {"seeds": list(ctx.settings.seeds), "folds": setup.inputs.scheme.label,
                "members": trained.result.n_members, "mean_plcc": sum(means) / len(means), "mean_plcc_is": GROUPS,
                "ridge_mean_plcc": trained.models["ridge"].mean_plcc, "seconds": time_used.seconds, **extra}

    def write(self, ctx: Context, plan: Plan, setup: Setup, trained: Trained, incumbent: Incumbent | None,
              after: AfterTraining) -> list[Path]:
        from kit.model.results import Baselines, CorpusRef  # ten records `status`, planning this step, never reads

        s, run, tree = ctx.settings, ctx.run, ctx.tree
        result, time_used = trained.result, trained.time
        for stale in run.loso_seed_files(tree):  # seeds of an earlier run must not linger
            tree.remove(stale)
        outputs: list[Path] = []
        # hashed when planning; named relative to the out-dir when it is this out-dir's shard (RunDir.recorded)
        ref = CorpusRef(run.recorded(setup.corpus), plan.inputs["corpus"], len(setup.df))
        for report in result.seed_reports:
            path = run.loso_seed(report.seed)
            tree.write_json(path, replace(report, corpus=ref, train_config=s.train.to_json(),
                                          batched_members=result.n_members, train_seconds=time_used.seconds,
                                          train_tasks_seconds=time_used.tasks_seconds or None,
                                          train_attempts=time_used.attempts if time_used.attempts > 1 else None,
                                          validation=setup.inputs.scheme, recipe=setup.inputs.recipe,
                                          teacher_function=setup.inputs.teacher_fn,
                                          correction=result.correction).to_json())
            outputs.append(path)
        tree.write_json(run.baselines, Baselines(plan.inputs["corpus"], trained.models).to_json())
        outputs.append(run.baselines)
        tree.remove(run.incumbent)
        if incumbent is not None:
            tree.write_json(run.incumbent, incumbent.result.to_json())
            outputs.append(run.incumbent)
        tree.write_json(run.training, {"schema_version": 1, "members": [r.to_json() for r in trained.records],
                                       "holdout_seconds": trained.holdout_s})
        outputs += [run.training, *(incumbent.copied if incumbent is not None else [])]
        frames = [(run.folds, result.folds), (run.clips, result.clips),
                  *([(run.encodes, result.encodes)] if result.encodes is not None else []),
                  *([(run.samplings, result.samplings)] if result.samplings is not None else []),
                  *([(run.floor, result.floor)] if result.floor is not None else []),
                  *((run.holdout(kind), frame) for kind, frame in trained.held.items())]
        gone = [path for path, frame in ((run.encodes, result.encodes), (run.samplings, result.samplings),
                                         (run.floor, result.floor)) if frame is None]
        # an input set vmaf-tune does not feed leaves no consumer's evaluation; a corpus with no frame rate, no
        # samplings; the frames recipe no floor; and a --holdout not asked no file of it
        gone += [run.holdout(kind) for kind in ("encoder", "box", "rung") if kind not in trained.held]
        result.let_go()  # the frames are `frames`' alone: each let go once written, before the predictions' members
        trained.held.clear()
        written = write_frames(ctx, frames, result.held, after)
        outputs += [run.predictions, *written]
        for path in gone:
            tree.remove(path)
        return outputs

    def train_task(self, ctx: Context, plan: Plan, k: int, n: int) -> dict[str, object]:
        """`step loso --train-task K/N`: the members of share K of N not yet on disk, trained and written."""
        setup = self.set_up(ctx, task=True)  # set up as the gather sets up (the same jobs), the rows' identity let go
        with memory_named(ctx, setup):
            return train_share(ctx, plan, setup.inputs, k, n, setup.workers, self.on_epoch(ctx, setup),
                               setup.settled)


def distilled_and_settled(held: list[LosoInputs], proof: TeacherFunction, model: SvrModel | None,
                          config: TrainConfig, task: bool) -> tuple[LosoInputs, int | None]:
    """The inputs (`held[0]`, taken: the caller hands them over in a list it keeps no other name for) with the
    teacher's proof and set (LosoInputs.distilled), and the held-out encodes a settled floor keeps
    (kit.model.floor.settled). A training task's (`task`) judged first (the floor reads no set of the teacher's), then
    its rows' identity, their windows and their samples let go (LosoInputs.training_only) before the set is made
    beside its arrays, its peak; the gather's judged on the inputs its evaluation reads, their windows placed once."""
    from kit.model.distil import encode_codes
    from kit.model.floor import settled

    inputs = held.pop()
    if not task:
        inputs = inputs.distilled(proof, model, config)
        return inputs, settled(inputs)
    distils = inputs.distils(model, config)
    found = settled(replace(inputs, teacher_model=model), distils)
    codes = encode_codes(inputs.df) if distils else None
    inputs = inputs.training_only()
    give_back_memory()
    return inputs.distilled(proof, model, config, codes), found


def write_frames(ctx: Context, frames: list[tuple[Path, pd.DataFrame]], held: HeldPredictions,
                 after: AfterTraining) -> list[Path]:
    """LOSO's tables, each let go once written (`frames` emptied), then its predictions (`held`) a member at a time:
    15,000,000 rows at 10,000 contents; each file's rows `after` told as its part of the writing."""
    from kit.corpus.training import as_text
    from kit.infra.parquet import write_whole

    run, tree, written = ctx.run, ctx.tree, []
    rows = sum(len(frame) for _, frame in frames) + len(held)
    done = 0
    while frames:
        path, frame = frames.pop(0)
        after.writing(f"writing {run.recorded(path)}", done / max(1, rows))
        with tree.atomic(path) as fh:
            write_whole(as_text(frame), fh)
        written.append(path)
        done += len(frame)
        del frame
    after.writing(f"writing {run.recorded(run.predictions)}", done / max(1, rows))
    with tree.atomic(run.predictions) as fh:
        held.write(fh)
    return written


def frame_seconds(corpus: Path, sources: set[str]) -> dict[str, list[float]]:
    """Each of `sources`' frames' times in seconds, as the corpus's manifest records them (kit.corpus.samplings places
    the consumer's windows by them): none for a source it records none of (an older box's, a hand-made corpus) or
    whose record is damaged, whose windows are then placed by its rate (samplings.parquet's `placed`, counted in the
    verdict's words)."""
    out = {}
    for sha, times in source_times(read_manifest(corpus)).items():
        with contextlib.suppress(ValueError):
            if sha in sources:
                out[sha] = times.seconds()
    return out


def samples_path(ctx: Context) -> Path | None:
    """02_corpus/samples.parquet where LOSO trains on this run's own shard and the corpus step wrote it."""
    path = ctx.run.samples
    return path if ctx.settings.corpus is None and ctx.tree.is_file(path) else None


@contextlib.contextmanager
def memory_named(ctx: Context, setup: Setup) -> Iterator[None]:
    """Training that runs out of memory is refused with what to lower (exit 2, never an internal error)."""
    try:
        yield
    except BaseException as exc:
        if not out_of_memory(exc):
            raise
        scheme, seeds = setup.inputs.scheme, len(ctx.settings.seeds)
        fewer = "--folds 10 (or auto), " if scheme.scheme == "loso" and scheme.folds > AUTO_K else ""
        raise ResourceLimit(f"out of memory while training {seeds} seed(s) x {scheme.folds} folds ({scheme.label}) "
                            f"on {len(setup.inputs.target)} rows: {reason_line(exc, typed=True)}",
                            hint=f"lower {fewer}the seeds (--seeds) or the corpus's rows, or free memory (close "
                                 "other programs), and rerun; the corpus is kept") from exc
