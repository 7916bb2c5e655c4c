"""A member's files are read as they are, and refused for what they are (issue 69, item 2): a 2.1.0 shard manifest
with a malformed key (`left_out` an object, an entry without `why`, `warnings` a text, a newer schema, ...) is
refused by `merge` naming the key and the box, never dropped and its rows then taken for an older kit's ("scored by a
kit before 2.0 ... rescore them"); a damaged skipped.json alike. One box's corpus given twice (two bundles of one
shard, a tarball and its shard.parquet) is that box's evidence once in every count the union prints: its rows, its
left-out clips, its independent check and its warnings."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from click.testing import CliRunner, Result

from kit.bundle.tarball import write_results_tarball
from kit.cli.main import cli
from kit.corpus.manifests import ClipEntry, LeftOut, ShardManifest, read_manifest
from kit.corpus.oracle import OracleCheck
from kit.infra.files import sha256_file
from kit.infra.tree import Tree
from kit.rundir import LAYOUT
from tests.kitfiles import shard_table, write_shard

# a lead record of each test's own (tests/conftest.py own_lead): its unsigned tarballs of boxa and boxb are
# refused, rightly, wherever another test made those box ids known by a key in the session's shared cache
pytestmark = pytest.mark.usefixtures("own_lead")

BOX = "boxa"


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [*map(str, args)])


def box_shard(folder: Path) -> Path:
    """A shard at 24 fps (a rate the shared decode of kits before 2.0 misscored: no manifest, no merge)."""
    table = shard_table(box=BOX)
    table = table.set_column(table.column_names.index("fps"), "fps", pa.array([24.0] * table.num_rows))
    return write_shard(folder / "shard.parquet", table)


def manifest_of(shard: Path) -> dict[str, Any]:
    """The manifest kit 2.1.0 writes of `shard`: two clips left out, one checked source, a warning."""
    check = OracleCheck("j1", 0, 15, 0.0001, 3, 80.0, 80.0, ["ffmpeg"], own_file=True)
    return ShardManifest(
        kind="shard", file=shard.name, sha256=sha256_file(shard), rows=120, box_id=BOX, kit_version="2.1.0",
        sources=(ClipEntry("s0-boxa", f"{1000:064x}"[-64:], 176, 144, "24/1", "yuv420p", 40, oracle=check),),
        left_out=(LeftOut("odd.y4m", "175x143 has an odd width", BOX), LeftOut("cut.mp4", "no moov atom", BOX)),
        warnings=["s0-boxa: its own bitrate is 40 kb/s"]).to_json()


def tarball(dest: Path, shard: Path, manifest: dict[str, Any], utc: str = "20261122T000000Z",
            skipped: object = None) -> Path:
    """A results tarball as a box's bundle packs its shard, its manifest and (when given) its skipped.json."""
    side = shard.parent / f"{dest.name}.manifest.json"
    side.write_text(json.dumps(manifest))
    files = {LAYOUT.shard.as_posix(): shard, LAYOUT.shard_manifest.as_posix(): side}
    if skipped is not None:
        (shard.parent / "skipped.json").write_text(json.dumps(skipped))
        files[LAYOUT.skipped_clips.as_posix()] = shard.parent / "skipped.json"
    with Tree.open(dest.parent) as tree:
        write_results_tarball(tree, dest, f"results-{BOX}-{utc}", files, {"box_id": BOX, "created_utc": utc})
    return dest


def refused(res: Result, *needles: str) -> str:
    assert res.exit_code == 2, res.output
    error = next(line for line in res.stderr.splitlines() if line.startswith("error: "))
    assert all(n in error for n in needles), (needles, error)
    assert "before 2.0" not in res.stderr and "rescore" not in res.stderr, res.stderr
    return error


MALFORMED: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "left_out an object": (lambda m: m.__setitem__("left_out", {"file": "odd.y4m", "why": "x"}), "left_out"),
    "an entry without why": (lambda m: m["left_out"][0].pop("why"), "left_out[0]"),
    "warnings a text": (lambda m: m.__setitem__("warnings", "careful"), "warnings"),
    "by_check a text": (lambda m: m["left_out"][1].__setitem__("by_check", "yes"), "left_out[1].by_check"),
    "sources an object": (lambda m: m.__setitem__("sources", {"a": 1}), "sources"),
    "an oracle a text": (lambda m: m["sources"][0].__setitem__("oracle", "passed"), "sources[0].oracle"),
    "box_id a number": (lambda m: m.__setitem__("box_id", 7), "box_id"),
    "a newer schema": (lambda m: m.__setitem__("schema_version", 99), "newer than this kit reads"),
    "not an object": (lambda m: m.clear(), "shard.manifest.json"),
}


