"""What a lead knows of the boxes' keys, as ssh's known_hosts knows hosts: each box id's public keys in the order the
lead took them (the last is the box's key now, those before it the keys of the box before it was reinstalled), kept
in the kit's cache (`known-boxes.json`, the lead's own). A merge takes a box id's first key as it first sees it, and
another only when the lead accepts it by its fingerprint (`merge --accept-key`): kit.corpus.signers. Beside them, each
run of a box the lead took (from its signed tarball, or a first use of a box a merged corpus carried): a merged
corpus's record of a box's runs is a file anyone can edit, proven only where it names runs the lead took.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kit.errors import InputError
from kit.infra.host import cache_dir, cache_tree
from kit.infra.keys import DIGEST, FOLLOWS, PART, PUBLIC_KEY, REINSTALLED, RUN
from kit.infra.records import Record, RecordError, keep, read_record
from kit.infra.rules import BOX_ID, Each
from kit.infra.tree import LockBusy, Tree

KNOWN_BOXES = "known-boxes.json"
KEYRING_WAIT_S = 60.0  # another merge of this lead holds it while it reads and writes the file: milliseconds

Histories = dict[str, tuple[str, ...]]  # box id -> its keys (hex), oldest first


@dataclass(frozen=True)
class BoxKeys(Record):
    """One box id's keys (hex), oldest first: the last is the box's key now."""

    box_id: str = field(metadata=keep(BOX_ID))
    keys: tuple[str, ...] = field(metadata=keep(Each(PUBLIC_KEY)))


@dataclass(frozen=True)
class KnownRun(Record):
    """A run of a box the lead took: its box id, its chain (part of a set, key), its number, the digest of the run it
    follows and its own (kit.infra.keys.Signer)."""

    box_id: str = field(metadata=keep(BOX_ID))
    part: str = field(metadata=keep(PART))
    key: str = field(metadata=keep(PUBLIC_KEY))
    run: int = field(metadata=keep(RUN))
    follows: str = field(metadata=keep(FOLLOWS))
    digest: str = field(metadata=keep(DIGEST))


@dataclass(frozen=True)
class KnownBoxes(Record):
    """`known-boxes.json` in the lead's cache."""

    LENIENT = True  # `runs` came after `boxes`

    kind: str = "ensemble-kit known boxes"
    boxes: tuple[BoxKeys, ...] = ()
    runs: tuple[KnownRun, ...] = ()


@dataclass
class Ring:
    """The lead's record as a merge holds it, locked: each box id's keys, and the runs it took."""

    keys: Histories
    runs: set[KnownRun]


def keyring_file(cache: Tree) -> Path:
    return cache.root / KNOWN_BOXES


def has_keyring() -> bool:
    """Whether this lead keeps a record of the boxes' keys at all (a merge of no signed input still reads it: an
    unsigned tarball of a box it knows by a key is refused), asked without making the cache: anything under the
    record's name (a folder, a dangling link) is one, which `keyring` then refuses by name, never taken for none."""
    return os.path.lexists(cache_dir() / KNOWN_BOXES)


def as_records(histories: Mapping[str, tuple[str, ...]]) -> tuple[BoxKeys, ...]:
    """The histories as records, by box id."""
    return tuple(BoxKeys(box, keys) for box, keys in sorted(histories.items()))


@contextlib.contextmanager
def keyring(cache: Tree | None = None) -> Iterator[tuple[Ring, Path]]:
    """The lead's record (box id -> its keys; the runs it took) and its file, locked for the block: what the block
    leaves in it is written back when it ends without an error (nothing when unchanged). A record that does not read
    is refused, naming it: never taken for no record, which would take any key as new."""
    cache = cache or cache_tree()
    path = keyring_file(cache)
    try:
        with cache.lock(path.with_name(f".{path.name}.lock"), wait_s=KEYRING_WAIT_S, tidy=True):
            ring = read_keyring(cache, path)
            before = Ring(dict(ring.keys), set(ring.runs))
            yield ring, path
            if ring != before:
                runs = tuple(sorted(ring.runs, key=lambda r: (r.box_id, r.part, r.key, r.run, r.digest)))
                cache.write_json(path, KnownBoxes(boxes=as_records(ring.keys), runs=runs).to_json())
    except LockBusy as exc:
        raise InputError(f"the record of the boxes' keys {path} is held by {exc.holder}, past "
                         f"{KEYRING_WAIT_S:.0f} s", hint="let that merge end (or end it), then merge again") from None


def read_keyring(cache: Tree, path: Path) -> Ring:
    try:
        found, why = read_record(KnownBoxes, cache, path)
    except RecordError as exc:  # a value that breaks its rule (Refused)
        found, why = None, f"damaged ({exc})"
    if found is None and why != "missing":
        raise InputError(f"{path}, this lead's record of the boxes' keys, is {why}: a merge takes a signed tarball "
                         "only under the key the lead knows for its box",
                         hint=f"restore it from a backup; or move it away and merge again, which records each box's "
                              f"key anew from the tarballs and the merged corpora it is given: compare each key's "
                              f"fingerprint the merge says with the one its box's owner tells you ({REINSTALLED})")
    if found is None:
        return Ring({}, set())
    return Ring({b.box_id: tuple(b.keys) for b in found.boxes}, set(found.runs))
