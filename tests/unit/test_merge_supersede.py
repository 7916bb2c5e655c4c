"""A merged input that holds an earlier run of a box, beside a later run of that box (issue 91, item 3): the union's
rows of the box, its left-out clips and its checked clips are the earlier run's, and are not taken; the other boxes'
are. A box id whose rows the union holds of a run that is not superseded too cannot be taken apart: refused. Which run
is later is the box's signed count under the key the lead took last (issue 96), never its clock; a fork of its runs is
refused. On small synthetic inputs (tests/pipeline/test_one_box_reruns.py and tests/pipeline/test_box_keys.py merge
real signed tarballs)."""

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
from kit.infra.keys import Signed, Signer

KEY, NEW_KEY = "ab" * 32, "cd" * 32


def sha(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def rows(*pairs: tuple[str, str]) -> pa.Table:
    """(box id, clip) rows, two frames each."""
    return pa.table({"box_id": [b for b, _ in pairs for _ in range(2)],
                     "src": [c for _, c in pairs for _ in range(2)],
                     "src_sha256": [sha(c) for _, c in pairs for _ in range(2)]})


def run(box: str, made: str, n: int, key: str = KEY, follows: str | None = None) -> BoxRun:
    """Box `box`'s run `n` under `key`, its rows made at `made` (the box's clock), following its run n - 1."""
    return BoxRun(box, "", made, sha(f"{box}{key}{n}{made}"), key, n,
                  (follows if follows is not None else sha(f"digest {box}{key}{n - 1}")) if n > 1 else "",
                  sha(f"digest {box}{key}{n}"))


A1, A2 = run("boxa", "2026-01-01T00:00:00Z", 1), run("boxa", "2026-02-01T00:00:00Z", 2)
B1 = run("boxb", "2026-01-05T00:00:00Z", 1)
HISTORIES = {"boxa": (KEY,), "boxb": (KEY,)}
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


def tarball(r: BoxRun, name: str, *clips: str) -> LoadedInput:
    """The signed tarball of run `r` (its signature checked, as kit.infra.archive gives it), holding `clips`."""
    manifest = ShardManifest(kind="shard", sha256=r.sha256, box_id=r.box_id, created_at_utc=r.made)
    signed = Signed(r.box_id, Signer(r.key, r.shard, r.run, r.follows), r.digest)
    return LoadedInput(f"/in/{name}", "tarball", sha(name), rows(*((r.box_id, c) for c in clips)), r.made, manifest,
                       signed=signed)


def later_run() -> LoadedInput:
    """Box A's second run: clips a and x (c taken out of its folder)."""
    return tarball(A2, "results-boxa-2.tar.gz", "a", "x")


@pytest.mark.parametrize("order", list(permutations(range(2))))
def test_a_union_beside_a_later_run_of_one_of_its_boxes_keeps_only_the_other_boxes(order: tuple[int, ...]) -> None:
    given = [union(), later_run()]
    kept, superseded = supersede([given[i] for i in order], HISTORIES)
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
    kept, superseded = supersede([newer, tarball(A1, "results-boxa-1.tar.gz", "a", "c")], HISTORIES)
    assert len(kept) == 1 and kept[0] is newer and [s.input for s in superseded] == ["results-boxa-1.tar.gz"]


@pytest.mark.parametrize("other", ["another part under that id", "an unsigned input"])
def test_a_box_id_the_union_holds_of_a_run_not_superseded_is_refused(other: str) -> None:
    u = union()
    assert isinstance(u.manifest, MergeManifest)
    if other == "another part under that id":
        manifest = replace(u.manifest, runs=(A1, replace(run("boxa", A1.made, 4), shard="2/2"), B1))
    else:
        manifest = replace(u.manifest, shared_box_ids=(SharedBoxId("boxa", ["old.parquet", "results-boxa-1"]),))
    with pytest.raises(InputError, match="rows of box id boxa from more than one run"):
        supersede([replace(u, manifest=manifest), later_run()], HISTORIES)


@pytest.mark.parametrize("order", list(permutations(range(3))))
def test_the_later_run_is_the_box_s_count_whatever_its_clock_says(order: tuple[int, ...]) -> None:
    """Runs 1, 2, 3 of one box, their stamps backwards (its clock set back before each run): run 3 is the box, in
    every order of the inputs; before, the stamps chose run 1."""
    runs = [run("boxa", made, n) for n, made in ((1, "2026-03-01T00:00:00Z"), (2, "2026-02-27T00:00:00Z"),
                                                   (3, "2026-02-25T00:00:00Z"))]
    given = [tarball(r, f"results-boxa-{r.run}.tar.gz", "a", f"c{r.run}") for r in runs]
    kept, superseded = supersede([given[i] for i in order], HISTORIES)
    assert [i.name for i in kept] == ["results-boxa-3.tar.gz"]
    assert sorted((s.input, s.by) for s in superseded) == [("results-boxa-1.tar.gz", "results-boxa-3.tar.gz"),
                                                           ("results-boxa-2.tar.gz", "results-boxa-3.tar.gz")]


def test_a_run_under_the_key_the_lead_took_later_is_the_later_whatever_its_number() -> None:
    """A box reinstalled (its cache wiped) counts from 1 again under its new key: once the lead took that key, its
    run 1 is later than run 7 of the key before; before the lead took it, no run of it is the box's."""
    old, new = run("boxa", "2026-05-01T00:00:00Z", 7), run("boxa", "2026-05-02T00:00:00Z", 1, NEW_KEY)
    given = [tarball(old, "results-boxa-old.tar.gz", "a"), tarball(new, "results-boxa-new.tar.gz", "b")]
    kept, superseded = supersede(given, {"boxa": (KEY, NEW_KEY)})
    assert [i.name for i in kept] == ["results-boxa-new.tar.gz"] and [s.input for s in superseded] == [
        "results-boxa-old.tar.gz"]
    kept, superseded = supersede(given, {"boxa": (NEW_KEY, KEY)})  # the key taken last wins: the old one again
    assert [i.name for i in kept] == ["results-boxa-old.tar.gz"]


def test_an_unsigned_tarball_neither_supersedes_nor_is_superseded() -> None:
    """A results tarball without a signature (a kit before 2.5's, or a signed one whose `box_key` and `signature`
    were taken off: anyone who saw it can) is nothing a box proved. Under a box id the lead knows by a key, or one the
    merge takes a key for, the merge refuses it before it ranks runs (kit.corpus.signers.refuse_unsigned,
    tests/unit/test_signers.py); what reaches the ranking is of no known box: read for its rows, whatever its own
    stamp, never a run that supersedes a signed one nor one superseded. 2.5.0 superseded it by its box's signed run
    here instead of refusing it."""
    stripped = replace(tarball(A1, "results-boxa-stripped.tar.gz", "a", "c"), signed=None,
                       recorded_utc="2099-01-01T00:00:00Z")
    given = [stripped, tarball(B1, "results-boxb-1.tar.gz", "b")]
    for inputs in (given, given[::-1]):
        kept, superseded = supersede(inputs, HISTORIES)
        assert sorted(i.name for i in kept) == ["results-boxa-stripped.tar.gz", "results-boxb-1.tar.gz"]
        assert superseded == []


@pytest.mark.parametrize("fork", ["two runs of one number", "a run not following its given predecessor"])
def test_a_fork_of_a_box_s_runs_is_refused_naming_both(fork: str) -> None:
    """A box whose cache was restored from a copy (a virtual machine's snapshot) signs two runs after one: which is
    later nothing proves."""
    if fork == "two runs of one number":
        other = replace(A2, sha256=sha("other"), digest=sha("other digest"))
    else:
        other = run("boxa", A2.made, 3, follows=sha("a run 2 never given"))
    given = [tarball(A2, "results-boxa-2.tar.gz", "a"), tarball(other, "results-boxa-x.tar.gz", "b")]
    said = r"results-boxa-2.tar.gz \(its run 2\) and results-boxa-x.tar.gz \(its run [23]\) of box boxa"
    for inputs in (given, given[::-1]):
        with pytest.raises(InputError, match=said) as caught:
            supersede(inputs, HISTORIES)
        # the way out where the other run is a union's, or the box ran on (its later runs fork too): a new key
        assert "ask box boxa's owner to move the box-key folder out of its kit cache and run again" in str(
            caught.value.hint), caught.value.hint


def test_a_union_of_kit_2_4_still_reads_and_its_runs_supersede_nothing() -> None:
    """A 2.4 union's runs name a `machine` (read as nothing) and no key: read, they neither supersede a signed run nor
    are superseded by one; its shared box ids' `one_machine` is read as nothing (the union's rows then cannot be taken
    apart, and a later signed run of its box is refused as mixed)."""
    document = {"kind": "merged", "file": "old.parquet", "runs": [
        {"box_id": "boxa", "machine": "00112233aabbccdd", "shard": "", "made": A1.made, "sha256": A1.sha256}],
        "shared_box_ids": [{"box_id": "boxa", "inputs": ["x", "y"], "one_machine": True}]}
    old = MergeManifest.from_json(document, "old.manifest.json")
    assert old.runs[0].key == "" and old.runs[0].run == 0 and old.shared_box_ids[0].one_box is None
    shard = ShardManifest.from_json({"kind": "shard", "box_id": "boxa", "machine": "00112233aabbccdd"}, "m")
    assert "machine" not in shard.to_json()
    u = LoadedInput("/in/old.parquet", "parquet", sha("old"), rows(("boxa", "a")), A1.made, old)
    kept, superseded = supersede([u, tarball(A2, "results-boxa-2.tar.gz", "a", "x")], HISTORIES)
    assert len(kept) == 2 and superseded == []


def test_the_merge_s_count_before_each_read_takes_one_run_of_each_box() -> None:
    """kit.corpus.merge.Held, what the memory check counts before each input is read: an unsigned input's rows whole;
    of a box's runs (one of which the merge keeps) the largest as rows, of two as large the smaller table, the others
    as their tables' bytes (a run not yet read at its box's largest run's bytes a row); the same run in other bytes
    (both kept) whole."""
    from kit.corpus.inputs import Declared
    from kit.corpus.merge import Held

    first, second = tarball(A1, "a1.tar.gz", "a"), later_run()  # box A's runs: 2 rows, then 4
    plain = LoadedInput("/in/p.parquet", "parquet", sha("p"), rows(("boxc", "z"), ("boxc", "y")))  # 4 rows
    held = Held()
    assert held.counted(Declared(4, A1.box, A1.digest)) == (4, 0, 0)  # the first of its box: rows, nothing besides
    held.add(first)
    held.add(plain)
    per_row = first.table.nbytes / first.table.num_rows
    assert held.counted(Declared(6, A2.box, A2.digest)) == (4 + 6, 1, first.table.nbytes)  # the larger: rows
    assert held.counted(Declared(1, A2.box, A2.digest)) == (4 + 2, 1, round(per_row))  # the smaller: its bytes
    assert held.counted(Declared(2, A1.box, A1.digest)) == (4 + 2 + 2, 0, 0)  # the same run again: kept, whole
    assert held.counted(Declared(3)) == (4 + 2 + 3, 0, 0)  # unsigned
    held.add(second)
    assert held.counted(Declared(4, B1.box, B1.digest)) == (4 + 4 + 4, 1, first.table.nbytes)
    tie = Held()
    tie.runs[A1.box] = [(4, 100, "one"), (4, 60, "two")]
    assert tie.counted(Declared(0, ("boxz", ""), "z")) == (4, 1, 100)  # of two as large, the smaller table as rows
