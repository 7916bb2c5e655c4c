"""The vmaf-tune export profile (docs/vmaf-tune.md): each member's graph maps vmaf-tune's [N, 20] feed onto the kit's
inputs with allowlisted ops, then runs the member, scaler included (the published feature_mean/std: the identity)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from kit import __version__
from kit.bundle.cards import recipe_card, recipe_json, teacher_card, teacher_metadata
from kit.bundle.conformal import CALIBRATION_SUFFIX, CalibrationCard, Confidence, ship_calibration
from kit.bundle.profile_words import FEED_FEATURES, FEED_LOGGED, UNSEEN_BLIND
from kit.bundle.registry import (
    ENSEMBLE_ID,
    MAX_NOTES,
    SIGSTORE_SUFFIX,
    SINGLE_ID,
    RegistryRow,
    member_id,
    refuse_breaches,
    with_tag,
)
from kit.corpus.schema import VMAF_RANGE
from kit.infra.records import Record, keep, omit_none
from kit.infra.rules import KIT_VERSION
from kit.infra.tree import Tree
from kit.media.teachers import verifier_note
from kit.model.conformal import percent
from kit.model.contract import CODEC_VOCAB, CODEC_VOCAB_VERSION, SCALE_INPUT_NOTE, cq_ranges
from kit.model.cost import Told, untold
from kit.model.export import OPSET, PARITY_ATOL, finish_model, member_graph
from kit.model.network import FrRegressor
from kit.model.recipe import TEACHER, TrainConfig
from kit.model.runtime import PREDICT_ROWS, session
from kit.model.teacher_term import TEACHER_OPS
from kit.verdict.consumer import untrained_note
from kit.verdict.document import Verdict

if TYPE_CHECKING:
    from kit.model.features import Codec

# vmaf-tune's ENCODER_VOCAB v2 (lusoris/vmaf tools/vmaf-tune proxy.py), in its frozen order
VOCAB_V2: tuple[str, ...] = ("libx264", "libx265", "libsvtav1", "libaom-av1", "libvpx-vp9", "libvvenc",
                             "h264_nvenc", "hevc_nvenc", "av1_nvenc", "h264_qsv", "hevc_qsv", "av1_qsv")
N_FEED = len(FEED_FEATURES)
WIDTH = N_FEED + len(VOCAB_V2) + 2  # 20
PRESET_COLUMN, CRF_COLUMN = WIDTH - 2, WIDTH - 1
# quality scale of the v2 encoders the kit has no slot for: used only to keep their rows finite
FOREIGN_CQ_RANGE = (0, 63)
# libvmaf's ONNX op allowlist, restricted to what these graphs may use
ALLOWED_OPS = frozenset({"Sub", "Div", "Concat", "Gemm", "Erf", "Add", "Mul", "Squeeze", "Slice", "MatMul",
                         "Gather", "Identity", "Clip", "Relu", "Log"}) | TEACHER_OPS  # the teacher's function's too
INPUT, OUTPUT = "input", "vmaf"
VOCAB_V2_VERSION = 2  # vmaf-tune's ENCODER_VOCAB_VERSION for VOCAB_V2 (ai/scripts/train_fr_regressor_v2.py)


def build_profile_onnx(model: FrRegressor, crf_range: tuple[int, int], metadata: dict[str, str]) -> onnx.ModelProto:
    """One member with vmaf-tune's [N, 20] input, mapped in the graph onto the member's own inputs."""
    crf_min, crf_max = crf_range  # the kit's cq_norm is linear in crf_norm: a one-hot map, a slope and an offset
    onehot = (np.array(VOCAB_V2)[:, None] == np.array(CODEC_VOCAB)[None, :]).astype(np.float32)
    lo, hi = np.array([cq_ranges().get(name, FOREIGN_CQ_RANGE) for name in VOCAB_V2], dtype=np.float64).T[:, :, None]
    slope = ((crf_max - crf_min) / (hi - lo)).astype(np.float32)
    offset = ((crf_min - lo) / (hi - lo)).astype(np.float32)

    slices = (("feat", 0, N_FEED, "features"), ("onehot", N_FEED, N_FEED + len(VOCAB_V2), "onehot_v2"),
              ("crf", CRF_COLUMN, WIDTH, "crf_norm"))
    bounds = {f"{part}_{end}": at for part, start, stop, _ in slices for end, at in (("start", start), ("end", stop))}
    # vmaf-tune reads the output as a VMAF score and nothing downstream clamps it (the native model keeps it raw)
    tensors = {**{k: np.array([v], dtype=np.int64) for k, v in {**bounds, "columns": 1}.items()},
               "v2_to_kit_onehot": onehot, "cq_slope": slope, "cq_offset": offset,
               **{k: np.array(v, dtype=np.float32) for k, v in zip(("vmaf_min", "vmaf_max"), VMAF_RANGE, strict=True)}}
    nodes = [
        *(helper.make_node("Slice", [INPUT, f"{part}_start", f"{part}_end", "columns"], [out])
          for part, _, _, out in slices),
        *(helper.make_node("MatMul", ["onehot_v2", weights], [out]) for weights, out in (
            ("v2_to_kit_onehot", "onehot_kit"), ("cq_slope", "row_slope"), ("cq_offset", "row_offset"))),
        helper.make_node("Mul", ["crf_norm", "row_slope"], ["cq_scaled"]),
        helper.make_node("Add", ["cq_scaled", "row_offset"], ["cq_norm"]),
        helper.make_node("Concat", ["onehot_kit", "cq_norm"], ["codec"], axis=1),
    ]
    member_nodes, member_inits = member_graph(model, "features", "codec", "vmaf_raw")
    member_nodes.append(helper.make_node("Clip", ["vmaf_raw", "vmaf_min", "vmaf_max"], [OUTPUT]))
    graph = helper.make_graph(
        [*nodes, *member_nodes], f"{SINGLE_ID}_vmaftune",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["batch", WIDTH])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch"])],
        initializer=[*(numpy_helper.from_array(v, k) for k, v in tensors.items()), *member_inits],
    )
    return finish_model(graph, metadata)


def v2_rows(feats: np.ndarray, encoders: np.ndarray, cqs: np.ndarray, crf_range: tuple[int, int]) -> np.ndarray:
    """Shard rows in vmaf-tune's layout (preset_norm 0.5, as `vmaf-tune fast` sends); encoders must be in VOCAB_V2."""
    x = np.zeros((len(feats), WIDTH), dtype=np.float32)
    x[:, :N_FEED] = feats
    x[:, N_FEED:PRESET_COLUMN] = np.asarray(encoders)[:, None] == np.array(VOCAB_V2, dtype=object)
    x[:, PRESET_COLUMN] = 0.5
    x[:, CRF_COLUMN] = (np.asarray(cqs, dtype=np.float64) - crf_range[0]) / (crf_range[1] - crf_range[0])
    return x




