"""The verdict in the consumer's terms (issue 53): each held-out encode predicted as vmaf-tune's fast path predicts it
(mean features, its crf_norm over --vmaftune-crf-range mapped by the export's graph, the member clipped, the mean over
seeds), restated here in plain numpy on a hand-made fold and a known model; the mapping checked against the exported
graph itself; the shares, the gate's arithmetic and its HOLD's words; the untrained slots and what trains them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from kit.bundle.vmaftune import VOCAB_V2, build_profile_onnx, v2_rows
from kit.model.arch import fr_regressor_v2
from kit.model.consumer import CRF_RANGE, QUERIED_ENCODERS, VMAFTUNE_VOCAB, crf_band
from kit.model.contract import CODEC_VOCAB, MODEL_FEATURES
from kit.model.encodes import feed_codec
from kit.model.loso import LosoInputs, evaluate_loso
from kit.model.network import FrRegressor
from kit.model.recipe import TrainConfig
from kit.model.runtime import session
from kit.verdict.consumer import consumer_fit, untrained_note
from kit.verdict.consumer_gates import share_gate
from kit.verdict.document import ConsumerFit, LimitGate
from kit.verdict.gates import CONSUMER_CONTENT_SHARE, CONSUMER_SHARE

X265 = CODEC_VOCAB.index("libx265")


def test_the_feed_is_what_the_exported_graph_computes(tmp_path) -> None:
    """vmaf-tune's [N, 20] row through the export's graph equals the member fed feed_codec's block, clipped, for
    every encoder both sides have a slot for, over the default CRF range and a wider one."""
    assert VMAFTUNE_VOCAB == VOCAB_V2  # the consumer's vocabulary, restated in the model layer, is the export's
    torch.manual_seed(0)
    model = FrRegressor(torch.rand(6) + 0.5, torch.rand(6) + 0.1, fr_regressor_v2(TrainConfig())).eval()
    last = model.slot(model.arch.layers()[-1].name)
    rng = np.random.default_rng(1)
    encoders = np.repeat(np.array(QUERIED_ENCODERS, dtype=object), 52)
    crfs = np.tile(np.arange(52), len(QUERIED_ENCODERS))
    feats = rng.uniform(0.2, 1.0, (len(crfs), 6)).astype(np.float32) * 40
    clipped = []
    for crf_range, shift in ((CRF_RANGE, 0.0), ((0, 63), 100.0)):  # outputs around 0, then around 100: clipped
        with torch.no_grad():
            last.bias += shift
            native = model(torch.from_numpy(feats), torch.from_numpy(feed_codec(encoders, crfs, crf_range))).numpy()
        path = tmp_path / f"m{crf_range[1]}.onnx"
        path.write_bytes(build_profile_onnx(model, crf_range, {}).SerializeToString())
        (graph,) = session(path).run(None, {"input": v2_rows(feats, encoders, crfs, crf_range)})
        assert np.abs(np.clip(native, 0, 100) - np.asarray(graph).reshape(-1)).max() < 1e-4
        clipped.append(np.mean((native < 0) | (native > 100)))
    assert all(0 < share < 1 for share in clipped)
    assert np.isnan(feed_codec(np.array(["h264_vaapi"]), np.array([24]))).all()  # vmaf-tune cannot ask about it


class KnownModel:
    """Members whose output is 140 x adm2 - 60 x cq_norm + 4 x the libx265 slot + an offset of their own: a known
    model the test restates in numpy."""

    def __init__(self, inputs: LosoInputs, seeds: list[int]) -> None:
        self.members = inputs.members(seeds)
        self.offsets = np.linspace(-2.5, 3.0, len(self.members))

    def predict(self, m: int, feats: np.ndarray, codec: np.ndarray) -> np.ndarray:
        return 140.0 * feats[:, 0] - 60.0 * codec[:, -1] + 4.0 * codec[:, X265] + self.offsets[m]


def hand_made_fold() -> pd.DataFrame:
    """Three sources, each at libx264 cq 10, 24 and 38 in two rungs (640x360 and 320x180), 8 frames each; source
    s0 also at libx265 cq 30 (no other source has it: its fold trains on none), s1 at libsvtav1 cq 55 (a CRF
    vmaf-tune does not query) and s2 at h264_vaapi cq 24 (vmaf-tune has no slot for it)."""
    rng = np.random.default_rng(7)
    rows = []
    extra = {0: ("libx265", 30), 1: ("libsvtav1", 55), 2: ("h264_vaapi", 24)}
    for s in range(3):
        for encoder, cq in [*(("libx264", c) for c in (10, 24, 38)), extra[s]]:
            for w, h in ((640, 360), (320, 180)):
                for frame in range(8):
                    feats = rng.uniform(0.6, 0.95, 6)
                    vmaf = min(100.0, 140.0 * feats[0] - 60.0 * cq / 51 + rng.normal(0, 1.5))
                    rows.append({"src": f"s{s}", "src_sha256": f"{s:064x}", "content": f"{s:064x}", "encoder": encoder,
                                 "cq": cq, "enc_width": w, "enc_height": h, "width": 640, "height": 360,
                                 "frame_index": frame, "vmaf": vmaf, **dict(zip(MODEL_FEATURES, feats, strict=True))})
    return pd.DataFrame(rows)


def restated(df: pd.DataFrame, model: KnownModel, inputs: LosoInputs) -> pd.DataFrame:
    """Each encode's prediction as vmaf-tune makes it, in plain numpy: mean features, crf_norm = (crf - 10) / 41 in
    float32, cq_norm = crf_norm x (41 / (hi - lo)) + (10 - lo) / (hi - lo) over the encoder's own range, the member's
    output clipped to [0, 100], the mean over seeds of the members that held the encode out."""
    ranges = {"libx264": (0, 51), "libx265": (0, 51), "libsvtav1": (1, 63)}
    fold_of = {src: f.index for f in inputs.folds for src in df.loc[f.rows, "src"].unique()}
    out = []
    for (src, encoder, cq, _, h), part in df.groupby(["src", "encoder", "cq", "enc_width", "enc_height"]):
        if encoder not in ranges:
            out.append((src, encoder, cq, h, np.nan, part["vmaf"].mean()))
            continue
        lo, hi = ranges[encoder]
        adm2 = np.float32(part["adm2"].mean())
        crf_norm = np.float32((cq - 10) / 41)
        cq_norm = crf_norm * np.float32(41 / (hi - lo)) + np.float32((10 - lo) / (hi - lo))
        preds = [np.clip(140.0 * adm2 - 60.0 * cq_norm + 4.0 * (encoder == "libx265") + model.offsets[m], 0, 100)
                 for m, mem in enumerate(model.members) if mem.fold == fold_of[src]]
        out.append((src, encoder, cq, h, float(np.mean(preds)), part["vmaf"].mean()))
    return pd.DataFrame(out, columns=["src", "encoder", "cq", "enc_height", "predicted", "teacher"])


def test_each_held_out_encode_is_predicted_as_vmaf_tune_predicts_it() -> None:
    df = hand_made_fold()
    inputs = LosoInputs.of(df)
    model = KnownModel(inputs, [0, 1])
    result = evaluate_loso(inputs, [0, 1], model)  # type: ignore[arg-type]
    encodes = result.encodes
    assert encodes is not None and len(encodes) == 3 * 4 * 2  # a native encode and its rung are two encodes
    assert len(result.clips) == 2 * len(encodes) and (result.clips["n_frames"] == 8).all()
    mine = restated(df, model, inputs).merge(encodes, on=["src", "encoder", "cq", "enc_height"],
                                             suffixes=("", "_kit"))
    assert len(mine) == len(encodes)
    assert np.allclose(mine["teacher"], mine["teacher_kit"])
    assert np.allclose(mine["predicted"], mine["predicted_kit"], atol=1e-4, equal_nan=True)
    assert (encodes["predicted"] == 100).any()  # the clip to [0, 100] is exercised
    by = encodes.set_index(["src", "encoder"])
    assert by.loc[("s2", "h264_vaapi"), "crf"].isna().all() and not by.loc[("s2", "h264_vaapi"), "counted"].any()
    assert not by.loc[("s1", "libsvtav1"), "queried"].any()  # CRF 55: vmaf-tune queries 10..51
    assert not by.loc[("s0", "libx265"), "encoder_trained"].any()  # only its own source has libx265 rows
    x264 = encodes[encodes["encoder"] == "libx264"]
    assert x264["counted"].all() and list(x264["crf"]) == list(x264["cq"])
    assert [crf_band(c) for c in (10, 20, 21, 35, 36, 51, 9, 52)] == \
        ["10-20", "10-20", "21-35", "21-35", "36-51", "36-51", "below 10", "above 51"]
    # the shares, the median and the largest miss, over the counted encodes, in plain numpy
    fit = consumer_fit(encodes, 1.5, CRF_RANGE)
    miss = np.abs(x264["predicted"] - x264["teacher"]).to_numpy()
    assert fit.n_encodes == 18 and fit.share_within == pytest.approx(np.mean(miss <= 1.5))
    assert 0 < fit.share_within < 1
    assert fit.median_miss == pytest.approx(np.median(miss)) and fit.max_miss == pytest.approx(miss.max())
    for band in ("10-20", "21-35", "36-51"):
        part = x264[x264["crf_band"] == band]
        (g,) = (g for g in fit.of("crf_band") if g.group == band)
        assert g.share_within == pytest.approx(np.mean(np.abs(part["predicted"] - part["teacher"]) <= 1.5))
    assert [g.share_within for g in fit.of("content")] == sorted(g.share_within for g in fit.of("content"))
    assert fit.not_counted is not None and "2 of h264_vaapi" in fit.not_counted and "outside 10-51" in \
        fit.not_counted and "2 of libx265 whose fold" in fit.not_counted


def encodes_frame(misses: dict[tuple[str, int], list[float]]) -> pd.DataFrame:
    """encodes.parquet rows of libx264, from (content, cq) -> the misses of its encodes."""
    rows = []
    for (content, cq), values in misses.items():
        for i, miss in enumerate(values):
            rows.append({"content": content, "src": content, "src_sha256": content, "encoder": "libx264", "cq": cq,
                         "enc_width": 640 >> i, "enc_height": 360 >> i, "rung": "native" if i == 0 else f"{i}",
                         "crf": cq, "crf_band": crf_band(cq), "n_frames": 4, "teacher": 50.0,
                         "predicted": 50.0 + miss, "miss": abs(miss), "encoder_trained": True, "queried": True,
                         "counted": True, "n_seeds": 2})
    return pd.DataFrame(rows)


def consumer_gates(fit: ConsumerFit, share: float | None, content: float | None) -> tuple[LimitGate, LimitGate]:
    """The two consumer gates of kit.verdict.gates, as the verdict computes them."""
    return (share_gate(fit, share, CONSUMER_SHARE.measure, content=False),
            share_gate(fit, content, CONSUMER_CONTENT_SHARE.measure, content=True))


def test_the_gate_names_the_band_and_the_content_that_failed() -> None:
    # CRF 10-20: 4 of 4 within 1.5; 36-51: 1 of 4; content b: 1 of 4 (25 %), content c: 0 of 2
    frame = encodes_frame({("a", 12): [0.1, 0.2], ("b", 14): [0.3, -1.0], ("b", 40): [2.0, 3.0],
                           ("c", 44): [-1.6, 9.0], ("a", 38): [0.5, 4.0]})
    fit = consumer_fit(frame, 1.5, CRF_RANGE)
    assert fit.n_encodes == 10 and fit.share_within == pytest.approx(0.5)
    share, content = consumer_gates(fit, 0.6, 0.3)
    assert (share.measure, content.measure) == ("consumer_share", "consumer_content_share")
    assert not share.passed and share.failing == ["all", "CRF 36-51", "encoder libx264"]
    assert share.worst == "CRF 36-51" and share.worst_value == pytest.approx(1 / 6)
    assert not content.passed and content.failing == ["content c"]  # b: 2 of 4 (50 %) passes 0.3
    said = CONSUMER_SHARE.failure(share)
    assert "CRF 36-51 16.7% of 6" in said and "--min-consumer-share 0.6" in said and "CRF 10-20" not in said
    assert "content c 0.0% of 2" in CONSUMER_CONTENT_SHARE.failure(content) and "--min-consumer-content-share 0.3" \
        in CONSUMER_CONTENT_SHARE.failure(content)
    loose = consumer_gates(fit, 0.1, 0.0)
    assert all(g.passed for g in loose) and "lowest CRF 36-51 16.7% of 6" in str(loose[0].statement)
    off = consumer_gates(fit, None, None)
    assert all(g.passed and not g.enabled for g in off)
    assert ConsumerFit.from_json(fit.to_json()) == fit


def test_a_nan_miss_fails_and_nothing_to_query_is_said() -> None:
    frame = encodes_frame({("a", 12): [0.1, 0.2], ("b", 24): [0.3, 0.4]})
    frame.loc[0, ["predicted", "miss"]] = np.nan  # a member that diverged
    fit = consumer_fit(frame, 1.5, CRF_RANGE)
    assert fit.share_within == pytest.approx(0.75) and np.isnan(fit.max_miss) and fit.worst_encode == "a libx264 cq 12"
    assert fit.unmeasured_bands == ["36-51"]
    none = consumer_fit(frame.assign(counted=False, queried=False, crf=pd.NA), 1.5, CRF_RANGE)
    gates = consumer_gates(none, 0.6, 0.25)
    assert none.n_encodes == 0 and all(g.passed is None for g in gates)  # nothing to judge: never a pass
    assert all(str(g.statement).startswith("not judged: no held-out encode vmaf-tune can query") and g.not_judged
               for g in gates)


def test_the_untrained_slots_are_named_with_what_trains_them() -> None:
    fit = consumer_fit(encodes_frame({("a", 12): [0.1]}), 1.5, CRF_RANGE)
    slots = {s.encoder: s for s in fit.untrained}
    assert list(slots) == [e for e in VMAFTUNE_VOCAB if e != "libx264"]
    assert slots["libx265"].trains_it == "--encoders libx264,libx265"
    assert slots["h264_nvenc"].trains_it == "--encoders h264_nvenc,libx264 on a box with NVIDIA NVENC"
    assert slots["libaom-av1"].trains_it is None and "no slot in the kit's models" in slots["libaom-av1"].why
    assert fit.train_hint is not None and fit.train_hint.startswith(
        "libx265, libsvtav1 (--encoders libsvtav1,libx264,libx265 trains them)")
    assert not {g.group for g in fit.groups if g.by == "encoder"} - {"libx264"}  # no figure for an untrained slot
    note = untrained_note(fit)  # what the vmaf-tune registry rows' notes add
    assert note.startswith("; one-hot slots never trained (extrapolated): libx265,libsvtav1,h264_nvenc") and \
        note.endswith("; no slot in the models: libaom-av1,libvpx-vp9,libvvenc") and len(note) < 200
    assert untrained_note(None) == ""


def test_verify_holds_a_promote_to_its_consumer_gates() -> None:
    """A PROMOTE.json whose consumer gate row fails by its own figures is a contradiction `verify` refuses."""
    from kit.verdict.recheck import contradiction
    from tests.unit.test_claims_checked import PASSING

    fit = consumer_fit(encodes_frame({("a", 12): [0.1, 0.2], ("b", 40): [2.0, 3.0]}), 1.5, CRF_RANGE)
    passing = [g.to_json() for g in consumer_gates(fit, 0.0, 0.0)]
    assert contradiction({**PASSING, "consumer_gates": passing}) is None
    edited = [{**passing[0], "threshold": 0.6}, passing[1]]  # CRF 36-51 stays at 0 of 2, the threshold edited
    said = contradiction({**PASSING, "consumer_gates": edited})
    assert said is not None and "consumer_gates consumer_share fails: its worst value 0 is below its threshold " \
        "0.6" in said


def test_an_encode_of_no_recorded_size_is_named_not_a_crash() -> None:
    """The bash kit's JSONL rows record no size: their heights are null in a union, and naming their rung ended the
    union's LOSO in exit 70 (cannot convert float NaN to integer)."""
    import pandas as pd

    from kit.model.encodes import rungs_of

    frame = pd.DataFrame({"enc_height": [float("nan"), 360.0, 180.0], "height": [float("nan"), 360.0, 360.0]})
    labels = rungs_of(frame)
    assert len(labels) == 3 and labels[1] != labels[2] and all(isinstance(x, str) for x in labels)
