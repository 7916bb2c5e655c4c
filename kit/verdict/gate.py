"""The promotion gate.

Defaults from the seed documents: the mean over seeds of each seed's mean
LOSO PLCC is at least 0.95, the spread (max - min) of the per-seed means is at
most 0.005, and every seed reaches 0.95 on its own. A NaN anywhere fails.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kit.infra.records import Record
from kit.infra.rules import Check, Off, Real, Whole, setting
from kit.model.consumer import TOLERANCE

# The fewest held-out content groups PROMOTE takes by default (README, "Minimum evidence"): with n groups the kit
# can measure an interval's coverage on content it did not calibrate on only where n - 1 groups bound it, and
# n - 1 = 4 is the fewest that bound the 80 % level (ceil(5 x 0.8) = 4 <= 4). Below 5, nothing but the 50 %
# interval can be checked on unseen content, and one content is a fifth or more of every mean the gate reads.
MIN_CONTENT_GROUPS = 5
CORRELATION = Real(-1, 1)
LIMIT = Off(Real(0, lo_open=True), refusal="is neither a positive number nor off")  # X|off: a threshold or none
SHARE = Real(0, 1)


def clip_limits_problem(limits: object) -> str | None:
    """--max-clip-error's rule: a pooling of kit.model.pooling.POOLS (each once: a dict) to a limit above 0."""
    from kit.model.pooling import POOLS

    if not isinstance(limits, dict):
        return "is not an object of STAT: X"
    if bad := next((s for s in limits if s not in POOLS), None):
        return f"names {bad!r}, which is none of {', '.join(POOLS)}"
    return next((f"gives {stat} the limit {x!r}: each limit must be above 0" for stat, x in limits.items()
                 if LIMIT.rule.problem(x) is not None), None)


CLIP_LIMITS = Check(clip_limits_problem, "STAT: X pairs, STAT one of mean, harmonic_mean, p1, min (each once), X "
                                         "above 0")


@dataclass(frozen=True)
class GateThresholds(Record):
    """The gate's thresholds: their defaults are the `run` flags' defaults (the one place they are spelled)."""

    LENIENT = True  # run.json of older kits lacks the later thresholds

    # each threshold's default and rules (kit.infra.rules.setting): the flags' (kit.cli.flags names each flag's
    # setting), a --settings file's and a run.json's alike
    mean_plcc_min: float = setting(0.95, CORRELATION)
    plcc_spread_max: float = setting(0.005, Real(0))
    per_seed_plcc_min: float = setting(0.95, CORRELATION)
    # on by default (kit 0.5): the ensemble no worse than the ridge baseline trained beside it (its own block)
    min_rmse_lift: float | None = setting(1.0, LIMIT)
    # PROMOTE needs this much evidence (its own block)
    min_content_groups: int = setting(MIN_CONTENT_GROUPS, Whole(1, 1_000_000))
    # per held-out source, averaged over seeds (each its own block): what a correlation gate cannot see
    max_abs_bias: float | None = setting(10.0, LIMIT)  # on by default: no source off by more than 10 VMAF points
    max_fold_rmse: float | None = setting(None, LIMIT)  # optional
    min_coverage: float | None = setting(None, Off(SHARE))  # optional: pooled held-out coverage at --interval-level
    max_out_of_range: float | None = setting(None, Off(SHARE))  # optional: per source, share outside [0, 100]
    # optional: with --holdout, every held-out encoder's (box's) PLCC
    holdout_min_plcc: float | None = setting(None, Off(CORRELATION))
    # optional: per pooling (kit.model.pooling.POOLS), every held-out clip's pooled error at most X (kit 0.6)
    max_clip_error: dict[str, float] = setting(dict, CLIP_LIMITS)
    # on by default: the held-out encodes as vmaf-tune predicts them (kit.verdict.consumer), within its tolerance
    # (vmaf-tune's DEFAULT_PROXY_TOLERANCE): all of them, every CRF band and encoder, and every content group
    # (docs/verdict.md, "The consumer's gate": the defaults and the measurement behind them)
    consumer_tolerance: float = setting(TOLERANCE, Real(0, 100, lo_open=True))
    min_consumer_share: float | None = setting(0.9, Off(SHARE))
    min_consumer_content_share: float | None = setting(0.75, Off(SHARE))