@dataclass(frozen=True)
class ProfileMember(Record):
    id: str
    onnx: str
    seed: int
    sha256: str


@dataclass(frozen=True)
class ProfileManifest(Record):
    """`fr_regressor_v2_ensemble_v1.json`, as lusoris/vmaf's ensemble consumer reads it."""

    id: str
    kind: str  # "fr_ensemble"
    ensemble_size: int
    members: tuple[ProfileMember, ...]
    feature_order: list[str]
    feature_mean: list[float]
    feature_std: list[float]
    codec_vocab: list[str]  # what the 20-wide feed's one-hot lists: vmaf-tune's ENCODER_VOCAB v2
    codec_vocab_version: int  # ... and its version (2); the members' own vocabulary is the next key's
    model_codec_vocab_version: int  # the kit's codec vocabulary the members were trained on (model/contract.py)
    confidence: Confidence
    smoke: bool
    combine: str
    crf_range: list[int]
    kit_version: str = field(metadata=keep(KIT_VERSION))
    corpus_sha256: str
    calibration: CalibrationCard | None = omit_none()  # the split-conformal sidecar beside the models


@dataclass(frozen=True)
class Exported:
    seed: int
    model: FrRegressor


def profile_parity(model: FrRegressor, path: Path, feats: np.ndarray, encoders: np.ndarray, cqs: np.ndarray,
                   codec: Codec, crf_range: tuple[int, int]) -> float:
    """Max |profile - native model| on the rows vmaf-tune knows and each slotted encoder's CRFs; NaN if not finite.
    Measured PARITY_PART rows at a time (the profile's feed, its output and the model's, for every row at once, were
    the bundle's peak at 10,000 contents: bench/README.md#scale-10000); the maximum is the same over the parts."""
    from kit.model.features import codec_block

    kept = np.flatnonzero(np.isin(encoders, VOCAB_V2))
    slotted = [e for e in VOCAB_V2 if e in CODEC_VOCAB]
    crfs = np.arange(crf_range[0], crf_range[1] + 1)
    base = feats[np.linspace(0, len(feats) - 1, num=min(len(feats), 16), dtype=int)]
    probe_enc = np.repeat(slotted, len(base) * len(crfs)).astype(object)
    probe_cq = np.tile(np.repeat(crfs, len(base)), len(slotted))
    probe = (np.tile(base, (len(slotted) * len(crfs), 1)), probe_enc, probe_cq, codec_block(probe_enc, probe_cq))
    graph, worst, total = session(path), 0.0, len(kept) + len(probe_enc)
    for at in range(0, total, PARITY_PART):  # the rows vmaf-tune knows, then the probes: one sequence, cut in parts
        mine, theirs = kept[at : at + PARITY_PART], slice(max(at - len(kept), 0), max(at + PARITY_PART - len(kept), 0))
        part = (np.concatenate([feats[mine], probe[0][theirs]]).astype(np.float32),
                np.concatenate([encoders[mine].astype(object), probe[1][theirs]]),
                np.concatenate([np.asarray(cqs)[mine], probe[2][theirs]]),
                np.concatenate([codec[mine], probe[3][theirs]]).astype(np.float32))
        diff = part_parity(model, graph, part, crf_range)
        if not np.isfinite(diff).all():
            return float("nan")
        worst = max(worst, float(np.max(diff))) if len(diff) else worst
    return worst


