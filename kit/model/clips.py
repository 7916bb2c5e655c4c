"""Whole clips as vmaf-tune predicts them: from the mean of a clip's frame features, not frame by frame.

A clip is one encode: a source at one encoder and quality setting (src_sha256, encoder, cq). Each validation member
predicts the clips of the sources its fold holds out from their mean features (the codec block is the clip's own),
beside the mean of its frame predictions and the clip's mean teacher score: `03_loso/clips.parquet`, one row per
(seed, clip). The verdict (kit.verdict.intervals.clip_use) measures the error and the interval coverage of that use.

Beside them, the clip's frames pooled as each consumer pools them (kit.model.pooling: mean, harmonic mean, 1st
percentile, min): `vmaf_<stat>` the teacher's, `pred_<stat>` this member's frame predictions (clipped to [0, 100])
pooled the same way. The member never saw the clip's content.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from kit.model.pooling import POOLS, clipped, pool_groups

CLIP_KEY = ("src_sha256", "encoder", "cq")


def clip_codes(df: pd.DataFrame) -> np.ndarray:
    """An integer per corpus row naming its clip (the same code for every frame of one encode)."""
    return df.groupby(list(CLIP_KEY), sort=True).ngroup().to_numpy(dtype=np.int64)


def clip_predictions(seed: int, rows: np.ndarray, codes: np.ndarray, feats: np.ndarray, codec: np.ndarray,
                     target: np.ndarray, frame_pred: np.ndarray, keys: pd.DataFrame,
                     predict: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> pd.DataFrame:
    """One member's clips among `rows` (its held-out rows, with `frame_pred` its predictions of them): mean
    features -> `predict`, against the clips' mean teacher score. `keys` holds CLIP_KEY per corpus row."""
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
    teacher, member = pool_groups(target[rows], inverse, len(ids)), pool_groups(clipped(frame_pred), inverse, len(ids))
    return out.assign(**{f"vmaf_{stat}": teacher[stat] for stat in POOLS[1:]},  # vmaf_mean is the teacher's mean above
                      **{f"pred_{stat}": member[stat] for stat in POOLS})
