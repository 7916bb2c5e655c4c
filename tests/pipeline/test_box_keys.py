"""A box is its key (issue 96, item 2): what the lead takes of a box is what that box's key signed, in the order the
box counted its runs. Before, a tarball made elsewhere with `--box-id b10` and b10's `machine` copied passed `verify`
and erased b10's rows at the lead, and a box whose clock went back lost its later run.

Box b10's runs are the session's x264_run corpus cut to fewer clips each time (tests/signing.py: the kit's own writer
and signer, the key in a cache folder of the test's), their stamps running backwards (its clock set back); the
forger's, the same corpus signed by another key. Every merge is the real CLI's, in a lead's cache of its own."""

from __future__ import annotations

import json
import shlex
from itertools import permutations
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from kit.infra.keys import fingerprint
from tests.conftest import passed, run_here
from tests.signing import corpus_tarball, members, stamp, tarred

pytestmark = pytest.mark.slow

CLIPS = ("alpha", "beta", "gamma", "delta")


@pytest.fixture(scope="module")
def chain(x264_run: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Box b10's runs 1, 2, 3 (four clips, then three, then two), each made under a clock further back than the one
    before; the same corpus as b10's first run signed by a forger's key; and b10's first run after its cache was
    wiped (a new key)."""
    root = tmp_path_factory.mktemp("keys")
    (source,) = (x264_run / "05_bundle").glob("results-boxa-*.tar.gz")
    made = {}
    for n, (clips, back) in enumerate(((CLIPS, 0), (CLIPS[:3], 2), (CLIPS[:2], 3)), start=1):
        made[f"a{n}"] = corpus_tarball(source, mkdir(root / f"a{n}"), root / "b10-cache", "b10", clips,
                                       stamp(back))
    made["forged"] = corpus_tarball(source, mkdir(root / "forged"), root / "forger-cache", "b10", CLIPS[1:])
    made["wiped"] = corpus_tarball(source, mkdir(root / "wiped"), root / "b10-cache-new", "b10", CLIPS[:1])
    return {**made, "root": root}


def mkdir(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def lead(tmp_path: Path) -> dict[str, str]:
    """A lead of its own: its cache (the record of the boxes' keys) in the test's folder."""
    return {"KIT_CACHE_DIR": str(tmp_path / "lead-cache")}


def merge(env: dict[str, str], *args: str | Path) -> tuple[int, str, str]:
    res = run_here("merge", *args, env=env)
    return res.returncode, res.stdout, res.stderr


def manifest_of(merged: Path) -> dict[str, object]:
    return json.loads(merged.with_name(f"{merged.stem}.manifest.json").read_text())


def key_of(tarball: Path) -> str:
    """The fingerprint `verify` says of a tarball (and the test computes from its manifest's public key)."""
    res = passed(run_here("verify", tarball))
    with __import__("tarfile").open(tarball) as tar:
        (m,) = [m for m in tar.getmembers() if m.name.endswith("/manifest.json")]
        handle = tar.extractfile(m)
        assert handle is not None
        said = fingerprint(json.load(handle)["box_key"]["public_key"])
    assert f"signed by key {said}, the box's run " in res.stdout, res.stdout
    return said


def test_a_chain_merges_in_its_own_order_whatever_the_order_or_the_stamps(chain: dict[str, Path],
                                                                          tmp_path: Path) -> None:
    """b10's runs 1 -> 2 -> 3, stamped backwards, merged in each of the six orders: the same union to the byte, whose
    b10 is run 3 (its two clips), runs 1 and 2 said superseded by it. Before, the stamps made run 1 the box."""
    env, runs = lead(tmp_path), [chain["a1"], chain["a2"], chain["a3"]]
    outs = set()
    for i, order in enumerate(permutations(runs)):
        merged = tmp_path / f"m{i}.parquet"
        code, out, err = merge(env, *order, "-o", merged)
        assert code == 0, err
        outs.add((merged.read_bytes(), json.dumps({k: v for k, v in manifest_of(merged).items()
                                                   if k not in ("merged_at_utc", "file")}, sort_keys=True)))
    assert len(outs) == 1
    manifest = manifest_of(tmp_path / "m0.parquet")
    assert sorted(pq.read_table(tmp_path / "m0.parquet")["src"].unique().to_pylist()) == sorted(CLIPS[:2])
    assert [i["name"] for i in manifest["inputs"]] == [chain["a3"].name]
    assert sorted((s["input"], s["by"], s["run"]["run"], s["later"]["run"]) for s in manifest["superseded"]) == sorted(
        [(chain["a1"].name, chain["a3"].name, 1, 3), (chain["a2"].name, chain["a3"].name, 2, 3)])
    assert manifest["superseded"][0]["run"]["made"] > manifest["superseded"][0]["later"]["made"]  # the clock back
    (keys,) = manifest["box_keys"]
    assert keys["box_id"] == "b10" and [fingerprint(k) for k in keys["keys"]] == [key_of(chain["a1"])]
    assert f"{chain['a1'].name}: box b10 ran again ({chain['a3'].name}: its run 3, signed by its key)" in out


def test_a_second_run_under_a_clock_two_days_back_is_the_later_run(chain: dict[str, Path], tmp_path: Path) -> None:
    merged = tmp_path / "m.parquet"
    code, _, err = merge(lead(tmp_path), chain["a1"], chain["a2"], "-o", merged)
    assert code == 0, err
    (gone,) = manifest_of(merged)["superseded"]
    assert (gone["input"], gone["by"]) == (chain["a1"].name, chain["a2"].name)
    assert gone["later"]["made"] < gone["run"]["made"]  # its stamp two days before the run it supersedes
    assert gone["later"]["follows"] == gone["run"]["digest"]
    assert f"note: box b10 is new to this lead: its key {key_of(chain['a1'])} is recorded in " in err


def test_an_older_run_replayed_after_a_newer_stays_superseded(chain: dict[str, Path], tmp_path: Path) -> None:
    env = lead(tmp_path)
    union = tmp_path / "union.parquet"
    assert merge(env, chain["a1"], chain["a3"], "-o", union)[0] == 0
    for replayed in (chain["a1"], chain["a2"]):
        again = tmp_path / f"again-{replayed.name}.parquet"
        code, out, err = merge(env, union, replayed, "-o", again)
        assert code == 0, err
        assert again.read_bytes() == union.read_bytes()  # nothing of the older run is taken
        assert [s["input"] for s in manifest_of(again)["superseded"]] == sorted(
            {chain["a1"].name, replayed.name}), manifest_of(again)["superseded"]
        assert f"  {replayed.name}: box b10 ran again (union.parquet: its run 3" in out, out


def test_the_forged_tarball_of_another_key_is_refused_naming_both_keys(chain: dict[str, Path],
                                                                       tmp_path: Path) -> None:
    """The issue's forgery: made elsewhere with `--box-id b10`, its sums made again by the kit's own writer. It
    verifies (it is a tarball someone signed) under its own fingerprint; the lead that knows b10 refuses it, naming
    both fingerprints and the command that would take the new key; -o is not written. A lead new to b10 given both
    refuses to choose."""
    env, union = lead(tmp_path), tmp_path / "union.parquet"
    assert merge(env, chain["a1"], "-o", union)[0] == 0
    before = union.read_bytes()
    genuine, forged = key_of(chain["a1"]), key_of(chain["forged"])
    assert genuine != forged
    code, _, err = merge(env, union, chain["forged"], "-o", tmp_path / "taken.parquet")
    assert code == 2 and union.read_bytes() == before and not (tmp_path / "taken.parquet").exists()
    assert (f"error: box b10 is known to this lead by key {genuine}, but {forged} ({chain['forged'].name}) is signed "
            "by another") in err, err
    assert f"--accept-key b10={forged}" in err
    code, _, err = merge(lead(tmp_path / "new"), chain["a1"], chain["forged"], "-o", tmp_path / "both.parquet")
    assert code == 2 and "box b10 is new to this lead, and its inputs are signed by 2 keys" in err, err
    assert genuine in err and forged in err and not (tmp_path / "both.parquet").exists()


def test_a_manifest_edited_after_signing_is_refused_by_verify_and_merge(chain: dict[str, Path],
                                                                        tmp_path: Path) -> None:
    """b10's tarball with its manifest.json's box id changed (and, apart, a member changed with its sum): the sums
    still match the files, but the signature does not check: `verify` exits 2 naming the tarball, `merge` too."""
    for what in ("box_id", "member"):
        top = members(chain["a1"], tmp_path / what)
        doc = json.loads((top / "manifest.json").read_text())
        if what == "box_id":
            doc["box_id"] = "b11"
        else:
            shard = top / "02_corpus" / "shard.manifest.json"
            shard.write_text(shard.read_text().replace('"b10"', '"b11"'))
            import hashlib

            doc["files"]["02_corpus/shard.manifest.json"]["sha256"] = hashlib.sha256(shard.read_bytes()).hexdigest()
        (top / "manifest.json").write_text(json.dumps(doc, indent=2))
        edited = tarred(top, tmp_path / f"edited-{what}.tar.gz")
        res = run_here("verify", edited)
        assert res.returncode == 2, res.stdout + res.stderr
        assert "MISMATCH: manifest.json is not what key SHA256:" in res.stderr, res.stderr
        assert f"error: {edited} failed verification (1 problem(s))" in res.stderr
        code, _, err = merge(lead(tmp_path), edited, "-o", tmp_path / f"{what}.parquet")
        assert code == 2 and f"{edited}: fails verification: manifest.json is not what key" in err, err


def test_a_re_signed_copy_is_another_key(chain: dict[str, Path], tmp_path: Path) -> None:
    """b10's first run, its corpus unchanged, signed again by another key (anyone may sign a copy): `verify` says
    the other key's fingerprint, and the lead that knows b10 refuses it."""
    env, union = lead(tmp_path), tmp_path / "union.parquet"
    assert merge(env, chain["a2"], "-o", union)[0] == 0
    copy = corpus_tarball(chain["a1"], tmp_path, tmp_path / "copier-cache", "b10")
    assert key_of(copy) != key_of(chain["a1"])
    code, _, err = merge(env, union, copy, "-o", tmp_path / "m.parquet")
    assert code == 2 and f"box b10 is known to this lead by key {key_of(chain['a1'])}, but {key_of(copy)}" in err


def test_a_box_whose_cache_was_wiped_is_refused_until_its_new_key_is_accepted(chain: dict[str, Path],
                                                                            tmp_path: Path) -> None:
    """b10 reinstalled: its new key signs its run 1 again. Refused naming both keys until the lead runs the command
    the refusal prints; then its new run is b10 (its one clip), the runs of the old key superseded, and the union
    and the lead's record keep both keys, the new one last: the old runs replayed stay superseded, and a later merge
    takes the new key without being told again."""
    env, union = lead(tmp_path), tmp_path / "union.parquet"
    assert merge(env, chain["a1"], chain["a2"], "-o", union)[0] == 0
    old, new = key_of(chain["a1"]), key_of(chain["wiped"])
    taken = tmp_path / "taken.parquet"
    code, _, err = merge(env, union, chain["wiped"], "-o", taken)
    assert code == 2 and f"box b10 is known to this lead by key {old}, but {new}" in err, err
    (hint,) = [line for line in err.splitlines() if line.startswith("hint: ")]
    command = hint.split(", take it: ")[1].split("; else another box made it")[0]
    words = shlex.split(command)  # as the kit was started: here, in this process
    assert "merge" in words and words[-2:] == ["--accept-key", f"b10={new}"], words
    code, out, err = merge(env, *words[words.index("merge") + 1:])
    assert code == 0, err
    assert f"note: box b10's key is now {new}, as accepted (--accept-key)" in err
    manifest = manifest_of(taken)
    assert pq.read_table(taken).filter(__import__("pyarrow").compute.equal(
        pq.read_table(taken)["box_id"], "b10"))["src"].unique().to_pylist() == ["alpha"]
    assert [fingerprint(k) for k in manifest["box_keys"][0]["keys"]] == [old, new]
    assert "the key the lead took for it after this one's" in out
    record = json.loads((tmp_path / "lead-cache" / "known-boxes.json").read_text())
    assert [fingerprint(k) for k in record["boxes"][0]["keys"]] == [old, new]
    again = tmp_path / "again.parquet"
    code, _, err = merge(env, taken, chain["a3"], chain["wiped"], "-o", again)
    assert code == 0, err
    assert again.read_bytes() == taken.read_bytes()  # run 3 of the old key: before the new key's run 1


def test_the_key_is_never_sent(x264_run: Path) -> None:
    """A real run's tarball (the session's x264_run, signed by the session cache's key): none of its members, read
    whole and decompressed, holds the private key in any spelling (its raw bytes, their hex, the PEM's body); it holds
    the public key, in the manifest alone."""
    import base64
    import gzip
    import os

    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

    from kit.infra.keys import box_key
    from kit.infra.tree import Tree

    with Tree.open(Path(os.environ["KIT_CACHE_DIR"])) as cache:
        key = box_key(cache)
    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode().splitlines()[1]
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    (tarball,) = (x264_run / "05_bundle").glob("results-boxa-*.tar.gz")
    data = gzip.decompress(tarball.read_bytes())
    for spelled in (raw, raw.hex().encode(), pem.encode(), base64.b64encode(raw)):
        assert spelled not in data
    assert data.count(public.encode()) == 1


def test_a_union_or_a_tarball_edited_by_someone_who_saw_them_takes_nothing_of_b10(chain: dict[str, Path],
                                                                                  tmp_path: Path) -> None:
    """What anyone who saw b10's tarballs and the lead's union can make without b10's key: the union's manifest given
    a run 99 of b10 under b10's own key (it would supersede b10's every tarball), or the forger's key after b10's
    (it would make the forger's tarball b10's later run), or b10's run 1 with its signature taken off, replayed beside
    the union that superseded it (or alone). Each is refused, or taken as no run of b10: b10's rows are its run 2's,
    and the lead's record keeps b10's one key. Before, each of them erased or replaced b10's rows, exit 0."""
    env, union = lead(tmp_path), tmp_path / "union.parquet"
    assert merge(env, chain["a1"], chain["a2"], "-o", union)[0] == 0
    genuine = json.loads((tmp_path / "lead-cache" / "known-boxes.json").read_text())
    b10 = sorted(pq.read_table(union)["src"].unique().to_pylist())
    assert b10 == sorted(CLIPS[:3])
    document = manifest_of(union)
    (run2,) = document["runs"]
    forger = json.loads(members(chain["forged"], tmp_path / "forged").joinpath("manifest.json").read_text())

    def edited(name: str, **changes: object) -> Path:
        out = tmp_path / f"{name}.parquet"
        out.write_bytes(union.read_bytes())
        out.with_name(f"{name}.manifest.json").write_text(json.dumps({**document, **changes}, indent=2))
        return out

    run99 = edited("run99", runs=[{**run2, "run": 99, "digest": "e" * 64}])
    code, out, err = merge(env, run99, chain["a3"], "-o", tmp_path / "m99.parquet")
    assert code == 0, err
    assert "note: run99.parquet records box b10 run 99, which this lead never took from the box's signed tarball" in err
    assert f"{chain['a3'].name}: box b10 ran again" not in out  # run 3 taken; the union's rows of b10 stay apart
    assert "warning: box id b10 is held by 2 inputs that are different corpora" in err
    keyed = edited("keyed", box_keys=[{"box_id": "b10", "keys": [*document["box_keys"][0]["keys"],
                                                                  forger["box_key"]["public_key"]]}])
    code, _, err = merge(env, keyed, chain["forged"], "-o", tmp_path / "mk.parquet")
    assert code == 2 and f"but {key_of(chain['forged'])} (keyed.parquet, {chain['forged'].name})" in err, err
    top = members(chain["a1"], tmp_path / "stripped")
    signed = json.loads((top / "manifest.json").read_text())
    unsigned = {k: v for k, v in signed.items() if k not in ("box_key", "signature")}
    (top / "manifest.json").write_text(json.dumps(unsigned, indent=2))
    stripped = tarred(top, tmp_path / "results-b10-stripped.tar.gz")
    assert "unsigned (a kit before 2.5's, or one whose signature was taken off)" in passed(run_here("verify",
                                                                                                  stripped)).stdout
    for given in ((union, stripped), (stripped,)):  # b10 is known by its key: never taken unsigned, alone or not
        code, out, err = merge(env, *given, "-o", tmp_path / "ms.parquet")
        assert code == 2 and f"error: {stripped.name} is unsigned (a kit before 2.5's, or its signature taken off) " \
            f"and holds rows of box b10, which this lead knows by its key {key_of(chain['a1'])}" in err, err
        assert not (tmp_path / "ms.parquet").exists()  # nothing of run 1 comes back
    assert json.loads((tmp_path / "lead-cache" / "known-boxes.json").read_text())["boxes"] == genuine["boxes"]


def test_each_command_a_refusal_of_two_new_keys_prints_merges(chain: dict[str, Path], tmp_path: Path) -> None:
    """A lead new to b10 given b10's run and the forger's: refused, with a command for each key. Each command, run as
    printed, merges: it takes that key and leaves the other key's tarball out. Before, both commands gave the merge
    both tarballs again, and each was refused in turn (the other key then "known")."""
    inputs = (chain["a2"], chain["forged"])
    code, _, err = merge(lead(tmp_path / "first"), *inputs, "-o", tmp_path / "m.parquet")
    assert code == 2, err
    (hint,) = [line for line in err.splitlines() if line.startswith("hint: ")]
    commands = hint.split("leaving the other key's inputs out: ")[1].split(" (the lead's guide")[0].split(" or ")
    assert len(commands) == 2
    taken = []
    for i, command in enumerate(commands):
        words = shlex.split(command)
        assert words[-2] == "--accept-key" and words[-1].startswith("b10=SHA256:"), words
        taken.append(words[-1].removeprefix("b10="))
        code, _, err = merge(lead(tmp_path / f"lead{i}"), *words[words.index("merge") + 1:])
        assert code == 0, err
        assert f"note: box b10's key is now {taken[-1]}, as accepted (--accept-key)" in err
    assert sorted(taken) == sorted(key_of(i) for i in inputs)
