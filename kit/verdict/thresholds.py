"""Every gate's threshold (GateThresholds, a settings record: each field with its rule and its flag), the rows the
verdict writes of the gates of their own shape (the PLCC gate, a per-source gate, the evidence gate), and the
promotion gate on the seeds' mean LOSO PLCCs; a NaN fails. The table of gates on a measured figure is
kit.verdict.gates."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, replace

from kit.errors import InputError
from kit.infra.changes import InRecord, changes, setting
from kit.infra.flags import Flag, Float, Int, Limit, Parser
from kit.infra.limits import MAX_RECORD_FIGURE
from kit.infra.outside import label, number, read_float, read_items
from kit.infra.records import Record, keep, omit_none
from kit.infra.rules import CORRELATION_FIGURE, COUNT, OFF, POINTS, SIGNED_FIGURE, Check, Each, Off, Real, Whole
from kit.model.consumer import TOLERANCE

# the fewest held-out content groups PROMOTE takes by default: n - 1 = 4 is the fewest that bound the 80 % interval
# on content it was not calibrated on (docs/verdict.md, "Minimum evidence")
MIN_CONTENT_GROUPS = 5
CORRELATION = Real(-1, 1)
# X|off: a threshold or none; at most the largest figure a verdict keeps (kit.infra.limits.MAX_RECORD_FIGURE), so a
# verdict written with it is one its reader takes back (a threshold of 1e13 was written, then refused as damaged)
LIMIT = Off(Real(0, MAX_RECORD_FIGURE, lo_open=True),
            refusal=f"is neither a positive number nor off (a threshold is at most {MAX_RECORD_FIGURE:g})")
SHARE = Real(0, 1)
# what a threshold changes: the verdict (the report and tarball read it from there); a new one joins its fingerprint's
# entry `gate` off its default alone, where 2.1.0's thresholds are held at their defaults too (DECIDED_IN_2_1), so an
# out-dir of 2.1.0 resumes as it was
DECIDES = changes("verdict")
DECIDED_IN_2_1 = changes("verdict", entries={"verdict": InRecord()})
HOLDOUT_PLCC_MEASURE = "plcc"  # the --holdout blocks' gate rows (kit.verdict.gates.HOLDOUT_PLCC, assess.holdout_block)


def clip_limits_problem(limits: object) -> str | None:
    """--max-clip-error's rule: a pooling of kit.model.pooling.POOLS (each once: a dict) to a limit above 0."""
    from kit.model.pooling import POOLS

    if not isinstance(limits, dict):
        return "is not an object of STAT: X"
    if bad := next((s for s in limits if s not in POOLS), None):
        return f"names {bad!r}, which is none of {', '.join(POOLS)}"
    return next((f"gives {stat} the limit {x!r}: each limit must be above 0 and at most {MAX_RECORD_FIGURE:g}"
                 for stat, x in limits.items()
                 if LIMIT.rule.problem(x) is not None), None)


CLIP_LIMITS = Check(clip_limits_problem, "STAT: X pairs, STAT one of mean, harmonic_mean, p1, min (each once), X "
                                         f"above 0 and at most {MAX_RECORD_FIGURE:g}")


class ClipErrorLimits(Parser):
    """`STAT:X[,STAT:X...]` or off: per pooling of POOLS, the most a clip's pooled prediction may miss (VMAF)."""

    name = "limits"
    numeric = True
    takes_off = True
    items = "p1:4,min:8"

    def parse(self, text: str, flag: str, words: str = "") -> dict[str, float]:
        from kit.model.pooling import POOLS

        if text.strip().lower() in (OFF, "none"):
            return {}
        hint = f"e.g. {flag} p1:4 or {flag} p1:4,min:8 (STAT one of {', '.join(POOLS)}), or {flag} off"
        limits: dict[str, float] = {}
        for part in read_items(text, flag, hint):
            stat, colon, value = part.partition(":")
            if not colon or stat.strip() not in POOLS:
                raise InputError(f"{label(flag, text)} is not STAT:X[,STAT:X] with STAT one of {', '.join(POOLS)}",
                                 hint=hint)
            if stat.strip() in limits:
                raise InputError(f"{label(flag, text)} names {stat.strip()} twice", hint=hint)
            limits[stat.strip()] = number(read_float, value, f"{label(flag, text)}: {stat.strip()}'s limit is not a "
                                                             "number", hint)
        if (why := clip_limits_problem(limits)) is not None:  # the setting's rule, for a caller of parse alone too
            raise InputError(f"{label(flag, text)} {why}", hint=hint)
        return {stat: limits[stat] for stat in POOLS if stat in limits}


