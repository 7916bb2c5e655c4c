"""One content, one source, by the same rules at discovery and at merge: files of identical decoded pictures are one
source (`split_twins`); sources whose signatures match or are undecided form one *content group* (`group_sources`),
held out whole by every fold scheme, its id the lowest src_sha256 of its members; `--content-groups FILE` overrides
both ways.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from kit.corpus.manifests import ContentGroup, GroupMember, TwinEntry
from kit.corpus.names import source_names
from kit.corpus.rulings import Ruling, check_consistent, components, entry_lines
from kit.errors import InputError
from kit.infra.files import sha256_file
from kit.infra.outside import read_json
from kit.infra.records import Record, RecordError
from kit.infra.shown import Spelled
from kit.infra.visible import utf8_text
from kit.media.discovery import Renamed, distinct_sources
from kit.media.fingerprint import FrameTimes, Repeats
from kit.media.identity import Fingerprint, Judge, bars_text, similar_pairs
from kit.media.refs import Clip

OVERRIDE_HINT = ('write it as {"same": [["name-a", "name-b"]], "different": [["name-c", "name-d"]]}, naming each '
                 "source by its name, its file name, name~<hex> or a src_sha256 prefix of 6+ hex digits")
KIND_COST = {"y4m": 0, "yuv": 1, "master": 2}  # which of two twins is kept: the one cheapest to decode
HEX = re.compile(r"^[0-9a-f]{6,64}$")


CONTENT_GROUPS = "--content-groups"  # how a reason names the file of the user's word (its name is the box's)

@dataclass(frozen=True)
class Source:
    """A source to group: at discovery a clip, at merge a source of one box's shard."""

    src: str
    src_sha256: str
    fingerprint: Fingerprint | None = None  # None: an older shard's source, known only by its sha256
    box_id: str = ""
    file: str = ""
    aliases: tuple[str, ...] = ()  # the names and file names of its frame-identical twins: an override may use them


@dataclass(frozen=True)
class GroupRules(Record):
    LENIENT = True

    same: tuple[tuple[str, ...], ...] = ()
    different: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class Overrides:
    rules: GroupRules
    file: str
    sha256: str
    at: dict[str, list[int]] = field(default_factory=dict)  # the line of each "same" and "different" entry
    left_out: dict[str, str] = field(default_factory=dict)  # the names of the clips this run left out: their paths

    def lines(self) -> list[str]:
        where = f"{CONTENT_GROUPS}, sha256 {self.sha256[:12]}"  # sent in the manifest: no file's name
        return ([f"same content: {', '.join(s)} ({where})" for s in self.rules.same]
                + [f"different contents: {', '.join(d)} ({where})" for d in self.rules.different])


def read_overrides(path: Path | None) -> Overrides | None:
    """The --content-groups file, checked; None without one."""
    if path is None:
        return None
    try:
        data = read_json(path)
        if isinstance(data, dict) and (unknown := sorted(set(data) - {"same", "different"})):
            raise ValueError(f"unknown key {unknown[0]!r}: only \"same\" and \"different\" are read")
        rules = GroupRules.from_json(data, "the file")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the --content-groups file ({exc.strerror or exc})",
                         hint="check the path") from exc
    except (ValueError, RecordError) as exc:
        raise InputError(f"{path}: not a --content-groups file ({exc})", hint=OVERRIDE_HINT) from exc
    for entry in (*rules.same, *rules.different):
        if len(entry) < 2 or not all(isinstance(e, str) and e for e in entry):
            raise InputError(f"{path}: {list(entry)!r} is not a list of two or more source names",
                             hint=OVERRIDE_HINT)
    return Overrides(rules, str(path), sha256_file(path), _lines_of(path, rules))


def _lines_of(path: Path, rules: GroupRules) -> dict[str, list[int]]:
    """Where the file's entries are, for a refusal to point at; only the kinds the scan counted right."""
    try:
        found = entry_lines(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, IndexError):
        return {}
    counts = {"same": len(rules.same), "different": len(rules.different)}
    return {k: v for k, v in found.items() if len(v) == counts[k]}


