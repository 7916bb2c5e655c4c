"""fr_regressor_v2: six z-scored libvmaf features + a codec block -> per-frame VMAF.

Input layout (the order the ONNX graph and every sidecar record):
  features[6]  adm2, vif_scale0..3, motion2 (raw; the scaler is inside the model)
  codec[V+1]   one-hot over ENCODER_VOCAB, then cq normalised within its encoder family
Network: Linear(6+V+1 -> 64) -> GELU -> Dropout -> Linear(64 -> 64) -> GELU -> Dropout -> Linear(64 -> 1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from kit.platforms.encoders import ENCODER_VOCAB, get_spec
from kit.recipe import ARCH, TrainConfig
from kit.vmaf import FEATURES

__all__ = ["ARCH", "CODEC_DIM", "N_FEATURES", "FrRegressor", "TrainConfig", "codec_block", "design_matrix"]

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


class FrRegressor(nn.Module):
    """One member, the scaler baked in; the exported and reloaded form."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, hidden: int = 64, dropout: float = 0.1) -> None:
        super().__init__()
        self.register_buffer("mean", mean.reshape(1, N_FEATURES).float())
        self.register_buffer("std", std.reshape(1, N_FEATURES).float())
        self.net = nn.Sequential(
            nn.Linear(N_FEATURES + CODEC_DIM, hidden), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )

    def forward(self, features: torch.Tensor, codec: torch.Tensor) -> torch.Tensor:
        z = (features - self.mean) / self.std
        return self.net(torch.cat([z, codec], dim=1)).squeeze(1)


def checkpoint(model: FrRegressor, config: TrainConfig, meta: dict[str, object]) -> dict[str, object]:
    """A self-describing checkpoint: everything needed to rebuild the member."""
    return {
        "arch": ARCH, "config": config.to_json(), "features": list(FEATURES),
        "encoder_vocab": list(ENCODER_VOCAB), "meta": meta,
        "state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()},
    }


def load_checkpoint(path: str) -> tuple[FrRegressor, dict[str, object]]:
    """The one loader (export and tests use it); weights_only, so no code runs."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if ckpt.get("arch") != ARCH or list(ckpt.get("encoder_vocab", [])) != list(ENCODER_VOCAB):
        raise ValueError(f"{path}: not a {ARCH} checkpoint of this kit's encoder vocabulary")
    sd = ckpt["state_dict"]
    cfg = ckpt["config"]
    model = FrRegressor(sd["mean"], sd["std"], int(cfg["hidden"]), float(cfg["dropout"]))
    model.load_state_dict(sd)
    model.eval()
    return model, ckpt
