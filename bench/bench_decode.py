#!/usr/bin/env python3
"""Corpus step on compressed 1080p masters: one decode per clip (kit/corpus/shared.py) against the per-job floor.

Three H.264 masters, 1920x1080, 25 fps, `--seconds` long (the kit needs 3 contents), libx264 at 4 cqs:
12 jobs. Side by side, interleaved, each `--rounds` times:
  * floor: every job's encode and libvmaf command exactly as the per-job plan builds them (each decodes
    the master itself: 24 decodes), run by `xargs -P <cores>` with no Python in between;
  * kit: the corpus step (`--only corpus --jobs <cores>`) as a user runs it: one decode per clip feeds its
    4 encodes by `split` and writes the decoded reference that its 4 scorings read;
  * kit, per job: the same step with KIT_SHARED_DECODE=0 (every job decodes the master twice, as before).
CPU is user + sys of the command and of every process it reaped (wait4); wall beside it, and the peak RSS
of the largest process. The clips' hashes are cached before the first round, so no kit run pays the
discovery decode. Target: kit CPU <= 0.90x the floor's.

With `--scales native,0.5` (issue 38: the default ladder) every clip is also encoded at half height: the floor's
jobs each decode, downscale (lanczos) and encode, and score upscaled (bicubic) against the master; the kit makes
one downscale per master and rung for that rung's encodes (kit/corpus/shared.py).

    python bench/bench_decode.py [--work DIR] [--seconds 5] [--rounds 2] [--scales native,0.5]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from common import ROOT, job_scripts, load_average

from kit.infra.host import cache_tree, core_count
from kit.media.discovery import reference_clips
from kit.media.ffmpeg import imageio_binary

SOURCES = {
    "pattern": "testsrc2=s=1920x1080:r=25",
    "fractal": "mandelbrot=s=1920x1080:r=25",
    "cells": "life=s=1920x1080:r=25:mold=10:ratio=0.1:seed=4",
}
CQS = (19, 25, 31, 37)
TARGET = 0.90


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float
    rss_mib: float


def render_masters(ffmpeg: str, folder: Path, seconds: float) -> None:
    """x264 masters at a high quality (crf 16, preset fast), as a camera or mezzanine export would be."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, lavfi in SOURCES.items():
        dest = folder / f"{name}.mp4"
        if not dest.is_file():
            subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", lavfi, "-t",
                            str(seconds), "-c:v", "libx264", "-preset", "fast", "-crf", "16", "-pix_fmt", "yuv420p",
                            str(dest)], check=True)


