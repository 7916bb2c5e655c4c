"""The decision: from the LOSO outputs to the verdict document, with no file access."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd

from kit import __version__
from kit.corpus.names import named_frame
from kit.corpus.schema import CORPUS_ROW
from kit.corpus.summary import CorpusSummary
from kit.infra.clock import utc_iso
from kit.media.libvmaf import TEACHER_MODEL
from kit.model.metrics import CORRELATION_RULE, residuals
from kit.model.results import BaselineResult, Baselines, FoldResult, SeedReport
from kit.verdict.assess import Assessment
from kit.verdict.document import (
    NOTHING_TO_SEND,
    SEND_BACK,
    Agreement,
    Completeness,
    HoldoutBlock,
    LimitGate,
    Overall,
    PooledAgreement,
    Verdict,
    VerdictProvenance,
    WorstFold,
)
from kit.verdict.gates import (
    ABS_BIAS,
    BLOCKS,
    CLIP_ERROR,
    CONSUMER_GATES,
    COVERAGE,
    FOLD_RMSE,
    GATES,
    HOLDOUT,
    HOLDOUT_PLCC,
    OUT_OF_RANGE,
    Block,
    Evidence,
    Gate,
)
from kit.verdict.kinds import FIGURE_KINDS, GROUPS
from kit.verdict.lift import ChallengerGate, Lift, LiftGate, challenger_gate, lift, lift_gate
from kit.verdict.plausibility import TeacherSuspect, suspects_text
from kit.verdict.thresholds import (
    EvidenceGate,
    FoldGate,
    GateResult,
    GateThresholds,
    evaluate_gate,
    evidence_gate,
    finite,
)

WORST_FOLDS = 3


def overall_figures(reports: list[SeedReport], predictions: pd.DataFrame | None,
                    held_out: pd.DataFrame | None = None) -> Overall:
    """The mean over seeds of each seed's fold means, and the seeds' mean prediction scored over every frame
    (`held_out`: those rows as the assessment pooled them, kit.verdict.intervals.ensemble_rows, by the same
    arithmetic: the predictions are not grouped a second time)."""
    means = {f.name: float(np.nanmean([getattr(r, f"mean_{f.name}") for r in reports])) for f in fields(Agreement)}
    if held_out is None:
        if predictions is None:
            raise ValueError("overall_figures needs the predictions or the held-out rows")
        held_out = predictions.groupby(CORPUS_ROW).agg(vmaf=("vmaf", "first"), pred=("pred", "mean"))
    pooled = held_out
    r = residuals(pooled["pred"], pooled["vmaf"], ranks=True)
    return Overall(Agreement(**means), PooledAgreement(**r.fields_of(PooledAgreement), n_frames=r.n))


def per_source(folds: pd.DataFrame) -> pd.DataFrame:
    """One row per held-out source: its folds' figures averaged over seeds (max for the largest miss)."""
    folds = folds.assign(**{c: folds.get(c, np.nan) for c in ("bias", "max_abs_error", "share_out_of_range")})
    return folds.groupby(["src", "src_sha256"], as_index=False).agg(
        plcc=("plcc", "mean"), srocc=("srocc", "mean"), rmse=("rmse", "mean"), bias=("bias", "mean"),
        max_abs_error=("max_abs_error", "max"), share_out_of_range=("share_out_of_range", "mean"),
        n_frames=("n_frames", "first"), share_vmaf_100=("share_vmaf_100", "first"))


SHOWN_DIGITS = {"plcc": 3, "rmse": 1, "bias": 1}  # the decimals the summary's worst folds print each figure with


