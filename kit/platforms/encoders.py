"""Encoder specs: mostly data, one small interface (docs/encoders.md). What differs between families is a `match`
ending in `assert_never`, so mypy names the function whose arm a new family lacks."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal, get_args

from kit.errors import InputError, assert_never
from kit.infra.outside import read_items
from kit.infra.records import Record

AUTO = "auto"  # --encoders auto: each detected family's probed defaults plus libx264

Family = Literal["x264", "x265", "svtav1", "nvenc", "qsv", "vaapi", "videotoolbox", "amf"]
FAMILIES: tuple[Family, ...] = get_args(Family)


@dataclass(frozen=True)
class FamilyTraits:
    """What a family is, beyond its rows: who nominates it and how it is named."""

    host: str  # the host family that nominates it: CPU | NVIDIA | Intel | macOS | AMD
    engine: str  # its hardware engine in messages ("NVENC unavailable: ..."); "" for a software encoder
    # x264/x265 give other bits at another thread count, so the kit pins it (--jobs never changes a row)
    pins_threads: bool = False


@dataclass(frozen=True)
class EncoderSpec:
    name: str
    family: Family
    codec: str  # h264 | hevc | av1
    preset: tuple[str, ...]  # preset flags, e.g. ("-preset", "medium")
    pix_fmt: str
    cq_range: tuple[int, int]  # the knob's own scale, (best quality, worst quality): VideoToolbox's q:v runs upwards
    session_cap: int = 0  # concurrent encodes allowed; 0 = no limit beyond the cores
    extra: tuple[str, ...] = ()
    pix_fmt_10bit: str = ""  # what it takes for a 10-bit 4:2:0 encode; "": none, and no_10bit says why
    no_10bit: str = ""
    grid: tuple[int, ...] = ()  # the default quality grid, in the knob's own scale (--cqs overrides it)

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

    @property
    def traits(self) -> FamilyTraits:
        match self.family:
            case "x264" | "x265":
                return FamilyTraits("CPU", "", pins_threads=True)
            case "svtav1":
                return FamilyTraits("CPU", "")  # its own thread count is pinned in `extra` (lp=1)
            case "nvenc":
                return FamilyTraits("NVIDIA", "NVENC")
            case "qsv":
                return FamilyTraits("Intel", "QSV")
            case "vaapi":
                return FamilyTraits("Intel", "VAAPI")
            case "videotoolbox":
                return FamilyTraits("macOS", "VideoToolbox")
            case "amf":
                return FamilyTraits("AMD", "AMF")
            case _:
                assert_never(self.family)

    def quality_args(self, cq: int) -> list[str]:
        """The rate-control argv that realises quality knob `cq` for this family."""
        q = str(cq)
        match self.family:
            case "x264" | "x265" | "svtav1":
                return ["-crf", q]
            case "nvenc":
                # constant-quality VBR: -cq drives quality, -b:v 0 lifts the bitrate cap
                return ["-rc", "vbr", "-cq", q, "-b:v", "0"]
            case "qsv":
                # -global_quality without a bitrate selects ICQ
                return ["-global_quality", q]
            case "vaapi" if self.codec == "av1":
                # av1_vaapi has no -qp option: in CQP mode it takes the quantiser index from global_quality
                return ["-rc_mode", "CQP", "-global_quality", q]
            case "vaapi":
                return ["-rc_mode", "CQP", "-qp", q]
            case "videotoolbox":
                # VideoToolbox quality is 1..100, higher is better, given as it is; realtime off for full quality
                return ["-q:v", q, "-realtime", "0"]
            case "amf":
                # constant QP on every frame type (AMF has no CRF); hevc_amf encodes no B-frames and has no -qp_b
                b_frames = [] if self.codec == "hevc" else ["-qp_b", q]
                return ["-rc", "cqp", "-qp_i", q, "-qp_p", q, *b_frames]
            case _:
                assert_never(self.family)

    def thread_args(self, threads: int) -> list[str]:
        """`-threads N` for a family whose output depends on it (x264, x265); nothing for the others."""
        return ["-threads", str(threads)] if threads > 0 and self.traits.pins_threads else []


# default grids, each in its knob's own scale (docs/quality-and-ladder.md)
_QP51_GRID = (10, 24, 38, 51)  # x264/x265 CRF, NVENC -cq, QSV -global_quality, VA-API and AMF QP (0..51)
_SVTAV1_GRID = (10, 37, 63)  # CRF 1..63
_QP255_GRID = (50, 120, 190, 255)  # AV1 QP 0..255 (av1_vaapi, av1_amf): the same share of their range
_VT_GRID = (80, 52, 24, 1)  # VideoToolbox -q:v 1..100, higher is better: 100 - 2 x the CRF grid, 1 its worst

_MEDIUM = ("-preset", "medium")
_NV_PRESET = ("-preset", "p5", "-tune", "hq")
# AMF: the transcoding usage with the quality preset (each codec's encoder names the constant `quality`)
_AMF_PRESET = ("-usage", "transcoding", "-quality", "quality")

_TEN = "yuv420p10le"  # the software encoders take planar 10-bit
_P010 = "p010le"  # the hardware encoders take semi-planar 10-bit (MSB-aligned), as they take nv12 at 8 bit

_SPECS: tuple[EncoderSpec, ...] = (
    # libx264: High 10 when its x264 was built with 10-bit (the probe reads the binary's pixel formats)
    EncoderSpec("libx264", "x264", "h264", _MEDIUM, "yuv420p", (0, 51), pix_fmt_10bit=_TEN, grid=_QP51_GRID),
    EncoderSpec("libx265", "x265", "hevc", _MEDIUM, "yuv420p", (0, 51),
                extra=("-x265-params", "log-level=error"), pix_fmt_10bit=_TEN, grid=_QP51_GRID),
    # SVT-AV1 at preset 7: what vmaf-tune encodes it at (its svtav1 adapter maps its default, medium, to 7)
    EncoderSpec("libsvtav1", "svtav1", "av1", ("-preset", "7"), "yuv420p", (1, 63),
                extra=("-svtav1-params", "lp=1"), pix_fmt_10bit=_TEN, grid=_SVTAV1_GRID),
    # NVENC H.264 High 10 needs a Blackwell or newer GPU: older ones fail the 10-bit test encode
    EncoderSpec("h264_nvenc", "nvenc", "h264", _NV_PRESET, "yuv420p", (0, 51), 3, pix_fmt_10bit=_P010, grid=_QP51_GRID),
    EncoderSpec("hevc_nvenc", "nvenc", "hevc", _NV_PRESET, "yuv420p", (0, 51), 3, pix_fmt_10bit=_P010, grid=_QP51_GRID),
    EncoderSpec("av1_nvenc", "nvenc", "av1", _NV_PRESET, "yuv420p", (0, 51), 3, pix_fmt_10bit=_P010, grid=_QP51_GRID),
    EncoderSpec("h264_qsv", "qsv", "h264", _MEDIUM, "nv12", (1, 51), 2,
                no_10bit="Intel Quick Sync encodes H.264 in 8 bit only", grid=_QP51_GRID),
    EncoderSpec("hevc_qsv", "qsv", "hevc", _MEDIUM, "nv12", (1, 51), 2, pix_fmt_10bit=_P010, grid=_QP51_GRID),
    EncoderSpec("av1_qsv", "qsv", "av1", _MEDIUM, "nv12", (1, 51), 2, pix_fmt_10bit=_P010, grid=_QP51_GRID),
    EncoderSpec("h264_vaapi", "vaapi", "h264", (), "nv12", (0, 51), 2,
                no_10bit="VA-API encodes H.264 in 8 bit only", grid=_QP51_GRID),
    EncoderSpec("hevc_vaapi", "vaapi", "hevc", (), "nv12", (0, 51), 2, pix_fmt_10bit=_P010, grid=_QP51_GRID),
    EncoderSpec("av1_vaapi", "vaapi", "av1", (), "nv12", (0, 255), 2, pix_fmt_10bit=_P010, grid=_QP255_GRID),
    EncoderSpec("h264_videotoolbox", "videotoolbox", "h264", (), "yuv420p", (100, 1), 2,
                no_10bit="VideoToolbox encodes H.264 in 8 bit only", grid=_VT_GRID),
    EncoderSpec("hevc_videotoolbox", "videotoolbox", "hevc", (), "yuv420p", (100, 1), 2, pix_fmt_10bit=_P010,
                grid=_VT_GRID),
    # AMD AMF (Windows): system-memory frames, uploaded by the encoder itself as NVENC does; av1's QP is 0..255
    EncoderSpec("h264_amf", "amf", "h264", _AMF_PRESET, "nv12", (0, 51), 2,
                no_10bit="AMF encodes H.264 in 8 bit only", grid=_QP51_GRID),
    EncoderSpec("hevc_amf", "amf", "hevc", _AMF_PRESET, "nv12", (0, 51), 2, pix_fmt_10bit=_P010, grid=_QP51_GRID),
    EncoderSpec("av1_amf", "amf", "av1", _AMF_PRESET, "nv12", (0, 255), 2, pix_fmt_10bit=_P010, grid=_QP255_GRID),
)

SPECS: dict[str, EncoderSpec] = {s.name: s for s in _SPECS}
# every encoder the kit can drive, in table order (what a corpus row may name)
ENCODER_NAMES: tuple[str, ...] = tuple(s.name for s in _SPECS)


@dataclass(frozen=True)
class HwArgs(Record):
    """Device set-up for one encoder: global init options and the upload filter chain."""

    init: tuple[str, ...] = ()
    filter: str = ""

    @classmethod
    def adapted(cls, data: object) -> object:
        """From prereqs.json; anything that is not the recorded shape means no device args."""
        d = data if isinstance(data, dict) else {}
        init = d.get("init")
        return {"init": [str(a) for a in init] if isinstance(init, list) else [], "filter": str(d.get("filter") or "")}


def build_hw_args(spec: EncoderSpec, render_node: str = "") -> HwArgs:
    """The device arguments `spec` needs; QSV and VAAPI open the given (discovered) render node."""
    match spec.family:
        case "qsv":
            # QSV is derived from a VAAPI device on that node, so the chosen GPU is the one encoding
            return HwArgs(("-init_hw_device", f"vaapi=va:{render_node}", "-init_hw_device", "qsv=qs@va",
                           "-filter_hw_device", "qs"),
                          # system frames -> nv12 (p010le at 10 bit) -> GPU surfaces; spare surfaces for the lookahead
                          f"format={spec.pix_fmt},hwupload=extra_hw_frames=64")
        case "vaapi":
            return HwArgs(("-init_hw_device", f"vaapi=va:{render_node}", "-filter_hw_device", "va"),
                          f"format={spec.pix_fmt},hwupload")
        case "nvenc" | "amf" | "videotoolbox" | "x264" | "x265" | "svtav1":
            # NVENC and AMF upload system-memory frames themselves (to the first capable GPU); the others take them
            return HwArgs()
        case _:
            assert_never(spec.family)


def session_semaphores(encoders: Iterable[str]) -> dict[str, threading.Semaphore]:
    """One semaphore per hardware family, shared by its encoders (NVENC's session limit is per GPU)."""
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
                         hint="choose from " + ", ".join(ENCODER_NAMES)) from None


def parse_encoder_list(text: str) -> tuple[str, ...]:
    """--encoders's names as given (a name twice stays twice: the setting's rule refuses it)."""
    names = tuple(read_items(text, "--encoders", "e.g. --encoders libx264,libx265"))
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
