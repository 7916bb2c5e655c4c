"""A clip's perceptual signature: tiny thumbnails at fixed relative positions, and their distance.

Pure (numpy only): kit.media.decode makes the thumbnails in the one decode of a clip, kit.media.identity
compares clips. The thumbnails are what ffmpeg's `scale=8:8:flags=area,format=yuv420p` makes of every
decoded frame: 64 luma samples and 16 samples of each chroma plane, the area average of each block.

The signature keeps, at `POSITIONS` fixed relative positions of the clip, a *pair* of consecutive frames
(p, p+1): comparing a's pair with b's pair at offsets -1, 0 and +1 lets a copy trimmed by a frame (whose
positions fall up to one frame off) still line up. Each frame is 64 luma samples and the mean of each
chroma plane (66 bytes): the luma layout tells scenes apart, the chroma means tell apart two pictures of
one layout in other colours (two gradients). The payload is zlib-compressed and written as base64 behind
a version tag, so a manifest can carry it (at most ~4.3 KB, a static clip far less).
"""

from __future__ import annotations

import base64
import re
import zlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kit.infra.records import Record

VERSION = "t1"
THUMB = 8  # thumbnail side (luma); the chroma planes of the 4:2:0 thumbnail are THUMB/2 a side
POSITIONS = 24  # relative positions sampled (each a pair of consecutive frames)
LUMA = THUMB * THUMB
CHROMA = (THUMB // 2) ** 2
THUMB_BYTES = LUMA + 2 * CHROMA  # one yuv420p thumbnail as ffmpeg's rawvideo writes it
FRAME = LUMA + 2  # a frame in the signature: the luma samples, then the U and V means
# in a distance, each chroma mean weighs as much as the CHROMA samples it stands for
WEIGHTS = np.concatenate([np.ones(LUMA), np.full(2, float(CHROMA))]) / (LUMA + 2 * CHROMA)

Floats = npt.NDArray[np.float64]


def positions(frames: int) -> list[int]:
    """The first frame of each sampled pair: POSITIONS points spread evenly from the first to the last pair."""
    last = max(frames - 2, 0)
    return [round(k * last / (POSITIONS - 1)) for k in range(POSITIONS)]


def build_signature(thumbs: bytes) -> str:
    """The signature of a clip from its thumbnails (THUMB_BYTES per decoded frame, in frame order)."""
    if not thumbs or len(thumbs) % THUMB_BYTES:
        raise ValueError(f"{len(thumbs)} bytes of thumbnails is not a whole number of {THUMB_BYTES}-byte frames")
    every = np.frombuffer(thumbs, dtype=np.uint8).reshape(-1, THUMB_BYTES)
    n = len(every)
    picked = [every[min(p + d, n - 1)] for p in positions(n) for d in (0, 1)]
    rows = [np.concatenate([t[:LUMA], [round(float(t[LUMA:LUMA + CHROMA].mean())),
                                       round(float(t[LUMA + CHROMA:].mean()))]]) for t in picked]
    payload = np.asarray(rows, dtype=np.uint8).tobytes()
    return f"{VERSION}:" + base64.b64encode(zlib.compress(payload, 9)).decode("ascii")


def decode_signature(text: str) -> Floats:
    """The signature's frames as floats in [0, 1], shaped (POSITIONS, 2, FRAME); ValueError if it is not one."""
    tag, _, body = text.partition(":")
    if tag != VERSION:
        raise ValueError(f"signature version {tag!r} is not {VERSION!r}")
    try:
        raw = zlib.decompress(base64.b64decode(body.encode("ascii"), validate=True))
    except (ValueError, zlib.error) as exc:
        raise ValueError(f"damaged signature ({exc})") from None
    if len(raw) != POSITIONS * 2 * FRAME:
        raise ValueError(f"signature holds {len(raw)} bytes, not {POSITIONS * 2 * FRAME}")
    return np.frombuffer(raw, dtype=np.uint8).reshape(POSITIONS, 2, FRAME).astype(np.float64) / 255.0


def _frame_distance(a: Floats, b: Floats) -> Floats:
    """Weighted RMS difference of frames (last axis), in [0, 1]."""
    return np.sqrt(((a - b) ** 2 * WEIGHTS).sum(axis=-1))


def distance(a: Floats, b: Floats) -> tuple[float, int]:
    """(distance, offset) of two decoded signatures: offset +1 when b's frames fall a frame later than a's at
    some positions (b lost a frame at its start), -1 when earlier, 0 when every position lines up as it is.

    Per position: the best of offset 0 (both frames of the pairs), +1 and -1; the clip's distance is the
    mean over the positions.
    """
    same = (_frame_distance(a[:, 0], b[:, 0]) + _frame_distance(a[:, 1], b[:, 1])) / 2
    later = _frame_distance(a[:, 1], b[:, 0])
    earlier = _frame_distance(a[:, 0], b[:, 1])
    best = np.minimum(same, np.minimum(later, earlier))
    shifted = (int(((later < same) & (later <= earlier)).sum()), int(((earlier < same) & (earlier < later)).sum()))
    offset = 0 if not any(shifted) else 1 if shifted[0] >= shifted[1] else -1
    return float(best.mean()), offset


def all_distances(sigs: Floats, within: float) -> Floats:
    """The (N, N) matrix of `distance` for N decoded signatures (N, POSITIONS, 2, FRAME); pairs whose
    distance surely exceeds `within` hold +inf.

    A prefilter first: each frame cut to 6 numbers (the means of its luma quadrants and the chroma means)
    gives a lower bound of every frame distance (the squared differences of 16 samples sum to at least
    16 times their mean's), so of the clip distance; only pairs under `within` by that bound are computed
    in full, position by position, as matrix products.
    """
    n = len(sigs)
    out = np.full((n, n), np.inf)
    if n == 0:
        return out
    half = THUMB // 2
    luma = sigs[..., :LUMA].reshape(*sigs.shape[:3], 2, half, 2, half)
    quads = luma.mean(axis=(-3, -1)).reshape(*sigs.shape[:3], 4)
    coarse = np.concatenate([quads, sigs[..., LUMA:]], axis=-1)
    cw = np.full(6, half * half / (LUMA + 2 * CHROMA))  # each entry stands for 16 samples of the full distance
    bound = _clip_matrix(coarse, cw)
    rows, cols = np.nonzero(bound <= within)
    keep = sorted({int(i) for i in rows} | {int(j) for j in cols})
    if not keep:
        return out
    idx = np.asarray(keep)
    full = _clip_matrix(sigs[idx], WEIGHTS)
    full[bound[np.ix_(idx, idx)] > within] = np.inf
    out[np.ix_(idx, idx)] = full
    return out


def _clip_matrix(sigs: Floats, weights: Floats) -> Floats:
    """`distance` for every pair of signatures (N, POSITIONS, 2, D) with per-entry weights, as matrices."""
    n = len(sigs)
    total = np.zeros((n, n))
    root = np.sqrt(weights)
    for k in range(sigs.shape[1]):
        a0, a1 = sigs[:, k, 0] * root, sigs[:, k, 1] * root
        same = (_euclid(a0, a0) + _euclid(a1, a1)) / 2
        later = _euclid(a1, a0)  # row's second frame against the column's first: the column starts later
        total += np.minimum(np.minimum(same, later), later.T)
    return total / sigs.shape[1]


def _euclid(x: Floats, y: Floats) -> Floats:
    sq = (x * x).sum(axis=1)[:, None] + (y * y).sum(axis=1)[None, :] - 2.0 * x @ y.T
    return np.sqrt(np.maximum(sq, 0.0))


@dataclass(frozen=True)
class Fingerprint(Record):
    """A clip's identity by its decoded pictures (kit.media.identity compares them).

    pixels_sha256: sha256 over the decoded frames' planes (the clip's own pix_fmt, no padding) in frame order,
    the same for the same pictures in any container; signature: build_signature's text; frames: decoded.
    """

    pixels_sha256: str
    signature: str
    frames: int

    def __post_init__(self) -> None:
        if re.fullmatch(r"[0-9a-f]{64}", self.pixels_sha256) is None:
            raise ValueError(f"pixels_sha256 {self.pixels_sha256!r} is not 64 hex digits")
        if self.frames < 1:
            raise ValueError(f"a fingerprint of {self.frames} frames")
        decode_signature(self.signature)  # refuses a damaged or foreign one
