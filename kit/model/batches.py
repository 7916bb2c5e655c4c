"""What each training step reads: a member's rows in shuffled order, z-scored by its own scaler, and its dropout masks,
each from the member's own generators, whichever members it is stacked with and whichever worker trains it."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import torch

from kit.model.arch import Arch
from kit.model.contract import CODEC_DIM
from kit.model.features import Codec, codec_into, model_space


@dataclass(frozen=True)
class Complement:
    """The rows a fold trains on (every row it does not hold out), made only while a group trains on them."""

    n_rows: int
    held_out: np.ndarray  # ascending and distinct (cut_folds' rows): Kept reads it so

    def __len__(self) -> int:
        return self.n_rows - len(self.held_out)

    def array(self) -> np.ndarray:
        """The rows, ascending; int32 where they fit (half the memory while a group trains on them: a draw of them
        indexes the table all the same)."""
        keep = np.ones(self.n_rows, dtype=bool)
        keep[self.held_out] = False
        return np.flatnonzero(keep).astype(np.int32 if self.n_rows < 2**31 else np.int64)


@dataclass(frozen=True)
class Kept:
    """The rows `start + i` for i in 0..n-1 but the `left` ones, drawn by their positions among the kept without an
    array of them all (a fold's kept frames were 54 MiB of int32 at 50,000 contents; its left ones 12 of int64)."""

    start: int
    n: int
    shifts: torch.Tensor  # each left row's i less the left rows before it: ascending, int64

    @classmethod
    def of(cls, n: int, left: np.ndarray, start: int = 0) -> Kept:
        """`left`: ascending, distinct, in 0..n-1; ValueError otherwise (a row drawn from such shifts would be
        another one, or past the n rows, with no error)."""
        left = np.asarray(left, dtype=np.int64)
        if len(left) and (left[0] < 0 or left[-1] >= n or bool(np.any(left[1:] <= left[:-1]))):
            raise ValueError(f"the rows left out of {n} are not ascending, distinct and in 0..{n - 1}")
        return cls(start, n, torch.from_numpy(left - np.arange(len(left))))

    def __len__(self) -> int:
        return self.n - len(self.shifts)

    def __getitem__(self, positions: torch.Tensor) -> torch.Tensor:
        """The kept rows at `positions` (int64), ascending with them: a row is its position plus the left rows
        before it, which are those whose shift is at most its position."""
        return positions + torch.searchsorted(self.shifts, positions, right=True) + self.start


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
    """The rows every job trains on: float32 tensors, shared read-only by the workers."""

    table: torch.Tensor  # (N, F + CODEC_DIM): the input set's features in model space, then the codec block
    target: torch.Tensor  # (N,)
    codec_block: bool = True  # False: the table is the features alone (no job that reads the codec block trains)

    @classmethod
    def of(cls, feats: np.ndarray, codec: Codec, target: np.ndarray, codec_block: bool = True) -> TrainData:
        """The table of the features in model space and, where a job reads it, the codec block (without it, 180 MiB
        less at 3,000,000 rows: the baselines read the features alone, the same values as the view `feats`)."""
        def f32(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
        if not codec_block:
            return cls(f32(model_space(feats)), f32(target), codec_block=False)
        table = np.empty((len(feats), feats.shape[1] + codec.shape[1]), dtype=np.float32)  # filled in place: no copy of
        table[:, :feats.shape[1]] = model_space(feats)  # the codec block made whole where it is CodecRows
        codec_into(table[:, feats.shape[1]:], codec)
        return cls(torch.from_numpy(table), f32(target))

    @property
    def feats(self) -> torch.Tensor:
        """(N, F): the features in model space, a view of the table."""
        return self.table[:, :self.table.shape[1] - CODEC_DIM] if self.codec_block else self.table


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


SCALER_ROWS = 1 << 18  # rows a scaler gathers at once, then casts into its float64 copy (6 MiB of six in float32)


def scaler(feats: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The means and standard deviations (F,) of `feats[rows]` in float64, cast to float32: the rows gathered into
    one float64 copy SCALER_ROWS at a time (the bits of `feats[rows].double()`'s figures, without the float32 copy of
    every row beside it), let go on return."""
    x = torch.empty((len(rows), feats.shape[1]), dtype=torch.float64)
    for start in range(0, len(rows), SCALER_ROWS):
        x[start:start + SCALER_ROWS] = feats[rows[start:start + SCALER_ROWS]]
    sd = x.std(0, unbiased=False)
    sd = torch.where(sd > 1e-12, sd, torch.ones_like(sd))  # a constant feature stays finite
    return x.mean(0).float(), sd.float()


class Scalers:
    """Each member's scaler, fit on its training rows only, computed once per rows object; shared by the workers,
    made one at a time (each a float64 copy of its rows while it is made: 130 MiB a fold at 10,000 contents, where
    a group of two folds' members held two and a float32 copy beside them, the peak of a training task)."""

    def __init__(self, feats: torch.Tensor) -> None:
        self.feats, self.lock = feats, threading.Lock()
        self.made: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def of(self, members: list[Member], rows: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(means, stds), each (M, 1, F)."""
        pairs = []
        for mem, r in zip(members, rows, strict=True):
            with self.lock:
                if id(mem.train_rows) not in self.made:
                    self.made[id(mem.train_rows)] = scaler(self.feats, r)
                pairs.append(self.made[id(mem.train_rows)])
        return torch.stack([p[0] for p in pairs]).unsqueeze(1), torch.stack([p[1] for p in pairs]).unsqueeze(1)


def gather(table: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """table[rows] for rows (M, B): one index_select on the flattened rows, twice as fast as indexing."""
    return table.index_select(0, rows.reshape(-1)).view(*rows.shape, *table.shape[1:])


class Inputs:
    """A group's inputs from one table, the features z-scored per member, the codec columns as (x - 0) / 1: x."""

    def __init__(self, data: TrainData, members: list[Member], arch: Arch, rows: list[torch.Tensor],
                 fitted: Scalers) -> None:
        self.means, self.stds = fitted.of(members, rows)
        if arch.use_codec:
            assert data.codec_block, "a job that reads the codec block trains on a table without it"
            self.table = data.table
            self.shift = torch.cat([self.means, torch.zeros(len(members), 1, CODEC_DIM)], dim=2)
            self.scale = torch.cat([self.stds, torch.ones(len(members), 1, CODEC_DIM)], dim=2)
        else:
            self.table, self.shift, self.scale = data.feats, self.means, self.stds

    def batch(self, rows: torch.Tensor) -> torch.Tensor:
        """The rows (..., M, B) z-scored per member: in place on the gathered copy (the bits of (x - shift) / scale,
        one tensor of their size held instead of two)."""
        return gather(self.table, rows).sub_(self.shift).div_(self.scale)


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
