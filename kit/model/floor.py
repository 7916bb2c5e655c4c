"""The teacher's function as the student's floor (docs/teachers.md, "The floor"): the teacher recipe's student is the
teacher's own function of its input plus a learned correction scaled by a factor of SCALES, chosen on held-out encodes
as vmaf-tune feeds them: each fold's on the other folds' held-out encodes (never its own), the export's on every
fold's. A factor is a candidate only where it keeps more of those encodes within the tolerance than the teacher's
function alone, and loses no content more than CONTENT_SLACK of them; the one chosen keeps the most, then has the
least median miss (a mean would follow the few encodes no factor brings within the tolerance), then is the smallest.
Where none lifts the student above the teacher's function, the factor is 0: the student is the teacher's function."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kit.model.clips import clip_codes, encode_keys, held_encodes
from kit.model.consumer import TOLERANCE
from kit.model.encodes import feed_codec
from kit.model.pooling import clipped
from kit.model.results import Correction

if TYPE_CHECKING:
    from kit.model.loso import LosoInputs
    from kit.model.train import TrainedEnsemble

SCALES = (0.0, 0.25, 0.5, 0.75, 1.0)  # the correction's factors tried, the teacher's function alone first
CONTENT_SLACK = 1  # a content may lose at most this many held-out encodes to the teacher's function


@dataclass(frozen=True)
class Evidence:
    """Every fold's held-out encodes as vmaf-tune feeds them, counted as the consumer's figures count them: the fold,
    the content, the mean teacher score, the teacher's function of the mean features and each seed's correction."""

    fold: np.ndarray
    content: np.ndarray
    teacher: np.ndarray
    base: np.ndarray
    corrections: np.ndarray  # (encodes, seeds)

    def within(self, scale: float) -> np.ndarray:
        """Each encode within the tolerance at `scale`: the mean over seeds of each member's output, clipped."""
        predicted = clipped(self.base[:, None] + scale * self.corrections).mean(axis=1)
        return np.abs(predicted - self.teacher) <= TOLERANCE

    def miss(self, scale: float) -> np.ndarray:
        predicted = clipped(self.base[:, None] + scale * self.corrections).mean(axis=1)
        return np.abs(predicted - self.teacher)

    def choose(self, rows: np.ndarray) -> float:
        """The factor chosen on the encodes `rows` (a mask): of those that keep more within the tolerance than the
        teacher's function, the one that keeps the most, then has the least median miss, then is the smallest; 0
        where none does or none are counted."""
        if not rows.any():
            return 0.0
        floor = self.within(0.0)[rows]
        contents = pd.Series(self.content[rows])
        by_floor = pd.Series(floor).groupby(contents).sum()
        best, chosen = (int(floor.sum()), -float(np.median(self.miss(0.0)[rows]))), 0.0
        for scale in SCALES[1:]:
            hits = self.within(scale)[rows]
            lost = (by_floor - pd.Series(hits).groupby(contents).sum()).max()
            if hits.sum() <= floor.sum() or lost > CONTENT_SLACK:
                continue
            if (key := (int(hits.sum()), -float(np.median(self.miss(scale)[rows])))) > best:
                best, chosen = key, scale
        return chosen


def evidence(inputs: LosoInputs, ens: TrainedEnsemble) -> Evidence | None:
    """Each fold's held-out encodes, fed as vmaf-tune feeds them, with each seed's correction (`ens`'s networks alone);
    None where vmaf-tune is not fed or the teacher's function is not at hand."""
    if inputs.crf_range is None or inputs.teacher_model is None:
        return None
    df = inputs.df
    codes, keys = clip_codes(df), encode_keys(df).assign(content=df["content"].astype(str).to_numpy())
    feed = functools.partial(feed_codec, crf_range=inputs.crf_range)
    held = functools.cache(lambda k: held_encodes(inputs.folds[k].rows, codes, inputs.feats, inputs.target, keys,
                                                  feed, inputs.teacher_model.predict if inputs.teacher_model else None))
    seeds = sorted({m.seed for m in ens.members})
    parts = []
    for fold in inputs.folds:
        h = held(fold.index)
        assert h.fed is not None
        asked = np.isfinite(h.fed).all(axis=1) & h.base["cq"].between(*inputs.crf_range).to_numpy()
        corrections = np.full((int(asked.sum()), len(seeds)), np.nan)
        for m, member in enumerate(ens.members):
            if member.fold == fold.index and asked.any():
                corrections[:, seeds.index(member.seed)] = ens.predict(m, h.mean_feats[asked], h.fed[asked])
        parts.append(pd.DataFrame({"fold": fold.index, "content": h.base.loc[asked, "content"].to_numpy(),
                                   "teacher": h.base.loc[asked, "vmaf_mean"].to_numpy(),
                                   "base": h.base.loc[asked, "ceiling"].to_numpy()}).join(
            pd.DataFrame(corrections, columns=[f"c{s}" for s in seeds])))
    table = pd.concat(parts, ignore_index=True)
    return Evidence(table["fold"].to_numpy(), table["content"].to_numpy(), table["teacher"].to_numpy(dtype=float),
                    table["base"].to_numpy(dtype=float), table[[f"c{s}" for s in seeds]].to_numpy(dtype=float))


def with_floor(inputs: LosoInputs, ens: TrainedEnsemble) -> tuple[TrainedEnsemble, Correction | None]:
    """The teacher recipe's members as the teacher's function plus their corrections scaled, each fold's factor chosen
    on the other folds' held-out encodes; and what was chosen. The ensemble as it is by another recipe."""
    if inputs.distil is None or inputs.teacher_model is None or (found := evidence(inputs, ens)) is None:
        return ens, None
    folds = [found.choose(found.fold != fold.index) for fold in inputs.folds]
    everything = np.ones(len(found.fold), dtype=bool)
    scale = found.choose(everything)
    scaled = replace(ens, teacher=inputs.teacher_model, scales=tuple(folds[m.fold] for m in ens.members))
    return scaled, Correction(scale, folds, len(found.fold), int(found.within(0.0).sum()),
                              int(found.within(scale).sum()))
