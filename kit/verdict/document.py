"""The verdict document: PROMOTE.json or HOLD.json.

It keeps the bash kit's fields (schema_version, verdict, generated_at_utc,
seeds, gate{...}, corpus{...}, recommendation) and adds the optional gates, the
baselines and lift, per-seed and overall figures, the per-fold table, the worst
folds, the teacher model (`teacher_models`: every teacher of the corpus;
`teacher_model` the one teacher, or "mixed: ..." for a corpus of several) and
provenance. Reading it needs no pandas; building it is kit.verdict.decide.
"""

from __future__ import annotations

from dataclasses import dataclass

from kit.corpus.summary import CorpusSummary
from kit.infra.records import Record, omit_none
from kit.model.results import BaselineResult, FoldResult, FoldScheme, SeedSummary
from kit.verdict.gate import FoldGate, GateResult
from kit.verdict.lift import ChallengerGate, Lift, LiftGate

VERDICT_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Agreement(Record):
    plcc: float
    srocc: float
    krocc: float
    rmse: float


@dataclass(frozen=True)
class PooledAgreement(Record):
    plcc: float
    srocc: float
    krocc: float
    rmse: float
    n_frames: int


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
    plcc: float
    srocc: float
    rmse: float
    n_frames: int
    share_vmaf_100: float
    bias: float | None = omit_none()  # mean over seeds of the fold's mean(prediction - teacher)
    max_abs_error: float | None = omit_none()  # the largest single-frame miss over seeds
    reason: str | None = omit_none()  # what makes it worst, e.g. "RMSE 9.5, bias +7.7"


@dataclass(frozen=True)
class VerdictProvenance(Record):
    kit_version: str
    python: str
    train_config: dict[str, object] | None
    thresholds: dict[str, object]


@dataclass(frozen=True)
class Verdict(Record):
    schema_version: int
    verdict: str  # PROMOTE | HOLD
    generated_at_utc: str
    seeds: list[int]
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
    bias_gate: FoldGate | None = omit_none()  # --max-abs-bias (kit 0.2; absent from older verdicts)
    fold_rmse_gate: FoldGate | None = omit_none()  # --max-fold-rmse
    # every teacher of the corpus (kit 0.2); teacher_model names the one teacher, or says the corpus mixes them
    teacher_models: list[str] | None = omit_none()
    validation: FoldScheme | None = omit_none()  # which folds ran and why (kit 0.3; absent: LOSO, older kits)

    @property
    def scheme_text(self) -> str:
        """Which validation ran and why, in one line: what the summary and the report say."""
        if self.validation is None:
            return "LOSO (one fold per source)"
        return f"{self.validation.label}: {self.validation.why}"

    SCHEMA_VERSION = VERDICT_SCHEMA_VERSION

    @property
    def promoted(self) -> bool:
        return self.verdict == "PROMOTE"
