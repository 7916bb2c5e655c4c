"""The verdict document, PROMOTE.json or HOLD.json; reading it needs no pandas, building it is kit.verdict.decide."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kit.corpus.oracle import IndependentCheck
from kit.corpus.summary import CorpusSummary
from kit.errors import InputError
from kit.infra.limits import MAX_GROWING_JSON_BYTES
from kit.infra.records import Record, keep, omit_none
from kit.infra.rules import (
    CORRELATION_FIGURE,
    COUNT,
    KIT_VERSION,
    POINTS,
    SHARE_FIGURE,
    SIGNED_FIGURE,
    STAMP,
    Each,
    Off,
)
from kit.media.libvmaf import Teacher
from kit.model.results import BaselineResult, Correction, FoldResult, FoldScheme, SeedSummary
from kit.model.teacher_fn import TeacherFunction
from kit.verdict.ceiling import ConsumerJudged
from kit.verdict.kinds import CONSUMER as CONSUMER_KIND
from kit.verdict.lift import ChallengerGate, Lift, LiftGate
from kit.verdict.plausibility import TeacherSuspect
from kit.verdict.regimes import FrameRegime
from kit.verdict.thresholds import EvidenceGate, FoldGate, GateResult

if TYPE_CHECKING:
    from kit.infra.tree import Tree

# what to do with the results tarball, by whose run it is: said by the recommendation and the summary's tarball line
SEND_BACK = "send the results tarball back"
NOTHING_TO_SEND = {"lead": "the union's results, yours as the lead: nothing to send",
                   "demo": "the DEMO corpus's results (synthetic clips): nothing to send; run on your own clips"}


@dataclass(frozen=True)
class Agreement(Record):
    plcc: float = field(metadata=keep(CORRELATION_FIGURE))
    srocc: float = field(metadata=keep(CORRELATION_FIGURE))
    krocc: float = field(metadata=keep(CORRELATION_FIGURE))
    rmse: float = field(metadata=keep(POINTS))


@dataclass(frozen=True)
class PooledAgreement(Agreement):
    n_frames: int = field(metadata=keep(COUNT))


@dataclass(frozen=True)
class Overall(Record):
    """Across seeds: the mean of each seed's fold means, and the pooled ensemble over every frame."""

    mean_over_seeds: Agreement
    pooled_ensemble: PooledAgreement


@dataclass(frozen=True)
class WorstFold(Record):
    """A source the ensemble predicts worst, averaged over seeds."""

    src: str
    src_sha256: str
    plcc: float = field(metadata=keep(CORRELATION_FIGURE))
    srocc: float = field(metadata=keep(CORRELATION_FIGURE))
    rmse: float = field(metadata=keep(POINTS))
    n_frames: int = field(metadata=keep(COUNT))
    share_vmaf_100: float = field(metadata=keep(SHARE_FIGURE))
    bias: float | None = omit_none(SIGNED_FIGURE)  # mean over seeds of the fold's mean(prediction - teacher)
    max_abs_error: float | None = omit_none(POINTS)  # the largest single-frame miss over seeds
    reason: str | None = omit_none()  # what makes it worst, e.g. "RMSE 9.5, bias +7.7"


@dataclass(frozen=True)
class VerdictProvenance(Record):
    kit_version: str = field(metadata=keep(KIT_VERSION))
    python: str
    train_config: dict[str, object] | None
    thresholds: dict[str, object]


