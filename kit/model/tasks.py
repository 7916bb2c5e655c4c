"""LOSO's training as units of work: a member depends only on itself and its job's schedule, so `share_out` deals the
members into N tasks, `train_missing` trains a share and the `MemberStore` keeps each member, checked when read back.

A share is trained by `train_jobs` on its whole job's schedule (TrainJob.planned_rows) and each member written as its
group finishes (`on_group`); the loso step always gathers from the store (kit.steps.members), and a training task
(kit.steps.runner.run_train_task) holds a shared lock on the out-dir."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from kit.errors import InputError
from kit.infra.clock import utc_iso
from kit.infra.files import sha256_bytes
from kit.infra.records import Record, RecordError, keep
from kit.infra.rules import COUNT, SECONDS, STAMP, Each
from kit.infra.tree import Tree
from kit.infra.visible import reason_line
from kit.model.arch import Arch
from kit.model.batches import TrainData
from kit.model.distil import Distillation
from kit.model.recipe import TrainConfig
from kit.model.runtime import npy_bytes
from kit.model.stacked import Slot, StackedMLP
from kit.model.train import TrainedEnsemble, TrainJob, planned_rows, train_jobs

# a member's cost in a step besides its layers' arithmetic, in parameters' worth: it only balances the tasks
MEMBER_COST_PARAMS = 1_000


@dataclass(frozen=True, order=True)
class MemberKey:
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


def share_out(jobs: list[TrainJob], n: int) -> list[list[MemberKey]]:
    """`jobs`' members in `n` runs of near-equal cost (some empty), by (fold, job, seed) so a task holds whole folds."""
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
    """One member as the store keeps it: a stack of one, its scaler (1, F) and its final training loss."""

    net: StackedMLP
    mean: torch.Tensor
    std: torch.Tensor
    loss: float


def flatten(ens: TrainedEnsemble, m: int) -> np.ndarray:
    """Member m of a trained group as one float32 vector: each slot's weight then bias, means, stds, loss."""
    parts = [t for s in ens.net.slots for t in (s.weight[m].reshape(-1), s.bias[m].reshape(-1))]
    parts += [ens.means[m].reshape(-1), ens.stds[m].reshape(-1), torch.tensor([ens.final_loss[m]])]
    return torch.cat([p.to(torch.float32) for p in parts]).numpy()


def unflatten(vector: np.ndarray, arch: Arch) -> Trained:
    layers = arch.layers()
    *parts, mean, std, loss = torch.from_numpy(vector).split(
        [n for x in layers for n in (x.fan_in * x.fan_out, x.fan_out)] + [arch.n_features, arch.n_features, 1])
    slots = [Slot(x, parts[2 * k].reshape(1, x.fan_in, x.fan_out), parts[2 * k + 1].reshape(1, 1, x.fan_out))
             for k, x in enumerate(layers)]
    return Trained(StackedMLP.of_slots(arch, slots), mean.reshape(1, -1), std.reshape(1, -1), float(loss))


@dataclass(frozen=True)
class Origin:
    """What every member of one LOSO is made from (`made_from`, spelt out by the next fields) and who makes it."""

    made_from: str
    corpus: str  # the corpus's content hash
    recipe: str  # sha256 of the training recipe
    formats: dict[str, int]  # kit.steps.formats_of("loso", ...): {"prereqs": 1, "corpus": 1, "loso": 1}
    made_by: str = "the loso step"  # or "training task K/N"
    process: str = ""  # `pid N on HOST`


@dataclass(frozen=True)
class MemberRecord(Record):
    """`<member>.json` beside `<member>.npy`: written by whoever trained the member, once its file is in place."""

    SCHEMA_VERSION: ClassVar[int] = 2  # 2: `formats`, where 1 held `kit_build` (a hash of the kit's source)

    member: str  # fr_regressor_v2.seed0.fold3
    sha256: str  # of the .npy file
    made_from: str
    corpus: str
    recipe: str
    formats: dict[str, int] = field(metadata=keep(Each(COUNT)))
    made_by: str
    process: str
    made_at_utc: str = field(metadata=keep(STAMP))
    # this member's share of its process's training time until it was written
    seconds: float = field(metadata=keep(SECONDS))
    schema_version: int = field(default=1, metadata=keep(COUNT))


