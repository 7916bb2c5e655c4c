"""The decision: from the LOSO outputs to the verdict document, with no file access."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

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
from kit.verdict.breakdown import range_gate
from kit.verdict.consumer import CONTENT_SHARE, SHARE, consumer_gates
from kit.verdict.document import (
    NOTHING_TO_SEND,
    SEND_BACK,
    VERDICT_SCHEMA_VERSION,
    Agreement,
    Completeness,
    ConsumerFit,
    LimitGate,
    Overall,
    PooledAgreement,
    Verdict,
    VerdictProvenance,
    WorstFold,
)
from kit.verdict.gate import (
    EvidenceGate,
    FoldGate,
    GateResult,
    GateThresholds,
    evaluate_gate,
    evidence_gate,
    fold_gate,
)
from kit.verdict.intervals import coverage_gate, finite
from kit.verdict.kinds import FIGURE_KINDS, GROUPS
from kit.verdict.lift import ChallengerGate, Lift, LiftGate, challenger_gate, lift, lift_gate
from kit.verdict.plausibility import TeacherSuspect, suspects_text
from kit.verdict.pooling import clip_error_gates

WORST_FOLDS = 3


def overall_figures(reports: list[SeedReport], predictions: pd.DataFrame) -> Overall:
    """The mean over seeds of each seed's fold means; and the seeds' held-out predictions averaged per
    frame and scored over all frames of all sources at once (which also shows whether the sources'
    scales line up)."""
    means = {m: float(np.nanmean([getattr(r, f"mean_{m}") for r in reports])) for m in ("plcc", "srocc", "krocc",
                                                                                       "rmse")}
    pooled = predictions.groupby(CORPUS_ROW).agg(vmaf=("vmaf", "first"), pred=("pred", "mean"))
    r = residuals(pooled["pred"], pooled["vmaf"], ranks=True)
    return Overall(Agreement(**means), PooledAgreement(**r.fields_of(PooledAgreement), n_frames=r.n))


def per_source(folds: pd.DataFrame) -> pd.DataFrame:
    """One row per held-out source: its folds' figures averaged over seeds (max for the largest miss)."""
    folds = folds.assign(**{c: folds.get(c, np.nan) for c in ("bias", "max_abs_error", "share_out_of_range")})
    return folds.groupby(["src", "src_sha256"], as_index=False).agg(
        plcc=("plcc", "mean"), srocc=("srocc", "mean"), rmse=("rmse", "mean"), bias=("bias", "mean"),
        max_abs_error=("max_abs_error", "max"), share_out_of_range=("share_out_of_range", "mean"),
        n_frames=("n_frames", "first"), share_vmaf_100=("share_vmaf_100", "first"))


CRITERIA = (("plcc", "PLCC"), ("rmse", "RMSE"), ("bias", "bias"))


def badness(sources: pd.DataFrame) -> pd.DataFrame:
    """How far each source is from the typical source on each criterion: (1 - PLCC), RMSE and |bias|,
    each divided by its median over the sources. A criterion a source has no figure for counts 0."""
    raw = pd.DataFrame({"plcc": 1.0 - sources["plcc"], "rmse": sources["rmse"], "bias": sources["bias"].abs()})
    return (raw / raw.median().clip(lower=1e-6)).fillna(0.0)


def _reason(row: dict[str, object], scores: dict[str, float]) -> str:
    """The criteria that make this source worst: the top one and any close to it, e.g. "RMSE 9.5, bias +7.7"."""
    top = max(scores.values())
    shown = {"plcc": f"PLCC {row['plcc']:.3f}", "rmse": f"RMSE {row['rmse']:.1f}", "bias": f"bias {row['bias']:+.1f}"}
    return ", ".join(shown[c] for c, _ in CRITERIA if scores[c] > 0 and scores[c] >= 0.5 * top) or shown["plcc"]


def ranked(folds: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, list[int]]:
    """Each source's figures (per_source), its badness, and the sources' positions worst first: by whichever of
    PLCC, RMSE and |bias| is furthest from the typical source (relative to its median), then by name."""
    sources = per_source(folds)
    scores = badness(sources)
    return sources, scores, sorted(range(len(sources)),
                                   key=lambda i: (-float(scores.iloc[i].max()), str(sources["src"].iloc[i])))


