"""Rows that kits 1.0.x scored through the shared decode below 25 fps are refused by `merge` and `run --corpus`, at
every door (a shard with its manifest, a results tarball, a merged corpus, a file without a manifest), naming the
file, the source, its rate and its box; what the shared decode never touched is accepted
(kit.corpus.misscored). The files are written as kit 1.0.5 wrote them: corpus schema 4, `kit_version` 1.0.5."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kit.bundle.tarball import write_results_tarball
from kit.corpus.manifests import ClipEntry, InputEntry, MergeManifest, ShardManifest, SourceRows
from kit.corpus.misscored import refuse_corpus
from kit.errors import InputError
from kit.infra.files import sha256_file
from kit.infra.tree import Tree
from kit.rundir import LAYOUT
from kit.steps.records import StepRecord
from tests.conftest import run_here
from tests.kitfiles import shard_table, write_shard

# a lead record of each test's own (tests/conftest.py own_lead): its unsigned tarballs of boxa and boxb are
# refused, rightly, wherever another test made those box ids known by a key in the session's shared cache
pytestmark = pytest.mark.usefixtures("own_lead")

NTSC = "24000/1001"
SLOW = "s0-boxa"  # the 23.976 fps master of the shard below


def with_rates(table: pa.Table, rates: dict[str, str], encoder: str | None = None) -> pa.Table:
    """`table` with each named source's rows at its rate (`num/den`), every row's encoder `encoder` when given."""
    fps = table["fps"].to_pylist()
    for i, src in enumerate(table["src"].to_pylist()):
        if src in rates:
            num, _, den = rates[src].partition("/")
            fps[i] = int(num) / int(den or 1)
    table = table.set_column(table.column_names.index("fps"), "fps", pa.array(fps, pa.float64()))
    if encoder is not None:
        table = table.set_column(table.column_names.index("encoder"), "encoder",
                                 pa.array([encoder] * table.num_rows, pa.string()))
    return table


def sources_of(table: pa.Table, files: dict[str, str], rates: dict[str, str]) -> tuple[ClipEntry, ...]:
    pairs = table.select(["src", "src_sha256"]).group_by(["src", "src_sha256"]).aggregate([]).to_pylist()
    return tuple(ClipEntry(src=p["src"], src_sha256=p["src_sha256"], width=176, height=144,
                           fps=rates.get(p["src"], "25/1"), pix_fmt="yuv420p", frames=40, enc_pix_fmt="yuv420p",
                           file=files.get(p["src"], f"{p['src']}.mp4"))
                 for p in sorted(pairs, key=lambda p: p["src"]))


def shard(path: Path, rates: dict[str, str] | None = None, files: dict[str, str] | None = None,
          encoder: str | None = None, kit: str = "1.0.5", schema: int = 4) -> Path:
    """A shard and its shard.manifest.json as kit `kit` wrote them (schema `schema`): three sources of box boxa, s0
    a master at 23.976 fps unless `rates` says otherwise, the others at 25; every source an .mp4 unless `files`
    names it otherwise."""
    rates = {SLOW: NTSC} if rates is None else rates
    table = with_rates(shard_table(box="boxa"), rates, encoder)
    write_shard(path, table)
    manifest = ShardManifest(schema_version=schema, kind="shard", file=path.name, sha256=sha256_file(path),
                             rows=table.num_rows, box_id="boxa", teacher_model="vmaf_v0.6.1", encoders=["libx264"],
                             sources=sources_of(table, files or {}, rates), kit_version=kit,
                             created_at_utc="2026-11-26T10:00:00Z")
    path.with_name(f"{path.stem}.manifest.json").write_text(json.dumps(manifest.to_json()))
    return path


def tarball(dest: Path, shard_file: Path) -> Path:
    """A results tarball of kit 1.0.5 holding `shard_file` and its manifest, as its bundle step packed them."""
    side = shard_file.with_name(f"{shard_file.stem}.manifest.json")
    with Tree.open(dest.parent) as tree:
        write_results_tarball(tree, dest, "results-boxa-20261126T100000Z",
                              {LAYOUT.shard.as_posix(): shard_file, LAYOUT.shard_manifest.as_posix(): side},
                              {"box_id": "boxa", "created_utc": "2026-11-26T10:00:00Z"})
    return dest


def merged_by_105(path: Path, files: dict[str, str] | None = None, jsonl_box: str = "") -> Path:
    """A corpus kit 1.0.5's merge wrote from the shard above (s0 at 23.976 fps): schema 4, its sources' files; with
    `jsonl_box`, that box's rows came from a bash-kit JSONL input."""
    table = with_rates(shard_table(box="boxa"), {SLOW: NTSC})
    if jsonl_box:
        table = table.set_column(table.column_names.index("box_id"), "box_id",
                                 pa.array([jsonl_box] * table.num_rows, pa.string()))
    write_shard(path, table)
    box = jsonl_box or "boxa"
    counts = table.group_by(["src", "src_sha256"]).aggregate([([], "count_all")]).to_pylist()
    manifest = MergeManifest(
        schema_version=4, file=path.name, sha256=sha256_file(path), rows=table.num_rows, kit_version="1.0.5",
        inputs=(InputEntry(name="in", path="/lead/in", kind="jsonl" if jsonl_box else "tarball", sha256="0" * 64,
                           recorded_utc=None, box_ids=[box], manifest_kind=None if jsonl_box else "shard", shard=None,
                           demo_corpus=False, read=table.num_rows, kept=table.num_rows, duplicate=0, conflict=0),),
        sources=tuple(SourceRows(c["src"], c["src_sha256"], c["count_all"], file=(files or {}).get(c["src"], ""))
                      for c in counts),
        boxes=[box], teacher_models=["vmaf_v0.6.1"])
    path.with_name(f"{path.stem}.manifest.json").write_text(json.dumps(manifest.to_json()))
    return path


