"""Bit depths of pixel formats, and the format a corpus encode is made in (`--encode-depth`): 4:2:0 at 8 bit (`8bit`,
the default), or a deeper reference's at 10 bit (`source`: the deepest every 10-bit encoder shares)."""

from __future__ import annotations

import re

DEPTH_8BIT = "8bit"
DEPTH_SOURCE = "source"
ENCODE_DEPTHS = (DEPTH_8BIT, DEPTH_SOURCE)
# the encoded stream's format at each bit depth, as a decoder gives it back (whatever layout the encoder took)
ENC_PIX_FMTS = {8: "yuv420p", 10: "yuv420p10le"}
# every encode of a schema-1 corpus was 8-bit 4:2:0 (yuv420p, or nv12 for QSV/VAAPI: the same samples)
SCHEMA1_ENC_PIX_FMT = ENC_PIX_FMTS[8]

# yuv420p10le, yuv444p12le, gray10le -> the digits; p010le / p016le (semi-planar, MSB-aligned) -> 10 / 16
_PLANAR_DEPTH = re.compile(r"(?:yuva?4\d\dp|gray|gbrp)(\d{1,2})(?:le|be)$")
_SEMI_PLANAR_DEPTH = re.compile(r"p[0-4](\d\d)(?:le|be)?$")


def bit_depth(pix_fmt: str) -> int:
    """Bits per sample of a pixel format name; 8 for the names without a depth (yuv420p, nv12, gray)."""
    if m := _PLANAR_DEPTH.fullmatch(pix_fmt) or _SEMI_PLANAR_DEPTH.fullmatch(pix_fmt):
        return int(m.group(1))
    return 8


def encode_bits(ref_pix_fmt: str, encode_depth: str) -> int:
    """The bit depth a reference in `ref_pix_fmt` is encoded at under --encode-depth."""
    if encode_depth not in ENCODE_DEPTHS:
        raise ValueError(f"encode depth {encode_depth!r}")
    return 10 if encode_depth == DEPTH_SOURCE and bit_depth(ref_pix_fmt) > 8 else 8
