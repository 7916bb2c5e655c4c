#!/usr/bin/env python3
"""The run's ETA against the truth, on a box made busy, and the constants of its unit of work (kit.model.cost).

Each round runs the one command with --json (the demo unless --ref-dir), with --load busy Python loops beside it for
the whole round (killed after it), and reads its events and its human lines (stderr, piped) as they come:

  * the ETA table: the first estimate with a figure (when, at what share of the work), the estimate at a tenth of
    the work, each against the true time left (`run_finished.seconds` less the event's `elapsed_s`);
  * the worst ratios of every estimate after a tenth of the work with more than 5 s left;
  * the longest silence of the human lines (piped, they say what is done at least every 30 s);
  * the load average before and after, and the constants this run implies: the corpus's work a second, LOSO's
    parameter-steps a second (kit.model.schedule's plan of its jobs) and the steps' seconds outside training.

    python bench/bench_eta.py [--rounds 2] [--load 2] [--ref-dir DIR] [--work DIR] [-- extra run flags]

Each round's events are saved beside its out-dir (`roundN.events`: the seconds since the command started, then the
event): bench/replay_eta.py feeds them to kit.report.eta again, so a change to the estimator is tried in seconds.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from common import ROOT, hogs, kit_argv, load_average

Events = list[tuple[float, dict]]


def run_round(out: Path, extra: list[str]) -> tuple[Events, list[float]]:
    """The run's events, each with the seconds since the command started when it was read; when each human line
    came."""
    shutil.rmtree(out, ignore_errors=True)
    start = time.monotonic()
    proc = subprocess.Popen([*kit_argv(), "--json", "--out-dir", str(out), *extra], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    said: list[float] = []
    reader = threading.Thread(target=lambda: said.extend(time.monotonic() - start for _ in proc.stderr or ()))
    reader.start()
    events = [(time.monotonic() - start, json.loads(line)) for line in proc.stdout]
    proc.wait()
    reader.join()
    with open(out.with_suffix(".events"), "w", encoding="utf-8") as fh:  # each event with when it was read
        fh.writelines(f"{t:.2f} {json.dumps(e)}\n" for t, e in events)
    return events, said


def table(events: Events) -> tuple[list[str], float, float]:
    """The ETA table's rows (the first figure, the first at a tenth of the work, the run's length), and the lowest
    and highest ratio after a tenth of the work (more than 5 s left)."""
    end = next(e["seconds"] for _, e in events if e["event"] == "run_finished")
    figures = [e for _, e in events if e["event"] == "eta" and e["seconds_left"] is not None]
    rows = []
    for label, seen in (("first estimate", figures[:1]), ("at 10 % of the work",
                                                           [e for e in figures if e["done"] >= 0.1][:1])):
        for e in seen:
            truth = end - e["elapsed_s"]
            rows.append(f"| {label} | {e['elapsed_s']:.1f} | {100 * e['done']:.0f} % | {e['seconds_left']:.1f} | "
                        f"{truth:.1f} | {e['seconds_left'] / max(truth, 1e-9):.2f} |")
    rows.append(f"| the run | | | | {end:.1f} | |")
    spread = [e["seconds_left"] / (end - e["elapsed_s"]) for e in figures
              if e["done"] >= 0.1 and end - e["elapsed_s"] > 5]
    return rows, min(spread, default=0), max(spread, default=0)


def constants(events: Events) -> str:
    """What this run says the unit of work's constants are (kit.model.cost): the corpus's work a second, and what a
    unit of LOSO's and the refit's counted training (their `forecast`, at the kit's exchange rate) was worth in it."""
    sys.path.insert(0, str(ROOT))
    from kit.model.cost import PACE, WORK_PER_PARAM_STEP

    counted = {e["step"]: e["training"] for _, e in events if e["event"] == "forecast"}  # each step's last
    parts = steps_seconds(events)
    pace = parts["corpus_work"] / max(parts["corpus_jobs"], 1e-9)
    rate = {step: WORK_PER_PARAM_STEP * pace * parts[f"{step}_training"] / max(counted.get(step, 0), 1e-9)
            for step in ("loso", "bundle")}
    return (f"corpus {pace:.3g} work a second (kit's PACE {PACE:.3g}); a training parameter-step was worth "
            f"{rate['loso']:.2f} of the corpus's work in LOSO, {rate['bundle']:.2f} in the refit (kit's "
            f"{WORK_PER_PARAM_STEP}); outside training: LOSO {parts['loso_rest']:.1f} s, verdict "
            f"{parts['verdict']:.1f} s, bundle {parts['bundle_rest']:.1f} s (its refit "
            f"{parts['bundle_training']:.1f} s)")


def steps_seconds(events: Events) -> dict[str, float]:
    """Each step's seconds (by its events' arrival), LOSO's and the bundle's training (first to last epoch), and the
    corpus's work and the seconds from its first job's start to its last job's end."""
    start: dict[str, float] = {}
    took: dict[str, float] = {}
    epochs: dict[str, list[float]] = {}
    jobs = [t for t, e in events if e["event"] in ("job_started", "job_done")]
    work = sum(w for _, e in events if e["event"] == "jobs_planned" for per in e["work"].values() for w in per.values())
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
            "bundle_rest": took.get("bundle", 0.0) - training.get("bundle", 0.0), "corpus_work": work,
            "corpus_jobs": jobs[-1] - jobs[0] if jobs else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--load", type=int, default=0, help="busy Python loops beside each round (killed after it)")
    ap.add_argument("--ref-dir", type=Path)
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "eta")
    ap.add_argument("extra", nargs="*", help="more flags of `run` (after --)")
    args = ap.parse_args()
    extra = [*(["--ref-dir", str(args.ref_dir)] if args.ref_dir else []), *args.extra]
    for n in range(1, args.rounds + 1):
        out = args.work / f"round{n}"
        with hogs(args.load):
            before = load_average()
            events, said = run_round(out, extra)
        rows, low, high = table(events)
        silence = max((b - a for a, b in itertools.pairwise(said)), default=0.0)
        print(f"\nround {n}: {args.load} busy loops; load average {before} before, {load_average()} after; "
              f"after 10 % of the work, estimate / truth (over 5 s left) from {low:.2f} to {high:.2f}; "
              f"longest silence of the piped lines {silence:.1f} s")
        print("| | elapsed s | work done | estimate s | truth s | ratio |\n|---|---:|---:|---:|---:|---:|")
        print("\n".join(rows))
        print(constants(events))


if __name__ == "__main__":
    main()
