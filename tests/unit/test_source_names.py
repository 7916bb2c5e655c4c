"""The names of a corpus's sources (kit.corpus.names): two contents of one name told apart, deterministically,
and what the verdict, the summary and the report say of contents, files and groups (issue 23, items 4 and 7)."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kit import __version__
from kit.corpus.manifests import ContentGroup, GroupMember, ShardManifest, TwinEntry
from kit.corpus.names import named_frame, source_names, with_names
from kit.corpus.summary import SourceInfo, summarise_corpus
from kit.infra.files import sha256_file
from kit.media.refs import source_name
from kit.rundir import manifest_path
from kit.verdict.document import Verdict

ROOT = Path(__file__).resolve().parents[2]
A, B, C = "3fa2c1" + "a" * 58, "9b07d4" + "b" * 58, "c" * 64


def test_only_names_that_clash_get_a_short_id() -> None:
    assert source_names([(A, "intro"), (B, "intro"), (C, "alpha")]) == {A: "intro~3fa2c1", B: "intro~9b07d4",
                                                                          C: "alpha"}
    assert source_names([(A, "intro"), (C, "alpha")]) == {A: "intro", C: "alpha"}


def test_names_do_not_depend_on_the_order_and_naming_again_changes_nothing() -> None:
    pairs = [(A, "intro"), (B, "intro"), (C, "alpha"), (C, "opening")]  # C: two boxes named it differently
    results = [source_names(p) for p in itertools.permutations(pairs)]
    assert all(r == results[0] for r in results)
    assert results[0][C] == "alpha"  # the least of its names
    assert source_names([(sha, name) for sha, name in results[0].items()]) == results[0]


def test_six_hex_digits_that_do_not_tell_two_apart_become_more() -> None:
    one, two = "abcdef1" + "0" * 57, "abcdef2" + "0" * 57
    assert source_names([(one, "intro"), (two, "intro")]) == {one: "intro~abcdef1", two: "intro~abcdef2"}


def test_a_table_and_a_frame_are_named_by_the_same_rule() -> None:
    table = pa.table({"src": ["intro", "alpha", "intro", "intro"], "src_sha256": [A, C, B, A], "x": [1, 2, 3, 4]})
    named = with_names(table)
    assert named["src"].to_pylist() == ["intro~3fa2c1", "alpha", "intro~9b07d4", "intro~3fa2c1"]
    assert named["x"].to_pylist() == [1, 2, 3, 4]
    assert named_frame(table.to_pandas())["src"].tolist() == named["src"].to_pylist()
    unique = pa.table({"src": ["intro", "alpha"], "src_sha256": [A, C]})
    assert with_names(unique) is unique


def _corpus(path: Path, sources: list[tuple[str, str, str]], frames: int = 3) -> Path:
    """A corpus file holding `frames` rows per (src, src_sha256, content), with the geometry columns."""
    rows = [{"src": src, "src_sha256": sha, "content": content, "encoder": "libx264", "cq": 25, "frame_index": i,
             "box_id": "boxa", "device": "cpu", "platform": "linux-x86_64", "vmaf": 80.0 + i, "width": 176,
             "height": 144, "fps": 25.0, "pix_fmt": "yuv420p"} for src, sha, content in sources for i in range(frames)]
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def test_sixteen_files_with_six_twins_say_ten_contents_in_sixteen_files(tmp_path: Path) -> None:
    shas = [f"{i:064x}" for i in range(1, 11)]
    corpus = _corpus(tmp_path / "shard.parquet", [(f"clip{i:02d}", sha, sha) for i, sha in enumerate(shas)])
    twins = tuple(TwinEntry(f"clip{i:02d}.mkv", f"clip{i:02d}", f"{100 + i:064x}", shas[i], f"clip{i:02d}.y4m")
                  for i in range(6))
    manifest = ShardManifest(kind="shard", file=corpus.name, sha256=sha256_file(corpus), twins=twins,
                             kit_version=__version__)
    manifest_path(corpus).write_text(json.dumps(manifest.to_json()))
    summary = summarise_corpus(corpus, "0" * 64)
    assert (summary.n_sources, summary.n_contents, summary.n_files, summary.groups) == (10, 10, 16, ())
    assert summary.contents_text == "10 contents in 16 files"
    assert [(c.src, c.width, c.height, c.fps, c.frames, c.pix_fmt) for c in summary.clips or ()][:1] == [
        ("clip00", 176, 144, 25.0, 3, "yuv420p")]


def test_a_group_in_the_rows_is_listed_with_its_members(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "m.parquet", [("perlin", A, A), ("perlin_master", B, A), ("intro", C, C),
                                             ("intro", "d" * 64, "d" * 64)])
    summary = summarise_corpus(corpus, "0" * 64)  # no manifest: the groups as the rows hold them
    assert (summary.n_sources, summary.n_contents, summary.n_files) == (4, 3, 4)
    assert summary.contents_text == "3 contents in 4 files, 1 group(s) of more than one source"
    assert [[m.src for m in g.members] for g in summary.groups or ()] == [["perlin", "perlin_master"]]
    assert summary.sources == ["intro~cccccc", "intro~dddddd", "perlin", "perlin_master"]
    assert [c.content == A for c in summary.clips or ()] == [False, False, True, True]


def _verdict(**corpus: object) -> Verdict:
    v = Verdict.from_json(json.loads((ROOT / "tests" / "data" / "verdict_promote.json").read_text()))
    return replace(v, corpus=replace(v.corpus, **corpus))


def test_an_older_verdict_reads_and_says_its_sources() -> None:
    v = _verdict()
    assert v.corpus.n_contents is None and v.corpus.contents_text == "9 sources"
    assert "n_contents" not in v.to_json()["corpus"]  # written back as it was read


def test_the_verdict_records_the_counts_and_the_summary_and_report_say_them(tmp_path: Path) -> None:
    from kit.report.html import render_report
    from kit.report.summary import summary_rows

    group = ContentGroup(A, (GroupMember("perlin", A, "boxa"), GroupMember("perlin_master", B, "boxb")),
                         ["perlin_master: the same pictures as perlin (frame-identical)"])
    clips = tuple(_clip(i) for i in range(150))
    v = _verdict(n_sources=150, n_contents=149, n_files=156, groups=(group,), clips=clips)
    back = Verdict.from_json(json.loads(json.dumps(v.to_json())))
    assert back.corpus.n_contents == 149 and back.corpus.n_files == 156 and back.corpus.groups == (group,)
    rows = dict(summary_rows(tmp_path, back))
    assert "149 contents in 156 files (150 sources), 1 group(s)" in rows["corpus"]
    assert rows["content group"] == "perlin, perlin_master: " + group.why[0]
    page = render_report(back)
    assert "149 contents in 156 files" in page and "perlin_master (boxb)" in page
    assert "<td>clip000</td>" in page and "<td>clip099</td>" in page and "<td>clip100</td>" not in page
    assert "and 50 more sources" in page
    assert "<td>176x144</td><td>25</td><td>8</td><td>yuv420p</td>" in page


def _clip(i: int) -> SourceInfo:
    sha = f"{i:064x}"
    return SourceInfo(f"clip{i:03d}", sha, sha, 176, 144, 25.0, 8, "yuv420p")


@pytest.mark.parametrize("n_groups", [0, 7])
def test_the_summary_lists_at_most_five_groups(tmp_path: Path, n_groups: int) -> None:
    from kit.report.summary import GROUPS_SHOWN, group_rows

    groups = tuple(ContentGroup(f"{i:064x}", (GroupMember(f"a{i}", f"{i:064x}"), GroupMember(f"b{i}", "e" * 64)),
                                ["near-duplicate"]) for i in range(n_groups))
    rows = group_rows(_verdict(groups=groups))
    assert len(rows) == (0 if n_groups == 0 else GROUPS_SHOWN + 1)
    if n_groups:
        assert rows[-1][1].startswith(f"and {n_groups - GROUPS_SHOWN} more")


def test_training_corpus_names_the_sources_and_training_sees_one_name_per_source(tmp_path: Path) -> None:
    """Two shards whose sources all share the names s0..s2, merged: six sources, each named apart."""
    from kit.corpus.schema import with_content
    from kit.corpus.training import training_corpus
    from tests.kitfiles import shard_table, write_shard
    from tests.training import make_folds

    def hashed(table: pa.Table) -> pa.Table:  # sha256-like identities: they differ in their first digits
        sha = pa.array([hashlib.sha256(v.encode()).hexdigest() for v in table["src_sha256"].to_pylist()])
        return with_content(table.set_column(table.column_names.index("src_sha256"), "src_sha256", sha))

    a, b = hashed(shard_table(box="x", seed=0)), hashed(shard_table(box="x", seed=1))  # the same names s0..s2
    df = training_corpus(write_shard(tmp_path / "u.parquet", pa.concat_tables([a, b])))[0]
    names = dict(zip(df["src_sha256"], df["src"], strict=True))
    given = dict(zip(a["src_sha256"].to_pylist() + b["src_sha256"].to_pylist(),
                     a["src"].to_pylist() + b["src"].to_pylist(), strict=True))
    assert len(names) == 6 and len(set(names.values())) == 6
    assert names == {sha: f"{src}~{sha[:6]}" for sha, src in given.items()}
    assert sorted(f.sources[0].src for f in make_folds(df)) == sorted(names.values())
    again = training_corpus(write_shard(tmp_path / "r.parquet", pa.concat_tables([b, a])))[0]
    assert dict(zip(again["src_sha256"], again["src"], strict=True)) == names


def test_clips_whose_names_reduce_to_one_are_each_named_by_their_file() -> None:
    """deep_10bit.y4m and deep_422_10bit.y4m both reduce to 'deep' (2.1 ended the run with exit 2): each keeps its
    tokens; intro.y4m and intro.mkv keep their extensions; the same file name in two folders gets its sha256's first
    digits. The others keep their names, and the names do not depend on the clips' order."""
    from kit.media.discovery import Clip, distinct_sources

    def clip(path: str, sha: str) -> Clip:
        return Clip(path, source_name(Path(path)), "y4m", 176, 144, "25/1", "yuv420p", 8, sha)

    clips = [clip("/refs/deep_10bit.y4m", A), clip("/refs/deep_422_10bit.y4m", B), clip("/refs/alpha.y4m", C),
             clip("/refs/intro.y4m", "d" * 64), clip("/refs/intro.mkv", "e" * 64),
             clip("/refs/crowd_1920x1080_25fps.yuv", "f" * 64), clip("/elsewhere/crowd.yuv", "1" * 64)]
    named, renamed = distinct_sources(clips)
    assert [c.src for c in named] == ["deep_10bit", "deep_422_10bit", "alpha", "intro.y4m", "intro.mkv",
                                      "crowd_1920x1080_25fps", "crowd"]
    assert [(r.name, r.files) for r in renamed] == [
        ("deep", (("/refs/deep_10bit.y4m", "deep_10bit"), ("/refs/deep_422_10bit.y4m", "deep_422_10bit"))),
        ("intro", (("/refs/intro.y4m", "intro.y4m"), ("/refs/intro.mkv", "intro.mkv"))),
        ("crowd", (("/refs/crowd_1920x1080_25fps.yuv", "crowd_1920x1080_25fps"),
                   ("/elsewhere/crowd.yuv", "crowd")))]  # its stem is its name: it keeps it
    assert renamed[0].line() == ("2 clips give the source name 'deep' (a file's name without its tokens of size, rate "
                                 "and depth): each is named by its file instead, /refs/deep_10bit.y4m as "
                                 "'deep_10bit', /refs/deep_422_10bit.y4m as 'deep_422_10bit'")
    assert [replace(c, src="") for c in named] == [replace(c, src="") for c in clips]  # only the names changed
    for order in itertools.permutations(clips[:5]):
        assert {c.path: c.src for c in distinct_sources(list(order))[0]} == {c.path: c.src for c in named[:5]}
    twice = [clip("/a/intro.y4m", A), clip("/b/intro.y4m", B)]  # one file name in two folders: its sha256 added
    assert [c.src for c in distinct_sources(twice)[0]] == ["intro.y4m~3fa2c1", "intro.y4m~9b07d4"]
    alone = [clip("/refs/deep_10bit.y4m", A), clip("/refs/alpha.y4m", C)]
    assert distinct_sources(alone) == (alone, [])  # a name no other clip gives is kept as it is