class MemberStore:
    """The trained members of one LOSO: `<folder>/<member>.npy` and its record, used only once checked against it (a
    mismatch refused, exit 2); a file without its record counts as missing and is trained again."""

    def __init__(self, tree: Tree, folder: Path, origin: Origin) -> None:
        self.tree, self.folder, self.origin = tree, folder, origin
        self._since = time.monotonic()  # the training time not yet given to a member (save_group)

    def path(self, key: MemberKey) -> Path:
        return self.folder / f"{key.name}.npy"

    def record_path(self, key: MemberKey) -> Path:
        return self.folder / f"{key.name}.json"

    def save_group(self, keys: list[MemberKey], ens: TrainedEnsemble) -> None:
        """A finished group's members, each with its record and its share of the time since the last group ended."""
        now = time.monotonic()
        seconds, self._since = (now - self._since) / max(1, len(keys)), now
        for m, key in enumerate(keys):
            data = npy_bytes(flatten(ens, m))
            self.tree.write_bytes(self.path(key), data)
            self.tree.write_json(self.record_path(key), MemberRecord(
                key.name, sha256_bytes(data), **asdict(self.origin), made_at_utc=utc_iso(), seconds=round(seconds, 3),
                schema_version=MemberRecord.SCHEMA_VERSION).to_json())

    def has(self, key: MemberKey) -> bool:
        return self.tree.is_file(self.path(key)) and self.tree.is_file(self.record_path(key))

    def record(self, key: MemberKey) -> MemberRecord | None:
        """The member's record, checked (see the class); None when it is missing."""
        path = self.record_path(key)
        try:
            record = MemberRecord.from_json(self.tree.read_json(path), path.name)
        except FileNotFoundError:
            return None
        except (RecordError, TypeError, ValueError, RecursionError) as exc:  # written whole (atomically): edited
            raise InputError(f"{path} is damaged ({reason_line(exc, typed=True)}): the record of member "
                             f"{key} cannot be read",
                             hint=f"remove it and {key.name}.npy beside it to have the member trained again") from None
        o, who = self.origin, f"{record.made_by} ({record.process}, {record.made_at_utc})"
        wrong = [f"{what} {got[:12]} where this LOSO's is {want[:12]}" for what, got, want in (
            ("member", record.member, key.name), ("corpus", record.corpus, o.corpus),
            ("recipe", record.recipe, o.recipe)) if got != want]
        wrong += [f"formats {record.formats} where this LOSO's are {o.formats}"] if record.formats != o.formats else []
        wrong += [f"fingerprint {record.made_from[:12]} where this LOSO's is {o.made_from[:12]}"] \
            if record.made_from != o.made_from else []
        if wrong:
            raise InputError(f"{path} was made by {who} for another LOSO or member: {'; '.join(wrong[:2])}",
                             hint=f"remove it and {key.name}.npy beside it (they were copied or moved here); the "
                                  "member is then trained again")
        return record

    def load(self, key: MemberKey, arch: Arch) -> tuple[Trained, MemberRecord] | None:
        """The member's weights and record, checked (see the class); None when it is not there."""
        record = self.record(key)
        path = self.path(key)
        if record is None or self.tree.entry(path) is None:
            return None
        data = self.tree.read_bytes(path)  # a link or a pipe in its place is refused here
        who = f"{record.made_by} ({record.process}, {record.made_at_utc})"
        if (found := sha256_bytes(data)) != record.sha256:
            raise InputError(f"{path} has sha256 {found[:12]}…, but {who} recorded {record.sha256[:12]}… when it "
                             "wrote it: the member was changed after",
                             hint=f"remove it and {key.name}.json beside it to have the member trained again")
        try:
            vector = np.load(io.BytesIO(data), allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise InputError(f"{path}, written by {who}, is no member file: {exc}",
                             hint=f"remove it and {key.name}.json beside it to have it trained again") from None
        size = arch.params + 2 * arch.n_features + 1  # flatten's vector: the slots, means, stds and loss
        if vector.dtype != np.float32 or vector.shape != (size,):
            raise InputError(f"{path}, written by {who}, holds {vector.dtype} {vector.shape}, not the "
                             f"{size} float32 weights of {key.arch}",
                             hint=f"remove it and {key.name}.json beside it to have it trained again")
        return unflatten(vector, arch), record

    def load_all(self, jobs: list[TrainJob], only: Collection[MemberKey] | None = None
                 ) -> dict[MemberKey, tuple[Trained, MemberRecord]]:
        """Every member of `jobs` (or of them, those in `only`) that the store holds, checked."""
        return {key: got for job in jobs for key in job_keys(job)
                if (only is None or key in only) and (got := self.load(key, job.arch)) is not None}


def train_missing(data: TrainData | Callable[[bool], TrainData], jobs: list[TrainJob], wanted: Collection[MemberKey],
                  have: Collection[MemberKey], store: MemberStore, config: TrainConfig, workers: int,
                  distil: Distillation | None = None, distilled: Callable[[], None] | None = None) -> list[MemberKey]:
    """Train and store the members of `jobs` in `wanted` but not `have`, each on its job's schedule; those trained
    (kit.model.train.train_jobs: `data`, `distil` and `distilled`)."""
    share, trained = [], []
    for job in jobs:
        todo = [(m, k) for m, k in zip(job.members, job_keys(job), strict=True) if k in wanted and k not in have]
        if todo:
            share.append(replace(job, members=[m for m, _ in todo], planned_rows=planned_rows(job)))
            trained += [key for _, key in todo]
    if share:  # each group kept as it finishes
        train_jobs(data, share, config, workers, distil=distil, distilled=distilled, on_group=lambda j, group:
                   store.save_group([MemberKey(share[j].arch.name, m.seed, m.fold) for m in group.members], group))
    return trained


def gather(jobs: list[TrainJob], found: dict[MemberKey, tuple[Trained, MemberRecord]]) -> list[TrainedEnsemble]:
    """Each job's members, all found in the store, as one ensemble each, in the job's order."""
    got = [[found[key][0] for key in job_keys(job)] for job in jobs]
    return [TrainedEnsemble(StackedMLP.joined([w.net for w in g]), torch.stack([w.mean for w in g]),
                            torch.stack([w.std for w in g]), job.members, [w.loss for w in g])
            for job, g in zip(jobs, got, strict=True)]


def missing_keys(jobs: list[TrainJob], found: Collection[MemberKey]) -> list[MemberKey]:
    return [key for job in jobs for key in job_keys(job) if key not in found]


def describe(keys: list[MemberKey], most: int = 3) -> str:
    """`linear seed 0 fold 2, fr_regressor_v2 seed 1 fold 0 (and 4 more)`."""
    more = f" (and {len(keys) - most} more)" if len(keys) > most else ""
    return ", ".join(map(str, keys[:most])) + more
