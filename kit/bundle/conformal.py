"""What the vmaf-tune export says about its intervals: upstream's split-conformal sidecar, checked and copied naming
the models it calibrates, and its ensemble manifest's `confidence` block (docs/vmaf-tune.md). No numpy."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from kit.errors import InputError
from kit.infra.files import sha256_file
from kit.infra.limits import MAX_RECORD_FIGURE
from kit.infra.outside import read_json_object
from kit.infra.records import Record, RecordError, keep, omit_none
from kit.infra.rules import COUNT, Each, Real
from kit.infra.tree import Tree
from kit.model.conformal import GAUSSIAN_Z95, bounded, groups_needed, percent, rank_needed
from kit.verdict.document import ENSEMBLE, ENSEMBLE_CONFORMAL, Intervals

METHOD = "split-conformal"
GAUSSIAN_Z = GAUSSIAN_Z95  # upstream's confidence.gaussian_z
DEFAULT_NOMINAL = 0.95  # upstream's nominal_coverage when a verdict names none
NO_INTERVALS = "no intervals in this verdict (kit older than 0.4)"
CALIBRATION_SUFFIX = "_calibration.json"  # upstream's docs name a shipped sidecar <model>_calibration.json


@dataclass(frozen=True)
class SplitConformal(Record):
    """The sidecar of lusoris/vmaf's tools/vmaf-tune/src/vmaftune/conformal.py (its four keys first), and the kit's."""

    alpha: float = field(metadata=keep(Real(0, 1, lo_open=True, hi_open=True)))
    method: str
    n: int = field(metadata=keep(COUNT))
    residuals: list[float] = field(metadata=keep(Each(Real(0, MAX_RECORD_FIGURE))))  # each finite, none negative
    calibrated: bool | None = omit_none()  # False: no interval (too few content groups), `reason` says why
    content_groups: int | None = omit_none(COUNT)  # how many there were, when no residual is given
    reason: str | None = omit_none()
    calibrates: str | None = omit_none()  # what an interval from it is for
    model_id: str | None = omit_none()  # the shipped copy: the ensemble it calibrates ...
    models: dict[str, str] | None = omit_none()  # ... and each of its ONNX files' sha256


def upstream_quantile(residuals: Sequence[float], alpha: float) -> float:
    """Upstream's `SplitConformalCalibration.quantile()`: the type-7 quantile at min(1, ceil((n+1)(1-alpha)) / n)."""
    if not residuals:
        return 0.0
    values = sorted(residuals)
    n = len(values)
    level = min(1.0, math.ceil((n + 1) * (1.0 - alpha)) / n)
    h = (n - 1) * level
    lo, hi = math.floor(h), math.ceil(h)
    return values[lo] + (h - lo) * (values[hi] - values[lo])


@dataclass(frozen=True)
class CalibrationCard(Record):
    """What the manifest and the cards say of the sidecar shipped beside the models."""

    file: str
    sha256: str
    method: str
    alpha: float
    nominal_coverage: float
    n: int
    rank: int  # ceil((n+1)(1-alpha))
    unbounded: bool
    q_abs: float | None  # the rank-th smallest residual (VMAF points); null when unbounded
    upstream_q: float  # what upstream's loader computes from the file (its interval's half-width; 0 when empty)
    unit: str
    note: str
    calibrated: bool | None = omit_none()  # kit 0.5: False when the file holds no residual (unbounded)
    model_id: str | None = omit_none()  # the ensemble it calibrates, and its members' sha256 (as in the file)
    models: dict[str, str] | None = omit_none()


def unbounded_warning(n: int, alpha: float) -> str:
    k = rank_needed(n, 1.0 - alpha)
    return (f"UNBOUNDED: with n={n} content groups the {percent(1 - alpha)} interval needs the {k}-th smallest "
            f"residual and there are only {n}: no finite interval is guaranteed to cover a new source at this level, "
            f"so the sidecar holds no residual (upstream's loader would otherwise silently use the largest; with none "
            f"it gives no interval and warns that the calibration is empty). Add content groups (at least "
            f"{groups_needed(1.0 - alpha)} for this level) or use a lower level (--interval-level).")


def read_calibration(tree: Tree, path: Path) -> SplitConformal:
    """The verdict's sidecar, checked as upstream's loader would take it (and n against its residuals). Raises
    InputError, with a hint to rerun the verdict step, when it is missing or not a JSON object, does not read as a
    split-conformal sidecar (alpha outside (0, 1), a residual negative or not finite: the record's rules), or reads
    as one upstream would refuse (another method, n not its residuals' count: every problem said in one line)."""
    doc, why = tree.read_json_object(path)
    hint = "rerun the verdict step: it writes the calibration sidecar"
    if doc is None:
        raise InputError(f"{path}: {why}", hint=hint)
    try:
        cal = SplitConformal.from_json(doc, str(path))
    except RecordError as err:
        raise InputError(f"{path} is not a split-conformal sidecar: {err}", hint=hint) from None
    problems = [text for ok, text in (
        (cal.method == METHOD, f"method is {cal.method!r}, not {METHOD!r}"),
        (cal.n == len(cal.residuals), f"n is {cal.n} but it lists {len(cal.residuals)} residuals"),
    ) if not ok]
    if problems:
        raise InputError(f"{path}: {'; '.join(problems)}", hint=hint)
    return cal


