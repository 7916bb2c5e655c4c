#!/usr/bin/env python3
"""The intervals' measured coverage and width at 50/80/90/95 % and the error per encoder, on the corpora a lead
meets: the demo corpus, the legacy corpus (the same rows as the bash kit's JSONL, merged by the kit), a union of
two boxes with two encoders (given with --union: a merged corpus file), and a bench_scale.py corpus of N contents.

Each corpus runs the whole `run --corpus X` (LOSO with 5 seeds, the verdict, no bundle) and the figures printed are
the verdict's, each recomputable from the run's 04_verdict/intervals.parquet (the script checks the pooled coverage
against that file before printing it).

    python bench/bench_intervals.py [--union FILE] [--contents 200] [--holdout encoder] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd
from bench_scale import contents_corpus
from bench_train import legacy_corpus
from common import ROOT, demo_corpus, measure

from kit.verdict.intervals import column


def verdict_of(out: Path) -> dict[str, object]:
    for name in ("PROMOTE", "HOLD"):
        path = out / "04_verdict" / f"{name}.json"
        if path.is_file():
            return dict(json.loads(path.read_text()))
    raise SystemExit(f"no verdict in {out}")


def run_corpus(label: str, corpus: Path, work: Path, extra: list[str]) -> None:
    out = work / f"intervals-{label}"
    argv = [sys.executable, "-m", "kit", "run", "--corpus", corpus, "--out-dir", out, "--only", "loso", *extra]
    for only in ("loso", "verdict"):
        argv[argv.index("--only") + 1] = only
        m = measure(argv, cwd=ROOT)
        if m.rc not in (0, 1):
            raise SystemExit(f"{label}: {only} failed (exit {m.rc}):\n{m.output[-3000:]}")
        if only == "loso":
            print(f"\n## {label}: {corpus.name}; loso step {m.wall:.0f} s wall, {m.cpu:.0f} s CPU")
    v = verdict_of(out)
    rows = pd.read_parquet(out / "04_verdict" / "intervals.parquet")
    iv = v["intervals"]
    assert isinstance(iv, dict)
    print(f"{len(rows)} held-out rows, {iv['n_groups']} content groups, scores {iv['score']}; verdict {v['verdict']}")
    print("| level | rank | q (x std) | q_abs (VMAF) | coverage | mean width | lowest source | unbounded rows |")
    print("|---|---|---|---|---|---|---|---|")
    for x in iv["levels"]:
        lvl = x["level"]
        q = "unbounded" if x["q"] is None else f"{x['q']:.2f}"
        qa = "unbounded" if x["q_abs"] is None else f"{x['q_abs']:.2f}"
        if x["coverage"] is None:  # no figure beside an unbounded interval (null bounds in the file)
            assert rows[column(lvl, "lo")].isna().any(), (label, lvl)
            print(f"| {lvl:.0%} | {x['rank']} | {q} | {qa} | unbounded: no figure | | | {x['share_unbounded']:.0%} |")
            continue
        inside = ((rows[column(lvl, "lo")] <= rows["vmaf"]) & (rows["vmaf"] <= rows[column(lvl, "hi")])).mean()
        assert abs(inside - x["coverage"]) < 1e-12, (label, lvl)  # the figure is the file's
        print(f"| {lvl:.0%} | {x['rank']} | {q} | {qa} | {x['coverage']:.1%} | {x['mean_width']:.2f} | "
              f"{x['source_coverage_min']:.1%} | {x['share_unbounded']:.0%} |")
    clip = iv.get("clip_use")
    if isinstance(clip, dict):
        print(f"per clip: {clip['note']}")
    print("| encoder | frames | PLCC | RMSE | bias | max miss | out of range | coverage |")
    print("|---|---|---|---|---|---|---|---|")
    for g in v["breakdown"]:  # type: ignore[union-attr]
        if g["by"] == "encoder":
            cov = "unbounded" if g["coverage"] is None else f"{g['coverage']:.1%}"
            print(f"| {g['group']} | {g['n_frames']} | {g['plcc']:.4f} | {g['rmse']:.2f} | {g['bias']:+.2f} | "
                  f"{g['max_abs_error']:.1f} | {g['share_out_of_range']:.1%} | {cov} |")
    for block in v.get("holdout") or []:  # type: ignore[union-attr]
        print(f"--holdout {block['kind']}: {block['scheme']}")
        for g in block["groups"]:
            print(f"  unseen {g['group']}: PLCC {g['plcc']:.4f}, RMSE {g['rmse']:.2f}, bias {g['bias']:+.2f}, "
                  f"max miss {g['max_abs_error']:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--union", type=Path, help="a merged corpus of two boxes / encoders")
    ap.add_argument("--contents", type=int, default=0, help="also a bench_scale.py corpus of this many contents")
    ap.add_argument("--holdout", default="none", help="--holdout for the union (encoder, box, encoder,box)")
    ap.add_argument("--only", default="demo,legacy,union,contents")
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "work")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    shard = demo_corpus(args.work / "demo-run")
    wanted = args.only.split(",")
    if "demo" in wanted:
        run_corpus("demo", shard, args.work, [])
    if "legacy" in wanted:
        run_corpus("legacy", legacy_corpus(shard, args.work), args.work, [])
    if "union" in wanted and args.union is not None:
        run_corpus("union", args.union, args.work, ["--holdout", args.holdout])
    if "contents" in wanted and args.contents:
        path = args.work / f"contents{args.contents}.parquet"
        if not path.is_file():
            contents_corpus(pd.read_parquet(shard), args.contents).to_parquet(path, index=False)
        run_corpus(f"contents{args.contents}", path, args.work, [])


if __name__ == "__main__":
    main()
