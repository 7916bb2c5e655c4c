"""One teacher per corpus, the builds a corpus was scored with, and duplicate rows in a given corpus (issue 23
item 6, issue 39): `merge` refuses inputs of different teachers with one sentence naming both (a --teacher model
file by its sha256: two files of one name are two teachers), and training refuses a corpus of several; `merge`
and `corpus info` list the ffmpeg/libvmaf builds with their row counts and warn when they mix; training on a given
corpus drops exact duplicate rows by the merge's rule and says how many."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from kit import __version__
from kit.cli.main import cli
from kit.corpus.manifests import BuildRows, FFmpegRef, MergeManifest, ShardManifest, read_manifest
from kit.errors import InputError
from kit.infra import typed
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
    ffmpeg = FFmpegRef("/usr/bin/ffmpeg", typed.version(version), build)  # typed, as kit.corpus.shard writes it
    manifest = ShardManifest(kind="shard", file=path.name, sha256=sha256_file(path), rows=table.num_rows,
                             box_id=str(table["box_id"][0]), ffmpeg=ffmpeg,
                             libvmaf_version=libvmaf, teacher_model=str(table["teacher_model"][0]),
                             kit_version=__version__)
    path.with_name(f"{path.stem}.manifest.json").write_text(json.dumps(manifest.to_json()))
    return path


def error_line(res: Result) -> str:
    assert res.exit_code == 2, res.output
    assert isinstance(res.exception, SystemExit) and "Traceback" not in res.output
    (line,) = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
    return line


def model_file_rows(table: pa.Table, name: str, sha: str) -> pa.Table:
    """Rows as a --teacher FILE scoring gives them: the file's name and its sha256."""
    return set_column(set_column(table, "teacher_model", name), "teacher_sha256", sha)


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
    assert line == (f"error: the inputs were scored by 2 different teachers: {TEACHER_4K} (in {b.name}) and "
                    f"vmaf_v0.6.1 (in {a.name}); a corpus trains one teacher, so nothing was written")
    (hint,) = [ln for ln in res.stderr.splitlines() if ln.startswith("hint: ")]
    assert "a corpus of its own" in hint and "--teacher" in hint
    assert not out.exists() and not (tmp_path / "m.manifest.json").exists()
    # one teacher merges without a word about teachers
    same = write_shard(tmp_path / "boxc.parquet", shard_table(box="boxc", seed=2))
    ok = invoke("merge", a, same, "-o", out)
    assert ok.exit_code == 0, ok.output
    manifest = read_manifest(out)
    assert isinstance(manifest, MergeManifest) and manifest.teacher_models == ["vmaf_v0.6.1"]
    assert manifest.teacher_sha256 == ""
    assert not any("teacher" in w for w in manifest.warnings) and "teacher" not in ok.stderr


def test_two_model_files_of_one_name_are_two_teachers(tmp_path: Path) -> None:
    """A --teacher model file is its sha256: the same name with other bytes (as a kit before 2.5 named a file, by
    its name) is refused like another model, each named by its digest, and the same file on two boxes merges, its
    sha256 in the manifest."""
    base = shard_table(box="boxa", seed=0)
    a = write_shard(tmp_path / "a.parquet", model_file_rows(base, "vmaf_v1.0.16_3d0h", "1" * 64))
    b = write_shard(tmp_path / "b.parquet", model_file_rows(shard_table(box="boxb", seed=1), "vmaf_v1.0.16_3d0h",
                                                            "2" * 64))
    c = write_shard(tmp_path / "c.parquet", model_file_rows(shard_table(box="boxc", seed=2), "vmaf_v1.0.16_3d0h",
                                                            "1" * 64))
    line = error_line(invoke("merge", a, b, "-o", tmp_path / "m.parquet"))
    assert ("model_111111111111 (model file, sha256 111111111111) (in a.parquet) and model_222222222222 (model file, "
            "sha256 222222222222) (in b.parquet)") in line
    ok = invoke("merge", a, c, "-o", tmp_path / "m.parquet")
    assert ok.exit_code == 0, ok.output
    manifest = read_manifest(tmp_path / "m.parquet")
    assert isinstance(manifest, MergeManifest) and manifest.teacher_sha256 == "1" * 64
    assert manifest.teacher_models == ["model_111111111111"]  # by its digest, as this kit names a model file