def badness(sources: pd.DataFrame) -> pd.DataFrame:
    """How far each source is from the typical one: (1 - PLCC), RMSE and |bias|, each over its median (0 if none).
    Each figure is taken as the summary prints it (SHOWN_DIGITS): sources that read alike tie, and the name decides
    (ranked), so the ranking turns on last bits that one CPU trains otherwise than another only at a rounding's
    half. A median is at least one unit of its last printed digit: where most sources print a bias of 0.0, a bias
    of 0.1 is one unit off, not 100,000 times the median, and cannot hide a source whose RMSE is 15 times it."""
    shown = {c: sources[c].round(d) for c, d in SHOWN_DIGITS.items()}
    raw = pd.DataFrame({"plcc": 1.0 - shown["plcc"], "rmse": shown["rmse"], "bias": shown["bias"].abs()})
    unit = pd.Series({c: 10.0 ** -d for c, d in SHOWN_DIGITS.items()})
    return (raw / raw.median().clip(lower=unit)).fillna(0.0)


def _reason(row: dict[str, object], scores: dict[str, float]) -> str:
    """The criteria that make this source worst: the top one and any close to it, e.g. "RMSE 9.5, bias +7.7"."""
    top = max(scores.values())
    d = SHOWN_DIGITS
    shown = {"plcc": f"PLCC {row['plcc']:.{d['plcc']}f}", "rmse": f"RMSE {row['rmse']:.{d['rmse']}f}",
             "bias": f"bias {row['bias']:+.{d['bias']}f}"}
    return ", ".join(said for c, said in shown.items() if scores[c] > 0 and scores[c] >= 0.5 * top) or shown["plcc"]


def ranked(folds: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, list[int]]:
    """Each source's figures, its badness, and the sources' positions worst first (largest badness, then name)."""
    sources = per_source(folds)
    scores = badness(sources)
    return sources, scores, sorted(range(len(sources)),
                                   key=lambda i: (-float(scores.iloc[i].max()), str(sources["src"].iloc[i])))


def worst_folds(folds: pd.DataFrame, n: int = WORST_FOLDS) -> tuple[WorstFold, ...]:
    """The sources the ensemble predicts worst (ranked), with the reason named."""
    sources, scores, order = ranked(folds)
    worst = [(sources.iloc[i].to_dict(), {c: float(v) for c, v in scores.iloc[i].items()}) for i in order[:n]]
    return tuple(WorstFold(str(r["src"]), str(r["src_sha256"]), float(r["plcc"]), float(r["srocc"]), float(r["rmse"]),
                           int(r["n_frames"]), float(r["share_vmaf_100"]), finite(float(r["bias"])),
                           finite(float(r["max_abs_error"])), _reason(r, s)) for r, s in worst)


def fold_table(folds: pd.DataFrame) -> tuple[FoldResult, ...]:
    """Every (seed, source) row, ordered by seed, fold, then source (K-fold holds out several per fold)."""
    return tuple(FoldResult(seed=int(r["seed"]), fold=int(r["fold"]), src=str(r["src"]),
                            src_sha256=str(r["src_sha256"]), n_frames=int(r["n_frames"]),
                            share_vmaf_100=float(r["share_vmaf_100"]), plcc=float(r["plcc"]),
                            srocc=float(r["srocc"]), krocc=float(r["krocc"]), rmse=float(r["rmse"]),
                            bias=finite(r.get("bias")), max_abs_error=finite(r.get("max_abs_error")),
                            share_out_of_range=finite(r.get("share_out_of_range")),
                            teacher_constant=True if r.get("teacher_constant") is True else None)
                 for r in folds.sort_values(["seed", "fold", "src", "src_sha256"]).to_dict(orient="records"))


