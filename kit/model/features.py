"""The model's input arrays as kit.model.contract pins them: the raw features, then the codec block (ONNX's order)."""

from __future__ import annotations

import numpy as np
import pandas as pd

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


def design_matrix(df: pd.DataFrame, inputs: str = CANONICAL6) -> tuple[np.ndarray, np.ndarray]:
    """(raw features (N, F) of the input set `inputs`, codec block (N,CODEC_DIM)) as float32."""
    feats = df[list(input_features(inputs))].to_numpy(dtype=np.float32)
    return feats, codec_block(df["encoder"].to_numpy(), df["cq"].to_numpy())


def model_space(feats: np.ndarray) -> np.ndarray:
    """Raw features (N, F) as the model sees them, float32: LOG_FEATURES' columns as log(1 + max(x, 0))."""
    out = np.array(feats, dtype=np.float32)
    cols = np.flatnonzero(log_columns(out.shape[1]))
    out[:, cols] = np.log1p(np.maximum(out[:, cols], 0.0))
    return out
