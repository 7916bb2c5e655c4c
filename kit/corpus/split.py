"""`--shard K/N`: split one reference set across N boxes, its contents dealt round-robin in the order of their ids, so
file order and names change nothing. `--shard auto` takes K and N from the array task (kit/infra/arrays.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kit.corpus.manifests import ShardManifest, ShardRecord, read_manifest
from kit.errors import InputError
from kit.infra.arrays import array_position
from kit.infra.files import sha256_bytes
from kit.infra.invocation import kit_command
from kit.infra.outside import label, number, read_pair
from kit.infra.records import Record
from kit.media.refs import Clip

MAX_SHARDS = 4096
AUTO = "auto"


@dataclass(frozen=True)
class ShardSpec(Record):
    LENIENT = True  # run.json of the release 0.1.0 holds no `how`
    k: int  # 1-based
    n: int
    how: str = field(default="", compare=False)  # `--shard auto`: where K and N came from

    @property
    def label(self) -> str:
        return f"{self.k}/{self.n}"

    @property
    def tag(self) -> str:
        """`shard2of3`: names this shard in box ids and folders."""
        return f"shard{self.k}of{self.n}"


SHARD_FIELD = "{shard}"  # what --out-dir and --box-id replace with the shard's tag (shard<K>of<N>)


def auto_shard(env: Mapping[str, str] | None = None) -> ShardSpec:
    """`--shard auto`: this array task's shard, or 1/1 outside an array; its `how` says which."""
    pos = array_position(os.environ if env is None else env)
    if pos is None:
        return ShardSpec(1, 1, "--shard auto: not in an array task (Slurm, or the kit's Ray adapter), so the whole "
                               "set (1/1)")
    if pos.n > MAX_SHARDS:
        raise InputError(f"--shard auto: the array has {pos.n} tasks, more than {MAX_SHARDS} shards",
                         hint=f"use an array of at most {MAX_SHARDS} tasks")
    return ShardSpec(pos.k, pos.n, f"--shard auto: {pos.how}, so shard {pos.k}/{pos.n}")


def parse_shard(text: str | None, env: Mapping[str, str] | None = None) -> ShardSpec | None:
    """`"2/3"` -> ShardSpec(2, 3); `"auto"` -> `auto_shard`; None stays None; anything else is an InputError."""
    if text is None:
        return None
    if text.strip().lower() == AUTO:
        return auto_shard(env)
    hint = "give K/N with 1 <= K <= N, e.g. --shard 1/3 on the first of three boxes, or auto in a Slurm array job"
    k, n = number(read_pair, text, f"{label('--shard', text)} is not of the form K/N", hint)
    if not (1 <= k <= n <= MAX_SHARDS):
        raise InputError(f"{label('--shard', text)}: K must be 1..N and N 1..{MAX_SHARDS}", hint=hint)
    return ShardSpec(k, n)


def select_shard(clips: Sequence[Clip], spec: ShardSpec | None,
                 content_of: Mapping[str, str] | None = None) -> list[Clip]:
    """The clips of shard spec.k, each content whole on one shard; refuses an empty shard."""
    if spec is None:
        return list(clips)
    group = {c.sha256: (content_of or {}).get(c.sha256, c.sha256) for c in clips}
    units = sorted(set(group.values()))
    slot = {u: i % spec.n for i, u in enumerate(units)}
    chosen = [c for c in clips if slot[group[c.sha256]] == spec.k - 1]
    if not chosen:
        raise InputError(f"--shard {spec.label}: the reference set holds only {len(units)} content(s), "
                         f"so shard {spec.k} holds none",
                         hint=f"use at most {len(units)} shards for this reference set")
    return sorted(chosen, key=lambda c: c.src)


def shard_record(all_clips: Sequence[Clip], chosen: Sequence[Clip], spec: ShardSpec | None) -> ShardRecord | None:
    if spec is None:
        return None
    set_sha256 = sha256_bytes("\n".join(sorted(c.sha256 for c in all_clips)).encode())  # the whole set's hashes
    return ShardRecord(spec.k, spec.n, spec.label, len(all_clips), set_sha256, sorted(c.sha256 for c in chosen))


def shard_settings(spec: ShardSpec | None, all_clips: Sequence[Clip], chosen: Sequence[Clip]) -> dict[str, object]:
    return {} if (record := shard_record(all_clips, chosen, spec)) is None else {"shard": record.to_json()}


def shard_note(spec: ShardSpec | None, all_clips: Sequence[Clip], chosen: Sequence[Clip],
               min_sources: int) -> str | None:
    if spec is None:
        return None
    note = f"{spec.how or '--shard ' + spec.label}: {len(chosen)} of the reference set's {len(all_clips)} clips"
    if len(chosen) < min_sources:
        note += (f"; LOSO needs {min_sources} sources, so this shard alone cannot be trained on: merge the "
                 f"shards of all boxes ({kit_command('merge')} ...) and train on the union with --corpus")
    return note


def refuse_small_shard(corpus: Path, n_sources: int, min_sources: int) -> None:
    manifest = read_manifest(corpus)
    if n_sources >= min_sources or not isinstance(manifest, ShardManifest) or manifest.shard is None:
        return
    raise InputError(f"{corpus} is shard {manifest.shard.label} with {n_sources} source(s); LOSO needs at least "
                     f"{min_sources}, so a shard this small is trained on only as part of the union",
                     hint=f"send its results tarball (or this shard.parquet) to the lead, who merges every box's: "
                          f"{kit_command('merge', 'results-A.tar.gz', 'results-B.tar.gz', '-o', 'merged.parquet')}, "
                          f"then {kit_command('run', '--corpus', 'merged.parquet')}")