@dataclass(frozen=True)
class Gates:
    """Every gate of one verdict; PROMOTE only when all pass."""

    gate: GateResult
    lift: LiftGate
    challenger: ChallengerGate
    evidence: EvidenceGate
    rows: tuple[tuple[Gate, FoldGate | LimitGate], ...]  # each gate of kit.verdict.gates.GATES, in its order
    complete: Completeness | None
    constant_teacher: str | None = None  # why there is no correlation at all, when the teacher never varies
    # not a gate: the sources whose teacher looks wrong (kit.verdict.plausibility), named whatever the gates say
    suspects: tuple[TeacherSuspect, ...] | None = None
    shortfall: str | None = None  # the encodes the consumer's input cannot carry (ConsumerJudged.shortfall_words)

    def block(self, block: Block) -> FoldGate | LimitGate | tuple[FoldGate | LimitGate, ...] | None:
        """What the verdict writes under the block's key: its one row, or its rows (None: none)."""
        rows = tuple(row for gate, row in self.rows if gate.block is block)
        return rows or None if block.many else next(iter(rows), None)

    @property
    def passed(self) -> bool:
        """The conjunction of every gate judged (one that judged nothing, passed null, blocks nothing): each is
        monotone in its own threshold alone, and so is this."""
        return self.gate.passed is not False and self.lift.passed is not False \
            and self.challenger.passed is not False and self.evidence.passed \
            and all(row.passed is not False for _, row in self.rows) \
            and (self.complete is None or self.complete.passed) and self.constant_teacher is None

    @property
    def consumer_unjudged(self) -> str | None:
        """Why the consumer gates judged nothing, where every one on did (None: one judged, or none is on)."""
        on = [row for gate, row in self.rows if gate.block is CONSUMER_GATES and row.enabled]
        if not on or any(not row.not_judged for row in on):
            return None
        return str(on[0].not_judged)


@dataclass(frozen=True)
class GateInputs:
    """Everything the gates read of one validation, no threshold among it: `judge` decides from it."""

    per_seed_plcc: dict[int, float]  # each seed's mean PLCC over the held-out content groups
    ensemble_rmse: float  # the seeds' mean of their mean RMSE over content groups
    ridge: BaselineResult
    incumbent: BaselineResult | None
    content_groups: int  # held out
    folds: pd.DataFrame  # per (seed, source)
    sources: pd.DataFrame  # per source, over seeds (per_source)
    assessed: Assessment | None
    constant_teacher: str | None = None
    # why the per-frame figures judge nothing: the held-out student is the teacher's function (every fold's spread
    # and correction 0, kit.model.floor), whose per-frame scores are libvmaf's own (PLCC 1, spread 0, RMSE 0)
    tautology: str | None = None
    # why the seeds are one student: every fold keeps no correction, so each seed's member is the same function
    seeds_alike: str | None = None
    # which student the consumer gates judge, where some fold keeps other factors than the export (None: its own)
    whose: str | None = None


TAUTOLOGY = "the student is the teacher's function"
SEEDS_ALIKE = "the seeds are one student, no correction kept"  # each seed's member the same function
# the gates whose figures are the held-out frames' (a tautology where the student is the teacher's function)
PER_FRAME = (ABS_BIAS, FOLD_RMSE, COVERAGE, OUT_OF_RANGE, HOLDOUT_PLCC, CLIP_ERROR)


def tautology(reports: list[SeedReport]) -> str | None:
    """TAUTOLOGY where every fold's held-out student is the teacher's function, else None."""
    correction = reports[0].correction
    return TAUTOLOGY if correction is not None and correction.folds_teacher else None


def seeds_alike(reports: list[SeedReport]) -> str | None:
    """SEEDS_ALIKE where every fold keeps no correction (its seeds' members are one function), else None."""
    correction = reports[0].correction
    return SEEDS_ALIKE if correction is not None and not correction.scale and not any(correction.fold_scales) else None


def whose(reports: list[SeedReport]) -> str | None:
    """Which student the held-out figures judge, where some fold keeps other factors than the export: each fold's at
    its own (chosen on the other folds' encodes), not the export's (None: every fold keeps the export's)."""
    correction = reports[0].correction
    if correction is None or not correction.folds_differ:
        return None
    return f"judging each fold's student at its own factors ({correction.fold_factors}), not the export"


