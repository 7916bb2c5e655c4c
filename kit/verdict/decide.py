"""The decision: from the LOSO outputs to the verdict document, with no file access."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from kit import __version__
from kit.corpus.names import named_frame
from kit.corpus.summary import CorpusSummary
from kit.infra.clock import utc_iso
from kit.media.libvmaf import TEACHER_MODEL
from kit.model.metrics import agreement
from kit.model.results import BaselineResult, Baselines, FoldResult, SeedReport
from kit.verdict.assess import Assessment
from kit.verdict.breakdown import range_gate
from kit.verdict.document import (
    VERDICT_SCHEMA_VERSION,
    Agreement,
    Completeness,
    LimitGate,
    Overall,
    PooledAgreement,
    Verdict,
    VerdictProvenance,
    WorstFold,
)
from kit.verdict.gate import FoldGate, GateResult, GateThresholds, evaluate_gate, fold_gate
from kit.verdict.intervals import coverage_gate
from kit.verdict.lift import ChallengerGate, LiftGate, challenger_gate, lift, lift_gate

WORST_FOLDS = 3
PLCC_MEANING = ("PLCC, SROCC and KROCC measure per-frame agreement with the vmaf_v0.6.1 teacher on sources "
                "held out of training (leave-one-source-out), not agreement with human opinion scores; "
                "no logistic mapping is applied before PLCC.")


def overall_figures(reports: list[SeedReport], predictions: pd.DataFrame) -> Overall:
    """The mean over seeds of each seed's fold means; and the seeds' held-out predictions averaged per
    frame and scored over all frames of all sources at once (which also shows whether the sources'
    scales line up)."""
    means = {m: float(np.nanmean([getattr(r, f"mean_{m}") for r in reports])) for m in ("plcc", "srocc", "krocc",
                                                                                       "rmse")}
    pooled = predictions.groupby("row").agg(vmaf=("vmaf", "first"), pred=("pred", "mean"))
    a = agreement(pooled["vmaf"].to_numpy(), pooled["pred"].to_numpy())
    return Overall(Agreement(means["plcc"], means["srocc"], means["krocc"], means["rmse"]),
                   PooledAgreement(a["plcc"], a["srocc"], a["krocc"], a["rmse"], len(pooled)))


def per_source(folds: pd.DataFrame) -> pd.DataFrame:
    """One row per held-out source: its folds' figures averaged over seeds (max for the largest miss)."""
    folds = folds.assign(**{c: folds.get(c, np.nan) for c in ("bias", "max_abs_error")})
    return folds.groupby(["src", "src_sha256"], as_index=False).agg(
        plcc=("plcc", "mean"), srocc=("srocc", "mean"), rmse=("rmse", "mean"), bias=("bias", "mean"),
        max_abs_error=("max_abs_error", "max"), n_frames=("n_frames", "first"),
        share_vmaf_100=("share_vmaf_100", "first"))


CRITERIA = (("plcc", "PLCC"), ("rmse", "RMSE"), ("bias", "bias"))


def _badness(sources: pd.DataFrame) -> pd.DataFrame:
    """How far each source is from the typical source on each criterion: (1 - PLCC), RMSE and |bias|,
    each divided by its median over the sources. A criterion a source has no figure for counts 0."""
    raw = pd.DataFrame({"plcc": 1.0 - sources["plcc"], "rmse": sources["rmse"], "bias": sources["bias"].abs()})
    return (raw / raw.median().clip(lower=1e-6)).fillna(0.0)


def _reason(row: dict[str, object], scores: dict[str, float]) -> str:
    """The criteria that make this source worst: the top one and any close to it, e.g. "RMSE 9.5, bias +7.7"."""
    top = max(scores.values())
    shown = {"plcc": f"PLCC {row['plcc']:.3f}", "rmse": f"RMSE {row['rmse']:.1f}", "bias": f"bias {row['bias']:+.1f}"}
    return ", ".join(shown[c] for c, _ in CRITERIA if scores[c] > 0 and scores[c] >= 0.5 * top) or shown["plcc"]


