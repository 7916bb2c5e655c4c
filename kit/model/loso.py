"""Leave-one-source-out evaluation of the ensemble.

One fold per distinct content (`src_sha256`), so a piece of content never sits
on both sides of a fold, even when two boxes named it differently. Every
(seed, fold) member is trained in one call of the batched trainer
(kit.model.train), its members grouped onto the training workers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from kit.corpus.schema import VMAF_CEILING
from kit.errors import InputError
from kit.infra.invocation import kit_command
from kit.model.features import design_matrix
from kit.model.metrics import agreement, errors, summarise
from kit.model.recipe import MIN_SOURCES, TrainConfig, check_frames_per_source
from kit.model.results import FoldResult, SeedReport
from kit.model.train import EpochCallback, Member, TrainedEnsemble, train_members


@dataclass(frozen=True)
class Fold:
    index: int
    src: str
    src_sha256: str
    rows: np.ndarray  # held-out row indices


def make_folds(df: pd.DataFrame) -> list[Fold]:
    """One fold per src_sha256, ordered by source name; refuses fewer than 3 sources, or a too-short one."""
    groups = df.groupby("src_sha256", sort=False).indices
    names = df.groupby("src_sha256", sort=False)["src"].first()
    order = sorted(groups, key=lambda s: (str(names[s]), s))
    if len(order) < MIN_SOURCES:
        raise InputError(f"the corpus has {len(order)} distinct source(s); LOSO needs at least {MIN_SOURCES}",
                         hint="add reference clips (--ref-dir) or train on a merged corpus (--corpus)")
    frames = df.groupby("src_sha256", sort=False)["frame_index"].nunique()
    check_frames_per_source({f"source {names[s]!r} ({s[:12]})": int(frames[s]) for s in order}, " in the corpus",
                            hint=f"drop that source's rows ({kit_command('merge')} from shards without it), "
                                 "or re-make them from a longer cut of the clip")
    return [Fold(i, str(names[s]), s, np.sort(groups[s])) for i, s in enumerate(order)]


def training_rows(folds: list[Fold], n_rows: int) -> list[np.ndarray]:
    """Per fold, the rows it trains on: every row not held out."""
    all_rows = np.arange(n_rows)
    return [np.setdiff1d(all_rows, f.rows, assume_unique=True) for f in folds]


@dataclass
class LosoResult:
    seed_reports: list[SeedReport]
    folds: pd.DataFrame  # every (seed, fold), the FoldResult fields as columns (folds.parquet)
    predictions: pd.DataFrame  # one row per held-out frame and seed (predictions.parquet)
    n_members: int


@dataclass(frozen=True)
class LosoInputs:
    """A corpus cut into its folds: what every model evaluated on them (ensemble, baselines) trains on."""

    df: pd.DataFrame
    folds: list[Fold]
    train: list[np.ndarray]  # per fold, the rows it trains on
    feats: np.ndarray
    codec: np.ndarray
    target: np.ndarray  # vmaf, float64

    @classmethod
    def of(cls, df: pd.DataFrame) -> LosoInputs:
        folds = make_folds(df)
        feats, codec = design_matrix(df)
        return cls(df, folds, training_rows(folds, len(df)), feats, codec, df["vmaf"].to_numpy(dtype=np.float64))

    def members(self, seeds: list[int]) -> list[Member]:
        """One member per (seed, fold), seed by seed."""
        return [Member(seed, fold.index, self.train[fold.index]) for seed in seeds for fold in self.folds]


def run_loso(df: pd.DataFrame, seeds: list[int], config: TrainConfig,
             on_epoch: EpochCallback | None = None, workers: int = 1) -> LosoResult:
    """The ensemble's LOSO alone (kit.model.baselines.loso_with_baselines trains the baselines beside it)."""
    inputs = LosoInputs.of(df)
    members = inputs.members(seeds)
    ens = train_members(inputs.feats, inputs.codec, inputs.target, members, config, on_epoch, workers=workers)
    return evaluate_loso(inputs, seeds, ens)


