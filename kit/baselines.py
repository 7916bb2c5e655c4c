"""Baselines on the same LOSO folds, so a reader sees what the ensemble adds.

The canonical six features are vmaf_v0.6.1's own inputs, so even a linear model
agrees with the teacher well. `ridge` is a closed-form ridge regression on the
same inputs as the ensemble (six features z-scored on the training fold, plus
the codec block), fit on exactly the same folds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kit.loso import Fold
from kit.metrics import agreement, summarise

RIDGE_ALPHA = 1.0  # L2 penalty on the (z-scored) weights; the intercept is not penalised
SMALL_LIFT_RMSE_RATIO = 0.8  # an ensemble RMSE above 0.8x the ridge's is "little over a linear model"


@dataclass(frozen=True)
class RidgeModel:
    mean: np.ndarray
    std: np.ndarray
    weights: np.ndarray  # (in_dim,)
    intercept: float

    def predict(self, feats: np.ndarray, codec: np.ndarray) -> np.ndarray:
        z = (feats.astype(np.float64) - self.mean) / self.std
        return np.concatenate([z, codec.astype(np.float64)], axis=1) @ self.weights + self.intercept


def fit_ridge(feats: np.ndarray, codec: np.ndarray, target: np.ndarray, alpha: float = RIDGE_ALPHA) -> RidgeModel:
    mean = feats.mean(0).astype(np.float64)
    std = feats.std(0).astype(np.float64)
    std = np.where(std > 1e-12, std, 1.0)
    x = np.concatenate([(feats - mean) / std, codec], axis=1).astype(np.float64)
    x_mean, y_mean = x.mean(0), float(target.mean())
    xc, yc = x - x_mean, target - y_mean
    # centring removes the intercept from the penalty; lstsq stays stable for all-zero codec columns
    a = xc.T @ xc + alpha * np.eye(x.shape[1])
    w = np.linalg.lstsq(a, xc.T @ yc, rcond=None)[0]
    return RidgeModel(mean, std, w, y_mean - float(x_mean @ w))


def ridge_loso(feats: np.ndarray, codec: np.ndarray, target: np.ndarray, folds: list[Fold]) -> dict[str, object]:
    """Per-fold and mean PLCC/SROCC/KROCC/RMSE of ridge regression on the LOSO folds."""
    all_rows = np.arange(len(target))
    rows = []
    for fold in folds:
        train = np.setdiff1d(all_rows, fold.rows, assume_unique=True)
        model = fit_ridge(feats[train], codec[train], target[train])
        pred = model.predict(feats[fold.rows], codec[fold.rows])
        rows.append({"fold": fold.index, "src": fold.src, "src_sha256": fold.src_sha256,
                     "n_frames": len(fold.rows), **agreement(target[fold.rows], pred)})
    table = pd.DataFrame(rows)
    return {
        "model": "ridge", "alpha": RIDGE_ALPHA,
        "inputs": "six z-scored features + codec block (same as the ensemble)",
        **{f"mean_{m}": summarise(table[m].tolist())["mean"] for m in ("plcc", "srocc", "krocc", "rmse")},
        "n_folds": len(rows), "folds": rows,
    }


def lift(ensemble_plcc: float, ensemble_rmse: float, ridge: dict[str, object]) -> dict[str, object]:
    """What the ensemble adds over ridge: RMSE ratio (lower is better) and PLCC delta."""
    ridge_rmse = float(ridge["mean_rmse"])  # type: ignore[arg-type]
    ridge_plcc = float(ridge["mean_plcc"])  # type: ignore[arg-type]
    ratio = ensemble_rmse / ridge_rmse if ridge_rmse > 0 else float("nan")
    small = not (ratio < SMALL_LIFT_RMSE_RATIO)
    return {
        "ensemble_mean_plcc": ensemble_plcc, "ensemble_mean_rmse": ensemble_rmse,
        "ridge_mean_plcc": ridge_plcc, "ridge_mean_rmse": ridge_rmse,
        "rmse_ratio": ratio, "plcc_delta": ensemble_plcc - ridge_plcc,
        "small_lift": small,
        "statement": (f"The ensemble adds little over a linear model: its RMSE is {ratio:.2f}x the ridge "
                      f"baseline's ({ensemble_rmse:.2f} vs {ridge_rmse:.2f})." if small else
                      f"The ensemble cuts RMSE to {ratio:.2f}x the ridge baseline's ({ensemble_rmse:.2f} vs "
                      f"{ridge_rmse:.2f}) and changes PLCC by {ensemble_plcc - ridge_plcc:+.4f}."),
    }


def lift_gate(rmse_ratio: float, min_rmse_lift: float | None) -> dict[str, object]:
    """The optional criterion: ensemble RMSE <= X * ridge RMSE (off unless X is given)."""
    if min_rmse_lift is None:
        return {"enabled": False, "threshold": None, "rmse_ratio": rmse_ratio, "passed": True}
    passed = bool(np.isfinite(rmse_ratio) and rmse_ratio <= min_rmse_lift)
    return {"enabled": True, "threshold": min_rmse_lift, "rmse_ratio": rmse_ratio, "passed": passed}