def worst_folds(folds: pd.DataFrame, n: int = WORST_FOLDS) -> tuple[WorstFold, ...]:
    """The sources the ensemble predicts worst (ranked), with the reason named."""
    sources, scores, order = ranked(folds)
    out = []
    for i in order[:n]:
        r = sources.iloc[i].to_dict()
        out.append(WorstFold(str(r["src"]), str(r["src_sha256"]), float(r["plcc"]), float(r["srocc"]), float(r["rmse"]),
                             int(r["n_frames"]), float(r["share_vmaf_100"]), finite(float(r["bias"])),
                             finite(float(r["max_abs_error"])),
                             _reason(r, {c: float(scores.iloc[i][c]) for c, _ in CRITERIA})))
    return tuple(out)


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


FOLD_LIMITS = {"abs_bias": ("is off by {value:.1f} VMAF points on average (either way)", "--max-abs-bias"),
               "rmse": ("has RMSE {value:.1f}", "--max-fold-rmse")}


@dataclass(frozen=True)
class Gates:
    """Every gate of one verdict; PROMOTE only when all pass."""

    gate: GateResult
    lift: LiftGate
    challenger: ChallengerGate
    evidence: EvidenceGate
    folds: tuple[FoldGate, ...]
    limits: tuple[LimitGate, ...]
    complete: Completeness | None
    constant_teacher: str | None = None  # why there is no correlation at all, when the teacher never varies
    # not a gate: the sources whose teacher looks wrong (kit.verdict.plausibility), named whatever the gates say
    suspects: tuple[TeacherSuspect, ...] | None = None

    @property
    def passed(self) -> bool:
        return self.gate.passed and self.lift.passed and self.challenger.passed and self.evidence.passed \
            and all(g.passed for g in self.folds) and all(g.passed for g in self.limits) \
            and (self.complete is None or self.complete.passed) and self.constant_teacher is None


def whose_run(corpus: CorpusSummary, lead: bool) -> str:
    """lead (a run on a given corpus: the union), demo (the DEMO corpus) or box: whether its results are sent."""
    return "lead" if lead else "demo" if corpus.demo_corpus else "box"


def recommendation(g: Gates, whose: str = "box") -> str:
    """PROMOTE, or HOLD with every reason: the missing evidence first, then what failed; either way, then the
    suspect teachers. `whose`: box (a collaborator's run: send the tarball back), lead (a run on a given corpus, the
    union) or demo (NOTHING_TO_SEND)."""
    keep = NOTHING_TO_SEND.get(whose)
    if g.passed:
        said = f"export the per-seed ONNX models{f'; {keep}' if keep else f' and {SEND_BACK}'}"
        return with_suspects(f"PROMOTE: {said}.", g.suspects)
    reasons = [g.evidence.statement] if not g.evidence.passed else []
    if g.constant_teacher is not None:
        reasons.append(g.constant_teacher)
    if g.complete is not None and not g.complete.passed:
        reasons.append(missing_reason(g.complete))
    reasons += [limit_reason(lim) for lim in g.limits if not lim.passed]
    reasons += [fold_reason(f) for f in g.folds if not f.passed]
    if not g.challenger.passed:
        reasons.append(str(g.challenger.statement).rstrip("."))
    if not g.lift.passed:
        reasons.append(lift_reason(g.lift))
    if g.constant_teacher is None:
        reasons += plcc_reasons(g.gate)
    then = (keep[0].upper() + keep[1:]) if keep else SEND_BACK.capitalize()
    return with_suspects("HOLD: " + "; ".join(reasons) + f". {then}; do not ship these models.", g.suspects)


def with_suspects(said: str, suspects: tuple[TeacherSuspect, ...] | None) -> str:
    """The recommendation, and after it the sources whose teacher looks wrong (kit.verdict.plausibility): whatever
    the gates say, a PROMOTE or a HOLD on them is never silent."""
    if not suspects:
        return said
    return (f"{said} WARNING: {suspects_text(suspects)}; check these sources' teacher scores (docs/verdict.md, "
            "\"Plausibility of the teacher\") before trusting the figures.")


def missing_reason(complete: Completeness) -> str:
    return (f"{len(complete.missing)} of {complete.expected_sources} source(s) have no held-out results "
            f"(a fold failed): {', '.join(complete.missing[:5])}"
            + (f" and {len(complete.missing) - 5} more" if len(complete.missing) > 5 else ""))


