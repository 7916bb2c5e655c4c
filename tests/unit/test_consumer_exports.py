"""What the consumer's tools keep of the kit's exports (issue 53, items 5 and 6). The consumer's rules are restated
here from the lusoris/vmaf tree (commit c2a3c7e0), naming the file and lines each comes from, and not imported from
the kit, so a drift on either side fails:

* ai/scripts/merge_corpora.py keeps, over its inputs in the order given, the first row of each key (src_sha256,
  encoder, preset, crf) and drops every later one as a duplicate;
* vmaf-tune encodes SVT-AV1 at the preset its adapter maps `medium` to (7), the preset its fast path passes;
* vmaf-tune's fast path verifies a proxy's pick with libvmaf's vmaf_v0.6.1, whatever the height.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner, Result

from kit.cli.main import cli
from kit.platforms.encoders import get_spec
from tests.kitfiles import shard_table, write_shard


# --- ai/scripts/merge_corpora.py ---------------------------------------------------------------------------------
def merge_key(row: dict[str, Any]) -> tuple[str, str, object, object]:
    """_dedup_key, lines 79-91: (src_sha256, encoder, preset, crf); no size, rung, teacher or depth."""
    return str(row.get("src_sha256", "")), str(row.get("encoder", "")), row.get("preset", ""), row.get("crf", "")


def merge_corpora(inputs: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """merge, lines 94-124: the inputs in the order given, each row in its order; a row whose key was seen is
    dropped (115-117), the first of each key kept (118-123)."""
    seen: set[tuple[str, str, object, object]] = set()
    kept = []
    for rows in inputs:
        for row in rows:
            if (key := merge_key(row)) not in seen:
                seen.add(key)
                kept.append(row)
    return kept


# --- tools/vmaf-tune/src/vmaftune --------------------------------------------------------------------------------
SVTAV1_MEDIUM = "7"  # codec_adapters/svtav1.py: PRESET_NAME_TO_INT, lines 52-61 ("medium": 7, the SVT-AV1 default)
FAST_PRESET = "medium"  # fast.py: _build_production_sample_extractor and _build_production_encode_runner, lines
#                         337 and 427 (preset="medium"), which the svtav1 adapter turns into -preset 7 (line 198)
VERIFY_MODEL = "vmaf_v0.6.1"  # score.py: ScoreRequest.model, line 40, which fast.py's verify (line 477) keeps


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [*map(str, args)])


def rows_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def ladder(tmp_path: Path, native: bool = True, teacher: str = "vmaf_v0.6.1") -> tuple[Path, pa.Table]:
    """A corpus of 3 sources at 176x144 and at a half-height rung (88x72) whose frames score 40 % lower: the
    rung and its native encode share merge_corpora's key and differ in everything a trainer reads."""
    table = shard_table(n_src=3, rows_per_src=24)
    rung = table
    for name, value in (("enc_width", 88), ("enc_height", 72)):
        rung = rung.set_column(rung.column_names.index(name), name, pa.array(np.full(rung.num_rows, value), pa.int32()))
    rung = rung.set_column(rung.column_names.index("scaler_down"), "scaler_down", [["lanczos"] * rung.num_rows])
    rung = rung.set_column(rung.column_names.index("scaler_up"), "scaler_up", [["bicubic"] * rung.num_rows])
    rung = rung.set_column(rung.column_names.index("vmaf"), "vmaf", pa.array(rung["vmaf"].to_numpy() * 0.6))
    both = pa.concat_tables([table, rung]) if native else rung
    both = both.set_column(both.column_names.index("teacher_model"), "teacher_model", [[teacher] * both.num_rows])
    return write_shard(tmp_path / "ladder.parquet", both), both


def test_the_vmaftune_export_loses_and_mislabels_no_encode_in_upstreams_merge(tmp_path: Path) -> None:
    path, table = ladder(tmp_path)
    res = invoke("corpus", "export", path, "--format", "vmaftune", "-o", tmp_path / "vt.jsonl")
    assert res.exit_code == 0, res.output
    rows = rows_of(tmp_path / "vt.jsonl")
    for inputs in ([rows], [rows, rows]):  # alone, and merged with itself: every row is kept, once
        assert merge_corpora(inputs) == rows
    df = table.to_pandas()
    native = df[df["enc_height"] == 144].groupby(["src_sha256", "cq"])
    assert len(rows) == native.ngroups  # one row per native encode: each rung is left out, said below
    for row in rows:  # each row is the encode its size says: the native one, with the native frames' scores
        assert (row["width"], row["height"]) == (176, 144)
        frames = native.get_group((row["src_sha256"], row["crf"]))
        assert row["vmaf_score"] == pytest.approx(frames["vmaf"].mean(), rel=1e-12)
    record = json.loads((tmp_path / "vt.export.json").read_text())
    said = [n for n in record["notes"] if "ladder rung" in n]
    assert len(said) == 1 and said[0].startswith(f"{native.ngroups} encode(s) at a smaller ladder rung are left out")
    assert f"note: {said[0]}" in res.stderr


def test_a_rung_without_its_native_encode_is_written_at_its_own_size(tmp_path: Path) -> None:
    path, table = ladder(tmp_path, native=False)
    assert invoke("corpus", "export", path, "--format", "vmaftune", "-o", tmp_path / "vt.jsonl").exit_code == 0
    rows = rows_of(tmp_path / "vt.jsonl")
    assert merge_corpora([rows]) == rows and len(rows) == table.to_pandas().groupby(["src_sha256", "cq"]).ngroups
    assert {(r["width"], r["height"]) for r in rows} == {(88, 72)}  # the encode's own size, not the reference's
    notes = json.loads((tmp_path / "vt.export.json").read_text())["notes"]
    assert not any("left out" in n for n in notes)


def test_every_export_names_its_teacher_and_what_vmaf_tune_verifies_with(tmp_path: Path) -> None:
    for teacher in ("vmaf_v0.6.1", "vmaf_4k_v0.6.1"):
        folder = tmp_path / teacher
        folder.mkdir()
        path, _ = ladder(folder, teacher=teacher)
        for fmt in ("upstream-jsonl", "vmaftune"):
            out = folder / f"{fmt}.jsonl"
            res = invoke("corpus", "export", path, "--format", fmt, "-o", out)
            assert res.exit_code == 0, res.output
            assert {r["vmaf_model"] for r in rows_of(out)} == {teacher}, fmt  # every row names it
            record = json.loads(out.with_name(f"{fmt}.export.json").read_text())
            assert record["teacher_model"] == teacher and "vmaf_model" in record["keys"]
            said = [n for n in record["notes"] if f"verifies with {VERIFY_MODEL} whatever the height" in n]
            assert len(said) == (teacher != VERIFY_MODEL), (fmt, record["notes"])
            if said:
                assert teacher in said[0] and "vmaf-tune" in res.stderr


def test_svt_av1_is_trained_at_the_preset_vmaf_tune_encodes_it_at() -> None:
    assert get_spec("libsvtav1").preset == ("-preset", SVTAV1_MEDIUM)
    assert get_spec("libx264").preset_name == get_spec("libx265").preset_name == FAST_PRESET
