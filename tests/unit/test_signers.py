"""Whose key each box's runs are (issue 96, item 2; kit/corpus/signers.py), on small synthetic inputs against a lead's
record in the test's own cache: a new box's one key taken and recorded, said; another key for a known box, two new
keys for a new box, an accepted fingerprint no input names, a signed tarball of another box's rows: refused, nothing
recorded; a key accepted becomes the box's last; a union's keys joined with the lead's; a damaged record refused.
The real merges: tests/pipeline/test_box_keys.py."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pytest

from kit.corpus.inputs import LoadedInput
from kit.corpus.manifests import BoxRun, MergeManifest, ShardManifest, Superseded
from kit.corpus.signers import joined, take_keys
from kit.errors import InputError
from kit.infra.keyring import KNOWN_BOXES, BoxKeys
from kit.infra.keys import Signed, Signer, fingerprint

K1, K2, K3 = "11" * 32, "22" * 32, "33" * 32


@pytest.fixture(autouse=True)
def lead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KIT_CACHE_DIR", str(tmp_path / "lead"))
    return tmp_path / "lead"


def tarball(name: str, key: str, box: str = "b10", rows_of: str | None = None) -> LoadedInput:
    table = pa.table({"box_id": [rows_of or box] * 2, "src": ["a", "a"]})
    return LoadedInput(f"/in/{name}", "tarball", name, table, "", ShardManifest(kind="shard", sha256=name, box_id=box),
                       signed=Signed(box, Signer(key, "", 1, ""), "d" * 64))


def union(*keys: str) -> LoadedInput:
    manifest = MergeManifest(file="u.parquet", box_keys=(BoxKeys("b10", keys),))
    return LoadedInput("/in/u.parquet", "parquet", "u", pa.table({"box_id": ["b10"], "src": ["a"]}), "", manifest)


def again(taken: object, left: object = ()) -> str:
    return f"MERGE AGAIN {taken} WITHOUT {left}"


def recorded(lead: Path) -> dict[str, list[str]]:
    path = lead / KNOWN_BOXES
    return {b["box_id"]: b["keys"] for b in json.loads(path.read_text())["boxes"]} if path.is_file() else {}


def test_a_new_box_s_one_key_is_taken_recorded_and_said(lead: Path) -> None:
    said: list[str] = []
    assert take_keys([tarball("t1", K1), tarball("t2", K1)], (), again, said.append)[0] == {"b10": (K1,)}
    assert recorded(lead) == {"b10": [K1]}
    assert said == [f"box b10 is new to this lead: its key {fingerprint(K1)} is recorded in {lead / KNOWN_BOXES} "
                    "(compare it with the fingerprint the box's owner tells you; a tarball of that box signed by "
                    "another key is refused)"]


def test_nothing_signed_reads_no_record(lead: Path) -> None:
    plain = LoadedInput("/in/p.parquet", "parquet", "p", pa.table({"box_id": ["b10"]}))
    assert take_keys([plain], (), again, print)[0] == {} and not lead.exists()


def test_another_key_for_a_known_box_is_refused_naming_both_and_the_command(lead: Path) -> None:
    take_keys([tarball("t1", K1)], (), again, print)
    with pytest.raises(InputError) as caught:
        take_keys([tarball("forged", K2)], (), again, print)
    assert f"box b10 is known to this lead by key {fingerprint(K1)}, but {fingerprint(K2)} (forged)" in \
        caught.value.message
    assert f"MERGE AGAIN [('b10', '{fingerprint(K2)}')]" in (caught.value.hint or "")
    assert recorded(lead) == {"b10": [K1]}  # nothing recorded


def test_two_new_keys_for_a_new_box_are_refused_with_a_command_for_each(lead: Path) -> None:
    with pytest.raises(InputError, match="box b10 is new to this lead, and its inputs are signed by 2 keys") as caught:
        take_keys([tarball("t1", K1), tarball("t2", K2)], (), again, print)
    assert all(f"MERGE AGAIN [('b10', '{fingerprint(k)}')]" in (caught.value.hint or "") for k in (K1, K2))
    assert recorded(lead) == {}


def test_a_key_accepted_is_the_box_s_last_and_recorded(lead: Path) -> None:
    take_keys([tarball("t1", K1)], (), again, print)
    said: list[str] = []
    assert take_keys([tarball("new", K2), tarball("t1", K1)], [("b10", fingerprint(K2))], again, said.append)[0] == {
        "b10": (K1, K2)}
    assert recorded(lead) == {"b10": [K1, K2]} and said[0].startswith(f"box b10's key is now {fingerprint(K2)}")
    assert take_keys([tarball("new", K2)], (), again, print)[0] == {"b10": (K1, K2)}  # known from then on


def test_a_key_the_box_had_accepted_again_keeps_its_place_behind_the_key_now(lead: Path) -> None:
    """b10 known by K1 then K2 (reinstalled): accepting K1 again (an old tarball of it merged with --accept-key) keeps
    the keys in the order the lead first took them, K2 the key now, said; 2.5.0 moved K1 last, so the runs under K2
    ranked before the older K1's. Every order of accepting known and new keys keeps that order."""
    take_keys([tarball("t1", K1)], (), again, print)
    take_keys([tarball("new", K2)], [("b10", fingerprint(K2))], again, print)
    for old in (K1, K2):
        said: list[str] = []
        assert take_keys([tarball("old", old)], [("b10", fingerprint(old))], again, said.append)[0] == {
            "b10": (K1, K2)}
        assert recorded(lead) == {"b10": [K1, K2]}
        assert said == [f"box b10's key {fingerprint(old)} is one this lead already knows for it (--accept-key "
                        "changes nothing): its keys stay in the order this lead first took them, "
                        f"{fingerprint(K2)} its key now"]
    assert take_keys([tarball("old", K1), tarball("third", K3)], [("b10", fingerprint(K1)), ("b10", fingerprint(K3))],
                     again, print)[0] == {"b10": (K1, K2, K3)}
    assert recorded(lead) == {"b10": [K1, K2, K3]}


