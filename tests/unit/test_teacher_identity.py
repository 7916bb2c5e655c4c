"""The teacher is part of the data's identity (issue 39): what `--teacher` accepts at the flag, the tag exported
ids and file names carry when the teacher is not vmaf_v0.6.1 (within upstream's registry rules), and the
teacher in the ONNX metadata, the model cards and the ensemble manifests of both export profiles."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path

import onnx
import pytest
from click.testing import CliRunner

from kit.bundle.conformal import confidence
from kit.bundle.models import export_ensemble
from kit.bundle.registry import MAX_ID, proposed_ids, with_tag
from kit.bundle.vmaftune import Shipping
from kit.cli.main import cli
from kit.corpus.schema import corpus_sha256
from kit.corpus.summary import summarise_corpus
from kit.errors import InputError
from kit.infra.tree import Tree
from kit.media.libvmaf import BUILTIN_TEACHERS, Teacher
from kit.media.teachers import setting_text, teacher_of
from kit.model.recipe import TrainConfig
from kit.verdict.document import Verdict
from tests.conftest import ROOT
from tests.kitfiles import shard_table, write_shard, write_tiny_model

REGISTRY_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")  # model/tiny/registry.schema.json, $defs.model_entry.id
SHA = "1a2b3c4d" * 8


def test_the_default_teacher_has_no_tag_and_every_other_one_has_its_own() -> None:
    tags = {name: Teacher(name).tag for name in BUILTIN_TEACHERS}
    assert tags == {"vmaf_v0.6.1": "", "vmaf_v0.6.1neg": "v0_6_1neg", "vmaf_4k_v0.6.1": "4k_v0_6_1"}
    v1 = Teacher("vmaf_v1.0.16_3d0h", "/m/vmaf_v1.0.16_3d0h.json", SHA)
    assert v1.tag == "v1_0_16_3d0h_1a2b3c4d" and v1.label == "vmaf_v1.0.16_3d0h (model file, sha256 1a2b3c4d1a2b)"
    # a file named like the default is not the default: its bytes are its identity
    assert Teacher("vmaf_v0.6.1", "/m/vmaf_v0.6.1.json", SHA).tag == "v0_6_1_1a2b3c4d"
    assert Teacher("a" * 80, "/m/x.json", SHA).tag == "aaaaaaaaaaaa_1a2b3c4d"


@pytest.mark.parametrize("teacher", [Teacher("vmaf_v0.6.1neg"), Teacher("vmaf_4k_v0.6.1"),
                                     Teacher("vmaf_v1.0.16_1d5h_2160", "/m/x.json", SHA)])
def test_every_proposed_id_keeps_upstreams_rules_at_the_largest_seed(teacher: Teacher) -> None:
    for row_id in proposed_ids([0, 2**31 - 1], teacher.tag):
        assert REGISTRY_ID.match(row_id) and len(row_id) <= MAX_ID, row_id
        assert teacher.tag in row_id


def test_the_flag_takes_a_built_in_or_a_model_file_and_names_a_bad_one(tmp_path: Path) -> None:
    model = write_tiny_model(tmp_path / "tiny.json")
    assert setting_text("vmaf_v0.6.1neg") == "vmaf_v0.6.1neg" and setting_text(str(model)) == str(model)
    assert teacher_of(str(model)).sha256 == hashlib.sha256(model.read_bytes()).hexdigest()
    (tmp_path / "notjson.json").write_text("{model")
    (tmp_path / "other.json").write_text(json.dumps({"model": "x"}))
    (tmp_path / "pipe|d.json").write_text(model.read_text())
    cases = {tmp_path / "missing.json": "does not exist", tmp_path: "is a folder, not a model file",
             tmp_path / "notjson.json": "is not JSON", tmp_path / "other.json": "is not a libvmaf model",
             tmp_path / "pipe|d.json": "cannot hold a path with '|'"}
    for path, said in cases.items():
        with pytest.raises(InputError) as info:
            teacher_of(str(path))
        assert info.value.message.startswith(f"--teacher {path}: ") and said in info.value.message
        res = CliRunner().invoke(cli, ["run", "--teacher", str(path), "--out-dir", str(tmp_path / "o")])
        assert res.exit_code == 2 and str(path) in res.stderr and said in res.stderr, res.output
        assert not (tmp_path / "o").exists()  # refused at the flag: nothing was made


def test_a_teacher_and_a_given_corpus_are_refused_together(tmp_path: Path) -> None:
    corpus = write_shard(tmp_path / "c.parquet")
    res = CliRunner().invoke(cli, ["run", "--corpus", str(corpus), "--teacher", "vmaf_v0.6.1neg",
                                   "--out-dir", str(tmp_path / "o")])
    assert res.exit_code == 2 and "--teacher vmaf_v0.6.1neg and --corpus cannot be combined" in res.stderr


def exported(tmp_path: Path, name: str, sha: str) -> tuple[Path, Verdict]:
    """A promoted verdict on a corpus of `name`'s rows (sha: a model file's), exported by the bundle's writer."""
    table = shard_table(n_src=3, rows_per_src=20)
    for column, value in (("teacher_model", name), ("teacher_sha256", sha)):
        table = table.set_column(table.column_names.index(column), column, [[value] * table.num_rows])
    corpus = write_shard(tmp_path / "corpus.parquet", table)
    golden = Verdict.from_json(json.loads((ROOT / "tests" / "data" / "verdict_promote.json").read_text()))
    summary = summarise_corpus(corpus, corpus_sha256(corpus))
    verdict = replace(golden, seeds=[0], per_seed=golden.per_seed[:1], corpus=summary,
                      teacher_model=summary.teacher_models[0] if summary.teacher_models else "",
                      teacher_sha256=summary.teacher_sha256)
    exports = tmp_path / "exports"
    with Tree.open(tmp_path) as tree:
        tree.make_folder(exports)
        export_ensemble(tree, verdict, TrainConfig(epochs=1, batch_size=64), exports, (10, 51),
                        Shipping("BSD-3-Clause", "https://spdx.org/licenses/BSD-3-Clause.html", confidence(None),
                                 None))
    return exports, verdict


