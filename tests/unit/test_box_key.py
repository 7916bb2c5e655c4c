"""The box's key and what it signs (issue 96, item 2; kit/infra/keys.py): one key however many first runs start at
once, kept readable by its user alone (a group-shared cache too) and refused, named, with what to do, where it is not;
a signature that no edit of the manifest survives; the chain of a box's runs counted by the box; the fingerprint
ssh's own. tests/pipeline/test_box_keys.py merges what it signs."""

from __future__ import annotations

import copy
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kit.errors import InputError, KitError
from kit.infra.keys import (
    FINGERPRINT,
    KEY_FILE,
    KEY_FOLDER,
    BadSignature,
    box_key,
    checked_signature,
    fingerprint,
    sign_manifest,
)
from kit.infra.limits import MAX_RECORD_COUNT
from kit.infra.perms import Rules
from kit.infra.tree import Tree
from tests import pace
from tests.conftest import ROOT, run_here

DOCUMENT = {"kind": "ensemble-kit-results", "kit_version": "2.4.1", "box_id": "b10", "contents": "corpus",
            "created_utc": "20261129T101500Z", "corpus_sha256": "1" * 64,
            "files": {"02_corpus/shard.parquet": {"sha256": "2" * 64, "bytes": 1234},
                      "02_corpus/shard.manifest.json": {"sha256": "3" * 64, "bytes": 56}}}


@pytest.fixture()
def cache(tmp_path: Path) -> Iterator[Tree]:
    with Tree.open(tmp_path / "cache") as tree:
        yield tree


def public(tree: Tree) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return box_key(tree).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def test_first_runs_at_once_end_with_one_key(tmp_path: Path) -> None:
    """Six commands of a new box making its key at once: one key file, the one each of them signs with. Seen
    failing with the key folder's lock taken out (four keys printed: each run signs with its own, the last
    renamed over the others')."""
    code = "from kit.infra.keys import box_key; import sys; from cryptography.hazmat.primitives.serialization " \
           "import Encoding as E, PublicFormat as P; sys.stdout.write(box_key().public_key().public_bytes(E.Raw, " \
           "P.Raw).hex())"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KIT_CACHE_DIR": str(tmp_path / "cache")}
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(6)]
    said = {pace.communicate(p, 120)[0] for p in procs}  # the box's own time (tests/pace.py)
    assert all(p.returncode == 0 for p in procs) and len(said) == 1
    folder = tmp_path / "cache" / KEY_FOLDER
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == [KEY_FILE]
    with Tree.open(tmp_path / "cache") as tree:
        assert public(tree) == said.pop()


@pytest.mark.parametrize("group_shared", [False, True])
def test_the_key_is_its_user_s_alone_in_any_cache(tmp_path: Path, group_shared: bool) -> None:
    """0600 in a folder 0700, whatever the umask, a group-shared cache (folders 3775) too."""
    old = os.umask(0o002)
    try:
        with Tree.open(tmp_path / "cache", Rules(group_shared=group_shared)) as tree:
            sign_manifest(DOCUMENT, "b10", "", tree)
            assert stat.S_IMODE((tmp_path / "cache" / KEY_FOLDER).stat().st_mode) == 0o700
            assert stat.S_IMODE((tmp_path / "cache" / KEY_FOLDER / KEY_FILE).stat().st_mode) == 0o600
    finally:
        os.umask(old)


def refusal(tree: Tree) -> KitError:
    with pytest.raises(KitError) as caught:
        box_key(tree)
    return caught.value


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o606, 0o620])
def test_a_key_others_may_read_or_change_is_refused_naming_it(cache: Tree, mode: int) -> None:
    box_key(cache)
    key = cache.root / KEY_FOLDER / KEY_FILE
    key.chmod(mode)
    said = refusal(cache)
    assert str(key) in said.message and "a box signs only with a key readable by its owner alone" in said.message
    assert f"`chmod 600 {key}`" in (said.hint or "") and "move it away" in (said.hint or "")


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_key_of_another_user_is_refused_naming_whose(cache: Tree) -> None:
    box_key(cache)
    key = cache.root / KEY_FOLDER / KEY_FILE
    os.chown(key, 4321, 4321)
    said = refusal(cache)
    assert f"{key} belongs to user uid 4321" in said.message and "KIT_CACHE_DIR" in (said.hint or "")
    os.chown(key, 0, 0)
    os.chown(key.parent, 4321, 4321)  # the key's folder another user's: refused as the Tree refuses it
    with Tree.open(cache.root) as command:  # a command opens the cache anew
        said = refusal(command)
    assert f"{key.parent} belongs to user uid 4321" in said.message and "KIT_CACHE_DIR" in (said.hint or "")


