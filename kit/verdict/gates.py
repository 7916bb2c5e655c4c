"""Every gate on a measured figure, declared once: the verdict, `verify`'s recheck, the summary and the report read
GATES, never a gate by name. Those of their own shape (PLCC, lift, challenger, evidence, completeness) are in
kit.verdict.thresholds, lift and assess; a new gate is a `Gate` here and a field of GateThresholds.

A Gate holds its measure, direction, its threshold's GateThresholds field and flag, the verdict block it is written to,
its report and summary words, how a failure is said and how it is computed (beside it, or in the module that measures
its figure, which takes the measure from the record). A new one touches 3 kit files: the record, its computation, the
field (tests/pipeline/test_new_gate.py adds one in a copy of the kit). At its default the field reruns no verdict an
older kit made, so a gate on by default that those verdicts must meet also raises the verdict's format version
(kit/steps/__init__.py). A row with nothing to judge carries `not_judged` (why), shown `not judged`, never `pass`; a
figure is compared with its threshold rounded to 12 places where float rounding could move it across (a spread of 0.955
minus 0.95). Every gate is tried at its boundary (tests/unit/test_gate_boundaries.py) and is monotone in its own
threshold alone: the decision is kit.verdict.decide.judge on GateInputs, which hold no threshold
(tests/unit/test_monotone_verdict.py), and a gate's pool is fixed by its inputs, never by a threshold (the consumer's:
kit.verdict.ceiling)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from kit.infra.changes import flag_of
from kit.verdict.kinds import CONSUMER, POOLED, SOURCE
from kit.verdict.thresholds import HOLDOUT_PLCC_MEASURE, FoldGate, GateThresholds, fold_gate

if TYPE_CHECKING:
    from kit.verdict.assess import Assessment
    from kit.verdict.document import LimitGate, Verdict

    Row = LimitGate | FoldGate


@dataclass(frozen=True)
class Block:
    """Where the verdict writes a gate's rows."""

    key: str  # a field of kit.verdict.document.Verdict
    many: bool = False  # a list of rows (several gates, or one gate per key), else the one row or null
    inside: str | None = None  # each item of the list is a block holding its row under this key
    failing: str = "failing"  # the row's list of what fails it (FoldGate's: failing_sources)


COVERAGE_GATE = Block("coverage_gate")
RANGE_GATE = Block("range_gate")
HOLDOUT = Block("holdout", many=True, inside="gate")
CLIP_ERROR_GATES = Block("clip_error_gates", many=True)
CONSUMER_GATES = Block("consumer_gates", many=True)


@dataclass(frozen=True)
class Evidence:
    """What the gates are computed from (`assessed` None: a verdict without an assessment)."""

    folds: Any  # pandas DataFrames
    sources: Any
    assessed: Assessment | None
    thresholds: GateThresholds


@dataclass(frozen=True)
class Gate:
    """One gate, declared once. `measure` is its row's (a keyed gate's: `measure:KEY`, as `clip_error:mean`)."""

    measure: str
    at_least: bool  # the worst value must reach the threshold; else stay at or under it
    threshold: str  # the GateThresholds field that holds its threshold (a None there: the gate is off)
    block: Block
    label: str  # the report's gate table ({kind}: a holdout block's); "": shown beside its own table instead
    short: str  # the summary's row
    reason: Callable[[Gate, Any], str]  # a failing row as the recommendation says it
    compute: Callable[[Gate, Evidence], tuple[Any, ...]]  # its rows (none where there is nothing to gate)
    noun: str = "source"  # what its failing list names, counted in a reason ("2 more source(s) too")
    keyed: bool = False  # its threshold is a dict: one row per key
    no_figure: str = ""  # what the report says of a row without a worst value (else it shows n/a)
    warns_off: bool = False  # the summary says what it found while the gate is off (a worst value above 0)
    # a per-source gate: the column of kit.verdict.decide.per_source it limits, its name and its worst's statement
    column: str = ""
    absolute: bool = False
    figure: str = ""
    said: str = ""

    @property
    def flag(self) -> str:
        """The flag that sets its threshold, declared in the threshold's field."""
        return flag_of(GateThresholds, self.threshold).opt

    @property
    def sign(self) -> str:
        return ">=" if self.at_least else "<="

    def keeps(self, value: float, threshold: float) -> bool:
        return value >= threshold if self.at_least else value <= threshold

    def judges(self, measure: str) -> bool:
        return measure == self.measure or (self.keyed and measure.startswith(f"{self.measure}:"))

    def limit_of(self, thresholds: GateThresholds) -> Any:
        return getattr(thresholds, self.threshold)

    def setting(self, row: Row) -> str:
        """The flag as the user would give it for this row's threshold: `--max-clip-error mean:2`."""
        key = f"{row.measure.partition(':')[2]}:" if self.keyed else ""
        return f"{self.flag} {key}{row.threshold:g}"

    def failure(self, row: Row) -> str:
        return self.reason(self, row)