def test_the_flag_that_mixed_teachers_is_gone(two_teachers: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = two_teachers
    res = invoke("merge", a, b, "-o", tmp_path / "m.parquet", "--mixed-teachers")
    assert res.exit_code == 2 and "--mixed-teachers" in res.output and not (tmp_path / "m.parquet").exists()


def test_training_refuses_a_corpus_of_two_teachers(two_teachers: tuple[Path, Path], tmp_path: Path) -> None:
    """A corpus a kit before 0.6 merged with --mixed-teachers (or one made by hand) trains no proxy: refused,
    naming each teacher with its rows."""
    from kit.corpus.training import training_corpus

    a, b = two_teachers
    both = write_shard(tmp_path / "both.parquet", pa.concat_tables([pq.read_table(a),
                                                                     pq.read_table(b)]))
    with pytest.raises(InputError) as info:
        training_corpus(both)
    assert info.value.message == (f"{both}: its rows were scored by 2 different teachers: {TEACHER_4K} ({N_ROWS} "
                                  f"rows), vmaf_v0.6.1 ({N_ROWS} rows); a proxy learns one teacher")
    assert len(training_corpus(a)[0]) == N_ROWS


def test_merge_and_corpus_info_list_the_builds_and_warn_when_they_mix(tmp_path: Path) -> None:
    a = shard_with_manifest(tmp_path / "boxa.parquet", shard_table(box="boxa", seed=0), "7.0", "7.0-static", "3.0.0")
    b = shard_with_manifest(tmp_path / "boxb.parquet", shard_table(n_src=2, box="boxb", seed=1), "6.1", "6.1-gpl",
                            "2.3.1")
    v61, v70 = typed.version("6.1"), typed.version("7.0")  # as a shard holds them (kit.corpus.schema.TYPED_COLUMNS)
    out = tmp_path / "m.parquet"
    res = invoke("merge", a, b, "-o", out)
    assert res.exit_code == 0, res.output
    manifest = read_manifest(out)
    assert isinstance(manifest, MergeManifest)
    assert manifest.builds == (BuildRows(v61, "6.1-gpl", "2.3.1", 2 * 40), BuildRows(v70, "7.0-static", "3.0.0",
                                                                                         N_ROWS))
    lines = res.stdout.splitlines()
    assert f"  build: ffmpeg {v61} (6.1-gpl), libvmaf 2.3.1: 80 rows" in lines
    assert f"  build: ffmpeg {v70} (7.0-static), libvmaf 3.0.0: {N_ROWS} rows" in lines
    (mixed,) = [w for w in manifest.warnings if "builds" in w]
    assert mixed.startswith("the corpus mixes 2 ffmpeg/libvmaf builds: ") and f"warning: {mixed}" in res.stderr

    # corpus info: the merged corpus's builds come from its manifest, with the same counts and the warning
    info = invoke("corpus", "info", out)
    assert info.exit_code == 0, info.output
    assert f"  build: ffmpeg {v61} (6.1-gpl), libvmaf 2.3.1: 80 rows" in info.stdout.splitlines()
    assert f"  build: ffmpeg {v70} (7.0-static), libvmaf 3.0.0: {N_ROWS} rows" in info.stdout.splitlines()
    assert "warning: the corpus mixes 2 ffmpeg/libvmaf builds" in info.stderr
    doc = json.loads(invoke("corpus", "info", out, "--json").stdout)
    assert [(x["ffmpeg_version"], x["rows"]) for x in doc["builds"]] == [(v61, 80), (v70, N_ROWS)]
    assert doc["teacher_rows"] == {"vmaf_v0.6.1": N_ROWS + 80}

    # one build: listed, no warning; a shard without a manifest says what it does not know
    one = invoke("corpus", "info", a)
    assert f"  build: ffmpeg {v70} (7.0-static), libvmaf 3.0.0: {N_ROWS} rows" in one.stdout.splitlines()
    assert "mixes" not in one.stderr
    bare = write_shard(tmp_path / "bare.parquet")
    assert f"  build: ffmpeg {v70}, libvmaf (not recorded): {N_ROWS} rows" in invoke("corpus", "info", bare).stdout


def test_training_on_a_corpus_drops_exact_duplicates_by_the_merge_rule(tmp_path: Path) -> None:
    """Every row twice (the copy with another measured enc_time_ms): each trains once, and the count is told.
    A row of one key with another score is a conflict, not a duplicate: it stays."""
    from kit.corpus.training import training_corpus

    table = shard_table(n_src=4)
    once = write_shard(tmp_path / "once.parquet", table)
    copy = set_column(table, "enc_time_ms", 99.0)
    twice = write_shard(tmp_path / "twice.parquet", pa.concat_tables([copy, table]))
    df, dropped = training_corpus(twice)
    assert dropped == table.num_rows and len(df) == table.num_rows
    assert df.equals(training_corpus(once)[0])  # the same rows, in the same canonical order
    assert training_corpus(once)[1] == 0

    vmaf = table["vmaf"].to_numpy().copy()
    vmaf[0] = vmaf[0] / 2
    other = table.set_column(table.column_names.index("vmaf"), "vmaf", pa.array(vmaf))
    conflict = write_shard(tmp_path / "conflict.parquet", pa.concat_tables([table, other.slice(0, 1)]))
    df, dropped = training_corpus(conflict)
    assert dropped == 0 and len(df) == table.num_rows + 1


def test_corpus_info_warns_of_a_corpus_of_two_teachers_and_not_of_one(two_teachers: tuple[Path, Path],
                                                                        tmp_path: Path) -> None:
    """What `corpus info` says of a corpus an older kit merged with --mixed-teachers: a warning naming how many
    teachers its rows hold; of one teacher's corpus, none (tests/unit/test_warning_kinds.py: "mixed teachers")."""
    a, b = two_teachers
    both = write_shard(tmp_path / "both.parquet", pa.concat_tables([pq.read_table(a), pq.read_table(b)]))
    res = invoke("corpus", "info", both)
    assert res.exit_code == 0 and "warning: the corpus holds rows of 2 teacher models" in res.stderr, res.output
    one = invoke("corpus", "info", a)
    assert one.exit_code == 0 and "teacher models" not in one.stderr, one.output


@pytest.mark.parametrize("chunks", [1, 3])
def test_duplicates_found_on_sorted_columns_equal_the_whole_table_sorted(chunks: int) -> None:
    """kit.corpus.dedup lays out only the columns it compares in the canonical order (never a sorted copy of the whole
    table: at 3,000,000 rows that copy decided training's peak memory); computed the plain way (the whole table sorted
    by the order and RANK, each key's first row kept, its later rows marked by their scores), it gives the same rows,
    marks and order, for duplicates, conflicts, a shuffled and a chunked table."""
    import numpy as np

    from kit.corpus.dedup import KEY, RANK, SCORED, SORT_ORDER, dedupe, kept_rows, take_in_place

    table = shard_table(n_src=3)
    rng = np.random.default_rng(chunks)
    picks = np.concatenate([np.arange(table.num_rows), rng.integers(0, table.num_rows, table.num_rows // 2)])
    rng.shuffle(picks)
    mixed = table.take(picks)
    vmaf = mixed["vmaf"].to_numpy().copy()
    vmaf[rng.random(len(vmaf)) < 0.05] += 1.0  # some repeats become conflicts
    mixed = mixed.set_column(mixed.column_names.index("vmaf"), "vmaf", pa.array(vmaf))
    step = -(-mixed.num_rows // chunks)
    mixed = pa.concat_tables([mixed.slice(i, step) for i in range(0, mixed.num_rows, step)])
    ranked = mixed.append_column("_pref", pa.array(rng.integers(0, 2, mixed.num_rows))).append_column(
        "_row", pa.array(np.arange(mixed.num_rows)))

    whole = ranked.sort_by([(c, "ascending") for c in (*SORT_ORDER, *RANK) if c in ranked.column_names])
    keys = list(zip(*(whole[c].to_pylist() for c in KEY if c in whole.column_names), strict=True))
    first: dict[tuple[object, ...], int] = {}
    for i, key in enumerate(keys):
        first.setdefault(key, i)
    kept = np.array([first[key] for key in keys])
    differs = np.zeros(whole.num_rows, dtype=bool)
    for name in SCORED:
        values = whole[name].to_numpy()
        differs |= values != values[kept]
    found = dedupe(ranked)
    assert ranked.take(found.order).combine_chunks().equals(whole.combine_chunks())
    assert found.kept().equals(whole.filter(pa.array(kept == np.arange(len(kept)))).combine_chunks())
    assert found.column("_row").equals(whole["_row"].combine_chunks())
    assert [found.value("vmaf", i) for i in range(5)] == whole["vmaf"].to_pylist()[:5]
    assert (found.kept_row == kept).all() and (found.keep == (kept == np.arange(len(kept)))).all()
    assert (found.differs == differs).all() and found.conflict_rows.any() and found.duplicate_rows.any()

    kept, count = kept_rows(mixed)
    held = [mixed]
    take_in_place(held, kept)
    dropped = held[0]
    assert dropped.schema.equals(mixed.schema, check_metadata=True)
    again, none = kept_rows(dropped)  # the table it gives, given again: in order with no duplicate, kept as it is
    in_order = [dropped]
    take_in_place(in_order, again)
    assert none == 0 and in_order[0] is dropped
    plain = ranked.drop_columns(["_pref"]).sort_by([(c, "ascending") for c in (*SORT_ORDER, "_row")
                                                   if c in ranked.column_names])
    keys_plain = list(zip(*(plain[c].to_pylist() for c in KEY if c in plain.column_names), strict=True))
    seen: dict[tuple[object, ...], int] = {}
    keep = []
    for i, key in enumerate(keys_plain):
        j = seen.setdefault(key, i)
        keep.append(j == i or any(plain[name][i].as_py() != plain[name][j].as_py() for name in SCORED))
    assert count == len(keep) - sum(keep)
    assert dropped.equals(plain.filter(pa.array(keep)).drop_columns(["_row"]))
