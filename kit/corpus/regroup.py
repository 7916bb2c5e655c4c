"""Content groups across the inputs of a merge: kit.corpus.contents' rules over every box's sources, the groups a shard
formed kept joined. An input without fingerprints still merges, grouped by src_sha256 only and named as not checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import PurePath

import pyarrow as pa

from kit.corpus.contents import Grouping, Overrides, Source, group_sources
from kit.corpus.inputs import LoadedInput
from kit.corpus.legacy import legacy_links
from kit.corpus.manifests import ClipEntry, ContentGroup, MergeManifest, ShardManifest, SourceRows, TwinEntry
from kit.corpus.names import source_names
from kit.corpus.schema import with_content
from kit.errors import InputError
from kit.media.fingerprint import FrameTimes, Repeats
from kit.media.identity import Fingerprint

MAX_LISTED = 20  # group lines printed; the manifest holds them all


@dataclass(frozen=True)
class Regrouped:
    table: pa.Table  # the rows, their `content` column set to the union's groups
    grouping: Grouping
    unchecked: list[str]  # inputs whose sources could not be compared (no fingerprints)
    recorded: dict[str, Recorded]  # what the inputs' manifests knew of each source
    twins: tuple[TwinEntry, ...]
    legacy: list[str] = field(default_factory=list)  # bash-kit JSONL sources named as a source whose rows differ


@dataclass(frozen=True)
class Recorded:
    fingerprint: Fingerprint | None = None
    frames: int = 0
    file: str = ""
    repeats: Repeats | None = None
    times: FrameTimes | None = None


def _fingerprint(entry: ClipEntry | SourceRows, where: str) -> Fingerprint | None:
    if not (entry.pixels_sha256 and entry.signature):
        return None
    try:
        return Fingerprint(entry.pixels_sha256, entry.signature, entry.frames or 1)
    except ValueError as exc:
        raise InputError(f"{where}: the manifest's fingerprint of {entry.src!r} is damaged ({exc})",
                         hint="merge the results tarball or shard as the box wrote it, or remove the manifest "
                              "beside the parquet file (its sources are then grouped by sha256 only)") from None


def input_sources(inp: LoadedInput) -> tuple[list[Source], list[tuple[str, str, str]], dict[str, Recorded]]:
    """(the input's sources, the links its own content groups make, what its manifest recorded of them)."""
    t = inp.table.select(["src", "src_sha256", "content", "box_id"]).group_by(
        ["src", "src_sha256", "content", "box_id"]).aggregate([]).to_pylist()
    m = inp.manifest
    entries: Sequence[ClipEntry | SourceRows] = m.sources if isinstance(m, ShardManifest | MergeManifest) else ()
    recorded = {e.src_sha256: Recorded(_fingerprint(e, inp.path), e.frames, e.file, e.repeats,
                                            e.times) for e in entries}
    sources = [Source(r["src"], r["src_sha256"], (rec := recorded.get(r["src_sha256"], Recorded())).fingerprint,
                      r["box_id"] or "", rec.file) for r in t]
    by_content: dict[str, list[str]] = {}
    for r in t:
        by_content.setdefault(r["content"], []).append(r["src_sha256"])
    links = [(shas[0], other, f"one content in {PurePath(inp.path).name}")
             for shas in (sorted(set(v)) for v in by_content.values()) for other in shas[1:]]
    return sources, links, recorded


def regroup(table: pa.Table, inputs: Sequence[LoadedInput], overrides: Overrides | None) -> Regrouped:
    sources: list[Source] = []
    links: list[tuple[str, str, str]] = []
    unchecked: list[str] = []
    recorded: dict[str, Recorded] = {}
    apart: list[list[str]] = []
    twins: dict[tuple[str, str], TwinEntry] = {}
    for inp in inputs:
        found, own, known = input_sources(inp)
        sources += found
        links += own
        for sha, rec in known.items():
            if sha not in recorded or recorded[sha].fingerprint is None:
                recorded[sha] = rec
            elif recorded[sha].times is None and rec.times is not None:  # an older box's manifest recorded none
                recorded[sha] = replace(recorded[sha], times=rec.times)
        if any(s.fingerprint is None for s in found):
            unchecked.append(inp.path)
        if isinstance(inp.manifest, ShardManifest | MergeManifest):
            apart += inp.manifest.apart
            twins.update({(t.file, t.src_sha256): t for t in inp.manifest.twins})
    legacy = legacy_links(table, sources)
    grouping = group_sources(sources, overrides, links + legacy.links, apart)
    return Regrouped(with_content(table, grouping.content_of), grouping, unchecked, recorded,
                     tuple(twins[k] for k in sorted(twins)), legacy.notes)


def group_lines(groups: Sequence[ContentGroup], unchecked: Sequence[str], sources: Sequence[SourceRows]) -> list[str]:
    """What a merge says about the contents it found, and which inputs it could not check."""
    shown = source_names((s.src_sha256, s.src) for s in sources)
    lines = []
    for g in groups[:MAX_LISTED]:
        who = ", ".join(f"{shown.get(m.src_sha256, m.src)} ({m.box_id or '?'})" for m in g.members)
        lines.append(f"one content in {len(g.members)} sources: {who}; {g.why[0]}"
                     + (f" (+{len(g.why) - 1} more link(s))" if len(g.why) > 1 else ""))
    if len(groups) > MAX_LISTED:
        lines.append(f"... and {len(groups) - MAX_LISTED} more group(s): see the manifest's groups")
    if unchecked:
        lines.append(f"{len(unchecked)} input(s) could not be checked for copies of one content in other files "
                     f"(no fingerprints: written before schema 3, or bash-kit JSONL): {', '.join(unchecked)}; "
                     "their sources are grouped by sha256 only (bash-kit JSONL's, besides, with a source of its "
                     "name whose frames' features agree)")
    return lines


def source_rows(rows: Sequence[SourceRows], r: Regrouped) -> tuple[SourceRows, ...]:
    out = []
    for s in rows:
        rec = r.recorded.get(s.src_sha256, Recorded())
        fp = rec.fingerprint
        out.append(SourceRows(s.src, s.src_sha256, s.rows, r.grouping.content_of.get(s.src_sha256, s.src_sha256),
                              fp.pixels_sha256 if fp else "", fp.signature if fp else "", rec.frames, rec.file,
                              rec.repeats, rec.times))
    return tuple(out)
