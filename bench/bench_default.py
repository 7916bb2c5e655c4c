#!/usr/bin/env python3
"""The default run (embedded demo clips, libx264, 5 seeds) end to end, from a
cold cache and an empty out-dir, as a newcomer runs it. Target: <= 3 minutes.

    python bench/bench_default.py [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from common import ROOT, run_kit

TARGET_S = 180.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "default")
    args = ap.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    cache, out = args.work / "cache", args.work / "out"
    res, wall = run_kit("--out-dir", out, env={"KIT_CACHE_DIR": str(cache)})
    if res.returncode not in (0, 1):
        raise SystemExit(res.stderr)
    steps = {}
    for status in sorted(out.glob("0*/status.json")):
        data = json.loads(status.read_text())
        steps[data["step"]] = data["seconds"]
    verdict = json.loads(next((out / "04_verdict").glob("[PH]*.json")).read_text())
    print(f"default run: {wall:.1f} s wall (target <= {TARGET_S:.0f} s), exit {res.returncode}, "
          f"verdict {verdict['verdict']}, mean LOSO PLCC {verdict['gate']['mean_plcc']:.4f}, "
          f"spread {verdict['gate']['plcc_spread']:.4f}")
    print("  per step (s): " + ", ".join(f"{k} {v:.1f}" for k, v in steps.items()))
    print(f"  ratio to target: {wall / TARGET_S:.2f}")
    print("PASS" if wall <= TARGET_S else "FAIL")


if __name__ == "__main__":
    main()