PARITY_PART = 4 * PREDICT_ROWS  # rows profile_parity measures at once: a whole number of the session's feeds


def part_parity(model: FrRegressor, graph: Any, part: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
                crf_range: tuple[int, int]) -> np.ndarray:
    """|profile - native model| on one part's rows (features, encoders, CRFs, codec block)."""
    import torch

    feats, encoders, cqs, codec = part
    rows = v2_rows(feats, encoders, cqs, crf_range)
    out = np.concatenate([np.asarray(graph.run(None, {INPUT: rows[at : at + PREDICT_ROWS]})[0]).reshape(-1)
                          for at in range(0, len(rows), PREDICT_ROWS)]) if len(rows) else np.zeros(0)
    with torch.no_grad():
        ref = model(torch.from_numpy(feats), torch.from_numpy(codec)).numpy().astype(np.float64)
    expected = np.clip(ref, *VMAF_RANGE)  # the profile clips; the native model does not
    return np.abs(np.asarray(out, dtype=np.float64).reshape(-1) - expected)


@dataclass(frozen=True)
class CrfCoverage:
    """One trained vmaf-tune encoder's CRF: what its rows hold against what vmaf-tune queries."""

    encoder: str
    trained: tuple[int, int]
    queried: tuple[int, int]

    @property
    def unmeasured(self) -> list[str]:
        (q_lo, q_hi), (lo, hi) = self.queried, self.trained
        return [f"{a}-{b}" for a, b in ((q_lo, lo - 1), (hi + 1, q_hi)) if a <= b]

    def doc(self) -> dict[str, object]:
        gaps = self.unmeasured
        return {"trained_crf": list(self.trained), "queried_crf": list(self.queried), "unmeasured_crf": gaps,
                **({"note": f"CRF {' and '.join(gaps)}: no row of the training corpus; predictions there are "
                            "extrapolation in the crf input"} if gaps else {})}

    def sentence(self) -> str:
        return (f"vmaf-tune queries {self.encoder} at CRF {self.queried[0]}-{self.queried[1]}; its rows hold CRF "
                f"{self.trained[0]}-{self.trained[1]}: CRF {' and '.join(self.unmeasured)} is unmeasured (the "
                "sidecars' crf_coverage; widen --cqs to cover it)")