def merge(tmp_path: Path, *inputs: Path) -> tuple[int, str, str]:
    """(exit code, the error line, the hint line) of `merge INPUTS -o tmp/merged.parquet`."""
    res = run_here("merge", *inputs, "-o", tmp_path / "merged.parquet")
    return res.returncode, *lines(res.returncode, res.stderr)


def train(tmp_path: Path, corpus: Path) -> tuple[int, str, str]:
    res = run_here("run", "--corpus", corpus, "--out-dir", tmp_path / "out", "--only", "loso")
    return res.returncode, *lines(res.returncode, res.stderr)


def lines(code: int, stderr: str) -> tuple[str, str]:
    """The error and hint lines of a command that ended with `code` (a refusal: no traceback)."""
    error = [ln for ln in stderr.splitlines() if ln.startswith("error: ")]
    hint = [ln for ln in stderr.splitlines() if ln.startswith("hint: ")]
    assert code == 0 or "Traceback" not in stderr, stderr
    return (error[0] if error else ""), (hint[0] if hint else "")


def test_merge_and_run_corpus_refuse_a_105_shard_naming_the_source_below_25_fps(tmp_path: Path) -> None:
    corpus = shard(tmp_path / "boxa" / "shard.parquet")
    code, error, hint = merge(tmp_path, corpus)
    assert code == 2 and not (tmp_path / "merged.parquet").exists()
    assert error.startswith(f"error: {corpus}: source {SLOW} (23.976 fps, box boxa) was scored by kit 1.0.5 "
                            "through the shared decode of a master below 25 fps"), error
    assert "its 40 row(s)" in error and "wrong vmaf and features" in error and error.endswith("nothing was merged")
    assert "s1-boxa" not in error and "s2-boxa" not in error  # 25 fps: right
    assert "box boxa reruns its corpus step with kit 2.0 on the same clips" in hint and "merge without shard" in hint
    code, error, hint = train(tmp_path, corpus)
    assert code == 2 and error.startswith(f"error: --corpus {corpus}: source {SLOW} (23.976 fps, box boxa)"), error
    assert error.endswith("nothing was trained") and "kit 2.0" in hint
    assert not (tmp_path / "out" / "03_loso" / "loso_seed0.json").exists()


