#!/usr/bin/env python3
"""What the corpus step's independent check (kit.corpus.oracle) costs beside the step itself.

For a reference set, the whole corpus step (`step corpus`, the default grid and ladder, the check included) is
measured as a child (CPU: user + sys from wait4; wall); then each clip's checked job is made again by hand with
the kit's own argv (its encode) and its check run alone, measured the same way. The ratio is the check's share of
the step. Sets: the demo clips (9 × 640x360 y4m), and three 1080p H.264 masters (4 s at 24 fps), each measured
`--rounds` times.

    python bench/bench_oracle.py [--work bench/work/oracle] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from common import ROOT, load_average, measure

from kit.corpus.oracle import oracle_window
from kit.media.argv import build_encode_argv, build_score_argv
from kit.media.ffmpeg import imageio_binary
from kit.platforms.encoders import get_spec
from kit.rundir import RunDir

KIT = [sys.executable, "-m", "kit"]


def corpus_step(refs: Path | None, out: Path, cache: Path) -> tuple[float, float]:
    """(CPU s, wall s) of the corpus step alone, its prereqs run before (not counted)."""
    env = {"KIT_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    where = ["--ref-dir", str(refs)] if refs else []
    pre = measure([*KIT, "step", "prereqs", "--out-dir", out, "--box-id", "bench", *where], env=env, cwd=ROOT)
    assert pre.rc == 0, pre.output[-2000:]
    step = measure([*KIT, "step", "corpus", "--out-dir", out, "--box-id", "bench", "--force", *where], env=env,
                   cwd=ROOT)
    assert step.rc == 0, step.output[-2000:]
    return step.cpu, step.wall


def oracle_cost(ffmpeg: str, out: Path, work: Path) -> tuple[float, float, int]:
    """(CPU s, wall s, frames scored) of every check of the out-dir's shard, each run again alone on its job's
    encode, made again here with the kit's argv."""
    manifest = json.loads(RunDir(out).shard_manifest.read_text())
    cpu = wall = 0.0
    frames = 0
    for source in manifest["sources"]:
        check = source["oracle"]
        job = check["job_id"]
        encoder, cq = job.split("__")[1], int(job.split("__")[2].removeprefix("cq"))
        argv = check["argv"]
        lavfi = argv.index("-lavfi")
        ref_input = argv[max(i for i in range(lavfi) if argv[i] == "-threads") + 2:lavfi]  # the clip's own input
        enc = work / f"{job}.{get_spec(encoder).container}"
        made = subprocess.run(build_encode_argv(ffmpeg, ref_input, get_spec(encoder), cq, enc, threads=1),
                              capture_output=True, text=True)
        assert made.returncode == 0, made.stderr[-1000:]
        first, end = oracle_window(source["frames"])
        w, h = source["width"], source["height"]
        m = measure(build_score_argv(ffmpeg, enc, ref_input, w, h, source["pix_fmt"], work / "oracle.json", 1,
                                     fps=source["fps"], window=(first, end)))
        assert m.rc == 0, m.output[-1000:]
        cpu, wall, frames = cpu + m.cpu, wall + m.wall, frames + end - first
    return cpu, wall, frames


def masters_1080(ffmpeg: str, folder: Path) -> Path:
    """Three 1080p H.264 masters at 24 fps, 4 s each (LOSO needs three contents)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, lavfi in (("street", "testsrc2=s=1920x1080:r=24"), ("zoom", "mandelbrot=s=1920x1080:r=24"),
                        ("field", "gradients=s=1920x1080:r=24:speed=0.1:seed=3")):
        dest = folder / f"{name}_1080p24.mp4"
        if not dest.is_file():
            subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", lavfi, "-t", "4",
                            "-c:v", "libx264", "-crf", "16", "-preset", "fast", "-pix_fmt", "yuv420p", str(dest)],
                           check=True)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "oracle")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    ffmpeg = str(imageio_binary())
    work, cache = args.work.resolve(), args.work.resolve() / "cache"
    work.mkdir(parents=True, exist_ok=True)
    big = masters_1080(ffmpeg, work / "big")
    print(f"load average before: {load_average()}")
    for round_ in range(1, args.rounds + 1):
        for label, refs in (("demo (9 x 640x360 y4m)", None), ("3 x 1080p24 H.264 masters, 4 s", big)):
            out = work / f"out-{'demo' if refs is None else 'big'}"
            step_cpu, step_wall = corpus_step(refs, out, cache)
            o_cpu, o_wall, frames = oracle_cost(ffmpeg, out, work)
            print(f"round {round_} {label}: corpus step CPU {step_cpu:.1f} s wall {step_wall:.1f} s | checks "
                  f"({frames} frames) CPU {o_cpu:.2f} s wall {o_wall:.2f} s | share of the step's CPU "
                  f"{o_cpu / step_cpu:.2%}")
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
