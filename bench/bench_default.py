#!/usr/bin/env python3
"""The default run (embedded demo clips, libx264, 5 seeds) end to end, as a newcomer runs it: wall and CPU
(user + sys of the command and all it reaped, from wait4), and with --baseline-kit side by side with another
checkout of the kit, the rounds interleaved (this box is shared and noisy: CPU is the figure, wall beside it).
Targets: <= 3 minutes of wall; with a baseline, CPU <= 1.5x the baseline's.

    python bench/bench_default.py [--work DIR] [--baseline-kit PATH] [--rounds N]

The demo clips are rendered once into the work folder's cache first, so every measured run reads the same
warm cache (the render is not the run's cost); each run starts from an empty out-dir.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from common import ROOT, load_average, measure, run_kit

TARGET_S = 180.0
TARGET_CPU_RATIO = 1.5


def one_run(kit_root: Path, out: Path, cache: Path) -> dict[str, object]:
    """One default run of the kit at `kit_root`: wall, CPU, exit, per-step seconds, the verdict's figures."""
    import sys

    shutil.rmtree(out, ignore_errors=True)
    m = measure([sys.executable, "-m", "kit", "run", "--out-dir", out], cwd=kit_root,
                env={"KIT_CACHE_DIR": str(cache), "PYTHONPATH": str(kit_root)}, log=out.with_suffix(".log"))
    steps = {json.loads(p.read_text())["step"]: json.loads(p.read_text())["seconds"]
             for p in sorted(out.glob("0*/status.json"))}
    verdict = json.loads(next((out / "04_verdict").glob("[PH]*.json")).read_text())
    jobs = json.loads((out / "02_corpus" / "status.json").read_text()).get("summary", {}).get("jobs")
    return {"wall": m.wall, "cpu": m.cpu, "rc": m.rc, "steps": steps, "verdict": verdict["verdict"],
            "plcc": verdict["gate"]["mean_plcc"], "jobs": jobs, "load": load_average()}


def show(label: str, r: dict[str, object]) -> str:
    steps = ", ".join(f"{k} {v:.1f}" for k, v in r["steps"].items())  # type: ignore[attr-defined]
    return (f"{label:9s} wall {r['wall']:6.1f} s  CPU {r['cpu']:6.1f} s  exit {r['rc']}  {r['verdict']} "
            f"(mean PLCC {r['plcc']:.4f}), {r['jobs']} jobs; steps (s): {steps}; load {r['load']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "default")
    ap.add_argument("--baseline-kit", type=Path, help="another checkout of the kit (e.g. git archive of the base)")
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    cache = args.work / "cache"
    res, _ = run_kit("--only", "prereqs", "--out-dir", args.work / "warm", env={"KIT_CACHE_DIR": str(cache)})
    res, _ = run_kit("--only", "corpus", "--out-dir", args.work / "warm", "--demo-clips", "9", "--scales", "native",
                     "--cqs", "25", env={"KIT_CACHE_DIR": str(cache)})  # renders the demo clips into the cache
    if res.returncode != 0:
        raise SystemExit(res.stderr)
    kits = [("this kit", ROOT)] + ([("baseline", args.baseline_kit.resolve())] if args.baseline_kit else [])
    results: dict[str, list[dict[str, object]]] = {label: [] for label, _ in kits}
    for n in range(args.rounds):
        for label, root in kits:
            r = one_run(root, args.work / f"{label.replace(' ', '-')}-{n}", cache)
            results[label].append(r)
            print(show(label, r), flush=True)
    mine = results["this kit"]
    wall = min(float(r["wall"]) for r in mine)  # type: ignore[arg-type]
    verdict = "PASS" if wall <= TARGET_S else "FAIL"
    print(f"\ndefault run: best wall {wall:.1f} s (target <= {TARGET_S:.0f} s): {verdict}")
    if args.baseline_kit:
        pairs = zip(mine, results["baseline"], strict=True)
        ratios = [float(a["cpu"]) / float(b["cpu"]) for a, b in pairs]  # type: ignore[arg-type]
        ok = max(ratios) <= TARGET_CPU_RATIO
        print("CPU this kit / baseline, per round: " + ", ".join(f"{x:.2f}" for x in ratios)
              + f" (target <= {TARGET_CPU_RATIO}): {'PASS' if ok else 'FAIL'}")


if __name__ == "__main__":
    main()
