"""`--shard K/N`: a deterministic split by content, validated flags, and what a small shard does."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from kit.cli.main import cli
from kit.corpus.merge import merge_files
from kit.corpus.split import ShardSpec, parse_shard, select_shard
from kit.errors import InputError
from kit.media.refs import Clip
from tests.conftest import FAST, TINY_SOURCES, run_kit


def _clips(n: int) -> list[Clip]:
    rng = random.Random(n)
    return [Clip(f"/refs/c{i}.y4m", f"c{i}", "y4m", 176, 144, "25/1", "yuv420p", 8, f"{rng.getrandbits(256):064x}")
            for i in range(n)]


def test_parse_shard() -> None:
    assert parse_shard("1/3") == ShardSpec(1, 3)
    assert parse_shard("2/2") == ShardSpec(2, 2)
    assert parse_shard(None) is None
    # a number has one spelling (issue 91, item 6): ` 2 / 2 ` and `+1/2` are refused, not read as 2/2 and 1/2
    for bad in ("0/2", "3/2", "1/0", "a/b", "1", "", "1/2/3", "-1/2", " 2 / 2 ", "+1/2"):
        with pytest.raises(InputError, match="--shard"):
            parse_shard(bad)


@pytest.mark.parametrize(("n_clips", "n_shards"), [(4, 2), (9, 4), (7, 7), (20, 3)])
def test_split_is_by_content_balanced_and_exact(n_clips: int, n_shards: int) -> None:
    clips = _clips(n_clips)
    shards = [select_shard(clips, ShardSpec(k, n_shards)) for k in range(1, n_shards + 1)]
    shas = [c.sha256 for shard in shards for c in shard]
    assert sorted(shas) == sorted(c.sha256 for c in clips)  # every clip in exactly one shard
    sizes = [len(s) for s in shards]
    assert max(sizes) - min(sizes) <= 1
    # neither file order nor names change the split
    renamed = [replace(c, src=f"renamed-{i}", path=f"/elsewhere/{i}.yuv") for i, c in enumerate(clips)]
    random.Random(1).shuffle(renamed)
    for k, shard in enumerate(shards, 1):
        again = select_shard(renamed, ShardSpec(k, n_shards))
        assert {c.sha256 for c in again} == {c.sha256 for c in shard}


def test_more_shards_than_clips_is_refused() -> None:
    with pytest.raises(InputError, match="holds none"):
        select_shard(_clips(2), ShardSpec(3, 3))


@pytest.mark.parametrize(("args", "needle"), [
    (["--shard", "0/2"], "--shard '0/2'"),
    (["--shard", "two"], "not of the form K/N"),
    (["--shard", "1/2", "--corpus", "x.parquet"], "--shard and --corpus"),
])
def test_bad_shard_flags_exit_2_with_a_hint(tmp_path: Path, args: list[str], needle: str) -> None:
    res = CliRunner().invoke(cli, ["run", "--out-dir", str(tmp_path / "out"), *args])
    assert res.exit_code == 2, res.output
    assert needle in res.stderr and "hint: " in res.stderr and "Traceback" not in res.output
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_small_shards_encode_then_merge_into_the_whole_set(tiny_refs: Path, tmp_path: Path) -> None:
    shards = []
    for k in (1, 2):
        out = tmp_path / f"box{k}"
        res = run_kit("run", "--ref-dir", tiny_refs, "--out-dir", out, "--box-id", f"box{k}", "--shard", f"{k}/2",
                      "--encoders", "libx264", *FAST, "--cqs", "37")
        # the corpus step succeeds with 2 of 4 sources; LOSO on the shard alone refuses and points at the merge
        assert res.returncode == 2, res.stdout + res.stderr
        assert f"--shard {k}/2: 2 of the reference set's 4 clips" in res.stdout
        assert f"is shard {k}/2 with 2 source(s)" in res.stderr
        assert "-m kit merge results-A.tar.gz results-B.tar.gz -o merged.parquet" in res.stderr  # as invoked
        manifest = json.loads((out / "02_corpus" / "shard.manifest.json").read_text())
        assert manifest["shard"]["label"] == f"{k}/2" and manifest["shard"]["set_size"] == len(TINY_SOURCES)
        status = json.loads((out / "02_corpus" / "status.json").read_text())
        assert status["settings"]["shard"]["label"] == f"{k}/2"
        shards.append(out / "02_corpus" / "shard.parquet")
    partial = merge_files(shards[:1], tmp_path / "partial.parquet")
    assert any("shard(s) 2/2 not among the inputs" in w for w in partial.warnings)
    union = merge_files(shards, tmp_path / "union.parquet")
    assert union.warnings == [] and union.n_sources == len(TINY_SOURCES)
    assert {s.src for s in union.sources} == set(TINY_SOURCES)
    assert sorted(str(i.shard) for i in union.inputs) == ["1/2", "2/2"]


def test_each_clip_left_out_is_named_by_one_shard_whatever_else_is_left_out() -> None:
    from kit.corpus.split import names_left_out

    names = [f"/refs/clip{i}.mp4" for i in range(200)] + ["/refs/caf\udce9.y4m", "/refs/a b'c.mov"]
    for n in (1, 2, 3, 7):
        for path in names:
            assert sum(names_left_out(path, ShardSpec(k, n)) for k in range(1, n + 1)) == 1, (path, n)
    # by its file name alone: the folder it is read from, and the other clips left out, change nothing
    assert [names_left_out(f"/elsewhere/clip{i}.mp4", ShardSpec(2, 3)) for i in range(200)] == [
        names_left_out(path, ShardSpec(2, 3)) for path in names[:200]]
    assert names_left_out("/refs/x.mp4", None)  # without --shard, the box names every one


def test_a_shard_the_deal_leaves_without_a_clip_says_so_and_names_what_was_left_out() -> None:
    from kit.media.discovery import Unusable

    bad = [Unusable("/refs/odd.y4m", "/refs/odd.y4m: 175x143 has an odd width and height", "crop it")]
    with pytest.raises(InputError) as refused:
        select_shard(_clips(2), ShardSpec(3, 3), left_out=bad)
    said = refused.value.message
    assert "holds only 2 content(s) the kit can use (1 more left out, which no shard encodes: odd.y4m)" in said
    assert "shard 3 holds none" in said and "fix the clips left out" in (refused.value.hint or "")


def corpus_rows(out: Path) -> list[tuple[object, ...]]:
    """A corpus step's rows, by what they measure (never by which box or shard made them)."""
    import pyarrow.parquet as pq

    columns = ["src_sha256", "encoder", "cq", "frame_index", "vmaf", "adm2", "motion2"]
    return sorted(tuple(row.values()) for row in pq.read_table(out / "02_corpus" / "shard.parquet",
                                                               columns=columns).to_pylist())


