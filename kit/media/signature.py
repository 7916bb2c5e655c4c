"""A clip's perceptual signature (a pair of frames at each of POSITIONS, inside the bars, as 8x8 luma and a mean per
chroma plane) and the distance of two (docs/design/identity.md). Pure (numpy only).

A change to how a signature is made is a new signature version (kit.media.fingerprint.VERSION) and new keys in the kit's
cache (kit.media.cache), where another version's entries stay unread for the kit that wrote them."""

from __future__ import annotations

import base64
import zlib

import numpy as np
import numpy.typing as npt

from kit.media.bars import BAR_LEVEL, find_bars, inside
from kit.media.fingerprint import CHROMA, FRAME, GRID, GRID_BYTES, LUMA, POSITIONS, VERSION, signature_bytes

# in a distance, each chroma mean weighs as much as the CHROMA samples it stands for
WEIGHTS = np.concatenate([np.ones(LUMA), np.full(2, float(CHROMA))]) / (LUMA + 2 * CHROMA)

Floats = npt.NDArray[np.float64]


def positions(frames: int) -> list[int]:
    """The first frame of each sampled pair: POSITIONS points spread evenly from the first to the last pair."""
    last = max(frames - 2, 0)
    return [round(k * last / (POSITIONS - 1)) for k in range(POSITIONS)]


def build_signature(thumbs: bytes) -> str:
    """The signature of a clip from its thumbnails (GRID_BYTES per decoded frame, in frame order)."""
    if not thumbs or len(thumbs) % GRID_BYTES:
        raise ValueError(f"{len(thumbs)} bytes of thumbnails is not a whole number of {GRID_BYTES}-byte frames")
    every = np.frombuffer(thumbs, dtype=np.uint8).reshape(-1, GRID_BYTES)
    n, area, half = len(every), GRID * GRID, GRID // 2
    luma = every[:, :area].reshape(n, GRID, GRID)  # views: a long clip's thumbnails are not copied
    bars = find_bars(luma)
    picked = [min(p + d, n - 1) for p in positions(n) for d in (0, 1)]
    u = every[picked, area:area + half * half].reshape(-1, half, half)
    v = every[picked, area + half * half:].reshape(-1, half, half)
    frames = inside(luma[picked], u, v, bars)
    crop = bytes(int(np.floor(s * 255 + 0.5)) for s in bars.shares())
    return f"{VERSION}:" + base64.b64encode(zlib.compress(frames.tobytes() + crop, 9)).decode("ascii")


FLAT_LEVELS = 3  # a luma sample within this many levels of the signature's median counts as the flat field


def flat_share(sig: Floats, bars: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)) -> float:
    """The share of a decoded signature's luma samples within FLAT_LEVELS of their median; `bars` (the shares of the
    sides left out) count as that level when it is dark."""
    luma = sig[..., :LUMA]
    level = float(np.median(luma))
    inside = float((np.abs(luma - level) <= FLAT_LEVELS / 255 + 1e-9).mean())
    if level > BAR_LEVEL / 255:
        return inside
    top, bottom, left, right = bars
    return 1.0 - (1.0 - inside) * (1.0 - top - bottom) * (1.0 - left - right)


def decode_signature(text: str) -> Floats:
    """The signature's frames as floats in [0, 1], shaped (POSITIONS, 2, FRAME); ValueError if it is not one."""
    raw = signature_bytes(text)
    return np.frombuffer(raw, dtype=np.uint8).reshape(POSITIONS, 2, FRAME).astype(np.float64) / 255.0


def _frame_distance(a: Floats, b: Floats) -> Floats:
    """Weighted RMS difference of frames (last axis), in [0, 1]."""
    return np.sqrt(((a - b) ** 2 * WEIGHTS).sum(axis=-1))


def _offsets(a: Floats, b: Floats) -> tuple[Floats, Floats, Floats]:
    """Per position of decoded signatures: the term at offset 0, at +1 (b's first frame against a's second) and -1."""
    same = (_frame_distance(a[..., 0, :], b[..., 0, :]) + _frame_distance(a[..., 1, :], b[..., 1, :])) / 2
    return same, _frame_distance(a[..., 1, :], b[..., 0, :]), _frame_distance(a[..., 0, :], b[..., 1, :])


def distance(a: Floats, b: Floats) -> tuple[float, int]:
    """(distance, offset) of two decoded signatures: the mean over positions of the best of offsets 0, +1 and -1; offset
    +1 when b's frames fall a frame later than a's at some positions, -1 when earlier, else 0."""
    same, later, earlier = _offsets(a, b)
    best = np.minimum(same, np.minimum(later, earlier))
    shifted = (int(((later < same) & (later <= earlier)).sum()), int(((earlier < same) & (earlier < later)).sum()))
    offset = 0 if not any(shifted) else 1 if shifted[0] >= shifted[1] else -1
    return float(best.mean()), offset


def all_distances(sigs: Floats, within: float) -> Floats:
    """The (N, N) matrix of `distance` for N decoded signatures, +inf on the diagonal and where a lower bound (one Gram
    matrix per group of positions; a term is at least |m_a - m_b| - r_a - r_b) shows it exceeds `within`."""
    n, k_all = len(sigs), sigs.shape[1]
    out = np.full((n, n), np.inf)
    if n < 2:
        return out
    scaled = sigs * np.sqrt(WEIGHTS)
    means = scaled.mean(axis=2)  # (N, POSITIONS, FRAME)
    radii = np.sqrt(((scaled[:, :, 0] - scaled[:, :, 1]) ** 2).sum(axis=-1)) / 2  # (N, POSITIONS)
    bound = np.zeros((n, n))
    for group in np.array_split(np.arange(k_all), PREFILTER_GROUPS):
        flat = means[:, group].reshape(n, -1)
        sq = (flat * flat).sum(axis=1)
        gap = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * (flat @ flat.T), 0.0))
        r = radii[:, group].sum(axis=1)
        bound += np.maximum(gap - r[:, None] - r[None, :], 0.0)
    rows, cols = np.nonzero(np.triu(bound / k_all - GRAM_SLACK <= within, k=1))
    for start in range(0, len(rows), PAIR_CHUNK):
        i, j = rows[start:start + PAIR_CHUNK], cols[start:start + PAIR_CHUNK]
        same, later, earlier = _offsets(sigs[i], sigs[j])  # as `distance` does, for every pair at once
        out[i, j] = out[j, i] = np.minimum(same, np.minimum(later, earlier)).mean(axis=1)
    return out


PREFILTER_GROUPS = 4  # more groups: a tighter bound, more matrix products
GRAM_SLACK = 1e-6  # rounding of the products: never let it drop a pair
PAIR_CHUNK = 2048  # pairs computed in full at once (~50 MB)