def fold_reason(f: FoldGate) -> str:
    what, flag = FOLD_LIMITS[f.measure]
    return (f"source {f.worst_src} {what.format(value=f.worst_value)}, beyond {flag} {f.threshold:g}"
            + (f" ({len(f.failing_sources) - 1} more source(s) too)" if len(f.failing_sources) > 1 else ""))


def lift_reason(g: LiftGate) -> str:
    worse = "the ensemble is worse than the ridge baseline trained beside it: " if g.rmse_ratio > 1 else ""
    if g.rmse_ratio == math.inf:
        return f"{worse}the ridge baseline predicts every held-out frame exactly and the ensemble does not"
    if not math.isfinite(g.rmse_ratio):
        return f"the ensemble's RMSE could not be compared with the ridge baseline's (--min-rmse-lift {g.threshold:g})"
    return (f"{worse}ensemble RMSE is {g.rmse_ratio:.3f}x the ridge baseline's ({GROUPS}), above --min-rmse-lift "
            f"{g.threshold:g}")


def plcc_reasons(gate: GateResult) -> list[str]:
    reasons = []
    if not gate.mean_plcc_pass:
        reasons.append(f"mean PLCC {gate.mean_plcc:.4f} ({GROUPS}) is below {gate.mean_plcc_threshold}")
    if not gate.plcc_spread_pass:
        reasons.append(f"seed spread {gate.plcc_spread:.4f} exceeds {gate.plcc_spread_max}")
    if not gate.per_seed_pass:
        reasons.append(f"seeds {gate.failing_seeds} are below {gate.per_seed_min}")
    return reasons


LIMIT_FLAGS = {"coverage": "--min-coverage", "share_out_of_range": "--max-out-of-range",
               "plcc": "--holdout-min-plcc", SHARE: "--min-consumer-share",
               CONTENT_SHARE: "--min-consumer-content-share"}
CLIP_ERROR = "clip_error:"  # a --max-clip-error gate's measure: clip_error:<stat>


def limit_reason(g: LimitGate) -> str:
    """Why a limit gate failed, in the recommendation's words."""
    if g.measure.startswith(CLIP_ERROR):
        stat = g.measure.removeprefix(CLIP_ERROR)
        more = f" ({len(g.failing) - 1} more clip(s) too)" if len(g.failing) > 1 else ""
        return f"{g.statement}, beyond --max-clip-error {stat}:{g.threshold:g}{more}"
    flag = LIMIT_FLAGS[g.measure]
    if g.measure in (SHARE, CONTENT_SHARE):  # the statement names each band, encoder or content below it
        return f"{g.statement}: below {flag} {g.threshold:g}"
    if g.measure == "plcc":
        return f"held-out {', '.join(g.failing)} below {flag} {g.threshold:g} ({g.statement})"
    if g.measure == "share_out_of_range":
        more = f" ({len(g.failing) - 1} more source(s) too)" if len(g.failing) > 1 else ""
        return f"{g.statement}, beyond {flag} {g.threshold:g}{more}"
    below = g.threshold is not None and g.worst_value < g.threshold  # else it failed as unbounded
    return f"{g.statement}, below {flag} {g.threshold:g}" if below else f"{g.statement} ({flag} {g.threshold:g})"


def gates_of(reports: list[SeedReport], folds: pd.DataFrame, baselines: Baselines,
             incumbent: BaselineResult | None, thresholds: GateThresholds, a: Assessment | None) -> tuple[Gates, Lift]:
    """Every gate on these LOSO outputs (the seeds' means are over content groups; `folds` per source)."""
    sources = per_source(folds)
    gate = evaluate_gate({r.seed: r.mean_plcc for r in reports}, thresholds)
    ens_rmse = [r.mean_rmse for r in reports]
    lifted = lift(gate.mean_plcc, sum(ens_rmse) / len(ens_rmse), baselines.models["ridge"])
    bias = fold_gate("abs_bias", dict(zip(sources["src"], sources["bias"].abs(), strict=True))
                     if "bias" in folds else {}, thresholds.max_abs_bias)
    rmse = fold_gate("rmse", dict(zip(sources["src"], sources["rmse"], strict=True)), thresholds.max_fold_rmse)
    coverage = coverage_gate(a.intervals, thresholds.min_coverage) if a else None
    in_range = range_gate(a.breakdown, thresholds.max_out_of_range) if a else None
    clips = clip_error_gates(a.clips, a.clip_pooling, thresholds.max_clip_error) \
        if a is not None and a.clips is not None and a.clip_pooling is not None else ()
    consumer = consumer_gates(a.consumer, thresholds.min_consumer_share, thresholds.min_consumer_content_share) \
        if a is not None and a.consumer is not None else ()
    limits = tuple(g for g in (coverage, in_range, *(b.gate for b in a.holdout), *clips, *consumer)
                   if g is not None) if a else ()
    return Gates(gate, lift_gate(lifted.rmse_ratio, thresholds.min_rmse_lift),
                 challenger_gate(gate.mean_plcc, incumbent, gate.plcc_spread),
                 evidence_gate(content_groups(reports), thresholds.min_content_groups), (bias, rmse), limits,
                 a.completeness if a else None, constant_teacher(reports), a.teacher_suspects if a else None), lifted