@dataclass(frozen=True)
class IntervalLevel(Record):
    """One level of the intervals: its threshold from every content group, and its measured coverage (`reason`)."""

    level: float = field(metadata=keep(SHARE_FIGURE))
    # ceil((n+1) level): the threshold's rank among n unit scores; above n it is unbounded
    rank: int = field(metadata=keep(COUNT))
    # the score threshold (a multiplier of the ensemble std when normalised); None: unbounded
    q: float | None = field(metadata=keep(POINTS))
    q_abs: float | None = field(metadata=keep(POINTS))  # the threshold on absolute misses, VMAF points; None: unbounded
    unbounded: bool  # with all n groups
    # share of held-out rows inside their interval, each calibrated without its own group
    coverage: float | None = field(metadata=keep(SHARE_FIGURE))
    mean_width: float | None = field(metadata=keep(POINTS))  # mean hi - lo over those rows
    source_coverage_min: float | None = field(metadata=keep(SHARE_FIGURE))  # the lowest per-source coverage
    # rows whose interval, calibrated without their group, is unbounded
    share_unbounded: float = field(metadata=keep(SHARE_FIGURE))
    reason: str | None = omit_none()  # why coverage and width are absent


@dataclass(frozen=True)
class ClipUse(Record):
    """The ensemble on whole held-out clips, predicted from their mean features, against their mean teacher."""

    n_clips: int = field(metadata=keep(COUNT))
    rmse: float = field(metadata=keep(POINTS))
    max_abs_error: float = field(metadata=keep(POINTS))
    # clips whose mean teacher lies in the nominal interval (NaN: unbounded for some clip)
    coverage: float = field(metadata=keep(SHARE_FIGURE))
    holds: bool  # coverage >= nominal - COVERAGE_SLACK, with bounded intervals
    note: str
    # keyed as GroupErrors'; None: unbounded
    coverage_by_level: dict[str, float | None] | None = omit_none(Each(Off(SHARE_FIGURE)))


@dataclass(frozen=True)
class PoolError(Record):
    """One pooling's per-clip error over held-out clips (kit.verdict.pooling), all clips or one encoder's."""

    stat: str  # mean | harmonic_mean | p1 | min
    n_clips: int = field(metadata=keep(COUNT))
    rmse: float = field(metadata=keep(POINTS))
    mean_abs_error: float = field(metadata=keep(POINTS))
    max_abs_error: float = field(metadata=keep(POINTS))
    bias: float = field(metadata=keep(SIGNED_FIGURE))  # the mean of (pooled prediction - pooled teacher)
    worst_clip: str  # the clip of the largest error: "<source> <encoder> cq <cq>"
    encoder: str | None = omit_none()  # in by_encoder: whose clips


@dataclass(frozen=True)
class ClipPooling(Record):
    """The verdict's `clip_pooling` block: each pooling's error over all clips and per encoder."""

    how: str
    pooled: tuple[PoolError, ...]
    by_encoder: tuple[PoolError, ...]

    def of(self, stat: str) -> PoolError:
        return next(e for e in self.pooled if e.stat == stat)


@dataclass(frozen=True)
class ConsumerGroup(Record):
    """One group's held-out encodes as vmaf-tune predicts them (kit.verdict.consumer)."""

    by: str  # encoder | crf_band | rung | content
    group: str  # the encoder, the band (`36-51`), the rung (`native`, `0.50x`), the content's sources' names
    n_encodes: int = field(metadata=keep(COUNT))
    # of its encodes, the share with |predicted - teacher| <= the tolerance
    share_within: float = field(metadata=keep(SHARE_FIGURE))
    # |predicted - teacher|, VMAF points; NaN when a member diverged on one of them
    median_miss: float = field(metadata=keep(POINTS))
    max_miss: float = field(metadata=keep(POINTS))
    worst_encode: str  # "<source> <encoder> cq <cq>[ at <W>x<H>]"
    # the share of the teacher's own function on the same mean features (absent where it was not reproduced)
    ceiling_share: float | None = omit_none(SHARE_FIGURE)
    # as vmaf-tune samples (kit.verdict.sampling): the share with the features of its window (its first
    # --consumer-window s; a clip no longer is its own window), and the ceiling's on them, against the whole clip
    window_share: float | None = omit_none(SHARE_FIGURE)
    window_ceiling_share: float | None = omit_none(SHARE_FIGURE)
    n_longer: int | None = omit_none(COUNT)  # its encodes of clips longer than the window: where the two can differ

    @property
    def beats_ceiling(self) -> bool:
        """The models do better than the teacher's own function of the mean features: the ceiling is the teacher of
        the mean, not a bound, so the models can."""
        return self.ceiling_share is not None and self.share_within > self.ceiling_share

    def ceiling_words(self, full: bool = False) -> str:
        """The ceiling's share, said beside the group's own (the summary's row), in words where the models beat it;
        "" where there is none."""
        if self.ceiling_share is None:
            return ""
        if self.beats_ceiling:
            return (f" (better than the teacher's own function of the mean features, {self.ceiling_share:.1%}: that "
                    "ceiling is no bound, and the models beat it here)" if full
                    else f" (better than the teacher's function of the mean features, {self.ceiling_share:.1%})")
        return (f" (ceiling, the teacher's function of the mean features: {self.ceiling_share:.1%})" if full
                else f" (ceiling {self.ceiling_share:.1%})")