@pytest.mark.slow
def test_shards_leave_out_what_the_box_leaves_out_and_their_union_says_the_same(
        ffmpeg: str, tiny_refs: Path, tmp_path: Path) -> None:
    """A folder with a clip the kit cannot use (odd.y4m, 175x143): the box leaves it out with its reason and fix; each
    of two shards leaves it out as well (kit 2.1 refused the shard, saying only the clip's problem), one of them names
    it, and the union of the shards' corpora and manifests is the box's."""
    import shutil

    from tests.conftest import render, run_here

    refs = tmp_path / "refs"
    shutil.copytree(tiny_refs, refs)
    render(ffmpeg, "testsrc=s=175x143:r=25", refs / "odd.y4m", pix_fmt="yuv444p")
    cheap = ["--encoders", "libx264", "--cqs", "37", "--scales", "native"]
    prereqs = tmp_path / "prereqs"
    assert run_here("step", "prereqs", "--out-dir", prereqs, *cheap).returncode == 0

    def corpus(name: str, *flags: str) -> Path:
        out = tmp_path / name
        shutil.copytree(prereqs / "01_prereqs", out / "01_prereqs")
        res = run_here("step", "corpus", "--ref-dir", refs, "--out-dir", out, "--box-id", name, *cheap, *flags)
        assert res.returncode == 0, res.stdout + res.stderr
        assert f"skipped {refs / 'odd.y4m'}: 175x143 has an odd width and height" in res.stdout
        return out

    box = corpus("box")
    shards = [corpus(f"shard{k}", "--shard", f"{k}/2") for k in (1, 2)]
    said = [json.loads((s / "02_corpus" / "skipped.json").read_text())["skipped"] for s in shards
            if (s / "02_corpus" / "skipped.json").is_file()]
    assert said == [json.loads((box / "02_corpus" / "skipped.json").read_text())["skipped"]]  # once, as the box
    left_out = [json.loads((s / "02_corpus" / "shard.manifest.json").read_text())["left_out"] for s in shards]
    assert sorted(len(one) for one in left_out) == [0, 1]
    merged = tmp_path / "union.parquet"
    assert run_here("merge", *shards, "-o", merged).returncode == 0
    union = json.loads((tmp_path / "union.manifest.json").read_text())
    mine = json.loads((box / "02_corpus" / "shard.manifest.json").read_text())
    assert [(u["file"], u["why"]) for u in union["left_out"]] == [(u["file"], u["why"]) for u in mine["left_out"]]
    assert union["warnings"] == []  # every shard of one set
    assert sorted(row for s in shards for row in corpus_rows(s)) == corpus_rows(box)

    # --strict refuses a shard as it refuses the box, naming the clip
    strict = run_here("step", "corpus", "--ref-dir", refs, "--out-dir", shards[0], "--box-id", "shard1", *cheap,
                      "--shard", "1/2", "--strict")
    assert strict.returncode == 2 and "odd.y4m: 175x143 has an odd width and height" in strict.stderr, strict.stderr
