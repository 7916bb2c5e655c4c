#!/usr/bin/env python3
"""Scale: a million rows on 2 cores.

  * LOSO, 5 seeds x 9 folds, on a 1,000,000-row corpus: wall time (target <= 10 min)
    and peak RSS (target <= 4 GiB), measured in a child process;
  * merging 1,000,000 rows (two 500k-row shards): wall time (target <= 30 s);
  * corpus-step memory flat in the number of jobs: peak RSS of the corpus step with
    N and 4N jobs side by side (target ratio ~1).

The big corpus is resampled, with jitter, from the real demo corpus (9 sources).

    python bench/bench_scale.py [--rows 1000000] [--work DIR] [--skip-loso]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from common import ROOT, demo_corpus, peak_rss_mib, run_kit, scaled_corpus


def child_loso(path: Path) -> None:
    from kit.corpus.schema import load_training_corpus as load_corpus
    from kit.model.loso import run_loso
    from kit.model.recipe import TrainConfig
    from kit.model.threads import apply_threads, choose_threads

    threads = choose_threads()
    apply_threads(threads)  # as the LOSO step does
    start = time.perf_counter()
    df = load_corpus(path)
    result = run_loso(df, [0, 1, 2, 3, 4], TrainConfig(), workers=threads.train)
    print(json.dumps({"seconds": time.perf_counter() - start, "peak_rss_mib": peak_rss_mib(),
                      "mean_plcc": [r.mean_plcc for r in result.seed_reports], "rows": len(df)}))


def in_child(*args: str) -> dict[str, object]:
    res = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(res.stderr)
    return json.loads(res.stdout.strip().splitlines()[-1])


def corpus_rss(work: Path, clips: int, cqs: str) -> tuple[float, int]:
    """Peak RSS (MiB) of a corpus-step child and its job count."""
    out = work / f"rss-{clips}-{cqs.count(',') + 1}"
    run_kit("--only", "prereqs", "--out-dir", out, "--cqs", cqs)
    res = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, str(ROOT / "kit" / "run_full_pipeline.py"),
                          "--only", "corpus", "--force", "--out-dir", str(out), "--demo-clips", str(clips),
                          "--demo-seconds", "1", "--cqs", cqs], capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(res.stderr)
    return int(res.stderr.strip().splitlines()[-1]) / 1024, clips * (cqs.count(",") + 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "work")
    ap.add_argument("--skip-loso", action="store_true")
    ap.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child_loso(Path(args.child[1]))
        return
    real = pd.read_parquet(demo_corpus(args.work / "demo4s"))
    big_path = args.work / f"big-{args.rows}.parquet"
    if not big_path.is_file():
        scaled_corpus(real, args.rows).to_parquet(big_path, index=False)
    results: dict[str, object] = {}
    if not args.skip_loso:
        results["loso"] = in_child("loso", str(big_path))
        loso = results["loso"]
        assert isinstance(loso, dict)
        print(f"LOSO 5x9 on {loso['rows']} rows: {loso['seconds']:.0f} s (target <= 600 s), "
              f"peak RSS {loso['peak_rss_mib']:.0f} MiB (target <= 4096 MiB); "
              f"per-seed mean PLCC {[round(p, 4) for p in loso['mean_plcc']]}")
    merge_bench(big_path, args.work, results)
    small, n_small = corpus_rss(args.work, 3, "25,37")
    large, n_large = corpus_rss(args.work, 9, "19,25,31,37")
    print(f"corpus step peak RSS: {n_small} jobs {small:.0f} MiB, {n_large} jobs {large:.0f} MiB; "
          f"ratio {large / small:.2f} for {n_large / n_small:.0f}x the jobs (flat: ~1)")


def merge_bench(big_path: Path, work: Path, results: dict[str, object]) -> None:
    try:
        import kit.corpus.merge  # noqa: F401
    except ImportError:
        print("merge: kit.corpus.merge is not available in this checkout; skipped")
        return
    df = pd.read_parquet(big_path)
    half = len(df) // 2
    a, b = work / "merge-a.parquet", work / "merge-b.parquet"
    df.iloc[:half].assign(box_id="box-a").to_parquet(a, index=False)
    df.iloc[half:].assign(box_id="box-b").to_parquet(b, index=False)
    out = work / "merged.parquet"
    start = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "kit", "merge", str(a), str(b), "-o", str(out)],
                         capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    if res.returncode != 0:
        raise SystemExit(res.stderr)
    results["merge_seconds"] = seconds
    print(f"merge of {len(df)} rows (2 shards): {seconds:.1f} s (target <= 30 s)")


if __name__ == "__main__":
    main()
