"""The teacher's function as the student's floor (docs/teachers.md, "The floor"): the teacher recipe's student is the
teacher's own function of its input, its clip taken as an expectation under a spread (kit.model.spread) scaled by a
factor of FACTORS, plus a learned correction scaled by a factor of SCALES; both chosen on held-out encodes judged as
the consumer gates judge them (kit.verdict.ceiling): each counted encode as vmaf-tune samples it (the mean features of
its first --consumer-window s against the whole encode's teacher score; the whole encode's where the corpus gives no
frame rate), within --consumer-tolerance. Each fold's factors are chosen on the other folds' held-out encodes (never
its own), the export's on every fold's; the spread's also on the public encodes the kit carries (kit.model.realrows),
each held out by content (its spread fitted without it), which no network trains on.

A spread is a candidate only where it keeps more of those encodes within the tolerance than the teacher's function
alone, no fewer of the box's own, and loses no content more than CONTENT_SLACK of them; a correction only where it
keeps more of the box's own than the spread chosen alone, and loses no content more than CONTENT_SLACK to the
function. Of the candidates, the one that keeps the most, then has the least median miss (a mean would follow the few
encodes no factor brings within the tolerance), then is the smallest. Where none lifts the student above the
teacher's function, both factors are 0: the student is the teacher's function."""

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
from kit.model.realrows import PUBLIC, RealRows, shipped
from kit.model.results import Correction, RealEvidence
from kit.model.samplings import cut_pooled
from kit.model.spread import (
    FACTORS,
    LEAST_SPREAD,
    MOTION,
    TERMS,
    Moments,
    Spread,
    at_factor,
    encode_spreads,
    expected_clipped,
    terms,
)

if TYPE_CHECKING:
    from kit.media.svr import SvrModel
    from kit.model.folds import Fold
    from kit.model.loso import LosoInputs
    from kit.model.train import TrainedEnsemble

SCALES = (0.0, 0.25, 0.5, 0.75, 1.0)  # the correction's factors tried, the teacher's function alone first
CONTENT_SLACK = 1  # a content may lose at most this many held-out encodes to the teacher's function
REAL_FOLD = -1  # the fold of a public encode the kit carries: held out of every fold of the box
# 03_loso/floor.parquet: the evidence, one row per counted held-out encode (and public encode) and seed
# (docs/reference/files.md): `raw` the function's unclipped score, `spread` its spread at factor 1 and `most_spread`
# the bound no factor takes it past (fitted without the encode's own content), `real` a public encode
FLOOR_COLUMNS = ("fold", "content", *ENCODE_KEY, "seed", "teacher", "ceiling", "correction", "raw", "spread",
                 "most_spread", "real")