def crf_coverage(verdict: Verdict, crf_range: tuple[int, int]) -> list[CrfCoverage]:
    return [CrfCoverage(t.encoder, (min(t.cq_grid), max(t.cq_grid)), crf_range)
            for t in verdict.corpus.teachers or () if t.encoder in VOCAB_V2 and t.cq_grid]


def sidecar_doc(name: str, seed: int, onnx_path: Path, onnx_sha256: str, verdict: Verdict, train: TrainConfig,
                crf_range: tuple[int, int], diff: float, chosen: str | None) -> dict[str, object]:
    seed_row = next((r for r in verdict.per_seed if r.seed == seed), None)
    corpus = verdict.corpus
    doc: dict[str, object] = {
        "schema_version": 1, "id": name, "kind": "fr", "onnx": onnx_path.name, "sha256": onnx_sha256,
        "onnx_opset": OPSET, "input_names": [INPUT], "output_names": [OUTPUT],
        "seed": seed, "gate": {
            # the PLCC gate judged nothing (the student is the teacher's function): the verdict alone decides
            "passed": verdict.promoted and verdict.gate.passed is not False, "verdict": verdict.verdict,
            "mean_plcc": verdict.gate.mean_plcc, "plcc_spread": verdict.gate.plcc_spread,
            "seed_mean_plcc": seed_row.mean_plcc if seed_row else None,
            "seed_mean_rmse": seed_row.mean_rmse if seed_row else None,
            "thresholds": verdict.provenance.thresholds, "measures": "leave-one-source-out agreement with the "
                                                                      f"{verdict.teacher_model} teacher"},
        "feature_order": list(FEED_FEATURES), "feature_mean": [0.0] * N_FEED, "feature_std": [1.0] * N_FEED,
        "normalisation": f"inside the graph ({FEED_LOGGED}, then each member's own z-scoring); feature_mean/"
                         "feature_std are the identity, so scaling again changes nothing: feed the raw features",
        "encoder_vocab": list(VOCAB_V2), "layout": {
            "shape": ["batch", WIDTH],
            "columns": {"0-5": list(FEED_FEATURES), f"6-{5 + len(VOCAB_V2)}": [f"onehot:{e}" for e in VOCAB_V2],
                        str(PRESET_COLUMN): "preset_norm (ignored)", str(CRF_COLUMN): "crf_norm"}},
        "crf_range": list(crf_range), "crf_norm": f"(crf - {crf_range[0]}) / ({crf_range[1]} - {crf_range[0]})",
        "preset_norm": "ignored: the models have no preset input (one preset per encoder in training)",
        "unseen_encoders": {  # vocabulary entries the models never saw a row of, and what that means for them
            e: ("no slot in the kit's models: its rows run with an empty encoder one-hot" if e not in CODEC_VOCAB
                else UNSEEN_BLIND if verdict.recipe == TEACHER
                else "no row of the training corpus: predictions for it are extrapolation")
            for e in VOCAB_V2 if e not in corpus.encoders},
        "crf_coverage": {c.encoder: c.doc() for c in crf_coverage(verdict, crf_range)},
        "resolution": {"rungs": corpus.rungs or ["native"], "scale_input": False, "note": SCALE_INPUT_NOTE},
        "output": {"name": OUTPUT, "clipped": True, "range": list(VMAF_RANGE),
                   "out_of_range_share": seed_row.share_out_of_range if seed_row else None,
                   "note": "clipped to the teacher's [0, 100] inside the graph, since vmaf-tune reads it as a VMAF "
                           "score; the kit's native model (exports/) keeps the raw value. out_of_range_share: the "
                           "share of this seed's held-out LOSO predictions the clip changes"},
        "recipe": {**recipe_json(train, verdict.recipe), "fit": "full corpus", "seed": seed},
        "corpus": {"sha256": corpus.sha256, "rows": corpus.rows, "sources": corpus.n_sources,
                   "boxes": corpus.boxes, "encoders": corpus.encoders, **teacher_metadata(verdict.teacher)},
        "teacher": teacher_card(verdict.teacher),
        "distillation": recipe_card(verdict.recipe, verdict.teacher_function, verdict.consumer,
                                    verdict.correction),
        "parity_max_abs_diff": diff, "kit_version": __version__,
    }
    return {**doc, "chosen_member": chosen} if chosen is not None else doc