def test_an_unsigned_tarball_of_a_box_the_lead_knows_by_a_key_is_refused_and_of_another_taken(lead: Path) -> None:
    """A tarball with its signature taken off (or a kit before 2.5's) under a box id the lead knows by a key, by its
    record or by a key the same merge takes, is refused (exit 2), naming the tarball, the box and its key, and
    nothing is recorded; its rows of that box count, whatever its manifest names. One of a box no key is known for is
    taken, as 2.4's were, and a lead with no record reads none. 2.5.0 took the stripped tarball as a 2.4 one."""
    def stripped(box: str = "b10", rows_of: str | None = None) -> LoadedInput:
        return replace(tarball(f"results-{box}-stripped.tar.gz", K1, box, rows_of), signed=None)

    alone = [stripped("b11")]
    assert take_keys(alone, (), again, print) == ({}, alone) and not lead.exists()  # no record: none read
    take_keys([tarball("t1", K1)], (), again, print)
    for given in ([stripped()], [stripped("b11", rows_of="b10")], [tarball("t1", K1), stripped()]):
        with pytest.raises(InputError) as caught:
            take_keys(given, (), again, print)
        assert caught.value.exit_code == 2
        name = given[-1].name
        assert caught.value.message == (
            f"{name} is unsigned (a kit before 2.5's, or its signature taken off) and holds rows of box b10, which "
            f"this lead knows by its key {fingerprint(K1)}: an unsigned tarball of a box that signs is never taken "
            "as its; nothing was merged"), caught.value.message
        assert "ask box b10's owner to send its signed tarball again" in caught.value.hint
    (lead / KNOWN_BOXES).unlink()
    with pytest.raises(InputError, match="holds rows of box b10, which this lead knows by its key"):
        take_keys([tarball("t1", K1), stripped()], (), again, print)  # a key this merge takes is known too
    assert recorded(lead) == {}
    take_keys([tarball("t1", K1)], (), again, print)
    assert take_keys(alone, (), again, print) == ({}, alone)  # a box no key is known for: taken
    assert recorded(lead) == {"b10": [K1]}