@dataclass(frozen=True)
class Evidence:
    """Every fold's held-out encodes as the consumer gates judge them, and the public encodes the kit carries
    (`real`, fold REAL_FOLD): the fold, the content, the whole encode's mean teacher score, the teacher's function of
    the judged mean features (`base`), its unclipped score (`raw`) and spread at factor 1 there (`spread`), and each
    seed's correction (NaN for a public encode); the tolerance, and whether the features are the sampled window's
    (`sampled`) or the whole encode's."""

    fold: np.ndarray
    content: np.ndarray
    teacher: np.ndarray
    base: np.ndarray
    corrections: np.ndarray  # (encodes, seeds)
    tolerance: float = TOLERANCE
    sampled: bool = False
    keys: pd.DataFrame | None = None  # each encode's ENCODE_KEY, for floor.parquet
    seeds: tuple[int, ...] = ()  # the corrections' columns
    raw: np.ndarray | None = None  # None: no spread (a floor of 2.4's arithmetic)
    spread: np.ndarray | None = None
    clip: tuple[float, float] = (0.0, 100.0)
    most_spread: np.ndarray | None = None  # each encode's bound on its spread at any factor; None: none

    @property
    def real(self) -> np.ndarray:
        return self.fold == REAL_FOLD

    def table(self) -> pd.DataFrame:
        """03_loso/floor.parquet: each encode and seed, its fold, content, key, whole encode's teacher score, the
        teacher's function as judged (`ceiling`), the seed's correction there, the function's unclipped score and its
        spread at factor 1; every factor's figures follow."""
        assert self.keys is not None
        n, k = self.corrections.shape
        each = np.repeat(np.arange(n), k)
        nan = np.full(n, np.nan)
        out = self.keys.iloc[each].reset_index(drop=True).assign(
            fold=self.fold[each].astype(np.int32), content=self.content[each].astype(str),
            seed=np.tile(np.asarray(self.seeds, dtype=np.int32), n), teacher=self.teacher[each],
            ceiling=self.base[each], correction=self.corrections.reshape(-1),
            raw=(self.raw if self.raw is not None else nan)[each],
            spread=(self.spread if self.spread is not None else nan)[each],
            most_spread=(self.most_spread if self.most_spread is not None else nan)[each], real=self.real[each])
        return out[list(FLOOR_COLUMNS)]

    def floor(self, spread: float) -> np.ndarray:
        """Each encode's student before its correction: the function's expected clip at `spread` (0: the function)."""
        if spread == 0.0 or self.raw is None or self.spread is None:
            return self.base
        sigma = spread * self.spread if self.most_spread is None else at_factor(spread, self.spread, self.most_spread)
        return expected_clipped(self.raw, sigma, self.clip)

    def miss(self, scale: float, spread: float = 0.0) -> np.ndarray:
        """Each encode's |prediction - teacher| at `spread` and `scale`: the mean over seeds of each member's output,
        clipped (a public encode's correction is none: its floor alone)."""
        base = self.floor(spread)
        if scale == 0.0:
            return np.abs(clipped(base) - self.teacher)
        return np.abs(clipped(base[:, None] + scale * self.corrections).mean(axis=1) - self.teacher)

    def within(self, scale: float, spread: float = 0.0) -> np.ndarray:
        """Each encode within the tolerance (a NaN miss is no hit, as the gates count it)."""
        return self.miss(scale, spread) <= self.tolerance

    def _pick(self, rows: np.ndarray, tries: list[tuple[float, float]], against: tuple[float, float],
              own: np.ndarray) -> tuple[float, float]:
        """Of `tries` (spread, scale), the one kept on the encodes `rows` (a mask): more within than `against`, no
        fewer of `own` (the box's) than the function, no content more than CONTENT_SLACK under the function; the most
        within, then the least median miss, then the first; `against` where none is."""
        contents = pd.Series(self.content[rows])
        function = pd.Series(self.within(0.0)[rows]).groupby(contents).sum()
        before = int(self.within(against[1], against[0])[rows].sum())
        own_before = int(self.within(0.0)[rows & own].sum())
        chosen, best = against, (before, -np.inf)
        for spread, scale in tries:
            miss = self.miss(scale, spread)
            hits = miss <= self.tolerance
            key = (int(hits[rows].sum()), -float(np.median(miss[rows])))
            lost = (function - pd.Series(hits[rows]).groupby(contents).sum()).max()
            if key[0] > before and int(hits[rows & own].sum()) >= own_before and lost <= CONTENT_SLACK \
                    and key > best:
                chosen, best = (spread, scale), key
        return chosen

    def choose_spread(self, rows: np.ndarray) -> float:
        """The spread's factor chosen on `rows` (the box's encodes and the public ones), no correction; 0 where none
        lifts the student or no spread is at hand."""
        if not rows.any() or self.raw is None:
            return 0.0
        return self._pick(rows, [(f, 0.0) for f in FACTORS[1:]], (0.0, 0.0), ~self.real)[0]

    def choose(self, rows: np.ndarray, spread: float = 0.0) -> float:
        """The correction's factor chosen on the box's encodes `rows` (a mask) over the student at `spread`: of those
        that keep more within the tolerance than it, the one that keeps the most, then has the least median miss,
        then is the smallest; 0 where none does or none are counted."""
        rows = rows & ~self.real
        if not rows.any():
            return 0.0
        return self._pick(rows, [(spread, s) for s in SCALES[1:]], (spread, 0.0), rows)[1]


