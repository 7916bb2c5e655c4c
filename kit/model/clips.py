"""Whole encodes (ENCODE_KEY) as vmaf-tune predicts them, from their mean frame features (03_loso/clips.parquet)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from kit.model.pooling import POOLS, clipped, pool_groups

RUNG_SIZE = ("enc_width", "enc_height")  # a rung's encoded size; 0: not recorded (the source's own size)
# one encode: a source at one encoder, quality setting and rung (two boxes' frames of one encode pooled as one)
ENCODE_KEY = ("src_sha256", "encoder", "cq", *RUNG_SIZE)


def encode_keys(df: pd.DataFrame) -> pd.DataFrame:
    """ENCODE_KEY per row; rows without the rung's size (a corpus of no ladder, a hand-made frame) read it as 0."""
    return pd.DataFrame({c: df.get(c, 0) for c in ENCODE_KEY}, index=df.index)


def clip_codes(df: pd.DataFrame) -> np.ndarray:
    """An integer per corpus row naming its encode (the same code for every frame of one encode, rungs apart)."""
    return encode_keys(df).groupby(list(ENCODE_KEY), sort=True).ngroup().to_numpy(dtype=np.int64)


def encode_name(src: object, encoder: object, cq: object, enc_width: int, enc_height: int, native: bool) -> str:
    """An encode as people read it: `<source> <encoder> cq <cq>`, and ` at <W>x<H>` for a rung below the source's."""
    at = "" if native or enc_height <= 0 else f" at {enc_width}x{enc_height}"
    return f"{src} {encoder} cq {cq}{at}"


def clip_predictions(seed: int, rows: np.ndarray, codes: np.ndarray, feats: np.ndarray, codec: np.ndarray,
                     target: np.ndarray, frame_pred: np.ndarray, keys: pd.DataFrame,
                     predict: Callable[[np.ndarray, np.ndarray], np.ndarray],
                     feed: Callable[[pd.Series, pd.Series], np.ndarray] | None = None,
                     teacher_fn: Callable[[np.ndarray], np.ndarray] | None = None) -> pd.DataFrame:
    """One member's encodes among its held-out `rows`: `predict` on their mean features against their mean teacher
    score; `keys`: what the file says of each row's encode; `feed` gives `pred_vmaftune`, `teacher_fn` `ceiling`."""
    clip = codes[rows]
    ids, inverse, counts = np.unique(clip, return_inverse=True, return_counts=True)
    sums = np.zeros((len(ids), feats.shape[1]), dtype=np.float64)
    np.add.at(sums, inverse, feats[rows].astype(np.float64))
    mean_feats = (sums / counts[:, None]).astype(np.float32)
    first = np.zeros(len(ids), dtype=np.int64)
    first[inverse[::-1]] = rows[::-1]  # any row of the clip: the codec block is the same for all of them
    out = keys.iloc[first].reset_index(drop=True)
    out.insert(0, "seed", np.int32(seed))
    out["n_frames"] = counts.astype(np.int32)
    out["vmaf_mean"] = np.bincount(inverse, weights=target[rows]) / counts
    out["pred_from_mean_features"] = predict(mean_feats, codec[first])
    out["pred_mean_of_frames"] = np.bincount(inverse, weights=frame_pred) / counts
    if feed is not None:  # clipped as the export clips it; NaN where vmaf-tune has no slot (a fed row of NaN)
        fed, vmaftune = feed(out["encoder"], out["cq"]), np.full(len(out), np.nan)
        asked = np.isfinite(fed).all(axis=1)
        if asked.any():
            vmaftune[asked] = clipped(predict(mean_feats[asked], fed[asked]))
        out["pred_vmaftune"] = vmaftune
    out["ceiling"] = teacher_fn(mean_feats[:, :6].astype(np.float64)) if teacher_fn is not None else np.nan
    teacher, member = pool_groups(target[rows], inverse, len(ids)), pool_groups(clipped(frame_pred), inverse, len(ids))
    return out.assign(**{f"vmaf_{stat}": teacher[stat] for stat in POOLS[1:]},  # vmaf_mean is the teacher's mean above
                      **{f"pred_{stat}": member[stat] for stat in POOLS})
