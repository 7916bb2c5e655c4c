"""The vmaf-tune export profile against the consumers' contracts, written down here as data (from the
lusoris/vmaf tree: tools/vmaf-tune proxy.py, model/tiny/registry.json, libvmaf's op allowlist and the
ensemble consumer), not imported from the kit, so a drift on either side fails."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from kit.bundle.conformal import confidence
from kit.bundle.vmaftune import Exported, Shipping, build_profile_onnx, write_profile
from kit.infra.tree import Tree
from kit.model.features import design_matrix
from kit.model.recipe import TrainConfig
from kit.model.train import Member, train_members
from kit.verdict.document import Verdict
from tests.conftest import ROOT, synthetic_corpus

# --- the consumers' contracts -----------------------------------------------------------------------------
PROXY_VOCAB = ("libx264", "libx265", "libsvtav1", "libaom-av1", "libvpx-vp9", "libvvenc", "h264_nvenc", "hevc_nvenc",
               "av1_nvenc", "h264_qsv", "hevc_qsv", "av1_qsv")  # ENCODER_VOCAB_V2, in its order
PROXY_WIDTH = 20  # 6 raw features, the 12-way one-hot, preset_norm, crf_norm
PROXY_CRF = (10, 51)  # vmaf-tune's default CRF search range
# on libvmaf's allowlist (libvmaf/src/dnn/op_allowlist.c): what these may use
LIBVMAF_OPS = {"Sub", "Div", "Concat", "Gemm", "Erf", "Add", "Mul", "Squeeze", "Slice", "MatMul", "Gather",
               "Identity", "Clip", "Relu", "Log"}
REGISTRY_REQUIRED = {"id", "kind", "onnx", "sha256"}
REGISTRY_OPTIONAL = {"opset", "smoke", "license", "license_url", "sigstore_bundle", "notes", "description"}
REGISTRY_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
ENSEMBLE_MANIFEST_KEYS = {"members", "feature_order", "feature_mean", "feature_std", "codec_vocab"}
FEATURE_ORDER = ["adm2", "vif_scale0", "vif_scale1", "vif_scale2", "vif_scale3", "motion2"]

ENCODERS = ("libx264", "libx265", "libsvtav1", "h264_nvenc", "av1_qsv", "h264_videotoolbox")  # the last: not v2


def proxy_row(features: np.ndarray, encoder: str, crf: float) -> np.ndarray:
    """What vmaf-tune's proxy feeds for one clip (preset_norm 0.5, as `vmaf-tune fast` sends)."""
    one_hot = np.zeros(len(PROXY_VOCAB), dtype=np.float32)
    one_hot[PROXY_VOCAB.index(encoder)] = 1.0
    crf_norm = (crf - PROXY_CRF[0]) / (PROXY_CRF[1] - PROXY_CRF[0])
    return np.concatenate([features, one_hot, [0.5, crf_norm]]).astype(np.float32)


@pytest.fixture(scope="module")
def profile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Exported], object]:
    df = synthetic_corpus(n_src=4, rows_per_src=60)
    df["encoder"] = np.array(ENCODERS)[np.arange(len(df)) % len(ENCODERS)]
    feats, codec = design_matrix(df)
    rows = np.arange(len(df))
    ens = train_members(feats, codec, df["vmaf"].to_numpy(), [Member(s, -1, rows) for s in (0, 1)],
                        TrainConfig(epochs=3))
    members = [Exported(s, ens.export_member(m)) for m, s in enumerate((0, 1))]
    golden = Verdict.from_json(json.loads((ROOT / "tests" / "data" / "verdict_promote.json").read_text()))
    verdict = replace(golden, seeds=[0, 1], per_seed=golden.per_seed[:2],
                      corpus=replace(golden.corpus, encoders=sorted(ENCODERS)))
    folder = tmp_path_factory.mktemp("profile")
    write_profile(Tree.open(folder), members, verdict, TrainConfig(epochs=3), folder, PROXY_CRF, feats, codec,
                  df["encoder"].to_numpy(), df["cq"].to_numpy(),
                  Shipping("BSD-3-Clause", "https://spdx.org/licenses/BSD-3-Clause.html", confidence(None), None))
    return folder, members, (df, feats, codec)


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = sess.run(None, {sess.get_inputs()[0].name: x})  # the proxy feeds the first input, whatever its name
    return np.asarray(out, dtype=np.float64).reshape(-1)


