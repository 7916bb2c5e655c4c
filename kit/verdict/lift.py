"""What the ensemble adds over the ridge baseline, the optional lift gate, and
champion/challenger against an incumbent bundle."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from kit.infra.limits import MAX_RECORD_FIGURE
from kit.infra.records import Record, keep, omit_none
from kit.infra.rules import CORRELATION_FIGURE, POINTS, SIGNED_FIGURE
from kit.model.results import BaselineResult
from kit.verdict.kinds import GROUPS

SMALL_LIFT_RMSE_RATIO = 0.8  # an ensemble RMSE from 0.8x to 1x the ridge's "adds little"; above 1x it is worse


@dataclass(frozen=True)
class Lift(Record):
    ensemble_mean_plcc: float = field(metadata=keep(CORRELATION_FIGURE))
    ensemble_mean_rmse: float = field(metadata=keep(POINTS))
    ridge_mean_plcc: float = field(metadata=keep(CORRELATION_FIGURE))
    ridge_mean_rmse: float = field(metadata=keep(POINTS))
    rmse_ratio: float = field(metadata=keep(POINTS))  # ensemble RMSE / ridge RMSE: lower is better
    plcc_delta: float = field(metadata=keep(SIGNED_FIGURE))
    small_lift: bool
    statement: str


@dataclass(frozen=True)
class LiftGate(Record):
    """--min-rmse-lift X: ensemble RMSE <= X * ridge RMSE (off when X is None)."""

    enabled: bool
    threshold: float | None = field(metadata=keep(SIGNED_FIGURE))
    rmse_ratio: float = field(metadata=keep(POINTS))
    passed: bool | None  # null: judging nothing (`not_judged`)
    not_judged: str | None = omit_none()


@dataclass(frozen=True)
class ChallengerGate(Record):
    """--incumbent: promote only if the challenger beats the incumbent by more than the seed spread."""

    enabled: bool
    passed: bool | None  # null: judging nothing (`not_judged`)
    challenger_mean_plcc: float | None = omit_none(CORRELATION_FIGURE)
    incumbent_mean_plcc: float | None = omit_none(CORRELATION_FIGURE)
    margin: float | None = omit_none(SIGNED_FIGURE)
    seed_spread: float | None = omit_none(POINTS)
    statement: str | None = omit_none()
    not_judged: str | None = omit_none()


def lift(ensemble_plcc: float, ensemble_rmse: float, ridge: BaselineResult) -> Lift:
    """What the ensemble adds over ridge: RMSE ratio (lower is better) and PLCC delta."""
    ridge_rmse, ridge_plcc = float(ridge.mean_rmse), float(ridge.mean_plcc)
    if ridge_rmse > 0:
        ratio = round(ensemble_rmse / ridge_rmse, 12)  # as the gate rounds a figure equal to its threshold
        if ratio > MAX_RECORD_FIGURE:  # ridge all but exact: said and kept as an exact one's (null in the verdict)
            ratio = math.inf
    elif ridge_rmse == 0 and ensemble_rmse >= 0:  # ridge exact (a constant teacher): equal, or infinitely better
        ratio = math.inf if ensemble_rmse > 0 else 1.0
    else:
        ratio = float("nan")
    small = not (ratio < SMALL_LIFT_RMSE_RATIO)
    return Lift(ensemble_plcc, ensemble_rmse, ridge_plcc, ridge_rmse, ratio, ensemble_plcc - ridge_plcc, small,
                lift_statement(ratio, ensemble_rmse, ridge_rmse, ensemble_plcc - ridge_plcc))


def lift_statement(ratio: float, ensemble_rmse: float, ridge_rmse: float, plcc_delta: float) -> str:
    """One sentence whose words match the ratio, naming the RMSEs' kind."""
    rmses = f"({ensemble_rmse:.2f} vs {ridge_rmse:.2f}, each a {GROUPS})"
    if ratio == math.inf:
        return f"The ensemble is worse than a ridge regression, which predicts every held-out frame exactly {rmses}."
    if not math.isfinite(ratio):
        return f"The ensemble and a ridge regression could not be compared on RMSE {rmses}."
    if ratio > 1:
        return f"The ensemble is worse than a ridge regression: its RMSE is {ratio:.2f}x the ridge's {rmses}."
    if ratio >= SMALL_LIFT_RMSE_RATIO:
        return f"The ensemble adds little over a ridge regression: its RMSE is {ratio:.2f}x the ridge's {rmses}."
    return (f"The ensemble cuts RMSE to {ratio:.2f}x a ridge regression's {rmses} and changes PLCC by "
            f"{plcc_delta:+.4f}.")


def lift_gate(rmse_ratio: float, min_rmse_lift: float | None) -> LiftGate:
    passed = min_rmse_lift is None or bool(math.isfinite(rmse_ratio) and rmse_ratio <= min_rmse_lift)
    return LiftGate(min_rmse_lift is not None, min_rmse_lift, rmse_ratio, passed)


def challenger_gate(challenger_plcc: float, incumbent: BaselineResult | None, seed_spread: float) -> ChallengerGate:
    if incumbent is None:
        return ChallengerGate(False, True)
    inc = float(incumbent.mean_plcc)
    margin = round(challenger_plcc - inc, 12)  # 0.96 - 0.95 is 0.010000000000000009 in floats: equal, not above
    beats = bool(math.isfinite(margin) and math.isfinite(seed_spread) and margin > seed_spread)
    statement = (f"The challenger beats the incumbent by {margin:+.4f} PLCC, more than the seed spread "
                 f"{seed_spread:.4f}." if beats else
                 f"The challenger does not beat the incumbent by more than the seed spread "
                 f"({margin:+.4f} PLCC vs spread {seed_spread:.4f}).")
    return ChallengerGate(True, beats, challenger_plcc, inc, margin, seed_spread, statement)
