"""The model cards beside each exported ONNX, and the ensemble manifest.

A sidecar says what a model takes (feature order, codec block, normalisation),
what it gives, how it was trained, on which corpus, and what LOSO measured;
the ensemble manifest lists the members with their sha256.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kit import __version__
from kit.bundle.conformal import Confidence
from kit.corpus.summary import CorpusSummary
from kit.infra.records import Record
from kit.media.libvmaf import TEACHER_MODEL
from kit.model.contract import CODEC_VOCAB, CQ_NORM_NOTE, MODEL_FEATURES, SCALE_INPUT_NOTE, cq_ranges
from kit.model.export import OPSET
from kit.model.features import CODEC_DIM, N_FEATURES
from kit.model.recipe import ARCH, TrainConfig
from kit.model.results import EnsembleMember, SeedSummary
from kit.verdict.gate import GateResult


@dataclass(frozen=True)
class EnsembleManifest(Record):
    """`ensemble.json`: the members of a promoted ensemble and how to combine them."""

    name: str
    kind: str  # "fr_ensemble", as upstream's ensemble manifests
    ensemble_size: int
    kit_version: str
    members: tuple[EnsembleMember, ...]
    combine: str
    seeds: list[int]
    codec_vocab: list[str]  # the members' codec input, in order (model/contract.py)
    codec_vocab_version: int
    confidence: Confidence  # upstream's block: how wide an interval around the mean is
    smoke: bool  # False: real models, trained on a real corpus and gated
    corpus_sha256: str
    verdict: str
    gate: GateResult
    teacher_model: str


def member_name(seed: int) -> str:
    return f"{ARCH}_seed{seed}"


def sidecar_doc(seed: int, onnx_path: Path, onnx_sha256: str, scaler: dict[str, list[float]], train: TrainConfig,
                corpus: CorpusSummary, loso: SeedSummary | None, diff: float, confidence: Confidence,
                teacher_model: str = TEACHER_MODEL) -> dict[str, object]:
    return {
        "schema_version": 1, "name": member_name(seed), "seed": seed, "onnx": onnx_path.name,
        "onnx_sha256": onnx_sha256, "onnx_opset": OPSET,
        "inputs": {"features": {"shape": ["batch", N_FEATURES], "order": list(MODEL_FEATURES),
                                "note": "raw libvmaf integer_* values; the scaler is inside the graph"},
                   "codec": {"shape": ["batch", CODEC_DIM], "order": [*CODEC_VOCAB, "cq_norm"],
                             "note": "one-hot encoder, then cq normalised within the encoder family"}},
        "output": {"name": "vmaf", "shape": ["batch"], "range_hint": [0, 100], "clipped": False,
                   "note": "the raw regression output (DESIGN: Linear(64->1), no clamp): it can fall outside the "
                           "teacher's [0, 100]; clip it where a vmaf-range score is needed (exports/vmaftune/ does)",
                   "out_of_range_share": loso.share_out_of_range if loso is not None else None},
        "normalisation": {"features": scaler,
                          "cq_ranges": {n: list(r) for n, r in cq_ranges().items()}, "cq_norm": CQ_NORM_NOTE},
        "resolution": {"rungs": corpus.rungs or ["native"], "scale_input": False, "note": SCALE_INPUT_NOTE},
        "encoder_vocab": list(CODEC_VOCAB),
        "training_recipe": {**train.to_json(), "fit": "full corpus", "seed": seed},
        "corpus": {"sha256": corpus.sha256, "rows": corpus.rows, "sources": corpus.n_sources,
                   "boxes": corpus.boxes, "encoders": corpus.encoders},
        "loso": loso.to_json() if loso is not None else None, "teacher_model": teacher_model,
        "parity_max_abs_diff": diff, "kit_version": __version__,
        "confidence": {**confidence.to_json(), "applies_to": "the mean of the ensemble's members (ensemble.json), "
                                                             "+/- conformal_q_residual x their std (ddof=1)"},
    }
