"""Whose key each box's runs are (issue 96, "a box is its key"): a merge's signed tarballs and the keys its merged
inputs carry, checked against the lead's record of the boxes' keys (kit.infra.keyring) before any row is taken.

A box id's first key is taken as the merge first sees it, and recorded (ssh's known_hosts: trust on first use, said
with the fingerprint to compare with the one the box's owner tells); a tarball under a known box id signed by another
key is refused, naming both fingerprints and the lead's command that accepts the new one (`merge … --accept-key
BOX=FINGERPRINT`: a reinstalled box, its cache wiped). A box id's keys are kept in the order the lead took them, so
that a run under the key taken later is the later run (kit.corpus.merge.supersede); within one key, the box's own
count (`run`), each run naming the digest of the one it follows: two runs of one number, or a run whose given
predecessor is not the one it names, are a fork (the box's cache restored from a copy) whose order nothing proves,
refused. A tarball of a kit before 2.5 is unsigned: never a box's run (neither superseding nor superseded).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow.compute as pc

from kit.corpus.inputs import LoadedInput
from kit.corpus.manifests import BoxRun, MergeManifest, ShardManifest
from kit.errors import InputError
from kit.infra.keyring import Histories, keyring
from kit.infra.keys import REINSTALLED, fingerprint

FINGERPRINT = re.compile(r"SHA256:[A-Za-z0-9+/]{43}")  # kit.infra.keys.fingerprint's
Again = Callable[[Sequence[tuple[str, str]]], str]  # the merge's command again, with these (box id, fingerprint) taken


@dataclass(frozen=True)
class Claim:
    """A key some input names for a box id: a signed tarball's, or one a merged input carries."""

    box_id: str
    key: str
    input: str  # its name


def signed_run(inp: LoadedInput) -> BoxRun | None:
    """The box run a signed tarball is (kit 2.5 on; None for any other input): its box id and part of a set as
    signed, its shard's sha256, its key, number, the digest it follows and its own."""
    m, s = inp.manifest, inp.signed
    if s is None or not isinstance(m, ShardManifest) or not m.sha256:
        return None
    return BoxRun(s.box_id, s.signer.part, inp.recorded_utc, m.sha256, s.signer.public_key, s.signer.run,
                  s.signer.follows, s.digest)


def refuse_other_rows(inp: LoadedInput) -> None:
    """A signed tarball's rows are all of the box it is signed as: a box's key proves nothing of rows of another."""
    if inp.signed is None:
        return
    named = sorted({str(v) for v in pc.unique(inp.table["box_id"]).to_pylist()} - {inp.signed.box_id})
    if named:
        raise InputError(f"{inp.name} is signed as box {inp.signed.box_id}, but its corpus holds rows of box "
                         f"{named[0]}: a tarball's key speaks for its own box alone; nothing was merged",
                         hint="leave the tarball out: the kit never makes one so (someone edited it and signed it "
                              "again)")


def claims(inputs: Sequence[LoadedInput]) -> list[Claim]:
    """Every key the inputs name for a box id: each signed tarball's, each key a merged input carries."""
    found = [Claim(i.signed.box_id, i.signed.signer.public_key, i.name) for i in inputs if i.signed is not None]
    for inp in inputs:
        if isinstance(inp.manifest, MergeManifest):
            found += [Claim(b.box_id, key, inp.name) for b in inp.manifest.box_keys for key in b.keys]
    return found


def joined(mine: tuple[str, ...], theirs: tuple[str, ...]) -> tuple[str, ...] | None:
    """A box id's keys as the lead knows them (`mine`) and as a merged input carries them (`theirs`), as one history:
    theirs where they know every key the lead knows up to its key now (the union took a later one), the lead's where
    they know no other; None where they disagree."""
    if not mine or not set(theirs) - set(mine):
        return mine or theirs
    if mine[-1] in theirs:
        return (*(k for k in mine if k not in theirs), *theirs)
    return None


def take_keys(inputs: Sequence[LoadedInput], accepted: Sequence[tuple[str, str]], again: Again,
              note: Callable[[str], None]) -> Histories:
    """The keys each box id's signed runs are taken under (oldest first), the lead's record updated with them;
    `accepted`: (box id, fingerprint) pairs the lead took (--accept-key), each the box's key from then on.
    InputError, nothing recorded, for a key the lead does not know for a box it knows, two new keys for one new box
    id, an accepted fingerprint no input names, or a signed tarball of another box's rows."""
    for inp in inputs:
        refuse_other_rows(inp)
    found = claims(inputs)
    if not found and not accepted:
        return {}  # nothing signed: the lead's record is not read
    said: list[str] = []
    with keyring() as (known, path):
        histories = {box: known[box] for box in {c.box_id for c in found} if box in known}
        for inp in inputs:  # what a merged input carries: the lead's own file, a later key it took kept
            for b in inp.manifest.box_keys if isinstance(inp.manifest, MergeManifest) else ():
                if (both := joined(histories.get(b.box_id, ()), b.keys)) is not None:
                    histories[b.box_id] = both
        for box, fpr in accepted:
            histories[box] = accept(box, fpr, histories.get(box, ()), found)
            said.append(f"box {box}'s key is now {fpr}, as accepted (--accept-key), recorded in {path}: its runs "
                        "under a key it had before come before the runs under this one")
        for box in sorted({c.box_id for c in found}):
            histories[box] = box_keys(box, histories.get(box, ()), [c for c in found if c.box_id == box], again,
                                      path, said)
        known.update(histories)
    for line in said:
        note(line)
    return histories


