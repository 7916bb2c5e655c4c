#!/usr/bin/env python3
"""K-fold against LOSO: the same figures (per-seed mean PLCC over sources, mean RMSE, per-source PLCC) from
LOSO and grouped K-fold on the demo corpus (9 sources x 4 cqs, 3,600 rows), on the same rows as the bash kit's
JSONL merged by the kit (the legacy corpus: bench_train.legacy_corpus), and on a bench_scale.py corpus of N
contents. Each run is the loso step's training (5 seeds, ensemble + baselines) in a child process.

    python bench/bench_folds.py [--folds loso,5,3] [--contents N] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from bench_scale import contents_corpus
from bench_train import legacy_corpus
from common import ROOT, demo_corpus, measure, peak_rss_mib

SEEDS = [0, 1, 2, 3, 4]


def child(path: Path, folds: str) -> None:
    from kit.corpus.training import training_corpus
    from kit.model.loso import LosoInputs
    from kit.model.recipe import TrainConfig
    from kit.model.threads import apply_threads, choose_threads
    from tests.training import loso_with_baselines

    threads = choose_threads()
    apply_threads(threads)
    start = time.perf_counter()
    inputs = LosoInputs.of(training_corpus(path)[0], folds)
    result, models = loso_with_baselines(inputs, SEEDS, TrainConfig(), workers=threads.train)
    per_source = result.folds.groupby("src")[["plcc", "rmse"]].mean()
    print(json.dumps({"seconds": time.perf_counter() - start, "peak_rss_mib": peak_rss_mib(),
                      "scheme": inputs.scheme.label, "mean_plcc": [r.mean_plcc for r in result.seed_reports],
                      "mean_rmse": [r.mean_rmse for r in result.seed_reports],
                      "ridge_plcc": models["ridge"].mean_plcc, "per_source_plcc": per_source["plcc"].to_dict()}))


def run(path: Path, folds: str, log: Path) -> dict[str, object]:
    m = measure([sys.executable, __file__, "--child", str(path), folds], log=log, cwd=ROOT)
    if m.rc != 0:
        raise SystemExit(f"{path.name} --folds {folds} failed (exit {m.rc}):\n{m.output[-3000:]}")
    return {**json.loads(m.output.strip().splitlines()[-1]), "wall": m.wall, "cpu": m.cpu}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folds", default="loso,5,3")
    ap.add_argument("--contents", type=int, default=0, help="also a bench_scale.py corpus of this many contents")
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "work")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(Path(args.child[0]), args.child[1])
        return
    shard = demo_corpus(args.work / "demo4s")
    corpora = {"demo": shard, "legacy": legacy_corpus(shard, args.work)}
    if args.contents:
        path = args.work / f"contents-{args.contents}.parquet"
        if not path.is_file():
            contents_corpus(pd.read_parquet(shard), args.contents).to_parquet(path, index=False)
        corpora[f"{args.contents} contents"] = path
    for name, path in corpora.items():
        label = name.replace(" ", "-")
        results = [run(path, f, args.work / f"folds-{label}-{f}.log") for f in args.folds.split(",")]
        base = results[0]
        for r in results:
            diff = [abs(r["per_source_plcc"][s] - base["per_source_plcc"][s]) for s in base["per_source_plcc"]]
            print(f"{name:<14} {r['scheme']:<15} mean PLCC {np.mean(r['mean_plcc']):.4f} (seeds "
                  f"{min(r['mean_plcc']):.4f}-{max(r['mean_plcc']):.4f})  mean RMSE {np.mean(r['mean_rmse']):.3f}  "
                  f"ridge {r['ridge_plcc']:.4f}  per-source |dPLCC| vs first: max {max(diff):.4f} mean "
                  f"{np.mean(diff):.4f}  CPU {r['cpu']:.0f} s  wall {r['wall']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