def test_a_fingerprint_no_input_names_is_refused(lead: Path) -> None:
    with pytest.raises(InputError, match=f"--accept-key b10={fingerprint(K3)}: no input given is signed by that key"):
        take_keys([tarball("t1", K1)], [("b10", fingerprint(K3))], again, print)


def test_a_signed_tarball_of_another_box_s_rows_is_refused() -> None:
    with pytest.raises(InputError, match="t1 is signed as box b10, but its corpus holds rows of box b11"):
        take_keys([tarball("t1", K1, rows_of="b11")], (), again, print)


def test_a_union_s_keys_join_the_lead_s(lead: Path) -> None:
    """A union carrying b10's keys K1 then K2 (taken where it was merged): a lead new to b10 takes them as the union
    carries them, said; one that knows K1 alone refuses the union's K2 like a tarball's, naming the union and the
    command that takes K2, and records nothing until told so; one that knows K3 alone refuses the union's. Before, a
    union (a file anyone can edit) made K2 b10's key at a lead that knew K1, unsaid and recorded."""
    assert joined((K1,), (K1, K2)) == (K1, K2) and joined((K1, K2), (K1,)) == (K1, K2) and joined((), (K2,)) == (K2,)
    assert joined((K3,), (K1,)) is None
    said: list[str] = []
    assert take_keys([union(K1, K2), tarball("t2", K2)], (), again, said.append)[0] == {"b10": (K1, K2)}
    assert recorded(lead) == {"b10": [K1, K2]}
    assert said == [f"box b10 is new to this lead: its keys {fingerprint(K1)}, {fingerprint(K2)} (the last is its key "
                    f"now) are taken as u.parquet carries them, and recorded in {lead / KNOWN_BOXES} (compare the last "
                    "with the fingerprint the box's owner tells you; a tarball of that box signed by another key is "
                    "refused)"]
    (lead / KNOWN_BOXES).unlink()
    take_keys([tarball("t1", K1)], (), again, print)
    for given in ([union(K1, K2)], [union(K1, K2), tarball("t2", K2)]):
        with pytest.raises(InputError) as caught:
            take_keys(given, (), again, print)
        said = caught.value.message
        assert f"box b10 is known to this lead by key {fingerprint(K1)}, but {fingerprint(K2)} (" in said
        assert "u.parquet" in said.split(" is signed by another")[0]
        assert f"MERGE AGAIN [('b10', '{fingerprint(K2)}')]" in (caught.value.hint or "")
        assert recorded(lead) == {"b10": [K1]}
    assert take_keys([union(K1, K2)], [("b10", fingerprint(K2))], again, print)[0] == {"b10": (K1, K2)}
    assert recorded(lead) == {"b10": [K1, K2]}
    assert take_keys([union(K1), tarball("t1", K1)], (), again, print)[0] == {"b10": (K1, K2)}  # the lead's
    with pytest.raises(InputError, match=f"known to this lead by key {fingerprint(K2)}, but {fingerprint(K3)} "):
        take_keys([union(K3)], (), again, print)


