"""The teacher's clip as the student knows it (docs/teachers.md, "The clip the student knows").

vmaf_v0.6.1's score of an encode is a mean over its frames of per-frame scores each clipped to [0, 100]; vmaf-tune
feeds the encode's mean features, whose function clips once. Where an encode's frames straddle a bound (a
near-lossless encode whose frames' unclipped scores spread about 100, a CRF 51 encode about 0), the mean of the
clipped scores is not the clipped score of the mean: 95-98 where the function says 100, 4.2 where it says 2.5. The
student's base is the expected clipped score E[clip(X, lo, hi)] for X normal about the function's unclipped score `u`
of the fed features, its spread `sigma = min(factor * min(exp(coefs . terms), most_spread), most_spread)`, the terms
(1, cq_norm, level, log(1 + motion2), level (1 - level), the encoder's slot) of the row: the codec block's cq
(vmaf-tune's CRF within the encoder's range), the clipped score / 100, the mean motion, the level's distance from both
bounds (the frames' spread is widest mid-scale and narrows towards either end: fitted without it, a CRF 51 encode's
spread was the middle's, 1.7 times its own, held out by content), and the codec block's one-hot (each encoder spreads
its frames' quality its own way; an encoder no encode fitted shows keeps 0, the ridge's, and the others' common
intercept), the motion term at most the largest of the encodes fitted (no spread is extrapolated past what the
evidence shows). The coefficients are a least-squares fit to the log of real encodes' spreads (each encode's standard
deviation of its frames' unclipped scores: the box's own and the public ones the kit ships, kit.model.realrows), its
factor chosen by the floor on held-out encodes (kit.model.floor); a factor of 0 is the teacher's function itself, to
the bit.

The normal CDF is 0.5 (1 + erf(z / sqrt 2)) with erf taken in float32 in every form (onnxruntime has no float64 Erf):
numpy here (scipy's), torch (kit.model.teacher_term) and the ONNX graph (kit.model.teacher_term.teacher_nodes)
compute the same operations, the rest in float64."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kit.infra.records import Record, keep
from kit.infra.rules import POINTS, SIGNED_FIGURE, Check, Each
from kit.media.libvmaf import FEATURES
from kit.media.libvmaf import MOTION as MOTION_FEATURE
from kit.model.contract import CODEC_DIM, CODEC_VOCAB

if TYPE_CHECKING:
    import numpy as np

    from kit.model.features import Codec

# log sigma's terms, in the coefficients' order: the codec block's one-hot last, a term per slot
TERMS = ("one", "cq_norm", "level", "motion", "middle", *CODEC_VOCAB)
BLOCK = TERMS.index(CODEC_VOCAB[0])  # the first encoder's term
FACTORS = (0.0, 0.5, 0.75, 1.0, 1.25, 1.5)  # the spread's factors the floor tries, the teacher's function first
MOTION = FEATURES.index(MOTION_FEATURE)  # the six's motion column
LEAST_SPREAD = 0.05  # an encode's spread fitted at least this (a still clip's 0 has no log)
RIDGE = 1e-3  # the fit's ridge on the terms but the intercept: a box of one CRF still fits
SQRT2 = math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def one_per_term(value: object) -> str | None:
    """Why a spread's coefficients read back are not one per term of TERMS (kit 2.5.0's four, a hand-edited
    verdict): a damaged record, refused as one, never a shape error where the spread is computed; None if they are."""
    n = len(value) if isinstance(value, list | tuple) else None
    return None if n == len(TERMS) else f"is not {len(TERMS)} coefficients, one per term of the spread ({n})"


@dataclass(frozen=True)
class Spread(Record):
    """The student's spread: log sigma's coefficients (TERMS), the factor kept (0: the teacher's function), and the
    bounds of what it was fitted on, which it never extrapolates past: the largest motion term (log(1 + motion2))
    and the largest spread of the encodes fitted."""

    coefs: list[float] = field(metadata=keep(Check(one_per_term, f"{len(TERMS)} coefficients"),
                                             Each(SIGNED_FIGURE)))
    factor: float = field(metadata=keep(POINTS))
    most_motion: float = field(metadata=keep(POINTS))
    most_spread: float = field(metadata=keep(POINTS))

    @property
    def kept(self) -> bool:
        return self.factor > 0.0

    def sigma(self, raw: np.ndarray, codec: np.ndarray, motion: np.ndarray, clip: tuple[float, float]
              ) -> np.ndarray:
        """Each row's spread at this factor: factor x min(exp(coefs . terms), most_spread), itself at most
        most_spread (no factor takes it past the widest spread fitted), the motion term at most most_motion; `codec`
        the rows' codec block (N, CODEC_DIM)."""
        import numpy as np

        unit = np.exp(terms(raw, codec, motion, clip, self.most_motion) @ np.asarray(self.coefs, dtype=np.float64))
        return at_factor(self.factor, np.minimum(unit, self.most_spread), self.most_spread)


def at_factor(factor: float, unit: np.ndarray, most: np.ndarray | float) -> np.ndarray:
    """A spread at `factor` from its value at factor 1 (`unit`), never past the widest spread fitted (`most`)."""
    import numpy as np

    return np.minimum(factor * unit, most)


def terms(raw: np.ndarray, codec: np.ndarray, motion: np.ndarray, clip: tuple[float, float],
          most_motion: float = math.inf) -> np.ndarray:
    """The rows' terms (N, len(TERMS)) in float64: 1, the codec block's cq (its last column), the clipped score / the
    bound's width (`level`), log(1 + max(motion2, 0)) at most `most_motion`, level (1 - level), and the codec block's
    one-hot (its other columns)."""
    import numpy as np

    lo, hi = clip
    raw = np.asarray(raw, dtype=np.float64)
    block = np.asarray(codec, dtype=np.float64).reshape(len(raw), CODEC_DIM)
    level = (np.clip(raw, lo, hi) - lo) / (hi - lo)
    motion_term = np.minimum(np.log1p(np.maximum(np.asarray(motion, dtype=np.float64), 0.0)), most_motion)
    return np.column_stack([np.ones(len(raw)), block[:, -1], level, motion_term, level * (1.0 - level), block[:, :-1]])


def phi_cdf(z: np.ndarray) -> np.ndarray:
    """The normal CDF with erf in float32, as the graph computes it."""
    import numpy as np
    from scipy.special import erf

    return 0.5 * (1.0 + erf((z / SQRT2).astype(np.float32)).astype(np.float64))


def expected_clipped(raw: np.ndarray, sigma: np.ndarray, clip: tuple[float, float]) -> np.ndarray:
    """E[clip(X, lo, hi)] for X ~ N(raw, sigma^2), sigma > 0: lo P(X < lo) + hi P(X > hi) + the mean of X between."""
    import numpy as np

    lo, hi = clip
    a, b = (lo - raw) / sigma, (hi - raw) / sigma
    fa, fb = phi_cdf(a), phi_cdf(b)
    da, db = INV_SQRT_2PI * np.exp(-0.5 * a * a), INV_SQRT_2PI * np.exp(-0.5 * b * b)
    return lo * fa + hi * (1.0 - fb) + raw * (fb - fa) + sigma * (da - db)


@dataclass(frozen=True)
class Moments:
    """A least-squares fit's sums (X'X, X'y), added and taken away by content (a fold's fit is the total less its
    own)."""

    xx: np.ndarray
    xy: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray, y: np.ndarray) -> Moments:
        return cls(x.T @ x, x.T @ y)

    def __sub__(self, other: Moments) -> Moments:
        return Moments(self.xx - other.xx, self.xy - other.xy)

    def __add__(self, other: Moments) -> Moments:
        return Moments(self.xx + other.xx, self.xy + other.xy)

    def solve(self) -> list[float]:
        """log sigma's coefficients: ridge on the terms but the intercept; [log LEAST_SPREAD, 0, ...] where no encode
        is left."""
        import numpy as np

        if self.xx[0, 0] < 1:
            return [math.log(LEAST_SPREAD), *[0.0] * (len(TERMS) - 1)]
        ridge = np.diag([0.0, *([RIDGE * self.xx[0, 0]] * (len(TERMS) - 1))])
        return [float(v) for v in np.linalg.solve(self.xx + ridge, self.xy)]


