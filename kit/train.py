"""Batched ensemble training: every (seed, fold) member trained at once.

All members share one stacked set of weights, shape (members, in, out), and one
Adam step updates every member. Adam and dropout act element-wise and each
member's loss is its own mean squared error (the sum over members keeps the
gradients separate), so a member trains exactly as it would alone: its own
initialisation (from its seed), its own scaler (fit on its training rows only),
its own shuffled batches.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from kit.model import CODEC_DIM, N_FEATURES, FrRegressor, TrainConfig

IN_DIM = N_FEATURES + CODEC_DIM


@dataclass(frozen=True)
class Member:
    """One model to train: its seed and the global row indices it trains on."""

    seed: int
    fold: int  # -1 for a full-corpus fit
    train_rows: np.ndarray


def _linear_init(gen: torch.Generator, fan_in: int, fan_out: int) -> tuple[torch.Tensor, torch.Tensor]:
    # nn.Linear's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias
    bound = 1.0 / math.sqrt(fan_in)
    w = (torch.rand(fan_out, fan_in, generator=gen) * 2 - 1) * bound
    b = (torch.rand(fan_out, generator=gen) * 2 - 1) * bound
    return w.t().contiguous(), b


class StackedMLP:
    """M independent MLPs as stacked tensors; forward is three batched matmuls."""

    def __init__(self, seeds: list[int], hidden: int, dropout: float) -> None:
        layers: list[list[torch.Tensor]] = [[] for _ in range(6)]
        for seed in seeds:
            gen = torch.Generator().manual_seed(seed)
            for k, (fi, fo) in enumerate([(IN_DIM, hidden), (hidden, hidden), (hidden, 1)]):
                w, b = _linear_init(gen, fi, fo)
                layers[2 * k].append(w)
                layers[2 * k + 1].append(b.unsqueeze(0))
        self.params = [torch.stack(p).requires_grad_(True) for p in layers]
        self.dropout = dropout

    def _drop(self, h: torch.Tensor, training: bool) -> torch.Tensor:
        if not training or self.dropout == 0:
            return h
        # inverted dropout from a uniform mask: the same maths as F.dropout, faster on CPU
        keep = torch.rand_like(h) >= self.dropout
        return h * keep * (1.0 / (1.0 - self.dropout))

    def forward(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        w1, b1, w2, b2, w3, b3 = self.params
        h = self._drop(F.gelu(torch.baddbmm(b1, x, w1)), training)
        h = self._drop(F.gelu(torch.baddbmm(b2, h, w2)), training)
        return torch.baddbmm(b3, h, w3).squeeze(-1)

    def member(self, m: int, mean: torch.Tensor, std: torch.Tensor) -> FrRegressor:
        hidden = self.params[0].shape[2]
        model = FrRegressor(mean, std, hidden, self.dropout)
        linears = [model.net[0], model.net[3], model.net[6]]
        with torch.no_grad():
            for k, lin in enumerate(linears):
                lin.weight.copy_(self.params[2 * k][m].t())
                lin.bias.copy_(self.params[2 * k + 1][m].squeeze(0))
        model.eval()
        return model


@dataclass
class TrainedEnsemble:
    net: StackedMLP
    means: torch.Tensor  # (M, 1, 6)
    stds: torch.Tensor  # (M, 1, 6)
    members: list[Member]
    final_loss: list[float]

    def predict(self, m: int, feats: np.ndarray, codec: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.concatenate([feats, codec], axis=1).astype(np.float32))
        x[:, :N_FEATURES] = (x[:, :N_FEATURES] - self.means[m, 0]) / self.stds[m, 0]
        params = [p[m : m + 1] for p in self.net.params]
        sub = StackedMLP.__new__(StackedMLP)
        sub.params, sub.dropout = params, self.net.dropout
        with torch.no_grad():
            return sub.forward(x.unsqueeze(0), training=False)[0].numpy().astype(np.float64)

    def export_member(self, m: int) -> FrRegressor:
        return self.net.member(m, self.means[m, 0], self.stds[m, 0])


def _scalers(feats: torch.Tensor, members: list[Member]) -> tuple[torch.Tensor, torch.Tensor]:
    means, stds = [], []
    for mem in members:
        rows = feats[torch.from_numpy(mem.train_rows)].double()
        mu = rows.mean(0)
        sd = rows.std(0, unbiased=False)
        sd = torch.where(sd > 1e-12, sd, torch.ones_like(sd))  # a constant feature stays finite
        means.append(mu.float())
        stds.append(sd.float())
    return torch.stack(means).unsqueeze(1), torch.stack(stds).unsqueeze(1)


def _epoch_indices(members: list[Member], gens: list[torch.Generator], n_steps: int, batch: int) -> torch.Tensor:
    """(M, n_steps*batch) global row indices: each member's rows shuffled, wrapped to length."""
    need = n_steps * batch
    out = torch.empty(len(members), need, dtype=torch.long)
    for m, (mem, gen) in enumerate(zip(members, gens, strict=True)):
        rows = torch.from_numpy(mem.train_rows)
        perm = torch.randperm(len(rows), generator=gen)
        reps = -(-need // len(rows))
        out[m] = rows[perm.repeat(reps)[:need]]
    return out


def train_members(
    feats: np.ndarray,
    codec: np.ndarray,
    target: np.ndarray,
    members: list[Member],
    config: TrainConfig,
    on_epoch: Callable[[int, int, float], None] | None = None,
) -> TrainedEnsemble:
    """Train every member together; returns the stacked ensemble."""
    if not members:
        raise ValueError("no members to train")
    torch.manual_seed(0)  # dropout masks: deterministic for a given member list
    f = torch.from_numpy(np.ascontiguousarray(feats, dtype=np.float32))
    c = torch.from_numpy(np.ascontiguousarray(codec, dtype=np.float32))
    y = torch.from_numpy(np.ascontiguousarray(target, dtype=np.float32))
    means, stds = _scalers(f, members)
    net = StackedMLP([m.seed for m in members], config.hidden, config.dropout)
    with torch.no_grad():
        # start each output at its training rows' mean vmaf: with Adam's lr-sized steps a bias
        # starting near 0 would spend most of training climbing to ~80
        for m, mem in enumerate(members):
            net.params[5][m] += y[torch.from_numpy(mem.train_rows)].mean()
    opt = torch.optim.Adam(net.params, lr=config.lr, weight_decay=config.weight_decay)
    gens = [torch.Generator().manual_seed(m.seed * 1_000_003 + m.fold + 1) for m in members]
    mean_rows = float(np.mean([len(m.train_rows) for m in members]))
    steps_per_epoch = max(1, math.ceil(mean_rows / config.batch_size))
    last = [float("nan")] * len(members)
    for epoch in range(config.epochs):
        idx = _epoch_indices(members, gens, steps_per_epoch, config.batch_size)
        epoch_loss = torch.zeros(len(members))
        for step in range(steps_per_epoch):
            rows = idx[:, step * config.batch_size : (step + 1) * config.batch_size]
            x = torch.cat([(f[rows] - means) / stds, c[rows]], dim=2)
            per_member = ((net.forward(x, training=True) - y[rows]) ** 2).mean(dim=1)
            opt.zero_grad(set_to_none=True)
            per_member.sum().backward()
            opt.step()
            epoch_loss += per_member.detach()
        last = (epoch_loss / steps_per_epoch).tolist()
        if on_epoch is not None:
            on_epoch(epoch + 1, config.epochs, float(np.mean(last)))
    return TrainedEnsemble(net, means, stds, members, last)
