"""Whose key each box's runs are (issue 96, "a box is its key"): a merge's signed tarballs and the keys its merged
inputs carry, checked against the lead's record of the boxes' keys (kit.infra.keyring) before any row is taken.

A box id's first key is taken as the merge first sees it, and recorded (ssh's known_hosts: trust on first use, said
with the fingerprint to compare with the one the box's owner tells); a tarball under a known box id signed by another
key is refused, naming both fingerprints and the lead's command that accepts the new one (`merge … --accept-key
BOX=FINGERPRINT`: a reinstalled box, its cache wiped). A box id's keys are kept in the order the lead first took them
(accepting a key the box already has changes nothing), so
that a run under the key taken later is the later run (kit.corpus.merge.supersede); within one key, the box's own
count (`run`), each run naming the digest of the one it follows: two runs of one number, or a run whose given
predecessor is not the one it names, are a fork (the box's cache restored from a copy) whose order nothing proves,
refused. A tarball of a kit before 2.5 is unsigned (as is a signed one whose signature was taken off): under a box
id the lead knows by a key, or one this merge takes a key for, it is refused (refuse_unsigned); of another box it is
read for its rows, never a box's run: it never supersedes nor is superseded. A corpus file given bare (a shard.parquet
or .jsonl, not a tarball) is the lead's own: what crosses from a box is its tarball, and a file the lead took out of
one and gives by hand is taken as the lead gives it, read for its rows as an unsigned tarball of no known box is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

import pyarrow.compute as pc

from kit.corpus.inputs import LoadedInput, run_signature
from kit.corpus.manifests import BoxKeys, BoxRun, MergeManifest, ShardManifest
from kit.errors import InputError
from kit.infra.keyring import Histories, KnownRun, has_keyring, keyring
from kit.infra.keys import REINSTALLED, fingerprint
from kit.infra.records import keeps

# the merge's command again, with these (box id, fingerprint) taken and these inputs (LoadedInput.path) left out
Again = Callable[[Sequence[tuple[str, str]], Sequence[str]], str]


@dataclass(frozen=True)
class Claim:
    """A key some input names for a box id: a signed tarball's, or one a merged input carries."""

    box_id: str
    key: str
    input: str  # its name
    path: str  # as it was given (LoadedInput.path)


def signed_run(inp: LoadedInput) -> BoxRun | None:
    """The box run a signed tarball is (kit 2.5 on; None for any other input): its box id and part of a set as
    signed, its shard's sha256, its key, number, the digest it follows and its own."""
    m, s = inp.manifest, run_signature(inp.manifest, inp.signed)
    if s is None or not isinstance(m, ShardManifest):
        return None
    return BoxRun(s.box_id, s.signer.part, inp.recorded_utc, m.sha256, s.signer.public_key, s.signer.run,
                  s.signer.follows, s.digest)


def row_boxes(inp: LoadedInput) -> set[str | None]:
    """The box ids the input's rows name (None: a row that records none); none where it has no box_id column."""
    if "box_id" not in inp.table.column_names:
        return set()
    return {None if b is None else str(b) for b in pc.unique(inp.table["box_id"]).to_pylist()}


def refuse_other_rows(inp: LoadedInput) -> None:
    """A signed tarball's rows are all of the box it is signed as: a box's key proves nothing of rows of another."""
    if inp.signed is None:
        return
    named = sorted(str(b) for b in row_boxes(inp) - {inp.signed.box_id})
    if named:
        raise InputError(f"{inp.name} is signed as box {inp.signed.box_id}, but its corpus holds rows of box "
                         f"{named[0]}: a tarball's key speaks for its own box alone; nothing was merged",
                         hint="leave the tarball out: the kit never makes one so (someone edited it and signed it "
                              "again)")


def carried_keys(inp: LoadedInput) -> list[BoxKeys]:
    """The keys a merged input carries for the boxes whose rows or runs it holds: a key it names for a box it holds
    nothing of (an edited union planting a first use for a box the lead has not met) is none of its."""
    if not isinstance(inp.manifest, MergeManifest):
        return []
    held = {r.box_id for r in inp.manifest.runs} | {b for b in row_boxes(inp) if b is not None}
    return [b for b in inp.manifest.box_keys if b.box_id in held]