@dataclass(frozen=True)
class Grouping:
    content_of: dict[str, str]  # src_sha256 -> its group's id, for the members of groups of two or more
    groups: tuple[ContentGroup, ...]
    notes: list[str] = field(default_factory=list)  # what a merge warns of: undecided pairs, grouped or (flat) not
    apart: list[tuple[str, str]] = field(default_factory=list)  # src_sha256 pairs kept apart by the user's word
    said: list[str] = field(default_factory=list)  # what the corpus step says: every grouping that moves the folds
    rulings: list[Ruling] = field(default_factory=list)  # the signature's decisions that stand

    def contents(self, sources: int) -> int:
        return sources - sum(len(g.members) - 1 for g in self.groups)


def few_contents(grouping: Grouping, sources: int, needed: int) -> InputError | None:
    """Fewer than `needed` contents among `sources` distinct sources: why, naming the sources held as one, and the
    fix (a run that trains here is corpus only for it: kit.steps.corpus_inputs.cannot_train; a shard's union is
    refused); None where there are enough."""
    contents = grouping.contents(sources)
    if contents >= needed:
        return None
    hint = "add reference clips of other content to --ref-dir"
    if contents == sources:
        return InputError(f"{contents} distinct content(s) found; LOSO needs at least {needed}", hint=hint)
    joined = [r for r in grouping.rulings if r.joined]
    named = {n for r in joined for n in (r.a, r.b)}
    by_user = [", ".join(m.src for m in g.members) + f" ({g.why[0]})" for g in grouping.groups
               if not named & {m.src for m in g.members} and g.why]
    what = "; ".join([f"{r.a} and {r.b} ({r.detail})" for r in joined] + by_user)
    if joined:
        undo = json.dumps({"different": [[r.a, r.b] for r in joined]})
        hint = f"if they are different contents, pass --content-groups FILE with FILE holding {undo}; else {hint}"
    return InputError(f"{contents} distinct content(s) found in {sources} sources; LOSO needs at least {needed}; "
                      f"held out as one content: {what}", hint=hint)


def refuse_few_contents(grouping: Grouping, sources: int, needed: int) -> None:
    """Fewer than `needed` contents among `sources` distinct sources: refused (few_contents' words)."""
    if (few := few_contents(grouping, sources, needed)) is not None:
        raise few


def split_twins(clips: Sequence[Clip], prints: dict[str, Fingerprint]) -> tuple[list[Clip], list[TwinEntry]]:
    """(the clips to encode, the twins skipped): of one picture sequence, the file cheapest to decode is kept."""
    by_pixels: dict[str, list[Clip]] = {}
    for clip in clips:
        by_pixels.setdefault(prints[clip.sha256].pixels_sha256, []).append(clip)
    kept: list[Clip] = []
    twins: list[TwinEntry] = []
    for same in by_pixels.values():
        first, *rest = sorted(same, key=lambda c: (KIND_COST.get(c.kind, 9), c.path))
        kept.append(first)
        twins += [TwinEntry(c.path, c.src, c.sha256, first.sha256, first.path) for c in rest]
    order = {c.path: i for i, c in enumerate(clips)}
    return sorted(kept, key=lambda c: order[c.path]), sorted(twins, key=lambda t: t.file)


