"""Baselines on the same LOSO folds, so a reader sees what the ensemble adds: `ridge`, a closed-form ridge regression
on the ensemble's inputs, and seed document 000's `linear` and `mlp_small`, trained with the ensemble's recipe.

A trained baseline is a TrainJob (`loso_jobs`), so it shares the ensemble's worker threads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from kit.infra.resources import give_back_memory
from kit.model.arch import Arch, baseline_archs, fr_regressor_v2
from kit.model.contract import N_FEATURES
from kit.model.features import Codec, codec_into, model_space
from kit.model.floor import with_floor
from kit.model.folds import Fold
from kit.model.loso import (
    LosoInputs,
    LosoResult,
    Said,
    by_group,
    by_source,
    evaluate_loso,
    fold_summary,
    held_out_results,
    unsaid,
)
from kit.model.recipe import TrainConfig
from kit.model.results import BaselineResult, FoldResult, GroupResult
from kit.model.train import EpochCallback, TrainedEnsemble, TrainJob, untrained

RIDGE_ALPHA = 1.0  # L2 penalty on the (z-scored) weights; the intercept is not penalised


@dataclass(frozen=True)
class RidgeModel:
    mean: np.ndarray
    std: np.ndarray
    weights: np.ndarray  # (in_dim,)
    intercept: float

    def predict(self, feats: np.ndarray, codec: np.ndarray) -> np.ndarray:
        z = (model_space(feats).astype(np.float64) - self.mean) / self.std
        return np.concatenate([z, codec.astype(np.float64)], axis=1) @ self.weights + self.intercept


def baseline_result(model: str, folds: list[Fold], target: np.ndarray, predict: Callable[[int, Fold], np.ndarray],
                    details: dict[str, object]) -> BaselineResult:
    """A model's means over the content groups, its folds and groups (`predict(i, fold)`: fold i's predictions)."""
    sources: list[FoldResult] = []
    groups: list[GroupResult] = []
    for i, fold in enumerate(folds):
        found = held_out_results(fold, target[fold.rows], predict(i, fold))
        sources += found[0]
        groups += found[1]
    groups = by_group(groups)
    means = {m: fold_summary(groups, m)["mean"] for m in ("plcc", "srocc", "krocc", "rmse")}
    return BaselineResult(model, details, means["plcc"], means["srocc"], means["krocc"], means["rmse"],
                          len(groups), tuple(by_source(sources)), tuple(groups))


@dataclass(frozen=True)
class Moments:
    """What a ridge fit needs of its rows, summed about the corpus's means: count, sums and cross products of
    [features, codec, target]; a fold's training rows' are the totals minus the fold's."""

    n: float
    s: np.ndarray  # (d+1,) sums of the shifted columns
    g: np.ndarray  # (d+1, d+1) their cross products

    @classmethod
    def of(cls, shifted: np.ndarray) -> Moments:
        return cls(float(len(shifted)), shifted.sum(0), shifted.T @ shifted)

    def __sub__(self, other: Moments) -> Moments:
        return Moments(self.n - other.n, self.s - other.s, self.g - other.g)


def ridge_from_moments(m: Moments, shift: np.ndarray, n_feats: int, alpha: float = RIDGE_ALPHA) -> RidgeModel:
    """Ridge from its training rows' moments: the features z-scored, the codec block as it is, the intercept free."""
    mean = m.s / m.n
    cov = m.g / m.n - np.outer(mean, mean)  # population covariance of [features, codec, target]
    d = len(shift) - 1
    std = np.sqrt(np.clip(np.diag(cov)[:n_feats], 0.0, None))
    std = np.where(std > 1e-12, std, 1.0)
    scale = np.concatenate([1.0 / std, np.ones(d - n_feats)])
    a = (cov[:d, :d] * m.n) * np.outer(scale, scale) + alpha * np.eye(d)
    w = np.linalg.lstsq(a, cov[:d, d] * m.n * scale, rcond=None)[0]
    x_mean = (mean[:d] + shift[:d]) * np.concatenate([np.zeros(n_feats), np.ones(d - n_feats)])
    return RidgeModel(mean[:n_feats] + shift[:n_feats], std, w, float(mean[d] + shift[d] - x_mean @ w))


def ridge_loso(feats: np.ndarray, codec: Codec, target: np.ndarray, folds: list[Fold]) -> BaselineResult:
    """Ridge regression on the LOSO folds, each fit from the corpus's moments minus its fold's (no copy per fold)."""
    shifted = np.empty((len(feats), feats.shape[1] + codec.shape[1] + 1), dtype=np.float64)  # filled in place: the
    shifted[:, :feats.shape[1]] = model_space(feats)  # values of one concatenation, without its copies (0.5 GiB each
    codec_into(shifted[:, feats.shape[1]:-1], codec)  # at 3,000,000 rows)
    shifted[:, -1] = target
    shift = shifted.mean(0)
    shifted -= shift
    total = Moments.of(shifted)

    def predict(_: int, fold: Fold) -> np.ndarray:
        model = ridge_from_moments(total - Moments.of(shifted[fold.rows]), shift, feats.shape[1])
        return model.predict(feats[fold.rows], codec[fold.rows])

    return baseline_result("ridge", folds, target, predict, {
        "alpha": RIDGE_ALPHA, "inputs": f"{feature_words(feats.shape[1])} + codec block (same as the ensemble)"})