@dataclass(frozen=True)
class UntrainedSlot(Record):
    """A slot of vmaf-tune's one-hot the models never trained on: what vmaf-tune gets there is no measured figure."""

    encoder: str
    why: str
    trains_it: str | None  # what would train it (an --encoders list, and where); None: no --encoders can


@dataclass(frozen=True)
class SampledShare(Record):
    """One sampling of the clip, one way (`cut` from the whole encode, or `encoded`: each window on its own), over the
    held-out encodes of clips longer than the window (kit.verdict.sampling): the proxy fed its frames' mean features
    against the whole clip's teacher score, and what a trial costs."""

    sampling: str  # kit.corpus.samplings: first (vmaf-tune's today), centre, spread-1s, spread-0.5s
    words: str  # `the first 5 s`, `5 windows of 1 s spread over the clip`
    how: str  # cut | encoded
    n_encodes: int = field(metadata=keep(COUNT))
    share_within: float = field(metadata=keep(SHARE_FIGURE))  # |predicted - the whole clip's teacher| <= the tolerance
    # the teacher's function on the same sampled features
    ceiling_share: float | None = field(metadata=keep(SHARE_FIGURE))
    # the sampled frames' own teacher score within the tolerance of the whole clip's
    gap_share: float = field(metadata=keep(SHARE_FIGURE))
    median_miss: float = field(metadata=keep(POINTS))
    max_miss: float = field(metadata=keep(POINTS))
    worst_encode: str
    encodes_per_trial: float = field(metadata=keep(POINTS))  # the windows, each its own encode (mean over the encodes)
    frames_per_trial: float = field(metadata=keep(POINTS))  # the frames they encode and score (mean)
    # encoded: this box's mean seconds to encode and score them (the sample job's, shared out by frames)
    seconds_per_trial: float | None = omit_none(POINTS)


@dataclass(frozen=True)
class ConsumerSampling(Record):
    """How vmaf-tune samples a clip, said beside the consumer's figures (docs/vmaf-tune.md)."""

    window_s: float = field(metadata=keep(POINTS))  # --consumer-window: vmaf-tune's SAMPLE_CHUNK_SECONDS unless set
    how: str  # which frames the window's figure takes, and the difference from encoding them on their own
    # counted encodes of clips longer than the window (the others' window is the whole clip)
    n_longer: int = field(metadata=keep(COUNT))
    # the frames a trial on the whole clip encodes (mean over those encodes)
    whole_frames_per_trial: float = field(metadata=keep(POINTS))
    shares: tuple[SampledShare, ...]  # each sampling and way, over those encodes at the source's size
    best: str | None = omit_none()  # the sampling that serves the consumer best, said with its cost
    # the mean and largest |prediction from the first window encoded on its own - from its frames cut from the whole
    # encode|, over the encodes that have both: what the window's figure leaves out by cutting
    cut_vs_encoded: list[float] | None = omit_none(Each(POINTS))
    warnings: list[str] | None = omit_none()  # each content whose window lies beyond the tolerance of its whole clip
    not_measured: str | None = omit_none()  # why no window could be placed (a corpus without frame rates)
    # how many encodes' windows were placed by the header's rate (no frame times: a corpus without its manifest)
    placed: str | None = omit_none()


