"""Content groups across the inputs of a merge: kit.corpus.contents' rules over every box's sources.

Each input's sources come with the fingerprints its manifest recorded (a shard's `sources`, a merged
corpus's `sources`); the groups a shard already formed (its rows' `content` column) stay joined. Every
fingerprint is compared with every other, across boxes, so the same clip kept by two boxes in other
containers becomes one content group, and the merged rows' `content` column names the union's groups.

An input written before fingerprints (schema 2, bash-kit JSONL, a hand-made file) still merges: its
sources are grouped by src_sha256 only, and the merge names it as not checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath

import pyarrow as pa
import pyarrow.compute as pc

from kit.corpus.contents import Grouping, Overrides, Source, group_sources
from kit.corpus.inputs import LoadedInput
from kit.corpus.manifests import ClipEntry, ContentGroup, MergeManifest, ShardManifest, SourceRows
from kit.corpus.schema import with_content
from kit.errors import InputError
from kit.media.identity import Fingerprint

MAX_LISTED = 20  # group lines printed; the manifest holds them all


@dataclass(frozen=True)
class Regrouped:
    table: pa.Table  # the rows, their `content` column set to the union's groups
    grouping: Grouping
    unchecked: list[str]  # inputs whose sources could not be compared (no fingerprints)
    prints: dict[str, Fingerprint]  # every fingerprint known, by src_sha256: the merged manifest carries them on


def _fingerprint(entry: ClipEntry | SourceRows, where: str) -> Fingerprint | None:
    if not (entry.pixels_sha256 and entry.signature):
        return None
    try:
        return Fingerprint(entry.pixels_sha256, entry.signature, getattr(entry, "frames", 0) or 1)
    except ValueError as exc:
        raise InputError(f"{where}: the manifest's fingerprint of {entry.src!r} is damaged ({exc})",
                         hint="merge the results tarball or shard as the box wrote it, or remove the manifest "
                              "beside the parquet file (its sources are then grouped by sha256 only)") from None


def _recorded(inp: LoadedInput) -> dict[str, Fingerprint | None]:
    """src_sha256 -> fingerprint, as the input's manifest recorded them (none without a manifest)."""
    m = inp.manifest
    entries: Sequence[ClipEntry | SourceRows] = m.sources if isinstance(m, ShardManifest | MergeManifest) else ()
    return {e.src_sha256: _fingerprint(e, inp.path) for e in entries}


def input_sources(inp: LoadedInput) -> tuple[list[Source], list[tuple[str, str, str]], bool]:
    """(the input's sources, the links its own content groups make, were all of them fingerprinted)."""
    t = inp.table.select(["src", "src_sha256", "content", "box_id"]).group_by(
        ["src", "src_sha256", "content", "box_id"]).aggregate([]).to_pylist()
    recorded = _recorded(inp)
    sources = [Source(r["src"], r["src_sha256"], recorded.get(r["src_sha256"]), r["box_id"] or "", inp.path)
               for r in t]
    by_content: dict[str, list[str]] = {}
    for r in t:
        by_content.setdefault(r["content"], []).append(r["src_sha256"])
    links = [(shas[0], other, f"one content in {PurePath(inp.path).name}")
             for shas in (sorted(set(v)) for v in by_content.values()) for other in shas[1:]]
    return sources, links, all(s.fingerprint is not None for s in sources)


def regroup(table: pa.Table, inputs: Sequence[LoadedInput], overrides: Overrides | None) -> Regrouped:
    sources: list[Source] = []
    links: list[tuple[str, str, str]] = []
    unchecked: list[str] = []
    for inp in inputs:
        found, own, checked = input_sources(inp)
        sources += found
        links += own
        if not checked:
            unchecked.append(inp.path)
    grouping = group_sources(sources, overrides, links)
    prints = {s.src_sha256: s.fingerprint for s in sources if s.fingerprint is not None}
    return Regrouped(with_content(table, grouping.content_of), grouping, unchecked, prints)


def group_lines(groups: Sequence[ContentGroup], unchecked: Sequence[str]) -> list[str]:
    """What a merge says about the contents it found: which sources, which boxes, how close; and which
    inputs it could not check (their file names)."""
    lines = []
    for g in groups[:MAX_LISTED]:
        who = ", ".join(f"{m.src} ({m.box_id or '?'})" for m in g.members)
        lines.append(f"one content in {len(g.members)} sources: {who}; {g.why[0]}"
                     + (f" (+{len(g.why) - 1} more link(s))" if len(g.why) > 1 else ""))
    if len(groups) > MAX_LISTED:
        lines.append(f"... and {len(groups) - MAX_LISTED} more group(s): see the manifest's groups")
    if unchecked:
        lines.append(f"{len(unchecked)} input(s) could not be checked for copies of one content in other files "
                     f"(no fingerprints: written before schema 3, or bash-kit JSONL): {', '.join(unchecked)}; "
                     "their sources are grouped by sha256 only")
    return lines


def source_rows(rows: Sequence[SourceRows], r: Regrouped) -> tuple[SourceRows, ...]:
    """The merged manifest's per-source entries with each source's group and fingerprint."""
    out = []
    for s in rows:
        fp = r.prints.get(s.src_sha256)
        out.append(SourceRows(s.src, s.src_sha256, s.rows, r.grouping.content_of.get(s.src_sha256, s.src_sha256),
                              fp.pixels_sha256 if fp else "", fp.signature if fp else ""))
    return tuple(out)


def content_count(table: pa.Table) -> int:
    return len(pc.unique(table["content"]))