def metadata(path: Path) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def test_a_model_file_teacher_is_named_in_every_export(tmp_path: Path) -> None:
    """File names and ids carry the tag; ONNX metadata, the kit's card, vmaf-tune's sidecar and both ensemble
    manifests name the model and its sha256."""
    exports, verdict = exported(tmp_path, "vmaf_v1.0.16_3d0h", SHA)
    assert verdict.teacher_sha256 == SHA and verdict.teacher.tag == "v1_0_16_3d0h_1a2b3c4d"
    tag = verdict.teacher.tag
    assert sorted(p.name for p in exports.glob("*.onnx")) == [f"fr_regressor_v2_{tag}_seed0.onnx"]
    card = json.loads((exports / f"fr_regressor_v2_{tag}_seed0.json").read_text())
    assert card["teacher_model"] == "vmaf_v1.0.16_3d0h" and card["teacher"]["sha256"] == SHA
    assert card["teacher"]["builtin"] is False and card["name"] == f"fr_regressor_v2_{tag}_seed0"
    ensemble = json.loads((exports / "ensemble.json").read_text())
    assert ensemble["name"] == f"fr_regressor_v2_ensemble_{tag}" and ensemble["teacher_sha256"] == SHA
    assert metadata(exports / f"fr_regressor_v2_{tag}_seed0.onnx")["teacher_sha256"] == SHA
    tune = exports / "vmaftune"
    assert sorted(p.name for p in tune.glob("*.onnx")) == [f"fr_regressor_v2_ensemble_v1_{tag}_seed0.onnx",
                                                           f"fr_regressor_v2_{tag}.onnx"]
    rows = json.loads((tune / "registry-rows.json").read_text())
    assert {r["id"] for r in rows} == {f"fr_regressor_v2_{tag}", f"fr_regressor_v2_ensemble_v1_{tag}_seed0"}
    assert all("teacher vmaf_v1.0.16_3d0h (model file, sha256 1a2b3c4d1a2b)" in r["notes"] for r in rows)
    manifest = json.loads((tune / f"fr_regressor_v2_ensemble_v1_{tag}.json").read_text())
    assert manifest["id"] == f"fr_regressor_v2_ensemble_v1_{tag}"
    sidecar = json.loads((tune / f"fr_regressor_v2_{tag}.json").read_text())
    assert sidecar["teacher"]["sha256"] == SHA and sidecar["corpus"]["teacher_sha256"] == SHA
    assert "vmaf_v1.0.16_3d0h teacher" in sidecar["gate"]["measures"]
    assert metadata(tune / f"fr_regressor_v2_{tag}.onnx")["teacher_model"] == "vmaf_v1.0.16_3d0h"


def test_the_default_teacher_keeps_the_names_vmaf_tune_loads(tmp_path: Path) -> None:
    exports, verdict = exported(tmp_path, "vmaf_v0.6.1", "")
    assert verdict.teacher_sha256 is None and verdict.teacher.tag == ""
    assert [p.name for p in exports.glob("*.onnx")] == ["fr_regressor_v2_seed0.onnx"]
    assert sorted(p.name for p in (exports / "vmaftune").glob("*.onnx")) == [
        "fr_regressor_v2.onnx", "fr_regressor_v2_ensemble_v1_seed0.onnx"]
    meta = metadata(exports / "fr_regressor_v2_seed0.onnx")
    assert meta["teacher_model"] == "vmaf_v0.6.1" and "teacher_sha256" not in meta
    assert json.loads((exports / "ensemble.json").read_text())["name"] == "fr_regressor_v2_ensemble"


def test_a_teacher_vmaf_tune_does_not_verify_with_is_said_in_the_cards_and_registry_rows(tmp_path: Path) -> None:
    """vmaf-tune's fast path verifies a proxy's pick with vmaf_v0.6.1 whatever the height (lusoris/vmaf tools/
    vmaf-tune/src/vmaftune/score.py: ScoreRequest.model, line 40; fast.py's verify keeps it, line 477): a proxy of
    another teacher says so in the kit's card, vmaf-tune's sidecars and every registry row's notes."""
    said = "vmaf-tune's fast path verifies with vmaf_v0.6.1 whatever the height"
    for name, sha, tells in (("vmaf_4k_v0.6.1", "", True), ("vmaf_v1.0.16_3d0h", SHA, True),
                             ("vmaf_v0.6.1", "", False)):
        exports, verdict = exported(tmp_path / name, name, sha)
        tag = verdict.teacher.tag
        cards = [json.loads((exports / f"{with_tag('fr_regressor_v2', tag)}_seed0.json").read_text()),
                 *(json.loads(p.read_text()) for p in (exports / "vmaftune").glob("fr_regressor_v2*.json")
                   if "teacher" in json.loads(p.read_text()))]
        assert len(cards) == 3 and all(c["teacher"]["vmaf_tune_verifies_with"] == "vmaf_v0.6.1" for c in cards)
        assert all((said in c["teacher"].get("vmaf_tune_note", "")) == tells for c in cards), name
        rows = json.loads((exports / "vmaftune" / "registry-rows.json").read_text())
        assert all((said in r["notes"]) == tells and len(r["notes"]) <= 512 for r in rows), name
        assert all(r["notes"].endswith("; layout vmaftune-v2-20") for r in rows)  # nothing cut