@dataclass(frozen=True)
class ConsumerFit(Record):
    """The verdict's `consumer` block: the held-out encodes as vmaf-tune's fast path predicts them, and per group."""

    how: str
    # --consumer-tolerance: vmaf-tune's DEFAULT_PROXY_TOLERANCE unless set
    tolerance: float = field(metadata=keep(POINTS))
    crf_range: list[int] = field(metadata=keep(Each(COUNT)))  # --vmaftune-crf-range: the CRFs vmaf-tune queries
    n_encodes: int = field(metadata=keep(COUNT))  # counted: every figure below is over these
    share_within: float = field(metadata=keep(SHARE_FIGURE))
    median_miss: float = field(metadata=keep(POINTS))
    max_miss: float = field(metadata=keep(POINTS))
    worst_encode: str
    groups: tuple[ConsumerGroup, ...]  # by encoder, crf_band, rung, content; within each, worst first
    untrained: tuple[UntrainedSlot, ...]  # vmaf-tune's slots no row trained: no figure is given for them
    train_hint: str | None  # which --encoders would train them
    not_counted: str | None = omit_none()  # the held-out encodes left out of the figures, and why
    unmeasured_bands: list[str] | None = omit_none()  # CRF bands of the queried range no held-out encode falls in
    ceiling_share: float | None = omit_none(SHARE_FIGURE)  # the teacher's own function's share (ConsumerGroup's)
    codec_note: str | None = omit_none()  # the models do not read the codec block (the teacher recipe)
    # as vmaf-tune samples a clip (kit.verdict.sampling): ConsumerGroup's window figures of every counted encode
    window_share: float | None = omit_none(SHARE_FIGURE)
    window_ceiling_share: float | None = omit_none(SHARE_FIGURE)
    n_longer: int | None = omit_none(COUNT)
    sampling: ConsumerSampling | None = omit_none()  # the window, the samplings measured beside it, the warnings
    judged: ConsumerJudged | None = omit_none()  # what the consumer gates judge (absent: a verdict before 2.4)
    no_ceiling: str | None = omit_none()  # why no ceiling was computed (a teacher the consumer's input cannot feed)

    def of(self, by: str) -> tuple[ConsumerGroup, ...]:
        return tuple(g for g in self.groups if g.by == by)

    def judged_words(self) -> str:
        """The consumer gates' figure in words, with its pool and how the encodes are judged, then the whole encode's
        beside it where the two can differ: the summary and the report say it so ("" without the block)."""
        j = self.judged
        if j is None or not j.whole.n_encodes:
            return ""
        w = j.whole
        short = f": the other {w.shortfall} are the input's shortfall" if w.shortfall else ""
        # first what the student adds to its ceiling on all of them (PairedLift), then the gates' pool
        head = f"{j.paired.words(self.tolerance)}; the gates' pool: " if j.paired is not None else ""
        said = head + f"{w.pooled_words()} held-out encodes within {self.tolerance:g} VMAF ({CONSUMER_KIND})" + (
            f", of the {w.pool} the input can carry (the ceiling lands within on {'' if w.shortfall else 'all '}"
            f"{w.pool} of {w.n_encodes}{short})" if w.ceiling_within is not None else " (no ceiling: every encode "
                                                                                       "judged)")
        said += f"; judged {j.sampled_how}"
        if j.n_longer:
            ceiling = f", the ceiling {self.ceiling_share:.1%}" if self.ceiling_share is not None else ""
            said += (f"; on the whole encodes' features instead (a diagnosis): {self.share_within:.1%} of "
                     f"{self.n_encodes}{ceiling}")
        return said

    @property
    def whole(self) -> ConsumerGroup:
        """Every counted encode as one group: the gates' `all`, the first row of the report's table."""
        return ConsumerGroup("all", "all held-out encodes", self.n_encodes, self.share_within, self.median_miss,
                             self.max_miss, self.worst_encode, self.ceiling_share, self.window_share,
                             self.window_ceiling_share, self.n_longer)