def test_a_105_results_tarball_is_refused_as_its_shard_is(tmp_path: Path) -> None:
    packed = tarball(tmp_path / "results-boxa-20261126T100000Z.tar.gz", shard(tmp_path / "boxa" / "shard.parquet"))
    code, error, hint = merge(tmp_path, packed)
    assert code == 2 and error.startswith(f"error: {packed}: source {SLOW} (23.976 fps, box boxa) was scored by "
                                          "kit 1.0.5"), error
    assert "put its manifest back" not in hint  # the tarball's own manifest said who made it


def test_the_out_dir_of_a_105_run_is_refused_as_its_shard_is(tmp_path: Path) -> None:
    """A run directory stands for its 02_corpus/shard.parquet, whose manifest beside it says kit 1.0.5."""
    out = tmp_path / "runs" / "boxa"
    corpus = shard(out / LAYOUT.shard)
    record = StepRecord(step="corpus", number=2, fingerprint="f" * 64, settings={}, inputs={}, kit_version="1.0.5",
                        started_at_utc="2026-11-26T09:00:00Z", completed_at_utc="2026-11-26T10:00:00Z",
                        seconds=3600.0, exit_code=0, outputs={LAYOUT.shard.as_posix(): sha256_file(corpus)},
                        summary={}, schema_version=2)
    # as 1.0.5 wrote it: schema 2, with the hash of its source (kit_build) and no formats
    written = {k: v for k, v in record.to_json().items() if k != "formats"} | {"kit_build": "b" * 12}
    (out / LAYOUT.status("corpus")).write_text(json.dumps(written))
    code, error, _ = merge(tmp_path, out)
    assert code == 2 and error.startswith(f"error: {corpus}: source {SLOW} (23.976 fps, box boxa) was scored by "
                                          "kit 1.0.5"), error


@pytest.mark.parametrize(("case", "kwargs"), [
    ("only 25 fps and above", {"rates": {SLOW: "30000/1001"}}),
    ("the 23.976 fps source a .y4m", {"files": {SLOW: "s0.y4m"}}),
    ("the 23.976 fps source a .yuv", {"files": {SLOW: "S0_176x144_24fps.YUV"}}),
    ("hardware encoders only", {"encoder": "hevc_nvenc"}),
    ("written by kit 2.0 (schema 5)", {"kit": "2.0.0", "schema": 5}),
    ("written before the shared decode (schema 2)", {"kit": "0.1.0", "schema": 2}),
])
def test_what_the_shared_decode_never_touched_is_accepted(tmp_path: Path, case: str, kwargs: dict[str, object]) -> None:
    with pytest.raises(InputError, match=f"source {SLOW} "):  # the shard it differs from: refused
        refuse_corpus(shard(tmp_path / "base" / "shard.parquet"))
    corpus = shard(tmp_path / "boxa" / "shard.parquet", **kwargs)  # type: ignore[arg-type]
    refuse_corpus(corpus)  # the --corpus door: no refusal
    code, error, _ = merge(tmp_path, corpus)
    assert code == 0, f"{case}: {error}"


def test_hardware_rows_of_a_slow_master_stay_but_its_software_rows_do_not(tmp_path: Path) -> None:
    table = with_rates(shard_table(box="boxa"), {SLOW: NTSC})
    slow = pc.equal(table["src"], SLOW)
    encoders = pc.if_else(pc.and_(slow, pc.less(table["frame_index"], 30)), "h264_nvenc", table["encoder"])
    table = table.set_column(table.column_names.index("encoder"), "encoder", encoders)
    corpus = write_shard(tmp_path / "mixed.parquet", table)  # no manifest: the rows alone decide
    with pytest.raises(InputError, match=r"source s0-boxa \(23.976 fps, box boxa\) .*: its 10 row\(s\)"):
        refuse_corpus(corpus)