def feature_words(n: int) -> str:
    return f"{ {6: 'six', 10: 'ten'}.get(n, str(n))} z-scored features"


def arch_result(inputs: LosoInputs, arch: Arch, seed: int, ens: TrainedEnsemble) -> BaselineResult:
    """Seed document 000's architectures (linear, mlp_small) on the same folds, same recipe."""
    feats, codec = inputs.feats, inputs.codec
    return baseline_result(arch.name, inputs.folds, inputs.target,
                           lambda m, fold: ens.predict(m, feats[fold.rows], codec[fold.rows]), {
        "params": arch.params, "seed": seed,
        "inputs": feature_words(arch.n_features) + (" + codec block" if arch.use_codec else ""),
        "recipe": "the ensemble's (Adam, MSE on vmaf, same epochs and batches)"})


def loso_jobs(inputs: LosoInputs, seeds: list[int], config: TrainConfig,
              on_epoch: EpochCallback | None = None, ensemble: bool = True) -> list[TrainJob]:
    """What a LOSO trains: the ensemble (every seed x fold; not where `ensemble` is False: none of its networks
    needed, kit.model.floor.settled), then linear and mlp_small (the first seed x fold)."""
    own = [TrainJob(inputs.members(seeds), fr_regressor_v2(config, inputs.recipe), on_epoch)] if ensemble else []
    return [*own, *(TrainJob(inputs.members(seeds[:1]), arch) for arch in baseline_archs(config))]  # one per fold


def settled_ensemble(inputs: LosoInputs, seeds: list[int], config: TrainConfig) -> TrainedEnsemble:
    """The ensemble's members where no correction can be kept (kit.model.floor.settled): untrained, each its seed's
    zero correction."""
    assert inputs.distil is not None
    return untrained(inputs.distil, inputs.members(seeds), config)


def evaluated_rows(inputs: LosoInputs, seeds: list[int], config: TrainConfig) -> int:
    """The rows evaluate_jobs says it has predicted, in all: every row once by ridge, each trained baseline, each
    seed's members and the teacher's function where it is at hand."""
    models = 1 + len(baseline_archs(config)) + len(seeds) + (inputs.teacher_model is not None)
    return models * len(inputs.target)


def evaluate_jobs(inputs: LosoInputs, seeds: list[int], trained: list[TrainedEnsemble],
                  config: TrainConfig, said: Said = unsaid) -> tuple[LosoResult, dict[str, BaselineResult]]:
    """The ensemble's LOSO (by the teacher recipe, its corrections scaled: kit.model.floor) and every baseline on the
    same folds, from the jobs of `loso_jobs` trained (and ridge); each model's rows `said` as it is done."""
    rows = len(inputs.target)
    said("evaluating ridge on every fold", 0)
    models = {"ridge": ridge_loso(inputs.feats, inputs.codec, inputs.target, inputs.folds)}
    give_back_memory()  # each part's tables, freed: not carried into the next
    for arch, ens in zip(baseline_archs(config), trained[1:], strict=True):
        said(f"evaluating the baseline {arch.name} on every fold", rows)
        models[arch.name] = arch_result(inputs, arch, seeds[0], ens)
    said("choosing each fold's correction of the teacher's function" if inputs.distil is not None else
         "evaluating the ensemble's members on their held-out contents", rows)
    ensemble, correction, floor = with_floor(inputs, trained[0])
    give_back_memory()
    result = replace(evaluate_loso(inputs, seeds, ensemble, said), correction=correction, floor=floor)
    give_back_memory()
    if inputs.teacher_model is not None:
        said("evaluating the teacher's own function on every fold", 0)
    if (teacher := teacher_fn_result(inputs, result.encodes)) is not None:
        models[TEACHER_FN] = teacher
        said("every model evaluated", rows)
    return result, models


TEACHER_FN = "teacher_fn"  # the teacher's own function as a baseline: the student's floor (kit.model.floor)


def teacher_fn_result(inputs: LosoInputs, encodes: pd.DataFrame | None) -> BaselineResult | None:
    """The teacher's own function on the same folds (where LOSO proved it of the six): its frames' figures, and on the
    held-out encodes as the consumer gates judge them (encodes.parquet's counted rows, their first window where one is
    placed, kit.verdict.ceiling) how many it and the student keep within --consumer-tolerance. None where the function
    is not at hand."""
    if (model := inputs.teacher_model) is None:
        return None
    details: dict[str, object] = {"inputs": "the six raw features, as libvmaf computes its score from them",
                                  "teacher": model.name}
    if encodes is not None and len(counted := encodes[encodes["counted"].astype(bool)]):
        sampled = "window_miss" in counted and bool(counted["window_teacher"].notna().any())
        miss, ceiling = ("window_miss", "window_ceiling_miss") if sampled else ("miss", "ceiling_miss")
        details |= {"held_out_encodes": len(counted),
                    "encodes_within": int((counted[ceiling] <= inputs.tolerance).sum()),
                    "student_encodes_within": int((counted[miss] <= inputs.tolerance).sum()),
                    "tolerance": inputs.tolerance, "sampled": sampled}
    six = inputs.feats[:, :N_FEATURES]  # a fold's rows at a time, as float64 (the function of each row is its own)
    return baseline_result(TEACHER_FN, inputs.folds, inputs.target,
                           lambda _, fold: model.predict(six[fold.rows].astype(np.float64)), details)
