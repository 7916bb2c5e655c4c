"""The model's input arrays as kit.model.contract pins them: the raw features, then the codec block (ONNX's order)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import DTypeLike

from kit.errors import InputError
from kit.model.contract import (
    CANONICAL6,
    CODEC_DIM,
    CODEC_VOCAB,
    cq_ranges,
    input_features,
    log_columns,
    no_slot_message,
)
from kit.platforms.encoders import get_spec


def codec_block(encoders: pd.Series | np.ndarray, cqs: pd.Series | np.ndarray) -> np.ndarray:
    """One-hot encoder + cq normalised within its family, shape (N, CODEC_DIM)."""
    enc = np.asarray(encoders, dtype=object)
    cq = np.asarray(cqs, dtype=np.float64)
    out = np.zeros((len(enc), CODEC_DIM), dtype=np.float32)
    for j, (name, (lo, hi)) in enumerate(cq_ranges().items()):  # in CODEC_VOCAB's order
        mask = enc == name
        out[mask, j] = 1.0
        out[mask, -1] = (cq[mask] - lo) / (hi - lo)
    unknown = ~np.isin(enc, CODEC_VOCAB)
    if unknown.any():
        names = sorted({str(e) for e in enc[unknown]})
        for name in names:
            get_spec(name)  # an encoder the kit does not know at all: InputError naming it
        raise InputError(f"{no_slot_message(names)} ({int(unknown.sum())} rows)",
                         hint="train on a corpus without them (merge the inputs that hold none; a shard of both "
                              "kinds of rows cannot be split here), and keep those rows for a kit whose codec "
                              "vocabulary takes their encoder")
    return out


BLOCK_ROWS = 1 << 20  # rows of the codec block made at once from CodecRows (60 MiB)


@dataclass(frozen=True)
class EncoderNames:
    """Each row's encoder as text, a part at a time: from a categorical (the loso step's frame, kit.corpus.training),
    its codes and its categories, never the whole column as objects, which with pandas' unique of it was 120 bytes a
    row (1.7 GiB at 15,000,000 rows, a training task's peak); from anything else, as it is."""

    values: np.ndarray  # object: the categories, or every row's name
    codes: np.ndarray | None  # each row's category; None where `values` are the rows'

    @classmethod
    def of(cls, encoders: pd.Series | np.ndarray) -> EncoderNames:
        if isinstance(encoders, pd.Series) and isinstance(encoders.dtype, pd.CategoricalDtype) \
                and not encoders.hasnans:
            return cls(np.asarray(encoders.cat.categories, dtype=object), encoders.cat.codes.to_numpy())
        return cls(np.asarray(encoders, dtype=object), None)

    def __len__(self) -> int:
        return len(self.values if self.codes is None else self.codes)

    def __getitem__(self, rows: slice) -> np.ndarray:
        return self.values[rows] if self.codes is None else self.values[self.codes[rows]]

    def held(self) -> np.ndarray:
        """The names some row holds (a category no row holds left out), the codes looked at BLOCK_ROWS at a time (an
        index of them all at once is an intp a row)."""
        if self.codes is None:
            return pd.unique(self.values)
        found = np.zeros(len(self.values), dtype=bool)
        for start in range(0, len(self.codes), BLOCK_ROWS):
            found[self.codes[start:start + BLOCK_ROWS]] = True
        return self.values[found]


assert np.iinfo(np.int8).max >= len(CODEC_VOCAB), "CodecRows keeps each row's slot in an int8"


@dataclass(frozen=True)
class CodecRows:
    """The codec block (N, CODEC_DIM) as what makes each row's: its encoder's slot and the block's last column (its
    cq normalised), 5 bytes a row where the block holds 60 (0.17 GiB at 3,000,000 rows). Indexed by rows (a slice,
    positions, a mask) it gives those rows' block, float32, the values codec_block gives them; by (rows, column) that
    column alone."""

    slots: np.ndarray  # (N,) int8: the column of the row's encoder, in CODEC_VOCAB's order
    cq: np.ndarray  # (N,) float32: the block's last column

    @classmethod
    def of(cls, encoders: pd.Series | np.ndarray, cqs: pd.Series | np.ndarray) -> CodecRows:
        """From each row's encoder and cq, through codec_block (the one rule), BLOCK_ROWS at a time; an encoder
        without a slot refused as codec_block refuses the whole corpus (every such name, all their rows), before any
        block is made."""
        names, cq = EncoderNames.of(encoders), np.asarray(cqs)
        if any(e not in CODEC_VOCAB for e in names.held()):
            enc = names[:]
            unknown = ~np.isin(enc, CODEC_VOCAB)
            codec_block(enc[unknown], cq[unknown])  # refuses them (an InputError naming each)
        slots, last = np.empty(len(names), dtype=np.int8), np.empty(len(names), dtype=np.float32)
        for start in range(0, len(names), BLOCK_ROWS):
            block = codec_block(names[start:start + BLOCK_ROWS], cq[start:start + BLOCK_ROWS])
            assert (block[:, :-1].sum(axis=1) == 1.0).all(), "a row of the block has one slot"
            slots[start:start + len(block)] = np.argmax(block[:, :-1], axis=1)
            last[start:start + len(block)] = block[:, -1]
        return cls(slots, last)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.slots), CODEC_DIM

    @property
    def dtype(self) -> np.dtype[np.float32]:
        return np.dtype(np.float32)

    def __len__(self) -> int:
        return len(self.slots)

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, (int, np.integer)):  # one row: its block, (CODEC_DIM,)
            return self[np.array([key])][0]
        if isinstance(key, tuple):
            rows, column = key
            if isinstance(column, (int, np.integer)):
                if not -CODEC_DIM <= column < CODEC_DIM:
                    raise IndexError(f"column {column} is out of the codec block's {CODEC_DIM}")
                j = int(column) % CODEC_DIM
                return self.cq[rows] if j == CODEC_DIM - 1 else (self.slots[rows] == j).astype(np.float32)
            return self[rows][:, column]
        slots, cq = self.slots[key], self.cq[key]
        block = np.zeros((len(slots), CODEC_DIM), dtype=np.float32)
        block[np.arange(len(slots)), slots] = 1.0
        block[:, -1] = cq
        return block

    def __array__(self, dtype: DTypeLike | None = None, copy: bool | None = None) -> np.ndarray:
        return self[:].astype(dtype or np.float32, copy=False)

    def astype(self, dtype: DTypeLike) -> np.ndarray:
        return self[:].astype(dtype, copy=False)

    def into(self, out: np.ndarray) -> None:
        """The block written into `out` (N, CODEC_DIM), BLOCK_ROWS at a time, cast to its type."""
        assert out.shape == self.shape, f"the codec block is {self.shape}, written into {out.shape}"
        for start in range(0, len(self), BLOCK_ROWS):
            out[start:start + BLOCK_ROWS] = self[start:start + BLOCK_ROWS]


