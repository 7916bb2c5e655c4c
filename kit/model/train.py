"""Batched ensemble training: many members at once, in groups trained side by side.

Members of one architecture share stacked weights, shape (members, in, out): a layer is
one batched matmul and one Adam step updates every member. Every operation acts on each
member's slice alone (batched matmuls, element-wise activations, dropout and Adam, each
member's gradient from its own mean squared error, written out in `StackedMLP.gradients`),
so a member trains exactly as it would alone: its own initialisation (from its seed), its
own scaler (fit on its training rows only), its own shuffled batches, its own dropout
masks (from its own generator).

Since a member depends on nothing but itself and its job's schedule, a job's members are
split into groups, one stack each, trained side by side on worker threads (`train_jobs`).
Each worker runs torch on its own single intra-op thread, so no thread ever waits for
another inside an operation: that waiting is what made training collapse on a busy box
(issue 14), and on an idle one two workers beat two intra-op threads (bench/README.md).
How the members are grouped does not change a bit of any member's weights (a test trains
them every way).
"""

from __future__ import annotations

import itertools
import math
import queue
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from kit.model.features import N_FEATURES
from kit.model.network import Arch, FrRegressor, Layer, fr_regressor_v2
from kit.model.recipe import TrainConfig
from kit.model.threads import INTRAOP_THREADS

ACTIVATION_FNS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"gelu": F.gelu, "relu": F.relu}
# d(activation)/d(input), applied to the gradient by its output: (gradient, input) -> gradient by the input
ACTIVATION_GRADS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "gelu": lambda grad, pre: torch.ops.aten.gelu_backward(grad, pre),
    "relu": lambda grad, pre: torch.ops.aten.threshold_backward(grad, pre, 0),
}

EpochCallback = Callable[[int, int, float], None]  # (epochs done, epochs, mean train loss)


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


@dataclass
class Trace:
    """What one layer saw on the way forward, for the way back."""

    inp: torch.Tensor  # its input (M, rows, fan_in)
    pre: torch.Tensor | None = None  # its output before the activation
    mask: torch.Tensor | None = None  # the dropout mask after the activation


@dataclass(frozen=True)
class Slot:
    """One layer slot of every member: weights (M, in, out) and biases (M, 1, out), trained together."""

    layer: Layer
    weight: torch.Tensor
    bias: torch.Tensor


