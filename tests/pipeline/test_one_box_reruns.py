"""One box is one box (issue 91, item 3): a box that runs again (a clip added, a clip taken out) sends a second
tarball, and the lead's glob `results-boxa-*.tar.gz` gives the merge both. Two tarballs of one box id signed by one
key (issue 96: the box's own, kit.infra.keys) merge as that box: the later run (the box's own count, whatever the
inputs' order) is the box's rows and left-out clips, the earlier one superseded and said; the union's counts are of
distinct clips. Before, the merge said `two machines ran with one box id ... give each box its own --box-id` and
counted 12 clips checked for 9 contents. Real runs: the session's x264_run (box A, 4 clips) and its copies run again
(the one whose corpus step ran again without delta bundled cheaply: tests/signing.py). Another key under one box id
is refused: tests/pipeline/test_box_keys.py."""

from __future__ import annotations

import json
import os
import shutil
import tarfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import (
    FAST,
    LENIENT,
    TINY_SOURCES,
    copy_prereqs,
    passed,
    render,
    run_here,
    run_kit,
    tiny_links,
)
from tests.signing import corpus_tarball

pytestmark = pytest.mark.slow

ADDED = "epsilon"  # the clip the box's second run adds
OTHER = "zeta"  # box B's one clip, in no run of box A


def tarball_of(out: Path) -> Path:
    (found,) = (out / "05_bundle").glob("results-boxa-*.tar.gz")
    return found