def calibrated_form(cal: SplitConformal) -> SplitConformal:
    """The sidecar as shipped: calibrated when its content groups bound the interval at its level; an unbounded one
    (even one of an older verdict, with residuals) ships no residual, and says why (its own reason, or the kit's)."""
    groups = cal.content_groups if cal.content_groups is not None else cal.n  # a sidecar without them: its n
    if bounded(groups, 1.0 - cal.alpha):
        return replace(cal, calibrated=True)
    return replace(cal, n=0, residuals=[], calibrated=False, content_groups=groups, calibrates=None,
                   reason=cal.reason or unbounded_warning(groups, cal.alpha))


def ship_calibration(tree: Tree, source: Path, dest: Path, model_id: str, models: dict[str, str]) -> CalibrationCard:
    """The verdict's sidecar (read_calibration: InputError for one upstream would refuse) written to `dest` in its
    shipped form (calibrated_form), naming the ensemble and its ONNX files' sha256 (`models`), described."""
    cal = calibrated_form(read_calibration(tree, source))
    cal = replace(cal, model_id=model_id, models=dict(sorted(models.items())))
    tree.write_json(dest, cal.to_json())
    groups = cal.content_groups if cal.content_groups is not None else cal.n
    level = 1.0 - cal.alpha
    k, open_ended = rank_needed(groups, level), not cal.calibrated
    upstream = upstream_quantile(cal.residuals, cal.alpha)  # what upstream's loader reads off the same residuals
    note = (unbounded_warning(groups, cal.alpha) if open_ended else
            f"one absolute residual per content group (its largest held-out per-encode miss); the "
            f"{percent(1 - cal.alpha)} interval is prediction +/- the {k}-th smallest of {cal.n}, so it covers every "
            f"clip of a new source with probability at least {percent(1 - cal.alpha)}; upstream's loader interpolates "
            f"up to {upstream:.3f}, a little wider. It calibrates the mean of "
            f"{model_id}'s members, not one member alone")
    q_abs = None if open_ended else sorted(cal.residuals)[k - 1]  # the k-th smallest residual: the half-width
    return CalibrationCard(
        dest.name, tree.sha256(dest), cal.method, cal.alpha, round(level, 12), groups, k, open_ended,
        q_abs, upstream,
        "VMAF points, per encode (a source at one encoder, cq and rung, predicted from its mean features)", note,
        bool(cal.calibrated), model_id, cal.models)


def model_problems(sidecar: Path) -> list[str]:
    """What `verify` finds wrong with a sidecar's claim: each ONNX it names beside it, a member of its model_id."""
    doc, why = read_json_object(sidecar)
    if doc is None:
        return [f"{sidecar.name}: {why}"]
    try:
        cal = SplitConformal.from_json(doc, sidecar.name)
    except RecordError as err:
        return [f"{sidecar.name} is not a split-conformal sidecar: {err}"]
    if cal.model_id is None and cal.models is None:
        return []
    if cal.model_id is None or not cal.models:
        return [f"{sidecar.name} names half of what it calibrates (model_id and models go together)"]
    if sidecar.name != f"{cal.model_id}{CALIBRATION_SUFFIX}":
        return [f"{sidecar.name} says it calibrates model {cal.model_id[:64]!r}, whose sidecar would be named "
                f"<model_id>{CALIBRATION_SUFFIX}"]
    problems = []
    for name, sha in sorted(cal.models.items()):
        onnx = sidecar.parent / name
        if "/" in name or "\\" in name or not onnx.is_file():
            problems.append(f"{sidecar.name} calibrates {name}, which is not beside it")
        elif sha256_file(onnx) != sha:
            problems.append(f"{sidecar.name} calibrates {name} with sha256 {sha[:12]}..., the file's is "
                            f"{sha256_file(onnx)[:12]}...")
    manifest, _ = read_json_object(sidecar.parent / f"{cal.model_id}.json")
    members = manifest.get("members") if manifest is not None else None
    listed = {str(m.get("onnx")): str(m.get("sha256")) for m in members if isinstance(m, dict)} \
        if isinstance(members, list) else None
    if listed is None:
        problems.append(f"{sidecar.name} calibrates model {cal.model_id}, but no {cal.model_id}.json beside it lists "
                        "that model's members")
    elif listed != cal.models:
        problems.append(f"{sidecar.name} calibrates other files than the members of {cal.model_id}.json lists")
    return problems


@dataclass(frozen=True)
class Confidence(Record):
    """Upstream's ensemble-manifest `confidence` block, plus `calibrated` and the `reason` when not: then no field
    reads as an interval (`gaussian_z` null too, or upstream's rule would make the members' spread one)."""

    method: str
    nominal_coverage: float
    gaussian_z: float | None
    conformal_q_residual: float | None
    calibrated: bool
    reason: str | None = omit_none()
    held_out_coverage: float | None = omit_none()  # the verdict's, on content each q was calibrated without


def confidence(intervals: Intervals | None) -> Confidence:
    """The verdict's exported interval at its nominal level (mu +- q x the members' std), or why there is none."""
    if intervals is None:
        return Confidence(ENSEMBLE, DEFAULT_NOMINAL, None, None, False, NO_INTERVALS)
    e = intervals.exported
    if e is None:  # a verdict of kit 0.4: its multiplier, which it gave only when bounded
        q = intervals.conformal_q_residual
        return (Confidence(ENSEMBLE_CONFORMAL, intervals.nominal, GAUSSIAN_Z, q, True) if q is not None else
                Confidence(ENSEMBLE, intervals.nominal, None, None, False, intervals.q_reason or "no multiplier"))
    if e.calibrated:
        return Confidence(ENSEMBLE_CONFORMAL, e.nominal, e.fallback_z, e.conformal_q_residual, True,
                          held_out_coverage=e.coverage_held_out)
    return Confidence(ENSEMBLE, e.nominal, None, None, False, e.reason or "not calibrated")