ENSEMBLE, ENSEMBLE_CONFORMAL = "ensemble", "ensemble+conformal"  # upstream's one-of for confidence.method


@dataclass(frozen=True)
class ExportedInterval(Record):
    """The interval the manifests export (kit.verdict.exported); `calibrated` False: none, and no field reads as one."""

    calibrated: bool
    method: str  # upstream's confidence.method: "ensemble+conformal" when calibrated, else "ensemble"
    nominal: float = field(metadata=keep(SHARE_FIGURE))
    recipe: str
    conformal_q_residual: float | None = field(metadata=keep(POINTS))
    # pooled over the held-out rows, with the exported q (calibrated on all groups)
    coverage: float | None = field(metadata=keep(SHARE_FIGURE))
    # each group's rows with q calibrated without that group (its own contents)
    coverage_held_out: float | None = field(metadata=keep(SHARE_FIGURE))
    # per content group id, with the exported q
    group_coverage: dict[str, float] | None = field(metadata=keep(Each(SHARE_FIGURE)))
    group_coverage_min: float | None = field(metadata=keep(SHARE_FIGURE))
    # not exported: upstream's Gaussian fallback multiplier, and what it covers (why the spread alone is no interval)
    fallback_z: float = field(metadata=keep(POINTS))
    fallback_coverage: float | None = field(metadata=keep(SHARE_FIGURE))
    reason: str | None = omit_none()  # why it is not calibrated


@dataclass(frozen=True)
class Intervals(Record):
    """The verdict's `intervals` block (kit.model.conformal): method, unit, thresholds and measured coverage."""

    method: str
    formula: str
    # "normalised" (by the ensemble's std over seeds) | "absolute" (no spread to scale by: q_reason says why)
    score: str
    unit: str
    nominal: float = field(metadata=keep(SHARE_FIGURE))  # --interval-level
    n_groups: int = field(metadata=keep(COUNT))
    levels: tuple[IntervalLevel, ...]
    # q at the nominal level as a multiplier of the std; None: see q_reason
    conformal_q_residual: float | None = field(metadata=keep(POINTS))
    q_reason: str | None = omit_none()
    warning: str | None = omit_none()  # pooled coverage far below nominal
    clip_use: ClipUse | None = omit_none()
    exported: ExportedInterval | None = omit_none()

    def at(self, level: float) -> IntervalLevel | None:
        return next((x for x in self.levels if abs(x.level - level) < 1e-9), None)


@dataclass(frozen=True)
class GroupErrors(Record):
    """The ensemble's figures on the held-out rows of one group (kit.verdict.breakdown)."""

    by: str  # encoder | box | resolution | quality | source
    group: str
    n_frames: int = field(metadata=keep(COUNT))
    n_sources: int = field(metadata=keep(COUNT))
    plcc: float = field(metadata=keep(CORRELATION_FIGURE))
    rmse: float = field(metadata=keep(POINTS))
    bias: float = field(metadata=keep(SIGNED_FIGURE))
    max_abs_error: float = field(metadata=keep(POINTS))
    share_out_of_range: float = field(metadata=keep(SHARE_FIGURE))
    # at the nominal level; None when some row's interval is unbounded (coverage_reason)
    coverage: float | None = field(metadata=keep(SHARE_FIGURE))
    mean_width: float | None = field(metadata=keep(POINTS))  # None when unbounded
    # at every level of intervals.parquet, keyed as its columns are ("50", "80", "90", "95")
    coverage_by_level: dict[str, float | None] | None = omit_none(Each(Off(SHARE_FIGURE)))
    width_by_level: dict[str, float | None] | None = omit_none(Each(Off(POINTS)))
    coverage_reason: str | None = omit_none()  # which levels are unbounded here, and why there is no figure
    note: str | None = omit_none()  # what else this group stands for (kit.verdict.confounding)