OFF_METAVAR = "X|off"


@dataclass(frozen=True)
class GateThresholds(Record):
    """The gate's thresholds: each declared once, its default, rules and flag (kit.infra.changes.setting)."""

    LENIENT = True  # run.json of older kits lacks the later thresholds

    mean_plcc_min: float = setting(0.95, CORRELATION, changes=DECIDED_IN_2_1, flag=Flag(
        "--min-mean-plcc", Float(), rank=280,
        help="Gate: mean over seeds of per-seed mean LOSO PLCC."))
    plcc_spread_max: float = setting(0.005, Real(0, MAX_RECORD_FIGURE), changes=DECIDED_IN_2_1, flag=Flag(
        "--max-plcc-spread", Float(), rank=290,
        help="Gate: max - min of the per-seed mean PLCCs."))
    per_seed_plcc_min: float = setting(0.95, CORRELATION, changes=DECIDED_IN_2_1, flag=Flag(
        "--min-seed-plcc", Float(), rank=300,
        help="Gate: every seed's mean PLCC."))
    min_rmse_lift: float | None = setting(1.0, LIMIT, changes=DECIDED_IN_2_1, flag=Flag(
        "--min-rmse-lift", Limit(), metavar=OFF_METAVAR, rank=320,
        help="Gate: ensemble RMSE <= X * the RMSE of the ridge baseline trained beside it, both means over content "
             "groups (1: no worse than ridge; 0.7 for a clear lift); off to drop it."))
    min_content_groups: int = setting(MIN_CONTENT_GROUPS, Whole(1, 1_000_000), changes=DECIDED_IN_2_1, flag=Flag(
        "--min-content-groups", Int(), rank=330,
        help="Gate: PROMOTE needs at least N held-out content groups (5 by default: see the README's minimum "
             "evidence); lower it to promote on fewer."))
    max_abs_bias: float | None = setting(10.0, LIMIT, changes=DECIDED_IN_2_1, flag=Flag(
        "--max-abs-bias", Limit(), metavar=OFF_METAVAR, rank=340,
        help="Gate: no held-out source may be off by more than X VMAF points on average (mean of prediction - teacher, "
             "over seeds); off to drop it."))
    max_fold_rmse: float | None = setting(None, LIMIT, changes=DECIDED_IN_2_1, flag=Flag(
        "--max-fold-rmse", Limit(), metavar=OFF_METAVAR, rank=350,
        help="Optional gate: every held-out source's RMSE (mean over seeds) at most X."))
    # the optional gates: off by default, and `off` at the flag switches one off again (over its KIT_ variable or a
    # --settings file), as the Off rule of its field says
    min_coverage: float | None = setting(None, Off(SHARE), changes=DECIDED_IN_2_1, flag=Flag(
        "--min-coverage", Limit("0.9", by_rule=True), metavar=OFF_METAVAR, rank=380,
        help="Optional gate: the held-out coverage of the intervals at --interval-level, pooled, at least X (e.g. "
             "0.9); an unbounded interval fails it; off to drop it."))
    max_out_of_range: float | None = setting(None, Off(SHARE), changes=DECIDED_IN_2_1, flag=Flag(
        "--max-out-of-range", Limit("0.05", by_rule=True), metavar=OFF_METAVAR, rank=390,
        help="Optional gate: no source's share of held-out predictions outside [0, 100] above X (e.g. 0.05); off to "
             "drop it."))
    holdout_min_plcc: float | None = setting(None, Off(CORRELATION), changes=DECIDED_IN_2_1, flag=Flag(
        "--holdout-min-plcc", Limit("0.9", by_rule=True), metavar=OFF_METAVAR, rank=410,
        help="Optional gate: with --holdout, every held-out encoder's (box's) PLCC at least X; off to drop it."))
    max_clip_error: dict[str, float] = setting(dict, CLIP_LIMITS, changes=DECIDED_IN_2_1, flag=Flag(
        "--max-clip-error", ClipErrorLimits(), metavar="STAT:X[,STAT:X]|off", rank=360,
        help="Optional gate: every held-out clip's pooled prediction within X VMAF points of its teacher pooled the "
             "same way, for each STAT given: mean, harmonic_mean, p1 (the 1st percentile, Av1an's default) or min "
             "(docs/pooling.md)."))
    # the consumer's gate: its defaults and the measurement behind them in docs/verdict.md, "The consumer's gate"
    # also LOSO's: the teacher recipe's floor chooses how much of the correction to keep at it (kit.model.floor)
    consumer_tolerance: float = setting(TOLERANCE, Real(0, 100, lo_open=True), changes=changes(
        "loso", "verdict", entries={"verdict": InRecord()}), flag=Flag(
            "--consumer-tolerance", Float(), rank=420,
            help="How close, in VMAF points, a held-out encode's prediction as vmaf-tune makes it (mean features, its "
                 "crf_norm) must be to the teacher's mean to count as within (vmaf-tune's DEFAULT_PROXY_TOLERANCE: its "
                 "verify encode accepts the proxy so close). The teacher recipe keeps its learned correction only as "
                 "far as it keeps more held-out encodes within it than the teacher's function alone "
                 "(docs/teachers.md)."))
    min_consumer_share: float | None = setting(0.9, Off(SHARE), changes=DECIDED_IN_2_1, flag=Flag(
        "--min-consumer-share", Limit(), metavar=OFF_METAVAR, rank=430,
        help="Gate: of the held-out encodes the input can carry (the ceiling within --consumer-tolerance, as vmaf-tune "
             "samples them), at least X within it as vmaf-tune predicts them, all together, in every CRF band (10-20, "
             "21-35, 36-51) and for every encoder; off to drop it."))
    min_consumer_content_share: float | None = setting(0.75, Off(SHARE), changes=DECIDED_IN_2_1, flag=Flag(
        "--min-consumer-content-share", Limit(), metavar=OFF_METAVAR, rank=440,
        help="Gate: of each content group's held-out encodes the input can carry, at least X within "
             "--consumer-tolerance as vmaf-tune predicts them; off to drop it."))
    # every content group's share at most this much under the ceiling's, over all its encodes
    # (kit.verdict.consumer_gates.ceiling_gate; the default's measurement in docs/verdict.md)
    max_consumer_ceiling_gap: float | None = setting(0.15, Off(SHARE), changes=DECIDES, flag=Flag(
        "--max-consumer-ceiling-gap", Limit(), metavar=OFF_METAVAR, rank=442,
        help="Gate: every content group's share of its held-out encodes within --consumer-tolerance (as vmaf-tune "
             "samples them) at most X under the ceiling's, the teacher's own function of the same mean features; off "
             "to drop it."))


