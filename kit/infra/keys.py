"""A box is its key (issue 96): the Ed25519 key a box makes on its first run and signs each results tarball's manifest
with, and the chain of its runs, both kept in the kit's cache (`box-key/`: the folder 0700, the key 0600, never sent);
a manifest's signature checked wherever a tarball is read (kit.infra.archive). What a lead knows of each box's key is
kit.infra.keyring's.

The signed message is DOMAIN and the manifest's JSON without its `signature`, written canonically (keys sorted, no
spaces, ASCII): the manifest read back and written so again is the same bytes, whatever its layout in the tarball.
The manifest lists every member's sha256, so the signature covers every byte sent. The message's sha256 is the run's
digest, which the next run of the same chain names (`follows`), beside its number (`run`): the order of a box's runs
is the box's own count, signed, never its clock.

A chain is a box id and the part of a reference set it encodes (`--shard K/N`, "" for the whole set). The box id is
the user's word for which box this is, and a merge tells one box's rows from another's by it alone, so every run of
one box id (and part) under one key is one chain, in whatever out-dir: its later run is the box at the lead (a rerun
in a new out-dir too); two corpora meant to be kept apart take two box ids. A run that made no tarball signed nothing
and is no link; a bundle that fails after signing leaves a number no tarball has, a gap the lead passes over (the
chain's head moves before the tarball is placed: never two tarballs of one number).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kit.errors import InputError
from kit.infra.host import cache_tree
from kit.infra.limits import MAX_RECORD_COUNT
from kit.infra.perms import FolderRefused, Untrusted, user_name, who_writes
from kit.infra.records import Record, RecordError, keep, read_record
from kit.infra.rules import BOX_ID, Check, Whole
from kit.infra.tree import LockBusy, Tree
from kit.infra.variables import CACHE_DIR

if TYPE_CHECKING:  # cryptography loads where a key is made, used or checked
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

KEY_FOLDER = "box-key"  # in the kit's cache: the key, its lock and the chains' heads
KEY_FILE = "ed25519.pem"  # PKCS #8, PEM, unencrypted: `openssl pkey -in ed25519.pem -pubout` shows its public half
CHAINS = "chains"
LOCK_FILE = ".lock"
KEY_WAIT_S = 60.0  # another command of this box signing holds the lock for milliseconds
MAX_KEY_BYTES = 4096  # a PEM Ed25519 key is 119 bytes
DOMAIN = b"ensemble-kit results manifest, signed 1\n"  # what the signature is of: never a message of another kind
SIGNER = "box_key"  # the manifest's keys: the signer's block and the signature
SIGNATURE = "signature"
REINSTALLED = 'the lead\'s guide, "A box is its key"'


def hex_text(digits: int, what: str) -> Check:
    """A rule: `digits` lowercase hex digits (a key, a signature, a digest: fixed-length encodings)."""
    pattern = re.compile(f"[0-9a-f]{{{digits}}}")
    says = f"{what}: {digits} lowercase hex digits"
    return Check(lambda v: None if isinstance(v, str) and pattern.fullmatch(v) else f"is not {says}", says)


PUBLIC_KEY = hex_text(64, "an Ed25519 public key")
SIGNATURE_HEX = hex_text(128, "an Ed25519 signature")
DIGEST = hex_text(64, "a sha256")
FOLLOWS = Check(lambda v: None if v == "" or DIGEST.problem(v) is None else
                "is not a sha256 (64 lowercase hex digits), nor \"\" (a chain's first run)",
                "a sha256 (64 lowercase hex digits), or \"\" for a chain's first run")
PART = Check(lambda v: None if isinstance(v, str) and re.fullmatch(r"(\d{1,6}/\d{1,6})?", v) else
             "is not a part of a reference set (K/N), nor \"\" (the whole set)", "K/N, or \"\" for the whole set")
RUN = Whole(1, MAX_RECORD_COUNT)


FINGERPRINT = re.compile(r"SHA256:[A-Za-z0-9+/]{43}")  # what fingerprint() writes: 32 bytes, unpadded base64


def fingerprint(public_key: str) -> str:
    """A public key (hex) as people compare it: ssh's fingerprint, `SHA256:` and the unpadded base64 of the sha256 of
    the key's OpenSSH blob (`ssh-keygen -lf` shows the same for the key written as OpenSSH's)."""
    blob = b"".join(len(part).to_bytes(4, "big") + part for part in (b"ssh-ed25519", bytes.fromhex(public_key)))
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")


@dataclass(frozen=True)
class Signer(Record):
    """`box_key` in a results tarball's manifest.json: the public key that signed it, and which run of which chain
    of the box it is (the chain: the manifest's box id and `part`)."""

    CLOSED = True  # every key of it is signed: one the kit has no word for is refused, never passed over

    public_key: str = field(metadata=keep(PUBLIC_KEY))
    part: str = field(metadata=keep(PART))
    run: int = field(metadata=keep(RUN))  # 1 for a chain's first tarball, then one more each
    follows: str = field(metadata=keep(FOLLOWS))  # the digest of the chain's run before; "" for its first

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)