class StackedMLP:
    """M independent MLPs of one architecture as stacked tensors; a layer is one batched matmul."""

    def __init__(self, seeds: list[int], arch: Arch) -> None:
        layers = arch.layers()
        inits = []  # per seed, its layers in order, all drawn from the seed's own generator
        for seed in seeds:
            gen = torch.Generator().manual_seed(seed)
            inits.append([_linear_init(gen, layer.fan_in, layer.fan_out) for layer in layers])
        self.slots = [Slot(layer, torch.stack([per_seed[k][0] for per_seed in inits]),
                           torch.stack([per_seed[k][1].unsqueeze(0) for per_seed in inits]))
                      for k, layer in enumerate(layers)]
        self.arch = arch

    @classmethod
    def joined(cls, parts: list[StackedMLP]) -> StackedMLP:
        """One stack of the parts' members, in the parts' order."""
        net = cls.__new__(cls)
        net.arch = parts[0].arch
        net.slots = [Slot(slot.layer, torch.cat([p.slots[k].weight for p in parts]),
                          torch.cat([p.slots[k].bias for p in parts]))
                     for k, slot in enumerate(parts[0].slots)]
        return net

    @property
    def params(self) -> list[torch.Tensor]:
        """Every trainable tensor, layer by layer (weight, bias): what the optimiser updates."""
        return [t for s in self.slots for t in (s.weight, s.bias)]

    def forward(self, x: torch.Tensor, masks: list[torch.Tensor] | None = None, members: slice | None = None,
                trace: list[Trace] | None = None) -> torch.Tensor:
        """Outputs (M, rows) for inputs (M, rows, in); `members` selects a slice of the stack.

        `masks` (training only): per layer with dropout, in order, its scaled keep-mask (M, rows, width)
        (`Dropout.next`); without them the model runs as it is exported, dropout off. `trace` collects
        what each layer saw, for `gradients`."""
        h = x
        pending = iter(masks or ())
        for s in self.slots:
            w, b = (s.weight, s.bias) if members is None else (s.weight[members], s.bias[members])
            seen = Trace(h)
            # the output layer is a dot product per row: 3-5x faster as one than as a batched matmul of width 1
            h = (h * w.transpose(1, 2)).sum(dim=2, keepdim=True) + b if s.layer.fan_out == 1 else torch.baddbmm(b, h, w)
            if s.layer.activation is not None:
                seen.pre = h
                h = ACTIVATION_FNS[s.layer.activation](h)
                if masks is not None and s.layer.drops:
                    seen.mask = next(pending)
                    h = h * seen.mask
            if trace is not None:
                trace.append(seen)
        if next(pending, None) is not None:
            raise ValueError("more dropout masks than layers that drop")
        return h.squeeze(-1)

    def gradients(self, trace: list[Trace], d_out: torch.Tensor) -> list[torch.Tensor]:
        """The gradients of a loss whose derivative by the outputs (M, rows) is `d_out`, in `params` order,
        by the chain rule layer by layer from what `forward` traced.

        Written out rather than left to torch's autograd, whose graph bookkeeping cost ~1 ms a step here,
        as much as all the arithmetic of a small member; a test checks them against autograd."""
        g = d_out.unsqueeze(-1)  # (M, rows, 1): the gradient by the last layer's output
        grads: list[torch.Tensor] = []
        for k in reversed(range(len(self.slots))):
            s, seen = self.slots[k], trace[k]
            if s.layer.fan_out == 1:
                grads += [g.sum(dim=1, keepdim=True), (seen.inp * g).sum(dim=1, keepdim=True).transpose(1, 2)]
            else:
                grads += [g.sum(dim=1, keepdim=True), torch.bmm(seen.inp.transpose(1, 2), g)]
            if k == 0:
                break
            # by the layer's input, then back through the previous layer's dropout and activation
            g = g * s.weight.transpose(1, 2) if s.layer.fan_out == 1 else torch.bmm(g, s.weight.transpose(1, 2))
            before, activation = trace[k - 1], self.slots[k - 1].layer.activation
            assert activation is not None and before.pre is not None, "a hidden layer without its activation"
            if before.mask is not None:
                g = g * before.mask
            g = ACTIVATION_GRADS[activation](g, before.pre)
        return grads[::-1]

    def member(self, m: int, mean: torch.Tensor, std: torch.Tensor) -> FrRegressor:
        """Member m as a torch module with its scaler, each slot copied by name."""
        model = FrRegressor(mean, std, self.arch)
        with torch.no_grad():
            for s in self.slots:
                model.slot(s.layer.name).weight.copy_(s.weight[m].t())
                model.slot(s.layer.name).bias.copy_(s.bias[m].squeeze(0))
        model.eval()
        return model


MASK_LEVELS = 1 << 16  # dropout draws are 16-bit
MASK_STREAM = 0x6D61736B  # tells a member's dropout generator from its other ones
MASK_CHUNK_BYTES = 16 << 20  # draws made ahead, per group (at least one step's)


def mask_generator(member: Member) -> np.random.PCG64:
    """The member's own dropout generator: its masks depend on nothing but its seed and fold."""
    return np.random.PCG64(np.random.SeedSequence([member.seed, member.fold + 1, MASK_STREAM]))


