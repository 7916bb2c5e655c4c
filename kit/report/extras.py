"""The verdict's blocks of kit 0.4 on intervals and errors by group (and 0.6's pooled clips), as the report reads
them.

Verdicts of older kits have none of them (each is None); every section that reads one appears only when it is
there. The types are the verdict's own (kit.verdict.document).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kit.verdict.document import ClipPooling, GroupErrors, HoldoutBlock, Intervals, LimitGate, Verdict


@dataclass(frozen=True)
class Extras:
    intervals: Intervals | None = None
    breakdown: tuple[GroupErrors, ...] = ()
    holdout: tuple[HoldoutBlock, ...] = ()
    clip_pooling: ClipPooling | None = None  # kit 0.6
    clip_gates: tuple[LimitGate, ...] = ()

    @classmethod
    def of(cls, verdict: Verdict) -> Extras:
        return cls(verdict.intervals, verdict.breakdown or (), verdict.holdout or (), verdict.clip_pooling,
                   verdict.clip_error_gates or ())

    def rows(self, by: str) -> list[GroupErrors]:
        return [r for r in self.breakdown if r.by == by]