@pytest.mark.parametrize("planted", ["a link", "a second name", "no key", "a key of another kind"])
def test_a_key_file_that_is_not_the_kit_s_key_is_refused(cache: Tree, tmp_path: Path, planted: str) -> None:
    """Never followed, never replaced: the user's file stays as it is, and the box signs nothing with it."""
    box_key(cache)
    key = cache.root / KEY_FOLDER / KEY_FILE
    if planted == "a link":
        shutil.move(key, tmp_path / "elsewhere.pem")
        key.symlink_to(tmp_path / "elsewhere.pem")
    elif planted == "a second name":
        os.link(key, tmp_path / "second.pem")
    elif planted == "no key":
        key.write_text("not a key\n")
    else:
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

        key.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(Encoding.PEM, PrivateFormat.PKCS8,
                                                                             NoEncryption()))
    before = os.lstat(key)
    said = refusal(cache)
    assert str(key) in said.message, said.message
    assert os.lstat(key).st_ino == before.st_ino  # left as it was


def test_the_run_refuses_a_bad_key_before_any_work(tmp_path: Path, tiny_refs: Path) -> None:
    cache = tmp_path / "cache"
    with Tree.open(cache) as tree:
        box_key(tree)
    (cache / KEY_FOLDER / KEY_FILE).chmod(0o644)
    out = tmp_path / "out"
    res = run_here("run", "--ref-dir", tiny_refs, "--out-dir", out, env={"KIT_CACHE_DIR": str(cache)})
    assert res.returncode == 2 and "the box's signing key" in res.stderr, res.stderr[-2000:]
    assert not [p for p in out.iterdir() if p.name.startswith("0")]  # no step began


def test_a_box_with_no_home_folder_is_told_where_to_keep_its_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """HOME unset, no KIT_CACHE_DIR, the user unknown to the password database (a service): no cache, no key."""
    import pwd

    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.delenv("KIT_CACHE_DIR", raising=False)
    monkeypatch.setattr(pwd, "getpwuid", lambda uid: (_ for _ in ()).throw(KeyError(uid)))
    with pytest.raises(KitError) as caught:
        box_key()
    assert "no folder for the kit's cache" in caught.value.message and "KIT_CACHE_DIR" in (caught.value.hint or "")


def test_a_read_only_cache_is_said_by_the_guard(tmp_path: Path, tiny_refs: Path) -> None:
    """A cache on a read-only file system (a tmpfs mounted ro: root ignores permission bits): the run stops before
    any work, naming the cache and the variable that moves it."""
    ro = tmp_path / "ro"
    ro.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        res = run_here("run", "--ref-dir", tiny_refs, "--out-dir", tmp_path / "out",
                       env={"KIT_CACHE_DIR": str(ro / "cache")})
    finally:
        subprocess.run(["umount", str(ro)], capture_output=True)
    assert res.returncode == 2, res.stderr[-2000:]
    assert "(the kit's cache)" in res.stderr and "the box's signing key" in res.stderr, res.stderr


def leaves(doc: object, at: tuple[object, ...] = ()) -> Iterator[tuple[object, ...]]:
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from leaves(v, (*at, k))
    else:
        yield at


def edited(doc: dict[str, object], at: tuple[object, ...]) -> dict[str, object]:
    out = copy.deepcopy(doc)
    holder: object = out
    for k in at[:-1]:
        holder = holder[k]  # type: ignore[index]
    value = holder[at[-1]]  # type: ignore[index]
    holder[at[-1]] = (value + 1 if isinstance(value, int) else value[:-1] + ("0" if value[-1:] != "0" else "1")  # type: ignore[index]
                      if value else "x")
    return out


def test_no_edit_of_a_signed_manifest_passes(cache: Tree) -> None:
    """Every value of the manifest changed (its files' sums, its box id, its key's run, follows and part, the
    public key, the signature), a key added, one taken out: each refused. The class is the manifest's every leaf."""
    signed = sign_manifest(DOCUMENT, "b10", "", cache)
    assert checked_signature(signed) is not None
    cases = {".".join(map(str, at)): edited(signed, at) for at in leaves(signed) if at != ("signature",)}
    cases["signature"] = {**signed, "signature": ("0" if signed["signature"][0] != "0" else "1")
                          + str(signed["signature"])[1:]}
    cases["a key added"] = {**signed, "verdict": "PROMOTE"}
    cases["a file taken out"] = {**signed, "files": {k: v for k, v in DOCUMENT["files"].items()  # type: ignore[attr-defined]
                                                     if k.endswith(".parquet")}}
    cases["no signature"] = {k: v for k, v in signed.items() if k != "signature"}
    cases["no key"] = {k: v for k, v in signed.items() if k != "box_key"}
    assert len(cases) >= 14
    for what, doc in cases.items():
        with pytest.raises(BadSignature):
            checked_signature(doc)
            pytest.fail(what)
    assert checked_signature({k: v for k, v in signed.items() if k not in ("box_key", "signature")}) is None


