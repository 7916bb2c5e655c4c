"""Everything the verdict measures beyond the seeds' fold means, from LOSO's files (handed over: no file access)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from kit.corpus.schema import CORPUS_ROW
from kit.media.fingerprint import Repeats
from kit.model.cost import Told, untold
from kit.verdict.breakdown import breakdown, errors_of, group_labels
from kit.verdict.ceiling import ConsumerTally
from kit.verdict.confounding import Confounding, confounding
from kit.verdict.document import (
    ClipPooling,
    Completeness,
    ConsumerFit,
    GroupErrors,
    HoldoutBlock,
    Intervals,
    LimitGate,
)
from kit.verdict.exported import exported_interval
from kit.verdict.intervals import GroupThresholds, calibrate, clip_use, ensemble_rows, sidecar
from kit.verdict.plausibility import TeacherSuspect, teacher_suspects
from kit.verdict.pooling import clip_frame, clip_pooling
from kit.verdict.regimes import FrameRegime, frame_regimes
from kit.verdict.thresholds import HOLDOUT_PLCC_MEASURE


@dataclass(frozen=True)
class Assessment:
    rows: pd.DataFrame  # intervals.parquet
    intervals: Intervals
    breakdown: tuple[GroupErrors, ...]
    holdout: tuple[HeldOut, ...]  # each --holdout validation, its gate judged with the others (kit.verdict.gates)
    completeness: Completeness
    sidecar: dict[str, object] | None  # calibration.json (None without clips.parquet: a LOSO of an older kit)
    confounding: tuple[str, ...] = ()  # what the boxes stand for besides themselves (kit.verdict.confounding)
    clips: pd.DataFrame | None = None  # clip_pooling.parquet: every held-out clip's poolings (kit.verdict.pooling)
    clip_pooling: ClipPooling | None = None
    teacher_suspects: tuple[TeacherSuspect, ...] | None = None  # kit.verdict.plausibility; None: no teacher scores
    consumer: ConsumerFit | None = None  # the held-out encodes as vmaf-tune predicts them (kit.verdict.consumer)
    regimes: tuple[FrameRegime, ...] = ()  # sources whose pictures repeat (kit.verdict.regimes): a warning
    judged: pd.DataFrame | None = None  # consumer_encodes.parquet: the encodes the consumer gates judge


@dataclass(frozen=True)
class Predicted:
    """What the assessment takes of LOSO's predictions (a row per seed and held-out row): each held-out row's mean and
    spread beside its corpus columns, and whether every source was predicted by every seed. Made before the rest is
    assessed, so that the predictions are not held beside it (at 10,000 contents 15,000,000 rows)."""

    rows: pd.DataFrame  # kit.verdict.intervals.ensemble_rows
    completeness: Completeness

    @classmethod
    def of(cls, predictions: pd.DataFrame, meta: pd.DataFrame) -> Predicted:
        """`predictions`: LOSO's (seed, row, vmaf, pred) of the verdict's seeds; `meta`: the corpus rows as LOSO
        numbered them."""
        return cls(ensemble_rows(predictions, meta), completeness(meta, predictions))


def assess(predicted: Predicted, meta: pd.DataFrame, clips: pd.DataFrame | None,
           holdouts: dict[str, pd.DataFrame], nominal: float, consumer: ConsumerFit | None = None,
           repeats: Mapping[str, Repeats] | None = None, judged: pd.DataFrame | None = None,
           said: Told = untold) -> Assessment:
    """`predicted`: the held-out rows of LOSO's predictions; `meta`: the corpus rows as LOSO numbered them; `clips`:
    03_loso/clips.parquet of those seeds; `consumer`: the block from encodes.parquet, and `judged` the encodes its
    gates judge; `repeats`: each source's repeated pictures, as the corpus's manifest records them. Its parts `said`
    (what, the share done) as it goes: the intervals about a third of its work, the figures by group the rest."""
    held_out = predicted.rows
    said("calibrating the intervals", 0.0)
    th = GroupThresholds.of(held_out, nominal)  # once, for the rows' intervals and the clips'
    rows, intervals = calibrate(held_out, nominal, th)
    intervals = replace(intervals, exported=exported_interval(rows, intervals))
    residuals = None
    if clips is not None and len(clips):
        use, residuals = clip_use(clips, rows, nominal, th)
        intervals = replace(intervals, clip_use=use)
    del th  # its calibrations, three numbers a row each, let go before the figures by group are made (0.27 GiB at
    # 10,000 contents, bench/README.md#scale-10000)
    said("the figures by group", 0.33)
    mixed = confounding(rows)
    blocks = tuple(holdout_block(kind, frame, meta, mixed) for kind, frame in holdouts.items())
    pooled = clip_frame(rows)
    return Assessment(rows, intervals, mixed.apply(breakdown(rows)), blocks, predicted.completeness,
                      sidecar(residuals, nominal) if residuals is not None else None, tuple(mixed.sentences),
                      pooled, clip_pooling(pooled), teacher_suspects(meta) if "vmaf" in meta else None, consumer,
                      frame_regimes(meta, content_tallies(consumer), repeats or {}), judged)


def content_tallies(consumer: ConsumerFit | None) -> tuple[ConsumerTally, ...]:
    """The content groups as the consumer gates count them (none without the block)."""
    return consumer.judged.of("content") if consumer is not None and consumer.judged is not None else ()


def completeness(meta: pd.DataFrame, predictions: pd.DataFrame) -> Completeness:
    """Every source predicted, every row, by every seed, with no NaN; a failed fold's sources are named. Counted on
    integer codes (a source's, a seed's): at 10,000 contents the predictions are 15,000,000 rows, and a frame of their
    sources' names was the verdict step's peak (bench/README.md#scale-10000)."""
    seeds = np.unique(predictions["seed"].to_numpy())
    ok = predictions["pred"].notna().to_numpy()
    codes, shas = pd.factorize(meta["src_sha256"])  # a code per corpus row for its source, in order of appearance
    sizes = np.bincount(codes, minlength=len(shas))
    where = meta.index.get_indexer(predictions[CORPUS_ROW].to_numpy()[ok])  # every row is meta's (checked before)
    cell = codes[where].astype(np.int64) * len(seeds) + np.searchsorted(seeds, predictions["seed"].to_numpy()[ok])
    counts = np.bincount(cell, minlength=len(shas) * len(seeds)).reshape(len(shas), len(seeds))
    complete = (counts == sizes[:, None]).all(axis=1) & (len(seeds) > 0)
    _, first = np.unique(codes, return_index=True)  # each source's first row, whose name it is given
    names = meta["src"].to_numpy()[first]
    missing = sorted(str(names[i]) for i in np.flatnonzero(~complete))
    return Completeness(expected_sources=len(shas), with_results=len(shas) - len(missing), missing=missing,
                        passed=not missing)


def holdout_gate(kind: str, groups: tuple[GroupErrors, ...], min_plcc: float | None,
                 measure: str = HOLDOUT_PLCC_MEASURE) -> LimitGate:
    """--holdout-min-plcc over one --holdout block's groups: every held-out encoder's (box's) PLCC at least X."""
    worst = min(groups, key=lambda g: (g.plcc if g.plcc == g.plcc else -2.0, g.group), default=None)
    failing = sorted(g.group for g in groups if min_plcc is not None and not g.plcc >= min_plcc)
    return LimitGate.of(measure, min_plcc, worst.group if worst else None, worst.plcc if worst else float("nan"),
                        failing, f"held-out {kind} {worst.group}: PLCC {worst.plcc:.4f}, RMSE {worst.rmse:.2f} on "
                                 f"{worst.n_frames} frames it never saw" if worst else None,
                        None if groups else f"no held-out {kind}: no row of any {kind} was predicted")


@dataclass(frozen=True)
class HeldOut:
    """One --holdout validation as assessed: its groups' figures and its rows left out. Its gate is judged once, with
    the others at the verdict's thresholds (kit.verdict.gates.held_out), and put in its block by `judged`."""

    kind: str  # encoder | box
    scheme: str
    groups: tuple[GroupErrors, ...]
    rows_left_out: int | None = None
    left_out: str | None = None

    def judged(self, gate: LimitGate) -> HoldoutBlock:
        """The verdict's block: these figures and the gate judged on them."""
        return HoldoutBlock(self.kind, self.scheme, self.groups, gate, self.rows_left_out, self.left_out)


def holdout_block(kind: str, frame: pd.DataFrame, meta: pd.DataFrame, mixed: Confounding) -> HeldOut:
    """One --holdout validation: the ensemble on each held-out encoder (box) and its rows left out."""
    by_row = frame.groupby(CORPUS_ROW, sort=True)
    rows = meta.loc[by_row.size().index].assign(vmaf=by_row["vmaf"].first(), pred=by_row["pred"].mean(),
                                                heldout=by_row["heldout"].first())
    groups = tuple(errors_of(kind, str(name), part) for name, part in rows.groupby("heldout", sort=True))
    groups = mixed.apply(groups, kind)
    scheme = str(frame["scheme"].iloc[0]) if "scheme" in frame and len(frame) else ""
    left = int(len(meta) - len(rows))  # every corpus row is some encoder's (box's): each should be predicted once
    unpredicted = meta.loc[~meta.index.isin(rows.index)]
    said = (f"{left} of {len(meta)} rows were left out of this validation: a held-out {kind}'s rows in a fold "
            f"where no row of another {kind} is left to train on (of "
            + ", ".join(f"{v} {n}" for v, n in group_labels(unpredicted, kind).value_counts().sort_index().items())
            + ")") if left else None
    return HeldOut(kind, scheme, groups, left if left else None, said)

