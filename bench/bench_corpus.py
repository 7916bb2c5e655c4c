#!/usr/bin/env python3
"""Corpus step: the kit against the same ffmpeg commands run bare by a shell loop.

On 1280x720 clips (4 sources, 3 s each) at 4 quality levels, all in one run:
  * bare: every job's encode + libvmaf commands (exactly the argv the kit builds),
    run by `xargs -P <jobs>` with no Python in between;
  * the kit's corpus step at the same parallelism, as a user runs it (target:
    <= 1.05x bare), and with exactly the bare loop's commands (one libvmaf
    thread per job even when few jobs are left);
  * parallel efficiency: the kit strictly one job at a time (one thread) vs the
    kit with <cores> jobs at once (target >= 0.9);
  * sharing one reference decode across the quality grid (one ffmpeg, 4 libvmaf
    branches) against one scoring command per quality level.

With `--ladder` (issue 100 item 6) it measures instead the corpus step with and without its
default ladder (`--scales native,0.5`; `--scales` picks the sets) against the same commands run
bare, A B B A, `--rounds` rounds: CPU (user + sys of the command and all it reaped, wait4)
and wall, the kit's CPU over the bare loop's (target: at most 1.0 with the ladder). Both sides
run ffmpeg through one wrapper that hands each child's CPU to GNU time, so each round also says
what the kit spends beside the bare loop's commands: its own process, the independent check,
and its encodes and scorings against the bare loop's (the rung's downscale shared). Clips of
each `--seconds` are rendered apart: the check and the kit's start are fixed per clip and step,
the jobs grow with the clip.

    python bench/bench_corpus.py [--work DIR] [--seconds 3] [--ladder [--rounds 2] [--scales 'native;native,0.5']]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import subprocess
import time
from pathlib import Path

from common import ROOT, job_scripts, kit_argv, load_average, measure, run_kit

from kit.corpus.oracle import CHECK_LOG
from kit.infra.host import core_count
from kit.media.argv import FRAME_HASHES, build_encode_argv, build_score_argv
from kit.media.cache import Sha256Cache
from kit.media.discovery import discover
from kit.media.ffmpeg import imageio_binary
from kit.media.libvmaf import escape_filter_value
from kit.platforms.encoders import get_spec

SOURCES = {
    "pattern": "testsrc2=s=1280x720:r=25",
    "fractal": "mandelbrot=s=1280x720:r=25",
    "texture": "perlin=s=1280x720:r=25:octaves=6:tscale=8:xscale=0.5:yscale=0.5:random_mode=seed:random_seed=3",
    "cells": "life=s=1280x720:r=25:mold=10:ratio=0.1:seed=4",
}
CQS = (19, 25, 31, 37)


def render_refs(ffmpeg: str, folder: Path, seconds: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, lavfi in SOURCES.items():
        dest = folder / f"{name}.y4m"
        if not dest.is_file():
            subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", lavfi,
                            "-t", str(seconds), "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe", str(dest)], check=True)


def bare_scripts(ffmpeg: str, refs: Path, work: Path, threads: int) -> list[Path]:
    """One shell script per job: the kit's own encode and score argv, nothing else."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    return job_scripts(ffmpeg, list(discover(refs, ffmpeg, Sha256Cache(None))), CQS, work, threads, threads)


def run_bare(scripts: list[Path], jobs: int) -> float:
    listing = "\n".join(str(s) for s in scripts) + "\n"
    start = time.perf_counter()
    subprocess.run(["xargs", "-P", str(jobs), "-n", "1", "bash"], input=listing, text=True, check=True)
    return time.perf_counter() - start


def run_kit_corpus(refs: Path, out: Path, jobs: int, threads: int | None = None) -> tuple[float, float, float]:
    """(wall seconds of the whole command, seconds of the corpus step itself, CPU seconds of the command).

    threads: fixed libvmaf threads (KIT_JOB_THREADS); None lets the kit choose, as a user's run does.
    """
    shutil.rmtree(out / "02_corpus", ignore_errors=True)
    env = {"KIT_JOB_THREADS": str(threads)} if threads else {}
    cpu0 = child_cpu_s()
    res, wall = run_kit("--only", "corpus", "--ref-dir", refs, "--out-dir", out, "--cqs", ",".join(map(str, CQS)),
                        "--jobs", str(jobs), "--scales", "native", env=env)  # the bare loop's jobs: no ladder
    if res.returncode != 0:
        raise SystemExit(res.stderr)
    status = json.loads((out / "02_corpus" / "status.json").read_text())
    return wall, float(status["seconds"]), child_cpu_s() - cpu0


