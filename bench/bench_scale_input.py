#!/usr/bin/env python3
"""Does the proxy need to know the ladder rung? Held-out figures with and without a scale input.

On a corpus with ladder rows (a run's 02_corpus/shard.parquet made with --scales), every content group is held out
in turn (the kit's folds: LOSO up to 50 groups), and the ensemble's recipe trains on the rest twice per seed:
  * as the kit trains it: the six features and the codec block;
  * with a scale input: log2(encode height / source height) (0 at the source's size, -1 at half height) in the
    codec block, in the slot of a vocabulary encoder the corpus holds no row of (so the network's width, recipe
    and initial draw are the kit's own; that slot's one-hot is 0 on every row otherwise).
It prints PLCC and RMSE (pooled over held-out frames, the ensemble's mean over seeds) on the scaled rows, on the
native rows, and on all rows, each with and without the input.

    python bench/bench_scale_input.py CORPUS [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from common import ROOT  # noqa: F401  (puts the kit on sys.path)

from kit.corpus.summary import rung_labels
from kit.corpus.training import training_corpus
from kit.model.batches import Member
from kit.model.contract import CODEC_VOCAB
from kit.model.features import design_matrix
from kit.model.folds import cut_folds
from kit.model.metrics import residuals
from kit.model.recipe import TrainConfig
from kit.model.train import train_members


def held_out(feats: np.ndarray, codec: np.ndarray, target: np.ndarray, folds: list, seeds: list[int]) -> np.ndarray:
    """Each row's prediction by the members that did not see its content group, averaged over seeds."""
    n = len(target)
    members = [Member(seed, f.index, np.setdiff1d(np.arange(n), f.rows)) for seed in seeds for f in folds]
    ens = train_members(feats, codec, target, members, TrainConfig(), workers=2)
    pred = np.zeros(n)
    for m, mem in enumerate(ens.members):
        rows = folds[mem.fold].rows
        pred[rows] += ens.predict(m, feats[rows], codec[rows]) / len(seeds)
    return pred


def figures(y: np.ndarray, p: np.ndarray) -> str:
    r = residuals(p, y)
    return f"PLCC {r.plcc:.4f}, RMSE {r.rmse:.2f} ({r.n} frames)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--seeds", default="0,1,2")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    df = training_corpus(args.corpus, ("enc_height", "height"))[0]
    rung = np.asarray(rung_labels(df))
    scaled = rung != "native"
    if not scaled.any():
        raise SystemExit(f"{args.corpus} holds no ladder rows: make it with --scales native,0.5 (the default)")
    feats, codec = design_matrix(df)
    target = df["vmaf"].to_numpy(dtype=np.float64)
    free = next(i for i, name in enumerate(CODEC_VOCAB) if name not in set(df["encoder"]))
    with_scale = codec.copy()
    with_scale[:, free] = np.log2(df["enc_height"].to_numpy(dtype=np.float64) / df["height"].to_numpy(dtype=np.float64))
    folds, scheme = cut_folds(df)
    print(f"{args.corpus}: {len(df)} rows ({int(scaled.sum())} scaled: {', '.join(sorted(set(rung[scaled])))}), "
          f"{scheme.label}, seeds {seeds}; the scale input in the slot of {CODEC_VOCAB[free]}")
    results = {"without": held_out(feats, codec, target, folds, seeds),
               "with": held_out(feats, with_scale, target, folds, seeds)}
    for label, mask in (("scaled rows", scaled), ("native rows", ~scaled), ("all rows", np.ones_like(scaled))):
        for name, pred in results.items():
            print(f"  {label:12s} {name:7s} scale input: {figures(target[mask], pred[mask])}")
        for r in sorted(set(rung[mask])):
            part = mask & (rung == r)
            print(f"    rung {r:7s} " + "; ".join(f"{n}: {figures(target[part], p[part])}" for n, p in results.items()))


if __name__ == "__main__":
    main()