def worst_folds(folds: pd.DataFrame, n: int = WORST_FOLDS) -> tuple[WorstFold, ...]:
    """The sources the ensemble predicts worst: by whichever of PLCC, RMSE and |bias| is furthest from the
    typical source (relative to its median), with that reason named."""
    sources = per_source(folds)
    scores = _badness(sources)
    order = sorted(range(len(sources)), key=lambda i: (-float(scores.iloc[i].max()), str(sources["src"].iloc[i])))
    out = []
    for i in order[:n]:
        r = sources.iloc[i].to_dict()
        bias, miss = float(r["bias"]), float(r["max_abs_error"])
        out.append(WorstFold(str(r["src"]), str(r["src_sha256"]), float(r["plcc"]), float(r["srocc"]), float(r["rmse"]),
                             int(r["n_frames"]), float(r["share_vmaf_100"]),
                             bias if np.isfinite(bias) else None, miss if np.isfinite(miss) else None,
                             _reason(r, {c: float(scores.iloc[i][c]) for c, _ in CRITERIA})))
    return tuple(out)


def fold_table(folds: pd.DataFrame) -> tuple[FoldResult, ...]:
    """Every (seed, source) row, ordered by seed, fold, then source (K-fold holds out several per fold)."""
    return tuple(FoldResult(seed=int(r["seed"]), fold=int(r["fold"]), src=str(r["src"]),
                            src_sha256=str(r["src_sha256"]), n_frames=int(r["n_frames"]),
                            share_vmaf_100=float(r["share_vmaf_100"]), plcc=float(r["plcc"]),
                            srocc=float(r["srocc"]), krocc=float(r["krocc"]), rmse=float(r["rmse"]),
                            bias=_opt(r.get("bias")), max_abs_error=_opt(r.get("max_abs_error")),
                            share_out_of_range=_opt(r.get("share_out_of_range")),
                            teacher_constant=True if r.get("teacher_constant") is True else None)
                 for r in folds.sort_values(["seed", "fold", "src", "src_sha256"]).to_dict(orient="records"))


def _opt(value: object) -> float | None:
    """A figure a folds table of an older kit may lack: None when absent or NaN."""
    return float(value) if isinstance(value, int | float) and np.isfinite(value) else None


FOLD_LIMITS = {"abs_bias": ("is off by {value:.1f} VMAF points on average (either way)", "--max-abs-bias"),
               "rmse": ("has RMSE {value:.1f}", "--max-fold-rmse")}


def recommendation(gate: GateResult, lift_gate: LiftGate | None = None, challenger: ChallengerGate | None = None,
                   fold_gates: tuple[FoldGate, ...] = (), limits: tuple[LimitGate, ...] = (),
                   complete: Completeness | None = None) -> str:
    lift_failed = lift_gate is not None and not lift_gate.passed
    champion_kept = challenger is not None and not challenger.passed
    failed_folds = [g for g in fold_gates if not g.passed]
    failed_limits = [g for g in limits if not g.passed]
    incomplete = complete is not None and not complete.passed
    if gate.passed and not lift_failed and not champion_kept and not failed_folds and not failed_limits \
            and not incomplete:
        return "PROMOTE: export the per-seed ONNX models and send the results tarball back."
    reasons = []
    if complete is not None and incomplete:
        reasons.append(f"{len(complete.missing)} of {complete.expected_sources} source(s) have no held-out results "
                       f"(a fold failed): {', '.join(complete.missing[:5])}"
                       + (f" and {len(complete.missing) - 5} more" if len(complete.missing) > 5 else ""))
    reasons += [limit_reason(lim) for lim in failed_limits]
    for g in failed_folds:
        what, flag = FOLD_LIMITS[g.measure]
        reasons.append(f"source {g.worst_src} {what.format(value=g.worst_value)}, beyond {flag} {g.threshold:g}"
                       + (f" ({len(g.failing_sources) - 1} more source(s) too)" if len(g.failing_sources) > 1 else ""))
    if challenger is not None and champion_kept:
        reasons.append(str(challenger.statement).rstrip("."))
    if lift_gate is not None and lift_failed:
        reasons.append(f"ensemble RMSE is {lift_gate.rmse_ratio:.3f}x the ridge baseline's, above the "
                       f"--min-rmse-lift {lift_gate.threshold}")
    if not gate.mean_plcc_pass:
        reasons.append(f"mean PLCC {gate.mean_plcc:.4f} is below {gate.mean_plcc_threshold}")
    if not gate.plcc_spread_pass:
        reasons.append(f"seed spread {gate.plcc_spread:.4f} exceeds {gate.plcc_spread_max}")
    if not gate.per_seed_pass:
        reasons.append(f"seeds {gate.failing_seeds} are below {gate.per_seed_min}")
    return "HOLD: " + "; ".join(reasons) + ". Send the results tarball back; do not ship these models."


LIMIT_FLAGS = {"coverage": "--min-coverage", "share_out_of_range": "--max-out-of-range",
               "plcc": "--holdout-min-plcc"}


