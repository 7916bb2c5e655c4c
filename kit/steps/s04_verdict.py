"""Step 04: apply the gate to the LOSO reports; write PROMOTE.json or HOLD.json."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from kit.corpus.columns import NO_BOX
from kit.corpus.manifests import read_manifest, source_repeats
from kit.errors import EXIT_HOLD, EXIT_PROMOTE, InputError
from kit.events import Forecast, VerdictReached
from kit.infra.files import sha256_json
from kit.model.cost import VERDICT_PARTS
from kit.model.recipe import TEACHER
from kit.rundir import VERDICTS
from kit.steps.after import Parts
from kit.steps.base import Context, Outcome, Plan, cached_sha256, read_output, recorded_corpus, require_output, rerun
from kit.steps.memory import check_memory
from kit.steps.records import read_step_record
from kit.verdict.kinds import GROUPS

if TYPE_CHECKING:
    import pandas as pd

    from kit.model.teacher_fn import TeacherFunction
    from kit.verdict.assess import Assessment, Predicted
    from kit.verdict.document import Verdict


# the corpus columns the verdict reads beside training's, each with what a corpus without it is taken to say (a
# hand-made corpus: one box, no known size; no encode size: rung `native`)
BESIDE = {"box_id": NO_BOX, "width": 0, "height": 0, "enc_width": 0, "enc_height": 0}


def corpus_rows(corpus_file: Path) -> pd.DataFrame:
    """The corpus rows as the verdict holds them, indexed by their CORPUS_ROW: the columns the assessment reads (the
    rows' META and the teacher's score; the features and the teacher's name let go, a sixth of the step's peak at
    10,000 contents). Its text is read as codes (the read's peak at 10,000 contents 1.4 GiB, was 2.3), then held as
    one string a value, which the held-out rows share: the step's peak 2.1 GiB, was 3.1
    (bench/README.md#scale-10000). Each column of BESIDE a corpus lacks, and each row that leaves one null (not
    recorded, which the schema allows), says what BESIDE says: a box or a size not recorded is one rule, whether
    the file or the row leaves it out (LOSO's --holdout box groups the rows the same way)."""
    import numpy as np

    from kit.corpus.schema import CORPUS_ROW
    from kit.corpus.training import shared_text, training_corpus
    from kit.verdict.intervals import META

    meta, _ = training_corpus(corpus_file, tuple(BESIDE), coded=True)
    meta = meta.assign(**{c: v for c, v in BESIDE.items() if c not in meta.columns}).set_index(CORPUS_ROW, drop=False)
    meta = shared_text(meta[[c for c in meta.columns if c in (*META, "vmaf", CORPUS_ROW)]])  # a frame of its own
    unrecorded = [c for c in BESIDE if meta[c].isna().any()]  # a size read with nulls is float: int32 as stored
    return meta.assign(**{c: meta[c].fillna(BESIDE[c]) if c == "box_id" else meta[c].fillna(BESIDE[c]).astype(np.int32)
                          for c in unrecorded}) if unrecorded else meta


def reached(verdict: Verdict, keep: Path) -> VerdictReached:
    """The verdict's event: its figures, and why each gate that judged nothing did (the terminal says it so)."""
    gate = verdict.gate
    return VerdictReached(verdict.verdict, gate.mean_plcc, gate.plcc_spread, str(keep), gate.not_judged,
                          verdict.consumer_unjudged, gate.seeds_not_judged)


def loso_outputs(ctx: Context) -> list[Path]:
    """Every LOSO output the verdict reads, checked against LOSO's record."""
    run = ctx.run
    s = ctx.settings
    paths = [*map(run.loso_seed, s.seeds), run.folds, run.baselines,
             *([run.incumbent] if s.incumbent is not None else []), *map(run.holdout, s.holdout)]
    # no clips from a LOSO of an older kit (no clip figures), no encodes for an input set vmaf-tune does not feed
    paths += [p for p in (run.clips, run.encodes, run.samplings) if ctx.tree.is_file(p)]
    return [require_output(ctx, p, "loso") for p in [*paths, run.predictions]]


class VerdictStep:
    name = "verdict"

    def plan(self, ctx: Context) -> Plan:
        s = ctx.settings
        loso_status, _ = read_step_record(ctx.tree, ctx.run.status("loso"))  # None when missing or damaged: LOSO reruns
        if loso_status is not None:
            ran = loso_status.settings.get("seeds")
            if isinstance(ran, list) and ran != list(s.seeds):
                raise InputError(f"LOSO ran with seeds {ran}, not {list(s.seeds)}",
                                 hint=f"pass --seeds {','.join(map(str, ran))}, or rerun LOSO with the new seeds: "
                                      + rerun(ctx, "run", "--from", "loso", "--seeds", ",".join(map(str, s.seeds))))
        inputs = {p.stem: cached_sha256(ctx.tree, p) for p in loso_outputs(ctx)}
        # the corpus block counts the manifest's twins and groups (not its times, which change on every merge), and
        # the warning its sources' repeated pictures (a manifest that records none hashed as 2.2.0 hashed it)
        if (manifest := read_manifest(s.corpus or ctx.run.shard)) is not None:
            repeats = {sha: r.to_json() for sha, r in sorted(source_repeats(manifest).items())}
            inputs["corpus_contents"] = sha256_json({"twins": [t.to_json() for t in manifest.twins],
                                                     "groups": [g.to_json() for g in manifest.groups],
                                                     **({"repeats": repeats} if repeats else {})})
        return Plan(settings=ctx.fingerprint(), inputs=inputs)

    def predicted(self, ctx: Context, corpus_file: Path, meta: pd.DataFrame) -> Predicted:
        """LOSO's predictions of the verdict's seeds, read, checked against the corpus's rows (`meta`) and made into
        the held-out rows; let go once they are (kit.verdict.assess.Predicted)."""
        from kit.corpus.schema import CORPUS_ROW
        from kit.infra.parquet import read_frame
        from kit.infra.resources import give_back_memory
        from kit.verdict.assess import Predicted

        run = ctx.run
        predictions = read_frame(run.predictions, ["seed", CORPUS_ROW, "vmaf", "pred"])
        give_back_memory()
        predictions = predictions[predictions["seed"].isin(list(ctx.settings.seeds))]
        if CORPUS_ROW not in predictions or not predictions[CORPUS_ROW].isin(meta.index).all():
            raise InputError(f"{run.predictions} names rows the corpus {corpus_file} does not have",
                             hint=f"rerun from LOSO: {rerun(ctx, 'run', '--from', 'loso')}")
        return Predicted.of(predictions, meta)

    def assess(self, ctx: Context, corpus_file: Path, codec_blind: bool, proof: TeacherFunction | None,
               parts: Parts) -> Assessment:
        """The held-out rows, intervals and figures by group (`codec_blind`: the models do not read the codec block;
        `proof`: the teacher's function as LOSO found it, which says why there may be no ceiling), said to `parts`."""
        from kit.infra.parquet import read_frame
        from kit.infra.resources import give_back_memory
        from kit.verdict.assess import assess
        from kit.verdict.consumer import consumer_block, no_ceiling_why

        s, run = ctx.settings, ctx.run
        parts.at("held_out", "reading LOSO's held-out predictions beside their corpus rows", 0.0)
        meta = corpus_rows(corpus_file)
        predicted = self.predicted(ctx, corpus_file, meta)
        give_back_memory()  # the predictions and their grouping
        clips = read_frame(run.clips) if ctx.tree.is_file(run.clips) else None
        clips = clips[clips["seed"].isin(s.seeds)] if clips is not None else None
        holdouts = {kind: read_frame(run.holdout(kind)) for kind in s.holdout}
        holdouts = {kind: frame[frame["seed"].isin(s.seeds)] for kind, frame in holdouts.items()}
        samplings = read_frame(run.samplings) if ctx.tree.is_file(run.samplings) else None
        parts.at("consumer", "the held-out encodes as vmaf-tune samples them", 0.0)
        consumer, judged = consumer_block(read_frame(run.encodes), s.gate.consumer_tolerance, s.vmaftune_crf_range,
                                          codec_blind, samplings, s.consumer_window, no_ceiling_why(proof)
                                          ) if ctx.tree.is_file(run.encodes) else (None, None)
        return assess(predicted, meta, clips, holdouts, s.interval_level, consumer,
                      source_repeats(read_manifest(corpus_file)), judged,
                      lambda what, share: parts.at("figures", what, share))

    def corpus_file(self, ctx: Context, recorded: str, sha256: str, rows: int) -> Path:
        """The corpus LOSO ran on, where it is now, refused where it changed or vanished since; the memory of the
        verdict and the bundle after it checked (from its footer) before its rows are read, its identity too, and the
        verdict's work said."""
        from kit.corpus.schema import corpus_sha256
        from kit.model.cost import verdict_work

        corpus_file = recorded_corpus(ctx, recorded)  # found where the out-dir is now
        gone = InputError(f"the corpus {corpus_file} changed or vanished since LOSO ran",
                          hint=f"rerun from LOSO: {rerun(ctx, 'run', '--from', 'loso')}")
        if not corpus_file.is_file():
            raise gone
        check_memory(ctx, corpus_file)
        if corpus_sha256(corpus_file) != sha256:
            raise gone
        ctx.emit(Forecast(self.name, round(verdict_work(rows).work)))  # where no LOSO of this run said it
        return corpus_file

    def run(self, ctx: Context, plan: Plan) -> Outcome:
        # pandas and pyarrow load here, not when planning: `status` plans every step
        from kit.corpus.summary import corpus_check, summarise_corpus
        from kit.corpus.training import arrow_text
        from kit.infra.parquet import read_frame, write_frame
        from kit.infra.resources import give_back_memory
        from kit.model.cost import bundle_work
        from kit.model.results import BaselineResult, Baselines, SeedReport  # ten records `status` never reads
        from kit.verdict.decide import decide

        s, run, tree = ctx.settings, ctx.run, ctx.tree
        parts = Parts(ctx, self.name, VERDICT_PARTS)
        loso_outputs(ctx)
        again = rerun(ctx, "step", "loso", "--force")
        reports = [read_output(tree, SeedReport, run.loso_seed(seed), again) for seed in s.seeds]
        corpus = reports[0].corpus
        assert corpus is not None  # LOSO always records it
        parts.at("corpus", "checking the corpus against LOSO's record of it", 0.0)
        corpus_file = self.corpus_file(ctx, corpus.path, corpus.sha256, corpus.rows)
        # the corpus's summary before the held-out rows are read: its read of the corpus is then the only large thing
        parts.at("corpus", "summarising the corpus", 0.5)
        summary = summarise_corpus(corpus_file, corpus.sha256, run.recorded(corpus_file))
        give_back_memory()  # what its read left in arrow's pool and malloc's arenas
        folds = read_frame(run.folds)
        baselines = read_output(tree, Baselines, run.baselines, again)
        incumbent = read_output(tree, BaselineResult, run.incumbent, again) if s.incumbent is not None else None
        assessment = self.assess(ctx, corpus_file, reports[0].recipe == TEACHER, reports[0].teacher_function, parts)
        parts.at("decide", "judging every gate", 0.0)
        verdict = decide(list(s.seeds), reports, folds[folds["seed"].isin(list(s.seeds))], None, baselines,
                         incumbent, summary, s.gate,
                         assessment,
                         lead=s.corpus is not None)
        verdict = dataclasses.replace(verdict, independent_check=corpus_check(corpus_file))
        keep = run.verdict_file(verdict.verdict)
        for other in set(VERDICTS) - {verdict.verdict}:  # a stale verdict must never trigger an export
            tree.remove(run.verdict_file(other))
        frames = {run.intervals: assessment.rows, run.clip_pooling: assessment.clips,
                  run.consumer_encodes: assessment.judged}
        outputs = [path for path, frame in frames.items() if frame is not None]
        # each a row group at a time, its text as a table read holds it: to_parquet's bytes
        for k, path in enumerate(outputs):
            parts.at("files", f"writing {run.recorded(path)}", k / (len(outputs) + 1))
            with tree.atomic(path) as fh:
                write_frame(frames[path], fh, arrow_text)
        tree.remove(run.calibration)
        if assessment.judged is None:  # an earlier run's, where vmaf-tune is no longer fed
            tree.remove(run.consumer_encodes)
        if assessment.sidecar is not None:
            tree.write_json(run.calibration, assessment.sidecar)
            outputs.append(run.calibration)
        parts.at("files", f"writing {run.recorded(keep)}", len(outputs) / (len(outputs) + 1))
        tree.write_json(keep, verdict.to_json())
        ctx.emit(reached(verdict, keep))
        if not verdict.promoted:  # the run's ETA counted the bundle's refit as if it PROMOTEd: a HOLD has none
            cost = bundle_work(verdict.corpus.rows, len(verdict.seeds), ctx.ahead("bundle").train, 1, promoted=False)
            ctx.emit(Forecast("bundle", round(cost.work), round(cost.training), round(cost.setup)))
        return Outcome([keep, *outputs], {"verdict": verdict.verdict, "mean_plcc": verdict.gate.mean_plcc,
                                          "mean_plcc_is": GROUPS, "plcc_spread": verdict.gate.plcc_spread},
                       exit_code=EXIT_PROMOTE if verdict.promoted else EXIT_HOLD)
