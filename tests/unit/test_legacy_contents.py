"""Bash-kit JSONL rows of a content the union already holds are one content with it, said at merge (issue 52, item
5; kit.corpus.legacy). Before: a JSONL copy of four clips a shard held made "8 contents in 8 sources", and each
fold trained on its held-out clip's copy (HOLD at 0.9490 became PROMOTE at 0.9952)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from kit.cli.main import cli
from kit.corpus.jsonl import JSONL_FEATURES, JSONL_REQUIRED, jsonl_src_sha256
from kit.rundir import manifest_path
from tests.kitfiles import shard_table, write_shard


def merge(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, ["merge", *map(str, args)])


def jsonl_copy(table: pa.Table, path: Path, **change: object) -> Path:
    """The shard's rows as the bash kit wrote them: its keys only, the features printed to 6 decimals; `change`
    sets a key on every row (a value, or a function of the row's value)."""
    lines = []
    for row in table.select(list(JSONL_REQUIRED)).to_pylist():
        row.update({k: round(row[k], 6) for k in ("vmaf", *JSONL_FEATURES)})
        row.update({k: v(row[k]) if callable(v) else v for k, v in change.items()})
        lines.append(json.dumps(row))
    path.write_text("\n".join(lines) + "\n")
    return path


def contents(out: Path) -> dict[str, str]:
    """src_sha256 -> content of the merged corpus."""
    t = pq.read_table(out, columns=["src_sha256", "content"])
    return dict(zip(t["src_sha256"].to_pylist(), t["content"].to_pylist(), strict=False))


@pytest.fixture
def union(tmp_path: Path) -> tuple[Path, pa.Table]:
    table = shard_table(n_src=4, rows_per_src=12)
    return write_shard(tmp_path / "shard.parquet", table), table


def test_a_jsonl_copy_of_the_unions_clips_is_one_content_with_them(tmp_path: Path,
                                                                  union: tuple[Path, pa.Table]) -> None:
    shard, table = union
    legacy = jsonl_copy(table, tmp_path / "legacy.jsonl")
    out = tmp_path / "merged.parquet"
    res = merge(shard, legacy, "-o", out)
    assert res.exit_code == 0, res.output
    assert "4 contents in 8 sources" in res.output, res.output
    said = [ln for ln in res.stdout.splitlines() if "(bash-kit JSONL) holds the rows of" in ln]
    assert len(said) == 4, res.stderr
    assert "s0-boxa~" in said[0] and "the six features of all 12 frame(s) both score agree" in said[0]
    found = contents(out)
    for i, name in enumerate(["s0-boxa", "s1-boxa", "s2-boxa", "s3-boxa"]):
        assert found[jsonl_src_sha256(name)] == found[f"{i:064x}"]  # held out with the clip it copies
    manifest = json.loads(manifest_path(out).read_text())
    assert manifest["n_contents"] == 4 and len(manifest["groups"]) == 4
    # the entry each line gives undoes it
    undo = json.loads(said[0].split("if they are different contents: ")[1])
    (tmp_path / "apart.json").write_text(json.dumps(undo))
    res = merge(shard, legacy, "-o", tmp_path / "apart.parquet", "--content-groups", tmp_path / "apart.json")
    assert res.exit_code == 0 and "5 contents in 8 sources" in res.output, res.output  # one pair apart


def test_a_jsonl_source_of_a_clips_name_with_other_rows_is_another_content_said_so(
        tmp_path: Path, union: tuple[Path, pa.Table]) -> None:
    """The name matches, the features do not: two contents of one name, kept apart and said so with the entry that
    joins them; and a JSONL source of a name the union does not hold is left alone."""
    shard, table = union
    s0 = table.filter(pa.compute.equal(table["src"], "s0-boxa"))
    other = jsonl_copy(s0, tmp_path / "other.jsonl", adm2=lambda v: round(min(v + 0.05, 1.0), 6))
    out = tmp_path / "merged.parquet"
    res = merge(shard, other, "-o", out)
    assert res.exit_code == 0 and "5 contents in 5 sources" in res.output, res.output
    (line,) = [ln for ln in res.stderr.splitlines() if "(bash-kit JSONL) has the name of" in ln]
    assert "but the features of 12 of the 12 frame(s) both score differ (the largest: adm2 by 0.05" in line, line
    assert contents(out)[jsonl_src_sha256("s0-boxa")] == jsonl_src_sha256("s0-boxa")
    assert line.removeprefix("warning: ") in json.loads(manifest_path(out).read_text())["warnings"]
    join = json.loads(line.split("with FILE holding ")[1])
    (tmp_path / "same.json").write_text(json.dumps(join))
    res = merge(shard, other, "-o", tmp_path / "joined.parquet", "--content-groups", tmp_path / "same.json")
    assert res.exit_code == 0 and "4 contents in 5 sources" in res.output, res.output
    alone = jsonl_copy(s0, tmp_path / "alone.jsonl", src="elsewhere")
    res = merge(shard, alone, "-o", tmp_path / "alone.parquet")
    assert res.exit_code == 0 and "5 contents in 5 sources" in res.output and "(bash-kit JSONL) " not in res.output


def test_a_jsonl_source_of_a_clips_name_with_no_frame_to_compare_is_held_out_with_it(
        tmp_path: Path, union: tuple[Path, pa.Table]) -> None:
    """No encoder, cq and frame in common: undecided, and held out together, as an undecided pair is."""
    shard, table = union
    s0 = table.filter(pa.compute.equal(table["src"], "s0-boxa"))
    res = merge(shard, jsonl_copy(s0, tmp_path / "x265.jsonl", encoder="libx265"), "-o", tmp_path / "m.parquet")
    assert res.exit_code == 0 and "4 contents in 5 sources" in res.output, res.output
    assert "no frame both score to compare (no encoder, cq and frame in common): undecided, held out together" \
        in res.stdout
