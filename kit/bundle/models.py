"""On PROMOTE: each judged seed refit on the whole corpus, as one ONNX checked against torch, its card, the manifest.

Another consumer's export profile sits beside kit.bundle.vmaftune and is called from here, its contract written as data
in a test (tests/unit/test_vmaftune.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from kit import __version__
from kit.bundle.cards import EnsembleManifest, member_name, sidecar_doc, teacher_metadata
from kit.bundle.registry import with_tag
from kit.bundle.vmaftune import Exported, Shipping, write_profile
from kit.corpus.training import training_corpus
from kit.errors import InputError
from kit.infra.tree import Tree
from kit.media.svr import NotReproducible
from kit.model.contract import (
    CANONICAL6,
    CODEC_VOCAB,
    CODEC_VOCAB_VERSION,
    MODEL_FEATURES,
    input_features,
    input_version,
)
from kit.model.cost import Told, untold
from kit.model.distil import ENCODE_COLUMNS, Distillation, encode_codes, rounds
from kit.model.export import PARITY_ATOL, build_onnx, parity
from kit.model.features import Codec, design_rows
from kit.model.recipe import ARCH, TEACHER, TrainConfig
from kit.model.results import EnsembleMember
from kit.model.teacher_fn import proven_model
from kit.model.train import EpochCallback, Member, TrainedEnsemble, train_members, untrained
from kit.rundir import ENSEMBLE_MANIFEST
from kit.verdict.document import Verdict


def refit_distillation(verdict: Verdict, df: pd.DataFrame, feats: np.ndarray, target: np.ndarray,
                       train: TrainConfig, sources: tuple[Path | None, Path | None]) -> Distillation | None:
    """The teacher recipe's training set for the refit, with the function LOSO proved (the verdict's), read again."""
    if verdict.recipe != TEACHER:
        return None
    assert verdict.teacher_function is not None  # the teacher recipe runs only on a proven function
    try:
        model = proven_model(verdict.teacher_function, verdict.teacher_sha256 or "", *sources)
    except NotReproducible as exc:  # proven by LOSO with this box's ffmpeg: only a changed box reaches this
        raise InputError(f"the teacher {verdict.teacher_model} of {verdict.corpus.path} could not be read again for "
                         f"the refit, though LOSO distilled it: it {exc}",
                         hint="rerun from the loso step on this box (its ffmpeg and --teacher as LOSO had them)") \
            from None
    return Distillation.of(feats, target, encode_codes(df), model, train)


PARITY_ROWS = 20_000  # rows checked against onnxruntime, drawn with a fixed seed
VMAFTUNE_FOLDER = "vmaftune"  # beside the kit's own models: what a lead copies into VMAFx's model/tiny/


def export_ensemble(tree: Tree, verdict: Verdict, train: TrainConfig, exports: Path, crf_range: tuple[int, int],
                    ship: Shipping, on_epoch: EpochCallback | None = None, workers: int = 1,
                    teacher_sources: tuple[Path | None, Path | None] = (None, None),
                    corpus_file: Path | None = None,
                    said: Told = untold) -> list[Path]:
    """The verdict's seeds refit on its corpus (`corpus_file`: where it is now, else where the verdict names it) and
    exported into `exports` (+ the vmaf-tune profile, each of its models `said` as it is checked); the files."""
    corpus = verdict.corpus
    features = input_features(train.inputs)
    # with the encodes' identity (their rung's size): the teacher recipe's windows are taken within one encode
    # its text as codes, as the loso step reads it (a code a row: the hashes as text were most of the refit's frame)
    df = training_corpus(corpus_file or Path(corpus.path), ENCODE_COLUMNS,
                         measured=tuple(f for f in features if f not in MODEL_FEATURES), coded=True)[0]
    feats, codec = design_rows(df, train.inputs)  # the codec block as each row's slot and cq (CodecRows)
    rows = np.arange(len(df))
    seeds = list(verdict.seeds)  # the seeds the gate judged, whatever the flags say now
    target = df["vmaf"].to_numpy(dtype=np.float64)
    if on_epoch is not None and verdict.recipe == TEACHER:  # its preparation is its training's, for the run's ETA
        on_epoch(0, rounds(train), float("nan"), 0.0)
    distil = refit_distillation(verdict, df, feats, target, train, teacher_sources)
    ens = refit_members(verdict, distil, (feats, codec, target), [Member(s, -1, rows) for s in seeds], train,
                        on_epoch, workers)
    pick = np.random.default_rng(0).permutation(len(df))[:PARITY_ROWS]
    teacher = verdict.teacher
    written, members, refit = [], [], []
    for m, seed in enumerate(seeds):
        model = ens.export_member(m)
        refit.append(Exported(seed, model))
        onnx_path = exports / f"{member_name(seed, teacher)}.onnx"
        proto = build_onnx(model, {"kit_version": __version__, "seed": str(seed), "corpus_sha256": corpus.sha256,
                                   "features": ",".join(features), "input_version": str(input_version(train.inputs)),
                                   **teacher_metadata(teacher)})
        tree.write_bytes(onnx_path, proto.SerializeToString())
        diff = parity(model, onnx_path, feats[pick], codec[pick])
        if not diff <= PARITY_ATOL:  # NaN fails too
            tree.remove(onnx_path)
            raise RuntimeError(f"ONNX export of seed {seed} disagrees with torch by {diff:.2e} > {PARITY_ATOL}")
        scaler = {"mean": model.mean.reshape(-1).tolist(), "std": model.std.reshape(-1).tolist()}
        sidecar_path = exports / f"{member_name(seed, teacher)}.json"
        onnx_sha = tree.sha256(onnx_path)
        tree.write_json(sidecar_path, sidecar_doc(seed, onnx_path, onnx_sha, scaler, train, verdict, diff,
                                                  ship.confidence))
        written += [onnx_path, sidecar_path]
        members.append(EnsembleMember(seed, onnx_path.name, sidecar_path.name, onnx_sha, diff))
    manifest = exports / ENSEMBLE_MANIFEST
    tree.write_json(manifest, EnsembleManifest(
        name=with_tag(f"{ARCH}_ensemble", teacher.tag), kind="fr_ensemble", ensemble_size=len(members),
        kit_version=__version__,
        members=tuple(members), combine="mean of the members' vmaf outputs; their std (ddof=1) is the uncertainty",
        seeds=seeds, codec_vocab=list(CODEC_VOCAB), codec_vocab_version=CODEC_VOCAB_VERSION,
        confidence=ship.confidence, smoke=False, corpus_sha256=corpus.sha256,
        verdict=verdict.verdict, gate=verdict.gate, teacher_model=verdict.teacher_model,
        teacher_sha256=verdict.teacher_sha256).to_json())
    profile = write_profile(tree, refit, verdict, train, exports / VMAFTUNE_FOLDER, crf_range, feats, codec,
                            df["encoder"].to_numpy(), df["cq"].to_numpy(), ship, said) \
        if train.inputs == CANONICAL6 else []
    return [*written, manifest, *profile]


def refit_members(verdict: Verdict, distil: Distillation | None, data: tuple[np.ndarray, Codec, np.ndarray],
                  fitted: list[Member], train: TrainConfig, on_epoch: EpochCallback | None, workers: int
                  ) -> TrainedEnsemble:
    """The members refit on `data` (features, codec block, scores): by the teacher recipe, the teacher's function, its
    clip under the spread LOSO kept, plus each correction at the factor LOSO chose (kit.model.floor), the networks
    untrained where that factor is 0."""
    if distil is not None and not correction_kept(verdict):  # each network multiplied by 0: none is trained
        ens = untrained(distil, fitted, train)
    else:
        ens = train_members(*data, fitted, train, on_epoch, workers=workers, distil=distil)
    if distil is None:
        return ens
    n = len(fitted)
    return replace(ens, teacher=distil.function, scales=(verdict.correction.scale if verdict.correction else 0.0,) * n,
                   spreads=(verdict.correction.spread if verdict.correction else None,) * n)


def correction_kept(verdict: Verdict) -> bool:
    """Whether the export keeps any of its correction (kit.model.floor): where it keeps none, the bundle trains no
    network only to multiply it by 0 (the step says so: kit.steps.s05_bundle)."""
    return verdict.correction is None or verdict.correction.scale != 0.0