class Dropout:
    """A group's inverted-dropout masks, step after step, each member's from its own generator.

    16-bit uniform draws, four per 64-bit word of numpy's PCG64 (torch's CPU generator, one
    MT19937 draw per element, cost ~15 % of a LOSO run). A unit drops when its draw is below
    round(p * 65536), so p = 0.1 drops 6554/65536 = 0.100006 of them; the kept ones are
    scaled by the exact inverse of the kept share, so a unit's expected output is unchanged.
    The mask is one float tensor of 0 and that scale: a single multiply forward and back.
    """

    def __init__(self, members: list[Member], arch: Arch, batch: int, ahead: int | None = None) -> None:
        self.layers = [(batch, layer.fan_out, round(layer.dropout * MASK_LEVELS))
                       for layer in arch.layers() if layer.drops]
        self.draws = sum(rows * width for rows, width, _ in self.layers)  # per member and step
        self.words = -(-self.draws // 4)
        self.generators = [mask_generator(m) for m in members]
        # steps drawn at once; a member's stream is read in order, so how far ahead it is drawn changes no mask
        self.ahead = ahead or max(1, MASK_CHUNK_BYTES // max(1, len(members) * self.words * 8))
        self.buffer = np.empty((len(members), self.ahead, self.words * 4), dtype=np.uint16)
        self.pos = self.ahead

    def next(self) -> list[torch.Tensor]:
        """The masks of the next step: per layer with dropout, (members, rows, width) float32."""
        if not self.layers:
            return []
        if self.pos == self.ahead:
            for m, g in enumerate(self.generators):
                self.buffer[m] = g.random_raw(self.ahead * self.words).view(np.uint16).reshape(self.ahead, -1)
            self.pos = 0
        draws = self.buffer[:, self.pos]
        self.pos += 1
        masks, start = [], 0
        for rows, width, cut in self.layers:
            keep = draws[:, start : start + rows * width] >= cut
            mask = np.multiply(keep, np.float32(MASK_LEVELS / (MASK_LEVELS - cut)), dtype=np.float32)
            masks.append(torch.from_numpy(mask.reshape(len(self.generators), rows, width)))
            start += rows * width
        return masks


@dataclass
class TrainedEnsemble:
    net: StackedMLP
    means: torch.Tensor  # (M, 1, 6)
    stds: torch.Tensor  # (M, 1, 6)
    members: list[Member]
    final_loss: list[float]

    @classmethod
    def joined(cls, parts: list[TrainedEnsemble]) -> TrainedEnsemble:
        """The groups of one job as one ensemble, members in the groups' order."""
        if len(parts) == 1:
            return parts[0]
        return cls(StackedMLP.joined([p.net for p in parts]), torch.cat([p.means for p in parts]),
                   torch.cat([p.stds for p in parts]), [m for p in parts for m in p.members],
                   [x for p in parts for x in p.final_loss])

    def predict(self, m: int, feats: np.ndarray, codec: np.ndarray) -> np.ndarray:
        z = (torch.from_numpy(feats.astype(np.float32)) - self.means[m, 0]) / self.stds[m, 0]
        x = torch.cat([z, torch.from_numpy(codec.astype(np.float32))], dim=1) if self.net.arch.use_codec else z
        with torch.no_grad():
            out = self.net.forward(x.unsqueeze(0), members=slice(m, m + 1))
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


@dataclass(frozen=True)
class TrainData:
    """The rows every job trains on: float32 tensors, shared read-only by the workers."""

    table: torch.Tensor  # (N, 6 + CODEC_DIM): the six features, then the codec block
    target: torch.Tensor  # (N,)

    @classmethod
    def of(cls, feats: np.ndarray, codec: np.ndarray, target: np.ndarray) -> TrainData:
        def f32(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
        return cls(torch.cat([f32(feats), f32(codec)], dim=1), f32(target))

    @property
    def feats(self) -> torch.Tensor:
        """(N, 6): the features, a view of the table."""
        return self.table[:, :N_FEATURES]


class _Inputs:
    """A group's inputs: features and codec block from one table, the features z-scored per member.

    The codec columns pass through the same subtract-and-divide as (x - 0) / 1, which is x
    exactly, so a batch is one gather and two element-wise ops."""

    def __init__(self, data: TrainData, members: list[Member], arch: Arch) -> None:
        self.means, self.stds = _scalers(data.feats, members)
        if arch.use_codec:
            self.table = data.table
            pad = data.table.shape[1] - data.feats.shape[1]
            self.shift = torch.cat([self.means, torch.zeros(len(members), 1, pad)], dim=2)
            self.scale = torch.cat([self.stds, torch.ones(len(members), 1, pad)], dim=2)
        else:
            self.table, self.shift, self.scale = data.feats, self.means, self.stds

    def batch(self, rows: torch.Tensor) -> torch.Tensor:
        return (gather(self.table, rows) - self.shift) / self.scale


def gather(table: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """table[rows] for rows (M, B): one index_select on the flattened rows, twice as fast as indexing."""
    return table.index_select(0, rows.reshape(-1)).view(*rows.shape, *table.shape[1:])


class _RowStream:
    """One member's training rows, reshuffled on every pass, handed out in order."""

    def __init__(self, member: Member) -> None:
        self.rows = torch.from_numpy(member.train_rows)
        self.gen = torch.Generator().manual_seed(member.seed * 1_000_003 + member.fold + 1)
        self.perm = self.rows[torch.randperm(len(self.rows), generator=self.gen)]
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
    """torch.optim.Adam(fused=True)'s update (L2 weight decay), one fused kernel over every tensor, so the
    weights are bit for bit those torch.optim.Adam(fused=True) gives (a test compares them); without
    the optimiser framework around it (hooks, profiler records, the torch._dynamo import on first use),
    and taking the gradients as a list (`StackedMLP.gradients`). The fused kernel reads each tensor
    once per step: half the time of the element-wise ops one by one."""

    def __init__(self, params: list[torch.Tensor], lr: float, weight_decay: float,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.params, self.lr, self.weight_decay, self.betas, self.eps = params, lr, weight_decay, betas, eps
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in params]
        self.exp_avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in params]
        self.steps = [torch.zeros((), dtype=torch.float32) for _ in params]  # as torch keeps them

    @torch.no_grad()
    def step(self, grads: list[torch.Tensor]) -> None:
        """One update of every parameter by its gradient (in `params` order)."""
        assert len(grads) == len(self.params), "a parameter without a gradient"
        torch._foreach_add_(self.steps, 1)
        torch._fused_adam_(self.params, grads, self.exp_avg, self.exp_avg_sq, [], self.steps,
                           lr=self.lr, beta1=self.betas[0], beta2=self.betas[1], weight_decay=self.weight_decay,
                           eps=self.eps, amsgrad=False, maximize=False)


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


@dataclass(frozen=True)
class TrainJob:
    """Members of one architecture, trained on one schedule (planned over all of them)."""

    members: list[Member]
    arch: Arch
    on_epoch: EpochCallback | None = None  # called on the caller's thread


class Cancelled(Exception):
    """The caller stopped waiting (Ctrl-C, an error elsewhere): the workers stop at their next step."""


def _worker_start() -> None:
    # this worker's ops run on this thread alone; torch keeps the count per thread for OpenMP and MKL
    torch.set_num_threads(INTRAOP_THREADS)


@torch.no_grad()  # the gradients are written out (StackedMLP.gradients): no autograd graph to build
def _train_group(data: TrainData, members: list[Member], arch: Arch, config: TrainConfig, sched: Schedule,
                 report: Callable[[int, list[float]], None], stop: threading.Event) -> TrainedEnsemble:
    inputs = _Inputs(data, members, arch)
    net = StackedMLP([m.seed for m in members], arch)
    # start each output at its training rows' mean vmaf: with Adam's lr-sized steps a bias
    # starting near 0 would spend most of training climbing to ~80
    for m, mem in enumerate(members):
        net.slots[-1].bias[m] += data.target[torch.from_numpy(mem.train_rows)].mean()
    opt = Adam(net.params, lr=config.lr, weight_decay=config.weight_decay)
    streams = [_RowStream(m) for m in members]
    dropout = Dropout(members, arch, sched.batch)
    last = [float("nan")] * len(members)
    done = 0
    for _ in range(sched.rounds):
        n = min(sched.steps_per_round, sched.steps - done)
        idx = torch.stack([s.take(n * sched.batch) for s in streams])
        round_loss = torch.zeros(len(members))
        for step in range(n):
            if stop.is_set():
                raise Cancelled
            rows = idx[:, step * sched.batch : (step + 1) * sched.batch]
            trace: list[Trace] = []
            err = net.forward(inputs.batch(rows), dropout.next(), trace=trace) - gather(data.target, rows)
            # each member's loss is its mean squared error; d(loss)/d(output) = 2 * error / rows
            opt.step(net.gradients(trace, err * (2 / sched.batch)))
            round_loss += (err * err).mean(dim=1)
        done += n
        last = (round_loss / n).tolist()
        report(done, last)
    return TrainedEnsemble(net, inputs.means, inputs.stds, members, last)


def _groups(members: list[Member], parts: int) -> list[list[Member]]:
    """Contiguous, near-equal groups, in order."""
    parts = max(1, min(parts, len(members)))
    bounds = [round(i * len(members) / parts) for i in range(parts + 1)]
    return [members[a:b] for a, b in itertools.pairwise(bounds)]


# A step's fixed cost (Python, dispatch, a few dozen small ops) in parameters of arithmetic that cost as
# much: measured here, one 5,569-parameter member trained 3,000 steps in 2.6 s and each further one added
# 0.4 s, so the fixed part (2.2 s) is worth 5.5 members' 5,569 parameters.
STEP_COST_PARAMS = 31_000


@dataclass(frozen=True)
class _Plan:
    """One job as it is trained: its schedule and its groups."""

    job: TrainJob
    sched: Schedule
    mean_rows: float
    epochs: int  # passes over a member's rows, as on_epoch counts them
    groups: list[list[Member]]

    def cost(self, g: int) -> int:
        return self.sched.steps * (len(self.groups[g]) * self.job.arch.params + STEP_COST_PARAMS)


def _plans(jobs: list[TrainJob], config: TrainConfig, workers: int) -> list[_Plan]:
    """Each job's schedule (planned over all its members, so grouping changes none), and its groups:
    the costliest job is split into one group per worker, the others stay whole (splitting a small job
    only repeats its fixed cost per step); the workers take the groups costliest first."""
    plans = []
    for job in jobs:
        mean_rows = float(np.mean([len(m.train_rows) for m in job.members]))
        sched = plan_schedule(mean_rows, config)
        plans.append(_Plan(job, sched, mean_rows, sched.epochs(mean_rows, config.epochs), [job.members]))
    big = max(range(len(plans)), key=lambda j: plans[j].cost(0))
    plans[big] = replace(plans[big], groups=_groups(jobs[big].members, workers))
    return plans


class _Progress:
    """The jobs' progress as their groups report it from the workers; on_epoch runs on the caller's thread."""

    def __init__(self, plans: list[_Plan]) -> None:
        self.plans = plans
        self.updates: queue.SimpleQueue[tuple[int, int, int, list[float]]] = queue.SimpleQueue()
        self.done = [[0] * len(p.groups) for p in plans]
        self.loss = [[[float("nan")] * len(g) for g in p.groups] for p in plans]
        self.shown = [0] * len(plans)

    def reporter(self, j: int, g: int) -> Callable[[int, list[float]], None]:
        """For group g of job j: (steps done, the group's members' mean losses over the last round)."""
        return lambda done, loss: self.updates.put((j, g, done, loss))

    def show(self) -> None:
        """on_epoch for each job whose slowest group has finished another round since the last call (rounds
        finished between two calls are reported once, in real epochs: passes over the rows), with the mean of
        its members' losses over their latest round."""
        while True:
            try:
                j, g, done, loss = self.updates.get_nowait()
            except queue.Empty:
                break
            self.done[j][g], self.loss[j][g] = done, loss
        for j, plan in enumerate(self.plans):
            done = min(self.done[j])
            if plan.job.on_epoch is None or done == self.shown[j]:
                continue
            self.shown[j] = done
            epochs = min(plan.epochs, max(1, round(done * plan.sched.batch / plan.mean_rows)))
            plan.job.on_epoch(epochs, plan.epochs, float(np.mean([x for group in self.loss[j] for x in group])))


def train_jobs(data: TrainData, jobs: list[TrainJob], config: TrainConfig, workers: int) -> list[TrainedEnsemble]:
    """Train every job's members on `workers` threads (see `_plans` for how they are shared out).

    Progress is reported on the calling thread, every 0.2 s at most, the last call at the last epoch.
    The members' weights are the same for any `workers` (a test checks it bit for bit). Ctrl-C or a
    worker's error stops every worker at its next step."""
    if not jobs or any(not job.members for job in jobs):
        raise ValueError("no members to train")
    plans = _plans(jobs, config, workers)
    progress = _Progress(plans)
    stop = threading.Event()
    order = sorted(((j, g) for j, plan in enumerate(plans) for g in range(len(plan.groups))),
                   key=lambda jg: -plans[jg[0]].cost(jg[1]))
    results: dict[tuple[int, int], Future[TrainedEnsemble]] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="kit-train", initializer=_worker_start)
    try:
        for j, g in order:
            plan = plans[j]
            results[j, g] = pool.submit(_train_group, data, plan.groups[g], plan.job.arch, config, plan.sched,
                                        progress.reporter(j, g), stop)
        pending = set(results.values())
        while pending:
            finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in finished:
                future.result()  # a worker's error ends the training here
            progress.show()
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
    progress.show()
    return [TrainedEnsemble.joined([results[j, g].result() for g in range(len(plan.groups))])
            for j, plan in enumerate(plans)]


def train_members(feats: np.ndarray, codec: np.ndarray, target: np.ndarray, members: list[Member],
                  config: TrainConfig, on_epoch: EpochCallback | None = None, arch: Arch | None = None,
                  workers: int = 1) -> TrainedEnsemble:
    """One job: train the members (of `arch`, by default the ensemble's) and return them as one ensemble.

    on_epoch(epochs done, epochs, mean train loss) is called on the calling thread as rounds of steps
    finish (a round is an epoch on small corpora, 1/50 of the step budget on large ones; see train_jobs).
    """
    job = TrainJob(members, arch or fr_regressor_v2(config), on_epoch)
    return train_jobs(TrainData.of(feats, codec, target), [job], config, workers)[0]
