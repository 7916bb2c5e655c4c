"""How a training is planned, without torch: each job's schedule, groups and cost, read by the trainer and the ETA."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace

from kit.model.arch import Arch
from kit.model.recipe import TrainConfig


@dataclass(frozen=True)
class Schedule:
    batch: int  # rows per member per step
    steps: int  # optimizer steps in all
    steps_per_round: int  # steps between progress reports (one epoch for small corpora)


def plan_schedule(mean_rows: float, config: TrainConfig) -> Schedule:
    """`epochs` passes over `mean_rows` in `batch_size` batches, capped by max_samples and max_steps (batches grow)."""
    samples = min(config.epochs * mean_rows, config.max_samples)
    batch = int(min(max(config.batch_size, math.ceil(samples / config.max_steps)), config.max_batch))
    steps = max(1, math.ceil(samples / batch))
    per_epoch = max(1, math.ceil(mean_rows / batch))
    return Schedule(batch, steps, min(per_epoch, max(1, math.ceil(steps / 50))))


# a step's fixed cost (Python, dispatch, small ops) in parameters of arithmetic that cost as much (measured)
STEP_COST_PARAMS = 31_000
# a stack's widest activation (members x batch x width float32) stays under this, so steps reuse the allocator's memory;
# so do the inputs a frames-recipe group makes for a chunk of steps at once (kit.model.train.chunk_steps)
STACK_BYTES = 8 << 20


def stack_members(arch: Arch, batch: int) -> int:
    """The most members one stack holds (STACK_BYTES)."""
    width = max(layer.fan_out for layer in arch.layers())
    return max(1, STACK_BYTES // (batch * width * 4))


def group_sizes(members: int, parts: int, most: int) -> list[int]:
    """Contiguous, near-equal groups, in order: at least `parts`, each of at most `most` members."""
    parts = max(1, min(max(parts, -(-members // most)), members))
    bounds = [round(i * members / parts) for i in range(parts + 1)]
    return [b - a for a, b in itertools.pairwise(bounds)]


@dataclass(frozen=True)
class JobShape:
    arch: Arch
    members: int
    mean_rows: float


@dataclass(frozen=True)
class PlannedJob:
    """One job as it is trained: its schedule, its passes over the rows and its groups' sizes (in member order)."""

    shape: JobShape
    sched: Schedule
    epochs: int  # passes over a member's rows, as on_epoch counts them: fewer than --epochs where samples are capped
    sizes: list[int]

    def cost(self, g: int) -> int:
        """Group g's cost, in parameter-steps: each step's arithmetic over its members, and the step's fixed part."""
        return self.sched.steps * (self.sizes[g] * self.shape.arch.params + STEP_COST_PARAMS)

    @property
    def arithmetic(self) -> int:
        """Its steps' arithmetic alone, in parameter-steps: what the run's ETA counts (kit.model.cost)."""
        return self.sched.steps * self.shape.members * self.shape.arch.params


def distilled_arithmetic(arch: Arch, members: int, config: TrainConfig, tune_done: int | None = None) -> int:
    """The teacher recipe's arithmetic in parameter-steps of --batch-size rows: each member's tuning; with
    `tune_done`, the part those steps of each member did."""
    steps = config.teacher_steps()
    whole = steps * members * config.tune_batch / config.batch_size * arch.params
    if tune_done is None or not steps:
        return round(whole)
    return round(whole * tune_done / steps)


def plan_jobs(shapes: list[JobShape], config: TrainConfig, workers: int) -> list[PlannedJob]:
    """Each job's schedule (over all its members) and groups: the costliest job split over the workers."""
    plans = []
    for shape in shapes:
        sched = plan_schedule(shape.mean_rows, config)
        sizes = group_sizes(shape.members, 1, stack_members(shape.arch, sched.batch))
        epochs = max(1, min(config.epochs, round(sched.steps * sched.batch / shape.mean_rows)))
        plans.append(PlannedJob(shape, sched, epochs, sizes))
    big = max(range(len(plans)), key=lambda j: sum(map(plans[j].cost, range(len(plans[j].sizes)))))
    most = stack_members(shapes[big].arch, plans[big].sched.batch)
    plans[big] = replace(plans[big], sizes=group_sizes(shapes[big].members, workers, most))
    return plans
