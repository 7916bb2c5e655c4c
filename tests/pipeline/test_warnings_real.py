"""The merge's and `corpus info`'s warnings raised by real corpus steps (issue 74, item 3): each kind whose raise
case was rows, manifests or levels made by hand now also raised by what real boxes write.

Three tiny boxes, each a real prereqs and corpus step on tiny clips at libx264 cq 25 and 37 (no training): box A
(alpha, beta), box B (alpha's file renamed city: the same bytes under another name), box C (alpha scored with the
teacher vmaf_v0.6.1neg). From what they write:
- one file, several names: `merge` of A's and B's shards names alpha's file (its sha256, computed here) by both names;
- legacy links: a bash-kit JSONL made of A's beta rows (the JSONL fields only) under the name alpha, merged beside A's
  shard, is said to carry alpha's name with other features;
- foreign manifest: A's shard.parquet beside B's shard.manifest.json (a copied folder that mixed two boxes' files) is
  flagged by `corpus info`;
- mixed teachers: A's and C's shards concatenated as a user's pandas would (merge refuses two teachers) are warned of
  by `corpus info`.
The no-raise case of each is a real merge of two real boxes (tests/pipeline/test_warnings_raised.py); here, A's own
shard, which `corpus info` warns nothing of."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from kit.corpus.jsonl import JSONL_REQUIRED
from kit.infra.files import sha256_file
from kit.rundir import RunDir, manifest_path
from tests.conftest import copy_prereqs, passed, run_kit

pytestmark = pytest.mark.slow  # real corpus steps

GRID = ["--encoders", "libx264", "--cqs", "30", "--scales", "native"]


def corpus_box(refs: Path, out: Path, box: str, *extra: str, prereqs_of: Path | None = None) -> Path:
    """A real box's corpus step on `refs` (its prereqs step run, or copied from `prereqs_of`'s): its shard."""
    if prereqs_of is None:
        passed(run_kit("run", "--ref-dir", refs, "--out-dir", out, "--box-id", box, "--only", "prereqs", *GRID,
                       *extra))
    else:
        copy_prereqs(prereqs_of, out)
    passed(run_kit("step", "corpus", "--ref-dir", refs, "--out-dir", out, "--box-id", box, *GRID, *extra))
    return RunDir(out).shard


def refs_of(tiny_refs: Path, folder: Path, names: dict[str, str]) -> Path:
    """`folder` holding a copy of each tiny clip `names` names, under the name it gives it."""
    folder.mkdir()
    for clip, name in names.items():
        shutil.copy(tiny_refs / f"{clip}.y4m", folder / f"{name}.y4m")
    return folder


@pytest.fixture(scope="module")
def boxes(tiny_refs: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Boxes A, B and C's shards, and alpha's file."""
    root = tmp_path_factory.mktemp("warnboxes")
    three = {"beta": "beta", "gamma": "gamma"}  # LOSO's least: three contents a box
    a = corpus_box(refs_of(tiny_refs, root / "refs-a", {"alpha": "alpha", **three}), root / "a", "boxa")
    b = corpus_box(refs_of(tiny_refs, root / "refs-b", {"alpha": "city", **three}), root / "b", "boxb",
                   prereqs_of=root / "a")
    c = corpus_box(refs_of(tiny_refs, root / "refs-c", {"alpha": "alpha", **three}), root / "c", "boxc",
                   "--teacher", "vmaf_v0.6.1neg")
    return {"a": a, "b": b, "c": c, "alpha": tiny_refs / "alpha.y4m"}


def test_one_file_named_two_ways_by_two_real_boxes_is_said_at_their_merge(boxes: dict[str, Path],
                                                                        tmp_path: Path) -> None:
    res = run_kit("merge", boxes["a"], boxes["b"], "-o", tmp_path / "u.parquet")
    assert res.returncode == 0, res.stdout + res.stderr
    sha = sha256_file(boxes["alpha"])  # the clip's bytes, by hand: the same file on both boxes
    warned = [w for w in json.loads(manifest_path(tmp_path / "u.parquet").read_text())["warnings"]
              if w.startswith(f"file {sha[:12]} is named ")]
    assert len(warned) == 1 and "'alpha' in " in warned[0] and "'city' in " in warned[0], res.stderr
    assert f"warning: {warned[0]}" in res.stderr


def test_a_bash_kit_jsonl_under_a_real_sources_name_with_other_rows_is_said_at_the_merge(
        boxes: dict[str, Path], tmp_path: Path) -> None:
    table = pq.read_table(boxes["a"])
    rows = table.filter(pc.equal(table["src"], "beta")).select(list(JSONL_REQUIRED)).to_pylist()
    jsonl = tmp_path / "legacy.jsonl"
    jsonl.write_text("".join(json.dumps({**r, "src": "alpha"}) + "\n" for r in rows))  # beta's rows, named alpha
    res = run_kit("merge", boxes["a"], jsonl, "-o", tmp_path / "u.parquet")
    assert res.returncode == 0, res.stdout + res.stderr
    warned = [w for w in json.loads(manifest_path(tmp_path / "u.parquet").read_text())["warnings"]
              if "(bash-kit JSONL) has the name of " in w]
    assert len(warned) == 1 and "(boxa), but the features of " in warned[0], res.stderr
    assert f"warning: {warned[0]}" in res.stderr


def test_corpus_info_flags_a_real_shard_beside_another_boxs_manifest(boxes: dict[str, Path], tmp_path: Path) -> None:
    shard = tmp_path / "shard.parquet"
    shutil.copy(boxes["a"], shard)
    shutil.copy(manifest_path(boxes["b"]), manifest_path(shard))
    res = run_kit("corpus", "info", shard)
    assert res.returncode == 0 and f"warning: {manifest_path(shard)} does not describe {shard}" in res.stderr, \
        res.stdout + res.stderr
    shutil.copy(manifest_path(boxes["a"]), manifest_path(shard))  # its own manifest: nothing to say
    own = run_kit("corpus", "info", shard)
    assert own.returncode == 0 and "warning" not in own.stderr.lower(), own.stderr


def test_corpus_info_warns_of_two_real_boxes_of_two_teachers_concatenated(boxes: dict[str, Path],
                                                                        tmp_path: Path) -> None:
    a, c = pq.read_table(boxes["a"]), pq.read_table(boxes["c"])
    assert set(a["teacher_model"].to_pylist()) != set(c["teacher_model"].to_pylist())
    both = tmp_path / "both.parquet"
    pq.write_table(pa.concat_tables([a, c]), both)
    res = run_kit("corpus", "info", both)
    assert res.returncode == 0 and "warning: the corpus holds rows of 2 teacher models" in res.stderr, \
        res.stdout + res.stderr
    one = run_kit("corpus", "info", boxes["c"])
    assert one.returncode == 0 and "teacher models" not in one.stderr, one.stderr
