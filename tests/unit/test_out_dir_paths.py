"""How the run's records name its own files (issue 67, item 5): relative to the out-dir, so a moved, copied or renamed
out-dir finds them; what a kit before 2.2.0 recorded (absolute) still found; what verify takes as a box's own shard."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.bundle.tarball import names_own_shard
from kit.infra.tree import Tree
from kit.rundir import LAYOUT, RunDir
from kit.steps.base import Context, recorded_corpus
from kit.steps.settings import RunSettings


def test_a_file_in_the_out_dir_is_recorded_relative_to_it_and_found_wherever_the_out_dir_is(tmp_path: Path) -> None:
    made, moved = RunDir(tmp_path / "made here"), RunDir(tmp_path / "elsewhere" / "renamed")
    assert made.recorded(made.shard) == "02_corpus/shard.parquet" == LAYOUT.rel(LAYOUT.shard)
    assert made.recorded(made.root) == "."
    assert moved.found(made.recorded(made.shard)) == moved.shard
    assert moved.found(made.recorded(made.loso_seed(3))) == moved.loso_seed(3)
    # a file elsewhere keeps its absolute path, even beside the out-dir or under a name that starts like it
    for outside in (tmp_path / "union.parquet", tmp_path / "made here2" / "x.parquet", Path("/data/corpus.parquet")):
        assert made.recorded(outside) == str(outside) and moved.found(str(outside)) == outside


def test_a_relative_record_never_reads_from_the_working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run = RunDir(tmp_path / "out")
    assert run.found("02_corpus/shard.parquet") == tmp_path / "out" / "02_corpus" / "shard.parquet"


@pytest.mark.parametrize(("recorded", "corpus_given", "own"), [
    ("02_corpus/shard.parquet", False, True),  # kit 2.2.0 on
    ("02_corpus/shard.parquet", True, True),  # a --corpus that is the out-dir's own shard
    ("/boxes/old place/02_corpus/shard.parquet", False, True),  # 2.1.0, --keep-paths, no --corpus
    ("/boxes/box2/02_corpus/shard.parquet", True, False),  # the lead's --corpus of another box's shard
    ("[out-dir]/02_corpus/shard.parquet", False, True),  # 2.1.0's tarball text
    ("/lead/union.parquet", True, False),
    ("[out-dir]/union.parquet", True, False),
    ("shard.parquet", False, False),
])
def test_which_verdicts_ship_their_box_s_shard(recorded: str, corpus_given: bool, own: bool) -> None:
    assert names_own_shard(recorded, corpus_given) is own


def test_an_older_kit_s_absolute_record_of_the_shard_is_this_out_dir_s_shard(tree: Tree, tmp_path: Path) -> None:
    out = tmp_path / "moved"
    own = Context(RunSettings(out_dir=out), lambda e: None, lambda line: None, tree)
    old = "/where/it/was/02_corpus/shard.parquet"  # 2.1.0's record, the out-dir since moved
    assert recorded_corpus(own, old) == RunDir(out).shard
    assert recorded_corpus(own, "02_corpus/shard.parquet") == RunDir(out).shard
    # a run on a given corpus reads what it names, even a path that ends like a shard
    lead = Context(RunSettings(out_dir=out, corpus=Path(old)), lambda e: None, lambda line: None, tree)
    assert recorded_corpus(lead, old) == Path(old)
    assert recorded_corpus(lead, "/lead/union.parquet") == Path("/lead/union.parquet")
