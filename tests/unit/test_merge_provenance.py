"""One teacher per corpus, the builds a corpus was scored with, and duplicate rows in a given corpus (issue 23
item 6): `merge` refuses inputs of another teacher unless --mixed-teachers, and the verdict then names every
teacher; `merge` and `corpus info` list the ffmpeg/libvmaf builds with their row counts and warn when they mix;
training on a given corpus drops exact duplicate rows by the merge's rule and says how many."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner, Result

from kit.cli.main import cli
from kit.corpus.manifests import BuildRows, FFmpegRef, MergeManifest, ShardManifest, read_manifest
from kit.infra.files import sha256_file
from tests.kitfiles import shard_table, write_shard

TEACHER_4K = "vmaf_4k_v0.6.1"
N_ROWS = 3 * 40  # shard_table's default: 3 sources of 40 rows


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [*map(str, args)])


def set_column(table: pa.Table, name: str, value: object) -> pa.Table:
    at = table.column_names.index(name)
    return table.set_column(at, name, pa.array([value] * table.num_rows, table.schema.field(name).type))


def shard_with_manifest(path: Path, table: pa.Table, version: str, build: str, libvmaf: str) -> Path:
    """A shard and the shard manifest that describes exactly its bytes (its ffmpeg build and libvmaf)."""
    write_shard(path, set_column(table, "ffmpeg_version", version))
    manifest = ShardManifest(kind="shard", file=path.name, sha256=sha256_file(path), rows=table.num_rows,
                             box_id=str(table["box_id"][0]), ffmpeg=FFmpegRef("/usr/bin/ffmpeg", version, build),
                             libvmaf_version=libvmaf, teacher_model=str(table["teacher_model"][0]))
    path.with_name(f"{path.stem}.manifest.json").write_text(json.dumps(manifest.to_json()))
    return path


def error_line(res: Result) -> str:
    assert res.exit_code == 2, res.output
    assert isinstance(res.exception, SystemExit) and "Traceback" not in res.output
    (line,) = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
    return line


@pytest.fixture()
def two_teachers(tmp_path: Path) -> tuple[Path, Path]:
    a = write_shard(tmp_path / "boxa.parquet", shard_table(box="boxa", seed=0))
    b = write_shard(tmp_path / "boxb.parquet", set_column(shard_table(box="boxb", seed=1), "teacher_model", TEACHER_4K))
    return a, b


def test_a_merge_of_two_teachers_is_refused_naming_both_and_the_inputs(two_teachers: tuple[Path, Path],
                                                                       tmp_path: Path) -> None:
    a, b = two_teachers
    out = tmp_path / "m.parquet"
    res = invoke("merge", a, b, "-o", out)
    line = error_line(res)
    assert "2 different teacher models" in line and "nothing was written" in line
    assert f"vmaf_v0.6.1 in {a.name}" in line and f"{TEACHER_4K} in {b.name}" in line
    (hint,) = [ln for ln in res.stderr.splitlines() if ln.startswith("hint: ")]
    assert "--mixed-teachers" in hint
    assert not out.exists() and not (tmp_path / "m.manifest.json").exists()
    # one teacher merges without a word about teachers
    same = write_shard(tmp_path / "boxc.parquet", shard_table(box="boxc", seed=2))
    ok = invoke("merge", a, same, "-o", out)
    assert ok.exit_code == 0, ok.output
    manifest = read_manifest(out)
    assert isinstance(manifest, MergeManifest) and manifest.teacher_models == ["vmaf_v0.6.1"]
    assert not any("teacher" in w for w in manifest.warnings) and "teacher" not in ok.stderr


def test_mixed_teachers_merge_when_asked_and_the_verdict_names_both(two_teachers: tuple[Path, Path],
                                                                    tmp_path: Path) -> None:
    from kit.corpus.schema import corpus_sha256
    from kit.corpus.summary import summarise_corpus
    from kit.verdict.decide import teacher_claim

    a, b = two_teachers
    out = tmp_path / "m.parquet"
    res = invoke("merge", a, b, "-o", out, "--mixed-teachers")
    assert res.exit_code == 0, res.output
    manifest = read_manifest(out)
    assert isinstance(manifest, MergeManifest) and manifest.rows == 2 * N_ROWS
    assert manifest.teacher_models == [TEACHER_4K, "vmaf_v0.6.1"]
    (warning,) = [w for w in manifest.warnings if "teacher" in w]
    assert warning.startswith("--mixed-teachers: rows of 2 teacher models merged into one corpus: ")
    assert f"{TEACHER_4K} ({N_ROWS} rows)" in warning and f"vmaf_v0.6.1 ({N_ROWS} rows)" in warning
    assert f"warning: {warning}" in res.stderr
    # what the verdict is built from: the corpus block names every teacher, and teacher_model claims none
    corpus = summarise_corpus(out, corpus_sha256(out))
    assert corpus.teacher_models == [TEACHER_4K, "vmaf_v0.6.1"]
    claim = teacher_claim(corpus.teacher_models)
    assert claim == f"mixed: {TEACHER_4K}, vmaf_v0.6.1"
    assert teacher_claim(["vmaf_v0.6.1"]) == "vmaf_v0.6.1"


def test_a_verdict_on_a_mixed_corpus_names_every_teacher() -> None:
    """The verdict document itself: `teacher_models` lists both, `teacher_model` is no single teacher."""
    from kit.corpus.summary import CorpusSummary
    from kit.model.baselines import ridge_loso
    from kit.model.features import design_matrix
    from kit.model.recipe import TrainConfig
    from kit.model.results import Baselines
    from kit.verdict.decide import decide
    from kit.verdict.document import Verdict
    from kit.verdict.gate import GateThresholds
    from tests.conftest import synthetic_corpus
    from tests.training import make_folds, run_loso

    df = synthetic_corpus(n_src=4, rows_per_src=30)
    result = run_loso(df, [0], TrainConfig(epochs=2))
    feats, codec = design_matrix(df)
    ridge = ridge_loso(feats, codec, df["vmaf"].to_numpy(dtype=np.float64), make_folds(df))
    for teachers, claim in (([TEACHER_4K, "vmaf_v0.6.1"], f"mixed: {TEACHER_4K}, vmaf_v0.6.1"),
                            (["vmaf_v0.6.1"], "vmaf_v0.6.1")):
        corpus = CorpusSummary("c.parquet", "0" * 64, len(df), 4, ["s0", "s1", "s2", "s3"], [], [], [], ["libx264"],
                               [19, 25, 31, 37], [0.0, 100.0], False, "merged", teacher_models=teachers)
        verdict = decide([0], result.seed_reports, result.folds, result.predictions,
                         Baselines("0" * 64, {"ridge": ridge}), None, corpus, GateThresholds(-1, 2, -1))
        doc = json.loads(json.dumps(verdict.to_json()))
        assert doc["teacher_models"] == teachers and doc["corpus"]["teacher_models"] == teachers
        assert doc["teacher_model"] == claim
        assert Verdict.from_json(doc).teacher_models == teachers  # and it reads back


def test_merge_and_corpus_info_list_the_builds_and_warn_when_they_mix(tmp_path: Path) -> None:
    a = shard_with_manifest(tmp_path / "boxa.parquet", shard_table(box="boxa", seed=0), "7.0", "7.0-static", "3.0.0")
    b = shard_with_manifest(tmp_path / "boxb.parquet", shard_table(n_src=2, box="boxb", seed=1), "6.1", "6.1-gpl",
                            "2.3.1")
    out = tmp_path / "m.parquet"
    res = invoke("merge", a, b, "-o", out)
    assert res.exit_code == 0, res.output
    manifest = read_manifest(out)
    assert isinstance(manifest, MergeManifest)
    assert manifest.builds == (BuildRows("6.1", "6.1-gpl", "2.3.1", 2 * 40), BuildRows("7.0", "7.0-static", "3.0.0",
                                                                                         N_ROWS))
    lines = res.stdout.splitlines()
    assert "  build: ffmpeg 6.1 (6.1-gpl), libvmaf 2.3.1: 80 rows" in lines
    assert f"  build: ffmpeg 7.0 (7.0-static), libvmaf 3.0.0: {N_ROWS} rows" in lines
    (mixed,) = [w for w in manifest.warnings if "builds" in w]
    assert mixed.startswith("the corpus mixes 2 ffmpeg/libvmaf builds: ") and f"warning: {mixed}" in res.stderr

    # corpus info: the merged corpus's builds come from its manifest, with the same counts and the warning
    info = invoke("corpus", "info", out)
    assert info.exit_code == 0, info.output
    assert "  build: ffmpeg 6.1 (6.1-gpl), libvmaf 2.3.1: 80 rows" in info.stdout.splitlines()
    assert f"  build: ffmpeg 7.0 (7.0-static), libvmaf 3.0.0: {N_ROWS} rows" in info.stdout.splitlines()
    assert "warning: the corpus mixes 2 ffmpeg/libvmaf builds" in info.stderr
    doc = json.loads(invoke("corpus", "info", out, "--json").stdout)
    assert [(x["ffmpeg_version"], x["rows"]) for x in doc["builds"]] == [("6.1", 80), ("7.0", N_ROWS)]
    assert doc["teacher_rows"] == {"vmaf_v0.6.1": N_ROWS + 80}

    # one build: listed, no warning; a shard without a manifest says what it does not know
    one = invoke("corpus", "info", a)
    assert f"  build: ffmpeg 7.0 (7.0-static), libvmaf 3.0.0: {N_ROWS} rows" in one.stdout.splitlines()
    assert "mixes" not in one.stderr
    bare = write_shard(tmp_path / "bare.parquet")
    assert f"  build: ffmpeg 7.0, libvmaf (not recorded): {N_ROWS} rows" in invoke("corpus", "info", bare).stdout


def test_training_on_a_corpus_drops_exact_duplicates_by_the_merge_rule(tmp_path: Path) -> None:
    """Every row twice (the copy with another measured enc_time_ms): each trains once, and the count is told.
    A row of one key with another score is a conflict, not a duplicate: it stays."""
    from kit.corpus.schema import load_training_corpus, training_corpus

    table = shard_table(n_src=4)
    once = write_shard(tmp_path / "once.parquet", table)
    copy = set_column(table, "enc_time_ms", 99.0)
    twice = write_shard(tmp_path / "twice.parquet", pa.concat_tables([copy, table]))
    df, dropped = training_corpus(twice)
    assert dropped == table.num_rows and len(df) == table.num_rows
    assert df.equals(load_training_corpus(once))  # the same rows, in the same canonical order
    assert training_corpus(once)[1] == 0

    vmaf = table["vmaf"].to_numpy().copy()
    vmaf[0] = vmaf[0] / 2
    other = table.set_column(table.column_names.index("vmaf"), "vmaf", pa.array(vmaf))
    conflict = write_shard(tmp_path / "conflict.parquet", pa.concat_tables([table, other.slice(0, 1)]))
    df, dropped = training_corpus(conflict)
    assert dropped == 0 and len(df) == table.num_rows + 1