@dataclass(frozen=True)
class Signed:
    """A results manifest whose signature checked: its box id, its signer's block, and its digest (the sha256 of the
    signed message: what the chain's next run follows)."""

    box_id: str
    signer: Signer
    digest: str

    @property
    def fingerprint(self) -> str:
        return self.signer.fingerprint


class BadSignature(ValueError):
    """A results manifest whose signature does not check: the phrase read after `manifest.json`."""


def signed_message(document: Mapping[str, object]) -> bytes:
    """What a manifest's signature is of: DOMAIN and its JSON without `signature`, written canonically."""
    body = {k: v for k, v in document.items() if k != SIGNATURE}
    return DOMAIN + json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def checked_signature(document: Mapping[str, object]) -> Signed | None:
    """The signer of a results manifest (its JSON as read), its signature checked; None where it holds neither key
    nor signature (a kit before 2.5 made it); BadSignature where one is missing, damaged, or does not check."""
    block, signature = document.get(SIGNER), document.get(SIGNATURE)
    if block is None and signature is None:
        return None
    if block is None or signature is None:
        raise BadSignature(f"holds {'a signature without the key' if block is None else 'a key without a signature'}"
                           ": a kit signs with both")
    try:
        signer = Signer.from_json(block, SIGNER)
    except RecordError as exc:
        raise BadSignature(f"holds a damaged key: {exc}") from None
    if (why := SIGNATURE_HEX.problem(signature)) is not None:
        raise BadSignature(f"holds a damaged signature: it {why}")
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    message = signed_message(document)
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(signer.public_key)).verify(bytes.fromhex(str(signature)),
                                                                                     message)
    except (InvalidSignature, ValueError):
        raise BadSignature(f"is not what key {signer.fingerprint} signed: its signature does not check (the manifest "
                           "was changed after the box signed it)") from None
    box = document.get("box_id")
    return Signed(box if isinstance(box, str) else "", signer, hashlib.sha256(message).hexdigest())


@dataclass(frozen=True)
class ChainHead(Record):
    """`box-key/chains/<name>.json` in the kit's cache: the last run a chain of this box signed."""

    box_id: str = field(metadata=keep(BOX_ID))
    part: str = field(metadata=keep(PART))
    public_key: str = field(metadata=keep(PUBLIC_KEY))
    run: int = field(metadata=keep(Whole(1, MAX_RECORD_COUNT - 1)))  # RUN's, one short: the next run is a RUN too
    digest: str = field(metadata=keep(DIGEST))


def key_folder(cache: Tree) -> Path:
    return cache.root / KEY_FOLDER


def key_file(cache: Tree) -> Path:
    return key_folder(cache) / KEY_FILE


def chain_file(cache: Tree, box_id: str, part: str) -> Path:
    """A chain's head, named by its box id and part (any box id makes a file name)."""
    name = hashlib.sha256("\0".join((box_id, part)).encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return key_folder(cache) / CHAINS / f"{name}.json"


@contextlib.contextmanager
def _held(cache: Tree) -> Iterator[None]:
    """The key's folder, made the user's alone, locked for the block: one key and one head per chain, however many
    commands of this box start or sign at once."""
    try:
        folder = cache.make_folder(key_folder(cache), private=True)
    except FolderRefused as exc:  # another user's (a cache shared by a group), or one others may change
        raise key_refused(exc.path, exc.problem, not exc.problem.startswith("belongs to user")) from None
    try:
        with cache.lock(folder / LOCK_FILE, wait_s=KEY_WAIT_S):
            yield
    except LockBusy as exc:
        raise InputError(f"the box's signing key in {folder} is held by {exc.holder}, past {KEY_WAIT_S:.0f} s",
                         hint="let that command end (or end it), then rerun") from None


def box_key(cache: Tree | None = None) -> Ed25519PrivateKey:
    """This box's signing key: read from the kit's cache, or made there (the box's first run). Refused (exit 2),
    naming the file: a key another user owns, one others may read or change, one that is no Ed25519 key."""
    cache = cache or cache_tree()
    with _held(cache):
        return _key_in(cache)


def public_key(cache: Tree | None = None) -> str:
    """This box's public key (hex) as its key file holds it, for a plan (`status` plans too): read, never made; ""
    where there is none yet, or none the box can sign with (a run then makes or refuses it before any work)."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    try:
        cache = cache or cache_tree()
        key = _read_key(cache, key_file(cache))
    except (InputError, OSError):
        return ""
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex() if key is not None else ""


def _key_in(cache: Tree) -> Ed25519PrivateKey:
    """The key, made when there is none (the lock held)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    path = key_file(cache)
    if (found := _read_key(cache, path)) is not None:
        return found
    key = Ed25519PrivateKey.generate()
    cache.write_bytes(path, key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()), private=True)
    return key