def test_rows_without_geometry_read_as_not_recorded(tmp_path: Path) -> None:
    """Bash-kit rows merged into a corpus carry no width, height, fps or pix_fmt."""
    corpus = _corpus(tmp_path / "m.parquet", [("alpha", A, A)])
    table = pq.read_table(corpus)
    legacy_row = {**table.to_pylist()[0], "src": "legacy", "src_sha256": C, "content": C, "width": None,
                  "height": None, "fps": None, "pix_fmt": None}
    rows = [*table.to_pylist(), legacy_row]
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), corpus)
    clips = {c.src: c for c in summarise_corpus(corpus, "0" * 64).clips or ()}
    assert (clips["alpha"].width, clips["alpha"].height, clips["alpha"].pix_fmt) == (176, 144, "yuv420p")
    legacy = clips["legacy"]
    assert (legacy.width, legacy.height, legacy.pix_fmt, legacy.frames) == (0, 0, "", 1) and legacy.fps != legacy.fps


def test_a_recorded_group_names_its_members_as_the_report_does(tmp_path: Path) -> None:
    """intro.mp4 on one box, its re-encode intro.mkv on another: one content, two names told apart."""
    corpus = _corpus(tmp_path / "m.parquet", [("intro", A, A), ("intro", B, A), ("alpha", C, C)])
    group = ContentGroup(A, (GroupMember("intro", A, "boxa"), GroupMember("intro", B, "boxb")),
                         ["near-duplicate: signature distance 0.02"])
    manifest = ShardManifest(kind="shard", file=corpus.name, sha256=sha256_file(corpus), groups=(group,),
                             kit_version=__version__)
    manifest_path(corpus).write_text(json.dumps(manifest.to_json()))
    summary = summarise_corpus(corpus, "0" * 64)
    assert summary.contents_text == "2 contents in 3 files, 1 group(s) of more than one source"
    [shown] = summary.groups or ()
    assert [m.src for m in shown.members] == ["intro~3fa2c1", "intro~9b07d4"] and shown.why == group.why
