"""What each training step reads: a member's rows in shuffled order, z-scored by its own scaler, and its dropout masks,
each from the member's own generators, whichever members it is stacked with and whichever worker trains it."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import torch

from kit.model.arch import Arch
from kit.model.contract import CODEC_DIM
from kit.model.features import Codec, model_space


@dataclass(frozen=True)
class Complement:
    """The rows a fold trains on (every row it does not hold out), made only while a group trains on them."""

    n_rows: int
    held_out: np.ndarray  # sorted

    def __len__(self) -> int:
        return self.n_rows - len(self.held_out)

    def array(self) -> np.ndarray:
        """The rows, ascending; int32 where they fit (half the memory while a group trains on them: a draw of them
        indexes the table all the same)."""
        keep = np.ones(self.n_rows, dtype=bool)
        keep[self.held_out] = False
        return np.flatnonzero(keep).astype(np.int32 if self.n_rows < 2**31 else np.int64)


@dataclass(frozen=True)
class Member:
    """One model to train: its seed and the global row indices it trains on (one object for a fold's members)."""

    seed: int
    fold: int  # -1 for a full-corpus fit
    train_rows: np.ndarray | Complement


def row_arrays(members: list[Member]) -> list[torch.Tensor]:
    """Each member's training rows as a tensor; members sharing a rows object share one tensor."""
    made: dict[int, torch.Tensor] = {}
    for m in members:
        if id(rows := m.train_rows) not in made:
            made[id(rows)] = torch.from_numpy(rows.array() if isinstance(rows, Complement) else rows)
    return [made[id(m.train_rows)] for m in members]


@dataclass(frozen=True)
class TrainData:
    """The rows every job trains on, shared read-only by the workers: the features in model space (float32) and the
    targets as tensors, the codec block as each row's slot and cq (CodecRows: 5 bytes a row), made whole only for the
    rows of a batch (`Inputs.batch`), never for the corpus (it was 180 MiB of a 250 MiB table at 3,000,000 rows)."""

    feats: torch.Tensor  # (N, F): the input set's features in model space
    target: torch.Tensor  # (N,)
    codec: Codec | None = None  # the codec block (N, CODEC_DIM), where a job reads it

    @classmethod
    def of(cls, feats: np.ndarray, codec: Codec, target: np.ndarray, codec_block: bool = True) -> TrainData:
        """The features in model space and, where a job reads it (`codec_block`), the codec block as given."""
        targets = np.ascontiguousarray(target, dtype=np.float32)
        return cls(torch.from_numpy(model_space(feats)), torch.from_numpy(targets), codec if codec_block else None)

    def codec_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """The codec block of `rows` (any shape), float32, shaped (*rows.shape, CODEC_DIM): the values the corpus's
        whole block holds there."""
        assert self.codec is not None, "a job that reads the codec block trains on rows without it"
        block = np.asarray(self.codec[rows.reshape(-1).numpy()], dtype=np.float32)
        return torch.from_numpy(block).view(*rows.shape, CODEC_DIM)


class RowStream:
    """One member's training rows (shared with its fold's members), reshuffled on every pass, handed out in order."""

    def __init__(self, member: Member, rows: torch.Tensor) -> None:
        self.rows = rows
        self.gen = torch.Generator().manual_seed(member.seed * 1_000_003 + member.fold + 1)
        self.perm = torch.empty(0, dtype=torch.int64)  # drawn at the first take
        self.pos = 0

    def take(self, n: int) -> torch.Tensor:
        parts = []
        while n > 0:
            if self.pos == len(self.perm):  # int32 where the rows fit: the same permutation as int64's, half the size
                self.perm = torch.randperm(len(self.rows), generator=self.gen,
                                           dtype=torch.int32 if len(self.rows) < 2**31 else torch.int64)
                self.pos = 0
            part = self.rows[self.perm[self.pos : self.pos + n]]
            self.pos += len(part)
            n -= len(part)
            parts.append(part)
        return torch.cat(parts)


class Scalers:
    """Each member's scaler, fit on its training rows only, computed once per rows object; shared by the workers."""

    def __init__(self, feats: torch.Tensor) -> None:
        self.feats, self.lock = feats, threading.Lock()
        self.made: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def of(self, members: list[Member], rows: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(means, stds), each (M, 1, F)."""
        pairs = []
        for mem, r in zip(members, rows, strict=True):
            with self.lock:
                if id(mem.train_rows) not in self.made:  # the feature means and standard deviations (F,)
                    x = self.feats[r].double()
                    sd = x.std(0, unbiased=False)
                    sd = torch.where(sd > 1e-12, sd, torch.ones_like(sd))  # a constant feature stays finite
                    self.made[id(mem.train_rows)] = x.mean(0).float(), sd.float()
                pairs.append(self.made[id(mem.train_rows)])
        return torch.stack([p[0] for p in pairs]).unsqueeze(1), torch.stack([p[1] for p in pairs]).unsqueeze(1)


def gather(table: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """table[rows] for rows (M, B): one index_select on the flattened rows, twice as fast as indexing."""
    return table.index_select(0, rows.reshape(-1)).view(*rows.shape, *table.shape[1:])


class Inputs:
    """A group's inputs: the features z-scored per member, then, where the arch reads it, the codec block as it is
    (the (x - 0) / 1 of its columns, bit for bit)."""

    def __init__(self, data: TrainData, members: list[Member], arch: Arch, rows: list[torch.Tensor],
                 fitted: Scalers) -> None:
        self.means, self.stds = fitted.of(members, rows)
        self.data, self.codec = data, arch.use_codec

    def batch(self, rows: torch.Tensor) -> torch.Tensor:
        """The rows (..., M, B) z-scored per member: in place on the gathered copy (the bits of (x - mean) / std, one
        tensor of their size held instead of two), the codec block of the same rows after them."""
        x = gather(self.data.feats, rows).sub_(self.means).div_(self.stds)
        return torch.cat([x, self.data.codec_rows(rows)], dim=-1) if self.codec else x


MASK_LEVELS = 1 << 16  # dropout draws are 16-bit
MASK_STREAM = 0x6D61736B  # tells a member's dropout generator from its other ones
MASK_CHUNK_BYTES = 16 << 20  # draws made ahead, per group (at least one step's)


class Dropout:
    """A group's inverted-dropout masks, each member's from its own PCG64 (four 16-bit draws a word): a unit drops
    when its draw is below round(p * 65536), the kept ones scaled by the exact inverse of the kept share."""

    def __init__(self, members: list[Member], arch: Arch, batch: int, ahead: int | None = None) -> None:
        self.layers = [(batch, layer.fan_out, round(layer.dropout * MASK_LEVELS))
                       for layer in arch.layers() if layer.drops]
        self.words = -(-sum(rows * width for rows, width, _ in self.layers) // 4)  # per member and step, 4 draws each
        self.generators = [np.random.PCG64(np.random.SeedSequence([m.seed, m.fold + 1, MASK_STREAM])) for m in members]
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