@dataclass(frozen=True)
class Shipping:
    """What the profile ships that the models do not hold: the license of the rows and the intervals."""

    license: str
    license_url: str
    confidence: Confidence
    calibration: Path | None  # the verdict's split-conformal sidecar; None for a verdict without intervals


def interval_card(ship: Shipping, card: CalibrationCard | None) -> dict[str, object]:
    """What a model card says of the intervals: the manifest's confidence block and the sidecar shipped."""
    q = ship.confidence.conformal_q_residual
    return {
        "confidence": ship.confidence.to_json(),
        "ensemble_rule": (f"mean of the members +/- {q:.4f} x their std (ddof=1): conformal, "
                          f"{percent(ship.confidence.nominal_coverage)} nominal" if q is not None else
                          f"no interval: not calibrated ({ship.confidence.reason}); the members' std alone is no "
                          "interval, so no multiplier is given (gaussian_z null)"),
        "calibration": card.to_json() if card is not None else None,
        "applies_to": "conformal_q_residual: the ensemble's mean prediction of one frame (calibrated on frames of "
                      "held-out sources; whether it holds per clip is the verdict's intervals.clip_use); the "
                      "calibration sidecar: a clip predicted from its mean features. A single member's output is "
                      "neither",
        "unbounded": card.unbounded if card is not None else None,
    }


