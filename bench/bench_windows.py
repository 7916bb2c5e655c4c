"""Do the teacher recipe's encode windows serve a teacher that is no function of the six (issue 68)?

    python bench/bench_windows.py CORPUS [--seeds 0,1,2,3,4] [--workers 2] [--variants frames,frames+windows,...]

CORPUS: a corpus scored with such a teacher (`vmaf_v0.6.1neg`: `python -m kit run --teacher vmaf_v0.6.1neg
--out-dir OUT`, then OUT/02_corpus/shard.parquet). LOSO as the loso step cuts it (--folds auto), each variant trained
on the same folds and seeds, and each held-out encode predicted as vmaf-tune predicts it (kit.model.loso.evaluate_loso,
what 03_loso/encodes.parquet holds); printed per variant: the share of its counted encodes within 1.5 VMAF of the
teacher, per CRF band, and the lowest content group's share. The variants:

- `frames`: the frames recipe (`--recipe frames`), what the loso step trains for such a teacher;
- `frames+windows`: the same, each member's rows adding the encode windows of the contents it trains on (each
  encode's whole mean, 16 contiguous runs and 16 random subsets of its frames: mean features, mean score, its
  codec row; kit.model.distil.encode_windows);
- `tuned+windows`: the teacher recipe's trainer without a function to learn: each member from a fresh network (no
  base: its codec block zero, no dropout), for the base's steps, batch and learning rate (6,000 of 256 from 2e-3,
  cosine) on its contents' windows (2/3) and frames (1/3); the prior's samples only set the scaler, never a target;
- `tuned`: the same on its frames alone.

The two `tuned` variants reach into kit.model.distil (its base and its batch's shares are replaced here): this is a
measurement, not a recipe the kit offers.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import kit.model.distil as distil
from kit.corpus.training import training_corpus
from kit.model.batches import Member
from kit.model.loso import ENCODE_IDENTITY, LosoInputs, LosoResult, evaluate_loso
from kit.model.predictions import ROW_IDENTITY
from kit.model.recipe import FRAMES, TrainConfig
from kit.model.stacked import StackedMLP
from kit.model.train import TrainedEnsemble, train_members

VARIANTS = ("frames", "frames+windows", "tuned+windows", "tuned")
TOLERANCE = 1.5  # vmaf-tune's DEFAULT_PROXY_TOLERANCE
BASE_STEPS, BASE_BATCH, BASE_LR = 6_000, 256, 2e-3  # the bases' settings of kits 2.1 to 2.3, as measured


def shares(result: LosoResult) -> dict[str, object]:
    """The held-out encodes' share within the tolerance: all, per CRF band, the lowest content group's."""
    assert result.encodes is not None
    counted = result.encodes[result.encodes["counted"].astype(bool)]
    within = counted["miss"] <= TOLERANCE
    return {"all": round(float(within.mean()), 3), "encodes": len(counted),
            "bands": {str(k): round(float(v), 3) for k, v in within.groupby(counted["crf_band"]).mean().items()},
            "lowest content": round(float(within.groupby(counted["content"]).mean().min()), 3)}


def frames(inputs: LosoInputs, seeds: list[int], workers: int, windows: bool) -> TrainedEnsemble:
    """The frames recipe, its members' rows with their contents' encode windows added (`windows`)."""
    config = TrainConfig(recipe=FRAMES)
    if not windows:
        return train_members(inputs.feats, inputs.codec, inputs.target, inputs.members(seeds), config,
                             workers=workers)
    df, n = inputs.df, len(inputs.df)
    codes = distil.encode_codes(df)
    wx, wy, wc = distil.encode_windows(inputs.feats.astype(np.float64), inputs.target, codes, config)
    first = pd.Series(np.arange(n)).groupby(codes).first().loc[wc].to_numpy()  # a row of each window's encode
    feats = np.vstack([inputs.feats, wx.astype(inputs.feats.dtype)])
    codec, target = np.vstack([inputs.codec, inputs.codec[first]]), np.concatenate([inputs.target, wy])
    content = df["content"].to_numpy()
    rows = [np.concatenate([np.setdiff1d(np.arange(n), fold.rows),  # its frames, then its contents' windows
                            n + np.flatnonzero(~np.isin(content[first], np.unique(content[fold.rows])))])
            for fold in inputs.folds]
    members = [Member(seed, fold.index, rows[fold.index]) for seed in seeds for fold in inputs.folds]
    return train_members(feats, codec, target, members, config, workers=workers)


class NoFunction:
    """The teacher recipe's samples need a label: none here (their share of each batch is 0)."""

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.zeros(len(x))


@torch.no_grad()
def fresh_bases(data: distil.Distillation, seeds: list[int], arch: object, *_: object) -> StackedMLP:
    """No base to learn: each seed's network as initialised, its codec block zero, its output at the frames' mean."""
    net = StackedMLP(seeds, arch)  # type: ignore[arg-type]
    net.slots[0].weight[:, net.arch.n_features:, :] = 0.0
    net.slots[-1].bias.add_(data.target[: data.n_frames].mean())
    return net


def tuned(inputs: LosoInputs, seeds: list[int], workers: int, windows: bool) -> TrainedEnsemble:
    """The teacher recipe's trainer on windows and frames (`windows`) or frames alone, with no function to learn."""
    distil.train_bases = fresh_bases  # type: ignore[assignment]
    distil.TUNE_SHARES = (2 / 3, 1 / 3, 0.0) if windows else (0.0, 1.0, 0.0)
    config = TrainConfig(tune_steps=BASE_STEPS, tune_lr=BASE_LR, tune_batch=BASE_BATCH, teacher_samples=1_000)
    data = distil.Distillation.of(inputs.feats.astype(np.float64), inputs.target, distil.encode_codes(inputs.df),
                                  NoFunction(), config.teacher_samples)  # type: ignore[arg-type]
    return train_members(inputs.feats, inputs.codec, inputs.target, inputs.members(seeds), config, workers=workers,
                         distil=data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    df, _ = training_corpus(args.corpus, (*ROW_IDENTITY, *ENCODE_IDENTITY, *distil.ENCODE_COLUMNS))
    inputs = LosoInputs.of(df)
    train = {"frames": lambda: frames(inputs, seeds, args.workers, False),
             "frames+windows": lambda: frames(inputs, seeds, args.workers, True),
             "tuned+windows": lambda: tuned(inputs, seeds, args.workers, True),
             "tuned": lambda: tuned(inputs, seeds, args.workers, False)}
    for name in args.variants.split(","):
        start = time.monotonic()
        figures = shares(evaluate_loso(inputs, seeds, train[name]()))
        print(f"{name}: {figures} ({time.monotonic() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
