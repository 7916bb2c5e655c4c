"""The teacher's function as the student's floor (docs/teachers.md, "The floor"): the teacher recipe's student is the
teacher's own function of its input plus a learned correction scaled by a factor of SCALES, chosen on held-out encodes
judged as the consumer gates judge them (kit.verdict.ceiling): each counted encode as vmaf-tune samples it (the mean
features of its first --consumer-window s against the whole encode's teacher score; the whole encode's where the
corpus gives no frame rate), within --consumer-tolerance. Each fold's factor is chosen on the other folds' held-out
encodes (never its own), the export's on every fold's. A factor is a candidate only where it keeps more of those
encodes within the tolerance than the teacher's function alone, and loses no content more than CONTENT_SLACK of them;
the one chosen keeps the most, then has the least median miss (a mean would follow the few encodes no factor brings
within the tolerance), then is the smallest. Where none lifts the student above the teacher's function, the factor is
0: the student is the teacher's function."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kit.corpus.samplings import FIRST
from kit.corpus.training import text
from kit.model.clips import ENCODE_KEY, encode_keys, held_encodes
from kit.model.consumer import TOLERANCE
from kit.model.encodes import feed_codec
from kit.model.pooling import clipped
from kit.model.results import Correction
from kit.model.samplings import cut_pooled

if TYPE_CHECKING:
    from kit.model.folds import Fold
    from kit.model.loso import LosoInputs
    from kit.model.train import TrainedEnsemble

SCALES = (0.0, 0.25, 0.5, 0.75, 1.0)  # the correction's factors tried, the teacher's function alone first
CONTENT_SLACK = 1  # a content may lose at most this many held-out encodes to the teacher's function
# 03_loso/floor.parquet: the evidence, one row per counted held-out encode and seed (docs/reference/files.md)
FLOOR_COLUMNS = ("fold", "content", *ENCODE_KEY, "seed", "teacher", "ceiling", "correction")


@dataclass(frozen=True)
class Evidence:
    """Every fold's held-out encodes as the consumer gates judge them: the fold, the content, the whole encode's mean
    teacher score, the teacher's function of the judged mean features and each seed's correction there; the
    tolerance, and whether the features are the sampled window's (`sampled`) or the whole encode's."""

    fold: np.ndarray
    content: np.ndarray
    teacher: np.ndarray
    base: np.ndarray
    corrections: np.ndarray  # (encodes, seeds)
    tolerance: float = TOLERANCE
    sampled: bool = False
    keys: pd.DataFrame | None = None  # each encode's ENCODE_KEY, for floor.parquet
    seeds: tuple[int, ...] = ()  # the corrections' columns

    def table(self) -> pd.DataFrame:
        """03_loso/floor.parquet: each encode and seed, its fold, content, key, whole encode's teacher score, the
        teacher's function as judged (`ceiling`) and the seed's correction there; every factor's figures follow."""
        assert self.keys is not None
        n, k = self.corrections.shape
        each = np.repeat(np.arange(n), k)
        out = self.keys.iloc[each].reset_index(drop=True).assign(
            fold=self.fold[each].astype(np.int32), content=self.content[each].astype(str),
            seed=np.tile(np.asarray(self.seeds, dtype=np.int32), n), teacher=self.teacher[each],
            ceiling=self.base[each], correction=self.corrections.reshape(-1))
        return out[list(FLOOR_COLUMNS)]

    def miss(self, scale: float) -> np.ndarray:
        """Each encode's |prediction - teacher| at `scale`: the mean over seeds of each member's output, clipped."""
        return np.abs(clipped(self.base[:, None] + scale * self.corrections).mean(axis=1) - self.teacher)

    def within(self, scale: float) -> np.ndarray:
        """Each encode within the tolerance at `scale` (a NaN miss is no hit, as the gates count it)."""
        return self.miss(scale) <= self.tolerance

    def choose(self, rows: np.ndarray) -> float:
        """The factor chosen on the encodes `rows` (a mask): of those that keep more within the tolerance than the
        teacher's function, the one that keeps the most, then has the least median miss, then is the smallest; 0
        where none does or none are counted."""
        if not rows.any():
            return 0.0
        contents = pd.Series(self.content[rows])

        def tally(scale: float) -> tuple[pd.Series, tuple[int, float]]:  # each scale's predictions made once
            miss = self.miss(scale)[rows]
            hits = miss <= self.tolerance
            return pd.Series(hits).groupby(contents).sum(), (int(hits.sum()), -float(np.median(miss)))

        (floor, best), chosen = tally(SCALES[0]), SCALES[0]  # the teacher's function alone
        for scale in SCALES[1:]:
            by_content, key = tally(scale)
            if key[0] > floor.sum() and (floor - by_content).max() <= CONTENT_SLACK and key > best:
                best, chosen = key, scale
        return chosen


