"""Does the records' reader say the same of every document as another kit's? Not a benchmark: the kit's own files
(run.json and its settings, every status.json, prereqs.json, the shard and merge manifests, a corpus job's ledger,
skipped.json, the LOSO reports, baselines, training.json's members, the verdict, its calibration, the bundle's ledger
and ensemble.json, a results tarball's manifest, the files of kit 0.1.0 in tests/data), each read as its record
whole and then mutated one change at a time (a key dropped; a value made null, true, 0, -1, 1.5, a huge integer,
NaN, an infinity, a text, an empty text, a list, an object; a key added first or last, misspelt or unknown; a newer
schema_version; a WRITTEN key given another value) and two changes at a time (which one is said first), and read
again. Each read's outcome is the record's JSON and repr, or the exception's type, text and (for Refused) its key,
value, problem and words (a record's by the sha256 of its JSON and repr).

    .venv/bin/python bench/records_differential.py emit OUT.tsv [DIR ...]      # this kit's outcomes
    .venv/bin/python bench/records_differential.py compare A.tsv B.tsv         # exit 1 where they differ

Run `emit` with this kit and with the other (PYTHONPATH=<its folder>, e.g. a `git archive` of the revision before a
change to kit/infra/records.py), on the same out-dirs (DIR: out-dirs, merged corpora's manifests, results tarballs),
then `compare`. The mutations are drawn with a fixed seed: both kits read the same documents in the same order.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VALUES: list[object] = [None, True, 0, -1, 1.5, 2**70, float("nan"), float("inf"), "x", "", [], {}, [1, "a"],
                        {"zz": 1}, "5"]
PATHS_PER_DOCUMENT = 400  # each document's places mutated (its first ones and a draw of the rest)
PAIRS_PER_DOCUMENT = 300


def record_of(path: Path) -> list[tuple[str, Any, str]]:
    """The records a file of the kit holds: (what, record class, where it is read as)."""
    from kit.bundle.aside import BundleLedger
    from kit.bundle.cards import EnsembleManifest
    from kit.bundle.conformal import CalibrationCard
    from kit.corpus.jobs import JobLedger
    from kit.corpus.manifests import MergeManifest, ShardManifest
    from kit.infra.archive import ResultsManifest
    from kit.media.discovery import SkippedClips
    from kit.model.results import BaselineResult, Baselines, SeedReport
    from kit.platforms.prereqs import Prereqs
    from kit.steps.records import RunRecord, StepRecord
    from kit.steps.settings import RunSettings
    from kit.verdict.document import Verdict

    name = path.name
    merged = name.endswith(".manifest.json") and name != "shard.manifest.json"
    table: list[tuple[bool, Any]] = [
        (name == "run.json", RunRecord), (name.startswith("status"), StepRecord), (name == "prereqs.json", Prereqs),
        (name == "shard.manifest.json", ShardManifest), (merged, MergeManifest),
        (path.parent.name == "jobs", JobLedger), (name == "skipped.json", SkippedClips),
        (name.startswith("loso_seed"), SeedReport), (name == "baselines.json", Baselines),
        (name == "incumbent.json", BaselineResult), (name in ("PROMOTE.json", "HOLD.json", "verdict_promote.json"),
                                                     Verdict),
        (name == "calibration.json", CalibrationCard), (name == "ledger.json" and path.parent.name == "05_bundle",
                                                        BundleLedger),
        (name == "ensemble.json", EnsembleManifest), (name == "manifest.json", ResultsManifest)]
    found = [(name, cls, name) for hit, cls in table if hit]
    if name == "run.json":
        found.append(("settings", RunSettings, "settings"))
    if name == "training.json":
        from kit.model.tasks import MemberRecord

        found.append(("member", MemberRecord, "training.json"))
    return found


def documents(dirs: list[Path]) -> Iterator[tuple[str, Any, str, object]]:
    """(name, record class, where, document) for every record file below `dirs`, in a fixed order."""
    files: list[tuple[str, bytes]] = []
    for top in dirs:
        if top.is_file() and top.name.endswith(".tar.gz"):
            with tarfile.open(top) as tar:
                for member in sorted(tar.getmembers(), key=lambda m: m.name):
                    handle = tar.extractfile(member) if member.isfile() and member.name.endswith(".json") else None
                    if handle is not None:
                        files.append((member.name, handle.read()))
            continue
        for path in sorted([top] if top.is_file() else top.rglob("*.json")):
            if "/exports/" not in str(path) and "/logs/" not in str(path):
                files.append((str(path), path.read_bytes()))
    for name, raw in files:
        doc = json.loads(raw)
        for what, cls, where in record_of(Path(name)):
            if what == "settings":
                yield f"{name}#settings", cls, where, doc.get("settings")
            elif what == "member":
                for i, member in enumerate(doc.get("members", [])[:3]):
                    yield f"{name}#member{i}", cls, where, member
            else:
                yield name, cls, where, doc


def places(doc: object, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in `doc`: each object's key and list's index, depth first in the document's order."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield (*at, key)
            yield from places(value, (*at, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield (*at, i)
            yield from places(value, (*at, i))


def parent_of(doc: object, at: tuple[Any, ...]) -> Any:
    for step in at[:-1]:
        doc = doc[step]  # type: ignore[index]
    return doc


def mutations(doc: object, rng: random.Random) -> Iterator[tuple[str, object]]:
    """(what was changed, the changed document), one change and then two at a time."""
    every = list(places(doc))
    chosen = every[:PATHS_PER_DOCUMENT // 2] + rng.sample(every[PATHS_PER_DOCUMENT // 2:],
                                                          min(len(every[PATHS_PER_DOCUMENT // 2:]),
                                                              PATHS_PER_DOCUMENT // 2))
    singles: list[tuple[str, Any]] = []
    for at in chosen:
        singles.append((f"drop {at}", lambda d, at=at: _drop(d, at)))
        for value in VALUES:
            singles.append((f"set {at}={value!r}", lambda d, at=at, value=value: _set(d, at, value)))
    dicts = [()] + [at for at in every if isinstance(_get(doc, at), dict)]
    for at in dicts[:60]:
        existing = list(_get(doc, at))
        near = (existing[0] + "s") if existing else "x"
        for key, first in (("zzz_unknown", True), ("zzz_unknown", False), (near, False), ("schema_version", False),
                           ("optimizer", False)):
            value = 99 if key == "schema_version" else "sgd" if key == "optimizer" else 1
            singles.append((f"add {at}.{key} first={first}",
                            lambda d, at=at, key=key, value=value, first=first: _add(d, at, key, value, first)))
    for what, change in singles:
        yield what, change(copy.deepcopy(doc))
    for _ in range(PAIRS_PER_DOCUMENT):
        (a, fa), (b, fb) = rng.sample(singles, 2)
        try:
            yield f"{a} + {b}", fb(fa(copy.deepcopy(doc)))
        except (KeyError, IndexError, TypeError, AttributeError):
            continue  # the second change's place is gone after the first


def _get(doc: Any, at: tuple[Any, ...]) -> Any:
    for step in at:
        doc = doc[step]
    return doc


def _drop(doc: Any, at: tuple[Any, ...]) -> Any:
    del parent_of(doc, at)[at[-1]]
    return doc


def _set(doc: Any, at: tuple[Any, ...], value: object) -> Any:
    parent_of(doc, at)[at[-1]] = copy.deepcopy(value)
    return doc


def _add(doc: Any, at: tuple[Any, ...], key: str, value: object, first: bool) -> Any:
    target = _get(doc, at)
    items = [(key, value), *target.items()] if first else [*target.items(), (key, value)]
    target.clear()
    target.update(items)
    return doc


def outcome(cls: Any, doc: object, where: str) -> str:
    from kit.infra.records import Refused

    try:
        record = cls.from_json(doc, where)
    except Exception as exc:  # every exception is an outcome compared: its type and words
        said = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, Refused):
            said += f" | {exc.key!r} {exc.value!r} {exc.problem!r} {exc.words!r}"
        return said
    written = f"{json.dumps(record.to_json(), default=repr, allow_nan=True)} {record!r}"
    return f"ok {hashlib.sha256(written.encode()).hexdigest()}"  # the record's JSON and repr, by their digest


def emit(out: Path, dirs: list[Path]) -> int:
    rng = random.Random(71)
    n = 0
    with out.open("w") as fh:
        for name, cls, where, doc in documents(dirs):
            fh.write(f"{name}\twhole\t{outcome(cls, doc, where)}\n".replace("\n", " ") + "\n")
            for what, mutated in mutations(doc, rng):
                line = f"{name}\t{what}\t{outcome(cls, mutated, where)}"
                fh.write(line.replace("\n", " ") + "\n")
                n += 1
            n += 1
    print(f"{n} reads written to {out}")
    return 0


def compare(a: Path, b: Path) -> int:
    """The reads of `a` and `b` by document and change (a subset of the documents on one side is compared so)."""
    def reads(path: Path) -> dict[tuple[str, str], list[str]]:
        found: dict[tuple[str, str], list[str]] = {}
        for line in path.read_text().splitlines():
            name, what, said = line.split("\t", 2)
            found.setdefault((name, what), []).append(said)
        return found

    left, right = reads(a), reads(b)
    common = [key for key in left if key in right]
    differ = [(key, x, y) for key in common for x, y in zip(left[key], right[key], strict=False) if x != y]
    for (name, what), x, y in differ[:20]:
        print(f"{name} {what}\n- {x[:400]}\n+ {y[:400]}\n")
    compared = sum(min(len(left[key]), len(right[key])) for key in common)
    print(f"{compared} reads compared ({len(left)} and {len(right)} changes in each), {len(differ)} different")
    return 1 if differ or not common else 0


def main() -> int:
    if len(sys.argv) >= 3 and sys.argv[1] == "emit":
        dirs = [Path(p) for p in sys.argv[3:]] or [ROOT / "tests" / "data"]
        return emit(Path(sys.argv[2]), dirs)
    if len(sys.argv) == 4 and sys.argv[1] == "compare":
        return compare(Path(sys.argv[2]), Path(sys.argv[3]))
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