@dataclass(frozen=True)
class ReferenceSet:
    clips: list[Clip]  # twins left out
    twins: list[TwinEntry]
    prints: dict[str, Fingerprint]  # by src_sha256
    grouping: Grouping
    overrides: Overrides | None
    renamed: tuple[Renamed, ...] = ()  # clips whose file names reduce to one source name, and the names they got

    def lines(self) -> list[str]:
        """What the set says of itself: each name given, each twin left out, each grouping that moves the folds."""
        return [*(r.line() for r in self.renamed), *map(twin_line, self.twins), *self.grouping.said]

    def entry(self, clip: Clip) -> tuple[str, str, str]:
        """(content, pixels_sha256, signature) for the clip's manifest entry."""
        fp = self.prints[clip.sha256]
        return self.grouping.content_of.get(clip.sha256, clip.sha256), fp.pixels_sha256, fp.signature

    def repeats(self, clip: Clip) -> Repeats | None:
        """Which of the clip's pictures repeat the one before (its fingerprint's), for its manifest entry."""
        return self.prints[clip.sha256].repeats

    def times(self, clip: Clip) -> FrameTimes | None:
        """Each of the clip's frames' time as ffmpeg plays it (its fingerprint's), for its manifest entry."""
        return self.prints[clip.sha256].times

    def twins_of(self, clips: Sequence[Clip]) -> tuple[TwinEntry, ...]:
        shas = {c.sha256 for c in clips}
        return tuple(t for t in self.twins if t.same_as in shas)

    def groups_of(self, clips: Sequence[Clip]) -> tuple[ContentGroup, ...]:
        shas = {c.sha256 for c in clips}
        return tuple(g for g in self.grouping.groups if any(m.src_sha256 in shas for m in g.members))


def one_source_each(found: Sequence[Clip], prints: dict[str, Fingerprint], overrides: Overrides | None,
                    pairs: Judge = similar_pairs) -> ReferenceSet:
    """Twins out, one name each (two different pictures never share one: kit.media.discovery.distinct_sources),
    content groups formed (`pairs`: similar_pairs, or its answer kept in the cache: identity.remembered_pairs)."""
    kept, twins = split_twins(found, prints)
    clips, renamed = distinct_sources(kept)
    aliases: dict[str, list[str]] = {}
    for t in twins:
        aliases.setdefault(t.same_as, []).extend((t.src, utf8_text(PurePath(t.file).name)))
    # each source by its file's name (what --content-groups may name it by, and what a content group's members say
    # in the manifest the lead receives): never its folder
    grouping = group_sources([Source(c.src, c.sha256, prints[c.sha256], file=utf8_text(PurePath(c.path).name),
                                     aliases=tuple(aliases.get(c.sha256, ()))) for c in clips], overrides,
                             pairs=pairs)
    return ReferenceSet(clips, twins, prints, grouping, overrides, tuple(renamed))


def twin_line(twin: TwinEntry) -> str:
    """The line the corpus step says of a twin, its two paths parts of it (kit.infra.shown)."""
    return Spelled(PurePath(twin.file), " holds the same pictures as ", PurePath(twin.same_as_file),
                   f" (frame-identical): encoded and scored once, as {PurePath(twin.same_as_file).name}")


def _label(s: Source) -> str:
    box = f" on {s.box_id}" if s.box_id else ""
    return f"{s.src} ({s.src_sha256[:8]}{box})"


def _matches(s: Source, selector: str) -> bool:
    name, _, tail = selector.partition("~")
    if tail:
        return name == s.src and HEX.match(tail) is not None and s.src_sha256.startswith(tail)
    # a file named with a byte that is not UTF-8 by its name as shown and stored (`caf\xe9.y4m`: visible.utf8_text)
    return (selector == s.src or (bool(s.file) and selector == utf8_text(PurePath(s.file).name))
            or selector in s.aliases or (HEX.match(selector) is not None and s.src_sha256.startswith(selector)))


def _resolve(sources: Sequence[Source], selector: str, overrides: Overrides) -> int:
    hits = sorted({s.src_sha256: i for i, s in enumerate(sources) if _matches(s, selector)}.values())
    if not hits and selector in overrides.left_out:
        raise InputError(f"{overrides.file}: {selector!r} names {overrides.left_out[selector]}, which this run left "
                         "out (its skipped line says why)",
                         hint="fix the clip as its skipped line says and rerun, or drop the entry naming it")
    if not hits:
        raise InputError(f"{overrides.file}: {selector!r} names no source of this set",
                         hint="name a source by its name, file name, name~<hex> or src_sha256 prefix; "
                              + OVERRIDE_HINT.split(", naming")[0].replace("write it as", "the format is"))
    if len(hits) > 1:
        which = ", ".join(_label(sources[i]) for i in hits[:4])
        raise InputError(f"{overrides.file}: {selector!r} names {len(hits)} sources ({which})",
                         hint=f"name one of them as name~<hex>, e.g. {sources[hits[0]].src}~"
                              f"{sources[hits[0]].src_sha256[:6]}")
    return hits[0]


