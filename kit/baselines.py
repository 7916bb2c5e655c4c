"""Baselines on the same LOSO folds, so a reader sees what the ensemble adds.

The canonical six features are vmaf_v0.6.1's own inputs, so even a linear model
agrees with the teacher well. `ridge` is a closed-form ridge regression on the
same inputs as the ensemble (six features z-scored on the training fold, plus
the codec block), fit on exactly the same folds.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kit.errors import InputError
from kit.export import onnx_predict
from kit.fsio import sha256_file
from kit.loso import Fold
from kit.metrics import agreement, summarise
from kit.model import CODEC_DIM, N_FEATURES, TrainConfig
from kit.train import Arch, Member, train_members

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


def _fold_rows(folds: list[Fold], target: np.ndarray) -> list[np.ndarray]:
    all_rows = np.arange(len(target))
    return [np.setdiff1d(all_rows, f.rows, assume_unique=True) for f in folds]


def _summary(name: str, rows: list[dict[str, object]], extra: dict[str, object]) -> dict[str, object]:
    table = pd.DataFrame(rows)
    return {"model": name, **extra,
            **{f"mean_{m}": summarise(table[m].tolist())["mean"] for m in ("plcc", "srocc", "krocc", "rmse")},
            "n_folds": len(rows), "folds": rows}


def arch_loso(feats: np.ndarray, codec: np.ndarray, target: np.ndarray, folds: list[Fold], arch: Arch,
              seed: int, config: TrainConfig) -> dict[str, object]:
    """Seed document 000's architectures (linear, mlp_small) on the same folds, same recipe."""
    members = [Member(seed, f.index, rows) for f, rows in zip(folds, _fold_rows(folds, target), strict=True)]
    ens = train_members(feats, codec, target, members, config, arch=arch)
    rows = []
    for m, fold in enumerate(folds):
        pred = ens.predict(m, feats[fold.rows], codec[fold.rows])
        rows.append({"fold": fold.index, "src": fold.src, "src_sha256": fold.src_sha256,
                     "n_frames": len(fold.rows), **agreement(target[fold.rows], pred)})
    widths = [arch.in_dim, *arch.hidden, 1]
    params = sum(a * b + b for a, b in itertools.pairwise(widths))
    return _summary(arch.name, rows, {"params": params, "seed": seed,
                                      "inputs": "six z-scored features" + (" + codec block" if arch.use_codec else ""),
                                      "recipe": "the ensemble's (Adam, MSE on vmaf, same epochs and batches)"})


# --- the incumbent: a previous bundle's models on the same folds --------------------------


def find_incumbent(path: Path) -> tuple[Path, list[Path]]:
    """The ensemble.json and its ONNX files in a previous bundle (run dir, 05_bundle or exports)."""
    for folder in (path, path / "exports", path / "05_bundle" / "exports"):
        manifest = folder / "ensemble.json"
        if manifest.is_file():
            try:
                members = json.loads(manifest.read_text()).get("members", [])
                onnx_files = [folder / Path(str(m["onnx"])).name for m in members]
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                raise InputError(f"--incumbent {manifest}: not a readable ensemble manifest ({exc})",
                                 hint="point --incumbent at a bundle written by the kit") from exc
            missing = [p for p in onnx_files if not p.is_file()]
            if not onnx_files or missing:
                raise InputError(f"--incumbent {path}: ensemble.json lists models that are not there "
                                 f"({', '.join(p.name for p in missing) or 'none listed'})",
                                 hint="point --incumbent at a complete 05_bundle/exports folder")
            return manifest, onnx_files
    raise InputError(f"--incumbent {path}: no ensemble.json found (looked in ., exports/, 05_bundle/exports/)",
                     hint="point --incumbent at a previous run's out-dir or its 05_bundle/exports folder")


def _check_inputs(onnx_path: Path) -> None:
    import onnxruntime as ort

    try:
        sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types for a damaged or foreign file
        raise InputError(f"--incumbent model {onnx_path}: not a loadable ONNX model ({str(exc)[:120]})",
                         hint="the incumbent bundle is damaged; point --incumbent at a complete one") from exc
    dims = {i.name: i.shape[-1] for i in sess.get_inputs()}
    if dims.get("features") != N_FEATURES or dims.get("codec") != CODEC_DIM:
        raise InputError(f"--incumbent model {onnx_path.name} takes inputs {dims}, this kit feeds "
                         f"features[{N_FEATURES}] and codec[{CODEC_DIM}]",
                         hint="the incumbent was exported by a kit with another encoder vocabulary; "
                              "re-export it with this kit")


def incumbent_loso(path: Path, feats: np.ndarray, codec: np.ndarray, target: np.ndarray,
                   folds: list[Fold]) -> dict[str, object]:
    """The incumbent ensemble (mean of its members) scored on each held-out source."""
    manifest, onnx_files = find_incumbent(path)
    for p in onnx_files:
        _check_inputs(p)
    rows = []
    for fold in folds:
        preds = [onnx_predict(p, feats[fold.rows], codec[fold.rows]) for p in onnx_files]
        rows.append({"fold": fold.index, "src": fold.src, "src_sha256": fold.src_sha256,
                     "n_frames": len(fold.rows), **agreement(target[fold.rows], np.mean(preds, axis=0))})
    return _summary("incumbent", rows, {
        "path": str(manifest.parent), "members": [p.name for p in onnx_files],
        "sha256": {p.name: sha256_file(p) for p in onnx_files},
        "note": "the incumbent may have been trained on some of these sources; its figures can be optimistic",
    })


def challenger_gate(challenger_plcc: float, incumbent: dict[str, object] | None,
                    seed_spread: float) -> dict[str, object]:
    """Champion/challenger: promote only if the challenger beats the incumbent by more than the seed spread."""
    if incumbent is None:
        return {"enabled": False, "passed": True}
    inc = float(incumbent["mean_plcc"])  # type: ignore[arg-type]
    margin = challenger_plcc - inc
    beats = bool(np.isfinite(margin) and np.isfinite(seed_spread) and margin > seed_spread)
    return {"enabled": True, "passed": beats, "challenger_mean_plcc": challenger_plcc,
            "incumbent_mean_plcc": inc, "margin": margin, "seed_spread": seed_spread,
            "statement": (f"The challenger beats the incumbent by {margin:+.4f} PLCC, more than the seed spread "
                          f"{seed_spread:.4f}." if beats else
                          f"The challenger does not beat the incumbent by more than the seed spread "
                          f"({margin:+.4f} PLCC vs spread {seed_spread:.4f}).")}
