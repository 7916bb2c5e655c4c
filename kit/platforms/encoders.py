"""Encoder specs: mostly data, one small interface.

Each spec knows its family, codec, preset, pixel format, session cap, the
range of its quality knob (for normalising `cq` *within* the family) and how
`cq` maps onto its own rate-control flags. It also says, as data, which pixel
format it takes for a 10-bit 4:2:0 encode (`--encode-depth source`), or why it
has none; whether this ffmpeg and this hardware really do it is proven by the
10-bit test encode (kit.platforms.probe).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from kit.errors import InputError
from kit.infra.records import Record

AUTO = "auto"  # --encoders auto: each detected family's probed defaults plus libx264


@dataclass(frozen=True)
class EncoderSpec:
    name: str
    family: str  # x264 | x265 | svtav1 | nvenc | qsv | vaapi | videotoolbox
    codec: str  # h264 | hevc | av1
    preset: tuple[str, ...]  # preset flags, e.g. ("-preset", "medium")
    pix_fmt: str
    cq_range: tuple[int, int]  # the knob's own scale, for within-family normalisation
    session_cap: int = 0  # concurrent encodes allowed; 0 = no limit beyond the cores
    extra: tuple[str, ...] = field(default=())
    # the format this encoder takes for a 10-bit 4:2:0 encode (its profile follows from it:
    # Main 10, High 10, AV1 Main); "" = it has no 10-bit encode, and no_10bit says why
    pix_fmt_10bit: str = ""
    no_10bit: str = ""

    @property
    def preset_name(self) -> str:
        return self.preset[-1] if self.preset else ""

    @property
    def container(self) -> str:
        """Elementary-stream muxer, so the file size is the bitstream size."""
        return {"h264": "h264", "hevc": "hevc", "av1": "obu"}[self.codec]

    def at_bits(self, bits: int) -> EncoderSpec:
        """This spec encoding at `bits` (8 or 10): the same flags, the 10-bit input format."""
        if bits == 8:
            return self
        if bits != 10 or not self.pix_fmt_10bit:
            raise ValueError(f"{self.name} has no {bits}-bit encode")
        return replace(self, pix_fmt=self.pix_fmt_10bit)

    def quality_args(self, cq: int) -> list[str]:
        """The rate-control argv that realises quality knob `cq` for this family."""
        if self.family in ("x264", "x265", "svtav1"):
            return ["-crf", str(cq)]
        if self.family == "nvenc":
            # constant-quality VBR: -cq drives quality, -b:v 0 lifts the bitrate cap
            return ["-rc", "vbr", "-cq", str(cq), "-b:v", "0"]
        if self.family == "qsv":
            # -global_quality without a bitrate selects ICQ
            return ["-global_quality", str(cq)]
        if self.family == "vaapi" and self.codec == "av1":
            # av1_vaapi has no -qp option: in CQP mode it takes the quantiser index from global_quality
            return ["-rc_mode", "CQP", "-global_quality", str(cq)]
        if self.family == "vaapi":
            return ["-rc_mode", "CQP", "-qp", str(cq)]
        if self.family == "videotoolbox":
            # VideoToolbox quality is 1..100, higher is better; realtime off for full quality
            return ["-q:v", str(min(100, max(1, 100 - 2 * cq))), "-realtime", "0"]
        raise AssertionError(self.family)

    def normalise_cq(self, cq: Any) -> Any:
        """cq on 0..1 within this family's own range (a number or a numpy array)."""
        lo, hi = self.cq_range
        return (cq - lo) / (hi - lo)

    def check_cq(self, cq: int) -> None:
        lo, hi = self.cq_range
        if not lo <= cq <= hi:
            raise InputError(f"--cqs value {cq} is outside {self.name}'s range {lo}..{hi}",
                             hint=f"choose values between {lo} and {hi}")


_X264_LIKE = ("-preset", "medium")
_NV_PRESET = ("-preset", "p5", "-tune", "hq")

_TEN = "yuv420p10le"  # the software encoders take planar 10-bit
_P010 = "p010le"  # the hardware encoders take semi-planar 10-bit (MSB-aligned), as they take nv12 at 8 bit