def evaluate_loso(inputs: LosoInputs, seeds: list[int], ens: TrainedEnsemble) -> LosoResult:
    """Every member on its held-out source: the folds' figures, the seeds' reports, the predictions."""
    df, feats, codec, target = inputs.df, inputs.feats, inputs.codec, inputs.target
    results, pred_frames = [], []
    for m, mem in enumerate(ens.members):
        fold = inputs.folds[mem.fold]
        pred = ens.predict(m, feats[fold.rows], codec[fold.rows])
        y = target[fold.rows]
        a, e = agreement_of(y, pred), errors(y, pred)
        results.append(FoldResult(seed=mem.seed, fold=fold.index, src=fold.src, src_sha256=fold.src_sha256,
                                  n_frames=len(fold.rows), share_vmaf_100=float(np.mean(y >= VMAF_CEILING)),
                                  plcc=a["plcc"], srocc=a["srocc"], krocc=a["krocc"], rmse=a["rmse"],
                                  bias=e["bias"], max_abs_error=e["max_abs_error"],
                                  share_out_of_range=e["share_out_of_range"], teacher_constant=is_constant(y)))
        pred_frames.append(pd.DataFrame({
            "seed": np.int32(mem.seed), "fold": np.int32(fold.index), "row": fold.rows.astype(np.int64),
            "src_sha256": fold.src_sha256, "encoder": df["encoder"].to_numpy()[fold.rows],
            "cq": df["cq"].to_numpy()[fold.rows], "frame_index": df["frame_index"].to_numpy()[fold.rows],
            "vmaf": y, "pred": pred,
        }))
    reports = [seed_report(seed, [r for r in results if r.seed == seed]) for seed in seeds]
    return LosoResult(reports, pd.DataFrame([asdict(r) for r in results]),
                      pd.concat(pred_frames, ignore_index=True), len(ens.members))


def correlation(fold: FoldResult, metric: str) -> float:
    """A fold's PLCC, SROCC or KROCC as the seed's means count it (CORRELATION_RULE); NaN stays NaN."""
    return float(getattr(fold, metric))


def agreement_of(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """kit.model.metrics.agreement, with CORRELATION_RULE for finite constant predictions of a varying
    teacher: correlation 0 (the model has none), where agreement says undefined."""
    a = agreement(y, pred)
    if len(y) > 1 and np.ptp(y) > 0 and np.isfinite(pred).all() and np.ptp(pred) == 0:
        a = {**a, "plcc": 0.0, "srocc": 0.0, "krocc": 0.0}
    return a


CORRELATION_RULE = (
    "A held-out source whose teacher scores are all equal has no defined correlation: its fold is left out of the "
    "PLCC, SROCC and KROCC means (its RMSE still counts) and is named in folds_without_correlation. A fold whose "
    "predictions are constant while the teacher varies counts as correlation 0.")


def fold_summary(folds: list[FoldResult], metric: str) -> dict[str, float]:
    """mean/std/min/max of one metric over the folds, by CORRELATION_RULE for the correlations."""
    if metric == "rmse":
        return summarise([f.rmse for f in folds])
    return summarise([correlation(f, metric) for f in folds if not f.teacher_constant])


def is_constant(values: np.ndarray) -> bool | None:
    """True when every value is equal (FoldResult.teacher_constant), else None (the key is left out)."""
    return True if len(values) and np.ptp(values) == 0 else None


def seed_report(seed: int, folds: list[FoldResult]) -> SeedReport:
    """One seed's figures over its folds, by CORRELATION_RULE."""
    plcc = fold_summary(folds, "plcc")
    undefined = [f.src for f in folds if f.teacher_constant]
    bias = [float(f.bias) for f in folds if f.bias is not None]
    return SeedReport(
        seed=seed, mean_plcc=plcc["mean"], std_plcc=plcc["std"], min_plcc=plcc["min"], max_plcc=plcc["max"],
        mean_srocc=fold_summary(folds, "srocc")["mean"], mean_krocc=fold_summary(folds, "krocc")["mean"],
        mean_rmse=fold_summary(folds, "rmse")["mean"], n_folds=len(folds), folds=tuple(folds),
        folds_without_correlation=undefined or None,
        mean_bias=float(np.mean(bias)) if bias else None, max_abs_bias=float(np.max(np.abs(bias))) if bias else None,
        max_abs_error=max((float(f.max_abs_error) for f in folds if f.max_abs_error is not None), default=None),
        share_out_of_range=out_of_range_share(folds),
    )


def out_of_range_share(folds: list[FoldResult]) -> float | None:
    """Of all held-out predictions of these folds, the share outside [0, 100] (each fold weighs its frames)."""
    counted = [f for f in folds if f.share_out_of_range is not None]
    frames = sum(f.n_frames for f in counted)
    return sum(float(f.share_out_of_range or 0.0) * f.n_frames for f in counted) / frames if frames else None
