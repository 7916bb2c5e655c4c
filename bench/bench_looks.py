#!/usr/bin/env python3
"""The looks at a reference clip against their budgets (kit/media/looks.py, issue 67 item 1).

For each clip: a plain decode (`ffmpeg -i CLIP -map 0:v:0 -f null -`, what a person plays), then each look the kit
makes of it with the kit's own argv: the strict decode, the second look, and for a container read through a lossless
copy (kit.media.containers) the copy and its check. Each look's wall and CPU (user + sys of the child, `wait4`), the
plain decode's rate in Mpx/s, each look's time in plain decodes at PLAIN_DECODE_PX_PER_S (what LOOK_PASSES must
exceed) and its share of its budget. The clips: those given, else opencv-doc's five from /tmp/debs (when there) and a
1080p H.264 and a 4K HEVC 10-bit clip made here.

    python bench/bench_looks.py [CLIP ...] [--work DIR]
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import subprocess
import time
from pathlib import Path

from common import ROOT, load_average

from kit.media.argv import (
    STRICT_DECODE,
    build_decode_argv,
    build_fingerprint_argv,
    build_intermediate_argv,
    build_second_look_argv,
    build_verify_argv,
)
from kit.media.containers import needs_intermediate
from kit.media.decode import open_clip_streams
from kit.media.ffmpeg import imageio_binary, parse_frame_count
from kit.media.looks import LOOK_PASSES, PLAIN_DECODE_PX_PER_S, Look

OPENCV = Path("/tmp/debs/x/usr/share/doc/opencv-doc")
OPENCV_CLIPS = ("opencv4/html/box.mp4.gz", "opencv4/html/cup.mp4.gz", "examples/data/Megamind.avi",
                "examples/data/tree.avi", "examples/data/vtest.avi")
MADE = {"h264-1080p.mp4": ("testsrc2=s=1920x1080:r=30", 150, ("-c:v", "libx264", "-preset", "veryfast")),
        "hevc-4k-10bit.mp4": ("testsrc2=s=3840x2160:r=30", 30, ("-pix_fmt", "yuv420p10le", "-c:v", "libx265",
                                                                "-preset", "ultrafast", "-x265-params",
                                                                "log-level=error"))}


def measure(argv: list[str], log: Path = Path(os.devnull)) -> tuple[float, float]:
    """(wall, CPU) of one command, its CPU from wait4; its stderr into `log`."""
    start = time.monotonic()
    with log.open("wb") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        _, _, usage = os.wait4(proc.pid, 0)
    return time.monotonic() - start, usage.ru_utime + usage.ru_stime


def clips(work: Path, ffmpeg: str) -> list[Path]:
    found = []
    for name in OPENCV_CLIPS:
        src = OPENCV / name
        if not src.is_file():
            continue
        dest = work / Path(name).name.removesuffix(".gz")
        if not dest.is_file():
            with (gzip.open(src) if name.endswith(".gz") else src.open("rb")) as fh, dest.open("wb") as out:
                shutil.copyfileobj(fh, out)
        found.append(dest)
    for name, (lavfi, frames, options) in MADE.items():
        dest = work / name
        if not dest.is_file():
            subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", lavfi,
                            "-frames:v", str(frames), *options, str(dest)], check=True)
        found.append(dest)
    return found


def looks_of(clip: Path, ffmpeg: str, fps: str, work: Path) -> list[tuple[Look, list[str]]]:
    """The looks the kit makes of `clip`, in order, by kind."""
    if needs_intermediate(clip):
        copy = work / f"{clip.stem}.copy.mkv"
        return [("copy", build_intermediate_argv(ffmpeg, clip, copy, fps)),
                ("check", build_verify_argv(ffmpeg, copy, "yuv420p"))]
    return [("strict", build_fingerprint_argv(ffmpeg, ["-i", str(clip)], checks=STRICT_DECODE, count=True)),
            ("second", build_second_look_argv(ffmpeg, clip, fps))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", nargs="*", type=Path)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "looks")
    args = parser.parse_args()
    ffmpeg = str(imageio_binary())
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"load average before: {load_average()}")
    print(f"{'clip':20} {'look':7} {'wall s':>8} {'CPU s':>7} {'plain Mpx/s':>12} {'in plain decodes':>17} "
          f"{'of budget':>10}")
    for clip in args.clips or clips(args.work, ffmpeg):
        opened = open_clip_streams(clip, ffmpeg)
        log = args.work / f"{clip.name}.plain.log"
        wall, cpu = measure(build_decode_argv(ffmpeg, clip), log)
        frames = parse_frame_count(log.read_text(errors="replace"))
        width, height = (int(n) for n in opened.budget.size.split(" of ")[1].split("x"))
        # the budget prices the frames the header tells (tree.avi's says 444, it holds 68): the rate, the true ones
        priced = opened.budget.pixels / PLAIN_DECODE_PX_PER_S  # a plain decode at the price: one pass
        print(f"{clip.name:20} {'plain':7} {wall:8.2f} {cpu:7.2f} {frames * width * height / wall / 1e6:12.0f} "
              f"{wall / priced:17.2f} {'':>10}  ({frames} frames; the header: {opened.budget.size})")
        for kind, argv in looks_of(clip, ffmpeg, opened.fps, args.work):
            wall, cpu = measure(argv)
            print(f"{'':20} {kind:7} {wall:8.2f} {cpu:7.2f} {'':>12} {wall / priced:17.2f} "
                  f"{wall / opened.budget.seconds(kind):9.1%}  (passes {LOOK_PASSES[kind]:g})")
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
