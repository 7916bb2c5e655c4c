"""A clip's per-frame scores pooled into one number as VMAF's consumers do (POOLS), predictions clipped to [0, 100].

LOSO's clips.parquet and the verdict pool by `pool_groups`, so a new entry of POOLS (its words in POOL_WORDS) reaches
--max-clip-error at once; tests/unit/test_pooling.py restates each consumer's rule."""

from __future__ import annotations

from typing import TYPE_CHECKING

# numpy loads when a clip is pooled: the settings' rules (kit.verdict.thresholds) and the summary read
if TYPE_CHECKING:
    import numpy as np  # POOLS and POOL_WORDS alone, in `status` too

POOLS = ("mean", "harmonic_mean", "p1", "min")
PERCENTILE = 1  # p1: Av1an's default probing statistic, percentile=1
POOL_WORDS = {"mean": "mean", "harmonic_mean": "harmonic mean", "p1": "1st percentile", "min": "min"}


def clipped(pred: np.ndarray) -> np.ndarray:
    """Predictions as a consumer reads them: within the teacher's [0, 100] (NaN stays NaN)."""
    import numpy as np

    from kit.corpus.schema import VMAF_RANGE

    return np.clip(np.asarray(pred, dtype=np.float64), *VMAF_RANGE)


def pool_groups(values: np.ndarray, groups: np.ndarray, n_groups: int) -> dict[str, np.ndarray]:
    """{stat: each group's pooled `values`} (`groups`: a code per value, each group non-empty; a NaN pools to NaN)."""
    import numpy as np

    values = np.asarray(values, dtype=np.float64)
    counts = np.bincount(groups, minlength=n_groups).astype(np.float64)
    order = np.lexsort((values, groups))  # by group, then ascending value within it
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    pooled = {
        "mean": np.bincount(groups, weights=values, minlength=n_groups) / counts,
        "harmonic_mean": counts / np.bincount(groups, weights=1.0 / (values + 1.0), minlength=n_groups) - 1.0,
        "p1": values[order][starts + np.floor(counts * PERCENTILE / 100).astype(np.int64)],
        "min": values[order][starts],
    }
    broken = np.bincount(groups, weights=np.isnan(values), minlength=n_groups) > 0
    return {stat: np.where(broken, np.nan, v) for stat, v in pooled.items()}
