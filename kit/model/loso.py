"""Validation of the ensemble on the folds of kit.model.folds: every row predicted by the members that did not train
on it, its figures per source (FoldResult) and per content group (GroupResult: what the gate's means average)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, NoReturn, cast

import numpy as np
import pandas as pd

from kit.corpus.samplings import VMAFTUNE_WINDOW_S
from kit.corpus.schema import CORPUS_ROW, VMAF_CEILING
from kit.corpus.training import text
from kit.infra.interrupts import check
from kit.infra.resources import give_back_memory
from kit.media.svr import SvrModel
from kit.model.batches import Complement
from kit.model.clips import ENCODE_KEY, clip_codes, clip_predictions, encode_keys, held_encodes
from kit.model.consumer import CRF_RANGE, TOLERANCE
from kit.model.contract import CANONICAL6, MODEL_FEATURES
from kit.model.distil import Distillation, encode_codes, recipe_of
from kit.model.encodes import consumer_encodes, feed_codec
from kit.model.features import Codec, design_matrix, design_rows
from kit.model.folds import LOSO, Fold, cut_folds
from kit.model.metrics import correlated, residuals, summarise
from kit.model.predictions import HeldPredictions
from kit.model.recipe import TEACHER, FoldsAsked, TrainConfig
from kit.model.results import Correction, FoldResult, FoldScheme, GroupResult, SeedReport
from kit.model.samplings import (
    Placed,
    Pooled,
    consumer_samplings,
    cut_pooled,
    encoded_pooled,
    members_rows,
    place_windows,
    sample_costs,
    sample_groups,
    with_window,
)
from kit.model.teacher_fn import TeacherFunction
from kit.model.train import Member, TrainedEnsemble

ENCODE_IDENTITY = ("src", "content", "height")  # what clips.parquet and encodes.parquet say of an encode beside its key
# what LOSO's evaluation says as it goes, for its step's time left: what it is doing from now on, and the rows it has
# predicted since it last said (kit.model.baselines.evaluated_rows: all of them)
Said = Callable[[str, int], None]


def unsaid(what: str, rows: int) -> None:
    """A Said that tells no one."""


@dataclass
class LosoResult:
    seed_reports: list[SeedReport]  # means over content groups; folds[] per source
    folds: pd.DataFrame  # every (seed, source), the FoldResult fields as columns (folds.parquet)
    held: HeldPredictions  # one row per held-out frame and seed (predictions.parquet), kept as rows until written
    n_members: int
    scheme: FoldScheme | None = None
    clips: pd.DataFrame = field(default_factory=pd.DataFrame)  # per held-out encode and seed (clips.parquet)
    # per held-out encode, as vmaf-tune predicts it (encodes.parquet); None for an input set vmaf-tune does not feed
    encodes: pd.DataFrame | None = None
    # per held-out encode and sampling, as vmaf-tune predicts it from a sample of the clip (samplings.parquet)
    samplings: pd.DataFrame | None = None
    correction: Correction | None = None  # the teacher recipe's: how much of it each fold and the export keep
    floor: pd.DataFrame | None = None  # ... and the evidence it was chosen on (floor.parquet, kit.model.floor)

    def let_go(self) -> None:
        """The tables of encodes, samplings and folds dropped (their writer holds them: it lets each go once written);
        the figures and the predictions kept."""
        self.folds, self.clips, self.encodes, self.samplings, self.floor = pd.DataFrame(), pd.DataFrame(), None, None, \
            None

    @functools.cached_property
    def predictions(self) -> pd.DataFrame:
        """predictions.parquet as one table (a large corpus's is written a member at a time: HeldPredictions.write)."""
        return self.held.frame()


@dataclass(frozen=True)
class Samples:
    """The corpus step's sample encodes (02_corpus/samples.parquet, kit.corpus.samples): their frames with a code per
    encode and sampling, those frames' raw features, and each encode and sampling's cost."""

    rows: pd.DataFrame
    feats: np.ndarray
    costs: pd.DataFrame

    @classmethod
    def of(cls, frame: pd.DataFrame, inputs: str = CANONICAL6) -> Samples:
        rows = sample_groups(frame)
        return cls(rows, design_matrix(rows, inputs)[0], sample_costs(frame))


class LetGo:
    """What stands for a training task's rows' identity once it is let go (LosoInputs.training_only): any use of it
    is a bug, said as one; an empty frame would answer (the encodes of no row) where it should fail."""

    def _used(self, what: str) -> NoReturn:
        raise AssertionError(f"a training task's rows' identity was let go (LosoInputs.training_only), then used: "
                             f"{what}")

    def __getattr__(self, name: str) -> NoReturn:
        self._used(name)

    def __getitem__(self, key: object) -> NoReturn:
        self._used(f"[{key!r}]")

    def __contains__(self, key: object) -> NoReturn:
        self._used(f"in: {key!r}")

    def __len__(self) -> NoReturn:
        self._used("len")

    def __iter__(self) -> NoReturn:
        self._used("iter")


@dataclass(frozen=True)
class LosoInputs:
    """A corpus cut into its folds: what every model evaluated on them (ensemble, baselines) trains on."""

    df: pd.DataFrame
    folds: list[Fold]
    train: list[Complement]  # per fold, the rows it trains on (made when a group trains on them)
    feats: np.ndarray
    codec: Codec  # the codec block, as CodecRows where LosoInputs.of made it
    target: np.ndarray  # vmaf, float64
    scheme: FoldScheme
    # --vmaftune-crf-range (kit.model.encodes); None for an input set vmaf-tune does not feed
    crf_range: tuple[int, int] | None = CRF_RANGE
    # the teacher's function as the loso step proved it; the teacher recipe's training set where it is used
    teacher_fn: TeacherFunction | None = None
    distil: Distillation | None = None
    teacher_model: SvrModel | None = None  # the teacher's function, where proven: the consumer's ceiling
    window_s: float = VMAFTUNE_WINDOW_S  # --consumer-window: the consumer's sample (kit.corpus.samplings)
    tolerance: float = TOLERANCE  # --consumer-tolerance: the teacher recipe's floor judges at it (kit.model.floor)
    samples: Samples | None = None  # the windows encoded on their own, where the corpus step made them
    # each source's frames' times in seconds (by src_sha256), where its corpus's manifest records them: the windows
    # are placed by them (kit.corpus.samplings), else by the frames' rate
    times: Mapping[str, Sequence[float]] = field(default_factory=dict)

    @property
    def recipe(self) -> str:
        return recipe_of(self.distil)

    @functools.cached_property
    def codes(self) -> np.ndarray:
        """Each row's encode (kit.model.clips.clip_codes), once."""
        return clip_codes(self.df)

    @functools.cached_property
    def placed(self) -> Placed | None:
        """Each sampling's windows in each encode, placed once for the floor and the evaluation (place_windows); None
        where vmaf-tune is not fed or the corpus gives no frame rate."""
        return place_windows(self.df, self.codes, self.window_s, self.times) if self.crf_range is not None else None

    def distils(self, model: SvrModel | None, config: TrainConfig) -> bool:
        """Whether the teacher recipe's set is made (`distilled`): asked, the teacher reproduced, the canonical six."""
        return model is not None and config.recipe == TEACHER and self.feats.shape[1] == len(MODEL_FEATURES)

    def distilled(self, proof: TeacherFunction, model: SvrModel | None, config: TrainConfig,
                  codes: np.ndarray | None = None) -> LosoInputs:
        """With the teacher's proof, and the teacher recipe's set where it `distils`; `codes`: each row's encode
        (encode_codes), made before the rows' identity was let go (a training task's), else of the frame."""
        distil = Distillation.of(self.feats, self.target, encode_codes(self.df) if codes is None else codes, model,
                                 config) if self.distils(model, config) and model is not None else None
        return replace(self, teacher_fn=proof, distil=distil, teacher_model=model)

    @classmethod
    def of(cls, df: pd.DataFrame, asked: FoldsAsked = LOSO, inputs: str = CANONICAL6,
           crf_range: tuple[int, int] = CRF_RANGE) -> LosoInputs:
        """`df` cut into folds, with the features of the input set `inputs` (a frame without corpus_row is numbered)."""
        if CORPUS_ROW not in df:
            df = df.assign(**{CORPUS_ROW: np.arange(len(df), dtype=np.int64)})
        folds, scheme = cut_folds(df, asked)
        feats, codec = design_rows(df, inputs)
        return cls(df, folds, [Complement(len(df), f.rows) for f in folds], feats, codec,
                   np.array(df["vmaf"], dtype=np.float64), scheme, crf_range if inputs == CANONICAL6 else None)

    def training_only(self) -> LosoInputs:
        """What a training task keeps (`step loso --train-task`): the arrays its members train on, without the rows'
        identity, the samples and the frames' times, which only the evaluation reads (at 10,000 contents the identity
        is 308 MiB of the task's 1.4 GiB). A use of them after is a bug, said as one (LetGo), never an empty answer."""
        return replace(self, df=cast("pd.DataFrame", LetGo()), samples=None, times={})

    def members(self, seeds: list[int]) -> list[Member]:
        """One member per (seed, fold), seed by seed."""
        return [Member(seed, fold.index, self.train[fold.index]) for seed in seeds for fold in self.folds]


def held_out_results(fold: Fold, y: np.ndarray, pred: np.ndarray, seed: int | None = None,
                     ) -> tuple[list[FoldResult], list[GroupResult]]:
    """One model's figures on each source a fold holds out and on each content group, its sources' rows pooled, from
    its predictions `pred` of the fold's rows: a group of one source has that source's rows, so its figures are the
    source's, computed once (the ranks' figures are most of a large corpus's evaluation)."""
    ats = [slice(None) if len(fold.sources) == 1 else np.searchsorted(fold.rows, s.rows) for s in fold.sources]
    found = {s.src_sha256: figures(y[at], pred[at]) for s, at in zip(fold.sources, ats, strict=True)}
    sources = [FoldResult(seed=seed, fold=fold.index, src=s.src, src_sha256=s.src_sha256, n_frames=len(s.rows),
                          share_vmaf_100=float(np.mean(y[at] >= VMAF_CEILING)) if seed is not None else None,
                          **found[s.src_sha256]) for s, at in zip(fold.sources, ats, strict=True)]
    groups = fold.groups()
    rows = [ss[0].rows if len(ss) == 1 else np.sort(np.concatenate([s.rows for s in ss])) for _, ss in groups]
    ats = [slice(None) if len(groups) == 1 else np.searchsorted(fold.rows, r) for r in rows]
    return sources, [GroupResult(content=content, name=" + ".join(s.src for s in ss), n_sources=len(ss),
                                 fold=fold.index, n_frames=len(r),
                                 **(found[ss[0].src_sha256] if len(ss) == 1 else figures(y[at], pred[at])))
                     for (content, ss), r, at in zip(groups, rows, ats, strict=True)]


def figures(y: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    """The figures a FoldResult and a GroupResult hold of held-out rows; teacher_constant True or None (left out)."""
    r = residuals(pred, y, ranks=True)
    return {**r.fields_of(FoldResult), "teacher_constant": r.teacher_constant or None}


def by_group(results: list[GroupResult]) -> list[GroupResult]:
    """Per-group results in group order (name, id), whichever fold held each out."""
    return sorted(results, key=lambda r: (r.name, r.content))


def by_source(results: list[FoldResult]) -> list[FoldResult]:
    """Per-source results in source order (name, hash), whichever fold held each out; stable within a seed."""
    return sorted(results, key=lambda r: (r.src, r.src_sha256))


def evaluate_loso(inputs: LosoInputs, seeds: list[int], ens: TrainedEnsemble, said: Said = unsaid) -> LosoResult:
    """Every member on the sources its fold holds out: the sources' figures, the seeds' reports, the predictions;
    each member's rows `said` once it is done."""
    df, feats, codec, target = inputs.df, inputs.feats, inputs.codec, inputs.target
    held_out = HeldPredictions.of(df, target)
    per_seed: dict[int, list[FoldResult]] = {seed: [] for seed in seeds}
    per_group: dict[int, list[GroupResult]] = {seed: [] for seed in seeds}
    clip_frames = []
    enc, names = pd.factorize(df["encoder"], sort=True)  # per fold, the encoders its members train on: rows outside it
    total = np.bincount(enc, minlength=len(names))
    trained = [{str(names[i]) for i in np.flatnonzero(total - np.bincount(enc[f.rows], minlength=len(names)))}
               for f in inputs.folds]
    codes = inputs.codes
    # ENCODE_IDENTITY; without names or groups, a source is its own, by its hash (its text made only then: 0.2 GiB
    # at 10,000 contents, held to the end of the evaluation)
    keys = encode_keys(df).join(pd.DataFrame({
        "src": df["src"] if "src" in df else text(df["src_sha256"]).astype(str).str[:12],
        "content": df["content"] if "content" in df else text(df["src_sha256"]),
        **({"height": df["height"]} if "height" in df else {})}, index=df.index))
    feed = functools.partial(feed_codec, crf_range=inputs.crf_range) if inputs.crf_range is not None else None
    placed = inputs.placed
    teacher_fn = inputs.teacher_model.predict if inputs.teacher_model is not None else None
    # each fold's held-out encodes pooled once (whole, and over the samplings' frames), for the seeds' members of it
    held = functools.cache(lambda k: held_encodes(inputs.folds[k].rows, codes, feats, target, keys, feed, teacher_fn))
    pooled = functools.cache(lambda k: sampled_pooled(inputs, inputs.folds[k], codes, keys, placed, feed))
    sampled: list[tuple[Pooled, np.ndarray]] = []  # each member's prediction of its fold's pooled rows
    for m, mem in enumerate(ens.members):
        check()  # hundreds of members on a large corpus: a stop signal between two (kit/infra/interrupts.py)
        fold = inputs.folds[mem.fold]
        pred = ens.predict(m, feats[fold.rows], codec[fold.rows])
        y = target[fold.rows]
        sources, groups = held_out_results(fold, y, pred, mem.seed)
        per_seed[mem.seed] += sources
        per_group[mem.seed] += groups
        held_out.add(mem.seed, fold.index, fold.rows, pred)
        clips = clip_predictions(mem.seed, held(fold.index), codec, pred, functools.partial(ens.predict, m))
        clip_frames.append(clips.assign(encoder_trained=clips["encoder"].isin(trained[fold.index])))
        sampled += [(part, part.predicted(functools.partial(ens.predict, m))) for part in pooled(fold.index)]
        said(f"evaluating the ensemble's members on their held-out contents: {m + 1} of {len(ens.members)} done",
             len(fold.rows))
    reports = [seed_report(seed, by_source(per_seed[seed]), by_group(per_group[seed])) for seed in seeds]
    rows = [asdict(r) for report in reports for r in report.folds]
    clips = pd.concat(clip_frames, ignore_index=True).sort_values(["seed", *ENCODE_KEY], kind="stable")
    clip_frames.clear()  # the members' parts, joined: let go
    held.cache_clear()  # each fold's encodes, pooled: the files take the members' parts alone
    pooled.cache_clear()
    give_back_memory()
    encodes, samplings = consumer_files(inputs, clips, sampled, placed)
    return LosoResult(reports, pd.DataFrame(rows), held_out, len(ens.members),
                      inputs.scheme, clips.reset_index(drop=True), encodes, samplings)


def consumer_files(inputs: LosoInputs, clips: pd.DataFrame, sampled: list[tuple[Pooled, np.ndarray]],
                   placed: Placed | None) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """encodes.parquet (with vmaf-tune's window) and samplings.parquet; None for an input set vmaf-tune does not feed,
    and no samplings where no window is placed. The members' `sampled` parts are taken (the list emptied once they
    are joined)."""
    if inputs.crf_range is None:
        return None, None
    encodes = consumer_encodes(clips, inputs.crf_range, inputs.recipe == TEACHER)
    if placed is None:
        return encodes, None
    members = members_rows(sampled)
    sampled.clear()
    samplings = consumer_samplings(members, encodes, placed.lengths,
                                   inputs.samples.costs if inputs.samples is not None else None)
    return with_window(encodes, samplings), samplings


def sampled_pooled(inputs: LosoInputs, fold: Fold, codes: np.ndarray, keys: pd.DataFrame, placed: Placed | None,
                   feed: Callable[[pd.Series, pd.Series], np.ndarray] | None) -> list[Pooled]:
    """A fold's held-out encodes pooled over each sampling's frames, for its members to predict: cut from the whole
    encodes, and (where the corpus step made them) encoded on their own; none where vmaf-tune is not fed or no window
    is placed."""
    if placed is None or feed is None:
        return []
    teacher_fn = inputs.teacher_model.predict if inputs.teacher_model is not None else None
    out = cut_pooled(fold.rows, codes, inputs.feats, inputs.target, keys, placed.masks, feed, teacher_fn)
    if (samples := inputs.samples) is not None and (
            encoded := encoded_pooled({s.src_sha256 for s in fold.sources}, samples.rows, samples.feats, feed,
                                      teacher_fn)) is not None:
        out.append(encoded)
    return out


Scored = FoldResult | GroupResult  # what a mean over folds counts: a source, or (the gate's) a content group


def fold_summary(folds: Sequence[Scored], metric: str) -> dict[str, float]:
    """mean/std/min/max of one metric over the folds, by metrics.CORRELATION_RULE for the correlations."""
    if metric == "rmse":
        return summarise([f.rmse for f in folds])
    counted = [float(getattr(f, metric)) for f in folds if correlated(f.n_frames, f.teacher_constant)]
    if folds and not counted:  # no group with a correlation: no agreement to show, and a number all the same
        return {"mean": 0.0, "std": 0.0, "min": 0.0, "max": 0.0}
    return summarise(counted)


def seed_report(seed: int, folds: list[FoldResult], groups: list[GroupResult]) -> SeedReport:
    """One seed's means over the held-out content groups, and its per-source folds beside them."""
    plcc = fold_summary(groups, "plcc")
    undefined = [g.name for g in groups if not correlated(g.n_frames, g.teacher_constant)]
    bias = [float(g.bias) for g in groups if g.bias is not None]
    return SeedReport(
        seed=seed, mean_plcc=plcc["mean"], std_plcc=plcc["std"], min_plcc=plcc["min"], max_plcc=plcc["max"],
        mean_srocc=fold_summary(groups, "srocc")["mean"], mean_krocc=fold_summary(groups, "krocc")["mean"],
        mean_rmse=fold_summary(groups, "rmse")["mean"], n_folds=len(groups), folds=tuple(folds),
        folds_without_correlation=undefined or None,
        mean_bias=float(np.mean(bias)) if bias else None, max_abs_bias=float(np.max(np.abs(bias))) if bias else None,
        max_abs_error=max((float(g.max_abs_error) for g in groups if g.max_abs_error is not None), default=None),
        share_out_of_range=out_of_range_share(groups), content_groups=tuple(groups),
    )


def out_of_range_share(folds: Sequence[Scored]) -> float | None:
    """Of all held-out predictions of these folds, the share outside [0, 100] (each fold weighs its frames)."""
    counted = [f for f in folds if f.share_out_of_range is not None]
    frames = sum(f.n_frames for f in counted)
    return sum(float(f.share_out_of_range or 0.0) * f.n_frames for f in counted) / frames if frames else None