def measured(argv: list[str], env: dict[str, str], stdin: str = "", log: Path | None = None) -> Run:
    """Run to the end; (wall, user + sys of it and all it reaped, peak RSS of the largest process) by wait4."""
    with open(log or os.devnull, "w") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, **env}, start_new_session=True)
        assert proc.stdin is not None
        proc.stdin.write(stdin)
        proc.stdin.close()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{shlex.join(argv[:4])} ... failed (exit {proc.returncode}); see {log}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def floor_scripts(ffmpeg: str, refs: Path, cache: Path, work: Path, threads: int,
                  scales: tuple[str, ...] = ("native",)) -> list[Path]:
    """One shell script per job: the per-job plan's own encode and score argv, each decoding the master."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    clips, _, _ = reference_clips(refs, ffmpeg, cache_tree())  # KIT_CACHE_DIR: `cache`, as the kit runs see it
    return job_scripts(ffmpeg, clips, CQS, work, 1, threads, scales)


def run_floor(scripts: list[Path], cores: int) -> Run:
    listing = "\n".join(map(str, scripts)) + "\n"
    return measured(["xargs", "-P", str(cores), "-n", "1", "bash"], {}, stdin=listing)


def kit_args(refs: Path, out: Path, cores: int, scales: tuple[str, ...] = ("native",)) -> list[str]:
    return [sys.executable, str(ROOT / "kit" / "run_full_pipeline.py"), "--ref-dir", str(refs), "--out-dir", str(out),
            "--encoders", "libx264", "--cqs", ",".join(map(str, CQS)), "--jobs", str(cores), "--scales",
            ",".join(scales)]


def run_kit_corpus(refs: Path, out: Path, cores: int, env: dict[str, str],
                   scales: tuple[str, ...] = ("native",)) -> tuple[Run, str]:
    """The corpus step from scratch: (its measures, the corpus's content hash, to compare the two plans)."""
    from kit.corpus.schema import corpus_sha256

    shutil.rmtree(out / "02_corpus", ignore_errors=True)
    run = measured([*kit_args(refs, out, cores, scales), "--only", "corpus"], env,
                   log=out.parent / f"{out.name}.log")
    return run, corpus_sha256(out / "02_corpus" / "shard.parquet")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "decode1080")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--no-per-job-kit", action="store_true", help="leave out the kit with KIT_SHARED_DECODE=0")
    ap.add_argument("--scales", default="native", help="the ladder (--scales of the kit), e.g. native,0.5")
    args = ap.parse_args()
    scales = tuple(args.scales.split(","))
    ffmpeg, cores = str(imageio_binary()), core_count()
    refs, cache, out = args.work / "refs", args.work / "cache", args.work / "kit"
    # PYTHONPATH: the kit of this checkout, not one the venv may have installed in place
    env = {"KIT_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    os.environ.update(env)  # the floor's discovery below fills the cache the kit runs read
    for var in ("KIT_JOBS", "KIT_JOB_THREADS", "KIT_SHARED_DECODE"):  # the kit's own choices, not the caller's
        os.environ.pop(var, None)
    render_masters(ffmpeg, refs, args.seconds)
    out.mkdir(parents=True, exist_ok=True)
    measured([*kit_args(refs, out, cores, scales), "--only", "prereqs"], env)
    scripts = floor_scripts(ffmpeg, refs, cache, args.work / "floor", 1, scales)
    print(f"{len(scripts)} jobs: {len(SOURCES)} H.264 masters 1920x1080 x {args.seconds:g} s x {len(CQS)} cqs x "
          f"rungs {','.join(scales)}, libx264; {cores} cores; load average {load_average()}", flush=True)

    floor, kit, per_job = [], [], []
    hashes = set()
    for _ in range(args.rounds):
        floor.append(run_floor(floor_scripts(ffmpeg, refs, cache, args.work / "floor", 1, scales), cores))
        print(f"  floor     {floor[-1]}", flush=True)
        run, digest = run_kit_corpus(refs, out, cores, env, scales)
        kit.append(run)
        hashes.add(digest)
        print(f"  kit       {run}", flush=True)
        if not args.no_per_job_kit:
            run, digest = run_kit_corpus(refs, out, cores, {**env, "KIT_SHARED_DECODE": "0"}, scales)
            per_job.append(run)
            hashes.add(digest)
            print(f"  per job   {run}", flush=True)

    def row(name: str, runs: list[Run]) -> str:
        walls = " / ".join(f"{r.wall:.1f}" for r in runs)
        cpus = " / ".join(f"{r.cpu:.1f}" for r in runs)
        rss = max(r.rss_mib for r in runs)
        return f"{name:44s} {min(r.cpu for r in runs):7.1f}  {cpus:>15s}   {walls:>13s}  {rss:7.0f}"

    print(f"\n{'':44s} {'CPU best':>7s}  {'CPU runs, s':>15s}   {'wall runs, s':>13s}  {'RSS MiB':>7s}")
    print(row(f"per-job floor, xargs -P {cores}", floor))
    print(row(f"kit corpus step, shared decode, --jobs {cores}", kit))
    if per_job:
        print(row("kit corpus step, per job (KIT_SHARED_DECODE=0)", per_job))
    ratios = [k.cpu / f.cpu for k, f in zip(kit, floor, strict=True)]
    best = min(r.cpu for r in kit) / min(r.cpu for r in floor)
    print(f"\nkit CPU / floor CPU, round by round: {' / '.join(f'{r:.3f}' for r in ratios)}; best / best {best:.3f}"
          f"   target <= {TARGET}")
    print(f"kit wall / floor wall, best / best: {min(r.wall for r in kit) / min(r.wall for r in floor):.3f}")
    if per_job:
        print(f"shared / per-job kit CPU, best / best: {min(r.cpu for r in kit) / min(r.cpu for r in per_job):.3f}")
    same = "the same rows" if len(hashes) == 1 else "ROWS DIFFER"
    print(f"corpus content hashes of all kit runs: {len(hashes)} distinct ({same})")
    print(json.dumps({"floor": [r.__dict__ for r in floor], "kit": [r.__dict__ for r in kit],
                      "per_job": [r.__dict__ for r in per_job]}))
    print(f"\n{'PASS' if max(ratios) <= TARGET and len(hashes) == 1 else 'FAIL'}")


if __name__ == "__main__":
    main()
