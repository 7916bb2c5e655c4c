"""`corpus export` against the readers it writes for (issue 39). Their contracts are restated here from the
lusoris/vmaf tree (commit c2a3c7e0), naming the file and the lines each rule comes from, and not imported from the
kit, so a drift on either side fails; every export is run through them. The export never writes over its input
or through a link, as merge does."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from click.testing import CliRunner, Result

from kit.cli.export import FORMATS as CLI_FORMATS
from kit.cli.main import cli
from kit.corpus.export import FORMATS
from kit.infra.files import sha256_file
from tests.kitfiles import shard_table, write_shard

# --- ai/scripts/train_fr_regressor_v2_ensemble_loso.py ---------------------------------------------------------
CANONICAL_6 = ("adm2", "vif_scale0", "vif_scale1", "vif_scale2", "vif_scale3", "motion2")  # lines 75-82
ENCODER_VOCAB = ("libx264", "libx265", "libsvtav1", "libvvenc", "libvpx-vp9", "h264_nvenc", "hevc_nvenc",
                 "av1_nvenc", "h264_qsv", "hevc_qsv", "av1_qsv", "unknown")  # lines 91-104


def loso_load_corpus(path: Path) -> dict[str, object]:
    """_load_corpus, lines 224-323: pd.read_json(lines=True) (251); the required columns, refused when missing
    (253-260) or with no row (261-262); the canonical six as float64 (265); each encoder's slot, else 'unknown'
    (272-279); cq as float32, normalised over the file (290-295)."""
    df = pd.read_json(path, lines=True)
    required = [*CANONICAL_6, "vmaf", "src", "encoder", "cq", "frame_index"]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"missing required columns: {missing}")
    if len(df) == 0:
        raise ValueError("zero rows")
    feat = df[list(CANONICAL_6)].to_numpy(dtype=np.float64)
    slots = np.array([ENCODER_VOCAB.index(e) if e in ENCODER_VOCAB else len(ENCODER_VOCAB) - 1
                      for e in (str(x) for x in df["encoder"].tolist())])
    cqs = df["cq"].to_numpy(dtype=np.float32)
    return {"df": df, "feat": feat, "slots": slots, "cqs": cqs, "target": df["vmaf"].to_numpy(dtype=np.float64)}


def loso_folds(df: pd.DataFrame) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """_train_one_seed, lines 467-476: one fold per sorted unique `src`, held out by equality."""
    return [(s, (df["src"] != s).to_numpy(), (df["src"] == s).to_numpy()) for s in sorted(df["src"].unique())]


# --- tools/vmaf-tune/src/vmaftune/__init__.py (SCHEMA_VERSION, line 39; CORPUS_ROW_KEYS, lines 46-118) ----------
SCHEMA_VERSION = 3
CANONICAL6_FEATURES = CANONICAL_6  # lines 46-53, in this order
CORPUS_ROW_KEYS = (
    "schema_version", "run_id", "timestamp", "src", "src_sha256", "width", "height", "pix_fmt", "framerate",
    "duration_s", "encoder", "encoder_version", "preset", "crf", "extra_params", "encode_path", "encode_size_bytes",
    "bitrate_kbps", "encode_time_ms", "vmaf_score", "vmaf_model", "score_time_ms", "ffmpeg_version",
    "vmaf_binary_version", "exit_status", "clip_mode", "hdr_transfer", "hdr_primaries", "hdr_forced", "shot_count",
    "shot_avg_duration_sec", "shot_duration_std_sec", *(f"{f}_mean" for f in CANONICAL6_FEATURES),
    *(f"{f}_std" for f in CANONICAL6_FEATURES), "enc_internal_qp_mean", "enc_internal_qp_std",
    "enc_internal_bits_mean", "enc_internal_bits_std", "enc_internal_mv_mean", "enc_internal_mv_std",
    "enc_internal_itex_mean", "enc_internal_ptex_mean", "enc_internal_intra_ratio", "enc_internal_skip_ratio")
# the type each key has in the rows vmaf-tune writes (tools/vmaf-tune/src/vmaftune/corpus.py, _row_for, lines
# 573-627: uuid hex, isoformat, str(path), ints for sizes and crf, floats for rates and times, a list for
# extra_params, a bool for hdr_forced; encoder_stats.aggregate_stats, lines 264-294: floats)
INT_KEYS = {"schema_version", "width", "height", "crf", "encode_size_bytes", "exit_status", "shot_count"}
STR_KEYS = {"run_id", "timestamp", "src", "src_sha256", "pix_fmt", "encoder", "encoder_version", "preset",
            "encode_path", "vmaf_model", "ffmpeg_version", "vmaf_binary_version", "clip_mode", "hdr_transfer",
            "hdr_primaries"}
LIST_KEYS, BOOL_KEYS = {"extra_params"}, {"hdr_forced"}
FLOAT_KEYS = set(CORPUS_ROW_KEYS) - INT_KEYS - STR_KEYS - LIST_KEYS - BOOL_KEYS
NOT_HAD = {"score_time_ms"}  # a figure no kit corpus has: null (issue 52), never a 0 read as a measurement


def merge_corpora_validate(row: object) -> None:
    """ai/scripts/merge_corpora.py, _validate_row, lines 56-76: a JSON object carrying every CORPUS_ROW_KEYS key."""
    assert isinstance(row, dict)
    missing = set(CORPUS_ROW_KEYS) - row.keys()
    assert not missing, sorted(missing)


def merge_corpora_key(row: dict) -> tuple[str, str, object, object]:
    """merge_corpora.py, _dedup_key, lines 79-91: (src_sha256, encoder, preset, crf)."""
    return str(row.get("src_sha256", "")), str(row.get("encoder", "")), row.get("preset", ""), row.get("crf", "")


def fr_v2_row_to_features(row: dict) -> tuple[np.ndarray, float]:
    """ai/scripts/train_fr_regressor_v2.py, _row_to_features, lines 288-352: the canonical six from the top-level
    `<feature>_mean` keys (a NaN or missing one is 0.0, lines 308-320), `crf` (342) and `vmaf_score` (351)."""
    canon = np.zeros(6, dtype=np.float32)
    for i, name in enumerate(CANONICAL6_FEATURES):
        v = row.get(f"{name}_mean")
        if v is not None and not math.isnan(float(v)):
            canon[i] = float(v)
    float(row.get("crf", 23))
    return canon, float(row.get("vmaf_score", 0.0))


# --- the exports ----------------------------------------------------------------------------------------------
def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [*map(str, args)])


def corpus(tmp_path: Path) -> tuple[Path, pa.Table]:
    """A corpus of two encoders, a content of two sources (a twin on another box) and two clips of one name."""
    table = shard_table(n_src=4, rows_per_src=24)
    enc = np.where(np.arange(table.num_rows) % 2 == 0, "libx264", "h264_videotoolbox")
    table = table.set_column(table.column_names.index("encoder"), "encoder", pa.array(enc))
    src = np.array(table["src"].to_pylist(), dtype=object)
    sha = np.array([{"s0": "a", "s1": "b", "s2": "c", "s3": "d"}[s[:2]] * 64 for s in src], dtype=object)
    content = np.where(sha == "b" * 64, "a" * 64, sha)  # s1 is s0's twin
    src[src == "s3-boxa"] = "s2-boxa"  # another content of the same name
    for name, values in (("src", src), ("src_sha256", sha), ("content", content)):
        table = table.set_column(table.column_names.index(name), name, pa.array(values.tolist()))
    return write_shard(tmp_path / "c.parquet", table), table


def exported(tmp_path: Path, fmt: str, name: str) -> tuple[pa.Table, Path, Result, list[dict[str, Any]]]:
    """The test corpus exported as `fmt` into tmp_path/name: (its table, the file, the command's result, the rows)."""
    path, table = corpus(tmp_path)
    out = tmp_path / name
    res = invoke("corpus", "export", path, "--format", fmt, "-o", out)
    assert res.exit_code == 0, res.output
    return table, out, res, [json.loads(line) for line in out.read_text().splitlines()]


def test_the_cli_and_the_kit_offer_the_same_formats() -> None:
    assert CLI_FORMATS == FORMATS == ("upstream-jsonl", "vmaftune")


def test_upstream_jsonl_is_what_the_loso_trainer_loads_and_folds_by_content(tmp_path: Path) -> None:
    table, out, res, rows = exported(tmp_path, "upstream-jsonl", "up.jsonl")
    assert len(rows) == table.num_rows
    assert all(list(r) == ["src", "encoder", "cq", "frame_index", "vmaf", *CANONICAL_6, "vmaf_model"] for r in rows)
    for r in rows:
        assert isinstance(r["src"], str) and isinstance(r["encoder"], str)
        assert type(r["cq"]) is int and type(r["frame_index"]) is int
        assert all(type(r[k]) is float for k in ("vmaf", *CANONICAL_6))
    loaded = loso_load_corpus(out)
    assert loaded["feat"].shape == (table.num_rows, 6) and np.isfinite(loaded["feat"]).all()
    assert set(loaded["slots"]) == {0, 11}  # libx264, and VideoToolbox in upstream's "unknown" slot
    assert sorted(r["vmaf"] for r in rows) == sorted(table["vmaf"].to_pylist())  # the text holds every digit
    np.testing.assert_allclose(sorted(loaded["target"]), sorted(table["vmaf"].to_pylist()), rtol=1e-14)
    folds = loso_folds(loaded["df"])
    # the twin folds with its content; the two contents of one name fold apart
    assert [name for name, _, _ in folds] == ["s0-boxa", "s2-boxa~cccccc", "s2-boxa~dddddd"]
    assert "h264_videotoolbox: not in upstream's encoder vocabulary" in res.stderr
    record = json.loads((tmp_path / "up.export.json").read_text())
    assert record["rows"] == table.num_rows and record["sha256"] == sha256_file(out) and record["fills"] == []
    assert record["keys"] == ["src", "encoder", "cq", "frame_index", "vmaf", *CANONICAL_6, "vmaf_model"]
    with pytest.raises(ValueError, match="missing required columns"):  # the restated loader can refuse
        (tmp_path / "bad.jsonl").write_text(json.dumps({"src": "a", "encoder": "libx264", "cq": 1}) + "\n")
        loso_load_corpus(tmp_path / "bad.jsonl")


def test_vmaftune_rows_carry_every_key_of_its_type_and_merge(tmp_path: Path) -> None:
    table, out, res, rows = exported(tmp_path, "vmaftune", "vt.jsonl")
    df = table.to_pandas()
    encodes = df.groupby(["src_sha256", "encoder", "cq"])
    assert len(rows) == encodes.ngroups
    for row in rows:
        merge_corpora_validate(row)
        assert set(row) == set(CORPUS_ROW_KEYS) and row["schema_version"] == SCHEMA_VERSION
        for key in CORPUS_ROW_KEYS:
            want = {**dict.fromkeys(INT_KEYS, int), **dict.fromkeys(STR_KEYS, str), **dict.fromkeys(LIST_KEYS, list),
                    **dict.fromkeys(BOOL_KEYS, bool), **dict.fromkeys(FLOAT_KEYS, float)}[key]
            assert type(row[key]) is want or (key in NOT_HAD and row[key] is None), (key, row[key])
        frames = encodes.get_group((row["src_sha256"], row["encoder"], row["crf"]))
        assert row["vmaf_score"] == pytest.approx(frames["vmaf"].mean())
        assert row["adm2_mean"] == pytest.approx(frames["adm2"].mean())
        assert row["motion2_std"] == pytest.approx(frames["motion2"].std(ddof=0))
        assert row["duration_s"] == pytest.approx(len(frames) / 25.0)
        canon, target = fr_v2_row_to_features(row)
        assert (canon > 0).any() and target == row["vmaf_score"]
    assert len({merge_corpora_key(r) for r in rows}) == len(rows)  # merge_corpora drops none of them
    assert list(json.loads(out.read_text().splitlines()[0])) == sorted(CORPUS_ROW_KEYS)  # as vmaf-tune writes
    # every key the kit has no value for is said, with its value and why
    record = json.loads((tmp_path / "vt.export.json").read_text())
    filled = {f["key"]: f for f in record["fills"]}
    assert {"encode_path", "encoder_version", "score_time_ms", "run_id", "shot_count", "enc_internal_qp_mean",
            "timestamp", "vmaf_binary_version", "hdr_transfer", "src"} <= set(filled)
    assert filled["encode_path"]["value"] == '""' and "does not keep its encodes" in filled["encode_path"]["why"]
    assert rows[0]["encode_path"] == "" and rows[0]["run_id"] == json.loads(filled["run_id"]["value"])
    assert "note: encode_path = \"\": the kit does not keep its encodes" in res.stderr
    # the same encodes under another teacher: merge_corpora's key cannot tell them apart, and the export says so
    relabelled = table.set_column(table.column_names.index("teacher_model"), "teacher_model",
                                  [["vmaf_v0.6.1neg"] * table.num_rows])
    neg = write_shard(tmp_path / "neg.parquet", relabelled)
    assert invoke("corpus", "export", neg, "--format", "vmaftune", "-o", tmp_path / "neg.jsonl").exit_code == 0
    other = [json.loads(line) for line in (tmp_path / "neg.jsonl").read_text().splitlines()]
    assert {r["vmaf_model"] for r in other} == {"vmaf_v0.6.1neg"}
    assert {merge_corpora_key(r) for r in other} == {merge_corpora_key(r) for r in rows}
    assert "holds no vmaf_model" in " ".join(record["notes"])


def test_an_export_is_the_same_bytes_every_time_and_refuses_two_teachers(tmp_path: Path) -> None:
    path, table = corpus(tmp_path)
    for n in (1, 2):
        assert invoke("corpus", "export", path, "--format", "vmaftune", "-o", tmp_path / f"{n}.jsonl").exit_code == 0
    assert (tmp_path / "1.jsonl").read_bytes() == (tmp_path / "2.jsonl").read_bytes()
    teachers = np.where(np.arange(table.num_rows) < 10, "vmaf_4k_v0.6.1", "vmaf_v0.6.1")
    mixed = write_shard(tmp_path / "mixed.parquet", table.set_column(
        table.column_names.index("teacher_model"), "teacher_model", pa.array(teachers)))
    res = invoke("corpus", "export", mixed, "--format", "upstream-jsonl", "-o", tmp_path / "m.jsonl")
    assert res.exit_code == 2 and "2 different teachers" in res.stderr and not (tmp_path / "m.jsonl").exists()


def test_an_export_never_writes_over_its_input_or_through_a_link(tmp_path: Path) -> None:
    path, _ = corpus(tmp_path)
    legacy = tmp_path / "legacy.jsonl"
    assert invoke("corpus", "export", path, "--format", "upstream-jsonl", "-o", tmp_path / "up.jsonl").exit_code == 0
    rows = [{**json.loads(line), "enc_bytes": 1, "enc_time_ms": 1.0}
            for line in (tmp_path / "up.jsonl").read_text().splitlines()]
    legacy.write_text("".join(json.dumps(r) + "\n" for r in rows))  # bash-kit JSONL the kit reads
    before = sha256_file(legacy)
    for out, said in ((legacy, f"-o {legacy} is the input {legacy}"),
                      (tmp_path / "x.parquet", "an export is a JSON Lines file, and its name must end in .jsonl")):
        res = invoke("corpus", "export", legacy, "--format", "vmaftune", "-o", out)
        assert res.exit_code == 2 and said in res.stderr and "nothing was written" in res.stderr, res.output
    side = tmp_path / "legacy2.export.json"  # an input whose name is where the record would go
    side.write_text(legacy.read_text())
    res = invoke("corpus", "export", side, "--format", "vmaftune", "-o", tmp_path / "legacy2.jsonl")
    assert res.exit_code == 2 and "would write legacy2.export.json over the input" in res.stderr
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    for planted in ("out.jsonl", "out.export.json"):
        (tmp_path / planted).symlink_to(victim)
        res = invoke("corpus", "export", legacy, "--format", "vmaftune", "-o", tmp_path / "out.jsonl")
        assert res.exit_code == 2 and str(tmp_path / planted) in res.stderr, res.output
        assert victim.read_text() == "keep" and (tmp_path / planted).is_symlink()
        (tmp_path / planted).unlink()
    assert sha256_file(legacy) == before and not (tmp_path / "out.jsonl").exists()


def test_rows_of_several_rungs_are_said_in_both_formats(tmp_path: Path) -> None:
    """A ladder's rungs share (src, encoder, cq, frame_index) in upstream's JSONL and (src_sha256, encoder, preset,
    crf) in vmaf-tune's rows: the first says so, the second writes the tallest of each key and says what it left out
    (tests/unit/test_consumer_exports.py runs the merge rule on it)."""
    table = shard_table(n_src=4, rows_per_src=24)
    half = table.set_column(table.column_names.index("enc_height"), "enc_height",
                            pa.array(np.full(table.num_rows, 72), pa.int32()))
    half = half.set_column(half.column_names.index("enc_width"), "enc_width",
                           pa.array(np.full(half.num_rows, 88), pa.int32()))
    path = write_shard(tmp_path / "ladder.parquet", pa.concat_tables([table, half]))
    up = invoke("corpus", "export", path, "--format", "upstream-jsonl", "-o", tmp_path / "up.jsonl")
    assert up.exit_code == 0 and "the rows hold 2 encode sizes (the resolution ladder)" in up.stderr, up.output
    assert len((tmp_path / "up.jsonl").read_text().splitlines()) == 2 * table.num_rows  # every rung's frames
    tune = invoke("corpus", "export", path, "--format", "vmaftune", "-o", tmp_path / "tune.jsonl")
    assert tune.exit_code == 0 and "at a smaller ladder rung are left out" in tune.stderr, tune.output


def test_a_vmaftune_export_of_bash_kit_jsonl_writes_no_figure_it_does_not_have(tmp_path: Path) -> None:
    """Issue 52, item 5: bash-kit JSONL records no reference size, frame rate, pixel format or bitrate; the export
    writes null there (and for the duration it cannot compute), never 0, and its record lists each such key, for how
    many encodes, and what duration_s is computed from."""
    legacy = tmp_path / "legacy.jsonl"
    base = {"src": "Tennis", "encoder": "libx264", "enc_bytes": 1000, "enc_time_ms": 2.5, "vmaf": 80.0, "adm2": 0.9,
            "vif_scale0": 0.5, "vif_scale1": 0.6, "vif_scale2": 0.7, "vif_scale3": 0.8, "motion2": 1.0}
    legacy.write_text("".join(json.dumps({**base, "cq": cq, "frame_index": i}) + "\n"
                              for cq in (23, 33) for i in range(3)))
    res = invoke("corpus", "export", legacy, "--format", "vmaftune", "-o", tmp_path / "vt.jsonl")
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in (tmp_path / "vt.jsonl").read_text().splitlines()]
    assert len(rows) == 2
    for row in rows:
        merge_corpora_validate(row)
        assert {k: row[k] for k in ("width", "height", "framerate", "duration_s", "bitrate_kbps", "pix_fmt",
                                    "score_time_ms")} == dict.fromkeys(("width", "height", "framerate", "duration_s",
                                                                        "bitrate_kbps", "pix_fmt", "score_time_ms"))
        assert row["encode_size_bytes"] == 1000 and row["encode_time_ms"] == 2.5  # what the rows do have
    filled = {f["key"]: f for f in json.loads((tmp_path / "vt.export.json").read_text())["fills"]}
    for key in ("width", "height", "framerate", "bitrate_kbps", "pix_fmt"):
        assert filled[key]["value"] == "null" and filled[key]["why"].startswith("2 of 2 encode(s) have no "), key
    assert "frame count over the reference's frame rate; null for the 2 of 2" in filled["duration_s"]["why"]
    assert "note: width = null: 2 of 2 encode(s) have no reference width in the corpus (bash-kit JSONL records " \
           "none): unknown, so null" in res.stderr
