"""Pure builders of ffmpeg command lines (tests compare them exactly)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kit.platforms.encoders import EncoderSpec
from kit.vmaf import build_libvmaf_graph

# Quiet but not silent: -nostats drops the progress spam, while the final
# "frame=" report (the encoded frame count) and errors are still printed.
COMMON = ("-hide_banner", "-nostdin", "-nostats", "-y")
# key=value progress blocks (frame=, fps=, progress=) on stdout twice a second, for the live bars
PROGRESS = ("-progress", "pipe:1")


def build_encode_argv(
    ffmpeg: str,
    ref_input: Sequence[str],
    spec: EncoderSpec,
    cq: int,
    out_path: Path | str,
    *,
    hw_init: Sequence[str] = (),
    hw_filter: str = "",
    threads: int = 0,
    progress: bool = False,
) -> list[str]:
    """Encode the reference's first video stream with `spec` at quality `cq`.

    hw_init carries device set-up (e.g. `-init_hw_device vaapi=va:/dev/dri/renderD128`)
    and hw_filter the upload chain for encoders that take hardware frames.
    """
    argv = [ffmpeg, *COMMON, *(PROGRESS if progress else ()), *hw_init, *ref_input, "-map", "0:v:0", "-an", "-sn",
            "-dn"]
    if hw_filter:
        argv += ["-vf", hw_filter]
    else:
        argv += ["-pix_fmt", spec.pix_fmt]
    argv += ["-c:v", spec.name, *spec.preset, *spec.quality_args(cq), *spec.extra]
    if threads > 0 and spec.family in ("x264", "x265"):
        argv += ["-threads", str(threads)]
    # an elementary stream, so the file size is exactly the bitstream size
    argv += ["-f", spec.container, str(out_path)]
    return argv


def build_score_argv(
    ffmpeg: str,
    distorted: Path | str,
    ref_input: Sequence[str],
    width: int,
    height: int,
    pix_fmt: str,
    log_path: Path | str,
    n_threads: int,
    progress: bool = False,
) -> list[str]:
    """Score `distorted` (input 0) against the reference (input 1) with libvmaf.

    Both decoders get the job's thread budget too: left at ffmpeg's default (one
    frame thread per core) every parallel job would start a decoder thread per core.
    """
    graph = build_libvmaf_graph(width, height, pix_fmt, log_path, n_threads)
    threads = ("-threads", str(n_threads))
    return [ffmpeg, *COMMON, *(PROGRESS if progress else ()), *threads, "-i", str(distorted), *threads, *ref_input,
            "-lavfi", graph, "-f", "null", "-"]
