"""The straightforward trainer the batched one is measured against.

One model at a time, as the bash kit trained: an nn.Module per (seed, fold),
torch.manual_seed(seed), shuffled mini-batches per epoch, Adam, MSE on vmaf,
the scaler fit on the training fold. Same network, same initialisation of the
output bias as the kit (the training fold's mean vmaf), so any difference in
figures comes from batching all members together, not from the recipe.
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch

from kit.model.arch import fr_regressor_v2
from kit.model.features import model_space
from kit.model.loso import Fold
from kit.model.metrics import residuals
from kit.model.network import FrRegressor
from kit.model.recipe import TrainConfig


def train_one(feats: np.ndarray, codec: np.ndarray, target: np.ndarray, rows: np.ndarray, seed: int,
              config: TrainConfig, bias_init: bool = True) -> FrRegressor:
    torch.manual_seed(seed)
    f = torch.from_numpy(feats[rows].astype(np.float32))
    c = torch.from_numpy(codec[rows].astype(np.float32))
    y = torch.from_numpy(target[rows].astype(np.float32))
    spaced = torch.from_numpy(model_space(feats[rows]))  # the scaler is of what the model's first op makes
    std = spaced.std(0, unbiased=False)
    model = FrRegressor(spaced.mean(0), torch.where(std > 1e-12, std, torch.ones_like(std)), fr_regressor_v2(config))
    if bias_init:
        with torch.no_grad():
            model.slot("output").bias += y.mean()
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    model.train()
    n = len(rows)
    for _ in range(config.epochs):
        perm = torch.randperm(n)
        for b in range(math.ceil(n / config.batch_size)):
            idx = perm[b * config.batch_size : (b + 1) * config.batch_size]
            loss = torch.nn.functional.mse_loss(model(f[idx], c[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    return model


def loop_loso(feats: np.ndarray, codec: np.ndarray, target: np.ndarray, folds: list[Fold], seeds: list[int],
              config: TrainConfig, max_folds: int | None = None) -> dict[int, list[dict[str, float]]]:
    """Per seed, the per-fold figures of the one-model-at-a-time loop, on torch's own thread count
    (one per core, as the bash kit ran; the kit's choice of one thread per worker is restored after)."""
    all_rows = np.arange(len(target))
    out: dict[int, list[dict[str, float]]] = {}
    kit_threads = torch.get_num_threads()
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    try:
        return _loop(feats, codec, target, folds, seeds, config, max_folds, all_rows, out)
    finally:
        torch.set_num_threads(kit_threads)


def _loop(feats: np.ndarray, codec: np.ndarray, target: np.ndarray, folds: list[Fold], seeds: list[int],
          config: TrainConfig, max_folds: int | None, all_rows: np.ndarray,
          out: dict[int, list[dict[str, float]]]) -> dict[int, list[dict[str, float]]]:
    for seed in seeds:
        out[seed] = []
        for fold in folds[:max_folds]:
            train = np.setdiff1d(all_rows, fold.rows, assume_unique=True)
            model = train_one(feats, codec, target, train, seed, config)
            with torch.no_grad():
                pred = model(torch.from_numpy(feats[fold.rows]), torch.from_numpy(codec[fold.rows])).numpy()
            out[seed].append({"plcc": residuals(pred, target[fold.rows]).plcc})
    return out