@dataclass(frozen=True)
class EvidenceGate(Record):
    """--min-content-groups N: PROMOTE needs at least N held-out content groups, whatever the figures say."""

    enabled: bool
    content_groups: int
    min_content_groups: int | None
    passed: bool
    statement: str


def evidence_gate(content_groups: int, minimum: int | None) -> EvidenceGate:
    """Whether the validation held out enough contents for its figures to say something of a new one."""
    if minimum is None:
        return EvidenceGate(False, content_groups, None, True, f"{content_groups} content groups (no floor: "
                                                               "--min-content-groups off)")
    if content_groups >= minimum:
        return EvidenceGate(True, content_groups, minimum, True,
                            f"{content_groups} content groups, at least the {minimum} PROMOTE needs")
    return EvidenceGate(True, content_groups, minimum, False,
                        f"{content_groups} content group{'s' if content_groups != 1 else ''}; PROMOTE needs at least "
                        f"{minimum} (--min-content-groups)")


@dataclass(frozen=True)
class GateResult(Record):
    """The bash kit's gate block, field for field."""

    passed: bool
    mean_plcc: float
    mean_plcc_threshold: float
    mean_plcc_pass: bool
    plcc_spread: float
    plcc_spread_max: float
    plcc_spread_pass: bool
    per_seed_plccs: dict[str, float]
    per_seed_min: float
    per_seed_pass: bool
    failing_seeds: list[int]


@dataclass(frozen=True)
class FoldGate(Record):
    """A limit every held-out source must keep (--max-abs-bias, --max-fold-rmse), and the source nearest it."""

    enabled: bool
    measure: str  # "abs_bias" | "rmse", per source averaged over seeds
    threshold: float | None
    worst_src: str | None
    worst_value: float
    failing_sources: list[str]
    passed: bool


def fold_gate(measure: str, values: dict[str, float], threshold: float | None) -> FoldGate:
    """Every source's value <= threshold (off when None). A NaN (a member that diverged) fails; a folds table
    of an older kit, without the figure at all, gives no values and passes."""
    finite = {src: v for src, v in values.items() if math.isfinite(v)}
    worst = max(finite, key=lambda s: (finite[s], s)) if finite else None
    worst_value = finite[worst] if worst is not None else float("nan")
    if threshold is None:
        return FoldGate(False, measure, None, worst, worst_value, [], True)
    failing = sorted(s for s, v in values.items() if not v <= threshold)
    return FoldGate(True, measure, threshold, worst, worst_value, failing, not failing)


def _ok(x: float) -> bool:
    return isinstance(x, float | int) and math.isfinite(x)


def evaluate_gate(per_seed_plcc: dict[int, float], t: GateThresholds) -> GateResult:
    """The gate, computed from each seed's mean LOSO PLCC."""
    values = list(per_seed_plcc.values())
    finite = all(_ok(v) for v in values) and bool(values)
    mean = sum(values) / len(values) if finite else float("nan")
    spread = (max(values) - min(values)) if finite else float("nan")
    failing = [s for s, v in per_seed_plcc.items() if not (_ok(v) and v >= t.per_seed_plcc_min)]
    mean_pass = finite and mean >= t.mean_plcc_min
    spread_pass = finite and spread <= t.plcc_spread_max
    seed_pass = not failing and bool(values)
    return GateResult(
        passed=bool(mean_pass and spread_pass and seed_pass),
        mean_plcc=mean, mean_plcc_threshold=t.mean_plcc_min, mean_plcc_pass=bool(mean_pass),
        plcc_spread=spread, plcc_spread_max=t.plcc_spread_max, plcc_spread_pass=bool(spread_pass),
        per_seed_plccs={str(s): v for s, v in per_seed_plcc.items()}, per_seed_min=t.per_seed_plcc_min,
        per_seed_pass=bool(seed_pass), failing_seeds=failing,
    )