def limit_reason(g: LimitGate) -> str:
    """Why a limit gate failed, in the recommendation's words."""
    flag = LIMIT_FLAGS[g.measure]
    if g.measure == "plcc":
        return f"held-out {', '.join(g.failing)} below {flag} {g.threshold:g} ({g.statement})"
    if g.measure == "share_out_of_range":
        more = f" ({len(g.failing) - 1} more source(s) too)" if len(g.failing) > 1 else ""
        return f"{g.statement}, beyond {flag} {g.threshold:g}{more}"
    below = g.threshold is not None and g.worst_value < g.threshold  # else it failed as unbounded
    return f"{g.statement}, below {flag} {g.threshold:g}" if below else f"{g.statement} ({flag} {g.threshold:g})"


def decide(seeds: list[int], reports: list[SeedReport], folds: pd.DataFrame, predictions: pd.DataFrame,
           baselines: Baselines, incumbent: BaselineResult | None, corpus: CorpusSummary,
           thresholds: GateThresholds, assessment: Assessment | None = None) -> Verdict:
    """The verdict on these LOSO outputs: every gate, the figures around it, the recommendation."""
    gate = evaluate_gate({r.seed: r.mean_plcc for r in reports}, thresholds)
    ens_rmse = [r.mean_rmse for r in reports]
    lifted = lift(gate.mean_plcc, sum(ens_rmse) / len(ens_rmse), baselines.ridge)
    extra_gate = lift_gate(lifted.rmse_ratio, thresholds.min_rmse_lift)
    champion = challenger_gate(gate.mean_plcc, incumbent, gate.plcc_spread)
    folds = named_frame(folds)  # LOSO names its folds so; an older LOSO's folds are named here
    sources = per_source(folds)
    bias = fold_gate("abs_bias", dict(zip(sources["src"], sources["bias"].abs(), strict=True)) if "bias" in folds
                     else {}, thresholds.max_abs_bias)
    rmse = fold_gate("rmse", dict(zip(sources["src"], sources["rmse"], strict=True)), thresholds.max_fold_rmse)
    teachers = corpus.teacher_models or [TEACHER_MODEL]  # a corpus block of an older kit: the kit's one teacher
    a = assessment
    coverage = coverage_gate(a.intervals, thresholds.min_coverage) if a else None
    in_range = range_gate(a.breakdown, thresholds.max_out_of_range) if a else None
    limits = tuple(g for g in (coverage, in_range, *(b.gate for b in a.holdout)) if g is not None) if a else ()
    complete = a.completeness if a else None
    passed = gate.passed and extra_gate.passed and champion.passed and bias.passed and rmse.passed \
        and all(g.passed for g in limits) and (complete is None or complete.passed)
    return Verdict(
        schema_version=VERDICT_SCHEMA_VERSION, verdict="PROMOTE" if passed else "HOLD", generated_at_utc=utc_iso(),
        seeds=list(seeds), gate=gate, corpus=corpus, lift_gate=extra_gate, challenger_gate=champion,
        recommendation=recommendation(gate, extra_gate, champion, (bias, rmse), limits, complete),
        baselines=dict(baselines.models),
        incumbent=incumbent, lift=lifted, per_seed=tuple(r.summary for r in reports),
        overall=overall_figures(reports, predictions), per_fold=fold_table(folds), worst_folds=worst_folds(folds),
        teacher_model=teacher_claim(teachers), plcc_measures=PLCC_MEANING,
        provenance=VerdictProvenance(__version__, sys.version.split()[0], reports[0].train_config,
                                     thresholds.to_json()),
        folds_without_correlation=undefined_correlation(reports), bias_gate=bias, fold_rmse_gate=rmse,
        teacher_models=teachers,
        validation=reports[0].validation,
        intervals=a.intervals if a else None, breakdown=a.breakdown if a else None,
        holdout=a.holdout or None if a else None, coverage_gate=coverage, range_gate=in_range,
        completeness=complete,
    )


def teacher_claim(teachers: list[str]) -> str:
    """The verdict's `teacher_model`: the corpus's one teacher; for a corpus of several it claims none."""
    return teachers[0] if len(teachers) == 1 else "mixed: " + ", ".join(teachers)


def undefined_correlation(reports: list[SeedReport]) -> str | None:
    """The sentence that names the folds left out of the correlation means, when there are any."""
    from kit.model.loso import CORRELATION_RULE  # here: kit.model.loso loads torch, which the report never needs

    sources = sorted({src for r in reports for src in (r.folds_without_correlation or [])})
    return f"{', '.join(sources)}: {CORRELATION_RULE}" if sources else None
