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

from kit.model.network import Arch, FrRegressor, Layer, fr_regressor_v2
from kit.model.recipe import TrainConfig

ACTIVATION_FNS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"gelu": F.gelu, "relu": F.relu}


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


@dataclass(frozen=True)
class Slot:
    """One layer slot of every member: weights (M, in, out) and biases (M, 1, out), trained together."""

    layer: Layer
    weight: torch.Tensor
    bias: torch.Tensor


MASK_LEVELS = 1 << 16  # dropout draws are 16-bit


class StackedMLP:
    """M independent MLPs of one architecture as stacked tensors; a layer is one batched matmul."""

    def __init__(self, seeds: list[int], arch: Arch) -> None:
        layers = arch.layers()
        inits = []  # per seed, its layers in order, all drawn from the seed's own generator
        for seed in seeds:
            gen = torch.Generator().manual_seed(seed)
            inits.append([_linear_init(gen, layer.fan_in, layer.fan_out) for layer in layers])
        self.slots = [Slot(layer, torch.stack([per_seed[k][0] for per_seed in inits]).requires_grad_(True),
                           torch.stack([per_seed[k][1].unsqueeze(0) for per_seed in inits]).requires_grad_(True))
                      for k, layer in enumerate(layers)]
        self.arch = arch
        self.mask_bits: np.random.PCG64 | None = None  # dropout's generator while training

    @property
    def params(self) -> list[torch.Tensor]:
        """Every trainable tensor, layer by layer (weight, bias): what the optimiser updates."""
        return [t for s in self.slots for t in (s.weight, s.bias)]

    def _drop(self, h: torch.Tensor, p: float, training: bool) -> torch.Tensor:
        if not training or p == 0:
            return h
        if self.mask_bits is None:
            raise RuntimeError("training needs mask_bits: set by train_members")
        # inverted dropout from 16-bit uniform draws, four per 64-bit word of numpy's PCG64: torch's CPU
        # generator (MT19937, one draw per element) was ~15 % of a LOSO run. A unit drops when its draw
        # is below round(p * 65536), so p = 0.1 drops 6554/65536 = 0.100006 of them; the kept ones are
        # scaled by the exact inverse of the kept share, so a unit's expected output is unchanged.
        cut = round(p * MASK_LEVELS)
        draws = self.mask_bits.random_raw(-(-h.numel() // 4)).view(np.uint16)[:h.numel()]
        keep = torch.from_numpy(draws.reshape(h.shape) >= cut)
        return h * keep * (MASK_LEVELS / (MASK_LEVELS - cut))

    def forward(self, x: torch.Tensor, training: bool, members: slice | None = None) -> torch.Tensor:
        """Outputs (M, rows) for inputs (M, rows, in); `members` selects a slice of the stack."""
        h = x
        for s in self.slots:
            w, b = (s.weight, s.bias) if members is None else (s.weight[members], s.bias[members])
            h = torch.baddbmm(b, h, w)
            if s.layer.activation is not None:
                h = self._drop(ACTIVATION_FNS[s.layer.activation](h), s.layer.dropout, training)
        return h.squeeze(-1)

    def member(self, m: int, mean: torch.Tensor, std: torch.Tensor) -> FrRegressor:
        """Member m as a torch module with its scaler, each slot copied by name."""
        model = FrRegressor(mean, std, self.arch)
        with torch.no_grad():
            for s in self.slots:
                model.slot(s.layer.name).weight.copy_(s.weight[m].t())
                model.slot(s.layer.name).bias.copy_(s.bias[m].squeeze(0))
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
        z = (torch.from_numpy(feats.astype(np.float32)) - self.means[m, 0]) / self.stds[m, 0]
        x = torch.cat([z, torch.from_numpy(codec.astype(np.float32))], dim=1) if self.net.arch.use_codec else z
        with torch.no_grad():
            out = self.net.forward(x.unsqueeze(0), False, slice(m, m + 1))
        return out[0].numpy().astype(np.float64)

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


class _RowStream:
    """One member's training rows, reshuffled on every pass, handed out in order."""

    def __init__(self, rows: np.ndarray, gen: torch.Generator) -> None:
        self.rows = torch.from_numpy(rows)
        self.gen = gen
        self.perm = self.rows[torch.randperm(len(self.rows), generator=gen)]
        self.pos = 0

    def take(self, n: int) -> torch.Tensor:
        parts = []
        while n > 0:
            if self.pos == len(self.perm):
                self.perm = self.rows[torch.randperm(len(self.rows), generator=self.gen)]
                self.pos = 0
            part = self.perm[self.pos : self.pos + n]
            self.pos += len(part)
            n -= len(part)
            parts.append(part)
        return torch.cat(parts)


class Adam:
    """torch.optim.Adam's update (its single-tensor path, L2 weight decay), op for op, so the weights
    are bit for bit those torch.optim.Adam gives (a test compares them); without the optimiser
    framework around it (hooks, profiler records, the torch._dynamo import on first use), which cost
    ~5 % of a LOSO run here: thousands of steps of a few small tensors."""

    def __init__(self, params: list[torch.Tensor], lr: float, weight_decay: float,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.params, self.lr, self.weight_decay, self.betas, self.eps = params, lr, weight_decay, betas, eps
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in params]
        self.exp_avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in params]
        self.steps = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        beta1, beta2 = self.betas
        self.steps += 1
        step = float(self.steps)  # torch keeps it as a float32 tensor and reads it back: exact to 2**24
        step_size = self.lr / (1 - beta1**step)
        bias_correction2_sqrt = (1 - beta2**step) ** 0.5
        grads = [p.grad for p in self.params if p.grad is not None]
        assert len(grads) == len(self.params), "a parameter without a gradient"
        # the same element-wise ops on every tensor at once (torch's _foreach kernels): one dispatch per op
        # instead of one per op and tensor, bit for bit the single-tensor results
        if self.weight_decay != 0:
            grads = list(torch._foreach_add(grads, self.params, alpha=self.weight_decay))
        torch._foreach_lerp_(self.exp_avg, grads, 1 - beta1)
        torch._foreach_mul_(self.exp_avg_sq, beta2)
        torch._foreach_addcmul_(self.exp_avg_sq, grads, grads, value=1 - beta2)
        denom = torch._foreach_sqrt(self.exp_avg_sq)
        torch._foreach_div_(denom, bias_correction2_sqrt)
        torch._foreach_add_(denom, self.eps)
        torch._foreach_addcdiv_(self.params, self.exp_avg, denom, value=-step_size)


@dataclass(frozen=True)
class Schedule:
    batch: int  # rows per member per step
    steps: int  # optimizer steps in all
    steps_per_round: int  # steps between progress reports (one epoch for small corpora)

    @property
    def rounds(self) -> int:
        return -(-self.steps // self.steps_per_round)

    def epochs(self, mean_rows: float, configured: int) -> int:
        """Passes over a member's rows in all: --epochs, or fewer when the sample budget caps a large corpus."""
        return max(1, min(configured, round(self.steps * self.batch / mean_rows)))


def plan_schedule(mean_rows: float, config: TrainConfig) -> Schedule:
    """Epochs x batch for small corpora; a sample budget with larger batches for big ones.

    A member sees `epochs` passes over its rows, but at most `max_samples` rows in all,
    in at most `max_steps` steps (the batch grows up to `max_batch` to fit). On the
    kit's default corpora (a few thousand rows) this is exactly `epochs` x `batch_size`.
    """
    samples = min(config.epochs * mean_rows, config.max_samples)
    batch = int(min(max(config.batch_size, math.ceil(samples / config.max_steps)), config.max_batch))
    steps = max(1, math.ceil(samples / batch))
    per_epoch = max(1, math.ceil(mean_rows / batch))
    return Schedule(batch, steps, min(per_epoch, max(1, math.ceil(steps / 50))))


def train_members(
    feats: np.ndarray,
    codec: np.ndarray,
    target: np.ndarray,
    members: list[Member],
    config: TrainConfig,
    on_epoch: Callable[[int, int, float], None] | None = None,
    arch: Arch | None = None,
) -> TrainedEnsemble:
    """Train every member together; returns the stacked ensemble.

    on_epoch(epochs done, epochs, mean train loss) is called after each round of steps
    (an epoch on small corpora, 1/50 of the step budget on large ones).
    """
    if not members:
        raise ValueError("no members to train")
    f = torch.from_numpy(np.ascontiguousarray(feats, dtype=np.float32))
    c = torch.from_numpy(np.ascontiguousarray(codec, dtype=np.float32))
    y = torch.from_numpy(np.ascontiguousarray(target, dtype=np.float32))
    means, stds = _scalers(f, members)
    arch = arch or fr_regressor_v2(config)
    net = StackedMLP([m.seed for m in members], arch)
    net.mask_bits = np.random.PCG64(0)  # dropout masks: deterministic for a given member list
    with torch.no_grad():
        # start each output at its training rows' mean vmaf: with Adam's lr-sized steps a bias
        # starting near 0 would spend most of training climbing to ~80
        for m, mem in enumerate(members):
            net.slots[-1].bias[m] += y[torch.from_numpy(mem.train_rows)].mean()
    opt = Adam(net.params, lr=config.lr, weight_decay=config.weight_decay)
    streams = [_RowStream(m.train_rows, torch.Generator().manual_seed(m.seed * 1_000_003 + m.fold + 1))
               for m in members]
    mean_rows = float(np.mean([len(m.train_rows) for m in members]))
    sched = plan_schedule(mean_rows, config)
    epochs = sched.epochs(mean_rows, config.epochs)
    last = [float("nan")] * len(members)
    done = 0
    for _ in range(sched.rounds):
        n = min(sched.steps_per_round, sched.steps - done)
        idx = torch.stack([s.take(n * sched.batch) for s in streams])
        round_loss = torch.zeros(len(members))
        for step in range(n):
            rows = idx[:, step * sched.batch : (step + 1) * sched.batch]
            z = (f[rows] - means) / stds
            x = torch.cat([z, c[rows]], dim=2) if arch.use_codec else z
            per_member = ((net.forward(x, training=True) - y[rows]) ** 2).mean(dim=1)
            opt.zero_grad()
            per_member.sum().backward()
            opt.step()
            round_loss += per_member.detach()
        done += n
        last = (round_loss / n).tolist()
        if on_epoch is not None:  # real epochs: passes over a member's rows, not the schedule's rounds
            on_epoch(min(epochs, max(1, round(done * sched.batch / mean_rows))), epochs, float(np.mean(last)))
    return TrainedEnsemble(net, means, stds, members, last)