def accept(box: str, fpr: str, keys: tuple[str, ...], found: Sequence[Claim]) -> tuple[str, ...]:
    """`keys` with the key of fingerprint `fpr` (one an input names for `box`) made the box's key now."""
    named = [c.key for c in found if c.box_id == box and fingerprint(c.key) == fpr]
    if not named:
        others = sorted({fingerprint(c.key) for c in found if c.box_id == box})
        raise InputError(f"--accept-key {box}={fpr}: no input given is signed by that key for box {box}"
                         + (f" (its inputs are signed by {', '.join(others)})" if others else
                            " (no input is of that box)") + "; nothing was merged",
                         hint="copy the fingerprint from the refusal of the merge, or from `verify` of the box's "
                              "tarball, and give that tarball in the same merge")
    return (*(k for k in keys if k != named[0]), named[0])


def box_keys(box: str, keys: tuple[str, ...], found: Sequence[Claim], again: Again, path: Path,
             said: list[str]) -> tuple[str, ...]:
    """`box`'s keys once the inputs' are checked: a new box's one key taken (said); any other key refused."""
    new = sorted({c.key for c in found} - set(keys))
    if not new:
        return keys
    if not keys and len(new) == 1:
        said.append(f"box {box} is new to this lead: its key {fingerprint(new[0])} is recorded in {path} (compare "
                    "it with the fingerprint the box's owner tells you; a tarball of that box signed by another key "
                    "is refused)")
        return tuple(new)
    shown = "; ".join(f"{fingerprint(k)} ({', '.join(sorted({c.input for c in found if c.key == k}))})" for k in new)
    if keys:
        raise InputError(f"box {box} is known to this lead by key {fingerprint(keys[-1])}, but {shown} "
                         f"{'is' if len(new) == 1 else 'are'} signed by another: a tarball of another key is never "
                         "taken as that box's; nothing was merged",
                         hint=f"if box {box} was reinstalled (its cache wiped: a new key), ask its owner for the "
                              f"fingerprint its run printed, and if it is {fingerprint(new[0])}, take it: "
                              f"{again([(box, fingerprint(new[0]))])}; else leave the tarball out: another box made "
                              f"it ({REINSTALLED})")
    takes = " or ".join(again([(box, fingerprint(k))]) for k in new)
    raise InputError(f"box {box} is new to this lead, and its inputs are signed by {len(new)} keys: {shown}: which "
                     "one is the box cannot be told; nothing was merged",
                     hint=f"ask the box's owner for the fingerprint its run printed and take that key: {takes}; "
                          f"then leave the other key's tarballs out ({REINSTALLED})")


def ranked(histories: Histories) -> Callable[[BoxRun], tuple[int, int] | None]:
    """A run's place among its box's runs: (its key's place among the box's keys, its number); None for a run of no
    key the merge took (a kit before 2.5's)."""
    def rank(run: BoxRun) -> tuple[int, int] | None:
        keys = histories.get(run.box_id, ())
        return (keys.index(run.key), run.run) if run.key and run.key in keys else None

    return rank


def refuse_forks(held: Sequence[tuple[BoxRun, str]]) -> None:
    """Each box's signed runs (with the input holding each) form one chain per key: two runs of one number that are
    different runs, or a run whose predecessor is given and is not the one it names, are a fork (the box's cache
    restored from a copy: a virtual machine's snapshot) whose order nothing proves."""
    by_number: dict[tuple[str, str, str, int], tuple[BoxRun, str]] = {}
    for run, name in sorted(held, key=lambda h: (h[0].box, h[0].key, h[0].run, h[0].digest, h[1])):
        if not run.key:
            continue
        slot = (*run.box, run.key, run.run)
        same = by_number.setdefault(slot, (run, name))
        before = by_number.get((*run.box, run.key, run.run - 1))
        if same[0].digest != run.digest:
            fork(same, (run, name), "two runs of one number")
        if before is not None and run.follows != before[0].digest:
            fork(before, (run, name), "the later does not follow the earlier")


def fork(one: tuple[BoxRun, str], other: tuple[BoxRun, str], why: str) -> None:
    """The refusal of two runs of one box and key (each with its input) whose order nothing proves."""
    run = one[0]
    part = f" part {run.shard}" if run.shard else ""
    (a, first), (b, second) = sorted((one, other), key=lambda h: h[1])
    raise InputError(f"{first} (its run {a.run}) and {second} (its run {b.run}) of box {run.box_id}{part}, both signed "
                     f"by its key {fingerprint(run.key)}, fork ({why}): its cache was restored from a copy, such as "
                     "a virtual machine's snapshot, so which is the later cannot be proven; nothing was merged",
                     hint=f"ask the box's owner which run is its latest, and leave the other out (the box's next "
                          f"run follows the last it signed) ({REINSTALLED})")