def gate_inputs(reports: list[SeedReport], folds: pd.DataFrame, baselines: Baselines,
                incumbent: BaselineResult | None, a: Assessment | None) -> GateInputs:
    """What the gates read of these LOSO outputs (the seeds' means are over content groups; `folds` per source)."""
    ens_rmse = [r.mean_rmse for r in reports]
    return GateInputs({r.seed: r.mean_plcc for r in reports}, sum(ens_rmse) / len(ens_rmse), baselines.models["ridge"],
                      incumbent, content_groups(reports), folds, per_source(folds), a, constant_teacher(reports),
                      tautology(reports), seeds_alike(reports), whose(reports))


def unjudged_rows(rows: tuple[tuple[Gate, FoldGate | LimitGate], ...], why: str
                  ) -> tuple[tuple[Gate, FoldGate | LimitGate], ...]:
    """The per-frame gates' rows that are on, judging nothing (passed null) and saying why."""
    return tuple((gate, replace(row, passed=None, not_judged=why) if gate in PER_FRAME and row.enabled else row)
                 for gate, row in rows)


def judge(inputs: GateInputs, thresholds: GateThresholds) -> tuple[Gates, Lift]:
    """Every gate on these inputs at these thresholds: the verdict's decision (tests/unit/test_monotone_verdict.py
    drives it over generated inputs)."""
    gate = evaluate_gate(inputs.per_seed_plcc, thresholds)
    lifted = lift(gate.mean_plcc, inputs.ensemble_rmse, inputs.ridge)
    a = inputs.assessed
    evidence = Evidence(inputs.folds, inputs.sources, a, thresholds)
    rows = tuple((g, row) for g in GATES for row in g.compute(g, evidence))
    if (student := inputs.whose) is not None:  # each row says which student it judged, where it is not the export
        rows = tuple((g, replace(row, statement=f"{student}: {row.statement}")
                      if g.block is CONSUMER_GATES and row.judged else row) for g, row in rows)
    judged = a.consumer.judged if a is not None and a.consumer is not None else None
    lifted_gate = lift_gate(lifted.rmse_ratio, thresholds.min_rmse_lift)
    challenger = challenger_gate(gate.mean_plcc, inputs.incumbent, gate.plcc_spread)
    if inputs.seeds_alike is not None:  # five copies of one student: their spread is 0 by construction
        gate = gate.seeds_unjudged(inputs.seeds_alike)
    if (why := inputs.tautology) is not None:  # the per-frame figures are libvmaf's own: they judge nothing
        gate, rows = gate.unjudged(why), unjudged_rows(rows, why)
        lifted_gate = replace(lifted_gate, passed=None, not_judged=why) if lifted_gate.enabled else lifted_gate
        challenger = replace(challenger, passed=None, not_judged=why) if challenger.enabled else challenger
    return Gates(gate, lifted_gate, challenger,
                 evidence_gate(inputs.content_groups, thresholds.min_content_groups), rows,
                 a.completeness if a else None, inputs.constant_teacher, a.teacher_suspects if a else None,
                 judged.shortfall_words() if judged is not None else None), lifted


def hold_reasons(g: Gates) -> list[str]:
    """Why HOLD, one reason a failing gate (the missing evidence first); none for a PROMOTE."""
    if g.passed:
        return []
    reasons = [g.evidence.statement] if not g.evidence.passed else []
    if g.constant_teacher is not None:
        reasons.append(g.constant_teacher)
    if (done := g.complete) is not None and not done.passed:
        reasons.append(f"{len(done.missing)} of {done.expected_sources} source(s) have no held-out results (a fold "
                       f"failed): {', '.join(done.missing[:5])}"
                       + (f" and {len(done.missing) - 5} more" if len(done.missing) > 5 else ""))
    failed = [(gate, row) for gate, row in g.rows if row.passed is False]  # the limits, then the per-source gates
    reasons += [gate.failure(row) for gate, row in sorted(failed, key=lambda found: isinstance(found[1], FoldGate))]
    if g.challenger.passed is False:
        reasons.append(str(g.challenger.statement).rstrip("."))
    if g.lift.passed is False:
        reasons.append(lift_reason(g.lift))
    if g.constant_teacher is None and g.gate.not_judged is None:
        p = g.gate
        reasons += [reason for passed, reason in (
            (p.mean_plcc_pass, f"mean PLCC {p.mean_plcc:.4f} ({GROUPS}) is below {p.mean_plcc_threshold}"),
            (p.plcc_spread_pass, f"seed spread {p.plcc_spread:.4f} exceeds {p.plcc_spread_max}"),
            (p.per_seed_pass, f"seeds {p.failing_seeds} are below {p.per_seed_min}")) if passed is False]
    return reasons


