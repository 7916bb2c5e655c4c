"""A clip's Fingerprint record and its signature's layout, without numpy (the CLI's import path reads
it: `--help` and `status` stay light). kit.media.signature makes and compares signatures."""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from dataclasses import dataclass

from kit.infra.records import Record

# t2: taken inside the bars found over the clip; t1 (still read from older manifests): the whole picture
VERSION = "t2"
READ_VERSIONS = ("t1", VERSION)
THUMB = 8  # the signature's thumbnail side (luma)
GRID = 32  # the side of the thumbnail the decode writes of every frame (luma; its chroma planes are GRID/2 a side)
POSITIONS = 24  # relative positions sampled (each a pair of consecutive frames)
LUMA = THUMB * THUMB
CHROMA = (THUMB // 2) ** 2  # what the chroma planes of a 4:2:0 8x8 thumbnail hold: the weight of a chroma mean
GRID_BYTES = GRID * GRID * 3 // 2  # one yuv420p GRID x GRID thumbnail as ffmpeg's rawvideo writes it
FRAME = LUMA + 2  # a frame in the signature: the luma samples, then the U and V means
FRAMES_BYTES = POSITIONS * 2 * FRAME
CROP_BYTES = 4  # t2: after the frames, the bars cropped (top, bottom, left, right), each in 1/255 of the side


def _payload(text: str) -> tuple[str, bytes]:
    tag, _, body = text.partition(":")
    if tag not in READ_VERSIONS:
        raise ValueError(f"signature version {tag!r} is not {' or '.join(map(repr, READ_VERSIONS))}")
    try:
        raw = zlib.decompress(base64.b64decode(body.encode("ascii"), validate=True))
    except (ValueError, binascii.Error, zlib.error) as exc:
        raise ValueError(f"damaged signature ({exc})") from None
    size = FRAMES_BYTES + (CROP_BYTES if tag == VERSION else 0)
    if len(raw) != size:
        raise ValueError(f"signature holds {len(raw)} bytes, not {size}")
    return tag, raw


def signature_bytes(text: str) -> bytes:
    """The raw frames a signature holds (POSITIONS x 2 x FRAME bytes); ValueError if it is not one."""
    return _payload(text)[1][:FRAMES_BYTES]


def signature_crop(text: str) -> tuple[float, float, float, float]:
    """The share of each side (top, bottom, left, right) the signature left out as bars; zeros for a t1 one."""
    tag, raw = _payload(text)
    if tag != VERSION:
        return 0.0, 0.0, 0.0, 0.0
    top, bottom, left, right = (b / 255 for b in raw[FRAMES_BYTES:])
    return top, bottom, left, right


@dataclass(frozen=True)
class Fingerprint(Record):
    """A clip's identity by its decoded pictures: their planes' sha256, signature (kit.media.signature) and count."""

    pixels_sha256: str
    signature: str
    frames: int

    def __post_init__(self) -> None:
        if re.fullmatch(r"[0-9a-f]{64}", self.pixels_sha256) is None:
            raise ValueError(f"pixels_sha256 {self.pixels_sha256!r} is not 64 hex digits")
        if self.frames < 1:
            raise ValueError(f"a fingerprint of {self.frames} frames")
        signature_bytes(self.signature)  # refuses a damaged or foreign one
