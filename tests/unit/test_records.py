"""Typed records: their JSON is the file format, byte for byte, and damage is refused, not guessed at."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from kit.errors import InputError
from kit.infra.records import Record, RecordError, flatten, omit_none
from kit.model.results import BaselineResult, Baselines, FoldResult, SeedReport
from kit.verdict.document import Verdict
from tests.conftest import ROOT

# PROMOTE.json that kit 0.1.0 wrote (commit f41ef5e, the flat layout) for the default run
GOLDEN = ROOT / "tests" / "data" / "verdict_promote.json"


def _as_written(doc: dict[str, object]) -> str:
    """The bytes kit.infra.files.write_json gives a document."""
    return json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n"


def test_a_verdict_file_reads_and_writes_back_byte_for_byte() -> None:
    text = GOLDEN.read_text()
    verdict = Verdict.from_json(json.loads(text))
    assert _as_written(verdict.to_json()) == text
    assert verdict.promoted and verdict.gate.passed and len(verdict.per_fold) == 45
    assert verdict.per_fold[0].seed == 0 and verdict.incumbent is None and verdict.challenger_gate.statement is None
    assert verdict.baselines["ridge"].details["alpha"] == 1.0  # a baseline's own description survives


def test_seed_report_folds_carry_the_seed_but_write_the_bash_kits_layout() -> None:
    doc = {"seed": 3, "mean_plcc": 0.99, "std_plcc": 0.01, "min_plcc": 0.98, "max_plcc": 1.0, "mean_srocc": 0.98,
           "mean_krocc": 0.9, "mean_rmse": None, "n_folds": 1,
           "folds": [{"fold": 0, "src": "a", "src_sha256": "0" * 64, "n_frames": 5, "share_vmaf_100": 0.0,
                      "plcc": 0.99, "srocc": 0.98, "krocc": 0.9, "rmse": None}]}
    report = SeedReport.from_json(doc)
    assert report.folds[0].seed == 3 and math.isnan(report.mean_rmse) and math.isnan(report.folds[0].rmse)
    assert report.to_json() == doc and list(report.to_json()) == list(doc)


def test_baselines_keep_every_model_and_its_keys_in_order() -> None:
    ridge = BaselineResult("ridge", {"alpha": 1.0, "inputs": "x"}, 0.9, 0.8, 0.7, 2.0, 1,
                           (FoldResult(fold=0, src="a", src_sha256="0" * 64, n_frames=5, plcc=0.9, srocc=0.8,
                                       krocc=0.7, rmse=2.0),))
    doc = Baselines("f" * 64, {"ridge": ridge, "linear": replace(ridge, model="linear", details={"params": 7})})
    written = doc.to_json()
    assert list(written) == ["corpus_sha256", "ridge", "linear"]
    assert list(written["ridge"]) == ["model", "alpha", "inputs", "mean_plcc", "mean_srocc", "mean_krocc",
                                      "mean_rmse", "n_folds", "folds"]
    assert "seed" not in written["ridge"]["folds"][0] and "share_vmaf_100" not in written["ridge"]["folds"][0]
    assert Baselines.from_json(written) == doc


@dataclass(frozen=True)
class _Doc(Record):
    name: str
    score: float
    extra: dict[str, object] = flatten()
    note: str | None = omit_none()


@pytest.mark.parametrize(("doc", "problem"), [
    ([], "list where an object was expected"),
    ({"score": 1.0}, "lacks 'name'"),
    ({"name": 3, "score": 1.0}, "is not a str"),
    ({"name": "a", "score": "high"}, "is not a number"),
    ({"name": "a", "score": True}, "is not a number"),
    ({"name": "a", "score": 1.0, "schema_version": 9}, "newer than this kit reads"),
])
def test_damaged_documents_are_refused_with_the_reason(doc: object, problem: str) -> None:
    with pytest.raises(RecordError, match=problem):
        _Doc.from_json(doc)


def test_nan_is_null_and_unknown_keys_flatten_in_place() -> None:
    doc = _Doc("a", math.nan, {"alpha": 1})
    assert doc.to_json() == {"name": "a", "score": None, "alpha": 1}
    back = _Doc.from_json({"name": "a", "score": None, "alpha": 1, "note": "n"})
    assert math.isnan(back.score) and back.extra == {"alpha": 1} and back.note == "n"


@pytest.mark.parametrize("spaces", [0, 65 * 2**20])
def test_a_verdict_of_a_large_union_is_read_back_past_the_json_bound(tmp_path: Path, spaces: int,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A verdict's per-fold and per-source lists grow with the union (79 MB at 10,000 contents): the bundle and the
    report read it to MAX_GROWING_JSON_BYTES, past the 64 MiB every other JSON is bounded by (the bundle refused it as
    damaged before); a document past that bound is still refused, naming it."""
    from kit.infra import limits
    from kit.infra.tree import Rules, Tree
    from kit.verdict import document

    path = tmp_path / "PROMOTE.json"
    path.write_bytes(GOLDEN.read_bytes() + b" " * spaces)  # the same document, as large as a union's
    with Tree.open(tmp_path, Rules(reading=True), make=False) as tree:
        assert document.read_verdict(tree, path).promoted
        monkeypatch.setattr(document, "MAX_GROWING_JSON_BYTES", path.stat().st_size - 1)
        with pytest.raises(InputError, match="the verdict is damaged: more than the"):
            document.read_verdict(tree, path)
    assert limits.MAX_JSON_BYTES < 65 * 2**20 < limits.MAX_GROWING_JSON_BYTES


def test_loso_s_records_of_a_large_union_are_read_back_past_the_json_bound(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """LOSO's baselines (171 MB at 50,000 contents) and seed reports (42 MB) grow with the union: the verdict reads
    them to MAX_GROWING_JSON_BYTES, past the 64 MiB every other JSON is bounded by (the verdict refused its own LOSO's
    baselines as damaged, with a hint to make them again, which made them as large); one past that bound is still
    refused, naming it."""
    import json

    from kit.infra.tree import Rules, Tree
    from kit.model.results import Baselines
    from kit.steps import base

    path = tmp_path / "baselines.json"
    path.write_bytes(json.dumps(Baselines("a" * 64).to_json()).encode() + b" " * (65 * 2**20))
    with Tree.open(tmp_path, Rules(reading=True), make=False) as tree:
        assert base.read_output(tree, Baselines, path, "rerun LOSO").corpus_sha256 == "a" * 64
        monkeypatch.setattr(base, "MAX_GROWING_JSON_BYTES", path.stat().st_size - 1)
        with pytest.raises(InputError, match=r"baselines\.json is damaged: more than the"):
            base.read_output(tree, Baselines, path, "rerun LOSO")
