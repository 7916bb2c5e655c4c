"""LOSO's training as units of work: every member kept in a file of its own, and the members shared out into tasks.

A member is one (architecture, seed, fold) of the jobs a LOSO trains (kit.model.baselines.loso_jobs: the ensemble,
then the linear and mlp_small baselines). Its weights depend on nothing but itself and its job's schedule
(kit.model.train), so any set of members can be trained anywhere, in any order, and the gather that loads them all
evaluates exactly what one process training everything at once would have:

    share_out    the members in N tasks: a pure function of the jobs and N, the same on every node
    MemberStore  one `.npy` file per member, written atomically as its group finishes (kit.infra.files), in a
                 folder named by the fingerprint of what the weights depend on: a file of another corpus or
                 recipe is never found
    train_missing  the members of a share that the store lacks, trained in one pool (kit.model.train.train_jobs)
                 on the whole job's schedule, each written as soon as its group is done
    gather       every member of the jobs from the store, as the ensembles evaluate_jobs reads

A local LOSO is the share holding every member: it trains what is missing (all of it, the first time; after an
interruption, what had not been written) and gathers. A cluster runs the shares as array tasks, then the gather.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from kit.infra.files import atomic_path, open_temp
from kit.infra.nofollow import open_regular
from kit.model.batches import Member, TrainData
from kit.model.network import Arch
from kit.model.recipe import TrainConfig
from kit.model.stacked import Slot, StackedMLP
from kit.model.train import TrainedEnsemble, TrainJob, train_jobs

# what each member costs in a step besides its layers' arithmetic (its batch gathered, its dropout masks), in
# parameters' worth: a rough weight that only balances the tasks, it changes no member
MEMBER_COST_PARAMS = 1_000
SCALER_WIDTH = 6  # the z-scored features: a member's means and stds


@dataclass(frozen=True, order=True)
class MemberKey:
    """One member of a LOSO: its architecture (its job), seed and fold."""

    arch: str
    seed: int
    fold: int

    @property
    def name(self) -> str:
        """Its file's stem: `fr_regressor_v2.seed0.fold3`."""
        return f"{self.arch}.seed{self.seed}.fold{self.fold}"

    def __str__(self) -> str:
        return f"{self.arch} seed {self.seed} fold {self.fold}"


def job_keys(job: TrainJob) -> list[MemberKey]:
    return [MemberKey(job.arch.name, m.seed, m.fold) for m in job.members]


def planned_rows(job: TrainJob) -> float:
    """The mean training rows the whole job's schedule is planned on (as kit.model.train plans it)."""
    return job.planned_rows or float(np.mean([len(m.train_rows) for m in job.members]))


