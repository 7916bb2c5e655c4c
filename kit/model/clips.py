"""Whole encodes (ENCODE_KEY) as vmaf-tune predicts them, from their mean frame features (03_loso/clips.parquet)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kit.model.pooling import POOLS, clipped, pool_groups

if TYPE_CHECKING:
    from kit.model.features import Codec

RUNG_SIZE = ("enc_width", "enc_height")  # a rung's encoded size; 0: not recorded (the source's own size)
# one encode: a source at one encoder, quality setting and rung (two boxes' frames of one encode pooled as one)
ENCODE_KEY = ("src_sha256", "encoder", "cq", *RUNG_SIZE)


def encode_keys(df: pd.DataFrame) -> pd.DataFrame:
    """ENCODE_KEY per row; rows without the rung's size (a corpus of no ladder, a hand-made frame, a row that leaves
    it null: not recorded) read it as 0, never a missing key, which groupby would drop or pool as one encode."""
    keys = {c: df.get(c, 0) for c in ENCODE_KEY}
    for c in RUNG_SIZE:
        if isinstance(keys[c], pd.Series) and keys[c].isna().any():  # read as float with NaN: int32 as stored
            keys[c] = keys[c].fillna(0).astype(np.int32)
    return pd.DataFrame(keys, index=df.index)


def clip_codes(df: pd.DataFrame) -> np.ndarray:
    """An integer per corpus row naming its encode (the same code for every frame of one encode, rungs apart)."""
    return encode_keys(df).groupby(list(ENCODE_KEY), sort=True).ngroup().to_numpy(dtype=np.int64)


def column_sums(groups: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """(n_groups, columns): each group's sum of each column of `values` in float64, added in row order (the bits of
    numpy.add.at's sums, at a tenth of its time)."""
    out = np.zeros((n_groups, values.shape[1]), dtype=np.float64)
    for j in range(values.shape[1]):
        out[:, j] = np.bincount(groups, weights=values[:, j].astype(np.float64), minlength=n_groups)
    return out


def encode_name(src: object, encoder: object, cq: object, enc_width: int, enc_height: int, native: bool) -> str:
    """An encode as people read it: `<source> <encoder> cq <cq>`, and ` at <W>x<H>` for a rung below the source's."""
    at = "" if native or enc_height <= 0 else f" at {enc_width}x{enc_height}"
    return f"{src} {encoder} cq {cq}{at}"


@dataclass(frozen=True)
class HeldEncodes:
    """A fold's held-out encodes (its `rows`) pooled, what no member of the fold changes: each row's encode
    (`inverse`), their frames, mean features, first row and mean teacher score, vmaf-tune's feed and the teacher's
    function's ceiling, made once per fold; `clip_predictions` adds a member's."""

    rows: np.ndarray
    inverse: np.ndarray
    counts: np.ndarray
    first: np.ndarray
    mean_feats: np.ndarray
    fed: np.ndarray | None
    base: pd.DataFrame  # keys, frames, the teacher's figures and the ceiling, the member's columns left empty


def held_encodes(rows: np.ndarray, codes: np.ndarray, feats: np.ndarray, target: np.ndarray, keys: pd.DataFrame,
                 feed: Callable[[pd.Series, pd.Series], np.ndarray] | None = None,
                 teacher_fn: Callable[[np.ndarray], np.ndarray] | None = None) -> HeldEncodes:
    """The encodes among `rows` pooled; `keys`: what the file says of each row's encode; `feed` gives
    `pred_vmaftune`'s input, `teacher_fn` `ceiling`."""
    clip = codes[rows]
    ids, inverse, counts = np.unique(clip, return_inverse=True, return_counts=True)
    sums = column_sums(inverse, feats[rows], len(ids))
    mean_feats = (sums / counts[:, None]).astype(np.float32)
    first = np.zeros(len(ids), dtype=np.int64)
    first[inverse[::-1]] = rows[::-1]  # any row of the clip: the codec block is the same for all of them
    out = keys.iloc[first].reset_index(drop=True)
    out.insert(0, "seed", np.int32(0))
    out["n_frames"] = counts.astype(np.int32)
    out["vmaf_mean"] = np.bincount(inverse, weights=target[rows]) / counts
    out["pred_from_mean_features"] = out["pred_mean_of_frames"] = np.nan
    fed = feed(out["encoder"], out["cq"]) if feed is not None else None
    if fed is not None:
        out["pred_vmaftune"] = np.nan
    out["ceiling"] = teacher_fn(mean_feats[:, :6].astype(np.float64)) if teacher_fn is not None else np.nan
    teacher = pool_groups(target[rows], inverse, len(ids))
    out = out.assign(**{f"vmaf_{stat}": teacher[stat] for stat in POOLS[1:]})  # vmaf_mean is the teacher's mean above
    return HeldEncodes(rows, inverse, counts, first, mean_feats, fed, out)


def clip_predictions(seed: int, held: HeldEncodes, codec: Codec, frame_pred: np.ndarray,
                     predict: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> pd.DataFrame:
    """One member's encodes among its fold's held-out rows: `predict` on their mean features against their mean
    teacher score, its frames' predictions pooled; `pred_vmaftune` clipped as the export clips it, NaN where vmaf-tune
    has no slot (a fed row of NaN)."""
    member = pool_groups(clipped(frame_pred), held.inverse, len(held.counts))
    columns: dict[str, object] = {
        "seed": np.int32(seed), "pred_from_mean_features": predict(held.mean_feats, codec[held.first]),
        "pred_mean_of_frames": np.bincount(held.inverse, weights=frame_pred) / held.counts}
    if held.fed is not None:
        vmaftune, asked = np.full(len(held.counts), np.nan), np.isfinite(held.fed).all(axis=1)
        if asked.any():
            vmaftune[asked] = clipped(predict(held.mean_feats[asked], held.fed[asked]))
        columns["pred_vmaftune"] = vmaftune
    return held.base.assign(**columns, **{f"pred_{stat}": member[stat] for stat in POOLS})