def encode_spreads(raw_frames: np.ndarray, codes: np.ndarray, feats: np.ndarray, codec: Codec,
                   teacher_raw_of_means: np.ndarray | None = None, clip: tuple[float, float] = (0.0, 100.0),
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each encode's terms and log spread from its frames: (encode codes (E,), terms (E, len(TERMS)), log sigma (E,)).
    The terms are the encode's own (its mean features' unclipped score, given as `teacher_raw_of_means` per encode in
    code order, its codec block, its mean motion); the spread its frames' unclipped scores' standard deviation, at least
    LEAST_SPREAD."""
    import numpy as np

    ids, inverse, counts = np.unique(codes, return_inverse=True, return_counts=True)
    mean = np.bincount(inverse, weights=raw_frames) / counts
    var = np.maximum(np.bincount(inverse, weights=raw_frames * raw_frames) / counts - mean * mean, 0.0)
    spread = np.maximum(np.sqrt(var), LEAST_SPREAD)
    motion = np.bincount(inverse, weights=feats[:, MOTION].astype(np.float64)) / counts
    # a column of the block at a time, each taken as float64 by bincount: the sums of a float64 copy of the whole
    # block, without it (0.3 GiB at 3,000,000 rows)
    block = np.column_stack([np.bincount(inverse, weights=codec[:, j]) / counts for j in range(codec.shape[1])])
    raw = teacher_raw_of_means if teacher_raw_of_means is not None else mean
    return ids, terms(raw, block, motion, clip), np.log(spread)
