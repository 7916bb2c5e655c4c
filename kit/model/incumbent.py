"""The incumbent: a previous bundle's models, scored on this run's LOSO folds (kit.verdict.lift), before any training,
so a model that cannot run, answers in another shape, or outputs NaN or one constant is refused at once."""

from __future__ import annotations

import os
import sys
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kit import KIT_ROOT
from kit.errors import InputError, ToolError
from kit.infra import variables
from kit.infra.files import sha256_file
from kit.infra.outside import read_json
from kit.infra.tree import Tree
from kit.model import incumbent_child as child
from kit.model.results import BaselineResult, EnsembleMembers
from kit.model.runtime import INPUT_CODEC, INPUT_FEATURES, load_npy, npy_bytes
from kit.rundir import ENSEMBLE_MANIFEST, LAYOUT, RunDir

if TYPE_CHECKING:
    from kit.infra.proc import LogFn
    from kit.model.features import Codec
    from kit.model.loso import Fold

# torch, pandas and onnx load in the functions that score: `status` finds the incumbent's files to fingerprint them
EXPORTS = LAYOUT.exports.as_posix()  # 05_bundle/exports
HINT = "point --incumbent at a working bundle exported by the kit, or drop --incumbent"
TIMEOUT_ENV = variables.INCUMBENT_TIMEOUT_S.name
SOURCE = "source.json"  # in a copy of an incumbent: which --incumbent it was copied for, and from where


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
            for member, onnx in zip(members, onnx_files, strict=True):
                if member.sha256 and (found := sha256_file(onnx)) != member.sha256:
                    raise InputError(f"--incumbent {onnx} has sha256 {found[:12]}…, but {manifest} records "
                                     f"{member.sha256[:12]}… for it: the model was changed after the bundle was "
                                     "exported",
                                     hint="point --incumbent at the bundle as it was exported (its exports/ "
                                          "folder untouched)")
            return manifest, onnx_files
    raise InputError(f"--incumbent {path}: no ensemble.json found (looked in ., exports/, {EXPORTS}/)",
                     hint=f"point --incumbent at a previous run's out-dir or its {EXPORTS} folder")


def copy_incumbent(tree: Tree, manifest: Path, onnx_files: list[Path], dest: Path, given: str,
                   origin: str) -> tuple[Path, list[Path]]:
    """The incumbent's files copied byte for byte, never through a link, into `dest` with `source.json` (`given`: the
    --incumbent, `origin`: the folder copied, as the out-dir's records name them, relative to it); the copy's."""
    tree.fresh_folder(dest, private=False)
    for src in (manifest, *onnx_files):
        tree.write_bytes(dest / src.name, tree.read_bytes(src, trusted=False))
    tree.write_json(dest / SOURCE, {"incumbent": given, "copied_from": origin})
    return dest / manifest.name, [dest / p.name for p in onnx_files]


def kept_copy(tree: Tree, folder: Path, given: Collection[str]) -> tuple[Path, list[Path]] | None:
    """The copy that copy_incumbent made in `folder` for this very --incumbent (as `given` spells it: relative to
    the out-dir, or absolute as a kit before 2.2.0 recorded it), when it is there; else None."""
    source, _ = tree.read_json_object(folder / SOURCE)
    return find_incumbent(folder) if source is not None and source.get("incumbent") in given else None


def copied_from(tree: Tree, folder: Path) -> str | None:
    """Where the copy in `folder` came from, as its source.json names it (copy_incumbent), None for a folder that is
    no such copy."""
    source, _ = tree.read_json_object(folder / SOURCE)
    value = source.get("copied_from") if source is not None else None
    return value if isinstance(value, str) else None


def incumbent_timeout(env: Mapping[str, str] | None = None) -> float:
    """KIT_INCUMBENT_TIMEOUT_S, else its default: how long the incumbent's models may run, together (KIT_TIMEOUT_S
    caps it)."""
    seconds: float = variables.INCUMBENT_TIMEOUT_S.read(env)
    return seconds