def _unique(sources: Sequence[Source]) -> list[Source]:
    """One entry per src_sha256, fingerprinted where any is, in src_sha256 order (whatever order they came in)."""
    best: dict[str, Source] = {}
    for s in sorted(sources, key=lambda s: (s.src_sha256, s.fingerprint is None, s.box_id, s.src, s.file)):
        best.setdefault(s.src_sha256, s)
    return list(best.values())


def _judged(unique: Sequence[Source], pairs: Judge) -> list[tuple[int, int, Ruling]]:
    """What the signature says of every pair of fingerprinted sources that is not different."""
    printed = [i for i, s in enumerate(unique) if s.fingerprint is not None]
    named = source_names((s.src_sha256, s.src) for s in unique)  # as a --content-groups file names them
    prints = [p for p in (unique[i].fingerprint for i in printed) if p is not None]
    out = []
    for a, b, like in pairs(prints):
        i, j = printed[a], printed[b]
        (first, fa), (second, fb) = sorted((named[unique[k].src_sha256], unique[k].fingerprint) for k in (i, j))
        bars = [f"{name} compared inside its {text}" for name, fp in ((first, fa), (second, fb))
                if fp is not None and (text := bars_text(fp.signature))]
        detail = "; ".join([like.detail, *bars])
        out.append((i, j, Ruling(first, second, detail, like.outcome, joined=not like.flat)))
    return out


Link = tuple[int, int, str]  # two sources (indices into the unique ones) held as one content, and why


def group_sources(sources: Sequence[Source], overrides: Overrides | None = None,
                  known: Sequence[tuple[str, str, str]] = (), known_apart: Sequence[Sequence[str]] = (),
                  pairs: Judge = similar_pairs) -> Grouping:
    """The content groups of `sources` (the module's text says the rules).

    Raises InputError when an override names no source, names several, contradicts itself, or says two sources
    differ that other links still join (a user's word never silently loses to the signature).

    `known`: links already made, as (src_sha256, src_sha256, why): a shard's own groups, at merge;
    `known_apart`: src_sha256 pairs a box's --content-groups kept apart, at merge."""
    unique = _unique(sources)
    judged = _judged(unique, pairs)
    at = {s.src_sha256: i for i, s in enumerate(unique)}
    # a pair recorded apart by an input whose sources this set does not hold both of says nothing here
    recorded_apart = [(at[a], at[b]) for a, b in known_apart if a in at and b in at]
    user, apart = _overrides(unique, overrides, recorded_apart)
    links = _links(unique, judged, known, at) + user
    # "different" wins over any single link: a pair kept apart is never joined directly ...
    kept = [(i, j, why) for i, j, why in links if (min(i, j), max(i, j)) not in apart]
    component = components(len(unique), [(i, j) for i, j, _ in kept])
    # ... and a chain of other links that still joins it is refused, not silently obeyed or broken
    _refuse_joined_apart(unique, kept, apart, component, overrides)
    return _report(unique, judged, kept, apart, component, overrides)


def _links(unique: Sequence[Source], judged: Sequence[tuple[int, int, Ruling]],
           known: Sequence[tuple[str, str, str]], at: dict[str, int]) -> list[Link]:
    """What joins two sources before anyone's word: the signature's rulings that join, and the links an input
    already made (a shard's own groups, at merge; a link to a source this set does not hold, or of a source to
    itself, is dropped). `at`: each unique source's index by src_sha256."""
    signature = [(i, j, r.why((_label(unique[i]), _label(unique[j])))) for i, j, r in judged if r.joined]
    recorded = [(at[a], at[b], why) for a, b, why in known if a in at and b in at and a != b]
    return signature + recorded


