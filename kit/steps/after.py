"""A step's work after its training (all of it where it trains nothing), said as it goes: `doing` events whose `done`
is the share of that work done, which the run's time left counts (kit.report.eta) and the plain lines' heartbeat says
(`writing 03_loso/predictions.parquet`). The work is cut into parts of given weights, said in order: LOSO's
evaluation and files (AfterTraining), the verdict's parts (kit.model.cost.VERDICT_PARTS), the bundle's exports,
report, texts and tarball (kit.model.cost.bundle_parts)."""

from __future__ import annotations

from kit.events import Doing
from kit.steps.base import Context


class Parts:
    """`weights`: each part's share of the work, in the order the step does them (their sum is 1)."""

    def __init__(self, ctx: Context, step: str, weights: dict[str, float]) -> None:
        total = sum(weights.values())
        self.ctx, self.step, self.done = ctx, step, 0.0
        self.starts, start = {}, 0.0
        self.weights = {part: w / total if total > 0 else 0.0 for part, w in weights.items()}
        for part, w in self.weights.items():
            self.starts[part], start = start, start + w

    def at(self, part: str, what: str, share: float) -> None:
        """`what` the step does now, in `part`, `share` of which is done (0 to 1); never counted back."""
        done = self.starts[part] + self.weights[part] * min(1.0, max(0.0, share))
        self.done = max(self.done, done)
        self.ctx.emit(Doing(self.step, what, round(self.done, 4)))


class AfterTraining:
    """LOSO's: the rows every model predicts (`rows`: kit.model.baselines.evaluated_rows; then `holdouts` --holdout
    kinds, each predicting `per_holdout`: its seeds' rows), then its files, AFTER_FILES_SHARE of the work
    (kit.model.cost). Called as a kit.model.loso.Said."""

    def __init__(self, ctx: Context, rows: int, holdouts: int = 0, per_holdout: int = 0) -> None:
        from kit.model.cost import AFTER_FILES_SHARE

        self.parts = Parts(ctx, "loso", {"evaluation": 1 - AFTER_FILES_SHARE, "files": AFTER_FILES_SHARE})
        self.rows, self.said, self.per_holdout = max(1, rows + holdouts * per_holdout), 0, per_holdout

    def __call__(self, what: str, rows: int) -> None:
        self.said += rows
        self.parts.at("evaluation", what, self.said / self.rows)

    def writing(self, what: str, part: float) -> None:
        """Its files: `part` of them written (by their rows: the predictions most)."""
        self.parts.at("files", what, part)