AS_SAMPLED = "As vmaf-tune samples, "  # what opens the input's shortfall in the recommendation: what no gate counts


def recommendation(g: Gates, whose: str = "box") -> str:
    """PROMOTE, or HOLD with every reason (hold_reasons, joined); either way, then the input's shortfall and the
    suspect teachers. `whose`: box (send the tarball back), lead (a run on a given corpus, the union) or demo
    (NOTHING_TO_SEND)."""
    keep = NOTHING_TO_SEND.get(whose)
    named = f" {AS_SAMPLED}{g.shortfall}." if g.shortfall else ""
    if g.passed:
        said = f"export the per-seed ONNX models{f'; {keep}' if keep else f' and {SEND_BACK}'}"
        if (why := g.consumer_unjudged) is not None:  # said first: no gate judged the models as vmaf-tune uses them
            said = f"the consumer gates judged nothing ({why}); {said}"
        return with_suspects(f"PROMOTE: {said}.{named}", g.suspects)
    then = (keep[0].upper() + keep[1:]) if keep else SEND_BACK.capitalize()
    return with_suspects("HOLD: " + "; ".join(hold_reasons(g)) + f". {then}; do not ship these models.{named}",
                         g.suspects)


def with_suspects(said: str, suspects: tuple[TeacherSuspect, ...] | None) -> str:
    """The recommendation, and after it the sources whose teacher looks wrong (kit.verdict.plausibility)."""
    if not suspects:
        return said
    return (f"{said} WARNING: {suspects_text(suspects)}; check these sources' teacher scores (docs/verdict.md, "
            "\"Plausibility of the teacher\") before trusting the figures.")


def lift_reason(g: LiftGate) -> str:
    worse = "the ensemble is worse than the ridge baseline trained beside it: " if g.rmse_ratio > 1 else ""
    if g.rmse_ratio == math.inf:
        return f"{worse}the ridge baseline predicts every held-out frame exactly and the ensemble does not"
    if not math.isfinite(g.rmse_ratio):
        return f"the ensemble's RMSE could not be compared with the ridge baseline's (--min-rmse-lift {g.threshold:g})"
    return (f"{worse}ensemble RMSE is {g.rmse_ratio:.3f}x the ridge baseline's ({GROUPS}), above --min-rmse-lift "
            f"{g.threshold:g}")


