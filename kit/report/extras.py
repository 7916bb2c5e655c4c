"""The verdict's optional blocks on intervals and errors by group, as the report reads them.

Verdicts of older kits have none of them; each section of the report that reads one appears only when it is
there. The blocks are read from the verdict's JSON form (`Verdict.to_json`), so the report reads a verdict
whatever record types hold them, and ignores keys it does not show.
"""

from __future__ import annotations

from dataclasses import dataclass

from kit.infra.records import Record, dump

NEW_GATES = ("coverage_gate", "range_gate", "completeness")  # shown as they are, one table each


@dataclass(frozen=True)
class IntervalLevel(Record):
    """One nominal level: its finite-sample rank, the score quantile (None: unbounded), the pooled coverage."""

    LENIENT = True
    level: float = float("nan")
    rank: int | None = None
    q: float | None = None
    q_abs: float | None = None
    unbounded: bool = False
    coverage: float = float("nan")
    mean_width: float | None = None


@dataclass(frozen=True)
class ClipUse(Record):
    """Whether the intervals hold for a clip's prediction from its mean features (vmaf-tune's use)."""

    LENIENT = True
    n_clips: int = 0
    rmse: float = float("nan")
    max_abs_error: float = float("nan")
    coverage: float = float("nan")
    holds: bool = False
    note: str = ""


@dataclass(frozen=True)
class Intervals(Record):
    LENIENT = True
    method: str = ""
    formula: str = ""
    score: str = ""  # normalised | absolute
    unit: str = ""
    nominal: float = 0.95
    n_groups: int = 0
    levels: tuple[IntervalLevel, ...] = ()
    warning: str | None = None
    clip_use: ClipUse | None = None


@dataclass(frozen=True)
class GroupRow(Record):
    """The error of one group of held-out rows (an encoder, a box, a resolution class, a quality setting)."""

    LENIENT = True
    by: str = ""
    group: str = ""
    n_frames: int = 0
    n_sources: int = 0
    plcc: float = float("nan")
    rmse: float = float("nan")
    bias: float = float("nan")
    max_abs_error: float = float("nan")
    share_out_of_range: float = float("nan")
    coverage: float | None = None  # at the run's nominal level; None where no intervals were built
    mean_width: float | None = None


@dataclass(frozen=True)
class Holdout(Record):
    """Leave-one-encoder-out (or -box-out) validation, with its own gate (--holdout)."""

    LENIENT = True
    kind: str = ""
    groups: tuple[GroupRow, ...] = ()
    gate: dict[str, object] | None = None


@dataclass(frozen=True)
class Extras:
    intervals: Intervals | None = None
    breakdown: tuple[GroupRow, ...] = ()
    holdout: tuple[Holdout, ...] = ()
    gates: tuple[tuple[str, dict[str, object]], ...] = ()  # (name, block) of the NEW_GATES present

    @classmethod
    def from_json(cls, doc: dict[str, object]) -> Extras:
        """From a verdict's JSON, or any dict holding some of its blocks (tests build them to the contract)."""
        intervals = doc.get("intervals")
        breakdown = doc.get("breakdown") or []
        holdout = doc.get("holdout") or []
        return cls(Intervals.from_json(intervals, "intervals") if isinstance(intervals, dict) else None,
                   tuple(GroupRow.from_json(r, "breakdown") for r in breakdown) if isinstance(breakdown, list) else (),
                   tuple(Holdout.from_json(h, "holdout") for h in holdout) if isinstance(holdout, list) else (),
                   tuple((name, block) for name in NEW_GATES if isinstance(block := doc.get(name), dict)))

    @classmethod
    def of(cls, verdict: object) -> Extras:
        """The blocks a verdict carries (none for a verdict of an older kit)."""
        names = ("intervals", "breakdown", "holdout", *NEW_GATES)
        return cls.from_json({n: dump(v) for n in names if (v := getattr(verdict, n, None)) is not None})

    def rows(self, by: str) -> list[GroupRow]:
        return [r for r in self.breakdown if r.by == by]
