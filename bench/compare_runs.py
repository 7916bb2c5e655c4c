"""Are two run directories the same run? Byte for byte where bytes are deterministic, content where they are not.

    .venv/bin/python bench/compare_runs.py OLD_OUT NEW_OUT

For a refactor that must not change behaviour: run the same command (same clips, flags and --box-id) with the
kit before and after, then compare. Compared:
- the shard by its content hash (kit.corpus.schema.corpus_sha256: every column but the measured enc_time_ms)
  and its manifest minus its file hash and times, when either run made one (`run --corpus FILE` makes none);
- the LOSO reports, baselines, the members' records (03_loso/training.json: each member's sha256, whoever trained
  it) and the verdict as JSON minus timing, time-stamp and who-made-it fields;
- folds.parquet, predictions.parquet and every file under 05_bundle/exports/ (ONNX included) byte for byte.
Exit 0 when everything compared is the same, 1 otherwise (each difference is printed).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from kit.corpus.schema import corpus_sha256

# what a rerun of the same inputs changes: wall-clock times, stamps, absolute paths, what the kit records of its own
# making (a kit before 2.0's source hash `kit_build`; the format versions `formats` since; and the members'
# fingerprint `made_from`, which hashes either with the corpus and recipe, each compared on its own), and who
# trained a member (03_loso/training.json: one process or the tasks; the members' own sha256 must be equal)
VOLATILE = {"train_seconds", "train_tasks_seconds", "holdout_seconds", "seconds", "kit_build", "formats", "made_from",
            "path", "sha256_of_file", "made_by", "process"}


def scrub(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: scrub(v) for k, v in obj.items() if k not in VOLATILE and not k.endswith("_utc")}
    if isinstance(obj, list):
        return [scrub(v) for v in obj]
    return obj


def same_json(a: Path, b: Path, drop: tuple[str, ...] = ()) -> bool:
    da, db = (scrub(json.loads(p.read_text())) for p in (a, b))
    for key in drop:
        da.pop(key, None)
        db.pop(key, None)
    return bool(da == db)


def compare(old: Path, new: Path) -> list[str]:
    problems, checked = [], 0
    shards = [run / "02_corpus/shard.parquet" for run in (old, new)]
    if any(shard.is_file() for shard in shards):  # two runs of `run --corpus FILE` have none
        if corpus_sha256(shards[0]) != corpus_sha256(shards[1]):
            problems.append("02_corpus/shard.parquet: content differs")
        if not same_json(old / "02_corpus/shard.manifest.json", new / "02_corpus/shard.manifest.json", ("sha256",)):
            problems.append("02_corpus/shard.manifest.json differs")
        checked = 2
    for pattern in ("03_loso/*.json", "04_verdict/*.json", "03_loso/*.parquet", "05_bundle/exports/**/*"):
        for a in sorted(old.glob(pattern)):
            if a.is_dir() or a.name == "status.json":
                continue
            rel = a.relative_to(old)
            b = new / rel
            checked += 1
            if not b.is_file():
                problems.append(f"{rel}: missing in {new}")
            elif not (same_json(a, b) if a.suffix == ".json" else a.read_bytes() == b.read_bytes()):
                problems.append(f"{rel} differs")
    extra = {p.relative_to(new) for p in new.glob("05_bundle/exports/**/*")} - \
            {p.relative_to(old) for p in old.glob("05_bundle/exports/**/*")}
    problems += [f"{rel}: only in {new}" for rel in sorted(extra)]
    print(f"{checked} outputs compared, {len(problems)} different")
    return problems


if __name__ == "__main__":
    found = compare(Path(sys.argv[1]), Path(sys.argv[2]))
    for line in found:
        print(line)
    sys.exit(1 if found else 0)
