"""Hierarchical split conformal over content groups, each weighing 1 (METHOD, FORMULA; docs/design/intervals.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LEVELS = (0.5, 0.8, 0.9, 0.95)
GAUSSIAN_Z95 = 1.959963984540054  # the standard normal's 0.975 quantile: a Gaussian 95 % interval is mu +- z sigma
# the (1 + level) / 2 quantiles as upstream's evaluator tabulates them (NormalDist differs in the 16th digit)
GAUSSIAN_Z = {0.5: 0.6744897501960817, 0.8: 1.2815515655446004, 0.9: 1.6448536269514722, 0.95: GAUSSIAN_Z95,
              0.99: 2.5758293035489004}
EPS = 1e-9  # (n + 1)(1 - alpha) in floating point: 10 x 0.9 must count as 9, not 9.000000000000002
METHOD = "hierarchical split conformal over content groups (Lee, Barber & Willett 2023)"
FORMULA = ("s = |teacher - mean| / std (ddof=1 over seeds; |teacher - mean| with one seed, or where the seeds agree "
           "exactly on a row the teacher scores apart); q = the smallest s with sum_k F_k(s) >= (n+1)(1-alpha), F_k "
           "the empirical CDF of content group k's scores; interval mean +- q std (mean +- q when absolute); "
           "unbounded when (n+1)(1-alpha) > n")
UNIT = "a frame drawn at random from a new source (content group)"


def level_key(level: float) -> str:
    """A level as the verdict keys it and intervals.parquet's columns spell it: 0.95 -> "95", 0.975 -> "97.5"."""
    return f"{level * 100:g}"


def percent(level: float) -> str:
    """A level as sentences say it: 0.95 -> "95%", 0.975 -> "97.5%" (not rounded to "98%")."""
    return f"{level_key(level)}%"


def gaussian_z(level: float) -> float:
    """z with P(|Z| <= z) = level for a standard normal Z: a Gaussian interval mu +- z sigma at this level."""
    from statistics import NormalDist

    return GAUSSIAN_Z.get(level) or NormalDist().inv_cdf(0.5 + level / 2)


def rank_needed(n: int, level: float) -> int:
    """ceil((n+1) level): the rank of the threshold among n unit scores (n+1 when unbounded, n < that)."""
    return math.ceil((n + 1) * level - EPS)


def bounded(n: int, level: float) -> bool:
    """Whether n calibration groups can give a finite threshold at this level: ceil((n+1) level) <= n."""
    return rank_needed(n, level) <= n


def groups_needed(level: float) -> int:
    """The fewest calibration groups that bound a level: the smallest n with ceil((n+1) level) <= n."""
    return next(n for n in range(1, 1_000_000) if bounded(n, level))


def scores(y: np.ndarray, mu: np.ndarray, sigma: np.ndarray | None) -> np.ndarray:
    """Each row's nonconformity score: |y - mu| / sigma (a zero spread: 0 for an exact hit, else inf), or |y - mu|."""
    miss = np.abs(np.asarray(y, dtype=np.float64) - np.asarray(mu, dtype=np.float64))
    if sigma is None:
        return miss
    sd = np.asarray(sigma, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = miss / sd
    return np.where(sd > 0, out, np.where(miss == 0, 0.0, np.inf))


@dataclass(frozen=True)
class Calibration:
    """Scores sorted once, with each row's weight 1/N_k (k its group) and the pooled CDF at every sorted row."""

    sorted_scores: np.ndarray
    pooled: np.ndarray  # F(sorted_scores[p]) = sum_k F_k, ties resolved (every tied row carries the CDF past them)
    group_keys: np.ndarray  # group code * R + last-tie position, sorted: F_k(t) for any (k, t) by one searchsorted
    group_start: np.ndarray  # where each group's block begins in group_keys
    group_size: np.ndarray
    n: int

    @classmethod
    def of(cls, s: np.ndarray, groups: np.ndarray) -> Calibration:
        """`groups`: an integer code per row, 0..n-1, every code present."""
        order = np.argsort(s, kind="stable")
        ss, gg = s[order], groups[order]
        n = int(groups.max()) + 1 if len(groups) else 0
        size = np.bincount(groups, minlength=n)
        cum = np.cumsum(1.0 / size[gg])
        last = np.searchsorted(ss, ss, side="right") - 1  # the last row tied with each row
        r = len(ss)
        keys = np.sort(gg.astype(np.int64) * r + last)
        start = np.searchsorted(keys, np.arange(n, dtype=np.int64) * r)
        return cls(ss, cum[last] if r else cum, keys, start, size, n)

    def threshold(self, level: float) -> float:
        """q over every group; inf when unbounded."""
        if not bounded(self.n, level):
            return math.inf
        need = (self.n + 1) * level - EPS
        p = int(np.searchsorted(self.pooled, need, side="left"))
        return float(self.sorted_scores[p]) if p < len(self.sorted_scores) else math.inf  # never the largest

    def left_out(self, level: float) -> np.ndarray:
        """For each group k, q calibrated on the other n-1 groups (inf when n-1 groups cannot bound it)."""
        out = np.full(self.n, math.inf)
        if not bounded(self.n - 1, level):
            return out
        need = self.n * level - EPS  # (m + 1)(1 - alpha) with m = n - 1 groups
        r = len(self.sorted_scores)
        ks = np.arange(self.n, dtype=np.int64)
        lo, hi = np.zeros(self.n, dtype=np.int64), np.full(self.n, r, dtype=np.int64)
        while (lo < hi).any():  # first sorted position p with F(s_p) - F_k(s_p) >= need, per group, all at once
            mid = (lo + hi) // 2
            at = np.minimum(mid, r - 1)
            last = np.searchsorted(self.sorted_scores, self.sorted_scores[at], side="right") - 1
            own = np.searchsorted(self.group_keys, ks * r + last, side="right") - self.group_start
            ok = (self.pooled[at] - own / self.group_size) >= need
            ok &= mid < r
            moving = lo < hi
            hi = np.where(moving & ok, mid, hi)
            lo = np.where(moving & ~ok, mid + 1, lo)
        found = lo < r
        out[found] = self.sorted_scores[lo[found]]
        return out


def interval(mu: np.ndarray, sigma: np.ndarray | None, q: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """[mu - q sigma, mu + q sigma] (or mu +- q), with an unbounded q giving (-inf, inf) whatever sigma."""
    mu = np.asarray(mu, dtype=np.float64)
    qq = np.broadcast_to(np.asarray(q, dtype=np.float64), mu.shape)
    with np.errstate(invalid="ignore"):  # inf x 0: an unbounded q is unbounded whatever the spread
        half = qq * np.asarray(sigma, dtype=np.float64) if sigma is not None else np.array(qq)
        half = np.where(np.isinf(qq), np.inf, np.where(qq == 0, 0.0, half))
    return mu - half, mu + half


def covered(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return (lo <= y) & (y <= hi)