@dataclass(frozen=True)
class Judged:
    """A fold's counted held-out encodes as the gates judge them: their keys (content, encoder, cq), the judged mean
    features, vmaf-tune's codec block for them, the whole encode's mean teacher score and the teacher's function."""

    keys: pd.DataFrame
    mean_feats: np.ndarray
    fed: np.ndarray
    teacher: np.ndarray
    base: np.ndarray

    def counted(self, crf_range: tuple[int, int]) -> np.ndarray:
        """The encodes the floor counts: vmaf-tune feeds them (a whole codec block) and asks their CRF."""
        return np.isfinite(self.fed).all(axis=1) & self.keys["cq"].between(*crf_range).to_numpy()


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


@dataclass(frozen=True)
class SpreadFits:
    """The spread (kit.model.spread.Spread at factor 1: log sigma's coefficients and the bounds of what they were
    fitted on) fitted on every encode but a fold's (`folds`), but a public content's (`real`, by content), and on all
    (`export`); the public encodes read, and their status."""

    folds: list[Spread]
    real: dict[str, Spread]
    export: Spread
    rows: RealRows | None
    status: str
    shared: int = 0  # public contents left out: the box holds their clips itself


def fitted(total: Moments, x: np.ndarray, y: np.ndarray, left: np.ndarray) -> Spread:
    """The spread at factor 1 fitted on `total` less the encodes `left` (a mask over x, y), bounded by the encodes
    it was fitted on: the largest motion term and the largest spread among them."""
    kept = ~left
    most_motion = float(x[kept, TERMS.index("motion")].max()) if kept.any() else 0.0
    most_spread = float(np.exp(y[kept].max())) if kept.any() else LEAST_SPREAD
    return Spread((total - Moments.of(x[left], y[left])).solve(), 1.0, most_motion, most_spread)


def spread_fits(inputs: LosoInputs, model: SvrModel, clip: tuple[float, float]) -> SpreadFits:
    """Each encode's spread of its frames' unclipped scores (the box's and the public ones the kit carries) fitted
    by least squares (kit.model.spread.Moments) on all but what each fold, and each public content, holds out."""
    assert inputs.crf_range is not None
    codes = inputs.codes
    six = inputs.feats[:, :6].astype(np.float64)
    ids, inverse, counts = np.unique(codes, return_inverse=True, return_counts=True)
    means = np.column_stack([np.bincount(inverse, weights=six[:, j]) / counts for j in range(6)])
    _, x, y = encode_spreads(model.predict(six, clipped=False), codes, six, inputs.codec,
                             model.predict(means, clipped=False), clip)
    n_box = len(x)
    rows, status = shipped(model.name)
    shared = 0
    if rows is not None:  # a public clip the box holds itself is the box's content: left out of them
        # the box's sources, each once: never a text per row (3,000,000 strings, 0.9 GiB at 10,000 contents)
        rows, shared = rows.without(set(inputs.df["src_sha256"].drop_duplicates().astype(str)))
    rows = rows if rows is not None and len(rows.frame) else None
    contents = np.zeros(0, dtype=str)
    if rows is not None:
        whole = rows.whole()
        block = feed_codec(rows.frame["encoder"], rows.frame["crf"], inputs.crf_range)
        x = np.vstack([x, terms(model.predict(whole, clipped=False), block, whole[:, MOTION], clip)])
        y = np.concatenate([y, np.log(np.maximum(rows.frame["spread"].to_numpy(dtype=float), LEAST_SPREAD))])
        contents = rows.contents
    total = Moments.of(x, y)
    public = np.zeros(len(x), dtype=bool)
    public[n_box:] = True
    real = {}
    for content in np.unique(contents):
        left = np.zeros(len(x), dtype=bool)
        left[n_box:] = contents == content
        real[str(content)] = fitted(total, x, y, left)
    folds = []
    for fold in inputs.folds:
        left = np.zeros(len(x), dtype=bool)
        left[:n_box] = np.isin(ids, np.unique(codes[fold.rows]))
        folds.append(fitted(total, x, y, left))
    return SpreadFits(folds, real, fitted(total, x, y, np.zeros(len(x), dtype=bool)), rows, status, shared)


