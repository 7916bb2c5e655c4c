"""The model's input contract is pinned, apart from the encoder table and from what libvmaf measures; each
feature list is declared once (kit.media.libvmaf.TABLE): the corpus's columns and the model's input sets derive from
it, and the outside contracts (bash-kit JSONL, the exports, the vmaf-tune feed) are literal copies checked against
it."""

from __future__ import annotations

import ast
import itertools
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from kit.corpus import jobs, schema
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
    v1 = contract.input_features(contract.CANONICAL6_V1)
    assert v1[:6] == MODEL_FEATURES and set(v1[6:]) <= set(schema.EXTRA_FEATURES)
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


# -- each feature list declared once --------------------------------------------------------------------------
# (SCHEMA_VERSION, JOB_ROWS_VERSION) -> sha256 of the corpus's columns and types: a feature added to
# kit.media.libvmaf.TABLE is a column of every corpus file, so a new schema version
PINNED_COLUMNS: dict[tuple[int, int], str] = {
    (5, 4): "4e49bd07106551cf2f6fa5e8aac45b1c7813f21e61be00a3c00903b3552c13aa",
    # the teacher's own six (NEG's), null on every other row: a job of rows version 4 reads them null (its teacher's
    # jobs are told apart by their fingerprints' teacher_keys), so the jobs of every other teacher are kept
    (6, 4): "e86d0bedc3565b6bf9af5582f14c44771c1b9b92e718e19030b77ef98375cd05",
}
# the outside contracts, each a literal copy in its own module, as its reader spells it: the bash kit's rows, the
# exports' readers, vmaf-tune's feed
COPIES = {"kit/corpus/jsonl.py": "JSONL_FEATURES", "kit/corpus/export.py": "EXPORT_FEATURES",
          "kit/bundle/profile_words.py": "FEED_FEATURES"}
TABLE_AT = ("kit/media/libvmaf.py", "TABLE")


def test_the_corpus_columns_are_pinned_to_the_schema_version() -> None:
    from kit.corpus.columns import JOB_ROWS_VERSION
    from kit.corpus.manifests import SCHEMA_VERSION

    digest = sha256_json([[f.name, str(f.type)] for f in schema.SCHEMA])
    assert PINNED_COLUMNS.get((SCHEMA_VERSION, JOB_ROWS_VERSION)) == digest, (
        "the corpus's columns changed: bump SCHEMA_VERSION (kit/corpus/manifests.py) and JOB_ROWS_VERSION "
        f"(kit/corpus/columns.py), say how older files read, and pin {digest} here")


def test_the_kits_own_lists_are_the_tables() -> None:
    """The corpus's columns, the model's input sets, the log's keys and extractors, the ranges: derived forms."""
    canonical = tuple(f.name for f in libvmaf.TABLE if not f.opt_in)
    assert libvmaf.FEATURES == schema.CORPUS_FEATURES == MODEL_FEATURES == canonical
    assert tuple(f"integer_{f}" for f in canonical) == libvmaf.FEATURE_KEYS  # libvmaf's integer extractors
    assert libvmaf.CANONICAL_EXTRACTORS == "name=adm|name=vif|name=motion"
    assert schema.EXTRA_FEATURES == libvmaf.EXTRA_FEATURES == tuple(f.name for f in libvmaf.TABLE if f.opt_in)
    assert len(libvmaf.EXTRA_KEYS) == len(libvmaf.EXTRA_FEATURES) == libvmaf.EXTRA_EXTRACTORS.count("|") + 1
    for name in contract.INPUT_SETS:
        assert contract.input_features(name) == tuple(f.name for f in libvmaf.TABLE if name in f.sets)
    assert contract.LOG_FEATURES == ("motion2", "motion3")
    # every stored score has its range check, the table's in its order
    assert list(schema.PLAUSIBLE) == [*schema.CORPUS_FEATURES, "vmaf", *schema.EXTRA_FEATURES, *schema.TEACHER_FEATURES]
    assert tuple(f"teacher_{f}" for f in canonical) == schema.TEACHER_FEATURES  # the teacher's own six (NEG's)
    assert set(schema.COLUMNS) >= {f.name for f in libvmaf.TABLE}


def test_each_outside_contract_is_a_literal_copy_of_the_table() -> None:
    """Their readers spell the names: a literal tuple, said at the copy, equal to the table's canonical six."""
    for module, name in COPIES.items():
        text = (ROOT / module).read_text()
        value = _assigned(ast.parse(text), name)
        assert isinstance(value, ast.Tuple) and all(isinstance(e, ast.Constant) and isinstance(e.value, str)
                                                    for e in value.elts), f"{module}: {name} is not a literal tuple"
        assert tuple(e.value for e in value.elts) == libvmaf.FEATURES, f"{module}: {name} is not the canonical six"
        assert "contract copy" in _comment_above(text, value.lineno), f"{module}: {name} does not say it is a copy"


def test_no_other_module_spells_a_feature() -> None:
    """A feature's name or libvmaf key is written in the table and the outside copies only (a docstring may name
    one): a list, a map or a sentence the kit uses derives from the table (the --inputs help:
    contract.INPUTS_HELP)."""
    words = re.compile(r"\b(" + "|".join(re.escape(w) for f in libvmaf.TABLE for w in (f.name, f.key)) + r")\b")
    found = []
    for path in sorted((ROOT / "kit").rglob("*.py")):
        module = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text())
        allowed = {id(n) for name in [COPIES.get(module), TABLE_AT[1] if module == TABLE_AT[0] else None] if name
                   for n in ast.walk(_assigned(tree, name))}
        docs = {id(n.body[0].value) for n in ast.walk(tree) if isinstance(n, DOCUMENTED) and n.body
                and isinstance(n.body[0], ast.Expr)}
        found += [f"{module}:{n.lineno}: {n.value[:60]!r}" for n in ast.walk(tree)
                  if isinstance(n, ast.Constant) and isinstance(n.value, str) and words.search(n.value)
                  and id(n) not in allowed | docs]
    assert not found, "spelled outside kit.media.libvmaf.TABLE:\n" + "\n".join(found)


def test_the_inputs_help_names_the_tables_features() -> None:
    from kit.cli.flags import FLAGS

    assert next(f.help for f in FLAGS if f.opt == "--inputs") == contract.INPUTS_HELP
    assert "VMAF v1's cambi, speed_chroma_uv, adm3 and motion3, scored" in contract.INPUTS_HELP


def _comment_above(text: str, lineno: int) -> str:
    """The comment lines right above line `lineno`, as one line."""
    above = itertools.takewhile(lambda line: line.startswith("#"), reversed(text.splitlines()[:lineno - 1]))
    return " ".join(line.lstrip("# ") for line in reversed(list(above)))


DOCUMENTED = ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def _assigned(tree: ast.Module, name: str) -> ast.expr:
    """The one value assigned to `name` in the module."""
    found = [n.value for n in ast.walk(tree) if isinstance(n, ast.Assign | ast.AnnAssign) and n.value is not None
             and any(isinstance(t, ast.Name) and t.id == name
                     for t in (n.targets if isinstance(n, ast.Assign) else [n.target]))]
    assert len(found) == 1, f"{name} is assigned {len(found)} times"
    return found[0]


def test_the_contracts_fit_together_today() -> None:
    assert set(MODEL_FEATURES) <= set(schema.CORPUS_FEATURES)  # the model reads stored ones
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
