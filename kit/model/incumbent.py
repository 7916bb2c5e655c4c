"""The incumbent: a previous bundle's models, scored on this run's LOSO folds.

Champion/challenger (kit.verdict.lift) compares the new ensemble with it. The
incumbent runs on the whole corpus before any training, so a model that cannot
run, answers in another shape, or outputs NaN or one constant is refused at once,
not after the whole LOSO. One score per row is what it must give: [N], or [N, 1]
(an export convention as good as [N]; squeezed).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kit.errors import InputError
from kit.infra.files import read_json, sha256_file
from kit.model.results import BaselineResult, EnsembleMembers
from kit.rundir import ENSEMBLE_MANIFEST, LAYOUT, RunDir

if TYPE_CHECKING:
    from kit.model.loso import Fold

# torch, pandas and onnx load in the functions that score, not on import: `status` plans the LOSO step,
# which finds the incumbent's files (find_incumbent) to fingerprint them
EXPORTS = LAYOUT.exports.as_posix()  # 05_bundle/exports


def find_incumbent(path: Path) -> tuple[Path, list[Path]]:
    """The ensemble manifest and its ONNX files in a previous bundle (run dir, 05_bundle or exports)."""
    for folder in (path, path / LAYOUT.exports.name, RunDir(path).exports):
        manifest = folder / ENSEMBLE_MANIFEST
        if manifest.is_file():
            try:
                members = EnsembleMembers.from_json(read_json(manifest), str(manifest)).members
                onnx_files = [folder / Path(m.onnx).name for m in members]
            except (OSError, ValueError) as exc:
                raise InputError(f"--incumbent {manifest}: not a readable ensemble manifest ({exc})",
                                 hint="point --incumbent at a bundle written by the kit") from exc
            missing = [p for p in onnx_files if not p.is_file()]
            if not onnx_files or missing:
                raise InputError(f"--incumbent {path}: ensemble.json lists models that are not there "
                                 f"({', '.join(p.name for p in missing) or 'none listed'})",
                                 hint=f"point --incumbent at a complete {EXPORTS} folder")
            return manifest, onnx_files
    raise InputError(f"--incumbent {path}: no ensemble.json found (looked in ., exports/, {EXPORTS}/)",
                     hint=f"point --incumbent at a previous run's out-dir or its {EXPORTS} folder")


def _check_inputs(onnx_path: Path) -> None:
    from kit.model.export import session
    from kit.model.features import CODEC_DIM, N_FEATURES

    try:
        sess = session(onnx_path)
    except Exception as exc:  # onnxruntime raises its own types for a damaged or foreign file
        raise InputError(f"--incumbent model {onnx_path}: not a loadable ONNX model ({str(exc)[:120]})",
                         hint="the incumbent bundle is damaged; point --incumbent at a complete one") from exc
    dims = {i.name: i.shape[-1] for i in sess.get_inputs()}
    if dims.get("features") != N_FEATURES or dims.get("codec") != CODEC_DIM:
        raise InputError(f"--incumbent model {onnx_path.name} takes inputs {dims}, this kit feeds "
                         f"features[{N_FEATURES}] and codec[{CODEC_DIM}]",
                         hint="the incumbent was exported by a kit with another encoder vocabulary; "
                              "re-export it with this kit")


def member_scores(onnx_path: Path, feats: np.ndarray, codec: np.ndarray) -> np.ndarray:
    """One member's score for every row, checked: one finite score per row, not one constant for all."""
    from kit.model.export import onnx_predict

    hint = "point --incumbent at a working bundle exported by the kit, or drop --incumbent"
    try:
        out = onnx_predict(onnx_path, feats, codec)
    except Exception as exc:  # onnxruntime raises its own types for a model that cannot run these inputs
        raise InputError(f"--incumbent model {onnx_path}: fails on this corpus's rows ({str(exc)[:120]})",
                         hint=hint) from exc
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    if out.shape != (len(feats),):
        raise InputError(f"--incumbent model {onnx_path}: answers {len(feats)} rows with an output of shape "
                         f"{list(out.shape)}; one score per row ([N] or [N, 1]) is needed", hint=hint)
    bad = int((~np.isfinite(out)).sum())
    if bad:
        raise InputError(f"--incumbent model {onnx_path}: outputs NaN or infinity for {bad} of {len(out)} rows",
                         hint=hint)
    if len(out) > 1 and np.ptp(out) == 0 and np.ptp(feats, axis=0).any():
        raise InputError(f"--incumbent model {onnx_path}: outputs the constant {out[0]:.6g} for all {len(out)} "
                         "rows, whatever their features", hint=hint)
    return out


def incumbent_scores(path: Path, feats: np.ndarray, codec: np.ndarray) -> tuple[Path, list[Path], np.ndarray]:
    """(manifest, member files, the ensemble's score per row): run before training, so a broken incumbent
    is refused before the LOSO, naming the file."""
    manifest, onnx_files = find_incumbent(path)
    for p in onnx_files:
        _check_inputs(p)
    return manifest, onnx_files, np.mean([member_scores(p, feats, codec) for p in onnx_files], axis=0)


def incumbent_loso(scored: tuple[Path, list[Path], np.ndarray], target: np.ndarray,
                   folds: list[Fold]) -> BaselineResult:
    """The incumbent ensemble (mean of its members, from incumbent_scores) scored on each held-out source."""
    from kit.model.baselines import baseline_result, fold_result

    manifest, onnx_files, scores = scored
    results = [fold_result(fold, target, scores[fold.rows]) for fold in folds]
    return baseline_result("incumbent", results, {
        "path": str(manifest.parent), "members": [p.name for p in onnx_files],
        "sha256": {p.name: sha256_file(p) for p in onnx_files},
        "note": "the incumbent may have been trained on some of these sources; its figures can be optimistic",
    })