def evidence(inputs: LosoInputs, ens: TrainedEnsemble) -> tuple[Evidence, SpreadFits | None] | None:
    """Each fold's counted held-out encodes as the gates judge them, with each seed's correction (`ens`'s networks
    alone), and the public encodes the kit carries (no correction); the spread's fits. None where vmaf-tune is not
    fed or the teacher's function is not at hand."""
    if inputs.crf_range is None or (model := inputs.teacher_model) is None:
        return None
    df = inputs.df
    keys = encode_keys(df).assign(content=text(df["content"]))
    seeds = sorted({m.seed for m in ens.members})
    clip = model.clip
    fits = spread_fits(inputs, model, clip) if clip is not None else None
    parts = []
    for fold in inputs.folds:
        j = judged(inputs, fold, keys)
        asked = j.counted(inputs.crf_range)
        corrections = np.full((int(asked.sum()), len(seeds)), np.nan)
        for m, member in enumerate(ens.members):
            if member.fold == fold.index and asked.any():
                corrections[:, seeds.index(member.seed)] = ens.predict(m, j.mean_feats[asked], j.fed[asked])
        six = j.mean_feats[asked][:, :6].astype(np.float64)
        raw = model.predict(six, clipped=False)
        spread = (fits.folds[fold.index].sigma(raw, j.fed[asked], six[:, MOTION], clip)
                  if fits is not None and clip is not None else np.full(len(raw), np.nan))
        most = np.full(len(raw), fits.folds[fold.index].most_spread if fits is not None else np.nan)
        parts.append(j.keys.loc[asked, list(ENCODE_KEY)].reset_index(drop=True).assign(
            fold=fold.index, content=j.keys.loc[asked, "content"].to_numpy(), teacher=j.teacher[asked],
            base=j.base[asked], raw=raw, spread=spread, most_spread=most).join(
            pd.DataFrame(corrections, columns=[f"c{s}" for s in seeds])))
    if fits is not None and fits.rows is not None and clip is not None:
        parts.append(real_part(fits, fits.rows, model, clip, inputs.crf_range, seeds))
    table = pd.concat(parts, ignore_index=True)
    return Evidence(table["fold"].to_numpy(), table["content"].to_numpy(), table["teacher"].to_numpy(dtype=float),
                    table["base"].to_numpy(dtype=float), table[[f"c{s}" for s in seeds]].to_numpy(dtype=float),
                    inputs.tolerance, inputs.placed is not None, table[list(ENCODE_KEY)], tuple(seeds),
                    table["raw"].to_numpy(dtype=float) if fits is not None else None,
                    table["spread"].to_numpy(dtype=float) if fits is not None else None,
                    clip or (0.0, 100.0),
                    table["most_spread"].to_numpy(dtype=float) if fits is not None else None), fits


def real_part(fits: SpreadFits, rows: RealRows, model: SvrModel, clip: tuple[float, float],
              crf_range: tuple[int, int], seeds: list[int]) -> pd.DataFrame:
    """The public encodes as evidence: fed as vmaf-tune feeds them (their first 5 s), each content's spread fitted
    without it, no correction."""
    window = rows.window()
    block = feed_codec(rows.frame["encoder"], rows.frame["crf"], crf_range)
    raw = model.predict(window, clipped=False)
    spread, most = np.zeros(len(raw)), np.zeros(len(raw))
    for content in np.unique(rows.contents):
        mine = rows.contents == content
        spread[mine] = fits.real[str(content)].sigma(raw[mine], block[mine], window[mine, MOTION], clip)
        most[mine] = fits.real[str(content)].most_spread
    frame = rows.frame
    keys = pd.DataFrame({"src_sha256": frame["source_sha256"].astype(str),  # the public file's own, as a box's
                         "encoder": frame["encoder"].astype(str), "cq": frame["crf"].astype(np.int64),
                         "enc_width": 0, "enc_height": 0})
    return keys.assign(fold=REAL_FOLD, content=PUBLIC + frame["content"].astype(str), teacher=frame["teacher"],
                       base=np.clip(raw, *clip), raw=raw, spread=spread, most_spread=most).join(
        pd.DataFrame(np.full((len(frame), len(seeds)), np.nan), columns=[f"c{s}" for s in seeds]))