def _refuse_joined_apart(unique: Sequence[Source], kept: Sequence[Link], apart: set[tuple[int, int]],
                         component: Sequence[int], overrides: Overrides | None) -> None:
    """Raises InputError for the first pair (in index order) said to be different contents that the kept links
    still join into one component, naming the links that join it (cut at 600 characters) and where the pair
    was said apart: the --content-groups file, or a manifest's recorded one at merge."""
    for a, b in sorted(apart):
        if component[a] != component[b]:
            continue
        where = overrides.file if overrides else "a --content-groups recorded in an input's manifest"
        joining = "; ".join(why for i, _, why in kept if component[i] == component[a])
        raise InputError(f"{where}: {_label(unique[a])} and {_label(unique[b])} "
                         "are said to be different contents, but other links join them: " + joining[:600],
                         hint="list the linking sources under \"different\" too, or drop the entry")


def _overrides(unique: Sequence[Source], overrides: Overrides | None,
               known_apart: Sequence[tuple[int, int]]) -> tuple[list[Link], set[tuple[int, int]]]:
    """The user's word: (the links of "same" entries, the pairs kept apart); InputError for a bad entry."""
    apart = {(min(a, b), max(a, b)) for a, b in known_apart if a != b}
    if overrides is None:
        return [], apart
    same, different = ([[_resolve(unique, sel, overrides) for sel in entry] for entry in kind]
                       for kind in (overrides.rules.same, overrides.rules.different))
    check_consistent(overrides.file, same, different, overrides.rules.different, overrides.at)
    # a content group's reason is sent in the manifest: the flag, no file's name
    links = [(ix[0], j, f"{', '.join(entry)}: one content by {CONTENT_GROUPS}")
             for ix, entry in zip(same, overrides.rules.same, strict=True) for j in ix[1:]]
    return links, apart | {(min(a, b), max(a, b)) for ix in different for a in ix for b in ix if a != b}


def _report(unique: Sequence[Source], judged: Sequence[tuple[int, int, Ruling]], kept: Sequence[Link],
            apart: set[tuple[int, int]], component: Sequence[int], overrides: Overrides | None) -> Grouping:
    """The groups and what is said of them: the signature's rulings that stand, the user's groupings."""
    groups = _groups(unique, component, kept)
    content_of = {m.src_sha256: g.content for g in groups for m in g.members}
    rulings = [r for i, j, r in judged
               if ((min(i, j), max(i, j)) not in apart if r.joined else component[i] != component[j])]
    users = [] if overrides is None else [f"{', '.join(entry)} are held out together as one content, as "
                                          f"{CONTENT_GROUPS} says" for entry in overrides.rules.same]
    kept_apart = sorted((unique[a].src_sha256, unique[b].src_sha256) for a, b in apart)
    return Grouping(content_of, groups, [r.line() for r in rulings if r.outcome == "undecided"], kept_apart,
                    [r.line() for r in rulings] + users, rulings)


def _groups(unique: Sequence[Source], component: Sequence[int], kept: Sequence[Link]) -> tuple[ContentGroup, ...]:
    members: dict[int, list[int]] = {}
    for i in range(len(unique)):
        members.setdefault(int(component[i]), []).append(i)
    groups: list[ContentGroup] = []
    for label, ix in members.items():
        if len(ix) < 2:
            continue
        gid = min(unique[i].src_sha256 for i in ix)
        ordered = sorted(ix, key=lambda i: (unique[i].src, unique[i].src_sha256))
        groups.append(ContentGroup(gid, tuple(GroupMember(unique[i].src, unique[i].src_sha256, unique[i].box_id,
                                                          unique[i].file) for i in ordered),
                                   sorted(why for i, _, why in kept if component[i] == label)))
    return tuple(sorted(groups, key=lambda g: g.content))