Codec = np.ndarray | CodecRows  # the codec block, whole or as CodecRows


def codec_into(out: np.ndarray, codec: Codec) -> None:
    """`codec`'s block written into `out`, with no copy of it made whole where it is CodecRows."""
    if isinstance(codec, CodecRows):
        codec.into(out)
    else:
        out[:] = codec


def feature_matrix(df: pd.DataFrame, inputs: str = CANONICAL6) -> np.ndarray:
    """The raw features (N, F) of the input set `inputs`, float32."""
    return df[list(input_features(inputs))].to_numpy(dtype=np.float32)


def design_matrix(df: pd.DataFrame, inputs: str = CANONICAL6) -> tuple[np.ndarray, np.ndarray]:
    """(raw features (N, F) of the input set `inputs`, codec block (N,CODEC_DIM)) as float32."""
    return feature_matrix(df, inputs), codec_block(df["encoder"].to_numpy(), df["cq"].to_numpy())


def design_rows(df: pd.DataFrame, inputs: str = CANONICAL6) -> tuple[np.ndarray, CodecRows]:
    """design_matrix with its codec block as CodecRows: what training keeps of every row."""
    return feature_matrix(df, inputs), CodecRows.of(df["encoder"], df["cq"].to_numpy())


def model_space(feats: np.ndarray) -> np.ndarray:
    """Raw features (N, F) as the model sees them, float32: LOG_FEATURES' columns as log(1 + max(x, 0))."""
    out = np.array(feats, dtype=np.float32)
    cols = np.flatnonzero(log_columns(out.shape[1]))
    out[:, cols] = np.log1p(np.maximum(out[:, cols], 0.0))
    return out
