"""The model's input contract is pinned, apart from the encoder table and from what libvmaf measures; each
contract (corpus schema, bash-kit JSONL, model v2 input, vmaf-tune feed) names its own columns."""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from kit.bundle import vmaftune
from kit.corpus import jobs, jsonl, schema
from kit.corpus.jobs import Job, Provenance, frame_table
from kit.errors import InputError
from kit.infra.files import sha256_json
from kit.media import libvmaf
from kit.media.refs import Clip
from kit.model import contract
from kit.model.contract import CANONICAL6, CODEC_VOCAB, CODEC_VOCAB_VERSION, INPUT_SETS, MODEL_FEATURES, cq_ranges
from kit.model.features import CODEC_DIM, codec_block
from kit.platforms import encoders
from kit.platforms.detect import detect_families
from kit.platforms.encoders import ENCODER_NAMES, EncoderSpec
from kit.platforms.signals import HostSignals, NvidiaGpu, RenderNode, VideoController
from tests.conftest import ROOT

# (INPUT_VERSION, CODEC_VOCAB_VERSION) -> input_digest(): the contracts that were shipped
PINNED: dict[tuple[int, int], str] = {
    (2, 1): "1aa48f77ea8dd8033c7846fe6fd70de4f25d65232cbcaae99bacdc4069cf3618",
    (2, 2): "307bc4fe4c06acf65e3c3fdba16957c56f7db00a2350ee3ba64893a382cc9689",
    (3, 2): "0b8ded59abb69b47b73bb64f2e5c075121fb38db2a2e320f849e79bda3e788b1",
}
BUMP = ("the model's inputs changed: that is a major version (CHANGELOG). If it is meant, bump INPUT_VERSION "
        "(features) or CODEC_VOCAB_VERSION (vocabulary) in kit/model/contract.py and pin the new input_digest() here")


def input_digest(inputs: str = CANONICAL6) -> str:
    """sha256 over everything that decides a row's model input: the version pair, the features, the vocabulary
    and the cq ranges."""
    version, features = INPUT_SETS[inputs]
    return sha256_json({"input_version": version, "codec_vocab_version": CODEC_VOCAB_VERSION,
                        "features": list(features), "codec_vocab": list(CODEC_VOCAB),
                        "cq_ranges": {k: list(v) for k, v in cq_ranges().items()}})


def test_the_shipped_input_contract_is_pinned() -> None:
    key = (contract.INPUT_VERSION, contract.CODEC_VOCAB_VERSION)
    assert key in PINNED, BUMP
    assert input_digest() == PINNED[key], BUMP


def test_the_opt_in_input_set_is_a_contract_of_its_own() -> None:
    """canonical6+v1: its own version and pin, the canonical six first (an incumbent and vmaf-tune read those),
    then VMAF v1's four as libvmaf measures them and the corpus stores them."""
    assert contract.input_version(contract.CANONICAL6_V1) == contract.V1_INPUT_VERSION != contract.INPUT_VERSION
    assert input_digest(contract.CANONICAL6_V1) == PINNED[(contract.V1_INPUT_VERSION, contract.CODEC_VOCAB_VERSION)]
    assert contract.V1_FEATURES[:6] == MODEL_FEATURES
    assert contract.V1_FEATURES[6:] == libvmaf.EXTRA_FEATURES == schema.EXTRA_FEATURES
    assert len(libvmaf.EXTRA_KEYS) == len(libvmaf.EXTRA_FEATURES)
    from kit.platforms import teacher

    assert teacher.CANONICAL6_V1 == contract.CANONICAL6_V1 and set(contract.INPUT_SETS) == {
        contract.CANONICAL6, contract.CANONICAL6_V1}


def with_encoder(monkeypatch: pytest.MonkeyPatch, spec: EncoderSpec) -> None:
    monkeypatch.setitem(encoders.SPECS, spec.name, spec)
    monkeypatch.setattr(encoders, "ENCODER_NAMES", (*ENCODER_NAMES, spec.name))


def test_a_new_encoder_row_leaves_every_model_input_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    rows_enc = np.array(["libx264", "hevc_nvenc", "h264_videotoolbox"], dtype=object)
    rows_cq = np.array([19, 31, 37])
    before = codec_block(rows_enc, rows_cq)
    with_encoder(monkeypatch, EncoderSpec("vvc_future", "nvenc", "hevc", (), "yuv420p", (0, 63)))
    assert input_digest() == PINNED[(contract.INPUT_VERSION, contract.CODEC_VOCAB_VERSION)]
    assert np.array_equal(codec_block(rows_enc, rows_cq), before) and before.shape[1] == CODEC_DIM
    with pytest.raises(InputError, match=r"vvc_future has no slot in the model's codec vocabulary \(model input v2, "
                                         r"codec vocabulary v2\).*\(2 rows\)"):
        codec_block(np.array(["libx264", "vvc_future", "vvc_future"], dtype=object), np.array([19, 25, 31]))


def test_a_changed_quality_range_of_a_vocabulary_encoder_breaks_the_pin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(encoders.SPECS, "libx265", replace(encoders.SPECS["libx265"], cq_range=(0, 63)))
    assert input_digest() != PINNED[(contract.INPUT_VERSION, contract.CODEC_VOCAB_VERSION)]


