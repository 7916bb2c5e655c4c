"""A merged input that holds an earlier run of a box, beside a later run of that box (issue 91, item 3): the union's
rows of the box, its left-out clips and its checked clips are the earlier run's, and are not taken; the other boxes'
are. A box id whose rows the union holds of a run that is not superseded too cannot be taken apart: refused. On
small synthetic inputs (tests/pipeline/test_one_box_reruns.py merges real runs)."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from itertools import permutations

import pyarrow as pa
import pytest

from kit.corpus.inputs import LoadedInput
from kit.corpus.manifests import BoxRun, LeftOut, MergeManifest, ShardManifest, SharedBoxId, SourceRows
from kit.corpus.merge import supersede
from kit.corpus.oracle import IndependentCheck
from kit.errors import InputError

MACHINE = "00112233aabbccdd"


def sha(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def rows(*pairs: tuple[str, str]) -> pa.Table:
    """(box id, clip) rows, two frames each."""
    return pa.table({"box_id": [b for b, _ in pairs for _ in range(2)],
                     "src": [c for _, c in pairs for _ in range(2)],
                     "src_sha256": [sha(c) for _, c in pairs for _ in range(2)]})


def run(box: str, made: str, machine: str = MACHINE) -> BoxRun:
    return BoxRun(box, machine, "", made, sha(f"{box}{machine}{made}"))


A1, A2 = run("boxa", "2026-01-01T00:00:00Z"), run("boxa", "2026-02-01T00:00:00Z")
B1 = run("boxb", "2026-01-05T00:00:00Z")
# box A's first run left x out (box A's second uses it); box B left y out; box A's check refuted w
X, Y = LeftOut("x.y4m", "too short", "boxa"), LeftOut("y.y4m", "no video", "boxb")
W = LeftOut("w.y4m", "the independent check refuted its scores", "boxa", by_check=True)


def union() -> LoadedInput:
    """merge(A's first run, B's): A holds clips a and c, B holds b."""
    check = IndependentCheck(8, 0.5, 3, 0.25, "c frame 3", ["w.y4m (box boxa): the independent check refuted its "
                                                            "scores"], ["c"], [])
    sources = tuple(SourceRows(c, sha(c), 2, file=f"{c}.y4m") for c in "abc")
    manifest = MergeManifest(file="u.parquet", sha256=sha("u"), runs=(A1, B1), left_out=(X, Y, W), check=check,
                             checked=[sha(c) for c in "abc"], recorded_utc=B1.made, sources=sources)
    return LoadedInput("/in/u.parquet", "parquet", sha("u-file"), rows(("boxa", "a"), ("boxb", "b"), ("boxa", "c")),
                       B1.made, manifest)


def later_run() -> LoadedInput:
    """Box A's second run: clips a and x (c taken out of its folder)."""
    manifest = ShardManifest(kind="shard", sha256=A2.sha256, box_id="boxa", machine=MACHINE, created_at_utc=A2.made)
    return LoadedInput("/in/results-boxa-2.tar.gz", "tarball", sha("t2"), rows(("boxa", "a"), ("boxa", "x")),
                       A2.made, manifest)


@pytest.mark.parametrize("order", list(permutations(range(2))))
def test_a_union_beside_a_later_run_of_one_of_its_boxes_keeps_only_the_other_boxes(order: tuple[int, ...]) -> None:
    given = [union(), later_run()]
    kept, superseded = supersede([given[i] for i in order])
    (u,) = [i for i in kept if i.name == "u.parquet"]
    assert set(u.table["box_id"].to_pylist()) == {"boxb"}
    m = u.manifest
    assert isinstance(m, MergeManifest)
    assert m.runs == (B1,) and m.left_out == (Y,) and m.checked == [sha("b")] == [r.src_sha256 for r in m.sources]
    assert m.check is not None and (m.check.clips, m.check.refused, m.check.unchecked) == (1, [], [])
    assert [i.name for i in kept if i.name != "u.parquet"] == ["results-boxa-2.tar.gz"]  # the later run whole
    (s,) = superseded
    assert (s.input, s.run, s.by, s.later, s.only) == ("u.parquet", A1, "results-boxa-2.tar.gz", A2, ["c.y4m"])


def test_a_union_that_holds_the_later_run_is_kept_whole() -> None:
    u = union()
    newer = replace(u, manifest=replace(u.manifest, runs=(A2, B1)))
    later = later_run()
    earlier = replace(later, recorded_utc=A1.made, manifest=replace(later.manifest, sha256=A1.sha256,
                                                                    created_at_utc=A1.made))
    kept, superseded = supersede([newer, earlier])
    assert len(kept) == 1 and kept[0] is newer and [s.input for s in superseded] == ["results-boxa-2.tar.gz"]


@pytest.mark.parametrize("other", ["another machine", "a kit before 2.4"])
def test_a_box_id_the_union_holds_of_a_run_not_superseded_is_refused(other: str) -> None:
    u = union()
    assert isinstance(u.manifest, MergeManifest)
    if other == "another machine":
        manifest = replace(u.manifest, runs=(A1, run("boxa", A1.made, "ffffeeeeddddcccc"), B1))
    else:
        manifest = replace(u.manifest, shared_box_ids=(SharedBoxId("boxa", ["old.parquet", "results-boxa-1"]),))
    with pytest.raises(InputError, match="rows of box id boxa from more than one run"):
        supersede([replace(u, manifest=manifest), later_run()])
