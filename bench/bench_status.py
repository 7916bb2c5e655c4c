#!/usr/bin/env python3
"""`status`'s cost, the whole process (its start-up and imports included), beside another checkout of the kit (the
code before a change: `git archive <commit> | tar -x -C DIR`, or a worktree set up by its own install.py; run by its
own `.venv`'s Python where it has one, else by this kit's), the two asked in turn A B A B
so the box's drift falls on both (issue 77: `status` at most 0.5 s of CPU on a finished or running out-dir).

    python bench/bench_status.py --baseline-kit DIR [--work DIR] [--rounds N] [--real a.mp4,b.avi] [--no-real]
                                [--busy N]

CPU is user + sys of the command and all it reaped (wait4), wall beside it; each figure the median of the rounds,
min and max beside it. Three states:

- the finished demo: each kit's own default run on the embedded clips, made once in the work folder;
- a running box of whole real files (bench_default's three, fetched by sha256): this kit's default run started in
  the background, both kits' `status` asked in turn while it runs, each answer filed under the step it said running
  (an older kit refuses this kit's out-dir: its side then shows its exit, not a cost);
- that box finished;
- with --busy N: the finished demo again, N CPU hogs (`python -c 'while True: pass'`) running beside both kits' asks,
  a box loaded by others (N = 8 on 2 cores: a load of about 8 to 10).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_default import REAL, real_box
from common import ROOT, Measured, hogs, load_average, measure

TARGET_CPU_S = 0.5
PAUSE_S = 2.0  # between two pairs asked of a running box: the run keeps most of the box


def python_of(root: Path) -> str:
    """The Python a checkout runs on: its own set-up's (`.venv`, what its install.py made: an older kit needs its
    own dependencies), else this one's."""
    own = root / ".venv" / "bin" / "python"
    return str(own) if own.is_file() else sys.executable


def status(root: Path, out: Path, env: dict[str, str]) -> Measured:
    """`python -m kit status OUT` of the kit at `root` (python -m imports the kit of the folder it runs in)."""
    return measure([python_of(root), "-m", "kit", "status", out], cwd=root, env=env, log=out.parent / "status.log")


def running_step(output: str) -> str | None:
    found = [line.split()[1] for line in output.splitlines() if " running " in f" {line} " and line.startswith("  ")]
    return found[0] if found else None


def finished_demo(work: Path, base: Path, env: dict[str, str]) -> tuple[Path, Path]:
    """Each kit's own finished demo out-dir, made once by its own default run and kept in the work folder (an older
    kit refuses a newer kit's out-dir: its run.json holds keys it does not know)."""
    made = []
    for root, out in ((ROOT, work / "demo-this"), (base, work / "demo-baseline")):
        if not (out / "05_bundle" / "status.json").is_file():
            shutil.rmtree(out, ignore_errors=True)
            run = measure([python_of(root), "-m", "kit", "run", "--out-dir", out], cwd=root, env=env,
                          log=work / f"{out.name}.log")
            print(f"{out.name}: the demo run of {root}: exit {run.rc}, {run.cpu:.1f} s CPU, {run.wall:.1f} s wall",
                  flush=True)
        made.append(out)
    return made[0], made[1]


def rounds(base: Path, mine: Path, theirs: Path, env: dict[str, str], n: int) -> list[tuple[Measured, Measured]]:
    return [(status(ROOT, mine, env), status(base, theirs, env)) for _ in range(n)]


def while_running(base: Path, out: Path, refs: Path, env: dict[str, str]) -> dict[str, list[tuple[Measured, Measured]]]:
    """Both kits' `status` of `out` in turn while this kit's default run on `refs` makes it, by the step running."""
    shutil.rmtree(out, ignore_errors=True)
    with open(out.parent / f"{out.name}.log", "w") as log:
        run = subprocess.Popen([sys.executable, "-m", "kit", "run", "--ref-dir", str(refs), "--out-dir", str(out)],
                               cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL)
        by_step: dict[str, list[tuple[Measured, Measured]]] = {}
        while run.poll() is None:
            time.sleep(PAUSE_S)
            if not (out / "run.json").is_file():
                continue
            a, b = status(ROOT, out, env), status(base, out, env)
            step = running_step(a.output)
            if step is not None and run.poll() is None:
                by_step.setdefault(step, []).append((a, b))
        print(f"the whole files' run: exit {run.returncode}", flush=True)
    return by_step


def line(state: str, pairs: list[tuple[Measured, Measured]]) -> str:
    """A row of the table; a side whose `status` did not answer (an exit other than 0, as an older kit refusing a
    newer kit's out-dir) shows its exits, not its CPU: that is the cost of a refusal, not of a status."""
    def fig(values: list[float]) -> str:
        return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"

    def side(ms: list[Measured]) -> str:
        bad = sorted({m.rc for m in ms if m.rc != 0})
        return f"no answer (exit {', '.join(map(str, bad))})" if bad else fig([m.cpu for m in ms])

    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    both = all(m.rc == 0 for m in a + b)
    ratio = f"{statistics.median(x.cpu / y.cpu for x, y in pairs):.2f}" if both else "-"
    return (f"| {state} | {len(pairs)} | {side(a)} | {side(b)} | {ratio} | "
            f"{statistics.median(m.wall for m in a):.2f} | {statistics.median(m.wall for m in b):.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline-kit", type=Path, required=True, help="another checkout of the kit (the code before)")
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "status")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--real", default=",".join(REAL), help="whole real files of tests/data/publicclips.toml")
    ap.add_argument("--no-real", action="store_true", help="the demo alone")
    ap.add_argument("--busy", type=int, default=0, help="also the finished demo with this many CPU hogs beside it")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    base = args.baseline_kit.resolve()
    env = {"KIT_CACHE_DIR": str(args.work / "cache")}
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # as a user runs it: the .pyc written once, then read
    mine, theirs = finished_demo(args.work, base, env)
    rounds(base, mine, theirs, env, 1)  # each kit's .pyc written
    table = {"finished demo": rounds(base, mine, theirs, env, args.rounds)}
    print(f"load {load_average()}", flush=True)
    if args.busy:
        with hogs(args.busy):
            time.sleep(60)  # the one-minute load average climbs to the hogs (the figure printed)
            load = load_average()
            table[f"finished demo, {args.busy} hogs beside it (load {load.split()[0]})"] = \
                rounds(base, mine, theirs, env, args.rounds)
            print(f"load with {args.busy} hogs: before {load}, after {load_average()}", flush=True)
    if not args.no_real:
        refs = real_box(args.work, args.real.split(","))
        out = args.work / "real"
        for step, pairs in while_running(base, out, refs, env).items():
            table[f"whole files, {step} running"] = pairs
        table["whole files, finished"] = rounds(base, out, out, env, args.rounds)
        print(f"load {load_average()}", flush=True)
    print("\n| state | rounds | this kit: CPU s, median (min-max) | baseline: CPU s | CPU ratio (median of pairs) | "
          "wall s, this kit | wall s, baseline |\n|---|---|---|---|---|---|---|")
    for state, pairs in table.items():
        print(line(state, pairs))
    worst = max(statistics.median(p[0].cpu for p in pairs) for pairs in table.values())
    print(f"\nthis kit's largest median: {worst:.3f} s of CPU (target <= {TARGET_CPU_S}: "
          f"{'PASS' if worst <= TARGET_CPU_S else 'FAIL'})")


if __name__ == "__main__":
    main()