def test_a_good_manifest_of_kit_2_1_merges(tmp_path: Path) -> None:
    shard = box_shard(tmp_path)
    res = invoke("merge", tarball(tmp_path / "a.tar.gz", shard, manifest_of(shard)), "-o", tmp_path / "u.parquet")
    assert res.exit_code == 0, res.output
    assert "left out on box boxa: odd.y4m" in res.output


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_key_is_refused_naming_the_key_and_the_box(case: str, tmp_path: Path) -> None:
    shard = box_shard(tmp_path)
    manifest = manifest_of(shard)
    edit, key = MALFORMED[case]
    edit(manifest)
    if case == "not an object":
        manifest = []  # type: ignore[assignment]
    out = tmp_path / "u.parquet"
    res = invoke("merge", tarball(tmp_path / "a.tar.gz", shard, manifest), "-o", out)
    refused(res, "a.tar.gz", f"box {BOX}", key)
    assert not out.exists()
    # a shard given as a file, its manifest beside it, alike
    (tmp_path / "shard.manifest.json").write_text(json.dumps(manifest))
    refused(invoke("merge", shard, "-o", out), "shard.parquet", key)


def test_a_manifest_of_another_corpus_in_a_tarball_is_refused(tmp_path: Path) -> None:
    shard = box_shard(tmp_path)
    manifest = {**manifest_of(shard), "sha256": "ab" * 32}
    refused(invoke("merge", tarball(tmp_path / "a.tar.gz", shard, manifest), "-o", tmp_path / "u.parquet"),
            f"box {BOX}", "another corpus's manifest")


@pytest.mark.parametrize("skipped", [{"skipped": {"path": "x"}}, {"skipped": [{"path": "x", "fix": ""}]}, [1]])
def test_a_damaged_skipped_json_is_refused_naming_the_box(skipped: object, tmp_path: Path) -> None:
    shard = box_shard(tmp_path)
    manifest = {**manifest_of(shard), "left_out": []}  # an older bundle's: the clips come from skipped.json
    given = tarball(tmp_path / "a.tar.gz", shard, manifest, skipped=skipped)
    res = invoke("merge", given, "-o", tmp_path / "u.parquet")
    refused(res, f"box {BOX}", "skipped.json")


def counts(union: Path) -> tuple[int, int, int]:
    """(rows, left-out clips, clips the independent check covers) as the union's manifest records them."""
    manifest = read_manifest(union)
    assert manifest is not None and manifest.check is not None
    return manifest.rows, len(manifest.left_out), manifest.check.clips


def test_one_box_given_twice_is_its_evidence_once(tmp_path: Path) -> None:
    shard = box_shard(tmp_path)
    first = tarball(tmp_path / "first.tar.gz", shard, manifest_of(shard))
    again = tarball(tmp_path / "again.tar.gz", shard, manifest_of(shard), utc="20261123T000000Z")  # a rebundle
    assert sha256_file(first) != sha256_file(again)
    once, twice, beside = tmp_path / "once.parquet", tmp_path / "twice.parquet", tmp_path / "beside.parquet"
    assert invoke("merge", first, "-o", once).exit_code == 0
    res = invoke("merge", first, again, "-o", twice)
    assert res.exit_code == 0, res.output
    assert counts(twice) == counts(once) == (120, 2, 1)
    assert res.output.count("left out on box boxa: odd.y4m") == 1 and "independent check: 1 clip(s)" in res.output
    assert "merged 2 input(s) of 1 corpus into" in res.output
    assert "first.tar.gz: the same corpus as again.tar.gz (box boxa): its left-out" in res.output  # canonical order
    manifest = read_manifest(twice)
    assert manifest is not None and manifest.warnings.count("box boxa: s0-boxa: its own bitrate is 40 kb/s") == 1
    # the shard itself beside its tarball: the same bytes, the same evidence
    (tmp_path / "shard.manifest.json").write_text(json.dumps(manifest_of(shard)))
    assert invoke("merge", first, shard, "-o", beside).exit_code == 0
    assert counts(beside) == (120, 2, 1)


def test_a_shard_beside_the_union_made_of_it_is_its_evidence_once(tmp_path: Path) -> None:
    shard = box_shard(tmp_path)
    first = tarball(tmp_path / "first.tar.gz", shard, manifest_of(shard))
    union, again = tmp_path / "union.parquet", tmp_path / "again.parquet"
    assert invoke("merge", first, "-o", union).exit_code == 0
    res = invoke("merge", union, first, "-o", again)
    assert res.exit_code == 0, res.output
    assert counts(again) == (120, 2, 1)
    assert "first.tar.gz: the same corpus as union.parquet (box boxa) holds among its inputs" in res.output