def _read_key(cache: Tree, path: Path) -> Ed25519PrivateKey | None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        fh = cache.open_read(path)  # the user's own, one name, writable by nobody else (kit.infra.perms)
    except FileNotFoundError:
        return None
    except Untrusted as exc:
        raise key_refused(path, exc.problem, exc.mine) from None
    with fh:
        st = os.fstat(fh.fileno())
        if os.name == "posix" and st.st_mode & 0o077:
            raise key_refused(path, f"can be read by {readers(st)} ({stat.filemode(st.st_mode)})", True)
        data = fh.read(MAX_KEY_BYTES + 1)
    try:
        key = load_pem_private_key(data, password=None) if len(data) <= MAX_KEY_BYTES else None
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"the box's signing key {path} is no Ed25519 private key the kit wrote (PKCS #8 PEM, "
                         "unencrypted): the box signs nothing with it",
                         hint=f"move it away and rerun: the box then makes a new key, which the lead accepts once "
                              f"({REINSTALLED})")
    return key


def readers(st: os.stat_result) -> str:
    """`group proj`, `everyone`, or both, for a mode with read (or write) bits for others."""
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return who_writes(st)
    group = f"group {user_name(st.st_gid, group=True)}" if st.st_mode & 0o070 else ""
    return " and ".join(filter(None, (group, "everyone" if st.st_mode & 0o007 else "")))


def key_refused(path: Path, problem: str, mine: bool) -> InputError:
    """The box's key file (or its folder) refused: `problem` read after its path; `mine`: the user's own (else another
    user's)."""
    if not mine:
        fix = (f"each user of a box keeps a key of their own: set {CACHE_DIR.name} to a folder of yours (export "
               f"{CACHE_DIR.name}=$HOME/ensemble-kit-cache) and rerun; the key made there is new to the lead, who "
               f"accepts it once ({REINSTALLED})")
    else:
        mode = "700" if path.name == KEY_FOLDER else "600"
        fix = (f"if nobody else could have read or changed it, `chmod {mode} {path}` and rerun; if someone could have, "
               f"move it away and rerun: the box then makes a new key, which the lead accepts once ({REINSTALLED})")
    return InputError(f"the box's signing key {path} {problem}: a box signs only with a key readable by its owner "
                      "alone", hint=fix)


def sign_manifest(document: Mapping[str, object], box_id: str, part: str,
                  cache: Tree | None = None) -> dict[str, object]:
    """`document` (a results manifest's JSON) signed by this box's key as the next run of its chain (`box_id`, `part`):
    with `box_key` and `signature`, the chain's head moved on to it."""
    cache = cache or cache_tree()
    with _held(cache):
        key = _key_in(cache)
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
        head = read_head(cache, box_id, part)
        last = head if head is not None and head.public_key == public else None  # a new key starts a new count
        signer = Signer(public, part, last.run + 1 if last is not None else 1, last.digest if last is not None else "")
        body = {**{k: v for k, v in document.items() if k not in (SIGNER, SIGNATURE)}, SIGNER: signer.to_json()}
        message = signed_message(body)
        cache.write_json(chain_file(cache, box_id, part),
                         ChainHead(box_id, part, public, signer.run, hashlib.sha256(message).hexdigest()).to_json())
        return {**body, SIGNATURE: key.sign(message).hex()}


def read_head(cache: Tree, box_id: str, part: str) -> ChainHead | None:
    """The chain's last run, None before its first; a head that does not read is refused (the box cannot prove that
    its next run follows its last)."""
    path = chain_file(cache, box_id, part)
    try:
        head, why = read_record(ChainHead, cache, path)
    except RecordError as exc:  # a value that breaks its rule (Refused)
        head, why = None, f"damaged ({exc})"
    if head is None and why != "missing":
        raise InputError(f"{path}, the last run of box {box_id}{f' part {part}' if part else ''} this box signed, is "
                         f"{why}: the box cannot prove which run its next tarball follows",
                         hint=f"move {key_folder(cache)} away and rerun: the box then makes a new key and starts "
                              f"its count again, and the lead accepts the new key once ({REINSTALLED})")
    return head if head is not None and (head.box_id, head.part) == (box_id, part) else None
