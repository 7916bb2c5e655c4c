"""Step 03: leave-one-source-out training and evaluation for every seed."""

from __future__ import annotations

from pathlib import Path

from kit.baselines import arch_loso, find_incumbent, incumbent_loso, ridge_loso
from kit.errors import InputError
from kit.events import Epoch, Info
from kit.fsio import atomic_path, sha256_file, write_json
from kit.loso import load_corpus, make_folds, run_loso
from kit.metrics import json_safe
from kit.model import design_matrix
from kit.recipe import MIN_SOURCES
from kit.shard import refuse_small_shard
from kit.steps.base import Context, Outcome, Plan, Timer, require_output
from kit.train import LINEAR, MLP_SMALL


def corpus_path(ctx: Context) -> Path:
    """The corpus LOSO trains on: --corpus, else this run's own shard."""
    if ctx.settings.corpus is not None:
        if not ctx.settings.corpus.is_file():
            raise InputError(f"--corpus {ctx.settings.corpus} does not exist",
                             hint="pass a shard.parquet or a merged corpus file")
        return ctx.settings.corpus
    return require_output(ctx, "02_corpus", "shard.parquet", "corpus")


class LosoStep:
    number = 3
    name = "loso"
    dirname = "03_loso"

    def plan(self, ctx: Context) -> Plan:
        s = ctx.settings
        corpus = corpus_path(ctx)
        inputs = {"corpus": sha256_file(corpus)}
        if s.incumbent is not None:
            _, models = find_incumbent(s.incumbent)
            inputs["incumbent"] = ",".join(f"{p.name}:{sha256_file(p)}" for p in models)
        return Plan(settings={"seeds": list(s.seeds), "train": s.train.to_json(),
                              "incumbent": str(s.incumbent) if s.incumbent else None},
                    inputs=inputs)

    def run(self, ctx: Context) -> Outcome:
        s = ctx.settings
        corpus = corpus_path(ctx)
        corpus_sha = sha256_file(corpus)
        df = load_corpus(corpus)
        refuse_small_shard(corpus, df["src_sha256"].nunique(), MIN_SOURCES)
        ctx.emit(Info(self.name, f"{len(df)} rows, {df['src_sha256'].nunique()} sources; training "
                                 f"{len(s.seeds)} seeds x {df['src_sha256'].nunique()} folds as one batch"))
        timer = Timer()

        def on_epoch(epoch: int, epochs: int, loss: float) -> None:
            ctx.emit(Epoch(self.name, epoch, epochs, len(s.seeds) * df["src_sha256"].nunique(), loss))

        result = run_loso(df, list(s.seeds), s.train, on_epoch)
        feats, codec = design_matrix(df)
        target, folds = df["vmaf"].to_numpy(dtype="float64"), make_folds(df)
        baselines = {"ridge": ridge_loso(feats, codec, target, folds)}
        for arch in (LINEAR, MLP_SMALL):  # seed document 000's models, trained on the same folds
            baselines[arch.name] = arch_loso(feats, codec, target, folds, arch, s.seeds[0], s.train)
        incumbent = incumbent_loso(s.incumbent, feats, codec, target, folds) if s.incumbent else None
        for stale in ctx.step_dir.glob("loso_seed*.json"):  # seeds of an earlier run must not linger
            stale.unlink()
        outputs: list[Path] = []
        for seed in s.seeds:
            path = ctx.step_dir / f"loso_seed{seed}.json"
            report = next(r for r in result.seed_reports if r["seed"] == seed)
            write_json(path, json_safe({
                **report,
                "corpus": {"path": str(corpus.resolve()), "sha256": corpus_sha, "rows": len(df)},
                "train_config": s.train.to_json(),
                "batched_members": result.n_members,
                "train_seconds": timer.seconds,
            }))
            outputs.append(path)
        baselines_path = ctx.step_dir / "baselines.json"
        write_json(baselines_path, json_safe({"corpus_sha256": corpus_sha, **baselines}))
        outputs.append(baselines_path)
        incumbent_path = ctx.step_dir / "incumbent.json"
        incumbent_path.unlink(missing_ok=True)
        if incumbent is not None:
            write_json(incumbent_path, json_safe(incumbent))
            outputs.append(incumbent_path)
        for name, frame in (("folds.parquet", result.folds), ("predictions.parquet", result.predictions)):
            path = ctx.step_dir / name
            with atomic_path(path) as tmp:
                frame.to_parquet(tmp, index=False)
            outputs.append(path)
        means = [r["mean_plcc"] for r in result.seed_reports]
        return Outcome(outputs, {"seeds": list(s.seeds), "members": result.n_members,
                                 "mean_plcc": sum(means) / len(means),
                                 "ridge_mean_plcc": baselines["ridge"]["mean_plcc"], "seconds": timer.seconds})