def claims(inputs: Sequence[LoadedInput]) -> list[Claim]:
    """Every key the inputs name for a box id: each signed tarball's, each key a merged input carries."""
    found = [Claim(i.signed.box_id, i.signed.signer.public_key, i.name, i.path) for i in inputs if i.signed is not None]
    for inp in inputs:
        found += [Claim(b.box_id, key, inp.name, inp.path) for b in carried_keys(inp) for key in b.keys]
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
              note: Callable[[str], None]) -> tuple[Histories, list[LoadedInput]]:
    """The keys each box id's signed runs are taken under (oldest first), and the inputs as the lead's record proves
    them (proven_runs), the lead's record updated with both; `accepted`: (box id, fingerprint) pairs the lead took
    (--accept-key), each the box's key from then on. InputError, nothing recorded, for a key the lead does not know
    for a box it knows, two new keys for one new box id, an accepted fingerprint no input names, or a signed tarball
    of another box's rows."""
    for inp in inputs:
        refuse_other_rows(inp)
    found = claims(inputs)
    unsigned = [i for i in inputs if i.kind == "tarball" and i.signed is None]
    if not found and not accepted and not (unsigned and has_keyring()):
        return {}, list(inputs)  # nothing signed, no record: a run of no key is no box's run, and no box is known
    said: list[str] = []
    with keyring() as (ring, path):
        known = ring.keys
        histories = {box: known[box] for box in {c.box_id for c in found} if box in known}
        carried: dict[str, str] = {}  # a box new to this lead whose keys a merged input carries: the input's name
        for inp in inputs:  # a merged input is a file anyone may edit: its keys are a first use, as a tarball's are
            for b in carried_keys(inp):
                if b.box_id in known:  # the lead's record stands: a key it lacks is refused below, as a tarball's
                    continue
                if (both := joined(histories.get(b.box_id, ()), b.keys)) is not None:
                    histories[b.box_id] = both
                    carried.setdefault(b.box_id, inp.name)
        said += [carried_line(box, histories[box], name, path) for box, name in sorted(carried.items())]
        for box, fpr in accepted:
            before = histories.get(box, ())
            histories[box] = accept(box, fpr, before, found)
            if histories[box] == before:  # a key the box had: its place kept, never made its key now again
                now = fingerprint(before[-1])
                said.append(f"box {box}'s key {fpr} is one this lead already knows for it (--accept-key changes "
                            f"nothing): its keys stay in the order this lead first took them, {now} its key now")
                continue
            said.append(f"box {box}'s key is now {fpr}, as accepted (--accept-key), recorded in {path}: its runs "
                        "under a key it had before come before the runs under this one")
        for box in sorted({c.box_id for c in found}):
            histories[box] = box_keys(box, histories.get(box, ()), [c for c in found if c.box_id == box], again,
                                      path, said)
        refuse_unsigned(unsigned, {**known, **histories})
        taken = proven_runs(inputs, ring.runs, {box for box in histories if box not in known}, said)
        known.update(histories)
    for line in said:
        note(line)
    return histories, taken


def unsigned_boxes(inp: LoadedInput) -> list[str]:
    """The box ids an unsigned tarball speaks for: its manifest's and its rows'."""
    named = {inp.manifest.box_id} if isinstance(inp.manifest, ShardManifest) and inp.manifest.box_id else set()
    return sorted(named | {b for b in row_boxes(inp) if b is not None})


def refuse_unsigned(unsigned: Sequence[LoadedInput], histories: Histories) -> None:
    """An unsigned tarball (a kit before 2.5's, or one whose signature was taken off: anyone who saw it can) of a box
    id the lead knows by a key (its record, or a key this merge takes) is refused: that box signs its runs, so an
    unsigned one of it is proven by nothing. One of a box no key is known for stays taken, as 2.4's were."""
    for inp in unsigned:
        for box in unsigned_boxes(inp):
            if keys := histories.get(box, ()):
                raise InputError(f"{inp.name} is unsigned (a kit before 2.5's, or its signature taken off) and holds "
                                 f"rows of box {box}, which this lead knows by its key {fingerprint(keys[-1])}: an "
                                 "unsigned tarball of a box that signs is never taken as its; nothing was merged",
                                 hint=f"ask box {box}'s owner to send its signed tarball again (the one its run made, "
                                      "unchanged), and merge without this one")