def test_several_sources_are_named_each_with_its_rate_and_box(tmp_path: Path) -> None:
    corpus = shard(tmp_path / "shard.parquet", rates={SLOW: NTSC, "s2-boxa": "12/1"})
    with pytest.raises(InputError) as refused:
        refuse_corpus(corpus)
    assert refused.value.message.startswith(f"--corpus {corpus}: sources {SLOW} (23.976 fps, box boxa) and s2-boxa "
                                            "(12 fps, box boxa) were scored by kit 1.0.5"), refused.value.message
    assert "their 80 row(s)" in refused.value.message and "s1-boxa" not in refused.value.message


@pytest.mark.parametrize("batch", [1, 7, 39, 1_000_000])
def test_a_corpus_read_a_batch_at_a_time_counts_each_source_s_rows_whole(tmp_path: Path, batch: int,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The --corpus door reads the rows a batch at a time (never the whole columns): a source's rows cut across
    batches anywhere are counted once each, as the whole table counts them."""
    from kit.infra import parquet

    monkeypatch.setattr(parquet, "BATCH_ROWS", batch)
    corpus = shard(tmp_path / "shard.parquet", rates={SLOW: NTSC, "s2-boxa": "12/1"})
    with pytest.raises(InputError) as refused:
        refuse_corpus(corpus)
    assert refused.value.message.startswith(f"--corpus {corpus}: sources {SLOW} (23.976 fps, box boxa) and s2-boxa "
                                            "(12 fps, box boxa) were scored by kit 1.0.5"), refused.value.message
    assert "their 80 row(s)" in refused.value.message


def test_the_corpus_door_reads_the_rule_s_text_as_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The --corpus door reads each text column the rule groups by as a dictionary, a code a row (a batch of it as
    text held 0.5 GiB at 10,000 contents), and finds the same sources."""
    from kit.corpus import misscored

    seen: list[pa.Schema] = []
    batches = misscored.read_batches

    def spied(*args: object, **kwargs: object) -> object:
        for batch in batches(*args, **kwargs):  # type: ignore[arg-type]
            seen.append(batch.schema)
            yield batch
    monkeypatch.setattr(misscored, "read_batches", spied)
    corpus = shard(tmp_path / "shard.parquet")
    with pytest.raises(InputError, match=f"source {SLOW} "):
        refuse_corpus(corpus)
    assert seen, "the rule read no rows"
    for schema in seen:
        assert {f.name for f in schema if pa.types.is_dictionary(f.type)} == {"src", "src_sha256", "encoder",
                                                                              "box_id"}, schema


def test_a_source_is_named_as_its_first_rows_say_read_as_text_or_as_codes(tmp_path: Path) -> None:
    """A source named twice (its rows' `src` differ), some rows of no box: the finding names it as its first software
    row says, whether the rule reads the text as such (merge's table) or as codes (the --corpus door): arrow groups
    the two in other orders where a key is null."""
    from kit.corpus.misscored import misscored

    table = with_rates(shard_table(box="boxa"), {SLOW: NTSC})
    src, box = table["src"].to_pylist(), table["box_id"].to_pylist()
    slow = [i for i, s in enumerate(src) if s == SLOW]
    for i in slow[1:]:  # its first row as it was; the rest of no box, all but the first under another name
        box[i] = None
        src[i] = SLOW if i == slow[1] else "s0-renamed"
    table = table.set_column(table.column_names.index("src"), "src", pa.array(src))
    table = table.set_column(table.column_names.index("box_id"), "box_id", pa.array(box, pa.string()))
    corpus = write_shard(tmp_path / "renamed.parquet", table)
    with pytest.raises(InputError) as refused:
        refuse_corpus(corpus)
    as_text = misscored(pq.read_table(corpus), None, table.column_names)
    assert as_text is not None and refused.value.message.startswith(
        f"--corpus {corpus}: {as_text.listing()} were scored by"), (refused.value.message, as_text.listing())
    for first in (slow[0], slow[1]):  # each (box, source) by its first row: box boxa's, then the rows of no box
        where = f"box {box[first]}" if box[first] else "box (not recorded)"
        assert f"{src[first]} (23.976 fps, {where})" in refused.value.message, (first, refused.value.message)


@pytest.mark.parametrize("cut", [1, 4, 5, 7, 15])
def test_a_source_of_two_names_is_named_as_its_first_rows_name_it_however_the_rows_are_cut(cut: int) -> None:
    """One master whose rows carry two names (A, then B, then A again): the finding names it by its first rows'
    name and counts all its rows, read whole or in parts cut anywhere."""
    from kit.corpus.misscored import misscored

    names = ["A"] * 5 + ["B"] * 5 + ["A"] * 5
    table = pa.table({"src": names, "src_sha256": ["f" * 64] * 15, "encoder": ["libx264"] * 15,
                      "fps": [24000 / 1001] * 15, "box_id": ["boxa"] * 15, "content": ["c"] * 15})
    whole = misscored(table, None, table.column_names)
    parts = misscored(lambda: [table.slice(i, cut) for i in range(0, 15, cut)], None, table.column_names)
    assert whole is not None and parts == whole
    assert [(m.src, m.fps, m.rows) for m in whole.sources] == [("A", "23.976", 15)]


def test_a_merged_corpus_of_kit_105_holding_the_slow_master_is_refused(tmp_path: Path) -> None:
    corpus = merged_by_105(tmp_path / "union105.parquet")
    code, error, _ = merge(tmp_path, corpus)
    assert code == 2 and error.startswith(f"error: {corpus}: source {SLOW} (23.976 fps, box boxa) was scored by a "
                                          "kit before 2.0 (the file was merged by kit 1.0.5"), error
    code, error, _ = train(tmp_path, corpus)
    assert code == 2 and f"--corpus {corpus}: source {SLOW} (23.976 fps" in error
    # the same rows, their source a .y4m as the merged manifest's files say, or from the bash kit: accepted
    refuse_corpus(merged_by_105(tmp_path / "y4m" / "union105.parquet", files={SLOW: "s0.y4m"}))
    refuse_corpus(merged_by_105(tmp_path / "bash" / "union105.parquet", jsonl_box="bash-kit"))


def test_a_file_without_a_manifest_is_judged_by_its_rows(tmp_path: Path) -> None:
    corpus = shard(tmp_path / "boxa" / "shard.parquet")
    corpus.with_name("shard.manifest.json").unlink()
    code, error, hint = merge(tmp_path, corpus)
    assert code == 2 and f"source {SLOW} (23.976 fps, box boxa) was scored by a kit before 2.0 (no manifest" in error
    assert hint.startswith("hint: if kit 2.0 wrote the file, put its manifest back beside it (shard.manifest.json)")
    # a manifest of other bytes says nothing of these: the rows decide
    other = shard(tmp_path / "other" / "shard.parquet", rates={}, kit="2.0.0", schema=5)
    corpus.with_name("shard.manifest.json").write_bytes(other.with_name("shard.manifest.json").read_bytes())
    with pytest.raises(InputError, match="no manifest that describes the file says which"):
        refuse_corpus(corpus)
    # schema 2's columns (no content, no rung): written before the shared decode
    old = with_rates(shard_table(box="boxa"), {SLOW: NTSC})
    old = old.drop_columns(["content", "enc_width", "enc_height", "scaler_down", "scaler_up", "teacher_sha256",
                            "cambi", "speed_chroma_uv", "adm3", "motion3"])
    pq.write_table(old, tmp_path / "schema2.parquet")
    refuse_corpus(tmp_path / "schema2.parquet")
    assert merge(tmp_path, tmp_path / "schema2.parquet")[0] == 0


def test_a_file_without_a_manifest_is_judged_by_its_schema_not_by_a_column_dropped(tmp_path: Path) -> None:
    """Issue 60: a 1.0.5 shard without its manifest and without its `content` column once merged (exit 0) as if
    schema 2 had written it; the rest of its schema (the rungs, teacher_sha256, v1's features) says it is later."""
    corpus = shard(tmp_path / "boxa" / "shard.parquet")
    corpus.with_name("shard.manifest.json").unlink()
    pq.write_table(pq.read_table(corpus).drop_columns(["content"]), corpus)
    code, error, _ = merge(tmp_path, corpus)
    assert code == 2 and f"source {SLOW} (23.976 fps, box boxa) was scored by a kit before 2.0 (no manifest" in error
    with pytest.raises(InputError, match=f"--corpus {corpus}: source {SLOW} "):
        refuse_corpus(corpus)


def test_bash_kit_jsonl_is_never_refused(tmp_path: Path) -> None:
    rows = shard_table(box="bash-kit").drop_columns(["src_sha256", "content"]).to_pylist()
    legacy = tmp_path / "legacy.jsonl"
    legacy.write_text("".join(json.dumps({**r, "fps": 23.976}) + "\n" for r in rows))
    code, error, _ = merge(tmp_path, legacy)
    assert code == 0, error
    # its rows as a kit's parquet without a manifest (their src_sha256 no hash of a name): judged, and refused
    rows_of_a_kit = with_rates(shard_table(box="boxa"), {SLOW: NTSC})
    with pytest.raises(InputError, match=f"source {SLOW} "):
        refuse_corpus(write_shard(tmp_path / "kit.parquet", rows_of_a_kit))


SHA, OTHER = "1" * 64, "2" * 64
# one source's rows mostly, of slow software encodes: a (box, source) met under several names and rates
ROW = st.tuples(st.sampled_from(["s0-boxa", "s0-renamed", "s1-boxa"]), st.sampled_from([SHA, SHA, SHA, OTHER]),
                st.sampled_from(["boxa", "boxb", None]), st.sampled_from([24000 / 1001, 24000 / 1001, 12.0, 30.0]),
                st.sampled_from(["libx264", "libx264", "libx264", "h264_nvenc"]))
NO_BOX = [("s0-boxa", SHA, "boxa", 24000 / 1001, "libx264"), ("s0-boxa", SHA, None, 24000 / 1001, "libx264"),
          ("s0-renamed", SHA, None, 24000 / 1001, "libx264")]  # arrow groups its codes in another order than this


@settings(max_examples=150, deadline=None)
@given(st.lists(ROW, min_size=1, max_size=200), st.integers(1, 9))
@example(NO_BOX, 1)
def test_every_door_names_each_source_as_its_first_software_row_says(rows: list[tuple[object, ...]],
                                                                     chunks: int) -> None:
    """The rule against the plain reading of it, row by row: each (box, source) of software rows below 25 fps named
    by its first such row (its name and rate), with all its rows counted; the same whether the table comes whole
    in any number of chunks (merge's, export's) or a batch at a time with its text as codes (the --corpus door)."""
    from kit.corpus.misscored import misscored

    names = ["src", "src_sha256", "box_id", "fps", "encoder"]
    table = pa.table({n: pa.array([r[i] for r in rows], pa.float64() if n == "fps" else pa.string())
                      for i, n in enumerate(names)})
    first: dict[tuple[str, str], list[object]] = {}
    for src, sha, box, fps, encoder in rows:
        if encoder == "libx264" and isinstance(fps, float) and fps < 25:
            seen = first.setdefault((str(box or ""), str(sha)), [src, f"{fps:.3f}".rstrip("0").rstrip("."), 0])
            seen[2] += 1  # type: ignore[operator]
    expected = [(s, f, box, n) for (box, _), (s, f, n) in sorted(first.items())]
    columns = shard_table().column_names  # a schema of the kits with the shared decode
    step = -(-len(rows) // chunks)
    chunked = pa.Table.from_batches([b for at in range(0, len(rows), step)
                                     for b in table.slice(at, step).to_batches()])
    coded = [pa.table({n: table[n].dictionary_encode() if n != "fps" else table[n] for n in names}).slice(at, step)
             for at in range(0, len(rows), step)]
    for label, found in (("whole", misscored(table, None, columns)), ("chunks", misscored(chunked, None, columns)),
                         ("codes", misscored(lambda: coded, None, columns))):
        got = [(m.src, m.fps, m.box, m.rows) for m in found.sources] if found is not None else []
        assert got == expected, (label, got, expected)
