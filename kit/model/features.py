"""The model's input: six raw libvmaf features and the codec block.

    features[6]  adm2, vif_scale0..3, motion2 (raw; each model z-scores them itself)
    codec[V+1]   one-hot over ENCODER_VOCAB, then cq normalised within its encoder family

The order here is the order of the ONNX inputs and of every sidecar.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kit.media.libvmaf import FEATURES
from kit.platforms.encoders import ENCODER_VOCAB, get_spec

N_FEATURES = len(FEATURES)
CODEC_DIM = len(ENCODER_VOCAB) + 1


def codec_block(encoders: pd.Series | np.ndarray, cqs: pd.Series | np.ndarray) -> np.ndarray:
    """One-hot encoder + cq normalised within its family, shape (N, CODEC_DIM)."""
    enc = np.asarray(encoders, dtype=object)
    cq = np.asarray(cqs, dtype=np.float64)
    out = np.zeros((len(enc), CODEC_DIM), dtype=np.float32)
    for j, name in enumerate(ENCODER_VOCAB):
        mask = enc == name
        if mask.any():
            out[mask, j] = 1.0
            out[mask, -1] = get_spec(name).normalise_cq(cq[mask])
    unknown = ~np.isin(enc, ENCODER_VOCAB)
    if unknown.any():
        get_spec(str(enc[unknown][0]))  # raises InputError naming the encoder
    return out


def design_matrix(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(raw features (N,6), codec block (N,CODEC_DIM)) as float32."""
    feats = df[list(FEATURES)].to_numpy(dtype=np.float32)
    return feats, codec_block(df["encoder"].to_numpy(), df["cq"].to_numpy())