def run_models(tree: Tree, onnx_files: list[Path], feats: np.ndarray, codec: Codec, scratch: Path,
               log: LogFn | None = None) -> list[np.ndarray]:
    """Each member's scores, checked, from a child process (kit.model.incumbent_child); a failing member refused."""
    from kit.infra.proc import TimedOut, run_process, signal_name, timeout_cap
    from kit.model.contract import CODEC_DIM, N_FEATURES

    timeout_s = timeout_cap(incumbent_timeout())
    tree.fresh_folder(scratch)
    tree.write_json(scratch / child.REQUEST, {"models": [str(p) for p in onnx_files],
                                              "inputs": {INPUT_FEATURES: N_FEATURES, INPUT_CODEC: CODEC_DIM}})
    tree.write_bytes(scratch / child.FEATURES, npy_bytes(feats.astype(np.float32)))
    tree.write_bytes(scratch / child.CODEC, npy_bytes(codec.astype(np.float32)))
    path = os.pathsep.join([str(KIT_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])  # the kit as run now
    try:
        res = run_process([sys.executable, "-m", child.__name__, scratch], timeout_s=timeout_s,
                          env={**os.environ, "PYTHONPATH": path}, log=log)
    except ToolError as exc:  # past the timeout (or, never seen, its output held open): the child was killed
        model = _running(tree, scratch, onnx_files)
        # at its own limit, counted in its own time (kit.infra.proc); a cap or a stop from outside said as itself
        past = isinstance(exc, TimedOut) and not (exc.capped or exc.stopped)
        raise InputError(f"--incumbent model {model}: " + (
            f"not finished after {timeout_s:.0f} s on {len(feats)} rows; it was stopped" if past else exc.message),
            hint="a model the kit exports scores a corpus in seconds: this one loops or is far too large. Point "
                 f"--incumbent at a bundle exported by the kit, or drop it; {TIMEOUT_ENV} gives it more time "
                 f"(now {timeout_s:.0f} s)") from None
    failure, _ = tree.read_json_object(scratch / child.FAILURE) if res.returncode == child.EXIT_MODEL_FAILED \
        else ({}, "")
    if res.returncode not in (0, child.EXIT_MODEL_FAILED) or failure is None:
        how = f"killed by {signal_name(res.killed_by)}" if res.killed_by else f"exit {res.returncode}"
        raise InputError(f"--incumbent model {_running(tree, scratch, onnx_files)}: the process running it ended "
                         f"abnormally ({how})", hint=f"the LOSO step log has its last lines; {HINT}")
    failed, stage = Path(str(failure.get("model"))), failure.get("stage")
    if stage == "load":
        raise InputError(f"--incumbent model {failed}: not a loadable ONNX model ({failure.get('detail')})",
                         hint="the incumbent bundle is damaged; point --incumbent at a complete one")
    if stage == "inputs":
        raise InputError(f"--incumbent model {failed.name} takes inputs {failure.get('dims')}, this kit feeds "
                         f"features[{N_FEATURES}] and codec[{CODEC_DIM}]",
                         hint="the incumbent was exported by a kit with another encoder vocabulary; "
                              "re-export it with this kit")
    scores = []
    for k, onnx_path in enumerate(onnx_files):
        if not tree.is_file(child.scores_file(scratch, k)):  # the child stopped at this member: it failed to run
            raise InputError(f"--incumbent model {onnx_path}: fails on this corpus's rows ({failure.get('detail')})",
                             hint=HINT)
        scores.append(member_scores(onnx_path, load_npy(tree, child.scores_file(scratch, k)), feats))
    return scores


def _running(tree: Tree, scratch: Path, onnx_files: list[Path]) -> str:
    """The model the child was loading or running (the first one when it had not started on any)."""
    state, _ = tree.read_json_object(scratch / child.STATE)
    model = state.get("model") if state is not None else None
    return model if isinstance(model, str) else str(onnx_files[0])


def member_scores(onnx_path: Path, out: np.ndarray, feats: np.ndarray) -> np.ndarray:
    """One member's score for every row, checked: one finite score per row, not one constant for all."""
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    if out.shape != (len(feats),):
        raise InputError(f"--incumbent model {onnx_path}: answers {len(feats)} rows with an output of shape "
                         f"{list(out.shape)}; one score per row ([N] or [N, 1]) is needed", hint=HINT)
    if bad := int((~np.isfinite(out)).sum()):
        raise InputError(f"--incumbent model {onnx_path}: outputs NaN or infinity for {bad} of {len(out)} rows",
                         hint=HINT)
    if len(out) > 1 and np.ptp(out) == 0 and np.ptp(feats, axis=0).any():
        raise InputError(f"--incumbent model {onnx_path}: outputs the constant {out[0]:.6g} for all {len(out)} "
                         "rows, whatever their features", hint=HINT)
    return out


def incumbent_scores(tree: Tree, path: Path, feats: np.ndarray, codec: Codec, scratch: Path,
                     log: LogFn | None = None) -> tuple[Path, list[Path], np.ndarray]:
    """(manifest, member files, the ensemble's score per row), computed in `scratch`, removed afterwards."""
    manifest, onnx_files = find_incumbent(path)
    try:
        scores = run_models(tree, onnx_files, feats, codec, scratch, log)
    finally:
        tree.remove_folder(scratch)
    return manifest, onnx_files, np.mean(scores, axis=0)


NOTE = "the incumbent may have been trained on some of these sources; its figures can be optimistic"


def incumbent_loso(scored: tuple[Path, list[Path], np.ndarray], target: np.ndarray,
                   folds: list[Fold], copied_from: str | None = None, named: str | None = None) -> BaselineResult:
    """The incumbent ensemble (from incumbent_scores) scored on each held-out source; `copied_from`: the original,
    `named`: the folder scored, each as the out-dir's records name it (else the folder's path)."""
    from kit.model.baselines import baseline_result

    manifest, onnx_files, scores = scored
    return baseline_result("incumbent", folds, target, lambda _, fold: scores[fold.rows], {
        "path": named if named is not None else str(manifest.parent), "members": [p.name for p in onnx_files],
        "sha256": {p.name: sha256_file(p) for p in onnx_files},
        "note": NOTE,
        **({"copied_from": copied_from} if copied_from is not None else {}),
    })
