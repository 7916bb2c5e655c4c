"""Each held-out encode's prediction as vmaf-tune's fast path makes it (03_loso/encodes.parquet); `feed_codec` is the
exported graph's mapping of vmaf-tune's row onto the kit's inputs (kit.bundle.vmaftune.build_profile_onnx), in numpy."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from kit.media.ladder import rung_label
from kit.model.clips import ENCODE_KEY
from kit.model.consumer import CRF_RANGE, QUERIED_ENCODERS, crf_band
from kit.model.contract import CODEC_DIM, CODEC_VOCAB, cq_ranges

ENCODES_COLUMNS = ("content", "src", "src_sha256", "encoder", "cq", "enc_width", "enc_height", "rung", "crf",
                   "crf_band", "n_frames", "teacher", "predicted", "miss", "encoder_trained", "queried", "counted",
                   "n_seeds", "ceiling", "ceiling_miss")


def feed_codec(encoders: np.ndarray | pd.Series, crfs: np.ndarray | pd.Series,
               crf_range: tuple[int, int] = CRF_RANGE) -> np.ndarray:
    """The codec block the exported graph makes of vmaf-tune's row at CRF `crfs` (float32); NaN where it has no slot."""
    lo, hi = crf_range
    enc = np.asarray(encoders, dtype=object)
    crf_norm = ((np.asarray(crfs, dtype=np.float64) - lo) / max(hi - lo, 1)).astype(np.float32)  # as vmaf-tune feeds
    out = np.full((len(enc), CODEC_DIM), np.nan, dtype=np.float32)
    for name in QUERIED_ENCODERS:
        mask = enc == name
        cq_lo, cq_hi = cq_ranges()[name]
        slope, offset = np.float32((hi - lo) / (cq_hi - cq_lo)), np.float32((lo - cq_lo) / (cq_hi - cq_lo))
        out[mask] = 0.0
        out[mask, CODEC_VOCAB.index(name)] = 1.0
        out[mask, -1] = crf_norm[mask] * slope + offset
    return out


def rungs_of(frame: pd.DataFrame) -> list[str]:
    """Each encode's rung label (kit.media.ladder.rung_label); without the source's height, its encoded height."""
    heights = frame["height"] if "height" in frame else pd.Series(0, index=frame.index)
    return [rung_label(e, h) if h > 0 or e <= 0 else f"{e} lines"
            for e, h in zip(map(_whole, frame["enc_height"]), map(_whole, heights), strict=True)]


def _whole(value: object) -> int:
    """A height as recorded, 0 where none is (null: the bash kit's JSONL rows record no size)."""
    return int(value) if isinstance(value, int | float) and math.isfinite(value) else 0


def consumer_encodes(clips: pd.DataFrame, crf_range: tuple[int, int], codec_blind: bool) -> pd.DataFrame:
    """03_loso/encodes.parquet from the members' clips, one row per encode (its columns: docs/reference/files.md)."""
    key = list(ENCODE_KEY)
    by = clips.groupby(key, sort=True)
    out = by.agg(content=("content", "first"), src=("src", "first"), n_frames=("n_frames", "first"),
                 teacher=("vmaf_mean", "first"), encoder_trained=("encoder_trained", "all"),
                 n_seeds=("seed", "nunique"), ceiling=("ceiling", "first"),
                 **({"height": ("height", "first")} if "height" in clips else {}))
    broken = clips["pred_vmaftune"].isna().groupby([clips[c] for c in key], sort=True).any()
    out["predicted"] = by["pred_vmaftune"].mean().where(~broken)
    out = out.reset_index()
    out["rung"] = rungs_of(out) if len(out) else []
    slotted = out["encoder"].isin(QUERIED_ENCODERS)
    out["crf"] = out["cq"].astype("Int64").where(slotted)
    out["crf_band"] = [crf_band(int(c)) if s else "" for c, s in zip(out["cq"], slotted, strict=True)]
    out["miss"] = (out["predicted"] - out["teacher"]).abs()
    out["queried"] = slotted & out["cq"].between(*crf_range)
    out["counted"] = out["queried"] & (True if codec_blind else out["encoder_trained"])
    out["ceiling_miss"] = (out["ceiling"] - out["teacher"]).abs()
    out = out.sort_values(["src", "src_sha256", "encoder", "cq", "enc_height"], ascending=[True] * 4 + [False],
                          kind="stable")
    return out[list(ENCODES_COLUMNS)].reset_index(drop=True)
