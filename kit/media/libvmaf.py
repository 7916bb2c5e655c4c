"""libvmaf through ffmpeg's filter: the filter string and the log parser."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy loads when a log is parsed: `status` and `--help` import this module
    import numpy as np

TEACHER_MODEL = "vmaf_v0.6.1"
FEATURES = ("adm2", "vif_scale0", "vif_scale1", "vif_scale2", "vif_scale3", "motion2")
# libvmaf's integer extractors report the canonical six under these keys.
FEATURE_KEYS = tuple(f"integer_{f}" for f in FEATURES)
# both inputs renumbered frame by frame, so frames pair by index, not by container timestamps
RENUMBER = "settb=1/25,setpts=N"


def escape_filter_value(value: str) -> str:
    """Escape a value for a filter option inside a filtergraph.

    Two levels: the option parser treats backslash, quote and colon as special;
    the filtergraph parser then treats backslash, quote, brackets, comma and
    semicolon as special. Paths with spaces, quotes and colons survive both.
    """
    level1 = "".join("\\" + c if c in "\\':" else c for c in value)
    return "".join("\\" + c if c in "\\'[],;" else c for c in level1)


def build_libvmaf_graph(width: int, height: int, pix_fmt: str, log_path: Path | str, n_threads: int,
                        upscaler: str = "bicubic") -> str:
    """The filtergraph scoring input 0 (distorted) against input 1 (reference).

    Both are renumbered frame by frame (`setpts=N`) so frames pair by index, not by
    container timestamps; the distorted stream is scaled (with `upscaler`: a ladder rung's encode is
    smaller, a native one is left as it is) and converted to the reference's size and pixel format.
    """
    renumber = RENUMBER
    options = ":".join([
        f"model=version={TEACHER_MODEL}",
        "log_fmt=json",
        f"log_path={escape_filter_value(str(log_path))}",
        f"n_threads={int(n_threads)}",
    ])
    return (
        f"[0:v]{renumber},scale={width}:{height}:flags={upscaler},format={pix_fmt}[dis];"
        f"[1:v]{renumber},format={pix_fmt}[ref];"
        f"[dis][ref]libvmaf={options}"
    )


@dataclass(frozen=True)
class VmafLog:
    version: str
    features: np.ndarray  # (n_frames, 6) float64, in FEATURES order
    vmaf: np.ndarray  # (n_frames,) float64

    @property
    def n_frames(self) -> int:
        return int(self.vmaf.shape[0])


def parse_vmaf_log(path: Path) -> VmafLog:
    """Per-frame canonical features and teacher score from a libvmaf JSON log."""
    import numpy as np

    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    frames = sorted(data.get("frames", []), key=lambda f: f["frameNum"])
    if not frames:
        raise ValueError(f"{path}: libvmaf log holds no frames")
    try:
        feats = np.array([[f["metrics"][k] for k in FEATURE_KEYS] for f in frames], dtype=np.float64)
        scores = np.array([f["metrics"]["vmaf"] for f in frames], dtype=np.float64)
    except KeyError as exc:
        raise ValueError(f"{path}: libvmaf log lacks metric {exc}") from exc
    return VmafLog(str(data.get("version", "unknown")), feats, scores)