def decide(seeds: list[int], reports: list[SeedReport], folds: pd.DataFrame, predictions: pd.DataFrame | None,
           baselines: Baselines, incumbent: BaselineResult | None, corpus: CorpusSummary,
           thresholds: GateThresholds, assessment: Assessment | None = None, lead: bool = False) -> Verdict:
    """The verdict on these LOSO outputs (`lead`: a run on a given corpus, the union, whose results are not sent);
    `predictions` LOSO's, read only without an `assessment` (which holds the held-out rows: the verdict step's)."""
    folds = named_frame(folds)  # LOSO names its folds so; an older LOSO's folds are named here
    g, lifted = judge(gate_inputs(reports, folds, baselines, incumbent, assessment), thresholds)
    teachers = corpus.teacher_models or [TEACHER_MODEL]  # a corpus block of an older kit: the kit's one teacher
    teacher = teachers[0] if len(teachers) == 1 else "mixed: " + ", ".join(teachers)
    a = assessment
    blocks = {b.key: g.block(b) for b in BLOCKS if b is not HOLDOUT}  # the holdout blocks hold their own rows
    return Verdict(
        schema_version=Verdict.SCHEMA_VERSION, verdict="PROMOTE" if g.passed else "HOLD", generated_at_utc=utc_iso(),
        seeds=list(seeds), gate=g.gate, corpus=corpus, lift_gate=g.lift, challenger_gate=g.challenger,
        recommendation=recommendation(g, "lead" if lead else "demo" if corpus.demo_corpus else "box"),
        reasons=hold_reasons(g) or None,
        baselines=dict(baselines.models),
        incumbent=incumbent, lift=lifted, per_seed=tuple(r.summary for r in reports),
        overall=overall_figures(reports, predictions, a.rows if a is not None else None),
        per_fold=fold_table(folds), worst_folds=worst_folds(folds),
        teacher_model=teacher, plcc_measures=(
            f"PLCC, SROCC and KROCC measure per-frame agreement with the {teacher} teacher on sources held out of "
            "training (leave-one-source-out), not agreement with human opinion scores; no logistic mapping is "
            "applied before PLCC."),
        provenance=VerdictProvenance(__version__, sys.version.split()[0], reports[0].train_config,
                                     thresholds.to_json()),
        folds_without_correlation=undefined_correlation(reports), teacher_models=teachers,
        validation=reports[0].validation,
        intervals=a.intervals if a else None, breakdown=a.breakdown if a else None,
        holdout=held_out_blocks(g, a), completeness=g.complete, evidence_gate=g.evidence,
        figure_kinds=dict(FIGURE_KINDS),
        confounding=list(a.confounding) or None if a else None, teacher_sha256=corpus.teacher_sha256,
        clip_pooling=a.clip_pooling if a else None, teacher_suspects=g.suspects,
        consumer=a.consumer if a else None, recipe=reports[0].recipe, teacher_function=reports[0].teacher_function,
        correction=reports[0].correction,
        frame_regimes=a.regimes or None if a else None,
        **blocks,  # type: ignore[arg-type]  # each gate's rows under its block's key (kit.verdict.gates.BLOCKS)
    )


def held_out_blocks(g: Gates, a: Assessment | None) -> tuple[HoldoutBlock, ...] | None:
    """Each --holdout block with its gate as judged at the verdict's thresholds (None: no block)."""
    held = [row for gate, row in g.rows if gate is HOLDOUT_PLCC and isinstance(row, LimitGate)]
    return tuple(b.judged(row) for b, row in zip(a.holdout, held, strict=True)) or None if a else None


def content_groups(reports: list[SeedReport]) -> int:
    """How many content groups the validation held out (one report's groups; an older report's folds)."""
    r = reports[0]
    if r.content_groups is not None:
        return len(r.content_groups)
    return r.validation.groups if r.validation is not None else r.n_folds


def constant_teacher(reports: list[SeedReport]) -> str | None:
    """The sentence that says there is nothing to correlate, when no held-out content group's teacher varies."""
    groups = reports[0].content_groups
    if not groups or not all(g.teacher_constant for r in reports for g in r.content_groups or ()):
        return None
    return (f"the teacher gives every frame of each of the {len(groups)} held-out content group(s) one score (a "
            "constant teacher): there is no correlation to measure, so mean_plcc is 0.0 by the kit's rule and says "
            "nothing; PROMOTE needs teacher scores that vary within a content")


def undefined_correlation(reports: list[SeedReport]) -> str | None:
    """The sentence that names the folds left out of the correlation means, when there are any."""
    sources = sorted({src for r in reports for src in (r.folds_without_correlation or [])})
    return f"{', '.join(sources)}: {CORRELATION_RULE}" if sources else None
