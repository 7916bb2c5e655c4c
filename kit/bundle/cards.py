"""The card beside each exported ONNX (its inputs, output, training, corpus, LOSO figures) and the ensemble manifest."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kit import __version__
from kit.bundle.conformal import Confidence
from kit.bundle.registry import with_tag
from kit.infra.records import Record, keep, omit_none
from kit.infra.rules import KIT_VERSION
from kit.media.libvmaf import OPT_IN, Teacher
from kit.media.teachers import VMAFTUNE_VERIFIER, verifier_note
from kit.model.contract import (
    CODEC_DIM,
    CODEC_VOCAB,
    CQ_NORM_NOTE,
    LOG_FEATURES,
    SCALE_INPUT_NOTE,
    cq_ranges,
    input_features,
    input_version,
)
from kit.model.recipe import ARCH, FRAMES, TEACHER, TrainConfig
from kit.model.results import Correction, EnsembleMember
from kit.model.teacher_fn import TeacherFunction
from kit.verdict.ceiling import ConsumerJudged
from kit.verdict.document import ConsumerFit, Verdict
from kit.verdict.thresholds import GateResult


def _computed_with() -> str:
    """The opt-in features grouped by the options they are computed with: `a, b with X's options`."""
    groups: dict[str, list[str]] = {}
    for feature in OPT_IN:
        groups.setdefault(feature.options, []).append(feature.name)
    return "; ".join(", ".join(names) + (f" with {options}" if options else "") for options, names in groups.items())


FEATURES_NOTE = (f"raw libvmaf integer_* values ({_computed_with()}); the graph takes log(1 + x) of the motion "
                 "features, then z-scores every feature (normalisation.features: the mean and std of the logged "
                 "motion)")


@dataclass(frozen=True)
class EnsembleManifest(Record):
    """`ensemble.json`: the members of a promoted ensemble and how to combine them."""

    name: str
    kind: str  # "fr_ensemble", as upstream's ensemble manifests
    ensemble_size: int
    kit_version: str = field(metadata=keep(KIT_VERSION))
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
    teacher_sha256: str | None = omit_none()  # kit 0.6: of a --teacher model file; absent for a libvmaf built-in


def member_name(seed: int, teacher: Teacher) -> str:
    """A member's file stem: `fr_regressor_v2_seed0`, with the teacher's tag when not vmaf_v0.6.1."""
    return f"{with_tag(ARCH, teacher.tag)}_seed{seed}"


def teacher_card(teacher: Teacher) -> dict[str, object]:
    """What a model card says of the teacher, its inputs (the canonical six) and the model vmaf-tune verifies with."""
    note = verifier_note(teacher)
    return {"model": teacher.name, "builtin": teacher.builtin, "sha256": teacher.sha256 or None,
            "inputs": "the canonical six libvmaf features, whatever the teacher: the proxy learns this teacher's score "
                      "from them (docs/teachers.md has how well each teacher distils)",
            "vmaf_tune_verifies_with": VMAFTUNE_VERIFIER, **({"vmaf_tune_note": note} if note else {})}


def teacher_metadata(teacher: Teacher) -> dict[str, str]:
    return {"teacher_model": teacher.name, **({"teacher_sha256": teacher.sha256} if teacher.sha256 else {})}


RECIPE_WORDS = {
    TEACHER: "the teacher's own function (libvmaf's SVR evaluated from the six features, proven equal to libvmaf's "
             "score on every corpus row, computed in the graph in float64) plus a network, its correction, trained "
             "from zero on what that function misses of the member's contents' encodes as the consumer sees them "
             "(windows and subsets of an encode's frames: their mean features and mean score), nothing at their "
             "frames and at feature vectors drawn where encodes lie (kit.model.distil.draw_prior); the correction "
             "scaled by the factor LOSO chose on held-out encodes (correction.scale: 0, the model is the teacher's "
             "function); cosine learning-rate decay, no dropout; the codec block's weights are zero (the teacher "
             "does not read it), so every encoder slot predicts alike",
    FRAMES: "trained on the corpus's per-frame rows (the six features and the codec block against each frame's "
            "teacher score), as kits before 2.1 trained every model",
}


def recipe_card(recipe: str | None, proof: TeacherFunction | None, consumer: ConsumerFit | None,
                correction: Correction | None = None) -> dict[str, object]:
    """What a model card says of the recipe, the teacher's function as proven, how much of its correction the model
    keeps, and the models against their ceiling."""
    return {"recipe": recipe or FRAMES, "method": RECIPE_WORDS[recipe or FRAMES],
            "teacher_function": proof.to_json() if proof is not None else None,
            **({"correction": {**correction.to_json(), "said": correction.label}} if correction is not None else {}),
            "as_vmaftune_uses_it": None if consumer is None else {
                **{key: getattr(consumer, key) for key in ("n_encodes", "tolerance", "share_within", "ceiling_share",
                                                           "median_miss", "max_miss", "worst_encode")},
                "note": "held-out LOSO encodes (03_loso/encodes.parquet), each whole encode's mean features; "
                        "ceiling_share: the teacher's own function on the same mean features (the teacher of the mean, "
                        "not a bound: models may beat it); as_sampled: what the consumer gates count",
                **({"as_sampled": judged_card(consumer.judged)} if consumer.judged is not None else {})}}


def judged_card(j: ConsumerJudged) -> dict[str, object]:
    """The consumer gates' figure, as vmaf-tune samples (04_verdict/consumer_encodes.parquet)."""
    w = j.whole
    return {"how": j.how, "pool": j.pool, "n_encodes": w.n_encodes, "n_pool": w.pool, "within_on_pool": w.pool_hits,
            "share_on_pool": w.pool_share if w.pool else None, "file": j.file}