def share_out(jobs: list[TrainJob], n: int) -> list[list[MemberKey]]:
    """The members of `jobs` in `n` tasks, each member in exactly one.

    Members are ordered by (fold, job, seed), so a task holds whole folds where it can (a fold's rows and scaler
    are made once per task), and cut into n runs of near-equal cost: a member goes to the task whose equal share
    of the total cost holds its middle. Nothing but the jobs and n decides it, so every node computes the same
    shares; a task may be empty when there are fewer members than tasks."""
    order = sorted(((m.fold, j, m.seed), MemberKey(job.arch.name, m.seed, m.fold), job.arch.params + MEMBER_COST_PARAMS)
                   for j, job in enumerate(jobs) for m in job.members)
    total = sum(cost for _, _, cost in order)
    tasks: list[list[MemberKey]] = [[] for _ in range(n)]
    done = 0
    for _, key, cost in order:
        tasks[min(n - 1, int((2 * done + cost) * n // (2 * total)))].append(key)
        done += cost
    return tasks


def task_of(shares: list[list[MemberKey]]) -> dict[MemberKey, int]:
    """Each member's task, 1-based (as --train-task K/N counts)."""
    return {key: k for k, share in enumerate(shares, 1) for key in share}


@dataclass(frozen=True)
class Trained:
    """One member's weights as the store keeps them: per layer slot (weight (in, out), bias (1, out)), its scaler
    (1, 6) twice, and its final training loss."""

    slots: list[tuple[torch.Tensor, torch.Tensor]]
    mean: torch.Tensor
    std: torch.Tensor
    loss: float


def flat_size(arch: Arch) -> int:
    return arch.params + 2 * SCALER_WIDTH + 1


def flatten(ens: TrainedEnsemble, m: int) -> np.ndarray:
    """Member m of a trained group as one float32 vector: each slot's weight then bias, means, stds, loss."""
    parts = [t for s in ens.net.slots for t in (s.weight[m].reshape(-1), s.bias[m].reshape(-1))]
    parts += [ens.means[m].reshape(-1), ens.stds[m].reshape(-1), torch.tensor([ens.final_loss[m]])]
    return torch.cat([p.to(torch.float32) for p in parts]).numpy()


def unflatten(vector: np.ndarray, arch: Arch) -> Trained:
    flat, at, slots = torch.from_numpy(vector), 0, []
    for layer in arch.layers():
        weights = flat[at : at + layer.fan_in * layer.fan_out].reshape(layer.fan_in, layer.fan_out)
        at += layer.fan_in * layer.fan_out
        slots.append((weights, flat[at : at + layer.fan_out].reshape(1, layer.fan_out)))
        at += layer.fan_out
    mean, std = (flat[at + i * SCALER_WIDTH : at + (i + 1) * SCALER_WIDTH].reshape(1, SCALER_WIDTH) for i in (0, 1))
    return Trained(slots, mean, std, float(flat[-1]))


class MemberStore:
    """The trained members of one LOSO: `<folder>/<member>.npy` (kit.rundir.RunDir.members_of). A file that is
    missing, cut short or of another shape counts as missing (trained again, replacing it atomically); a link or
    a pipe in its place is refused (exit 2), never read or written through."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, key: MemberKey) -> Path:
        return self.folder / f"{key.name}.npy"

    def save(self, key: MemberKey, ens: TrainedEnsemble, m: int) -> None:
        with atomic_path(self.path(key)) as tmp, open_temp(tmp) as fh:
            np.save(fh, flatten(ens, m), allow_pickle=False)

    def load(self, key: MemberKey, arch: Arch) -> Trained | None:
        path = self.path(key)
        if not path.is_file() and not path.is_symlink():
            return None
        with open_regular(path) as fh:  # a link planted here is refused, not followed
            try:
                vector = np.load(fh, allow_pickle=False)
            except (ValueError, OSError, EOFError):
                return None
        if vector.dtype != np.float32 or vector.shape != (flat_size(arch),):
            return None
        return unflatten(vector, arch)

    def load_all(self, jobs: list[TrainJob], only: Collection[MemberKey] | None = None) -> dict[MemberKey, Trained]:
        """Every member of `jobs` (or of them, those in `only`) that the store holds."""
        found = {}
        for job in jobs:
            for key in job_keys(job):
                if (only is None or key in only) and (got := self.load(key, job.arch)) is not None:
                    found[key] = got
        return found


def train_missing(data: TrainData, jobs: list[TrainJob], wanted: Collection[MemberKey], have: Collection[MemberKey],
                  store: MemberStore, config: TrainConfig, workers: int) -> list[MemberKey]:
    """Train the members of `jobs` in `wanted` but not in `have`, in one pool, each on its whole job's schedule;
    each is written to the store as its group finishes (an interrupted training keeps every finished group).
    Returns the members trained."""
    share, trained = [], []
    for job in jobs:
        pairs = zip(job.members, job_keys(job), strict=True)
        todo = [(m, key) for m, key in pairs if key in wanted and key not in have]
        if todo:
            share.append(replace(job, members=[m for m, _ in todo], planned_rows=planned_rows(job)))
            trained += [key for _, key in todo]
    if not share:
        return []

    def keep(j: int, group: TrainedEnsemble) -> None:
        for m, member in enumerate(group.members):
            store.save(MemberKey(share[j].arch.name, member.seed, member.fold), group, m)

    train_jobs(data, share, config, workers, on_group=keep)
    return trained


def ensemble_of(arch: Arch, members: list[Member], weights: list[Trained]) -> TrainedEnsemble:
    """Members loaded from the store as one ensemble, in the given order (what kit.model.loso evaluates)."""
    slots = [Slot(layer, torch.stack([w.slots[k][0] for w in weights]), torch.stack([w.slots[k][1] for w in weights]))
             for k, layer in enumerate(arch.layers())]
    return TrainedEnsemble(StackedMLP.of_slots(arch, slots), torch.stack([w.mean for w in weights]),
                           torch.stack([w.std for w in weights]), members, [w.loss for w in weights])


def gather(jobs: list[TrainJob], found: dict[MemberKey, Trained]) -> list[TrainedEnsemble]:
    """Each job's members, all found in the store, as one ensemble each, in the job's order."""
    return [ensemble_of(job.arch, job.members, [found[key] for key in job_keys(job)]) for job in jobs]


def missing_keys(jobs: list[TrainJob], found: Collection[MemberKey]) -> list[MemberKey]:
    return [key for job in jobs for key in job_keys(job) if key not in found]


def describe(keys: list[MemberKey], most: int = 3) -> str:
    """`linear seed 0 fold 2, fr_regressor_v2 seed 1 fold 0 (and 4 more)`."""
    more = f" (and {len(keys) - most} more)" if len(keys) > most else ""
    return ", ".join(map(str, keys[:most])) + more