_SPECS: tuple[EncoderSpec, ...] = (
    # libx264: High 10 when its x264 was built with 10-bit (the probe reads the binary's pixel formats)
    EncoderSpec("libx264", "x264", "h264", _X264_LIKE, "yuv420p", (0, 51), pix_fmt_10bit=_TEN),
    EncoderSpec("libx265", "x265", "hevc", _X264_LIKE, "yuv420p", (0, 51),
                extra=("-x265-params", "log-level=error"), pix_fmt_10bit=_TEN),
    EncoderSpec("libsvtav1", "svtav1", "av1", ("-preset", "8"), "yuv420p", (1, 63),
                extra=("-svtav1-params", "lp=1"), pix_fmt_10bit=_TEN),
    # NVENC H.264 High 10 needs a Blackwell or newer GPU: older ones fail the 10-bit test encode
    EncoderSpec("h264_nvenc", "nvenc", "h264", _NV_PRESET, "yuv420p", (0, 51), 3, pix_fmt_10bit=_P010),
    EncoderSpec("hevc_nvenc", "nvenc", "hevc", _NV_PRESET, "yuv420p", (0, 51), 3, pix_fmt_10bit=_P010),
    EncoderSpec("av1_nvenc", "nvenc", "av1", _NV_PRESET, "yuv420p", (0, 51), 3, pix_fmt_10bit=_P010),
    EncoderSpec("h264_qsv", "qsv", "h264", ("-preset", "medium"), "nv12", (1, 51), 2,
                no_10bit="Intel Quick Sync encodes H.264 in 8 bit only"),
    EncoderSpec("hevc_qsv", "qsv", "hevc", ("-preset", "medium"), "nv12", (1, 51), 2, pix_fmt_10bit=_P010),
    EncoderSpec("av1_qsv", "qsv", "av1", ("-preset", "medium"), "nv12", (1, 51), 2, pix_fmt_10bit=_P010),
    EncoderSpec("h264_vaapi", "vaapi", "h264", (), "nv12", (0, 51), 2,
                no_10bit="VA-API encodes H.264 in 8 bit only"),
    EncoderSpec("hevc_vaapi", "vaapi", "hevc", (), "nv12", (0, 51), 2, pix_fmt_10bit=_P010),
    EncoderSpec("av1_vaapi", "vaapi", "av1", (), "nv12", (0, 255), 2, pix_fmt_10bit=_P010),
    EncoderSpec("h264_videotoolbox", "videotoolbox", "h264", (), "yuv420p", (0, 51), 2,
                no_10bit="VideoToolbox encodes H.264 in 8 bit only"),
    EncoderSpec("hevc_videotoolbox", "videotoolbox", "hevc", (), "yuv420p", (0, 51), 2, pix_fmt_10bit=_P010),
)

SPECS: dict[str, EncoderSpec] = {s.name: s for s in _SPECS}
# The model's codec one-hot is over this fixed vocabulary: every encoder the kit knows,
# so a VideoToolbox or VAAPI row never falls into an "unknown" slot.
ENCODER_VOCAB: tuple[str, ...] = tuple(s.name for s in _SPECS)


@dataclass(frozen=True)
class HwArgs(Record):
    """Device set-up for one encoder: global init options and the upload filter chain."""

    init: tuple[str, ...] = ()
    filter: str = ""

    @classmethod
    def from_json(cls, d: object, where: str = "") -> HwArgs:
        """From prereqs.json; anything that is not the recorded shape means no device args."""
        d = d if isinstance(d, dict) else {}
        init = d.get("init")
        return cls(tuple(str(a) for a in init) if isinstance(init, list) else (), str(d.get("filter") or ""))


def build_hw_args(spec: EncoderSpec, render_node: str = "") -> HwArgs:
    """The device arguments `spec` needs; QSV and VAAPI open the given (discovered) render node."""
    if spec.family == "qsv":
        # QSV is derived from a VAAPI device on that node, so the chosen GPU is the one encoding
        return HwArgs(("-init_hw_device", f"vaapi=va:{render_node}", "-init_hw_device", "qsv=qs@va",
                       "-filter_hw_device", "qs"),
                      # system frames -> nv12 (p010le at 10 bit) -> GPU surfaces; spare surfaces for the lookahead
                      f"format={spec.pix_fmt},hwupload=extra_hw_frames=64")
    if spec.family == "vaapi":
        return HwArgs(("-init_hw_device", f"vaapi=va:{render_node}", "-filter_hw_device", "va"),
                      f"format={spec.pix_fmt},hwupload")
    # NVENC uploads system-memory yuv420p (p010le at 10 bit) itself (first NVENC-capable GPU); VideoToolbox and
    # the software encoders take system frames as they are
    return HwArgs()


def session_semaphores(encoders: Iterable[str]) -> dict[str, threading.Semaphore]:
    """One semaphore per hardware family, shared by its encoders: NVENC's session limit is
    per GPU, not per codec. Encoders without a cap get none."""
    shared: dict[str, threading.Semaphore] = {}
    out: dict[str, threading.Semaphore] = {}
    for name in encoders:
        spec = get_spec(name)
        if spec.session_cap > 0:
            cap = min(s.session_cap for s in _SPECS if s.family == spec.family)
            out[name] = shared.setdefault(spec.family, threading.Semaphore(cap))
    return out


def get_spec(name: str) -> EncoderSpec:
    try:
        return SPECS[name]
    except KeyError:
        raise InputError(f"unknown encoder {name!r}",
                         hint="choose from " + ", ".join(ENCODER_VOCAB)) from None


def parse_encoder_list(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if names == (AUTO,):
        return names
    if AUTO in names:
        raise InputError(f"--encoders {text!r} mixes 'auto' with encoder names",
                         hint="give either auto or a list of names, e.g. --encoders libx264,h264_nvenc")
    if not names:
        raise InputError(f"--encoders {text!r} names no encoder", hint="e.g. --encoders libx264,libx265")
    for n in names:
        get_spec(n)
    return names