@pytest.fixture(scope="module")
def runs(ffmpeg: str, tiny_refs: Path, x264_run: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Box A's first run (x264_run), the same out-dir run again with a fifth clip (its tarball: the box's second),
    a copy of the first whose corpus step ran again without delta (a run directory: merge takes it as its shard), and
    box B, a corpus step on one clip of its own (a run directory)."""
    root = tmp_path_factory.mktemp("reruns")
    added = tiny_links(tiny_refs, root / "refs-added")
    render(ffmpeg, "smptebars=s=176x144:r=25", added / f"{ADDED}.y4m")
    again = root / "again"
    shutil.copytree(x264_run, again, symlinks=True)
    for old in (again / "05_bundle").glob("results-*.tar.gz"):  # its first tarball is box A's first: sent already
        old.unlink()
    passed(run_kit("run", "--ref-dir", added, "--box-id", "boxa", "--encoders", "libx264", *FAST, *LENIENT,
                   "--out-dir", again))
    fewer = root / "fewer"
    shutil.copytree(x264_run, fewer, symlinks=True)
    res = run_here("step", "corpus", "--ref-dir", tiny_links(tiny_refs, root / "refs-fewer", leave_out=("delta",)),
                   "--out-dir", fewer, "--box-id", "boxa", "--encoders", "libx264", "--cqs", "25,37", "--scales",
                   "native")
    assert res.returncode == 0, res.stderr[-3000:]
    # its shard bundled and signed as the box's next run, by the box's key (the session's cache)
    fewer_tarball = corpus_tarball(fewer, mkdir(root / "fewer-sent"), Path(os.environ["KIT_CACHE_DIR"]), "boxa")
    other = copy_prereqs(x264_run, root / "other")
    render(ffmpeg, "cellauto=s=176x144:r=25:rule=110:seed=3", root / "refs-other" / f"{OTHER}.y4m")
    res = run_here("step", "corpus", "--ref-dir", root / "refs-other", "--out-dir", other, "--box-id", "boxb",
                   "--encoders", "libx264", "--cqs", "25,37", "--scales", "native")
    assert res.returncode == 0, res.stderr[-3000:]
    return {"first": tarball_of(x264_run), "second": tarball_of(again), "fewer": fewer_tarball, "other": other,
            "root": root}


def mkdir(folder: Path) -> Path:
    folder.mkdir()
    return folder


def manifest_of(merged: Path) -> dict[str, object]:
    return json.loads(merged.with_name(f"{merged.stem}.manifest.json").read_text())


def shard_rows(tarball: Path) -> int:
    with tarfile.open(tarball) as tar:
        (member,) = [m for m in tar.getmembers() if m.name.endswith("02_corpus/shard.parquet")]
        extracted = tar.extractfile(member)
        assert extracted is not None
        return pq.ParquetFile(extracted).metadata.num_rows


def test_two_tarballs_of_one_box_merge_as_that_box_in_either_order(runs: dict[str, Path], tmp_path: Path) -> None:
    first, second = runs["first"], runs["second"]
    outs = []
    for i, order in enumerate(([first, second], [second, first], [first, second, first])):
        merged = tmp_path / f"m{i}.parquet"
        res = run_here("merge", *order, "-o", merged)
        assert res.returncode == 0, res.stderr
        assert "two machines" not in res.stdout + res.stderr and "give each box its own" not in res.stderr
        outs.append(merged.read_bytes())
    assert outs[0] == outs[1] == outs[2]  # order-independent, and the same tarball given twice is one
    manifest = manifest_of(tmp_path / "m0.parquet")
    (gone,) = manifest["superseded"]
    assert (gone["input"], gone["by"]) == (first.name, second.name) and gone["only"] == []
    assert gone["run"]["run"] < gone["later"]["run"] and gone["run"]["key"] == gone["later"]["key"]
    assert manifest["shared_box_ids"] == [] and [i["name"] for i in manifest["inputs"]] == [second.name]
    # the union is the later run: its rows, its five clips, each counted once
    assert manifest["rows"] == shard_rows(second) == (len(TINY_SOURCES) + 1) * 2 * 8
    assert manifest["n_sources"] == manifest["n_contents"] == len(TINY_SOURCES) + 1
    assert manifest["check"]["clips"] == len(TINY_SOURCES) + 1 == len(manifest["checked"])
    said = run_here("merge", first, second, "-o", tmp_path / "said.parquet").stdout
    assert f"  {first.name}: box boxa ran again ({second.name}: its run " in said, said
    assert "(and 1 superseded by a later run of its box)" in said


def test_the_union_merged_again_with_the_earlier_run_is_the_same_union(runs: dict[str, Path], tmp_path: Path) -> None:
    """Idempotent: the union records the runs it holds and those superseded, so the box's earlier tarball given
    with the union again adds nothing of it."""
    union = tmp_path / "union.parquet"
    assert run_here("merge", runs["first"], runs["second"], "-o", union).returncode == 0
    again = tmp_path / "again.parquet"
    res = run_here("merge", union, runs["first"], "-o", again)
    assert res.returncode == 0, res.stderr
    assert again.read_bytes() == union.read_bytes()
    assert [s["input"] for s in manifest_of(again)["superseded"]] == [runs["first"].name]


def test_a_later_run_without_a_clip_supersedes_the_earlier_and_names_the_clip_gone(runs: dict[str, Path],
                                                                                  tmp_path: Path) -> None:
    merged = tmp_path / "m.parquet"
    res = run_here("merge", runs["fewer"], runs["first"], "-o", merged)
    assert res.returncode == 0, res.stderr
    manifest = manifest_of(merged)
    (gone,) = manifest["superseded"]
    assert gone["input"] == runs["first"].name and gone["only"] == ["delta.y4m"]
    assert manifest["n_sources"] == len(TINY_SOURCES) - 1 == manifest["check"]["clips"]
    assert "the clips it held that the later run does not: delta.y4m" in res.stdout


def test_a_union_merged_with_a_later_run_of_one_of_its_boxes_takes_the_later_run(runs: dict[str, Path],
                                                                                   tmp_path: Path) -> None:
    """A union that holds box A's first run, merged with A's later run (in either order): box A's rows and left-out
    clips in the union are the earlier run's, superseded as a shard of it would be; box B's stay. The oracle: the
    same merge of the runs themselves (the earlier run's shard given beside the later one)."""
    union = tmp_path / "union.parquet"
    passed(run_here("merge", runs["first"], runs["other"], "-o", union))
    for later, gone in ((runs["second"], []), (runs["fewer"], ["delta.y4m"])):
        direct = tmp_path / f"direct-{later.name}.parquet"
        passed(run_here("merge", runs["first"], runs["other"], later, "-o", direct))
        outs = []
        for i, order in enumerate(([union, later], [later, union])):
            merged = tmp_path / f"m{i}-{later.name}.parquet"
            res = passed(run_here("merge", *order, "-o", merged))
            assert "two machines" not in res.stdout + res.stderr and "conflict" not in res.stderr
            outs.append(merged.read_bytes())
        assert outs[0] == outs[1] == direct.read_bytes()  # order-independent; the union is the runs it was made of
        manifest = manifest_of(tmp_path / f"m0-{later.name}.parquet")
        (stale,) = manifest["superseded"]
        assert (stale["input"], stale["by"], stale["only"]) == (union.name, later.name, gone)
        assert stale["run"]["run"] < stale["later"]["run"]
        assert [r for r in manifest["runs"] if r["box_id"] == "boxa"] == [stale["later"]]
        assert sorted(r["box_id"] for r in manifest["runs"]) == ["boxa"]  # box B's run directory signs no run
        n_a = len(TINY_SOURCES) + (1 if later == runs["second"] else -1)
        assert manifest["n_sources"] == manifest["check"]["clips"] == len(manifest["checked"]) == n_a + 1
        assert manifest["shared_box_ids"] == []
        # idempotent: the earlier run, the later one or the union given again adds nothing
        for extra in (runs["first"], later, union):
            again = tmp_path / f"again-{later.name}.parquet"
            passed(run_here("merge", tmp_path / f"m0-{later.name}.parquet", extra, "-o", again))
            assert again.read_bytes() == outs[0], extra
            again.unlink()
            again.with_name(f"{again.stem}.manifest.json").unlink()


def test_a_box_s_earlier_run_is_not_counted_as_rows_the_union_holds(runs: dict[str, Path], tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A laptop's earlier tarball beside its later one, on a lead's box that holds the union's rows and the earlier
    run's table until it is set aside, but not both runs' rows at the merge's peak: merged (it was refused before the
    second was read, as if the union held both); a box that cannot hold the earlier table besides is refused before
    the second run is read, the refusal saying what it counted."""
    from kit.corpus import inputs as reader
    from kit.corpus.merge import MERGE_PEAK, merge_files
    from kit.errors import ResourceLimit
    from kit.infra import resources

    first, second = runs["first"], runs["second"]
    rows = {p: shard_rows(p) for p in (first, second)}
    table = reader.load_input(first).table.nbytes  # the earlier run, held until supersede sets it aside
    need = MERGE_PEAK.at(rows[second]) + table
    assert need < MERGE_PEAK.at(rows[first] + rows[second])  # what the box is offered tells the two counts apart
    read: list[str] = []
    real = reader.read_parquet
    monkeypatch.setattr(reader, "read_parquet", lambda path, label: read.append(label) or real(path, label))
    monkeypatch.setattr(resources, "box_memory", lambda: (need, need))
    merged = merge_files([first, second], tmp_path / "union.parquet")
    assert merged.rows == rows[second] and len(read) == 2 and [s.input for s in merged.superseded] == [first.name]
    short = need - table // 2
    monkeypatch.setattr(resources, "box_memory", lambda: (short, short))
    read.clear()
    with pytest.raises(ResourceLimit) as exc:
        merge_files([first, second], tmp_path / "refused.parquet")
    assert exc.value.message.startswith(f"with {second}, the inputs read so far hold {rows[second]:,} rows (and 1 "
                                        f"other run(s) of their boxes, "), exc.value.message
    assert len(read) == 1 and not (tmp_path / "refused.parquet").exists()
