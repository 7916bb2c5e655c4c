"""Letterbox and pillarbox bars found in a clip's GRID x GRID thumbnails, and the picture inside them that
kit.media.signature samples (the rule: docs/design/identity.md, "Bars"). Pure (numpy only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kit.media.fingerprint import GRID, THUMB

BAR_LEVEL = 32  # a bar's samples are at most this (8-bit luma: black is 16 in limited range, 0 in full range)
BAR_FLAT = 3  # and within this many levels of each other, over the clip and along the line
MIN_KEPT = GRID // 2  # bars leave at least half of a side; more is a dark picture, not bars
MAX_SKEW = 2  # lines by which the bars at two opposite edges may differ (a picture padded off centre by a little)
MIN_STEP = 8.0  # the picture next to a bar must be this much brighter than it to tell how much of a line is bar
MAX_PART = 0.95  # at most this much of the first line past a bar is cut as bar

Bytes = npt.NDArray[np.uint8]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Bars:
    """Bars at each edge, in lines of the GRID-line thumbnail (fractions of a line included)."""

    top: float = 0.0
    bottom: float = 0.0
    left: float = 0.0
    right: float = 0.0

    def shares(self) -> tuple[float, float, float, float]:
        """Each side's bar as a share of the picture's height (top, bottom) or width (left, right)."""
        return self.top / GRID, self.bottom / GRID, self.left / GRID, self.right / GRID


def _is_bar(hi: Bytes, lo: Bytes) -> bool:
    """A line whose samples' maxima over the clip are `hi` and minima `lo`."""
    top = int(hi.max())
    return top <= BAR_LEVEL and top - int(lo.min()) <= BAR_FLAT


def _count(hi: Bytes, lo: Bytes) -> tuple[int, int]:
    """(bar lines from the first line, from the last), (0, 0) for none: bars at both edges, about as wide (else only
    the width the two share is cut)."""
    n = len(hi)
    lead = next((i for i in range(n) if not _is_bar(hi[i], lo[i])), n)
    if lead == n:
        return 0, 0  # bars everywhere: a black clip
    trail = next(i for i in range(n) if not _is_bar(hi[n - 1 - i], lo[n - 1 - i]))
    if abs(lead - trail) > MAX_SKEW:
        lead = trail = min(lead, trail)
    if not (lead and trail) or n - lead - trail < MIN_KEPT:
        return 0, 0
    return lead, trail


def _part(means: Floats, first: int, inward: int) -> float:
    """How much of line `first` (the first past a bar, which lies on the side of `-inward`) is bar still, the picture
    taken to be like the next line's."""
    bar = means[first - inward]
    here, beyond = means[first] - bar, means[first + inward] - bar
    if beyond < MIN_STEP:
        return 0.0  # the picture by the bar is about as dark as the bar: no telling
    return float(min(max(1.0 - here / beyond, 0.0), MAX_PART))


def _side(hi: Bytes, lo: Bytes, means: Floats) -> tuple[float, float]:
    """The bars at the two ends of one axis, in lines (the line past a bar partly bar where the bar ends there)."""
    lead, trail = _count(hi, lo)
    if not lead:
        return 0.0, 0.0
    first, last = lead, len(means) - 1 - trail
    return (lead + (0.0 if _is_bar(hi[first], lo[first]) else _part(means, first, 1)),
            trail + (0.0 if _is_bar(hi[last], lo[last]) else _part(means, last, -1)))


def find_bars(luma: Bytes) -> Bars:
    """The bars of a clip from the luma of its thumbnails, (frames, GRID, GRID) uint8."""
    hi, lo = luma.max(axis=0), luma.min(axis=0)
    rows = (luma.sum(axis=(0, 2), dtype=np.int64) / (len(luma) * GRID)).astype(np.float64)
    cols = (luma.sum(axis=(0, 1), dtype=np.int64) / (len(luma) * GRID)).astype(np.float64)
    return Bars(*_side(hi, lo, rows), *_side(hi.T, lo.T, cols))


def _weights(start: float, stop: float, lines: int, cells: int) -> Floats:
    """(cells, lines): how much each of `lines` unit lines weighs in each of `cells` equal cells of [start, stop)."""
    edges = start + (stop - start) * np.arange(cells + 1) / cells
    k = np.arange(lines)
    overlap = np.minimum(edges[1:, None], k + 1.0) - np.maximum(edges[:-1, None], k)
    w = np.clip(overlap, 0.0, None)
    return w / w.sum(axis=1, keepdims=True)


def inside(luma: Bytes, u: Bytes, v: Bytes, bars: Bars) -> Bytes:
    """The signature's frames of the picture inside `bars`: each frame's THUMB x THUMB luma area average and the mean
    of each chroma plane, rounded: (n, THUMB*THUMB + 2) uint8."""
    rows = _weights(bars.top, GRID - bars.bottom, GRID, THUMB)
    cols = _weights(bars.left, GRID - bars.right, GRID, THUMB)
    half = GRID // 2
    c_rows = _weights(bars.top / 2, half - bars.bottom / 2, half, 1)[0]
    c_cols = _weights(bars.left / 2, half - bars.right / 2, half, 1)[0]
    # einsum without BLAS: one fixed order of sums, so a clip gives the same bytes on every box
    y = np.einsum("ik,nkl,jl->nij", rows, luma.astype(np.float64), cols, optimize=False).reshape(len(luma), -1)
    cu, cv = (np.einsum("k,nkl,l->n", c_rows, c.astype(np.float64), c_cols, optimize=False) for c in (u, v))
    frames = np.concatenate([y, cu[:, None], cv[:, None]], axis=1)
    return np.clip(np.floor(frames + 0.5), 0, 255).astype(np.uint8)