def more(gate: Gate, failing: list[str]) -> str:
    return f" ({len(failing) - 1} more {gate.noun}(s) too)" if len(failing) > 1 else ""


def beyond(gate: Gate, row: LimitGate) -> str:
    """An at-most limit: the worst's statement, the flag, how many others fail it."""
    return f"{row.statement}, beyond {gate.setting(row)}{more(gate, row.failing)}"


def beyond_per_source(gate: Gate, row: FoldGate) -> str:
    return (f"source {row.worst_src} {gate.said.format(value=row.worst_value)}, beyond {gate.setting(row)}"
            f"{more(gate, row.failing_sources)}")


def below(gate: Gate, row: LimitGate) -> str:
    """An at-least share: its statement names each group below it."""
    return f"{row.statement}: below {gate.setting(row)}"


def below_held_out(gate: Gate, row: LimitGate) -> str:
    return f"held-out {', '.join(row.failing)} below {gate.setting(row)} ({row.statement})"


def below_or_unbounded(gate: Gate, row: LimitGate) -> str:
    """An at-least figure, or (no figure: an unbounded interval) the statement that says why not."""
    if row.threshold is not None and row.worst_value < row.threshold:
        return f"{row.statement}, below {gate.setting(row)}"
    return f"{row.statement} ({gate.setting(row)})"


def per_source(gate: Gate, e: Evidence) -> tuple[FoldGate, ...]:
    """A limit every held-out source keeps; a folds table of an older kit, without the figure, has nothing to judge."""
    values = e.sources[gate.column].abs() if gate.absolute else e.sources[gate.column]
    given = dict(zip(e.sources["src"], values, strict=True)) if gate.column in e.folds else {}
    why = None if given else (f"the folds table has no {gate.column} column (an older kit's)" if len(e.sources)
                              else "no held-out source")
    return (fold_gate(gate.measure, given, gate.limit_of(e.thresholds), why),)


def coverage(gate: Gate, e: Evidence) -> tuple[LimitGate, ...]:
    from kit.verdict.intervals import coverage_gate

    return (coverage_gate(e.assessed.intervals, gate.limit_of(e.thresholds), gate.measure),) if e.assessed else ()


def out_of_range(gate: Gate, e: Evidence) -> tuple[LimitGate, ...]:
    from kit.verdict.breakdown import range_gate

    return (range_gate(e.assessed.breakdown, gate.limit_of(e.thresholds), gate.measure),) if e.assessed else ()


def held_out(gate: Gate, e: Evidence) -> tuple[LimitGate, ...]:
    """Each --holdout block's groups against the threshold (kit.verdict.assess.holdout_gate), in the blocks' order."""
    from kit.verdict.assess import holdout_gate

    if e.assessed is None:
        return ()
    return tuple(holdout_gate(b.kind, b.groups, gate.limit_of(e.thresholds), gate.measure) for b in e.assessed.holdout)


def clip_errors(gate: Gate, e: Evidence) -> tuple[LimitGate, ...]:
    from kit.verdict.pooling import clip_error_gates

    a = e.assessed
    if a is None or a.clips is None or a.clip_pooling is None:
        return ()
    return clip_error_gates(a.clips, a.clip_pooling, gate.limit_of(e.thresholds), gate.measure)


def consumer_share(gate: Gate, e: Evidence, content: bool = False) -> tuple[LimitGate, ...]:
    """Both consumer share gates (`content`: the share per content group), each over the pool the encodes fix
    (kit.verdict.consumer_gates)."""
    from kit.verdict.consumer_gates import share_gate

    if e.assessed is None or e.assessed.consumer is None:
        return ()
    return (share_gate(e.assessed.consumer, gate.limit_of(e.thresholds), gate.measure, content),)


def consumer_ceiling(gate: Gate, e: Evidence) -> tuple[LimitGate, ...]:
    """Every content group's share at most the gap under its ceiling's (kit.verdict.consumer_gates)."""
    from kit.verdict.consumer_gates import ceiling_gate

    if e.assessed is None or e.assessed.consumer is None:
        return ()
    return (ceiling_gate(e.assessed.consumer, gate.limit_of(e.thresholds), gate.measure),)


