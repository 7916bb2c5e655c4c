"""Training helpers the tests and benchmarks call directly, on top of what the loso step runs (kit/model/): the
folds of a corpus, the ensemble's LOSO alone or with its baselines in one pool, and ridge fit on its rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kit.model.baselines import RIDGE_ALPHA, RidgeModel, evaluate_jobs, loso_jobs
from kit.model.folds import LOSO, Fold, cut_folds
from kit.model.loso import LosoInputs, LosoResult, evaluate_loso
from kit.model.recipe import TrainConfig
from kit.model.results import BaselineResult
from kit.model.runtime import predict, session
from kit.model.train import EpochCallback, TrainData, train_jobs, train_members


def onnx_predict(path: Path, feats: np.ndarray, codec: np.ndarray) -> np.ndarray:
    """An exported model's `vmaf` output for the rows, from the kit's one onnxruntime session."""
    return predict(session(path), feats, codec)


def make_folds(df: pd.DataFrame, asked: str = LOSO) -> list[Fold]:
    """The folds of --folds `asked` (LOSO by default: one fold per content group, ordered by source name);
    refuses fewer than 3 content groups, or a too-short source."""
    return cut_folds(df, asked)[0]


def run_loso(df: pd.DataFrame, seeds: list[int], config: TrainConfig,
             on_epoch: EpochCallback | None = None, workers: int = 1, asked: str = LOSO) -> LosoResult:
    """The ensemble's validation alone (loso_with_baselines trains the baselines beside it)."""
    inputs = LosoInputs.of(df, asked, config.inputs)
    ens = train_members(inputs.feats, inputs.codec, inputs.target, inputs.members(seeds), config, on_epoch,
                        workers=workers)
    return evaluate_loso(inputs, seeds, ens)


def loso_with_baselines(inputs: LosoInputs, seeds: list[int], config: TrainConfig,
                        on_epoch: EpochCallback | None = None, workers: int = 1,
                        ) -> tuple[LosoResult, dict[str, BaselineResult]]:
    """The ensemble's LOSO and every baseline on the same folds, trained here in one pool
    (kit.model.train.train_jobs); the loso step trains the same jobs through kit.model.tasks, member files
    and all."""
    jobs = loso_jobs(inputs, seeds, config, on_epoch)
    trained = train_jobs(TrainData.of(inputs.feats, inputs.codec, inputs.target), jobs, config, workers)
    return evaluate_jobs(inputs, seeds, trained, config)


def fit_ridge(feats: np.ndarray, codec: np.ndarray, target: np.ndarray, alpha: float = RIDGE_ALPHA) -> RidgeModel:
    """Ridge on these rows directly (kit.model.baselines.ridge_from_moments fits the same from their moments), on
    raw features: motion enters as log(1 + x), as in every model (kit.model.features.model_space), written here."""
    feats = feats.astype(np.float64).copy()
    feats[:, 5] = np.log1p(np.maximum(feats[:, 5], 0.0))
    mean = feats.mean(0).astype(np.float64)
    std = feats.std(0).astype(np.float64)
    std = np.where(std > 1e-12, std, 1.0)
    x = np.concatenate([(feats - mean) / std, codec], axis=1).astype(np.float64)
    x_mean, y_mean = x.mean(0), float(target.mean())
    xc, yc = x - x_mean, target - y_mean
    # centring removes the intercept from the penalty; lstsq stays stable for all-zero codec columns
    a = xc.T @ xc + alpha * np.eye(x.shape[1])
    w = np.linalg.lstsq(a, xc.T @ yc, rcond=None)[0]
    return RidgeModel(mean, std, w, y_mean - float(x_mean @ w))
