"""The promotion gate and the verdict document.

Defaults from the seed documents: the mean over seeds of each seed's mean
LOSO PLCC is at least 0.95, the spread (max - min) of the per-seed means is at
most 0.005, and every seed reaches 0.95 on its own. A NaN anywhere fails.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

VERDICT_SCHEMA_VERSION = 1
PLCC_MEANING = ("PLCC, SROCC and KROCC measure per-frame agreement with the vmaf_v0.6.1 teacher on sources "
                "held out of training (leave-one-source-out), not agreement with human opinion scores; "
                "no logistic mapping is applied before PLCC.")


@dataclass(frozen=True)
class GateThresholds:
    mean_plcc_min: float = 0.95
    plcc_spread_max: float = 0.005
    per_seed_plcc_min: float = 0.95
    min_rmse_lift: float | None = None  # optional: ensemble RMSE <= X * ridge RMSE (its own block)


def _ok(x: float) -> bool:
    return isinstance(x, float | int) and math.isfinite(x)


def evaluate_gate(per_seed_plcc: dict[int, float], t: GateThresholds) -> dict[str, object]:
    """The bash kit's gate block, computed from each seed's mean LOSO PLCC."""
    values = list(per_seed_plcc.values())
    finite = all(_ok(v) for v in values) and bool(values)
    mean = sum(values) / len(values) if finite else float("nan")
    spread = (max(values) - min(values)) if finite else float("nan")
    failing = [s for s, v in per_seed_plcc.items() if not (_ok(v) and v >= t.per_seed_plcc_min)]
    mean_pass = finite and mean >= t.mean_plcc_min
    spread_pass = finite and spread <= t.plcc_spread_max
    seed_pass = not failing and bool(values)
    return {
        "passed": bool(mean_pass and spread_pass and seed_pass),
        "mean_plcc": mean,
        "mean_plcc_threshold": t.mean_plcc_min,
        "mean_plcc_pass": bool(mean_pass),
        "plcc_spread": spread,
        "plcc_spread_max": t.plcc_spread_max,
        "plcc_spread_pass": bool(spread_pass),
        "per_seed_plccs": {str(s): v for s, v in per_seed_plcc.items()},
        "per_seed_min": t.per_seed_plcc_min,
        "per_seed_pass": bool(seed_pass),
        "failing_seeds": failing,
    }


def recommendation(gate: dict[str, object], lift_gate: dict[str, object] | None = None,
                   challenger: dict[str, object] | None = None) -> str:
    lift_failed = lift_gate is not None and not lift_gate["passed"]
    champion_kept = challenger is not None and not challenger["passed"]
    if gate["passed"] and not lift_failed and not champion_kept:
        return "PROMOTE: export the per-seed ONNX models and send the results tarball back."
    reasons = []
    if champion_kept:
        assert challenger is not None
        reasons.append(str(challenger["statement"]).rstrip("."))
    if lift_failed:
        assert lift_gate is not None
        reasons.append(f"ensemble RMSE is {lift_gate['rmse_ratio']:.3f}x the ridge baseline's, above the "
                       f"--min-rmse-lift {lift_gate['threshold']}")
    if not gate["mean_plcc_pass"]:
        reasons.append(f"mean PLCC {gate['mean_plcc']:.4f} is below {gate['mean_plcc_threshold']}")
    if not gate["plcc_spread_pass"]:
        reasons.append(f"seed spread {gate['plcc_spread']:.4f} exceeds {gate['plcc_spread_max']}")
    if not gate["per_seed_pass"]:
        reasons.append(f"seeds {gate['failing_seeds']} are below {gate['per_seed_min']}")
    return "HOLD: " + "; ".join(reasons) + ". Send the results tarball back; do not ship these models."


def thresholds_json(t: GateThresholds) -> dict[str, float]:
    return asdict(t)
