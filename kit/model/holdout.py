"""--holdout encoder|box|rung: each left out in turn, crossed with grouped folds over contents (holdout_<kind>)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from kit.corpus.columns import NO_BOX
from kit.corpus.schema import CORPUS_ROW
from kit.corpus.summary import rung_labels
from kit.errors import InputError
from kit.infra.invocation import kit_command
from kit.model.folds import cut_folds
from kit.model.loso import LosoInputs
from kit.model.recipe import TrainConfig
from kit.model.spread import Spread
from kit.model.train import EpochCallback, Member, train_members, untrained

HOLDOUT_K = 5
COLUMN = {"encoder": "encoder", "box": "box_id"}  # a rung is its label (kit.media.ladder.rung_label)


@dataclass(frozen=True)
class HoldoutFold:
    heldout: str  # the encoder (box id) left out
    train: np.ndarray  # rows of the other encoders (boxes) and the other folds' contents
    test: np.ndarray  # rows of this encoder (box) among this fold's contents


def holdout_folds(df: pd.DataFrame, kind: str, corpus: str) -> tuple[list[HoldoutFold], str]:
    """The folds of one held-out validation, and the sentence that says how they were cut."""
    # a row whose box is not recorded is NO_BOX's, as the verdict's figures by box group it
    values = (np.asarray(rung_labels(df), dtype=object) if kind == "rung" else
              df[COLUMN[kind]].astype(str).fillna(NO_BOX).to_numpy())
    kinds = sorted(set(values))
    if len(kinds) < 2:
        raise InputError(f"--holdout {kind}: {corpus} holds one {kind} only ({kinds[0] if kinds else 'none'}), "
                         f"so none can be left out",
                         hint=f"merge corpora of two {kind}s or more "
                              f"({kit_command('merge', 'A', 'B', '-o', 'union.parquet')}), or drop --holdout {kind}")
    content_folds, scheme = cut_folds(df, HOLDOUT_K)
    out: list[HoldoutFold] = []
    left: dict[str, int] = {}  # held-out rows no member can predict: nothing else to train on in their fold
    for v in kinds:
        mine = values == v
        for fold in content_folds:
            in_fold = np.isin(np.arange(len(df)), fold.rows)
            test = np.flatnonzero(mine & in_fold)
            train = np.flatnonzero(~mine & ~in_fold)
            if len(test) and len(train):
                out.append(HoldoutFold(v, train.astype(np.int64), test.astype(np.int64)))
            elif len(test):
                left[v] = left.get(v, 0) + len(test)
    shown = ", ".join(kinds[:6]) + (f" and {len(kinds) - 6} more" if len(kinds) > 6 else "")
    why = (f"every {kind} ({shown}) left out in turn, crossed with {scheme.label} over contents: a row is "
           f"predicted by members that saw neither its {kind} nor its content")
    if left:
        counts = ", ".join(f"{n} of {v}" for v, n in sorted(left.items()))
        why += (f"; {sum(left.values())} of {len(df)} rows left out ({counts}): in their fold no row of another {kind} "
                "is left to train on")
    return out, why


def trains_networks(inputs: LosoInputs, scale: float) -> bool:
    """Whether a --holdout trains its members: not by the teacher recipe where LOSO's export keeps no correction
    (`scale` 0), each network multiplied by 0."""
    return inputs.distil is None or scale != 0.0


def run_holdout(inputs: LosoInputs, kind: str, seeds: list[int], config: TrainConfig, corpus: str,
                on_epoch: EpochCallback | None = None, workers: int = 1, scale: float = 0.0,
                spread: Spread | None = None) -> tuple[pd.DataFrame, str]:
    """Train every (seed, holdout fold) member on the LOSO's inputs and predict its held-out rows; by the teacher
    recipe, the teacher's function (its clip under LOSO's export's `spread`) plus `scale` (LOSO's export's factor,
    kit.model.floor) times each correction, none trained where `scale` is 0 (trains_networks)."""
    folds, why = holdout_folds(inputs.df, kind, corpus)
    members = [Member(seed, i, f.train) for seed in seeds for i, f in enumerate(folds)]
    feats, codec, target = inputs.feats, inputs.codec, inputs.target
    corpus_row = inputs.df[CORPUS_ROW].to_numpy()
    if trains_networks(inputs, scale):
        ens = train_members(feats, codec, target, members, config, on_epoch, workers=workers, distil=inputs.distil)
    else:
        assert inputs.distil is not None
        ens = untrained(inputs.distil, members, config)
    if inputs.distil is not None and inputs.teacher_model is not None:
        ens = replace(ens, teacher=inputs.teacher_model, scales=(scale,) * len(ens.members),
                      spreads=(spread,) * len(ens.members))
    frames = [pd.DataFrame({"seed": np.int32(mem.seed), "fold": np.int32(mem.fold), "heldout": f.heldout,
                            "corpus_row": corpus_row[f.test], "vmaf": target[f.test],
                            "pred": ens.predict(m, feats[f.test], codec[f.test])})
              for m, (mem, f) in enumerate((mem, folds[mem.fold]) for mem in ens.members)]
    return pd.concat(frames, ignore_index=True), why