@dataclass(frozen=True)
class LimitGate(Record):
    """A limit on a measured share or figure (--min-coverage, --max-out-of-range, --holdout-min-plcc)."""

    enabled: bool
    measure: str
    threshold: float | None = field(metadata=keep(SIGNED_FIGURE))
    worst: str | None  # the group nearest the limit (a source, a held-out encoder; "pooled")
    worst_value: float = field(metadata=keep(SIGNED_FIGURE))
    failing: list[str]
    # null: on, with nothing to judge (`not_judged` says why; a kit before 2.5 wrote true there)
    passed: bool | None
    statement: str | None = omit_none()
    # on, with nothing to judge (no group, no figure, a tautology): why; such a row blocks nothing and is never said
    # as a pass
    not_judged: str | None = omit_none()

    @classmethod
    def of(cls, measure: str, threshold: float | None, worst: str | None, worst_value: float, failing: list[str],
           statement: str | None, not_judged: str | None = None) -> LimitGate:
        """The gate's row: on when it has a threshold, passed when nothing fails it; `not_judged`: on, with nothing
        to judge, and why (kept only while the gate is on; passed is then null)."""
        unjudged = not_judged if threshold is not None else None
        return cls(threshold is not None, measure, threshold, worst, worst_value, failing,
                   None if unjudged else not failing, statement, unjudged)

    @property
    def judged(self) -> bool:
        """On, and it judged something (a row of an older kit: its not_judged set, whatever its passed)."""
        return self.enabled and not self.not_judged


@dataclass(frozen=True)
class HoldoutBlock(Record):
    """--holdout encoder|box: every encoder (box) left out in turn, crossed with grouped folds over contents."""

    kind: str  # encoder | box
    scheme: str
    groups: tuple[GroupErrors, ...]
    gate: LimitGate
    rows_left_out: int | None = omit_none(COUNT)  # corpus rows no member could predict, and why
    left_out: str | None = omit_none()


@dataclass(frozen=True)
class Completeness(Record):
    """Every content group of the corpus has held-out results; a fold that failed never passes."""

    expected_sources: int = field(metadata=keep(COUNT))
    with_results: int = field(metadata=keep(COUNT))
    missing: list[str]
    passed: bool