def test_the_20_wide_feed_gives_the_native_model_clipped_on_every_vocabulary_row(profile: tuple) -> None:
    folder, members, (df, feats, codec) = profile
    known = np.isin(df["encoder"].to_numpy(), PROXY_VOCAB)
    assert known.sum() < len(df)  # the VideoToolbox rows are not vmaf-tune's to score
    x = np.stack([proxy_row(f, e, cq) for f, e, cq in zip(feats[known], df["encoder"][known], df["cq"][known],
                                                          strict=True)])
    for member in members:
        with torch.no_grad():
            native = member.model(torch.from_numpy(feats[known]), torch.from_numpy(codec[known])).numpy()
        got = _run(folder / f"fr_regressor_v2_ensemble_v1_seed{member.seed}.onnx", x)
        assert np.max(np.abs(got - np.clip(native, 0, 100))) <= 1e-4  # read as a VMAF score: clipped to [0, 100]
        assert (got >= 0).all() and (got <= 100).all()
    single = json.loads((folder / "fr_regressor_v2.json").read_text())
    assert single["seed"] in (0, 1) and "LOSO mean PLCC" in single["chosen_member"]
    # the proxy's model alone is its seed's, checked on every row once (2.6.2 built and checked it again): the graph
    # built for that seed afresh, and the seed's parity figure
    chosen = folder / f"fr_regressor_v2_ensemble_v1_seed{single['seed']}.onnx"
    seed = next(m for m in members if m.seed == single["seed"])
    assert onnx.load(str(folder / "fr_regressor_v2.onnx")).graph == build_profile_onnx(seed.model, PROXY_CRF, {}).graph
    card = json.loads(chosen.with_suffix(".json").read_text())
    assert single["parity_max_abs_diff"] == card["parity_max_abs_diff"]


def test_graphs_use_only_allowlisted_ops_and_one_input_of_the_proxy_width(profile: tuple) -> None:
    folder, _, _ = profile
    models = sorted(folder.glob("*.onnx"))
    assert [p.name for p in models] == ["fr_regressor_v2.onnx", "fr_regressor_v2_ensemble_v1_seed0.onnx",
                                        "fr_regressor_v2_ensemble_v1_seed1.onnx"]
    for path in models:
        model = onnx.load(str(path))
        assert {n.op_type for n in model.graph.node} <= LIBVMAF_OPS, path.name
        (inp,) = model.graph.input
        assert [d.dim_value or d.dim_param for d in inp.type.tensor_type.shape.dim] == ["batch", PROXY_WIDTH]
        assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)


def test_unseen_encoders_still_run_and_scaling_again_changes_nothing(profile: tuple) -> None:
    folder, _, (_, feats, _) = profile
    path = folder / "fr_regressor_v2_ensemble_v1_seed0.onnx"
    sidecar = json.loads((folder / "fr_regressor_v2_ensemble_v1_seed0.json").read_text())
    assert set(sidecar["unseen_encoders"]) == {"libaom-av1", "libvpx-vp9", "libvvenc", "hevc_nvenc", "av1_nvenc",
                                               "h264_qsv", "hevc_qsv"}
    x = np.stack([proxy_row(feats[0], e, 30) for e in PROXY_VOCAB])
    assert np.isfinite(_run(path, x)).all()
    mean, std = np.asarray(sidecar["feature_mean"]), np.asarray(sidecar["feature_std"])
    rescaled = x.copy()
    rescaled[:, :6] = (x[:, :6] - mean) / std  # the lusoris model card's own step
    np.testing.assert_array_equal(_run(path, rescaled), _run(path, x))
    assert sidecar["crf_range"] == list(PROXY_CRF) and sidecar["feature_order"] == FEATURE_ORDER


