#!/usr/bin/env python3
"""The run's ETA against the truth, and the constants of its prior (kit.model.cost, kit.platforms.speed).

Each round runs the one command with --json (the demo unless --ref-dir) and reads its events as they come:

  * the estimate at 10, 30, 60, 90 and 120 s, the last with more than 5 s left and the very last `eta` event,
    against the true time left (the run's `run_finished.seconds` less the event's `elapsed_s`), and when the first
    estimate came;
  * the worst ratios over every estimate with more than 5 s left;
  * the load average before and after (the box is shared: a run is only as steady as its neighbours);
  * what this run says the prior's constants are: libvmaf's speed step 01 measured, LOSO's training seconds per
    parameter-step (kit.model.schedule's plan of its jobs, from the first epoch event to the last) and the LOSO,
    verdict and bundle seconds outside training, each brought back to the reference box by the run's slowness.

    python bench/bench_eta.py [--rounds 2] [--ref-dir DIR] [--work DIR] [-- extra run flags]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, kit_argv, load_average

MARKS = (10, 30, 60, 90, 120)


def run_round(out: Path, extra: list[str]) -> tuple[list[tuple[float, dict]], str, str]:
    """The run's events, each with the seconds since the command started when it was read; the load before, after."""
    before = load_average()
    shutil.rmtree(out, ignore_errors=True)
    start = time.monotonic()
    proc = subprocess.Popen([*kit_argv(), "--json", "--out-dir", str(out), *extra], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    events = [(time.monotonic() - start, json.loads(line)) for line in proc.stdout]
    proc.wait()
    with open(out.with_suffix(".events"), "w", encoding="utf-8") as fh:  # each event with when it was read
        fh.writelines(f"{t:.2f} {json.dumps(e)}\n" for t, e in events)
    return events, before, load_average()


def ratios(events: list[tuple[float, dict]]) -> tuple[list[str], float, float, float]:
    """The table's rows, when the first estimate came (seconds since the command started, Python's start-up
    included), the lowest and the highest ratio (more than 5 s left)."""
    end = next(e["seconds"] for _, e in events if e["event"] == "run_finished")
    etas = [e for _, e in events if e["event"] == "eta"]
    rows = []
    for mark in (*MARKS, None, "end"):
        if mark == "end":  # the last estimate of all: a few seconds of the report and the tarball, in seconds
            seen = etas
        else:  # the last one with more than 5 s left, where a ratio means something
            seen = [e for e in etas if (mark is None or e["elapsed_s"] <= mark) and end - e["elapsed_s"] > 5]
        if not seen or (isinstance(mark, int) and mark > end):
            continue
        e = seen[-1]
        truth = end - e["elapsed_s"]
        label = f"{mark} s" if isinstance(mark, int) else "last over 5 s left" if mark is None else "the last"
        rows.append(f"| {label} | {e['elapsed_s']:.1f} | {e['seconds_left']:.1f} | {truth:.1f} | "
                    f"{e['seconds_left'] / max(truth, 1e-9):.2f} | {e['step']} |")
    spread = [e["seconds_left"] / (end - e["elapsed_s"]) for e in etas if end - e["elapsed_s"] > 5]
    arrived = next((t for t, e in events if e["event"] == "eta"), float("nan"))  # since the command started
    return rows, arrived, min(spread, default=0), max(spread, default=0)


def constants(out: Path, events: list[tuple[float, dict]]) -> str:
    """The prior's constants as this run measured them, brought back to the reference box."""
    sys.path.insert(0, str(ROOT))
    from kit.model.cost import SECONDS_PER_UNIT, loso_shapes
    from kit.model.recipe import TrainConfig
    from kit.model.schedule import plan_jobs
    from kit.model.threads import choose_threads
    from kit.platforms.speed import BoxSpeed

    prereqs = json.loads((out / "01_prereqs" / "prereqs.json").read_text())
    speed = BoxSpeed.from_json(prereqs["speed"])
    seed = json.loads(next((out / "03_loso").glob("loso_seed*.json")).read_text())
    rows, folds, seeds = seed["corpus"]["rows"], seed["n_folds"], len(json.loads(
        (out / "04_verdict" / next(p.name for p in (out / "04_verdict").glob("*.json") if p.stem in (
            "PROMOTE", "HOLD"))).read_text())["seeds"])
    workers = choose_threads().train
    config = TrainConfig()
    units = sum(p.total for p in plan_jobs(loso_shapes(rows, folds, seeds, config), config, workers))
    parts = steps_seconds(events)
    per_unit = parts["loso_training"] * workers / units / speed.slowness
    return (f"libvmaf {speed.score_fps:.0f} fps (slowness {speed.slowness:.2f}); LOSO {units:.3g} parameter-steps "
            f"trained in {parts['loso_training']:.1f} s on {workers} workers: {per_unit:.3g} s per parameter-step "
            f"at the reference (kit's {SECONDS_PER_UNIT:.3g}); outside training, at the reference: LOSO "
            f"{parts['loso_rest'] / speed.slowness:.2f} s, verdict {parts['verdict'] / speed.slowness:.2f} s, "
            f"bundle {parts['bundle_rest'] / speed.slowness:.2f} s (its refit {parts['bundle_training']:.1f} s)")


def steps_seconds(events: list[tuple[float, dict]]) -> dict[str, float]:
    """Each step's seconds (by its events' arrival), and LOSO's and the bundle's training (first to last epoch)."""
    start: dict[str, float] = {}
    took: dict[str, float] = {}
    epochs: dict[str, list[float]] = {}
    for t, e in events:
        if e["event"] == "step_started":
            start[e["step"]] = t
        elif e["event"] == "step_finished" and e["step"] in start:
            took[e["step"]] = t - start[e["step"]]
        elif e["event"] == "epoch":
            epochs.setdefault(e["step"], []).append(t)
    training = {step: ts[-1] - ts[0] for step, ts in epochs.items()}
    return {"loso_training": training.get("loso", 0.0), "loso_rest": took.get("loso", 0.0) - training.get("loso", 0),
            "verdict": took.get("verdict", 0.0), "bundle_training": training.get("bundle", 0.0),
            "bundle_rest": took.get("bundle", 0.0) - training.get("bundle", 0.0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--ref-dir", type=Path)
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "eta")
    ap.add_argument("extra", nargs="*", help="more flags of `run` (after --)")
    args = ap.parse_args()
    extra = [*(["--ref-dir", str(args.ref_dir)] if args.ref_dir else []), *args.extra]
    for n in range(1, args.rounds + 1):
        out = args.work / f"round{n}"
        events, before, after = run_round(out, extra)
        rows, first, low, high = ratios(events)
        print(f"\nround {n}: load average {before} before, {after} after; first estimate at {first:.1f} s; "
              f"ratio (estimate / truth, over 5 s left) from {low:.2f} to {high:.2f}")
        print("| at | elapsed s | estimate s | truth s | ratio | step |\n|---|---:|---:|---:|---:|---|")
        print("\n".join(rows))
        print(constants(out, events))


if __name__ == "__main__":
    main()
