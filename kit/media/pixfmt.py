"""Bit depths of pixel formats, the format a corpus encode is made in (`--encode-depth`): 4:2:0 at 8 bit (`8bit`,
the default), or a deeper reference's at 10 bit (`source`: the deepest every 10-bit encoder shares), and the format a
job is scored in (score_pix_fmt: the reference's own where libvmaf takes it, on purpose; else the conversion ffmpeg
makes by itself, docs/design/pixel-formats.md)."""

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


PAGE = "docs/design/pixel-formats.md"  # the rule, and the differences it makes, measured
# What ffmpeg's libvmaf filter takes as it is (ffmpeg 9.0's list; tests/real/test_pixel_formats.py asks the kit's
# ffmpeg): planar 4:2:0, 4:2:2 and 4:4:4 at 8, 10, 12 and 16 bits. Both of its inputs share one format, so a plain
# `ffmpeg -i DIST -i REF -lavfi libvmaf` converts the reference to the distorted's format (the encode's: 4:2:0 at 8 or
# 10 bits); a reference in one of these the kit scores in its own format instead, on purpose, the encode converted to
# it: its chroma kept (VMAF's six read the luma alone, which 4:2:2 and 4:4:4 keep as it is; VMAF v1's speed_chroma_uv
# reads the chroma) and its depth (the kit always scored 10 and 12 bits at their depth; 16 since 2.3)
LIBVMAF_PIX_FMTS = tuple(f"yuv4{c}p{d}" for d in ("", "10le", "12le", "16le") for c in ("20", "22", "44"))
# how a reference libvmaf does not take is converted to be scored: 1 (kit 2.3) as ffmpeg converts it by itself, to the
# encode's format (2.2 scored gray as gray, and a master outside 4:2:0, 4:2:2 and 4:4:4 at 8 to 12 bits as 4:2:0 at
# 10 bits where its name held "10", yuv410p too, else at 8); the corpus step declares it where a clip is so converted
SCORE_CONVERSION_VERSION = 1


def score_pix_fmt(ref_pix_fmt: str, enc_pix_fmt: str) -> str:
    """The format libvmaf scores a reference in `ref_pix_fmt` against an encode decoded in `enc_pix_fmt`: the
    reference's own where libvmaf takes it (on purpose), else the encode's (the conversion ffmpeg makes by itself)."""
    return ref_pix_fmt if ref_pix_fmt in LIBVMAF_PIX_FMTS else enc_pix_fmt


def converted_on_purpose(ref_pix_fmt: str, enc_pix_fmt: str) -> bool:
    """Whether the kit scores in another format than a plain `ffmpeg -i DIST -i REF -lavfi libvmaf` would: a
    reference libvmaf takes that is not in the encode's format (4:2:2, 4:4:4, a depth other than the encode's)."""
    return score_pix_fmt(ref_pix_fmt, enc_pix_fmt) != enc_pix_fmt


def scoring_note(ref_pix_fmt: str, enc_pix_fmt: str) -> str:
    """How a reference in `ref_pix_fmt` is scored against an encode in `enc_pix_fmt`, in words (the manifest's clip
    record): "" where it is the encode's own format (nothing to convert)."""
    scored = score_pix_fmt(ref_pix_fmt, enc_pix_fmt)
    if ref_pix_fmt == enc_pix_fmt:
        return ""
    if converted_on_purpose(ref_pix_fmt, enc_pix_fmt):
        return (f"scored in its own {scored}, the {enc_pix_fmt} encode converted to it, on purpose: a plain "
                f"`ffmpeg -i ENCODE -i REF -lavfi libvmaf` scores in {enc_pix_fmt} ({PAGE} measures the difference)")
    return f"converted to {scored} to be scored, as ffmpeg converts it by itself for libvmaf ({PAGE})"