@dataclass(frozen=True)
class Verdict(Record):
    schema_version: int = field(metadata=keep(COUNT))
    verdict: str  # PROMOTE | HOLD
    generated_at_utc: str = field(metadata=keep(STAMP))
    seeds: list[int] = field(metadata=keep(Each(COUNT)))
    gate: GateResult
    corpus: CorpusSummary
    lift_gate: LiftGate
    challenger_gate: ChallengerGate
    recommendation: str
    baselines: dict[str, BaselineResult]
    incumbent: BaselineResult | None
    lift: Lift
    per_seed: tuple[SeedSummary, ...]
    overall: Overall
    per_fold: tuple[FoldResult, ...]
    worst_folds: tuple[WorstFold, ...]
    teacher_model: str
    plcc_measures: str
    provenance: VerdictProvenance
    folds_without_correlation: str | None = omit_none()  # which folds the correlation means leave out, and why
    bias_gate: FoldGate | None = omit_none()  # --max-abs-bias
    fold_rmse_gate: FoldGate | None = omit_none()  # --max-fold-rmse
    teacher_models: list[str] | None = omit_none()  # the corpus's teachers (teacher_model: "mixed: ..." for several)
    validation: FoldScheme | None = omit_none()  # which folds ran and why (absent: LOSO)
    intervals: Intervals | None = omit_none()
    breakdown: tuple[GroupErrors, ...] | None = omit_none()
    holdout: tuple[HoldoutBlock, ...] | None = omit_none()
    coverage_gate: LimitGate | None = omit_none()  # --min-coverage
    range_gate: LimitGate | None = omit_none()  # --max-out-of-range
    completeness: Completeness | None = omit_none()  # folds without results
    evidence_gate: EvidenceGate | None = omit_none()  # --min-content-groups
    figure_kinds: dict[str, str] | None = omit_none()  # block -> kind (kit.verdict.kinds)
    confounding: list[str] | None = omit_none()  # e.g. "box realA ran only libx264: its figures are libx264's"
    teacher_sha256: str | None = omit_none()  # of the teacher's model file (--teacher FILE); absent for a built-in
    clip_pooling: ClipPooling | None = omit_none()
    clip_error_gates: tuple[LimitGate, ...] | None = omit_none()  # --max-clip-error, one per pooling asked
    teacher_suspects: tuple[TeacherSuspect, ...] | None = omit_none()  # a warning, not a gate
    consumer: ConsumerFit | None = omit_none()
    consumer_gates: tuple[LimitGate, ...] | None = omit_none()
    recipe: str | None = omit_none()
    teacher_function: TeacherFunction | None = omit_none()
    correction: Correction | None = omit_none()  # the teacher recipe's correction: how much the export keeps
    # sources whose pictures repeat, which an encode's mean features hide (kit.verdict.regimes): a warning, not a gate
    frame_regimes: tuple[FrameRegime, ...] | None = omit_none()
    independent_check: IndependentCheck | None = omit_none()
    reasons: list[str] | None = omit_none()  # HOLD: each failing gate's reason, as the recommendation joins them

    @property
    def advice(self) -> str | None:
        """The recommendation after its reasons (what to do, then what it names), None where it has no reasons."""
        head = f"{self.verdict}: " + "; ".join(self.reasons or ()) + ". "
        return self.recommendation[len(head):] if self.reasons and self.recommendation.startswith(head) else None

    def worst_groups(self, groupings: tuple[str, ...]) -> list[tuple[str, GroupErrors]]:
        """Per grouping of the breakdown with two groups or more, the group of the largest RMSE."""
        found = []
        for by in groupings:
            mine = [g for g in self.breakdown or () if g.by == by]
            if len(mine) > 1 and (finite := [g for g in mine if math.isfinite(g.rmse)]):
                found.append((by, max(finite, key=lambda g: (g.rmse, g.group))))
        return found

    @property
    def teacher(self) -> Teacher:
        """The teacher the models learnt: what exported ids and names say."""
        return Teacher(self.teacher_model, "", self.teacher_sha256 or "")

    @property
    def scheme_text(self) -> str:
        """Which validation ran and why, in one line."""
        if self.validation is None:
            return "LOSO (one fold per source)"
        return f"{self.validation.label}: {self.validation.why}"

    @property
    def promoted(self) -> bool:
        return self.verdict == "PROMOTE"

    @property
    def consumer_unjudged(self) -> str | None:
        """Why the consumer gates judged nothing, where every one that is on did (None: one judged, or none is on)."""
        on = [row for row in self.consumer_gates or () if row.enabled]
        return str(on[0].not_judged) if on and all(row.not_judged for row in on) else None

    @property
    def headline(self) -> str:
        """The verdict as its first line says it: PROMOTE or HOLD, and where every consumer gate judged nothing, so."""
        why = self.consumer_unjudged
        return f"{self.verdict} (the consumer gates judged nothing: {why})" if why else self.verdict


def read_verdict(tree: Tree, path: Path) -> Verdict:
    """The verdict document at `path` (PROMOTE.json or HOLD.json), read by its fields' rules (each figure's `keep`):
    one that is no JSON object, or holds a value of another type or past its rule (a share of 1e308, a PLCC of 5, a
    count of -1), is refused naming the file and the field (InputError, exit 2), never read into a figure."""
    try:
        return Verdict.from_json(tree.read_json(path, MAX_GROWING_JSON_BYTES), str(path))
    except ValueError as exc:  # RecordError, Refused, JsonRefused: the file is not what the verdict step wrote
        raise InputError(f"the verdict is damaged: {exc}",
                         hint="the verdict step writes it whole: run the same command again (a plain `run` redoes "
                              "the verdict step from LOSO's files where its output was edited), or restore the file "
                              "from the results tarball") from None
