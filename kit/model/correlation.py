"""Pearson's r, Spearman's rho and Kendall's tau-b of one set of pairs, in plain numpy, for the many small sets LOSO
scores (every held-out source and content group of every model: about 80,000 sets at 10,000 contents).

Each follows the arithmetic of the scipy release the kit pins (requirements-frozen.txt) step by step, so a figure is
the same float, bit for bit, as scipy.stats gives (tests/unit/test_correlation.py draws the whole class of inputs:
ties, a constant side, NaN, 3 to 100,000 pairs): scipy spends about 0.6 ms a call checking and dispatching its
arguments, which here would be three quarters of a large LOSO's evaluation.

- Pearson (1895): r = sum(xm * ym) / (|xm| |ym|), xm = x - mean(x); each side scaled by its largest |xm| before the
  norm (no overflow), r clipped to [-1, 1] (scipy.stats.pearsonr).
- Spearman (1904): Pearson's r of the two sides' ranks, tied values given the mean of their ranks, as numpy's
  corrcoef computes it (scipy.stats.spearmanr).
- Kendall's tau-b (Kendall 1945, "The treatment of ties in ranking problems", Biometrika 33): (C - D) /
  sqrt((P - Tx) (P - Ty)), P = n (n - 1) / 2 pairs, Tx and Ty the pairs tied on one side, C - D = P - Tx - Ty + Txy -
  2 D with Txy the pairs tied on both and D the discordant pairs, counted exactly (integers: each pair compared up
  to SQUARE_UP_TO pairs, by merging sorted runs above) (scipy.stats.kendalltau with its defaults).

Every function takes float64 arrays of equal length with at least 3 pairs, the first side (the teacher) not constant
and the second (the prediction) finite and not constant: kit.model.metrics.correlations applies its rule first."""

from __future__ import annotations

import functools
import math

import numpy as np

SQUARE_UP_TO = 1024  # up to this many pairs, each compared with each (n^2, few numpy calls); above, merged runs


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson's r of (x, y); NaN where a side holds a NaN."""
    xm, ym = x - np.mean(x), y - np.mean(y)
    with np.errstate(invalid="ignore", divide="ignore"):
        xmax, ymax = np.max(np.abs(xm)), np.max(np.abs(ym))
        normxm = xmax * _norm(xm / xmax)
        normym = ymax * _norm(ym / ymax)
        r = np.vecdot(xm / normxm, ym / normym)
    return float(np.clip(r, -1.0, 1.0))


def _norm(v: np.ndarray) -> np.floating:
    """The Euclidean norm as numpy.linalg.norm takes it along an axis (scipy's xp_vector_norm)."""
    return np.sqrt(np.add.reduce((v.conj() * v).real, axis=-1))


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho of (x, y): NaN where a side holds a NaN."""
    if np.isnan(x).any() or np.isnan(y).any():
        return math.nan
    ranked = np.column_stack((average_ranks(x), average_ranks(y)))
    with np.errstate(invalid="ignore", divide="ignore"):  # a constant side: NaN, as scipy says it
        rs = np.corrcoef(ranked, rowvar=False)
    return float(rs[1, 0])


def average_ranks(v: np.ndarray) -> np.ndarray:
    """Ranks from 1, tied values each given the mean of the ranks they span (exact: half-integers)."""
    order = np.argsort(v, kind="mergesort")
    new = _run_starts(v[order])
    dense = np.cumsum(new)  # 1 for the smallest value's run
    starts = np.append(np.flatnonzero(new), len(v))  # each run's first position in the order, and the end
    mean_rank = 0.5 * (starts[:-1] + starts[1:] - 1) + 1  # positions starts..ends-1 -> ranks starts+1..ends
    ranks = np.empty(len(v), dtype=np.float64)
    ranks[order] = mean_rank[dense - 1]
    return ranks


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall's tau-b of (x, y): NaN where a side holds a NaN or is constant."""
    if np.isnan(x).any() or np.isnan(y).any():
        return math.nan
    size = len(x)
    order = np.lexsort((y, x))  # by x, then y: a pair tied on x comes in ascending y, never counted discordant
    xs, ys = x[order], y[order]
    # the discordant pairs: in this order, a later y below an earlier one (x is then above: ties on x are in order)
    if size <= SQUARE_UP_TO:
        discordant = int(np.count_nonzero(_later(size) & (ys[:, None] > ys[None, :])))
    else:
        discordant = _inversions(_dense(ys))
    joint = np.ones(size + 1, dtype=bool)
    np.not_equal(xs[1:], xs[:-1], out=joint[1:size])
    joint[1:size] |= ys[1:] != ys[:-1]
    both = _tied_pairs(np.diff(np.flatnonzero(joint)))
    tx, ty = _run_pairs(xs), _run_pairs(np.sort(y))
    total = size * (size - 1) // 2
    if tx == total or ty == total:
        return math.nan
    con_minus_dis = total - tx - ty + both - 2 * discordant
    tau = con_minus_dis / np.sqrt(total - tx) / np.sqrt(total - ty)
    return float(np.minimum(1.0, max(-1.0, tau)))


@functools.lru_cache(maxsize=32)
def _later(n: int) -> np.ndarray:
    """(n, n), read only: [i, j] is i < j."""
    out = np.triu(np.ones((n, n), dtype=bool), 1)
    out.flags.writeable = False
    return out


def _run_starts(ordered: np.ndarray) -> np.ndarray:
    """Of a sorted array, where each run of equal values starts."""
    new = np.empty(len(ordered), dtype=bool)
    new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    return new


def _dense(v: np.ndarray) -> np.ndarray:
    """Dense ranks from 0: equal values one rank, no gaps."""
    order = np.argsort(v, kind="stable")
    out = np.empty(len(v), dtype=np.int64)
    out[order] = np.cumsum(_run_starts(v[order])) - 1
    return out


def _run_pairs(ordered: np.ndarray) -> int:
    """Pairs of equal values in a sorted array."""
    return _tied_pairs(np.diff(np.flatnonzero(_run_starts(ordered)), append=len(ordered)))


def _tied_pairs(counts: np.ndarray) -> int:
    """Pairs within runs of these lengths."""
    c = counts.astype(np.int64)
    return int((c * (c - 1) // 2).sum())


def _inversions(v: np.ndarray) -> int:
    """Pairs i < j with v[i] > v[j] (v: integers >= 0), by merging sorted runs of 1, 2, 4, ... (n log^2 n, exact).

    At each width w, every run of w values at an even run index is sorted (the earlier merges), and each value of
    the run after it is counted against the values of its left neighbour above it: keys offset by the pair's index
    keep all the pairs' searches in one sorted array."""
    n = len(v)
    if n < 2:
        return 0
    top = int(v.max()) + 1
    pos = np.arange(n, dtype=np.int64)
    runs = v.astype(np.int64)
    count = 0
    width = 1
    while width < n:
        pair = pos // (2 * width)
        right = (pos // width) % 2 == 1
        key = pair * top + runs  # runs sorted within each run: keys sorted within each left run, and across pairs
        left_keys = key[~right]  # every left run, in pair order: one sorted array
        r_pair, r_val = pair[right], runs[right]
        above = np.searchsorted(left_keys, r_pair * top + top - 1, side="right") - \
            np.searchsorted(left_keys, r_pair * top + r_val, side="right")
        count += int(above.sum())
        runs = np.sort(key) - pair * top  # each pair's two runs merged: one sorted run of 2w
        width *= 2
    return count