def test_an_encoder_the_kit_does_not_know_at_all_is_named_as_such() -> None:
    with pytest.raises(InputError, match="unknown encoder 'libfoo'"):
        codec_block(np.array(["libfoo"], dtype=object), np.array([25]))


def test_a_new_measured_feature_changes_neither_the_corpus_rows_nor_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """libvmaf learns a seventh feature: the corpus stores its own six (a new column is a new schema version)."""
    seven = (*libvmaf.FEATURES, "xpsnr")
    monkeypatch.setattr(jobs, "FEATURES", seven)
    clip = Clip(path="/refs/a.y4m", src="a", kind="y4m", width=176, height=144, fps="25/1", pix_fmt="yuv420p",
                n_frames=3, sha256="ab" * 32)
    prov = Provenance("box", "linux-x86_64", "cpu", "ffmpeg", "9", "9+x", "3.0")
    feats = np.arange(21, dtype=np.float64).reshape(3, 7) / 100
    table = frame_table(Job(clip, "libx264", 25), prov, feats, np.array([90.0, 91.0, 92.0]), 100, 1.0)
    assert tuple(table.column_names) == schema.JOB_COLUMNS and "xpsnr" not in table.column_names
    assert all(table[f].null_count == 3 for f in schema.EXTRA_FEATURES)  # VMAF v1's four: not measured
    assert table["motion2"].to_pylist() == list(feats[:, 5])  # taken by name, not by position


# -- each contract names its own columns --------------------------------------------------------------------
CONTRACTS = {"kit/media/libvmaf.py": "FEATURES", "kit/corpus/columns.py": "CORPUS_FEATURES",
             "kit/corpus/jsonl.py": "JSONL_FEATURES", "kit/model/contract.py": "MODEL_FEATURES",
             "kit/bundle/vmaftune.py": "FEED_FEATURES", "kit/corpus/export.py": "EXPORT_FEATURES"}


@pytest.mark.parametrize(("module", "name"), sorted(CONTRACTS.items()))
def test_each_contract_spells_its_columns_itself(module: str, name: str) -> None:
    """A literal tuple of names in its own module: no contract moves because another one did."""
    tree = ast.parse((ROOT / module).read_text())
    found = [n.value for n in ast.walk(tree) if isinstance(n, ast.Assign | ast.AnnAssign)
             and any(isinstance(t, ast.Name) and t.id == name for t in (n.targets if isinstance(n, ast.Assign)
                                                                         else [n.target]))]
    assert len(found) == 1, f"{module} assigns {name} {len(found)} times"
    value = found[0]
    assert isinstance(value, ast.Tuple) and all(isinstance(e, ast.Constant) and isinstance(e.value, str)
                                                for e in value.elts), f"{module}: {name} is not a literal tuple"


def test_the_contracts_fit_together_today() -> None:
    assert set(MODEL_FEATURES) <= set(schema.CORPUS_FEATURES) <= set(libvmaf.FEATURES)  # the model reads stored ones
    assert jsonl.JSONL_FEATURES == schema.CORPUS_FEATURES  # a bash-kit row fills every feature column
    assert vmaftune.FEED_FEATURES == MODEL_FEATURES  # the feed's columns 0-5 go straight to the member
    # every stored score has its range check
    assert set(schema.PLAUSIBLE) == {*schema.CORPUS_FEATURES, *schema.EXTRA_FEATURES, "vmaf"}
    assert set(CODEC_VOCAB) <= set(ENCODER_NAMES)  # every slot is an encoder the kit can drive


def test_no_host_family_makes_an_encoder_without_a_model_slot_a_default() -> None:
    """`--encoders auto` trains on what it picks: a family may offer an unslotted encoder only as opt-in."""
    hosts = [HostSignals("linux", "x86_64", "cpu", gpus=(NvidiaGpu(0, "RTX 4090", "550"),),
                         render_nodes=(RenderNode("/dev/dri/renderD128", "0x8086", "i915"),)),
             HostSignals("darwin", "arm64", "Apple M2"),
             HostSignals("windows", "x86_64", "cpu", gpus=(NvidiaGpu(0, "RTX 4090", "550"),),
                         video_controllers=(VideoController("AMD Radeon RX 7800 XT", "0x1002"),))]
    for sig in hosts:
        for family in detect_families(sig):
            assert set(family.defaults) <= set(CODEC_VOCAB), family
    offered = {n for sig in hosts for f in detect_families(sig) for n in f.opt_in}
    assert {"h264_amf", "hevc_amf", "av1_amf"} <= offered


def test_a_run_that_trains_refuses_an_unslotted_encoder_before_any_work(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from kit.cli.main import cli

    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["run", "--encoders", "libx264,h264_amf", "--out-dir", str(out)])
    assert res.exit_code == 2, res.output
    assert "error: --encoders: h264_amf has no slot in the model's codec vocabulary (model input v2, codec " \
           "vocabulary v2)" in res.output
    assert "train on libx264 (--encoders libx264)" in res.output and "step prereqs --encoders libx264,h264_amf" \
        in res.output
    assert not out.exists()
