"""A clip's Fingerprint record and its signature's layout, without numpy (the CLI's import path reads
it: `--help` and `status` stay light). kit.media.signature makes and compares signatures."""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from dataclasses import dataclass

from kit.infra.records import Record

VERSION = "t1"
THUMB = 8  # thumbnail side (luma); the chroma planes of the 4:2:0 thumbnail are THUMB/2 a side
POSITIONS = 24  # relative positions sampled (each a pair of consecutive frames)
LUMA = THUMB * THUMB
CHROMA = (THUMB // 2) ** 2
THUMB_BYTES = LUMA + 2 * CHROMA  # one yuv420p thumbnail as ffmpeg's rawvideo writes it
FRAME = LUMA + 2  # a frame in the signature: the luma samples, then the U and V means


def signature_bytes(text: str) -> bytes:
    """The raw frames a signature holds (POSITIONS x 2 x FRAME bytes); ValueError if it is not one."""
    tag, _, body = text.partition(":")
    if tag != VERSION:
        raise ValueError(f"signature version {tag!r} is not {VERSION!r}")
    try:
        raw = zlib.decompress(base64.b64decode(body.encode("ascii"), validate=True))
    except (ValueError, binascii.Error, zlib.error) as exc:
        raise ValueError(f"damaged signature ({exc})") from None
    if len(raw) != POSITIONS * 2 * FRAME:
        raise ValueError(f"signature holds {len(raw)} bytes, not {POSITIONS * 2 * FRAME}")
    return raw


@dataclass(frozen=True)
class Fingerprint(Record):
    """A clip's identity by its decoded pictures (kit.media.identity compares them).

    pixels_sha256: sha256 over the decoded frames' planes (the clip's own pix_fmt, no padding) in frame order,
    the same for the same pictures in any container; signature: kit.media.signature.build_signature's text;
    frames: how many were decoded.
    """

    pixels_sha256: str
    signature: str
    frames: int

    def __post_init__(self) -> None:
        if re.fullmatch(r"[0-9a-f]{64}", self.pixels_sha256) is None:
            raise ValueError(f"pixels_sha256 {self.pixels_sha256!r} is not 64 hex digits")
        if self.frames < 1:
            raise ValueError(f"a fingerprint of {self.frames} frames")
        signature_bytes(self.signature)  # refuses a damaged or foreign one
