"""`--shard K/N`: split one reference set across N boxes, its contents dealt round-robin in the order of their ids, so
file order and names change nothing. `--shard auto` takes K and N from the array task (kit/infra/arrays.py).

A shard leaves out what the whole box leaves out: every box of the set reads every clip, leaves out the same ones
(each with its reason and fix) and deals the others; each clip left out is named by one shard, chosen by its file
name alone (`names_left_out`), so the union of the shards' manifests and skipped.json says what one box would, each
clip once, whatever else is left out.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kit.corpus.manifests import ShardManifest, ShardRecord, read_manifest
from kit.errors import InputError
from kit.infra.arrays import array_position
from kit.infra.files import sha256_bytes
from kit.infra.invocation import kit_command
from kit.infra.outside import label, number, read_pair
from kit.infra.records import Record
from kit.media.refs import Clip

if TYPE_CHECKING:  # the clips left out, by their path alone: discovery (numpy) loads with the corpus step, not --help
    from kit.media.discovery import Unusable

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


def select_shard(clips: Sequence[Clip], spec: ShardSpec | None, content_of: Mapping[str, str] | None = None,
                 left_out: Sequence[Unusable] = ()) -> list[Clip]:
    """The clips of shard spec.k, each content whole on one shard; refuses an empty shard, naming the clips the set
    leaves out (`left_out`), which no shard encodes."""
    if spec is None:
        return list(clips)
    group = {c.sha256: (content_of or {}).get(c.sha256, c.sha256) for c in clips}
    units = sorted(set(group.values()))
    slot = {u: i % spec.n for i, u in enumerate(units)}
    chosen = [c for c in clips if slot[group[c.sha256]] == spec.k - 1]
    if not chosen:
        names = ", ".join(Path(u.path).name for u in left_out[:3]) + (" ..." if len(left_out) > 3 else "")
        besides = f" ({len(left_out)} more left out, which no shard encodes: {names})" if left_out else ""
        raise InputError(f"--shard {spec.label}: the reference set holds only {len(units)} content(s) the kit can "
                         f"use{besides}, so shard {spec.k} holds none: a shard with no clip makes no corpus",
                         hint=f"use at most {len(units)} shards for this reference set"
                              + (", or fix the clips left out (each one's fix is in the lines above)" if left_out
                                 else ""))
    return sorted(chosen, key=lambda c: c.src)


def names_left_out(path: str, spec: ShardSpec | None) -> bool:
    """Whether this shard names the clip left out at `path` (in its manifest's left_out and skipped.json): the one
    shard its file name's sha256 falls to, so each is named once over the N shards, whatever else is left out;
    without --shard, all."""
    if spec is None:
        return True
    digest = sha256_bytes(os.fsencode(Path(path).name))
    return int(digest, 16) % spec.n == spec.k - 1


def left_out_here(left_out: Sequence[Unusable], spec: ShardSpec | None) -> list[Unusable]:
    """The clips left out that this shard names (names_left_out)."""
    return [u for u in left_out if names_left_out(u.path, spec)]


def shard_record(all_clips: Sequence[Clip], chosen: Sequence[Clip], spec: ShardSpec | None) -> ShardRecord | None:
    if spec is None:
        return None
    set_sha256 = sha256_bytes("\n".join(sorted(c.sha256 for c in all_clips)).encode())  # the whole set's hashes
    return ShardRecord(spec.k, spec.n, spec.label, len(all_clips), set_sha256, sorted(c.sha256 for c in chosen))


def shard_note(spec: ShardSpec | None, all_clips: Sequence[Clip], chosen: Sequence[Clip],
               min_sources: int, left_out: Sequence[Unusable] = ()) -> str | None:
    if spec is None:
        return None
    note = f"{spec.how or '--shard ' + spec.label}: {len(chosen)} of the reference set's {len(all_clips)} clips"
    if left_out:  # what every box of the set leaves out, each clip named by one shard
        note += "; " + left_out_note(len(left_out), len(left_out_here(left_out, spec)))
    if len(chosen) < min_sources:
        note += (f"; LOSO needs {min_sources} sources, so this shard alone cannot be trained on: merge the "
                 f"shards of all boxes ({kit_command('merge')} ...) and train on the union with --corpus")
    return note


def left_out_note(total: int, here: int) -> str:
    """What a shard says of the `total` clips the set leaves out, `here` of them named by it (names_left_out)."""
    whose = "its" if total == 1 else "each one's"
    said = f"the set leaves out {total} more clip(s) ({whose} reason above)"
    if here == total:
        return f"{said}, named in this shard's skipped.json and manifest"
    if not here:
        return f"{said}, named by the shard{'' if total == 1 else 's'} their file names fall to, not by this one"
    return (f"{said}: {here} named in this shard's skipped.json and manifest, {total - here} by the shards their file "
            "names fall to")


def refuse_small_shard(corpus: Path, n_sources: int, min_sources: int) -> None:
    manifest = read_manifest(corpus)
    if n_sources >= min_sources or not isinstance(manifest, ShardManifest) or manifest.shard is None:
        return
    raise InputError(f"{corpus} is shard {manifest.shard.label} with {n_sources} source(s); LOSO needs at least "
                     f"{min_sources}, so a shard this small is trained on only as part of the union",
                     hint=f"send its results tarball (or this shard.parquet) to the lead, who merges every box's: "
                          f"{kit_command('merge', 'results-A.tar.gz', 'results-B.tar.gz', '-o', 'merged.parquet')}, "
                          f"then {kit_command('run', '--corpus', 'merged.parquet')}")