def write_profile(tree: Tree, members: list[Exported], verdict: Verdict, train: TrainConfig, folder: Path,
                  crf_range: tuple[int, int], feats: np.ndarray, codec: Codec, encoders: np.ndarray,
                  cqs: np.ndarray, ship: Shipping, said: Told = untold,
                  ) -> list[Path]:
    """The profile written into `folder`; every model checked before it is kept, every registry row before any; each
    member `said` (what, the share of the members done) before it is checked, the most of the bundle's work after its
    refit on a large corpus (every row through two models: 7 of its 9 minutes at 10,000 contents)."""
    tree.make_folder(folder)
    # the member vmaf-tune's proxy uses alone: the best LOSO mean PLCC (then RMSE, then seed)
    best = min(verdict.per_seed, key=lambda r: (-r.mean_plcc if np.isfinite(r.mean_plcc) else 1.0,
                                                r.mean_rmse if np.isfinite(r.mean_rmse) else 1e9, r.seed))
    why = (f"seed {best.seed} has the highest LOSO mean PLCC of the gated seeds ({best.mean_plcc:.4f}, RMSE "
           f"{best.mean_rmse:.2f}): of the members it generalised best to held-out sources")
    tag = verdict.teacher.tag  # every id says the teacher when it is not vmaf_v0.6.1
    single, ensemble = with_tag(SINGLE_ID, tag), with_tag(ENSEMBLE_ID, tag)
    written: list[Path] = []
    corpus = (feats, codec, encoders, cqs)  # every ONNX first: the calibration sidecar names the members' sha256
    models = []
    for k, member in enumerate(members):
        said(f"checking the vmaf-tune profile's model {k + 1} of {len(members)} on every row", k / len(members))
        name = member_id(member.seed, tag)
        path, diff = write_member_onnx(tree, name, member, verdict, folder, crf_range, corpus)
        models.append((name, member, path, diff))
        if member.seed == best.seed:  # the proxy's model alone: the same graph, the same bytes, the same parity
            tree.write_bytes(folder / f"{single}.onnx", tree.read_bytes(path))
            models.append((single, member, folder / f"{single}.onnx", diff))
    shas = {path: tree.sha256(path) for _, _, path, _ in models}
    entries = [ProfileMember(name, path.name, member.seed, shas[path])
               for name, member, path, _ in models if name != single]
    card = None
    if ship.calibration is not None:
        dest = folder / f"{ensemble}{CALIBRATION_SUFFIX}"
        card = ship_calibration(tree, ship.calibration, dest, ensemble, {e.onnx: e.sha256 for e in entries})
        written.append(dest)
    rows: list[RegistryRow] = []
    for name, member, onnx_path, diff in models:
        sidecar = folder / f"{name}.json"
        doc = sidecar_doc(name, member.seed, onnx_path, shas[onnx_path], verdict, train, crf_range, diff,
                          why if name == single else None)
        tree.write_json(sidecar, {**doc, "intervals": interval_card(ship, card)})
        told = verifier_note(verdict.teacher)  # said before the layout: a cut to MAX_NOTES takes the layout first
        notes = (f"ensemble-kit {__version__} {verdict.verdict}: seed {member.seed}, LOSO mean PLCC "
                 f"{verdict.gate.mean_plcc:.4f} over {verdict.corpus.n_sources} sources, corpus sha256 "
                 f"{verdict.corpus.sha256[:16]}; teacher {verdict.teacher.label}" + (f" ({told})" if told else "")
                 + "; layout vmaftune-v2-20")[:MAX_NOTES]
        notes = (notes + untrained_note(verdict.consumer))[:MAX_NOTES]  # the slots no row trained (issue 53)
        rows.append(RegistryRow(name, "fr", onnx_path.name, shas[onnx_path], ship.license, ship.license_url,
                                onnx_path.name + SIGSTORE_SUFFIX, OPSET, False, notes))
        written += [onnx_path, sidecar]
    refuse_breaches(rows)
    manifest = folder / f"{ensemble}.json"
    tree.write_json(manifest, ProfileManifest(
        ensemble, "fr_ensemble", len(entries), tuple(entries), list(FEED_FEATURES), [0.0] * N_FEED,
        [1.0] * N_FEED, list(VOCAB_V2), VOCAB_V2_VERSION, CODEC_VOCAB_VERSION, ship.confidence, False,
        "mean of the members' outputs; their sample standard deviation (ddof=1) is the uncertainty",
        list(crf_range), __version__, verdict.corpus.sha256, card).to_json())
    registry = folder / "registry-rows.json"
    tree.write_json(registry, [r.to_json() for r in rows])
    return [*written, manifest, registry]


def write_member_onnx(tree: Tree, name: str, member: Exported, verdict: Verdict, folder: Path,
                      crf_range: tuple[int, int], corpus: tuple[np.ndarray, Codec, np.ndarray, np.ndarray]
                      ) -> tuple[Path, float]:
    """One member as vmaf-tune's [N, 20] model, checked (ops, parity on `corpus`); its path and parity figure."""
    feats, codec, encoders, cqs = corpus
    proto = build_profile_onnx(member.model, crf_range, {
        "kit_version": __version__, "seed": str(member.seed), "corpus_sha256": verdict.corpus.sha256,
        "layout": "vmaftune-v2-20", "crf_range": f"{crf_range[0]},{crf_range[1]}",
        **teacher_metadata(verdict.teacher)})
    if bad := {n.op_type for n in proto.graph.node} - ALLOWED_OPS:
        raise RuntimeError(f"{name}: ops outside libvmaf's allowlist: {sorted(bad)}")
    onnx_path = folder / f"{name}.onnx"
    tree.write_bytes(onnx_path, proto.SerializeToString())
    diff = profile_parity(member.model, onnx_path, feats, encoders, cqs, codec, crf_range)
    if not diff <= PARITY_ATOL:  # NaN fails too
        tree.remove(onnx_path)
        raise RuntimeError(f"{name}: the 20-wide feed disagrees with the kit's model by {diff:.2e}")
    return onnx_path, diff