def test_registry_rows_sidecars_and_the_ensemble_manifest_follow_the_rules(profile: tuple) -> None:
    folder, _, (_, feats, _) = profile
    rows = json.loads((folder / "registry-rows.json").read_text())
    assert {r["id"] for r in rows} == {"fr_regressor_v2", "fr_regressor_v2_ensemble_v1_seed0",
                                       "fr_regressor_v2_ensemble_v1_seed1"}
    for row in rows:
        assert REGISTRY_REQUIRED <= set(row) <= REGISTRY_REQUIRED | REGISTRY_OPTIONAL, row
        assert REGISTRY_ID.match(row["id"]) and row["kind"] == "fr" and row["smoke"] is False
        assert 7 <= row["opset"] <= 21 and len(row.get("notes", "")) <= 512
        onnx_path = folder / row["onnx"]
        assert row["sha256"] == hashlib.sha256(onnx_path.read_bytes()).hexdigest()
        sidecar = json.loads(onnx_path.with_suffix(".json").read_text())  # <basename>.json beside the .onnx
        assert sidecar["sha256"] == row["sha256"]
        assert sidecar["gate"]["passed"] is True and sidecar["gate"]["verdict"] == "PROMOTE"
    manifest = json.loads((folder / "fr_regressor_v2_ensemble_v1.json").read_text())
    assert set(manifest) >= ENSEMBLE_MANIFEST_KEYS and manifest["codec_vocab"] == list(PROXY_VOCAB)
    assert manifest["feature_order"] == FEATURE_ORDER
    # the ensemble consumer: scale outside the graph, run every member, mean and sample std (ddof=1)
    x = np.stack([proxy_row(feats[i], "libx265", 25) for i in range(5)])
    x[:, :6] = (x[:, :6] - np.asarray(manifest["feature_mean"])) / np.asarray(manifest["feature_std"])
    preds = []
    for member in manifest["members"]:
        path = folder / member["onnx"]
        assert member["id"] == path.stem and member["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        preds.append(_run(path, x))
    spread = np.std(preds, axis=0, ddof=1)
    assert len(preds) == 2 and np.isfinite(np.mean(preds, axis=0)).all() and np.isfinite(spread).all()


def test_the_crf_vmaf_tune_queries_beyond_the_rows_is_said_per_encoder() -> None:
    """The default x264 grid stops at CRF 38 (docs/quality-and-ladder.md) while vmaf-tune queries 10-51: the export
    says which CRF no row reached, per encoder, from the verdict's corpus block, instead of vouching for it."""
    from kit.bundle.vmaftune import CrfCoverage, crf_coverage
    from kit.corpus.summary import TeacherRange

    golden = Verdict.from_json(json.loads((ROOT / "tests" / "data" / "verdict_promote.json").read_text()))
    ranges = (TeacherRange("libx264", 54, 15.4, 99.9, [10, 24, 38], ["native"]),
              TeacherRange("libsvtav1", 54, 14.4, 99.9, [10, 37, 63], ["native"]),
              TeacherRange("h264_videotoolbox", 9, 30.0, 99.0, [24, 80], ["native"]))  # no vmaf-tune slot
    verdict = replace(golden, corpus=replace(golden.corpus, teachers=ranges))
    found = {c.encoder: c for c in crf_coverage(verdict, (10, 51))}
    assert set(found) == {"libx264", "libsvtav1"}
    assert found["libx264"].unmeasured == ["39-51"] and found["libsvtav1"].unmeasured == []
    assert found["libx264"].doc() == {"trained_crf": [10, 38], "queried_crf": [10, 51], "unmeasured_crf": ["39-51"],
                                      "note": "CRF 39-51: no row of the training corpus; predictions there are "
                                              "extrapolation in the crf input"}
    assert CrfCoverage("libx265", (25, 37), (10, 51)).unmeasured == ["10-24", "38-51"]
    assert "CRF 10-24 and 38-51 is unmeasured" in CrfCoverage("libx265", (25, 37), (10, 51)).sentence()


def plain_parity(model: object, path: Path, feats: np.ndarray, encoders: np.ndarray, cqs: np.ndarray,
                 codec: np.ndarray) -> float:
    """kit 2.4's parity: every row vmaf-tune knows and every probe fed at once, the native model run on all."""
    from kit.bundle.vmaftune import VOCAB_V2, v2_rows
    from kit.model.contract import CODEC_VOCAB
    from kit.model.features import codec_block

    keep = np.isin(encoders, VOCAB_V2)
    slotted = [e for e in VOCAB_V2 if e in CODEC_VOCAB]
    crfs = np.arange(PROXY_CRF[0], PROXY_CRF[1] + 1)
    base = feats[np.linspace(0, len(feats) - 1, num=min(len(feats), 16), dtype=int)]
    probe_enc = np.repeat(slotted, len(base) * len(crfs)).astype(object)
    probe_cq = np.tile(np.repeat(crfs, len(base)), len(slotted))
    all_feats = np.concatenate([feats[keep], np.tile(base, (len(slotted) * len(crfs), 1))]).astype(np.float32)
    all_codec = np.concatenate([codec[keep], codec_block(probe_enc, probe_cq)]).astype(np.float32)
    rows = v2_rows(all_feats, np.concatenate([encoders[keep].astype(object), probe_enc]),
                   np.concatenate([np.asarray(cqs)[keep], probe_cq]), PROXY_CRF)
    out = _run(path, rows)
    with torch.no_grad():
        ref = model(torch.from_numpy(all_feats), torch.from_numpy(all_codec)).numpy().astype(np.float64)  # type: ignore[operator]
    return float(np.max(np.abs(out - np.clip(ref, 0, 100))))


@pytest.mark.parametrize("feed, part", [(7, 21), (50, 50), (8_192, 8_192 * 4)])
def test_the_parity_measured_by_parts_is_the_plain_whole(profile: tuple, feed: int, part: int,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """profile_parity's maximum over parts of the rows (and of the session's feeds) is the plain one over all."""
    from kit.bundle import vmaftune

    folder, members, (df, feats, codec) = profile
    monkeypatch.setattr(vmaftune, "PREDICT_ROWS", feed)
    monkeypatch.setattr(vmaftune, "PARITY_PART", part)
    for member in members:
        path = folder / f"fr_regressor_v2_ensemble_v1_seed{member.seed}.onnx"
        args = (feats, df["encoder"].to_numpy(), df["cq"].to_numpy(), codec)
        got = vmaftune.profile_parity(member.model, path, *args, PROXY_CRF)
        assert 0 < got == plain_parity(member.model, path, *args)