def child_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def shared_decode(ffmpeg: str, refs: Path, work: Path) -> tuple[float, float, float, float]:
    """Scoring one clip's 4 encodes: 4 commands vs one command with 4 libvmaf branches.

    Returns (wall, cpu) of each: with every core already busy with other jobs, only
    a CPU saving would pay; a wall-time gain alone just moves work onto idle cores.
    """
    clip = discover(refs, ffmpeg, Sha256Cache(None))[0]
    spec = get_spec("libx264")
    encs = []
    for cq in CQS:
        enc = work / f"shared-{cq}.h264"
        subprocess.run(build_encode_argv(ffmpeg, clip.input_args(), spec, cq, enc), check=True,
                       capture_output=True)
        encs.append(enc)
    start, cpu0 = time.perf_counter(), child_cpu_s()
    for i, enc in enumerate(encs):
        subprocess.run(build_score_argv(ffmpeg, enc, clip.input_args(), clip.width, clip.height, clip.pix_fmt,
                                        work / f"sep-{i}.json", 1, fps=clip.fps), check=True, capture_output=True)
    separate, separate_cpu = time.perf_counter() - start, child_cpu_s() - cpu0
    n = len(encs)
    chains = [f"[{n}:v]settb=1/25,setpts=N,format={clip.pix_fmt},split={n}" + "".join(f"[r{i}]" for i in range(n))]
    for i in range(n):
        chains.append(f"[{i}:v]settb=1/25,setpts=N,format={clip.pix_fmt}[d{i}]")
        chains.append(f"[d{i}][r{i}]libvmaf=model=version=vmaf_v0.6.1:log_fmt=json:n_threads=1:"
                      f"log_path={escape_filter_value(str(work / f'shared-{i}.json'))}[o{i}]")
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-y"]
    for enc in encs:
        argv += ["-i", str(enc)]
    argv += [*clip.input_args(), "-filter_complex", ";".join(chains)]
    for i in range(n):
        argv += ["-map", f"[o{i}]", "-f", "null", "-"]
    start, cpu0 = time.perf_counter(), child_cpu_s()
    subprocess.run(argv, check=True, capture_output=True)
    return separate, time.perf_counter() - start, separate_cpu, child_cpu_s() - cpu0


LADDER = ("native", "0.5")  # the kit's default --scales
# what each ffmpeg child of either side costs: the binary run under GNU time, one line a child appended to $ACCT_LOG
ACCOUNTED = """#!/bin/sh
exec /usr/bin/time -a -o "${{ACCT_LOG:-/dev/null}}" -f '%U %S|%C' {ffmpeg} "$@"
"""
STATUS_LINES = ("Command exited", "Command terminated", "Command stopped")  # GNU time's lines besides its own


def accounted_ffmpeg(ffmpeg: str, folder: Path) -> str:
    """An ffmpeg that runs `ffmpeg` and appends its CPU and argv to $ACCT_LOG (both sides run it: the same wrapper)."""
    if not Path("/usr/bin/time").is_file():
        raise SystemExit("--ladder accounts each ffmpeg child by GNU time: install it (apt-get install time)")
    wrapper = folder / "ffmpeg"
    folder.mkdir(parents=True, exist_ok=True)
    wrapper.write_text(ACCOUNTED.format(ffmpeg=shlex.quote(ffmpeg)))
    wrapper.chmod(0o755)
    return str(wrapper)


def child_kind(argv: str) -> str:
    """An accounted child by what it did: the independent check (by its log's name), a scoring, a clip's fingerprint
    (its decoded pictures' hashes, the kit's FRAME_HASHES output, which a look at a master writes too: made once a
    clip on a box, then read from the cache, so in the first round alone), an encode."""
    if "libvmaf" in argv:
        return "check" if CHECK_LOG in argv else "score"
    if " ".join(FRAME_HASHES) in argv:  # GNU time's %C: the argv joined by spaces
        return "identity"
    return "encode" if " -c:v " in argv else "other"