@dataclass(frozen=True)
class EvidenceGate(Record):
    """--min-content-groups N: PROMOTE needs at least N held-out content groups, whatever the figures say."""

    enabled: bool
    content_groups: int = field(metadata=keep(COUNT))
    min_content_groups: int | None = field(metadata=keep(COUNT))
    passed: bool
    statement: str


def evidence_gate(n: int, minimum: int | None) -> EvidenceGate:
    """Whether the validation held out enough content groups (`n`) for its figures to say something of a new one."""
    if minimum is None:
        return EvidenceGate(False, n, None, True, f"{n} content groups (no floor: --min-content-groups off)")
    if n >= minimum:
        return EvidenceGate(True, n, minimum, True, f"{n} content groups, at least the {minimum} PROMOTE needs")
    return EvidenceGate(True, n, minimum, False, f"{n} content group{'s' if n != 1 else ''}; PROMOTE needs at least "
                                                 f"{minimum} (--min-content-groups)")


@dataclass(frozen=True)
class GateResult(Record):
    """The bash kit's gate block, field for field; `not_judged` (its passes null): why its figures judge nothing (the
    held-out student is the teacher's function, whose per-frame figures are libvmaf's own score)."""

    passed: bool | None
    mean_plcc: float = field(metadata=keep(CORRELATION_FIGURE))
    mean_plcc_threshold: float = field(metadata=keep(CORRELATION_FIGURE))
    mean_plcc_pass: bool | None
    plcc_spread: float = field(metadata=keep(POINTS))
    plcc_spread_max: float = field(metadata=keep(POINTS))
    plcc_spread_pass: bool | None
    per_seed_plccs: dict[str, float] = field(metadata=keep(Each(CORRELATION_FIGURE)))
    per_seed_min: float = field(metadata=keep(CORRELATION_FIGURE))
    per_seed_pass: bool | None
    failing_seeds: list[int] = field(metadata=keep(Each(COUNT)))
    not_judged: str | None = omit_none()
    # why the seed spread and the per-seed floor judge nothing (every seed is one student), their passes null
    seeds_not_judged: str | None = omit_none()

    def unjudged(self, why: str) -> GateResult:
        """The same figures, judging nothing: every pass null, and why."""
        return replace(self, passed=None, mean_plcc_pass=None, plcc_spread_pass=None, per_seed_pass=None,
                       failing_seeds=[], not_judged=why)

    def seeds_unjudged(self, why: str) -> GateResult:
        """The seed spread and the per-seed floor judging nothing (the seeds are one student), the mean PLCC alone
        deciding the gate."""
        return replace(self, passed=self.mean_plcc_pass, plcc_spread_pass=None, per_seed_pass=None, failing_seeds=[],
                       seeds_not_judged=why)