def proven_runs(inputs: Sequence[LoadedInput], runs: set[KnownRun], fresh: set[str],
                said: list[str]) -> list[LoadedInput]:
    """The inputs as the lead's record of the runs it took (`runs`, added to) proves them: each signed tarball's run
    taken (its signature proves it); a merged input's runs and superseded runs of a box new to the lead (`fresh`)
    taken with its keys (a first use), and of a box the lead knows, kept only where the lead took them: one it never
    took (a union merged elsewhere, or edited: anyone can write a run 99) is no run of the box and supersedes nothing,
    said, and its rows of that box stay apart."""
    runs.update(k for inp in inputs if (r := signed_run(inp)) is not None and (k := known_run(r)) is not None)

    def proven(r: BoxRun) -> bool:
        if not r.key:  # kit 2.4's, or an unsigned tarball's: it claims no key, and is ranked as none
            return True
        if (k := known_run(r)) is not None and (k in runs or r.box_id in fresh):
            runs.add(k)
            return True
        return False

    taken = []
    for inp in inputs:
        m = inp.manifest
        if not isinstance(m, MergeManifest):
            taken.append(inp)
            continue
        kept = tuple(r for r in m.runs if proven(r))
        still = tuple(s for s in m.superseded if proven(s.run) and proven(s.later))
        if len(kept) == len(m.runs) and len(still) == len(m.superseded):
            taken.append(inp)
            continue
        lost = sorted({(r.box_id, r.said) for r in (*m.runs, *(x for s in m.superseded for x in (s.run, s.later)))
                       if not proven(r)})
        said.append(f"{inp.name} records {'; '.join(f'box {box} {what}' for box, what in lost)}, which this lead "
                    "never took from the box's signed tarball (a union merged elsewhere, or edited): taken as no run "
                    "of the box, superseding nothing (its rows of that box are kept apart); merge the box's tarballs "
                    "to take its runs")
        taken.append(replace(inp, manifest=replace(m, runs=kept, superseded=still)))
    return taken


def known_run(r: BoxRun) -> KnownRun | None:
    """A signed run as the lead's record keeps it; None where it breaks a rule of the record (an edited union's)."""
    k = KnownRun(r.box_id, r.shard, r.key, r.run, r.follows, r.digest)
    return k if all(rule.problem(getattr(k, f.name)) is None for f in fields(k) for rule in keeps(f)) else None


def carried_line(box: str, keys: tuple[str, ...], name: str, path: Path) -> str:
    """What a merge says of a box new to the lead whose keys a merged input carries (its first use)."""
    if len(keys) == 1:
        taken = f"its key {fingerprint(keys[0])} is taken as {name} carries it"
    else:
        taken = (f"its keys {', '.join(fingerprint(k) for k in keys)} (the last is its key now) are taken as {name} "
                 "carries them")
    return (f"box {box} is new to this lead: {taken}, and recorded in {path} (compare "
            f"{'the last' if len(keys) > 1 else 'it'} with the fingerprint the box's owner tells you; a tarball of "
            "that box signed by another key is refused)")


def accept(box: str, fpr: str, keys: tuple[str, ...], found: Sequence[Claim]) -> tuple[str, ...]:
    """`keys` with the key of fingerprint `fpr` (one an input names for `box`) made the box's key now, where it is new
    to the box; a key the box already had keeps its place (the order the lead first took them: an older key accepted
    again never goes behind the box's key now, whose runs would then rank before the older key's)."""
    named = [c.key for c in found if c.box_id == box and fingerprint(c.key) == fpr]
    if not named:
        others = sorted({fingerprint(c.key) for c in found if c.box_id == box})
        raise InputError(f"--accept-key {box}={fpr}: no input given is signed by that key for box {box}"
                         + (f" (its inputs are signed by {', '.join(others)})" if others else
                            " (no input is of that box)") + "; nothing was merged",
                         hint="copy the fingerprint from the refusal of the merge, or from `verify` of the box's "
                              "tarball, and give that tarball in the same merge")
    return keys if named[0] in keys else (*keys, named[0])


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

    def taking(key: str) -> str:
        """The merge again, the box's key `key` taken, every input of its other new keys left out."""
        return again([(box, fingerprint(key))], sorted({c.path for c in found if c.key in new and c.key != key}))

    if keys:
        raise InputError(f"box {box} is known to this lead by key {fingerprint(keys[-1])}, but {shown} "
                         f"{'is' if len(new) == 1 else 'are'} signed by another: a tarball of another key is never "
                         "taken as that box's; nothing was merged",
                         hint=f"if box {box} was reinstalled (its cache wiped: a new key), ask its owner for the "
                              f"fingerprint its run printed, and if it is {fingerprint(new[0])}, take it: "
                              f"{taking(new[0])}; else another box made it: leave it out, or ask its owner to run "
                              f"again with a --box-id of its own ({REINSTALLED})")
    takes = " or ".join(taking(k) for k in new)
    raise InputError(f"box {box} is new to this lead, and its inputs are signed by {len(new)} keys: {shown}: which "
                     "one is the box cannot be told; nothing was merged",
                     hint=f"ask the box's owner for the fingerprint its run printed and take that key, leaving the "
                          f"other key's inputs out: {takes} ({REINSTALLED})")


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
                     hint=f"ask the box's owner which run is its latest and leave the other out, where it is a "
                          f"tarball; where it is a merged corpus's, or the box ran on after the fork (its later runs "
                          f"follow its copy, so they fork too), ask box {run.box_id}'s owner to move the box-key "
                          f"folder out of its kit cache and run again: its bundle alone is made again, signed by a new "
                          f"key, which you accept once, starting a count of its own ({REINSTALLED})")
