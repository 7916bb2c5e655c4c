"""LOSO evaluation's typed records; loso_seed<N>.json keeps the bash kit's keys first, in their order."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from kit.infra.records import Record, flatten, keep, omit_none
from kit.infra.rules import (
    CORRELATION_FIGURE,
    COUNT,
    POINTS,
    RECORDED,
    SECONDS,
    SHARE_FIGURE,
    SIGNED_FIGURE,
    Each,
    OneOf,
)
from kit.model.consumer import TOLERANCE
from kit.model.realrows import STATUSES
from kit.model.spread import Spread
from kit.model.teacher_fn import TeacherFunction


@dataclass(frozen=True)
class FoldResult(Record):
    """Agreement with the teacher on one held-out source (`seed`: None for a baseline's, left out of a seed report)."""

    seed: int | None = omit_none(COUNT)
    fold: int = field(default=0, metadata=keep(COUNT))
    src: str = ""
    src_sha256: str = ""
    n_frames: int = field(default=0, metadata=keep(COUNT))
    share_vmaf_100: float | None = omit_none(SHARE_FIGURE)  # share of held-out frames at the teacher's ceiling
    plcc: float = field(default=float("nan"), metadata=keep(CORRELATION_FIGURE))
    srocc: float = field(default=float("nan"), metadata=keep(CORRELATION_FIGURE))
    krocc: float = field(default=float("nan"), metadata=keep(CORRELATION_FIGURE))
    # of this seed's predictions on the held-out frames
    rmse: float = field(default=float("nan"), metadata=keep(POINTS))
    bias: float | None = omit_none(SIGNED_FIGURE)  # mean(prediction - teacher): an offset the correlations cannot see
    max_abs_error: float | None = omit_none(POINTS)  # the largest single-frame miss
    share_out_of_range: float | None = omit_none(SHARE_FIGURE)  # predictions outside the teacher's [0, 100]
    teacher_constant: bool | None = omit_none()  # True: every held-out teacher score is equal (no correlation)


@dataclass(frozen=True)
class GroupResult(Record):
    """Agreement with the teacher on one held-out content group, its sources' rows pooled: what the means average."""

    content: str  # the group's id (the corpus's `content` column)
    name: str  # its sources' names, " + " between them
    n_sources: int = field(metadata=keep(COUNT))
    fold: int = field(metadata=keep(COUNT))  # the fold that held it out
    n_frames: int = field(metadata=keep(COUNT))
    plcc: float = field(default=float("nan"), metadata=keep(CORRELATION_FIGURE))
    srocc: float = field(default=float("nan"), metadata=keep(CORRELATION_FIGURE))
    krocc: float = field(default=float("nan"), metadata=keep(CORRELATION_FIGURE))
    rmse: float = field(default=float("nan"), metadata=keep(POINTS))
    bias: float | None = omit_none(SIGNED_FIGURE)
    max_abs_error: float | None = omit_none(POINTS)
    share_out_of_range: float | None = omit_none(SHARE_FIGURE)
    teacher_constant: bool | None = omit_none()  # True: every held-out teacher score of the group is equal


@dataclass(frozen=True)
class FoldScheme(Record):
    """Which validation ran and why (kit.model.folds.choose_scheme): in every seed report and the verdict."""

    scheme: str  # "loso" (one fold per content group) or "kfold" (grouped K-fold)
    folds: int = field(metadata=keep(COUNT))
    groups: int = field(metadata=keep(COUNT))  # content groups
    sources: int = field(metadata=keep(COUNT))
    asked: str  # --folds as given
    why: str

    @property
    def label(self) -> str:
        return "LOSO" if self.scheme == "loso" else f"grouped {self.folds}-fold"


@dataclass(frozen=True)
class CorpusRef(Record):
    # relative to the out-dir for its own shard (kit.rundir.RunDir.recorded), else absolute (a --corpus)
    path: str = field(metadata=keep(RECORDED))
    sha256: str
    rows: int = field(metadata=keep(COUNT))


@dataclass(frozen=True)
class RealEvidence(Record):
    """The public encodes the kit carries (kit.model.realrows) as the floor read them: how many, of how many contents,
    within the tolerance by the teacher's function and by the student's spread kept (each held out by content), or
    why none was read (`status`: kit.model.realrows.STATUSES)."""

    status: str = field(metadata=keep(OneOf(STATUSES)))
    encodes: int = field(default=0, metadata=keep(COUNT))
    contents: int = field(default=0, metadata=keep(COUNT))
    within_teacher: int = field(default=0, metadata=keep(COUNT))
    within_student: int = field(default=0, metadata=keep(COUNT))  # at the export's spread
    sha256: str = ""  # of kit/model/data/realrows.csv, "" where none was read
    # public contents left out because the box holds their clips itself (its src_sha256): its own, held out as such
    shared: int = field(default=0, metadata=keep(COUNT))


@dataclass(frozen=True)
class Correction(Record):
    """What LOSO chose of the teacher recipe's student beyond the teacher's function (in every seed's report and the
    verdict): the spread of its expected clip (kit.model.spread) and the factor of its correction, the export's and
    each fold's, and the held-out encodes they were chosen on, judged as the consumer gates judge them
    (kit.model.floor)."""

    LENIENT = True  # a record of a 2.4 build before `tolerance` and `sampled`: 1.5 on whole encodes

    scale: float = field(metadata=keep(SHARE_FIGURE))  # the export's: chosen on every fold's held-out encodes
    fold_scales: list[float] = field(metadata=keep(Each(SHARE_FIGURE)))  # each fold's, in the folds' order
    encodes: int = field(metadata=keep(COUNT))  # the box's counted held-out encodes it was chosen on
    within_teacher: int = field(metadata=keep(COUNT))  # of them within the tolerance: the teacher's function alone
    # ... the student: each at its own fold's spread and factor (2.4: at the export's factor)
    within_student: int = field(metadata=keep(COUNT))
    tolerance: float = field(default=TOLERANCE, metadata=keep(POINTS))  # --consumer-tolerance
    # the features judged: each encode's first --consumer-window s (as vmaf-tune samples); false: the whole encode's
    sampled: bool = False
    spread: Spread | None = omit_none()  # the export's expected clip (kit.model.spread); None: a kit before 2.5
    fold_spreads: list[float] | None = omit_none(Each(POINTS))  # each fold's spread factor
    real: RealEvidence | None = omit_none()  # the public encodes read beside the box's

    @property
    def is_teacher(self) -> bool:
        """The export is the teacher's function itself: no spread and no correction did better held out."""
        return self.scale == 0.0 and not (self.spread is not None and self.spread.kept)

    @property
    def folds_teacher(self) -> bool:
        """Every fold's student is the teacher's function too: the held-out figures are the function's."""
        return self.is_teacher and not any(self.fold_scales) and not any(self.fold_spreads or ())

    @property
    def folds_differ(self) -> bool:
        """Some fold's held-out student keeps other factors than the export: the gates judge those folds' students."""
        export = self.spread.factor if self.spread is not None else 0.0
        return any(s != self.scale for s in self.fold_scales) or any(k != export for k in self.fold_spreads or ())

    @property
    def label(self) -> str:
        within = f"within {self.tolerance:g}"  # judged as the consumer gates judge (`sampled`: docs/teachers.md)
        if self.is_teacher:
            said = (f"the student is the teacher's function: no spread or correction kept more held-out encodes "
                    f"{within} than its {self.within_teacher} of {self.encodes}")
        else:
            kept = [f"its clip at a spread x {self.spread.factor:g}"] if self.spread is not None and \
                self.spread.kept else []
            kept += [f"{self.scale:g} x its correction"] if self.scale else []
            said = (f"the teacher's function with {' and '.join(kept)}: {self.within_student} of {self.encodes} "
                    f"held-out encodes {within} (the function: {self.within_teacher})")
        if self.real is not None and self.real.encodes and self.spread is not None:  # the public evidence beside
            said += (f"; on the kit's {self.real.encodes} public encodes of {self.real.contents} clips, each held out, "
                     f"{self.real.within_student} (the function: {self.real.within_teacher})")
        if self.folds_differ:  # the gates judge each fold's student, which is not the export
            said += (f"; the held-out figures and gates judge each fold's student at its own factors "
                     f"({self.fold_factors}): {self.within_student} of {self.encodes} within, not the export")
        return said

    @property
    def fold_factors(self) -> str:
        """Each fold's factors, in the folds' order: `spreads 0, 1; corrections 0, 0.5` (spreads: where chosen)."""
        spreads = f"spreads {', '.join(f'{k:g}' for k in self.fold_spreads or ())}; " if self.fold_spreads else ""
        return f"{spreads}corrections {', '.join(f'{c:g}' for c in self.fold_scales)}"


@dataclass(frozen=True)
class SeedSummary(Record):
    """One seed's figures over its held-out content groups (GroupResult): the verdict's `per_seed` rows."""

    seed: int = field(metadata=keep(COUNT))
    mean_plcc: float = field(metadata=keep(CORRELATION_FIGURE))
    std_plcc: float = field(metadata=keep(POINTS))
    min_plcc: float = field(metadata=keep(CORRELATION_FIGURE))
    max_plcc: float = field(metadata=keep(CORRELATION_FIGURE))
    mean_srocc: float = field(metadata=keep(CORRELATION_FIGURE))
    mean_krocc: float = field(metadata=keep(CORRELATION_FIGURE))
    mean_rmse: float = field(metadata=keep(POINTS))
    n_folds: int = field(metadata=keep(COUNT))
    mean_bias: float | None = omit_none(SIGNED_FIGURE)  # mean over folds of each fold's bias
    max_abs_bias: float | None = omit_none(POINTS)  # the largest |bias| of any fold
    max_abs_error: float | None = omit_none(POINTS)  # the largest single-frame miss of any fold
    share_out_of_range: float | None = omit_none(SHARE_FIGURE)  # of all held-out predictions, outside [0, 100]


@dataclass(frozen=True)
class SeedReport(SeedSummary):
    """`loso_seed<N>.json`: one seed's summary (the bash kit's keys first), its folds, how it was trained."""

    folds: tuple[FoldResult, ...] = ()
    corpus: CorpusRef | None = omit_none()
    train_config: dict[str, object] | None = omit_none()
    batched_members: int | None = omit_none(COUNT)
    # the training of every attempt and task of this LOSO (steps/members.py)
    train_seconds: float | None = omit_none(SECONDS)
    train_tasks_seconds: float | None = omit_none(SECONDS)  # of which the training tasks' (--train-tasks N), summed
    train_attempts: int | None = omit_none(COUNT)  # how many, when an earlier one was interrupted or failed
    folds_without_correlation: list[str] | None = omit_none()  # kit.model.metrics.CORRELATION_RULE
    validation: FoldScheme | None = omit_none()  # which folds ran and why
    content_groups: tuple[GroupResult, ...] | None = omit_none()  # what the means average over (folds[]: per source)
    recipe: str | None = omit_none()
    teacher_function: TeacherFunction | None = omit_none()
    correction: Correction | None = omit_none()  # the teacher recipe's: how much of it is kept (kit.model.floor)

    @property
    def summary(self) -> SeedSummary:
        return SeedSummary(**{f.name: getattr(self, f.name) for f in fields(SeedSummary)})

    def to_json(self) -> dict[str, object]:
        return {**super().to_json(), "folds": [replace(f, seed=None).to_json() for f in self.folds]}

    def read_back(self) -> SeedReport:
        return replace(self, folds=tuple(replace(f, seed=self.seed) for f in self.folds))


@dataclass(frozen=True)
class BaselineResult(Record):
    """A reference model on the same folds: its description, means over content groups and per-source folds."""

    model: str
    details: dict[str, object] = flatten()
    mean_plcc: float = field(default=float("nan"), metadata=keep(CORRELATION_FIGURE))
    mean_srocc: float = field(default=float("nan"), metadata=keep(CORRELATION_FIGURE))
    mean_krocc: float = field(default=float("nan"), metadata=keep(CORRELATION_FIGURE))
    mean_rmse: float = field(default=float("nan"), metadata=keep(POINTS))
    n_folds: int = field(default=0, metadata=keep(COUNT))
    folds: tuple[FoldResult, ...] = ()
    content_groups: tuple[GroupResult, ...] | None = omit_none()


@dataclass(frozen=True)
class Baselines(Record):
    """`baselines.json`: every baseline of one LOSO run, by name (ridge first)."""

    corpus_sha256: str
    models: dict[str, BaselineResult] = flatten()

    @classmethod
    def from_json(cls, data: object, where: str = "") -> Baselines:
        raw = super().from_json(data, where or "Baselines")
        return Baselines(raw.corpus_sha256, {name: BaselineResult.from_json(b, f"baselines.{name}")
                                             for name, b in raw.models.items()})


@dataclass(frozen=True)
class EnsembleMember(Record):
    seed: int = field(metadata=keep(COUNT))
    onnx: str
    sidecar: str
    sha256: str
    parity_max_abs_diff: float = field(metadata=keep(POINTS))


@dataclass(frozen=True)
class EnsembleMembers(Record):
    """What the incumbent reader needs of an `ensemble.json` (kit.bundle.cards.EnsembleManifest): its members."""

    LENIENT = True

    members: tuple[EnsembleMember, ...] = ()