def accounted(log: Path) -> tuple[dict[str, float], int]:
    """(CPU seconds, user + sys, of the children in `log` by child_kind; how many children). A line neither GNU
    time's figures nor one of its status lines stops the bench: a figure is never dropped unsaid."""
    out: dict[str, float] = {}
    children = 0
    for line in log.read_text().splitlines():
        times, sep, argv = line.partition("|")
        fields = times.split()
        if line.startswith(STATUS_LINES):
            continue
        if not sep or len(fields) != 2:
            raise SystemExit(f"{log}: {line[:80]!r} is not a line of GNU time's")
        out[child_kind(argv)] = out.get(child_kind(argv), 0.0) + float(fields[0]) + float(fields[1])
        children += 1
    if not children:
        raise SystemExit(f"{log}: no child accounted (did the wrapper run?)")
    return out, children


def wrapper_cost(accounting: str, folder: Path, runs: int = 20) -> float:
    """CPU seconds a child costs beside what GNU time says of it (time's and sh's own, %U and %S cut to hundredths):
    `runs` runs of `ffmpeg -version` through the wrapper, their wait4 less their lines, a run."""
    log = folder / "cost.log"
    log.unlink(missing_ok=True)
    whole = sum(measure([accounting, "-hide_banner", "-version"], env={"ACCT_LOG": str(log)}).cpu for _ in range(runs))
    found, children = accounted(log)
    return max(0.0, (whole - sum(found.values())) / children)


def ladder_rounds(ffmpeg: str, refs: Path, out: Path, work: Path, rounds: int, scale_sets: list[tuple[str, ...]],
                  logs: Path, per_child: float) -> None:
    """The corpus step at each of `scale_sets` against the same per-job commands run bare (`xargs -P <cores>`),
    A B B A (each round's order the last one's reversed): CPU (wait4: user + sys of the command and all it reaped)
    and wall. Each ffmpeg child is accounted (both sides run `ffmpeg`, a wrapper), so the kit's CPU comes apart:
    its own process (the whole less its children), the independent check, and the jobs' encodes and scorings
    against the bare loop's same commands; `per_child`: the wrapper's own CPU a child, taken out of each side's own."""
    cores = core_count()
    rows: dict[str, list[tuple[float, float, float]]] = {}
    for r in range(rounds):
        for n, scales in enumerate(scale_sets):
            said = ",".join(scales)
            scripts = job_scripts(ffmpeg, list(discover(refs, ffmpeg, Sha256Cache(None))), CQS, fresh(work), 1, 1,
                                  scales)
            listing = "\n".join(str(s) for s in scripts) + "\n"
            (work / "list.txt").write_text(listing)
            bare_log, kit_log = logs / f"bare-{r}-{n}-{said}.log", logs / f"kit-{r}-{n}-{said}.log"
            shutil.rmtree(out / "02_corpus", ignore_errors=True)
            sides: dict[str, tuple[list[str | Path], Path]] = {
                "bare": (["bash", "-c", f"xargs -P {cores} -n 1 bash < {work / 'list.txt'}"], bare_log),
                "kit": ([*kit_argv(), "--only", "corpus", "--ref-dir", refs, "--out-dir", out, "--cqs",
                         ",".join(map(str, CQS)), "--jobs", str(cores), "--scales", said], kit_log)}
            # A B, then B A: a drift of the box within a round falls on each side in turn (the same commands were
            # seen costing 4 to 9 % more or less from one run to the next)
            order = ("bare", "kit") if r % 2 == 0 else ("kit", "bare")
            took = {side: measure(sides[side][0], env={"ACCT_LOG": str(sides[side][1])}) for side in order}
            bare, kit = took["bare"], took["kit"]
            if kit.rc != 0 or bare.rc != 0:
                raise SystemExit(f"kit exit {kit.rc}, bare exit {bare.rc}")
            (k, k_n), (b, b_n) = accounted(kit_log), accounted(bare_log)
            k_jobs, b_jobs = k.get("encode", 0) + k.get("score", 0), b.get("encode", 0) + b.get("score", 0)
            k_own = kit.cpu - sum(k.values()) - k_n * per_child
            b_own = bare.cpu - sum(b.values()) - b_n * per_child
            # made once a clip on the box and cached (an empty cache: the first round's alone): not a run's cost
            once = k.get("identity", 0.0)
            rows.setdefault(said, []).append(((kit.cpu - once) / bare.cpu, kit.wall / bare.wall, k_jobs / b_jobs))
            print(f"round {r + 1} ({' then '.join(order)}), --scales {said}: {len(scripts)} jobs; bare CPU "
                  f"{bare.cpu:.1f} s wall {bare.wall:.1f} s; kit CPU {kit.cpu:.1f} s wall {kit.wall:.1f} s; "
                  f"kit / bare CPU {kit.cpu / bare.cpu:.3f}, less the clips' fingerprints "
                  f"{(kit.cpu - once) / bare.cpu:.3f}; load {load_average()}", flush=True)
            print(f"  kit ({k_n} children): its own process {k_own:.2f} s, the check {k.get('check', 0):.2f} s, "
                  f"the clips' fingerprints {once:.2f} s, "
                  f"encodes {k.get('encode', 0):.1f} s, scorings {k.get('score', 0):.1f} s, other "
                  f"{k.get('other', 0):.2f} s; bare ({b_n} children): xargs and bash {b_own:.2f} s, encodes "
                  f"{b.get('encode', 0):.1f} s, scorings {b.get('score', 0):.1f} s, other {b.get('other', 0):.2f} s; "
                  f"the jobs' encodes and scorings, kit / bare {k_jobs / b_jobs:.3f}; each side's own less the "
                  f"wrapper's {per_child:.4f} s a child", flush=True)
    for said, ratios in rows.items():
        print(f"--scales {said}: kit / bare CPU, less the clips' fingerprints, "
              + ", ".join(f"{c:.3f}" for c, _, _ in ratios)
              + "; wall (with them) " + ", ".join(f"{w:.3f}" for _, w, _ in ratios)
              + "; the jobs' encodes and scorings " + ", ".join(f"{j:.3f}" for _, _, j in ratios))


def fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "corpus720")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--ladder", action="store_true", help="the step with and without its ladder against bare")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--scales", default="native;native,0.5",
                    help="with --ladder: the step's --scales to measure, sets apart by ';'")
    args = ap.parse_args()
    ffmpeg = str(imageio_binary())
    cores = core_count()
    refs, out = args.work / f"refs-{args.seconds:g}s", args.work / "kit"  # clips of each length apart
    render_refs(ffmpeg, refs, args.seconds)
    if args.ladder:
        # every flag of the kit reads a KIT_ variable: none may come from the caller, but where the cache lives
        for var in [v for v in os.environ if v.startswith("KIT_") and v != "KIT_CACHE_DIR"]:
            os.environ.pop(var)
        accounting = accounted_ffmpeg(ffmpeg, args.work / "accounted")
        # the prereqs and every round run the wrapper; what no round accounts goes nowhere
        os.environ.update(KIT_FFMPEG=accounting, ACCT_LOG=os.devnull)
        res, _ = run_kit("--only", "prereqs", "--out-dir", out, "--cqs", ",".join(map(str, CQS)), "--scales",
                         ",".join(LADDER))
        if res.returncode != 0:
            raise SystemExit(res.stderr)
        logs = fresh(args.work / "accounts")
        ladder_rounds(accounting, refs, out, args.work / "bare", args.rounds,
                      [tuple(s.split(",")) for s in args.scales.split(";")], logs, wrapper_cost(accounting, logs))
        return
    res, _ = run_kit("--only", "prereqs", "--out-dir", out, "--cqs", ",".join(map(str, CQS)), "--scales", "native")
    if res.returncode != 0:
        raise SystemExit(res.stderr)
    n_jobs = len(SOURCES) * len(CQS)
    print(f"{n_jobs} jobs: {len(SOURCES)} clips 1280x720 x {args.seconds:g} s x {len(CQS)} cqs, libx264; "
          f"{cores} cores")

    threads = 1  # what the kit picks with one job per core (cores // jobs)
    for var in ("KIT_JOB_THREADS", "KIT_JOBS"):  # the kit's own choice must not inherit the caller's
        os.environ.pop(var, None)
    # Every configuration twice, interleaved, and the best of each kept: this box's own
    # run-to-run spread (about 2 %) is as large as the effects being measured.
    bare, kit, kit_same, kit_one, bare_one = [], [], [], [], []
    for _ in range(2):
        bare.append(run_bare(bare_scripts(ffmpeg, refs, args.work / "bare", threads), cores))
        kit.append(run_kit_corpus(refs, out, cores))  # the kit's own choice: 1 thread per job, more at the tail
        kit_same.append(run_kit_corpus(refs, out, cores, threads))  # exactly the bare loop's commands
        kit_one.append(run_kit_corpus(refs, out, 1, 1))  # strictly one thing at a time: the baseline
        bare_one.append(run_bare(bare_scripts(ffmpeg, refs, args.work / "bare", threads), 1))
    separate, shared, separate_cpu, shared_cpu = shared_decode(ffmpeg, refs, args.work / "bare")

    bare_best, bare_one_best = min(bare), min(bare_one)
    kit_wall, kit_step = min(k[0] for k in kit), min(k[1] for k in kit)
    same_wall = min(k[0] for k in kit_same)
    one = min(kit_one, key=lambda k: k[1])
    one_step = one[1]
    runs = lambda xs: " / ".join(f"{x:.1f}" for x in xs)  # noqa: E731
    print(f"\n{'':58s} {'best':>7s}   runs")
    print(f"{'bare shell loop, xargs -P ' + str(cores):58s} {bare_best:7.1f}   {runs(bare)}")
    print(f"{'kit corpus step, --jobs ' + str(cores) + ' (whole command)':58s} {kit_wall:7.1f}   "
          f"{runs([k[0] for k in kit])}")
    print(f"{'kit corpus step, --jobs ' + str(cores) + ' (step only)':58s} {kit_step:7.1f}   "
          f"{runs([k[1] for k in kit])}")
    print(f"{'kit, --jobs ' + str(cores) + ', 1 thread always (whole command)':58s} {same_wall:7.1f}   "
          f"{runs([k[0] for k in kit_same])}")
    print(f"{'kit corpus step, --jobs 1, 1 thread (step only)':58s} {one_step:7.1f}   "
          f"{runs([k[1] for k in kit_one])}")
    print(f"{'bare shell loop, xargs -P 1':58s} {bare_one_best:7.1f}   {runs(bare_one)}")
    print(f"{'score 4 encodes of one clip: 4 commands':58s} {separate:7.2f}   (cpu {separate_cpu:.2f} s)")
    print(f"{'score 4 encodes of one clip: 1 command, shared reference':58s} {shared:7.2f}   "
          f"(cpu {shared_cpu:.2f} s)")
    efficiency = one_step / (cores * kit_step)
    # One job alone already keeps more than one core busy (ffmpeg decodes the encode on
    # its own thread while libvmaf runs), so no scheduler can beat wall/cpu of that run
    # (both of the whole command, Python start-up included).
    ceiling = min(1.0, one[0] / one[2])
    print("\nratios (measured side by side in this run):")
    print(f"  kit / bare, whole command:   {kit_wall / bare_best:5.3f}   target <= 1.05")
    print(f"  kit / bare, step only:       {kit_step / bare_best:5.3f}")
    print(f"  kit / bare, same commands:   {same_wall / bare_best:5.3f}   (whole command, no extra threads "
          "at the tail)")
    print(f"  parallel efficiency:         {efficiency:5.3f}   target >= 0.9  (1 job at a time vs {cores})")
    print(f"  ... of the bare loop itself: {bare_one_best / (cores * bare_best):5.3f}   (what this box allows)")
    print(f"  ... reachable at most:       {ceiling:5.3f}   (one job alone keeps {one[2] / one[0]:.2f} cores busy)")
    print(f"  shared reference decode:     wall {shared / separate:5.3f}, cpu {shared_cpu / separate_cpu:5.3f}   "
          "(pays on a busy box only if cpu < 1)")
    ok = kit_wall / bare_best <= 1.05 and efficiency >= 0.9
    print(f"\n{'PASS' if ok else 'FAIL'}")


if __name__ == "__main__":
    main()
