"""Batched ensemble training: members of one architecture in stacks trained side by side on worker threads, every
operation acting on each member's slice alone, so how they are grouped changes no bit of any member."""

from __future__ import annotations

import hashlib
import itertools
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import torch

from kit.infra.resources import give_back_memory
from kit.media.svr import SvrModel
from kit.model.arch import Arch, fr_regressor_v2
from kit.model.batches import Dropout, Inputs, Member, RowStream, Scalers, TrainData, gather, row_arrays
from kit.model.contract import N_FEATURES
from kit.model.distil import REPORT_EVERY, Distillation, distil, recipe_of, rounds, zero_correction
from kit.model.features import Codec, model_space
from kit.model.kernels import Kernels, active, steps_mode
from kit.model.network import FrRegressor
from kit.model.optimise import AutogradStep, HandStep
from kit.model.recipe import TrainConfig
from kit.model.schedule import STACK_BYTES, JobShape, PlannedJob, Schedule, distilled_arithmetic, plan_jobs
from kit.model.spread import MOTION, Spread, expected_clipped
from kit.model.stacked import StackedMLP
from kit.model.workers import Cancelled, run_on_workers

TOLD_BYTES = 64 << 20  # the teacher's scores a TrainedEnsemble keeps of rows it was asked (a fold's frames, ...)
# (epochs done, epochs, mean train loss, the arithmetic all the jobs have done: schedule.PlannedJob.arithmetic)
EpochCallback = Callable[[int, int, float, float], None]


@dataclass(frozen=True)
class TrainJob:
    """Members of one architecture, trained on one schedule (planned over all of them)."""

    members: list[Member]
    arch: Arch
    on_epoch: EpochCallback | None = None  # called on the caller's thread
    # the mean training rows its schedule is planned on (a share of a larger job gives the whole job's); None: its own
    planned_rows: float | None = None


def planned_rows(job: TrainJob) -> float:
    return job.planned_rows or float(np.mean([len(m.train_rows) for m in job.members]))