def recipe_json(train: TrainConfig, recipe: str | None) -> dict[str, object]:
    """The training recipe as the models were trained (the teacher recipe's: no dropout, its steps as run)."""
    doc = train.to_json()
    if recipe != TEACHER:
        return {**doc, "recipe": FRAMES}
    unused = ("lr", "batch_size", "max_samples", "max_steps", "max_batch")  # the frames recipe's
    return {**{k: v for k, v in doc.items() if k not in unused}, "dropout": 0.0, "tune_steps": train.teacher_steps()}


def sidecar_doc(seed: int, onnx_path: Path, onnx_sha256: str, scaler: dict[str, list[float]], train: TrainConfig,
                verdict: Verdict, diff: float, confidence: Confidence) -> dict[str, object]:
    from kit.model.export import OPSET  # onnx: where models are made (the catalogue reads this module's words alone)

    corpus = verdict.corpus
    teacher = verdict.teacher
    loso = next((r for r in verdict.per_seed if r.seed == seed), None)
    return {
        "schema_version": 1, "name": member_name(seed, teacher), "seed": seed, "onnx": onnx_path.name,
        "onnx_sha256": onnx_sha256, "onnx_opset": OPSET,
        "inputs": {"features": {"shape": ["batch", len(input_features(train.inputs))],
                                "order": list(input_features(train.inputs)), "input_set": train.inputs,
                                "input_version": input_version(train.inputs),
                                "note": FEATURES_NOTE},
                   "codec": {"shape": ["batch", CODEC_DIM], "order": [*CODEC_VOCAB, "cq_norm"],
                             "note": "one-hot encoder, then cq normalised within the encoder family"}},
        "output": {"name": "vmaf", "shape": ["batch"], "range_hint": [0, 100], "clipped": False,
                   "note": "the raw regression output (DESIGN: Linear(64->1), no clamp): it can fall outside the "
                           "teacher's [0, 100]; clip it where a vmaf-range score is needed (exports/vmaftune/ does)",
                   "out_of_range_share": loso.share_out_of_range if loso is not None else None},
        "normalisation": {"features": scaler, "log1p": [f for f in input_features(train.inputs) if f in LOG_FEATURES],
                          "cq_ranges": {n: list(r) for n, r in cq_ranges().items()}, "cq_norm": CQ_NORM_NOTE},
        "resolution": {"rungs": corpus.rungs or ["native"], "scale_input": False, "note": SCALE_INPUT_NOTE},
        "encoder_vocab": list(CODEC_VOCAB),
        "training_recipe": {**recipe_json(train, verdict.recipe), "fit": "full corpus", "seed": seed},
        "distillation": recipe_card(verdict.recipe, verdict.teacher_function, verdict.consumer,
                                    verdict.correction),
        "corpus": {"sha256": corpus.sha256, "rows": corpus.rows, "sources": corpus.n_sources,
                   "boxes": corpus.boxes, "encoders": corpus.encoders},
        "loso": loso.to_json() if loso is not None else None, "teacher_model": teacher.name,
        "teacher": teacher_card(teacher),
        "parity_max_abs_diff": diff, "kit_version": __version__,
        "confidence": {**confidence.to_json(), "applies_to": "the mean of the ensemble's members (ensemble.json), "
                                                             "+/- conformal_q_residual x their std (ddof=1)"},
    }
