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
    assert parse_shard(" 2 / 2 ") == ShardSpec(2, 2)
    assert parse_shard(None) is None
    for bad in ("0/2", "3/2", "1/0", "a/b", "1", "", "1/2/3", "-1/2"):
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