def test_a_union_s_runs_are_the_box_s_only_where_the_lead_took_them(lead: Path) -> None:
    """A union's `runs` and `superseded` are a file's words: of a box the lead knows, a run the lead took from the
    box's signed tarball is kept; one it never took (an edited union's run 99, which would supersede the box's every
    tarball) is dropped from the union as read, with any superseded entry naming it, said, nothing recorded; of a box
    new to the lead they are taken with its keys (a first use) and recorded, but one that breaks a rule of the
    record is not (the record stays readable). Before, a union's run 99 of b10 erased b10's rows at the merge."""
    taken = take_keys([tarball("t1", K1)], (), again, print)[1]
    real = BoxRun("b10", "", "", "t1", K1, 1, "", "d" * 64)
    fake = BoxRun("b10", "", "", "x", K1, 99, "", "e" * 64)
    fresh = BoxRun("b11", "", "", "y", K2, 3, "f" * 64, "a" * 64)
    broken = BoxRun("b11", "part x", "", "z", K2, 4, "a" * 64, "b" * 64)
    manifest = MergeManifest(file="u.parquet", box_keys=(BoxKeys("b10", (K1,)), BoxKeys("b11", (K2,))),
                             runs=(real, fake, fresh, broken), superseded=(Superseded("t0", real, "x", fake),))
    given = LoadedInput("/in/u.parquet", "parquet", "u", pa.table({"box_id": ["b10", "b11"], "src": ["a", "b"]}), "",
                        manifest)
    said: list[str] = []
    keys, taken = take_keys([given], (), again, said.append)
    assert keys == {"b10": (K1,), "b11": (K2,)}
    (read,) = taken
    assert isinstance(read.manifest, MergeManifest)
    assert read.manifest.runs == (real, fresh) and read.manifest.superseded == ()
    assert said[-1] == ("u.parquet records box b10 run 99; box b11 run 4, which this lead never took from the box's "
                        "signed tarball (a union merged elsewhere, or edited): taken as no run of the box, superseding "
                        "nothing (its rows of that box are kept apart); merge the box's tarballs to take its runs")
    record = json.loads((lead / KNOWN_BOXES).read_text())
    assert sorted((r["box_id"], r["run"]) for r in record["runs"]) == [("b10", 1), ("b11", 3)]
    assert take_keys([given], (), again, print)[1][0].manifest == read.manifest  # the record reads, and proves b11's


def test_a_damaged_record_is_refused_naming_it(lead: Path) -> None:
    lead.mkdir()
    (lead / KNOWN_BOXES).write_text(json.dumps({"kind": "ensemble-kit known boxes",
                                                "boxes": [{"box_id": "b10", "keys": ["not a key"]}]}))
    with pytest.raises(InputError, match="this lead's record of the boxes' keys, is damaged") as caught:
        take_keys([tarball("t1", K1)], (), again, print)
    assert str(lead / KNOWN_BOXES) in caught.value.message


def test_a_union_s_keys_for_a_box_it_holds_no_run_of_are_none_of_its(lead: Path) -> None:
    """An edited union naming a key for a box none of its rows or runs is (a first use planted for a box the lead has
    not met): the key is not taken, so the box's own first tarball is not refused as signed by another."""
    from kit.corpus.signers import claims

    planted = MergeManifest(file="u.parquet", box_keys=(BoxKeys("b10", (K1,)), BoxKeys("b77", (K2,))),
                            )
    given = LoadedInput("/in/u.parquet", "parquet", "u", pa.table({"box_id": ["b10"], "src": ["a"]}), "", planted)
    assert {c.box_id for c in claims([given])} == {"b10"}
    keys, _ = take_keys([given, tarball("t77", K3, box="b77")], (), again, [].append)
    assert keys["b77"] == (K3,)


def test_a_record_that_is_no_file_is_refused_by_name_not_taken_for_none(lead: Path) -> None:
    """An unsigned tarball merged where something else lies under the record's name (a folder, a dangling link) is
    refused naming the record: a record that does not read is never taken for no record, which would take a
    stripped tarball of a box the lead knows."""
    stripped = replace(tarball("results-b10-stripped.tar.gz", K1), signed=None)
    lead.mkdir(parents=True, exist_ok=True)
    for planted in ("folder", "link"):
        target = lead / KNOWN_BOXES
        if planted == "folder":
            target.mkdir()
        else:
            target.symlink_to(lead / "gone.json")
        with pytest.raises(InputError) as caught:
            take_keys([stripped], (), again, print)
        assert caught.value.exit_code == 2 and str(target) in caught.value.message, caught.value.message
        target.rmdir() if planted == "folder" else target.unlink()
