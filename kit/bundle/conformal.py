"""What the vmaf-tune export says about its intervals: upstream's split-conformal sidecar, checked and copied,
and the `confidence` block of its ensemble manifest.

The verdict step writes the sidecar (`04_verdict/calibration.json`) in the format of lusoris/vmaf's
tools/vmaf-tune/src/vmaftune/conformal.py: `{"alpha", "method": "split-conformal", "n", "residuals"}`, one
absolute residual (VMAF points) per content group. Its finite-sample rule takes the k-th smallest residual,
k = ceil((n+1)(1-alpha)); with k > n no residual covers a new content group at that level and the interval is
unbounded. Upstream's loader (`SplitConformalCalibration.quantile`) then caps the level at 1 and silently uses the
largest residual: the kit says so in the copy, the manifest and the cards, never quietly.

Upstream's loader reads only `method`, `alpha` and `residuals` (`from_json`), so the copy may carry more keys:
it gains `unbounded` and `warning` only when the interval is unbounded; a bounded copy is the verdict's file
byte for byte. Light on purpose (math only): no numpy, the rules are a few lines.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kit.errors import InputError
from kit.infra.files import copy_file, sha256_file, write_json
from kit.infra.outside import read_json_object
from kit.infra.records import Record, RecordError, omit_none
from kit.model.conformal import GAUSSIAN_Z95, bounded, groups_needed, rank_needed
from kit.verdict.document import Intervals
from kit.verdict.intervals import percent

METHOD = "split-conformal"
GAUSSIAN_Z = GAUSSIAN_Z95  # upstream's confidence.gaussian_z
ENSEMBLE, ENSEMBLE_CONFORMAL = "ensemble", "ensemble+conformal"  # upstream's one-of for confidence.method
DEFAULT_NOMINAL = 0.95  # upstream's nominal_coverage when a verdict names none
NO_INTERVALS = "no intervals in this verdict (kit older than 0.4)"


@dataclass(frozen=True)
class SplitConformal(Record):
    """Upstream vmaf-tune's split-conformal sidecar, its keys in upstream's (sorted) order."""

    alpha: float
    method: str
    n: int
    residuals: list[float]


def rank(n: int, alpha: float) -> int:
    """ceil((n+1)(1-alpha)): the rank of the residual a level-(1-alpha) interval takes (kit.model.conformal)."""
    return rank_needed(n, 1.0 - alpha)


def unbounded(n: int, alpha: float) -> bool:
    return not bounded(n, 1.0 - alpha)


def upstream_quantile(residuals: Sequence[float], alpha: float) -> float:
    """What upstream's `SplitConformalCalibration.quantile()` returns (restated: tools/vmaf-tune/src/vmaftune/
    conformal.py): the type-7 quantile of the residuals at min(1, ceil((n+1)(1-alpha)) / n), 0 when empty.
    At or below n it is at least the k-th smallest residual; above n it is the largest."""
    if not residuals:
        return 0.0
    values = sorted(residuals)
    n = len(values)
    level = min(1.0, math.ceil((n + 1) * (1.0 - alpha)) / n)
    h = (n - 1) * level
    lo, hi = math.floor(h), math.ceil(h)
    return values[lo] + (h - lo) * (values[hi] - values[lo])


def read_calibration(path: Path) -> SplitConformal:
    """The verdict's sidecar, checked as upstream's loader would take it (and n against its residuals)."""
    doc, why = read_json_object(path)
    hint = "rerun the verdict step: it writes the calibration sidecar"
    if doc is None:
        raise InputError(f"{path}: {why}", hint=hint)
    try:
        cal = SplitConformal.from_json(doc, str(path))
    except RecordError as err:
        raise InputError(f"{path} is not a split-conformal sidecar: {err}", hint=hint) from None
    problems = [text for ok, text in (
        (cal.method == METHOD, f"method is {cal.method!r}, not {METHOD!r}"),
        (0.0 < cal.alpha < 1.0, f"alpha {cal.alpha} is outside (0, 1)"),
        (cal.n == len(cal.residuals), f"n is {cal.n} but it lists {len(cal.residuals)} residuals"),
        (all(math.isfinite(r) and r >= 0.0 for r in cal.residuals), "a residual is negative or not finite"),
    ) if not ok]
    if problems:
        raise InputError(f"{path}: {'; '.join(problems)}", hint=hint)
    return cal


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
    upstream_q: float  # what upstream's loader computes from the file (its interval's half-width)
    unit: str
    note: str


def unbounded_warning(n: int, alpha: float) -> str:
    k = rank(n, alpha)
    return (f"UNBOUNDED: with n={n} content groups the {percent(1 - alpha)} interval needs the {k}-th smallest "
            f"residual and there are only {n}: no finite interval is guaranteed to cover a new source at this level. "
            f"Upstream's loader (vmaftune.conformal) would silently use the largest residual instead; an interval it "
            f"prints from this file has no coverage guarantee. Add content groups (at least "
            f"{groups_needed(1.0 - alpha)} for this level) or use a lower level (--interval-level).")




def ship_calibration(source: Path, dest: Path) -> CalibrationCard:
    """Copy the verdict's sidecar to `dest` (upstream's format; an unbounded one says so in two extra keys its
    loader ignores) and describe it."""
    cal = read_calibration(source)
    k, open_ended = rank(cal.n, cal.alpha), unbounded(cal.n, cal.alpha)
    if open_ended:
        write_json(dest, {**cal.to_json(), "unbounded": True, "warning": unbounded_warning(cal.n, cal.alpha)})
    else:
        copy_file(source, dest)
    note = (unbounded_warning(cal.n, cal.alpha) if open_ended else
            f"one absolute residual per content group (its largest held-out per-clip miss); the "
            f"{percent(1 - cal.alpha)} interval is prediction +/- the {k}-th smallest of {cal.n}, so it covers every "
            f"clip of a new source with probability at least {percent(1 - cal.alpha)}; upstream's loader interpolates "
            f"up to {upstream_quantile(cal.residuals, cal.alpha):.3f}, a little wider")
    return CalibrationCard(
        dest.name, sha256_file(dest), cal.method, cal.alpha, round(1.0 - cal.alpha, 12), cal.n, k, open_ended,
        None if open_ended else sorted(cal.residuals)[k - 1], upstream_quantile(cal.residuals, cal.alpha),
        "VMAF points, per clip (a source x encoder x cq encode, predicted from its mean features)", note)


@dataclass(frozen=True)
class Confidence(Record):
    """Upstream's ensemble-manifest `confidence` block (ai/scripts/train_fr_regressor_v2_ensemble.py's
    `_build_manifest`), plus `reason` when there is no conformal multiplier (its readers take `.get` of the
    keys they know)."""

    method: str
    nominal_coverage: float
    gaussian_z: float
    conformal_q_residual: float | None
    reason: str | None = omit_none()


def confidence(intervals: Intervals | None) -> Confidence:
    """The shipped ensemble's confidence: the verdict's multiplier of the members' std (ddof=1) at its nominal
    level (`conformal_q_residual`), or null with the verdict's reason (absolute scores, an unbounded interval)."""
    if intervals is None:
        return Confidence(ENSEMBLE, DEFAULT_NOMINAL, GAUSSIAN_Z, None, NO_INTERVALS)
    if intervals.conformal_q_residual is not None:
        return Confidence(ENSEMBLE_CONFORMAL, intervals.nominal, GAUSSIAN_Z, intervals.conformal_q_residual)
    return Confidence(ENSEMBLE, intervals.nominal, GAUSSIAN_Z, None, intervals.q_reason or "no multiplier")