@dataclass
class TrainedEnsemble:
    net: StackedMLP
    means: torch.Tensor  # (M, 1, F)
    stds: torch.Tensor  # (M, 1, F)
    members: list[Member]
    final_loss: list[float]
    # the teacher recipe's student: the teacher's function plus each member's network scaled by `scales[m]` (its
    # correction, kit.model.floor); None: the network alone (the frames recipe, the baselines, a correction not yet
    # scaled)
    teacher: SvrModel | None = None
    scales: tuple[float, ...] = ()
    # each member's expected clip (kit.model.spread): its fold's spread; None or a factor of 0, the function's clip
    spreads: tuple[Spread | None, ...] = ()
    # the teacher's function of rows already asked, by their bytes: LOSO asks each fold's rows once per seed
    _told: dict[bytes, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def joined(cls, parts: list[TrainedEnsemble]) -> TrainedEnsemble:
        """The groups of one job as one ensemble, members in the groups' order."""
        return cls(StackedMLP.joined([p.net for p in parts]), torch.cat([p.means for p in parts]),
                   torch.cat([p.stds for p in parts]), [m for p in parts for m in p.members],
                   [x for p in parts for x in p.final_loss])

    def predict(self, m: int, feats: np.ndarray, codec: np.ndarray) -> np.ndarray:
        """Member m's outputs on raw features (N, F) and their codec block, as its exported form computes them: a
        correction kept at 0 is not run (the teacher's function plus 0 times it is the function, to the bit)."""
        if self.teacher is not None and self.scales[m] == 0.0:
            return self.base_of(m, feats, codec) + 0.0
        z = (torch.from_numpy(model_space(feats)) - self.means[m, 0]) / self.stds[m, 0]
        x = torch.cat([z, torch.from_numpy(codec.astype(np.float32))], dim=1) if self.net.arch.use_codec else z
        with torch.no_grad():
            out = self.net.forward(x.unsqueeze(0), members=slice(m, m + 1))
        net = out[0].numpy().astype(np.float64)
        if self.teacher is None:
            return net
        return self.base_of(m, feats, codec) + self.scales[m] * net

    def spread_of(self, m: int) -> Spread | None:
        """Member m's spread where it keeps one (a factor above 0)."""
        spread = self.spreads[m] if m < len(self.spreads) else None
        return spread if spread is not None and spread.kept else None

    def base_of(self, m: int, feats: np.ndarray, codec: np.ndarray) -> np.ndarray:
        """Member m's student before its correction: the teacher's function, its clip an expectation under the
        member's spread where it keeps one (kit.model.spread; the codec block's cq read from its last column)."""
        assert self.teacher is not None
        if (spread := self.spread_of(m)) is None or self.teacher.clip is None:
            return self.teacher_of(feats)
        six = np.ascontiguousarray(feats[:, :N_FEATURES], dtype=np.float64)
        raw = self.teacher.predict(six, clipped=False)
        sigma = spread.sigma(raw, codec, six[:, MOTION], self.teacher.clip)
        return expected_clipped(raw, sigma, self.teacher.clip)

    def teacher_of(self, feats: np.ndarray) -> np.ndarray:
        """The teacher's function of raw features (N, F), each set of rows evaluated once (up to TOLD_BYTES kept: LOSO
        asks a fold's rows again for each seed)."""
        assert self.teacher is not None
        six = np.ascontiguousarray(feats[:, :N_FEATURES], dtype=np.float64)
        key = hashlib.blake2b(six.tobytes(), digest_size=16).digest()
        if key not in self._told:
            self._told[key] = self.teacher.predict(six)
            while sum(v.nbytes for v in self._told.values()) > TOLD_BYTES and len(self._told) > 1:
                self._told.pop(next(iter(self._told)))
        return self._told[key]

    def export_member(self, m: int) -> FrRegressor:
        if self.teacher is None:
            return self.net.member(m, self.means[m, 0], self.stds[m, 0])
        return self.net.member(m, self.means[m, 0], self.stds[m, 0], self.teacher, self.scales[m], self.spread_of(m))


def chunk_steps(members: int, batch: int, arch: Arch) -> int:
    """How many steps' inputs a frames-recipe group gathers and z-scores at once: at most STACK_BYTES of them."""
    return max(1, STACK_BYTES // (members * batch * arch.in_dim * 4))


@torch.no_grad()  # outside a step (the fast path builds no autograd graph at all)
def _train_group(data: TrainData, members: list[Member], arch: Arch, config: TrainConfig, sched: Schedule,
                 kernels: Kernels, fitted: Scalers, report: Callable[[int, list[float]], None],
                 stop: threading.Event) -> TrainedEnsemble:
    train_rows = row_arrays(members)  # made now, dropped when the group is done: one per fold of the group
    inputs = Inputs(data, members, arch, train_rows, fitted)
    net = StackedMLP([m.seed for m in members], arch)
    # start each output at its training rows' mean vmaf, not a climb from 0 in Adam's lr-sized steps
    for m, r in enumerate(train_rows):
        net.slots[-1].bias[m] += data.target[r].mean()
    step = (HandStep if kernels.private else AutogradStep)(net, config.lr, config.weight_decay)
    streams = [RowStream(m, r) for m, r in zip(members, train_rows, strict=True)]
    dropout = Dropout(members, arch, sched.batch)
    chunk = chunk_steps(len(members), sched.batch, arch)
    done = 0
    with steps_mode(kernels):
        for _ in range(-(-sched.steps // sched.steps_per_round)):  # rounds: the last may be short
            n = min(sched.steps_per_round, sched.steps - done)
            # the round's rows, step by step: (n, M, B)
            idx = torch.stack([s.take(n * sched.batch) for s in streams]).view(len(members), n, sched.batch)
            by_step = idx.transpose(0, 1)
            round_loss = torch.zeros(len(members))
            for a in range(0, n, chunk):
                # a chunk of steps' inputs gathered and z-scored at once (each step's block contiguous): the same
                # elementwise arithmetic as step by step, in fewer operations
                rows = by_step[a : a + chunk]
                xs, ys = inputs.batch(rows), gather(data.target, rows)
                for k in range(len(rows)):
                    if stop.is_set():
                        raise Cancelled
                    # each member's loss is its mean squared error; d(loss)/d(output) = 2 * error / rows
                    err = step(xs[k], dropout.next(), ys[k], 2 / sched.batch)
                    round_loss += (err * err).mean(dim=1)
            done += n
            last = (round_loss / n).tolist()
            report(done, last)
    return TrainedEnsemble(net, inputs.means, inputs.stds, members, last)


@dataclass(frozen=True)
class _Plan:
    job: TrainJob
    planned: PlannedJob
    groups: list[list[Member]]


def _plans(jobs: list[TrainJob], config: TrainConfig, workers: int) -> list[_Plan]:
    """Each job as kit.model.schedule.plan_jobs plans it, its members dealt into the groups it sizes."""
    planned = plan_jobs([JobShape(job.arch, len(job.members), planned_rows(job)) for job in jobs], config, workers)
    return [_Plan(job, plan, [job.members[a:b] for a, b in
                              itertools.pairwise(itertools.accumulate(plan.sizes, initial=0))])
            for job, plan in zip(jobs, planned, strict=True)]


def planned_arithmetic(jobs: list[TrainJob], config: TrainConfig, workers: int, teacher: bool = False) -> int:
    """The arithmetic of training `jobs`, in parameter-steps (the run's ETA); `teacher`: by the teacher recipe."""
    return sum(distilled_arithmetic(plan.job.arch, len(plan.job.members), config)
               if teacher and plan.job.arch.use_codec else plan.planned.arithmetic
               for plan in _plans(jobs, config, workers))


class _Progress:
    """The jobs' progress as their groups report it from the workers; on_epoch runs on the caller's thread."""

    def __init__(self, plans: list[_Plan]) -> None:
        self.plans = plans
        # (job, group, steps done, the group's members' mean losses over the last round), from the workers
        self.updates: queue.SimpleQueue[tuple[int, int, int, list[float]]] = queue.SimpleQueue()
        self.done = [[0] * len(p.groups) for p in plans]
        self.loss = [[[float("nan")] * len(g) for g in p.groups] for p in plans]
        self.shown = [0] * len(plans)

    def reporter(self, j: int, g: int) -> Callable[[int, list[float]], None]:
        """For group g of job j, called on its worker: (steps done, the group's members' mean losses over the last
        round), queued for `show` on the caller's thread."""
        return lambda done, loss: self.updates.put((j, g, done, loss))

    def show(self) -> None:
        """on_epoch for each job whose slowest group has finished another round since the last call."""
        while not self.updates.empty():  # this thread alone takes from it
            j, g, done, loss = self.updates.get_nowait()
            self.done[j][g], self.loss[j][g] = done, loss
        work = float(sum(min(steps, p.planned.sched.steps) * p.planned.sizes[g] * p.job.arch.params
                         for p, done in zip(self.plans, self.done, strict=True) for g, steps in enumerate(done)))
        for j, plan in enumerate(self.plans):
            done = min(self.done[j])
            if plan.job.on_epoch is None or done == self.shown[j]:
                continue
            self.shown[j] = done
            epochs = plan.planned.epochs
            done_epochs = min(epochs, max(1, round(done * plan.planned.sched.batch / plan.planned.shape.mean_rows)))
            plan.job.on_epoch(done_epochs, epochs, float(np.mean([x for group in self.loss[j] for x in group])), work)


GroupCallback = Callable[[int, TrainedEnsemble], None]  # (the job's index, a group of its members trained)


def train_jobs(data: TrainData | Callable[[bool], TrainData], jobs: list[TrainJob], config: TrainConfig, workers: int,
               on_group: GroupCallback | None = None, distil: Distillation | None = None,
               distilled: Callable[[], None] | None = None) -> list[TrainedEnsemble]:
    """Train every job's members on `workers` threads, the same weights for any `workers`, bit for bit; on_epoch and
    `on_group(job, a group trained)` (as each group is trained) run on the calling thread. With `distil`, the
    ensemble's job is trained by the teacher recipe (kit.model.distil), then `distilled()` is called (it may let the
    recipe's rows go), where no job is the recipe's too. `data` (or what it makes, once the recipe's jobs are done,
    with the codec block where a job reads it) is what the other jobs train on.
    ValueError when there is no job, or a job without members."""
    if not jobs or any(not job.members for job in jobs):
        raise ValueError("no members to train")
    done_by: dict[int, TrainedEnsemble] = {}
    for j, job in enumerate(jobs):
        if distil is not None and job.arch.use_codec:
            done_by[j] = _distil_job(distil, job, config, workers,
                                     None if on_group is None else partial(on_group, j))
    if distilled is not None:  # its jobs trained, or none of them in this share (a training task's): the teacher
        # recipe's rows let go before the baselines' table is made beside them (1.0 GiB less at 15,000,000 rows)
        distilled()
    rest = [j for j in range(len(jobs)) if j not in done_by]  # the jobs trained on the corpus's rows
    if rest:
        if done_by:  # the teacher recipe's rows and windows, freed: not carried into the baselines' training
            give_back_memory()
        # _pool numbers its jobs 0..len(rest)-1: the callback is told each one's index among all the jobs
        told = None if on_group is None else lambda k, ens: on_group(rest[k], ens)
        table = data if isinstance(data, TrainData) else data(any(jobs[j].arch.use_codec for j in rest))
        trained = _pool(table, [jobs[j] for j in rest], config, workers, told)
        done_by.update(zip(rest, trained, strict=True))
    return [done_by[j] for j in range(len(jobs))]


def _pool(data: TrainData, jobs: list[TrainJob], config: TrainConfig, workers: int,
          on_group: GroupCallback | None) -> list[TrainedEnsemble]:
    """The jobs trained on the corpus's rows, their members in groups on the worker threads; `on_group(job, a group
    trained)` runs on the calling thread as each group finishes."""
    plans = _plans(jobs, config, workers)
    progress, kernels = _Progress(plans), active()
    # every (job, group), the costliest first: which worker takes which group never changes a weight, only when
    # the last one finishes
    order = sorted(((j, g) for j, plan in enumerate(plans) for g in range(len(plan.groups))),
                   key=lambda jg: -plans[jg[0]].planned.cost(jg[1]))
    fitted = Scalers(data.feats)  # once per fold, shared by the fold's members in every job
    tasks = [partial(_train_group, data, plans[j].groups[g], plans[j].job.arch, config, plans[j].planned.sched,
                     kernels, fitted, progress.reporter(j, g)) for j, g in order]
    # run_on_workers tells the finished task's place in `order`: the callback is told its job
    done = None if on_group is None else lambda i, ens: on_group(order[i][0], ens)
    trained = dict(zip(order, run_on_workers(tasks, workers, progress.show, done), strict=True))
    # a job's ensemble: its groups' members joined in group order, whatever order they finished in
    return [TrainedEnsemble.joined([trained[j, g] for g in range(len(plan.groups))]) for j, plan in enumerate(plans)]


def _distil_job(data: Distillation, job: TrainJob, config: TrainConfig, workers: int,
                on_group: Callable[[TrainedEnsemble], None] | None) -> TrainedEnsemble:
    """The job's members by the teacher recipe, as one ensemble (their corrections, not yet scaled: kit.model.floor);
    on_epoch's rounds are REPORT_EVERY steps."""
    total = rounds(config)
    latest: list[tuple[int, float]] = []
    shown = [0]

    def poll() -> None:  # on the calling thread: rounds of steps, and the arithmetic done (the ETA's work)
        if latest and job.on_epoch is not None and (at := -(-latest[-1][0] // REPORT_EVERY)) > shown[0]:
            shown[0], steps = at, latest[-1][0]
            work = distilled_arithmetic(job.arch, len(job.members), config, steps)
            job.on_epoch(min(at, total), total, latest[-1][1], float(work))

    parts: list[TrainedEnsemble] = []

    def finished(members: list[Member], net: StackedMLP, loss: list[float]) -> None:
        n, width = len(members), data.mean.shape[0]
        ens = TrainedEnsemble(net, data.mean.expand(n, 1, width).clone(), data.std.expand(n, 1, width).clone(),
                              members, loss)
        parts.append(ens)
        if on_group is not None:
            on_group(ens)

    distil(data, job.members, job.arch, config, workers, lambda steps, loss: latest.append((steps, loss)), poll,
           finished)
    order = {id(m): i for i, m in enumerate(job.members)}
    return TrainedEnsemble.joined(sorted(parts, key=lambda p: order[id(p.members[0])]))


def train_members(feats: np.ndarray, codec: Codec, target: np.ndarray, members: list[Member],
                  config: TrainConfig, on_epoch: EpochCallback | None = None, workers: int = 1,
                  distil: Distillation | None = None) -> TrainedEnsemble:
    """One job: train the members and return them as one ensemble; by the teacher recipe with `distil` (their
    corrections, not yet scaled)."""
    job = TrainJob(members, fr_regressor_v2(config, recipe_of(distil)), on_epoch)
    return train_jobs(TrainData.of(feats, codec, target), [job], config, workers, distil=distil)[0]



def untrained(distil: Distillation, members: list[Member], config: TrainConfig) -> TrainedEnsemble:
    """The members as the teacher recipe starts them (its network for `config`), each its seed's zero correction
    (kit.model.distil), untrained: where a correction's factor is 0 (kit.model.floor), what it keeps of one is
    nothing, to the bit, and no network is trained only to be multiplied by 0."""
    n, width = len(members), distil.mean.shape[0]
    return TrainedEnsemble(zero_correction([m.seed for m in members], fr_regressor_v2(config, recipe_of(distil))),
                           distil.mean.expand(n, 1, width).clone(), distil.std.expand(n, 1, width).clone(), members,
                           [float("nan")] * n)