ABS_BIAS = Gate("abs_bias", False, "max_abs_bias", Block("bias_gate", failing="failing_sources"),
                f"largest |bias| of a source ({SOURCE}, mean over seeds)", "largest source bias", beyond_per_source,
                per_source, column="bias", absolute=True, figure="|bias|",
                said="is off by {value:.1f} VMAF points on average (either way)")
FOLD_RMSE = Gate("rmse", False, "max_fold_rmse", Block("fold_rmse_gate", failing="failing_sources"),
                 f"largest RMSE of a source ({SOURCE}, mean over seeds)", "largest source RMSE", beyond_per_source,
                 per_source, column="rmse", figure="RMSE", said="has RMSE {value:.1f}")
COVERAGE = Gate("coverage", True, "min_coverage", COVERAGE_GATE,
                f"coverage at the nominal level ({POOLED})", "coverage gate", below_or_unbounded, coverage,
                no_figure="unbounded, no figure (see the intervals)")
OUT_OF_RANGE = Gate("share_out_of_range", False, "max_out_of_range", RANGE_GATE,
                    "largest share of a source's predictions outside [0, 100]", "out of range", beyond, out_of_range,
                    warns_off=True)
HOLDOUT_PLCC = Gate(HOLDOUT_PLCC_MEASURE, True, "holdout_min_plcc", HOLDOUT,
                    "lowest PLCC of a held-out {kind}", "unseen {kind}", below_held_out, held_out)
CLIP_ERROR = Gate("clip_error", False, "max_clip_error", CLIP_ERROR_GATES, "",
                  "clip error gate", beyond, clip_errors, noun="clip", keyed=True)
CONSUMER_SHARE = Gate("consumer_share", True, "min_consumer_share", CONSUMER_GATES,
                      "lowest share within the tolerance of the held-out encodes the ceiling lands within on, as "
                      f"vmaf-tune samples them ({CONSUMER}: all, a CRF band, an encoder)", "consumer share", below,
                      consumer_share)
CONSUMER_CONTENT_SHARE = Gate("consumer_content_share", True, "min_consumer_content_share", CONSUMER_GATES,
                              "lowest share within the tolerance of a content group's held-out encodes the ceiling "
                              f"lands within on, as vmaf-tune samples them ({CONSUMER})",
                              "consumer share per content", below, partial(consumer_share, content=True))
CONSUMER_CEILING = Gate("consumer_ceiling_gap", False, "max_consumer_ceiling_gap", CONSUMER_GATES,
                        "largest share of a content group's held-out encodes the models lose under the ceiling's, as "
                        f"vmaf-tune samples them ({CONSUMER})", "consumer share under its ceiling", beyond,
                        consumer_ceiling, noun="content group")

# the order of the verdict's rows, of `verify`'s and of the report's gate table
GATES = (ABS_BIAS, FOLD_RMSE, COVERAGE, OUT_OF_RANGE, HOLDOUT_PLCC, CLIP_ERROR, CONSUMER_SHARE, CONSUMER_CONTENT_SHARE,
         CONSUMER_CEILING)
BLOCKS = tuple(dict.fromkeys(g.block for g in GATES))


def gate_of(measure: str) -> Gate | None:
    """The gate a row's measure names (None: a measure this kit does not know, as a newer kit's)."""
    return next((g for g in GATES if g.judges(measure)), None)


@dataclass(frozen=True)
class Shown:
    """A gate row of a verdict, with its gate and its block's kind: what the summary and the report show."""

    gate: Gate
    row: Any  # LimitGate | FoldGate
    kind: str = ""

    @property
    def label(self) -> str:
        return self.gate.label.format(kind=self.kind)

    @property
    def short(self) -> str:
        return self.gate.short.format(kind=self.kind)

    @property
    def per_source(self) -> bool:
        return bool(self.gate.column)


def shown(verdict: Verdict, *blocks: Block) -> list[Shown]:
    """Every gate row of the verdict (of these blocks only, when given) in the table's order, but unknown measures'."""
    found = []
    for gate in GATES:
        block = gate.block
        if blocks and block not in blocks:
            continue
        value = getattr(verdict, block.key)
        for item in (value or ()) if block.many else (value,):
            row = getattr(item, block.inside) if block.inside and item is not None else item
            if row is not None and gate.judges(row.measure):
                found.append(Shown(gate, row, str(getattr(item, "kind", "")) if block.inside else ""))
    return found