def test_a_chain_counts_its_runs_and_names_the_one_each_follows(cache: Tree, tmp_path: Path) -> None:
    """Run 1, 2, 3 of one box id, each following the one before by its digest; another box id and another part of a
    set are chains of their own; a new key (the cache's key moved away) counts from 1 again."""
    signed = [checked_signature(sign_manifest(DOCUMENT, "b10", "", cache)) for _ in range(3)]
    assert [s.signer.run for s in signed if s] == [1, 2, 3]
    assert [s.signer.follows for s in signed if s] == ["", signed[0].digest, signed[1].digest]  # type: ignore[union-attr]
    other = [checked_signature(sign_manifest({**DOCUMENT, "box_id": id_}, id_, part, cache))
             for id_, part in (("b11", ""), ("b10", "2/3"))]
    assert [(s.signer.run, s.signer.part) for s in other if s] == [(1, ""), (1, "2/3")]
    shutil.move(cache.root / KEY_FOLDER / KEY_FILE, tmp_path / "old.pem")
    again = checked_signature(sign_manifest(DOCUMENT, "b10", "", cache))
    assert again is not None and (again.signer.run, again.signer.follows) == (1, "")
    assert again.fingerprint != signed[0].fingerprint  # type: ignore[union-attr]
    assert all(FINGERPRINT.fullmatch(s.fingerprint) for s in (*signed, again) if s)  # what --accept-key takes


@pytest.mark.parametrize("run", [0, -4, MAX_RECORD_COUNT, "3"])
def test_a_damaged_chain_is_refused_naming_it(cache: Tree, run: object) -> None:
    """A head whose run is no count, or the last count a manifest takes (its next would break the manifest's rule:
    before, an internal error after the key was read), is refused naming it."""
    sign_manifest(DOCUMENT, "b10", "", cache)
    (head,) = (cache.root / KEY_FOLDER / "chains").iterdir()
    head.write_text(json.dumps({**json.loads(head.read_text()), "run": run}))
    with pytest.raises(InputError, match="the box cannot prove which run its next tarball follows") as caught:
        sign_manifest(DOCUMENT, "b10", "", cache)
    assert str(head) in caught.value.message


@pytest.mark.skipif(shutil.which("ssh-keygen") is None or shutil.which("openssl") is None,
                    reason="ssh-keygen and openssl compute the same here")
def test_the_fingerprint_and_public_key_are_the_plain_tools(cache: Tree, tmp_path: Path) -> None:
    """openssl derives the public key from the key file; ssh-keygen prints its fingerprint from the key written as
    OpenSSH's (its blob built here by hand): both are what the manifest carries and what `verify` says."""
    import base64

    doc = sign_manifest(DOCUMENT, "b10", "", cache)
    key = doc["box_key"]["public_key"]  # type: ignore[index]
    der = subprocess.run(["openssl", "pkey", "-in", str(cache.root / KEY_FOLDER / KEY_FILE), "-pubout", "-outform",
                          "DER"], capture_output=True, check=True).stdout
    assert der[-32:].hex() == key
    blob = b"".join(len(p).to_bytes(4, "big") + p for p in (b"ssh-ed25519", bytes.fromhex(key)))
    (tmp_path / "box.pub").write_text(f"ssh-ed25519 {base64.b64encode(blob).decode()} b10\n")
    said = subprocess.run(["ssh-keygen", "-lf", str(tmp_path / "box.pub")], capture_output=True, text=True,
                          check=True).stdout.split()
    assert said[1] == fingerprint(key)


@pytest.mark.parametrize("at", ["box-key", "box-key/ed25519.pem", "box-key/chains", "box-key/chains/head",
                                "box-key/.lock", "known-boxes.json"])
def test_a_link_planted_at_any_path_of_the_key_or_the_record_is_refused(tmp_path: Path, at: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Every path the box's key, its chains and the lead's record are kept at, a link planted there (to a file or a
    folder of someone's): refused naming the path, nothing written through it."""
    from kit.corpus.signers import take_keys
    from kit.infra.keys import chain_file
    from tests.unit.test_signers import K1, tarball

    root = tmp_path / "cache"
    with Tree.open(root) as tree:
        sign_manifest(DOCUMENT, "b10", "", tree)
        where = chain_file(tree, "b10", "") if at.endswith("head") else root / at
    victim = tmp_path / ("victim-folder" if at in ("box-key", "box-key/chains") else "victim.txt")
    if at in ("box-key", "box-key/chains"):
        victim.mkdir()
    else:
        victim.write_text("someone's\n")
    before = sorted(p.name for p in tmp_path.rglob("*") if "victim" in str(p))
    if where.is_dir():
        shutil.rmtree(where)
    elif where.exists():
        where.unlink()
    where.symlink_to(victim)
    with Tree.open(root) as tree, pytest.raises(KitError) as caught:
        if at == "known-boxes.json":
            monkeypatch.setenv("KIT_CACHE_DIR", str(root))
            take_keys([tarball("t1", K1)], (), str, print)
        else:
            sign_manifest(DOCUMENT, "b10", "", tree)
    assert str(where) in caught.value.message, caught.value.message
    assert sorted(p.name for p in tmp_path.rglob("*") if "victim" in str(p)) == before
    assert not victim.is_file() or victim.read_text() == "someone's\n"