@dataclass(frozen=True)
class FoldGate(Record):
    """A limit every held-out source must keep (--max-abs-bias, --max-fold-rmse), and the source nearest it."""

    enabled: bool
    measure: str  # "abs_bias" | "rmse", per source averaged over seeds
    threshold: float | None = field(metadata=keep(SIGNED_FIGURE))
    worst_src: str | None
    worst_value: float = field(metadata=keep(SIGNED_FIGURE))
    failing_sources: list[str]
    passed: bool | None  # null: on, with nothing to judge (`not_judged`; a kit before 2.5 wrote true there)
    not_judged: str | None = omit_none()  # on, with no source to judge or a tautology: why (never said as a pass)

    @property
    def judged(self) -> bool:
        return self.enabled and not self.not_judged


def fold_gate(measure: str, values: dict[str, float], threshold: float | None, not_judged: str | None = None
              ) -> FoldGate:
    """Every source's value <= threshold (off when None); a NaN fails; `not_judged`: why there is no value at all."""
    finite = {src: v for src, v in values.items() if math.isfinite(v)}
    worst = max(finite, key=lambda s: (finite[s], s)) if finite else None
    worst_value = finite[worst] if worst is not None else float("nan")
    failing = [] if threshold is None else sorted(s for s, v in values.items() if not v <= threshold)
    unjudged = not_judged if threshold is not None and not values else None
    return FoldGate(threshold is not None, measure, threshold, worst, worst_value, failing,
                    None if unjudged else not failing, unjudged)


def finite(value: object) -> float | None:
    """A figure as a float (numpy's too); None where absent (an older kit's table), unbounded, NaN or no number."""
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    return float(value) if real and math.isfinite(value) else None  # type: ignore[arg-type]


def evaluate_gate(per_seed_plcc: dict[int, float], t: GateThresholds) -> GateResult:
    """The gate, computed from each seed's mean LOSO PLCC."""
    values = list(per_seed_plcc.values())
    defined = all(finite(v) is not None for v in values) and bool(values)
    # rounded to 12 places, so a mean or spread of figures at the threshold is at it (0.955 - 0.95 is
    # 0.0050000000000000044 in floats, which a spread gate of 0.005 would fail by rounding alone)
    mean = round(sum(values) / len(values), 12) if defined else float("nan")
    spread = round(max(values) - min(values), 12) if defined else float("nan")
    failing = [s for s, v in per_seed_plcc.items() if not (finite(v) is not None and v >= t.per_seed_plcc_min)]
    mean_pass = defined and mean >= t.mean_plcc_min
    spread_pass = defined and spread <= t.plcc_spread_max
    seed_pass = not failing and bool(values)
    return GateResult(
        passed=bool(mean_pass and spread_pass and seed_pass),
        mean_plcc=mean, mean_plcc_threshold=t.mean_plcc_min, mean_plcc_pass=bool(mean_pass),
        plcc_spread=spread, plcc_spread_max=t.plcc_spread_max, plcc_spread_pass=bool(spread_pass),
        per_seed_plccs={str(s): v for s, v in per_seed_plcc.items()}, per_seed_min=t.per_seed_plcc_min,
        per_seed_pass=bool(seed_pass), failing_seeds=failing,
    )