def decide(seeds: list[int], reports: list[SeedReport], folds: pd.DataFrame, predictions: pd.DataFrame,
           baselines: Baselines, incumbent: BaselineResult | None, corpus: CorpusSummary,
           thresholds: GateThresholds, assessment: Assessment | None = None, lead: bool = False) -> Verdict:
    """The verdict on these LOSO outputs: every gate, the figures around it, the recommendation (`lead`: a run on
    a given corpus, the union, whose results are not sent)."""
    folds = named_frame(folds)  # LOSO names its folds so; an older LOSO's folds are named here
    g, lifted = gates_of(reports, folds, baselines, incumbent, thresholds, assessment)
    teachers = corpus.teacher_models or [TEACHER_MODEL]  # a corpus block of an older kit: the kit's one teacher
    # the verdict's `teacher_model`: the corpus's one teacher; for a corpus of several it claims none
    teacher = teachers[0] if len(teachers) == 1 else "mixed: " + ", ".join(teachers)
    a = assessment
    coverage = next((x for x in g.limits if x.measure == "coverage"), None)
    in_range = next((x for x in g.limits if x.measure == "share_out_of_range"), None)
    clip_gates = tuple(x for x in g.limits if x.measure.startswith(CLIP_ERROR))
    consumer, consumer_limits = consumer_blocks(a, g)
    return Verdict(
        schema_version=VERDICT_SCHEMA_VERSION, verdict="PROMOTE" if g.passed else "HOLD", generated_at_utc=utc_iso(),
        seeds=list(seeds), gate=g.gate, corpus=corpus, lift_gate=g.lift, challenger_gate=g.challenger,
        recommendation=recommendation(g, whose_run(corpus, lead)),
        baselines=dict(baselines.models),
        incumbent=incumbent, lift=lifted, per_seed=tuple(r.summary for r in reports),
        overall=overall_figures(reports, predictions), per_fold=fold_table(folds), worst_folds=worst_folds(folds),
        teacher_model=teacher, plcc_measures=(  # what the correlations measure
            f"PLCC, SROCC and KROCC measure per-frame agreement with the {teacher} teacher on sources held out of "
            "training (leave-one-source-out), not agreement with human opinion scores; no logistic mapping is "
            "applied before PLCC."),
        provenance=VerdictProvenance(__version__, sys.version.split()[0], reports[0].train_config,
                                     thresholds.to_json()),
        folds_without_correlation=undefined_correlation(reports), bias_gate=g.folds[0], fold_rmse_gate=g.folds[1],
        teacher_models=teachers,
        validation=reports[0].validation,
        intervals=a.intervals if a else None, breakdown=a.breakdown if a else None,
        holdout=a.holdout or None if a else None, coverage_gate=coverage, range_gate=in_range,
        completeness=g.complete, evidence_gate=g.evidence, figure_kinds=dict(FIGURE_KINDS),
        confounding=list(a.confounding) or None if a else None, teacher_sha256=corpus.teacher_sha256,
        clip_pooling=a.clip_pooling if a else None, clip_error_gates=clip_gates or None,
        teacher_suspects=g.suspects, consumer=consumer, consumer_gates=consumer_limits,
        recipe=reports[0].recipe, teacher_function=reports[0].teacher_function,
    )


def consumer_blocks(a: Assessment | None, g: Gates) -> tuple[ConsumerFit | None, tuple[LimitGate, ...] | None]:
    """The verdict's `consumer` block and its gates (kit.verdict.consumer), when the assessment made one."""
    if a is None or a.consumer is None:
        return None, None
    return a.consumer, tuple(x for x in g.limits if x.measure in (SHARE, CONTENT_SHARE)) or None


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
