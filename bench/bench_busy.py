#!/usr/bin/env python3
"""A busy box: the LOSO and bundle steps with every core already taken, against an idle box.

On the default demo corpus (9 clips x 4 cqs, 2,700 rows), in one run:
  * idle: `--only loso --force`, then `--only bundle --force` (refit, ONNX, parity, report, tarball);
  * busy: the same, with one CPU hog (`python -c 'while True: pass'`) per core running beside it.
Each figure is the kit process's own wall and CPU (user + sys, its children included, from
wait4: the hogs never count). Targets, for this checkout:
  * busy CPU  <= 1.3 x idle CPU   (a kit that spins burns the CPU the hogs want);
  * busy wall <= 2.5 x idle wall  (the fair share with as many hogs as cores is 2x);
  * with --baseline-kit: idle wall and CPU no more than 10 % worse than the baseline's,
    measured side by side in the same run (e.g. the kit before the change:
    `git worktree add /tmp/kit-before 875f7f8`).
Every measurement runs --rounds times (default 2), interleaved; the best of each is kept.
A command that runs past --limit x its idle wall is stopped and shown as `>N`.

    python bench/bench_busy.py [--baseline-kit PATH] [--rounds 2] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from common import ROOT, Measured, demo_corpus, hogs, kit_argv, load_average, measure

STEPS = ("loso", "bundle")
CPU_TARGET, WALL_TARGET, IDLE_TARGET = 1.3, 2.5, 1.10


@dataclass
class Kit:
    label: str
    root: Path
    out: Path
    runs: dict[tuple[str, str], list[Measured]] = field(default_factory=dict)

    def command(self, corpus: Path, *args: str) -> list[str | Path]:
        return [*kit_argv(self.root), "--corpus", corpus, "--out-dir", self.out, *args]

    def env(self) -> dict[str, str]:
        return {"PYTHONPATH": str(self.root)}

    def best(self, step: str, load: str) -> Measured | None:
        runs = self.runs.get((step, load), [])
        done = [m for m in runs if not m.timed_out]
        if done:
            return min(done, key=lambda m: m.wall)
        return max(runs, key=lambda m: m.wall) if runs else None


def prepare(kit: Kit, corpus: Path) -> None:
    """A complete run of this kit on the corpus, so each step can be rerun alone."""
    shutil.rmtree(kit.out, ignore_errors=True)
    res = measure(kit.command(corpus), kit.env(), log=kit.out.parent / f"{kit.out.name}-prepare.log")
    if res.rc not in (0, 1):
        raise SystemExit(f"{kit.label}: the preparing run failed (exit {res.rc}):\n{res.output[-3000:]}")


def one_round(kits: list[Kit], corpus: Path, load: str, limit: float, logs: Path) -> list[Kit]:
    """Each kit's steps once (bundle first: it needs a complete LOSO); returns the kits whose LOSO was stopped."""
    stopped = []
    for kit in kits:
        for step in reversed(STEPS):
            idle = kit.best(step, "idle")
            timeout = None if load == "idle" or idle is None else max(60.0, limit * idle.wall)
            n = len(kit.runs.get((step, load), []))
            log = logs / f"{kit.label}-{step}-{load}-{n}.log"
            m = measure(kit.command(corpus, "--only", step, "--force"), kit.env(), timeout, log)
            if m.rc not in (0, 1) and not m.timed_out:
                raise SystemExit(f"{kit.label} {step} ({load}) failed, exit {m.rc}:\n{m.output[-3000:]}")
            kit.runs.setdefault((step, load), []).append(m)
            print(f"  {kit.label:7s} {step:7s} {load:5s} wall {m.show('wall'):>7s} s  cpu {m.show('cpu'):>7s} s  "
                  f"(load average {load_average()})", flush=True)
            if m.timed_out and step == "loso":
                stopped.append(kit)
    return stopped


def ratio(a: Measured | None, b: Measured | None, what: str) -> tuple[float, str]:
    """a / b, and how to print it ('>' when a was stopped before its end)."""
    if a is None or b is None:
        return float("nan"), "n/a"
    value = getattr(a, what) / getattr(b, what)
    return value, f"{'>' if a.timed_out else ''}{value:.2f}"


def report(kits: list[Kit]) -> bool:
    print(f"\n{'':15s} {'idle wall':>10s} {'busy wall':>10s} {'ratio':>6s}   {'idle cpu':>9s} {'busy cpu':>9s} "
          f"{'ratio':>6s}")
    for kit in kits:
        for step in STEPS:
            idle, busy = kit.best(step, "idle"), kit.best(step, "busy")
            if idle is None or busy is None:
                continue
            print(f"{kit.label:7s} {step:7s} {idle.show('wall'):>10s} {busy.show('wall'):>10s} "
                  f"{ratio(busy, idle, 'wall')[1]:>6s}   {idle.show('cpu'):>9s} {busy.show('cpu'):>9s} "
                  f"{ratio(busy, idle, 'cpu')[1]:>6s}")
    ok = True
    after = kits[0]
    print("\ntargets (this checkout):")
    for step in STEPS:
        idle, busy = after.best(step, "idle"), after.best(step, "busy")
        for what, target in (("cpu", CPU_TARGET), ("wall", WALL_TARGET)):
            value, text = ratio(busy, idle, what)
            passed = busy is not None and not busy.timed_out and value <= target
            ok &= passed
            print(f"  {step:7s} busy {what:4s} / idle {what:4s} {text:>6s}  target <= {target}  "
                  f"{'PASS' if passed else 'FAIL'}")
    for before in kits[1:]:
        for step in STEPS:
            for what in ("wall", "cpu"):
                value, text = ratio(after.best(step, "idle"), before.best(step, "idle"), what)
                passed = value <= IDLE_TARGET
                ok &= passed
                print(f"  {step:7s} idle {what:4s}, this / {before.label} {text:>6s}  target <= {IDLE_TARGET}  "
                      f"{'PASS' if passed else 'FAIL'}")
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline-kit", type=Path, help="another kit checkout, measured side by side")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--limit", type=float, default=10.0, help="stop a busy command past this x its idle wall")
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "busy")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("KIT_CACHE_DIR", str(args.work / "cache"))
    corpus = demo_corpus(args.work / "demo")
    kits = [Kit("this", ROOT, args.work / "this")]
    if args.baseline_kit is not None:
        kits.append(Kit("before", args.baseline_kit.resolve(), args.work / "before"))
    print(f"corpus {corpus} ({os.cpu_count()} cpus, {len(os.sched_getaffinity(0))} usable); "
          f"load average {load_average()}")
    for kit in kits:
        prepare(kit, corpus)
    threads = json.loads((kits[0].out / "run.json").read_text()).get("threads")
    print(f"this checkout's threads (run.json): {threads}")
    logs = args.work / "logs"
    logs.mkdir(exist_ok=True)
    for r in range(args.rounds):
        print(f"round {r + 1} of {args.rounds}: idle")
        one_round(kits, corpus, "idle", args.limit, logs)
        with hogs() as n:
            print(f"round {r + 1} of {args.rounds}: busy ({n} hogs)")
            stopped = one_round(kits, corpus, "busy", args.limit, logs)
        for kit in stopped:  # a stopped LOSO leaves no predictions for the next bundle: redo it, idle
            prepare(kit, corpus)
    ok = report(kits)
    print(f"\nload average at the end {load_average()}")
    print("PASS" if ok else "FAIL")


if __name__ == "__main__":
    main()