@dataclass(frozen=True)
class Judged:
    """A fold's counted held-out encodes as the gates judge them: their keys (content, encoder, cq), the judged mean
    features, vmaf-tune's codec block for them, the whole encode's mean teacher score and the teacher's function."""

    keys: pd.DataFrame
    mean_feats: np.ndarray
    fed: np.ndarray
    teacher: np.ndarray
    base: np.ndarray


def judged(inputs: LosoInputs, fold: Fold, keys: pd.DataFrame) -> Judged:
    """The fold's held-out encodes fed as vmaf-tune feeds them: the first window's frames cut from each encode where
    windows are placed (kit.model.samplings.cut_pooled, what encodes.parquet's window_* columns hold), else the whole
    encode's (kit.model.clips.held_encodes), each against its whole encode's mean teacher score."""
    assert inputs.crf_range is not None and inputs.teacher_model is not None
    feed = functools.partial(feed_codec, crf_range=inputs.crf_range)
    codes, rows, teacher_fn = inputs.codes, fold.rows, inputs.teacher_model.predict
    if (placed := inputs.placed) is None:
        whole = held_encodes(rows, codes, inputs.feats, inputs.target, keys, feed, teacher_fn)
        assert whole.fed is not None
        return Judged(whole.base, whole.mean_feats, whole.fed, whole.base["vmaf_mean"].to_numpy(dtype=float),
                      whole.base["ceiling"].to_numpy(dtype=float))
    (window,) = cut_pooled(rows, codes, inputs.feats, inputs.target, keys, {FIRST.name: placed.masks[FIRST.name]},
                           feed, teacher_fn)
    ids, inverse, counts = np.unique(codes[rows], return_inverse=True, return_counts=True)
    whole_teacher = np.bincount(inverse, weights=inputs.target[rows]) / counts  # as encodes.parquet's `teacher`
    teacher = whole_teacher[np.searchsorted(ids, window.out["code"].to_numpy())]
    return Judged(window.out, window.mean_feats, window.fed, teacher, window.out["ceiling"].to_numpy(dtype=float))


def evidence(inputs: LosoInputs, ens: TrainedEnsemble) -> Evidence | None:
    """Each fold's counted held-out encodes as the gates judge them, with each seed's correction (`ens`'s networks
    alone); None where vmaf-tune is not fed or the teacher's function is not at hand."""
    if inputs.crf_range is None or inputs.teacher_model is None:
        return None
    df = inputs.df
    keys = encode_keys(df).assign(content=text(df["content"]))
    seeds = sorted({m.seed for m in ens.members})
    parts = []
    for fold in inputs.folds:
        j = judged(inputs, fold, keys)
        asked = np.isfinite(j.fed).all(axis=1) & j.keys["cq"].between(*inputs.crf_range).to_numpy()
        corrections = np.full((int(asked.sum()), len(seeds)), np.nan)
        for m, member in enumerate(ens.members):
            if member.fold == fold.index and asked.any():
                corrections[:, seeds.index(member.seed)] = ens.predict(m, j.mean_feats[asked], j.fed[asked])
        parts.append(j.keys.loc[asked, list(ENCODE_KEY)].reset_index(drop=True).assign(
            fold=fold.index, content=j.keys.loc[asked, "content"].to_numpy(), teacher=j.teacher[asked],
            base=j.base[asked]).join(pd.DataFrame(corrections, columns=[f"c{s}" for s in seeds])))
    table = pd.concat(parts, ignore_index=True)
    return Evidence(table["fold"].to_numpy(), table["content"].to_numpy(), table["teacher"].to_numpy(dtype=float),
                    table["base"].to_numpy(dtype=float), table[[f"c{s}" for s in seeds]].to_numpy(dtype=float),
                    inputs.tolerance, inputs.placed is not None, table[list(ENCODE_KEY)], tuple(seeds))


def with_floor(inputs: LosoInputs, ens: TrainedEnsemble
               ) -> tuple[TrainedEnsemble, Correction | None, pd.DataFrame | None]:
    """The teacher recipe's members as the teacher's function plus their corrections scaled, each fold's factor chosen
    on the other folds' held-out encodes; what was chosen, and what it was chosen on (floor.parquet). The ensemble as
    it is by another recipe."""
    if inputs.distil is None or inputs.teacher_model is None or (found := evidence(inputs, ens)) is None:
        return ens, None, None
    folds = [found.choose(found.fold != fold.index) for fold in inputs.folds]
    everything = np.ones(len(found.fold), dtype=bool)
    scale = found.choose(everything)
    scaled = replace(ens, teacher=inputs.teacher_model, scales=tuple(folds[m.fold] for m in ens.members))
    return scaled, Correction(scale, folds, len(found.fold), int(found.within(0.0).sum()),
                              int(found.within(scale).sum()), found.tolerance, found.sampled), found.table()
