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


# every pixel format this ffmpeg (9.0) names (`ffmpeg -pix_fmts`): what a file the lead is sent may name one by
# (kit.bundle.values.PIX_FMT); another, which a later ffmpeg may add, is sent as `other` (typed_pix_fmt)
FFMPEG_PIX_FMTS = ["yuv420p", "yuyv422", "rgb24", "bgr24", "yuv422p", "yuv444p", "yuv410p", "yuv411p", "gray",
                   "monow", "monob", "pal8", "yuvj420p", "yuvj422p", "yuvj444p", "uyvy422", "uyyvyy411", "bgr8",
                   "bgr4", "bgr4_byte", "rgb8", "rgb4", "rgb4_byte", "nv12", "nv21", "argb", "rgba", "abgr", "bgra",
                   "gray16be", "gray16le", "yuv440p", "yuvj440p", "yuva420p", "rgb48be", "rgb48le", "rgb565be",
                   "rgb565le", "rgb555be", "rgb555le", "bgr565be", "bgr565le", "bgr555be", "bgr555le", "vaapi",
                   "yuv420p16le", "yuv420p16be", "yuv422p16le", "yuv422p16be", "yuv444p16le", "yuv444p16be",
                   "dxva2_vld", "rgb444le", "rgb444be", "bgr444le", "bgr444be", "ya8", "bgr48be", "bgr48le",
                   "yuv420p9be", "yuv420p9le", "yuv420p10be", "yuv420p10le", "yuv422p10be", "yuv422p10le",
                   "yuv444p9be", "yuv444p9le", "yuv444p10be", "yuv444p10le", "yuv422p9be", "yuv422p9le", "gbrp",
                   "gbrp9be", "gbrp9le", "gbrp10be", "gbrp10le", "gbrp16be", "gbrp16le", "yuva422p", "yuva444p",
                   "yuva420p9be", "yuva420p9le", "yuva422p9be", "yuva422p9le", "yuva444p9be", "yuva444p9le",
                   "yuva420p10be", "yuva420p10le", "yuva422p10be", "yuva422p10le", "yuva444p10be", "yuva444p10le",
                   "yuva420p16be", "yuva420p16le", "yuva422p16be", "yuva422p16le", "yuva444p16be", "yuva444p16le",
                   "vdpau", "xyz12le", "xyz12be", "nv16", "nv20le", "nv20be", "rgba64be", "rgba64le", "bgra64be",
                   "bgra64le", "yvyu422", "ya16be", "ya16le", "gbrap", "gbrap16be", "gbrap16le", "qsv", "mmal",
                   "d3d11va_vld", "cuda", "0rgb", "rgb0", "0bgr", "bgr0", "yuv420p12be", "yuv420p12le", "yuv420p14be",
                   "yuv420p14le", "yuv422p12be", "yuv422p12le", "yuv422p14be", "yuv422p14le", "yuv444p12be",
                   "yuv444p12le", "yuv444p14be", "yuv444p14le", "gbrp12be", "gbrp12le", "gbrp14be", "gbrp14le",
                   "yuvj411p", "bayer_bggr8", "bayer_rggb8", "bayer_gbrg8", "bayer_grbg8", "bayer_bggr16le",
                   "bayer_bggr16be", "bayer_rggb16le", "bayer_rggb16be", "bayer_gbrg16le", "bayer_gbrg16be",
                   "bayer_grbg16le", "bayer_grbg16be", "yuv440p10le", "yuv440p10be", "yuv440p12le", "yuv440p12be",
                   "ayuv64le", "ayuv64be", "videotoolbox_vld", "p010le", "p010be", "gbrap12be", "gbrap12le",
                   "gbrap10be", "gbrap10le", "mediacodec", "gray12be", "gray12le", "gray10be", "gray10le", "p016le",
                   "p016be", "d3d11", "gray9be", "gray9le", "gbrpf32be", "gbrpf32le", "gbrapf32be", "gbrapf32le",
                   "drm_prime", "opencl", "gray14be", "gray14le", "grayf32be", "grayf32le", "yuva422p12be",
                   "yuva422p12le", "yuva444p12be", "yuva444p12le", "nv24", "nv42", "vulkan", "y210be", "y210le",
                   "x2rgb10le", "x2rgb10be", "x2bgr10le", "x2bgr10be", "p210be", "p210le", "p410be", "p410le",
                   "p216be", "p216le", "p416be", "p416le", "vuya", "rgbaf16be", "rgbaf16le", "vuyx", "p012le",
                   "p012be", "y212be", "y212le", "xv30be", "xv30le", "xv36be", "xv36le", "rgbf32be", "rgbf32le",
                   "rgbaf32be", "rgbaf32le", "p212be", "p212le", "p412be", "p412le", "gbrap14be", "gbrap14le",
                   "d3d12", "ayuv", "uyva", "vyu444", "v30xbe", "v30xle", "rgbf16be", "rgbf16le", "rgba128be",
                   "rgba128le", "rgb96be", "rgb96le", "y216be", "y216le", "xv48be", "xv48le", "gbrpf16be",
                   "gbrpf16le", "gbrapf16be", "gbrapf16le", "grayf16be", "grayf16le", "amf", "gray32be", "gray32le",
                   "yaf32be", "yaf32le", "yaf16be", "yaf16le", "gbrap32be", "gbrap32le", "yuv444p10msbbe",
                   "yuv444p10msble", "yuv444p12msbbe", "yuv444p12msble", "gbrp10msbbe", "gbrp10msble", "gbrp12msbbe",
                   "gbrp12msble", "ohcodec"]


def typed_pix_fmt(name: str) -> str:
    """A pixel format as a file the lead is sent names it: one of FFMPEG_PIX_FMTS, else `other` ("" stays "")."""
    return name if not name or name in FFMPEG_PIX_FMTS else "other"
