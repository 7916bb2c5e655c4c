"""Pooling beyond the mean (docs/pooling.md): how far each held-out clip's (one encode's) pooled prediction is from
its teacher pooled the same way, recomputable from 04_verdict/clip_pooling.parquet."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kit.media.ladder import scaled
from kit.model.clips import ENCODE_KEY, clip_codes, encode_name
from kit.model.metrics import residuals
from kit.model.pooling import POOL_WORDS, POOLS, clipped, pool_groups
from kit.verdict.document import ClipPooling, LimitGate, PoolError
from kit.verdict.kinds import POOLED_CLIP

CLIP_COLUMNS = ("src", "src_sha256", "content", *ENCODE_KEY[1:], "width", "height")
HOW = ("each held-out clip (one encode: a source at one encoder, cq and rung; a native encode and its rung are two "
       "clips): the ensemble's frame predictions (the mean over seeds "
       "of the members that never saw its content), clipped to [0, 100], pooled by mean, harmonic mean (libvmaf's: "
       "n / sum(1 / (x + 1)) - 1), 1st percentile (Av1an's: the sorted scores' element floor(n / 100)) and min, each "
       "minus the clip's teacher scores pooled the same way; the errors over clips. Recompute from "
       "04_verdict/clip_pooling.parquet (pred_<stat> - vmaf_<stat>)")


def clip_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per held-out clip: its identity, frame count and every pooling of the teacher (`vmaf_<stat>`) and of
    the ensemble's clipped predictions (`pred_<stat>`); by source name, encoder, cq, then the largest rung first."""
    codes = clip_codes(rows)
    n = int(codes.max()) + 1 if len(codes) else 0
    first = pd.Series(np.arange(len(rows))).groupby(codes).first().to_numpy()
    out = rows.iloc[first].reindex(columns=list(CLIP_COLUMNS)).reset_index(drop=True)
    out = out.fillna({c: 0 for c in ("enc_width", "enc_height", "width", "height")})
    out["n_frames"] = np.bincount(codes, minlength=n).astype(np.int32)
    teacher = pool_groups(rows["vmaf"].to_numpy(), codes, n)
    pred = pool_groups(clipped(rows["pred"].to_numpy()), codes, n)
    out = out.assign(**{f"{who}_{stat}": p[stat] for who, p in (("vmaf", teacher), ("pred", pred)) for stat in POOLS})
    return out.sort_values(["src", "src_sha256", "encoder", "cq", "enc_height"], ascending=[True] * 4 + [False],
                           kind="stable").reset_index(drop=True)


def clip_name(row: pd.Series) -> str:
    """`<source> <encoder> cq <cq>`, and ` at <W>x<H>` for a rung below the source's size."""
    native = int(row["height"]) <= 0 or not scaled(int(row["enc_width"]), int(row["enc_height"]), int(row["width"]),
                                                   int(row["height"]))
    return encode_name(row["src"], row["encoder"], row["cq"], int(row["enc_width"]), int(row["enc_height"]), native)


def pool_error(frame: pd.DataFrame, stat: str, encoder: str | None = None) -> PoolError:
    """One pooling's errors over `frame`'s clips (a NaN error, of a member that diverged, is the worst)."""
    r = residuals(frame[f"pred_{stat}"], frame[f"vmaf_{stat}"])
    return PoolError(stat=stat, n_clips=r.n, **r.fields_of(PoolError),
                     worst_clip=clip_name(frame.iloc[r.worst]) if r.n else "", encoder=encoder)


def clip_pooling(frame: pd.DataFrame) -> ClipPooling:
    """The verdict's block: each pooling over all held-out clips, then over each encoder's."""
    by_encoder = tuple(pool_error(part, stat, str(encoder)) for encoder, part in frame.groupby("encoder", sort=True)
                       for stat in POOLS)
    return ClipPooling(HOW, tuple(pool_error(frame, stat) for stat in POOLS), by_encoder)


def clip_error_gates(frame: pd.DataFrame, pooling: ClipPooling, limits: dict[str, float],
                     measure: str) -> tuple[LimitGate, ...]:
    """--max-clip-error STAT:X: every held-out clip's |pooled prediction - pooled teacher| at most X, a gate per
    pooling asked (measure `measure:STAT`); a NaN error fails, and so does a validation with no clip."""
    if not limits:  # off
        return ()
    gates = []
    names = [clip_name(r) for _, r in frame.iterrows()]
    for stat, limit in limits.items():
        e = pooling.of(stat)
        miss = np.abs((frame[f"pred_{stat}"] - frame[f"vmaf_{stat}"]).to_numpy(dtype=np.float64))
        failing = [name for name, m in zip(names, miss, strict=True) if not m <= limit] or ([] if len(miss) else
                                                                                              ["no held-out clip"])
        gates.append(LimitGate.of(f"{measure}:{stat}", limit, e.worst_clip or None, e.max_abs_error, failing,
                                  f"the {POOL_WORDS[stat]}-pooled prediction of held-out clip {e.worst_clip} is "
                                  f"{e.max_abs_error:.2f} VMAF points from its teacher's ({POOLED_CLIP})"))
    return tuple(gates)