def settled(inputs: LosoInputs, distils: bool | None = None) -> int | None:
    """How many held-out encodes the floor counts, where the teacher's function alone keeps every one within the
    tolerance: then no correction can be kept, on any fold or the export (a spread is kept only where it keeps no
    fewer of the box's encodes than the function, so all of them; a correction only where it keeps more than that
    spread), and the teacher recipe's networks need not be trained to be multiplied by 0. None where the function
    misses one (each fold judged in turn, the first miss ends it), or no function is at hand, or the teacher recipe's
    set is not made (`distils`: whether it is, where it is not made yet; by default, whether `inputs` hold it)."""
    if distils is None:
        distils = inputs.distil is not None
    if not distils or inputs.crf_range is None or inputs.teacher_model is None:
        return None
    keys = encode_keys(inputs.df)
    kept = 0
    for fold in inputs.folds:
        j = judged(inputs, fold, keys)
        asked = j.counted(inputs.crf_range)
        if not (np.abs(clipped(j.base[asked]) - j.teacher[asked]) <= inputs.tolerance).all():
            return None
        kept += int(asked.sum())
    return kept


def with_floor(inputs: LosoInputs, ens: TrainedEnsemble
               ) -> tuple[TrainedEnsemble, Correction | None, pd.DataFrame | None]:
    """The teacher recipe's members as the teacher's function, its clip at the spread kept, plus their corrections
    scaled, each fold's factors chosen on the other folds' held-out encodes and the public ones; what was chosen, and
    what it was chosen on (floor.parquet). The ensemble as it is by another recipe."""
    if inputs.distil is None or inputs.teacher_model is None or (made := evidence(inputs, ens)) is None:
        return ens, None, None
    found, fits = made
    spreads = [found.choose_spread(found.fold != fold.index) for fold in inputs.folds]
    folds = [found.choose(found.fold != fold.index, spread) for fold, spread in zip(inputs.folds, spreads,
                                                                                     strict=True)]
    everything = np.ones(len(found.fold), dtype=bool)
    spread = found.choose_spread(everything)
    scale = found.choose(everything, spread)
    own = np.zeros(len(found.fold), dtype=bool)
    for fold, (k, c) in enumerate(zip(spreads, folds, strict=True)):
        at = found.fold == fold
        own[at] = found.within(c, k)[at]
    box = ~found.real
    real = None
    if fits is not None:
        at = found.real
        real = RealEvidence(fits.status, int(at.sum()), len(np.unique(found.content[at])),
                            int(found.within(0.0)[at].sum()), int(found.within(0.0, spread)[at].sum()),
                            fits.rows.sha256 if fits.rows is not None else "", fits.shared)
    member_spreads = tuple(replace(fits.folds[m.fold], factor=spreads[m.fold]) if fits is not None else None
                           for m in ens.members)
    scaled = replace(ens, teacher=inputs.teacher_model, scales=tuple(folds[m.fold] for m in ens.members),
                     spreads=member_spreads)
    export_spread = replace(fits.export, factor=spread) if fits is not None else None
    return scaled, Correction(scale, folds, int(box.sum()), int(found.within(0.0)[box].sum()), int(own[box].sum()),
                              found.tolerance, found.sampled, export_spread, spreads if fits is not None else None,
                              real), found.table()
