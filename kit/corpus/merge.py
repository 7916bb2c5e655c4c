"""Merging corpus shards into one corpus (docs/lead.md): duplicates dropped by kit.corpus.dedup's rule, a conflict
refused (exit 2) unless `--prefer` says which row to keep; within one input the earlier row wins, the same bytes given
twice count once. The rows are written in the canonical order, so A+B, B+A and A+B+A give byte-identical files.

A check across the inputs (their teachers, builds, contents) is a module of its own (kit.corpus.provenance), called from
`_merge_into`, and what it finds goes into the manifest `build_merge_manifest` writes: this module stays the sequence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kit import __version__
from kit.corpus.commit import check_output, commit_pair, recover_output, writing
from kit.corpus.contents import Overrides
from kit.corpus.dedup import KEY, SCORED, SORT_ORDER, Dedup, dedupe
from kit.corpus.inputs import Declared, LoadedInput, load_input, same_bytes
from kit.corpus.jsonl import JSONL_NAMESPACE
from kit.corpus.manifests import (
    BoxRun,
    BuildRows,
    Conflicts,
    InputEntry,
    LeftOut,
    MergeManifest,
    RepeatedCorpus,
    RepeatedInput,
    ShardManifest,
    SharedBoxId,
    Superseded,
)
from kit.corpus.misscored import refuse_inputs
from kit.corpus.names import source_names
from kit.corpus.oracle import ORACLE_FRAMES, TOLERANCE, IndependentCheck
from kit.corpus.provenance import build_rows, build_warnings, check_teachers
from kit.corpus.regroup import Regrouped, regroup, source_rows
from kit.corpus.signers import Again, ranked, refuse_forks, signed_run, take_keys
from kit.corpus.summary import TableSummary, combine_checks, independent_check, refused_line, summarise_table
from kit.errors import InputError, ResourceLimit
from kit.infra.clock import utc_iso
from kit.infra.files import sha256_file
from kit.infra.host import group_shared_from_env
from kit.infra.invocation import kit_command
from kit.infra.keyring import Histories, as_records
from kit.infra.limits import MAX_CORPUS_ROWS
from kit.infra.resources import PeakLine, memory_short, size_text
from kit.infra.tree import Rules, Tree
from kit.infra.variables import MEMORY_CHECK

MAX_EXAMPLES = 5
HELPERS = ("_input", "_pref", "_row")
# the merge's peak (wait4's max RSS) of the one-input merge of bench/bench_scale.py's corpora of 1,000, 3,000 and
# 10,000 contents x 300 rows: 585 to 611, 1,242 and 3,650 MiB, a line through the last two, the first within its
# margin (bench/README.md#step-memory)
MERGE_PEAK = PeakLine(230 * 2**20, 1_200)


class MergeConflict(InputError):
    """Same key, different scored values, and no --prefer: the details name each conflict."""

    def __init__(self, message: str, hint: str, details: list[str]) -> None:
        super().__init__(message, hint)
        self.details = details


def canonical_inputs(loaded: Sequence[LoadedInput]) -> tuple[list[LoadedInput], list[RepeatedInput]]:
    """Inputs sorted by (file name, sha256); a repeat of the same bytes is set aside."""
    chosen: dict[str, LoadedInput] = {}
    repeats = []
    for inp in sorted(loaded, key=lambda i: (i.name, i.sha256, i.path)):
        if inp.sha256 in chosen:
            repeats.append(RepeatedInput(inp.path, chosen[inp.sha256].path))
        else:
            chosen[inp.sha256] = inp
    return list(chosen.values()), repeats


def runs_held(inp: LoadedInput) -> tuple[tuple[BoxRun, ...], tuple[BoxRun, ...]]:
    """(the box runs an input holds, those it holds superseded): a signed tarball its own (kit.corpus.signers); a
    merged input those its manifest records (kit 2.4's among them, of no key)."""
    if isinstance(inp.manifest, MergeManifest):
        return inp.manifest.runs, tuple(s.run for s in inp.manifest.superseded)
    return ((run,) if (run := signed_run(inp)) is not None else ()), ()


Latest = dict[tuple[str, str], tuple[BoxRun, LoadedInput, tuple[int, int]]]  # a box's latest run, its input, rank


def supersede(inputs: Sequence[LoadedInput], histories: Histories) -> tuple[list[LoadedInput], list[Superseded]]:
    """The inputs but each run of a box (one box id, one part of a set) that ran again: the box's latest run (signers.
    ranked: under the key the lead took last, the highest number the box signed; never its clock, whatever the
    inputs' order) is its corpus, rows and left-out clips; each earlier run of it is superseded, by the input holding
    the later run (a tarball, or a merged input that holds it or superseded this one): a tarball of it left out, a
    merged input taken without it (`without_runs`). An unsigned input (a kit before 2.5's tarball, a parquet file, a
    run directory) is no run: it stays whole, apart (shared_box_ids); a fork of a box's runs is refused."""
    rank = ranked(histories)
    refuse_forks([(run, inp.name) for inp in inputs for run in runs_held(inp)[0]])
    latest, gone = latest_runs(inputs, rank)
    kept, superseded = [], []
    for inp in inputs:
        if isinstance(inp.manifest, MergeManifest):
            stale = [r for r in inp.manifest.runs if rank(r) is not None and latest[r.box][0].digest != r.digest]
            superseded += [Superseded(inp.name, r, latest[r.box][1].name, latest[r.box][0],
                                      only_here(inp, latest[r.box][1], r.box_id)) for r in stale]
            kept.append(without_runs(inp, stale, latest) if stale else inp)
            continue
        if (run := signed_run(inp)) is None or rank(run) is None:  # an unsigned tarball of a box known by its key
            kept.append(inp)  # is refused before (signers.refuse_unsigned): this one is no known box's run
            continue
        later, by, _ = latest[run.box]
        if later.digest != run.digest:
            superseded.append(Superseded(inp.name, run, by.name, later, only_here(inp, by, run.box_id)))
        elif run.digest in gone and gone[run.digest] is not inp:
            superseded.append(Superseded(inp.name, run, gone[run.digest].name, run, []))
        else:
            kept.append(inp)
    return kept, sorted(superseded, key=lambda s: (s.input, s.run.sha256))


def latest_runs(inputs: Sequence[LoadedInput], rank: Callable[[BoxRun], tuple[int, int] | None]
                ) -> tuple[Latest, dict[str, LoadedInput]]:
    """Each box's latest run the inputs hold (of a key the merge took), with the input holding it; and each run some
    merged input holds superseded, by its digest, with that input."""
    latest: Latest = {}
    gone: dict[str, LoadedInput] = {}
    for inp in inputs:
        held, dropped = runs_held(inp)
        for one in held:
            if (place := rank(one)) is not None and (one.box not in latest or place > latest[one.box][2]):
                latest[one.box] = (one, inp, place)
        gone.update((one.digest, inp) for one in dropped if one.digest)
    return latest, gone


def without_runs(inp: LoadedInput, stale: Sequence[BoxRun], latest: Latest) -> LoadedInput:
    """A merged input without the box runs `stale` (a later run of each is another input's): its rows of their box
    ids, and those boxes' left-out clips and checked clips, are not taken. Rows name their box id, not the run: a box
    id it holds of another run as well (another box or part of a set under that id, an unsigned input of a kit before
    2.5) cannot be taken apart, and is refused."""
    m = inp.manifest
    assert isinstance(m, MergeManifest)
    boxes = {r.box_id for r in stale}
    if mixed := untold(m, stale):
        by = latest[next(r.box for r in stale if r.box_id == mixed[0])][1].name
        raise InputError(f"{inp.name} holds rows of box id {mixed[0]} from more than one run (another box or "
                         f"part of a set under that id, or an unsigned input) and {by} holds a later run of one of "
                         "them: the union's rows of that box id cannot be told apart; nothing was written",
                         hint=f"merge the inputs {inp.name} was made of (its manifest's inputs) with {by} instead")
    table = inp.table.filter(pc.invert(pc.is_in(inp.table["box_id"], value_set=pa.array(sorted(boxes), pa.string()))))
    shas = set(pc.unique(table["src_sha256"]).to_pylist())
    checked = [c for c in m.checked if c in shas]
    refuted = {refused_line(u) for u in m.left_out if u.box_id in boxes and u.by_check}
    return replace(inp, table=table, manifest=replace(
        m, runs=tuple(r for r in m.runs if r.box_id not in boxes), checked=checked,
        check=m.check and check_within(m.check, len(checked), refuted, set(pc.unique(table["src"]).to_pylist())),
        left_out=tuple(u for u in m.left_out if u.box_id not in boxes),
        sources=tuple(s for s in m.sources if s.src_sha256 in shas)))


def untold(m: MergeManifest, stale: Sequence[BoxRun]) -> list[str]:
    """The box ids of `stale` whose rows in the merged input are of another run too: one it holds that is not
    superseded, or rows of no run it records (a shared box id of inputs that were not one box's runs)."""
    boxes = {r.box_id for r in stale}
    also = {r.box_id for r in m.runs if r not in stale} | {s.box_id for s in m.shared_box_ids if not s.one_box}
    return sorted(boxes & also)


def check_within(check: IndependentCheck, clips: int, refuted: set[str], names: set[str]) -> IndependentCheck:
    """A merged input's independent check over the rows kept of it: `clips` checked, the clips of the boxes not taken
    (`refuted`) no longer refused, the sources no longer held no longer unchecked. Its largest difference stays the
    union's (a bound: which clip gave it is not recorded), or none where no clip it checked is kept."""
    kept = replace(check, clips=clips, refused=[r for r in check.refused if r not in refuted],
                   unchecked=[u for u in check.unchecked if u in names],
                   from_copy=[u for u in check.from_copy if u in names])
    return kept if clips else replace(kept, max_diff=float("nan"), worst="")


def only_here(earlier: LoadedInput, later: LoadedInput, box_id: str) -> list[str]:
    """The clips (by file name, else source name) box `box_id`'s earlier run held that its later one's rows do not."""
    def clips(inp: LoadedInput) -> dict[str, str]:
        m = inp.manifest
        named = {s.src_sha256: s.file or s.src for s in m.sources} if m is not None else {}
        rows = inp.table.filter(pc.equal(inp.table["box_id"], box_id))["src_sha256"]
        return {str(sha): named.get(str(sha), str(sha)[:12]) for sha in pc.unique(rows).to_pylist()}

    held, after = clips(earlier), set(clips(later))
    return sorted(name for sha, name in held.items() if sha not in after)


def preference(inputs: Sequence[LoadedInput], prefer: str | None) -> list[int]:
    """Rank of each input (0 wins) under --prefer; `first` when none was given."""
    if prefer != "newest":
        return list(range(len(inputs)))
    order = sorted(range(len(inputs)), key=lambda i: (inputs[i].recorded_utc, -i), reverse=True)
    return [order.index(i) for i in range(len(inputs))]


def combine(inputs: Sequence[LoadedInput], ranks: Sequence[int]) -> pa.Table:
    parts = []
    for i, inp in enumerate(inputs):
        n = inp.table.num_rows
        parts.append(inp.table.append_column("_input", pa.array(np.full(n, i, dtype=np.int32)))
                     .append_column("_pref", pa.array(np.full(n, ranks[i], dtype=np.int32)))
                     .append_column("_row", pa.array(np.arange(n, dtype=np.int64))))
    return pa.concat_tables(parts)


def input_entries(d: Dedup, inputs: Sequence[LoadedInput]) -> list[InputEntry]:
    src = d.column("_input").to_numpy()

    def per(mask: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(src if mask is None else src[mask], minlength=len(inputs))

    read, kept, dup, conflict = per(), per(d.keep), per(d.duplicate_rows), per(d.conflict_rows)
    entries = []
    for i, inp in enumerate(inputs):
        m = inp.manifest
        entries.append(InputEntry(
            name=inp.name, path=str(Path(inp.path).resolve()), kind=inp.kind, sha256=inp.sha256,
            recorded_utc=inp.recorded_utc or None,
            box_ids=sorted(v for v in pc.unique(inp.table["box_id"]).to_pylist() if v is not None),
            manifest_kind=m.kind if m is not None else None,
            shard=m.shard.label if isinstance(m, ShardManifest) and m.shard is not None else None,
            demo_corpus=bool(m.demo_corpus) if m is not None else False, read=int(read[i]), kept=int(kept[i]),
            duplicate=int(dup[i]), conflict=int(conflict[i]), upgraded=inp.upgraded or None))
    return entries


def conflict_examples(d: Dedup, inputs: Sequence[LoadedInput]) -> list[str]:
    """One line per conflicting key (the first MAX_EXAMPLES): the key, the values, the inputs."""
    lines = []
    rows = np.flatnonzero(d.conflict_rows)
    for i in rows[np.unique(d.kept_row[rows], return_index=True)[1]][:MAX_EXAMPLES]:  # the first row of each key
        k = int(d.kept_row[i])
        at = {c: (d.value(c, k), d.value(c, int(i))) for c in (*KEY, *SCORED, "src", "_input")}
        names = [inputs[n].name for n in at["_input"]]
        diff = "; ".join(f"{c} {at[c][0]!r} in {names[0]} vs {at[c][1]!r} in {names[1]}"
                         for c in SCORED if at[c][0] != at[c][1])
        lines.append(f"{at['src'][0]} (src_sha256 {at['src_sha256'][0][:12]}), {at['encoder'][0]} "
                     f"preset {at['preset'][0]!r} {at['enc_pix_fmt'][0] or 'enc_pix_fmt not recorded'} cq "
                     f"{at['cq'][0]} frame {at['frame_index'][0]} device {at['device'][0]!r}: {diff}")
    return lines


def shard_warnings(inputs: Sequence[LoadedInput]) -> list[str]:
    """Shards of one reference set that were not all given."""
    sets: dict[str, tuple[int, set[int]]] = {}
    for inp in inputs:
        if isinstance(inp.manifest, ShardManifest) and inp.manifest.shard is not None:
            shard = inp.manifest.shard
            sets.setdefault(shard.set_sha256, (shard.n, set()))[1].add(shard.k)
    return [f"reference set {digest[:12]}: shard(s) {', '.join(f'{k}/{n}' for k in missing)} not among the inputs"
            for digest, (n, ks) in sorted(sets.items()) if (missing := sorted(set(range(1, n + 1)) - ks))]


def name_warnings(summary: TableSummary) -> list[str]:
    """One source name for several sources (other bytes): legal, told apart by kit.corpus.names, worth a look."""
    shown = source_names((s.src_sha256, s.src) for s in summary.sources)
    by_name: dict[str, list[str]] = {}
    for s in summary.sources:
        by_name.setdefault(s.src, []).append(shown[s.src_sha256])
    return [f"source name {n!r} is used by {len(v)} different files: told apart as {', '.join(sorted(v))} in "
            "folds, figures and tables (a content group holds them out together where they are one content)"
            for n, v in sorted(by_name.items()) if len(v) > 1]


def rename_warnings(inputs: Sequence[LoadedInput], merged: pa.Table) -> list[str]:
    """One file (src_sha256) named differently by the inputs (a clip renamed on one box): what each input called
    it and the name the union gives it, said at the merge instead of one name kept without a word."""
    named: dict[str, dict[str, list[str]]] = {}  # src_sha256 -> name -> the inputs that use it
    for inp in inputs:
        for row in inp.table.select(["src_sha256", "src"]).group_by(["src_sha256", "src"]).aggregate([]).to_pylist():
            named.setdefault(str(row["src_sha256"]), {}).setdefault(str(row["src"]), []).append(inp.name)
    union: dict[str, list[str]] = {}
    for row in merged.select(["src_sha256", "src"]).group_by(["src_sha256", "src"]).aggregate([]).to_pylist():
        union.setdefault(str(row["src_sha256"]), []).append(str(row["src"]))
    def said(names: dict[str, list[str]]) -> str:
        return " and ".join(f"{n!r} in {', '.join(sorted(set(who)))}" for n, who in sorted(names.items()))

    return [f"file {sha[:12]} is named {said(names)}: the union calls it "
            f"{' and '.join(repr(n) for n in sorted(union.get(sha, [])))} (rename the clip on the boxes to agree; "
            "folds, figures and tables use the union's name)"
            for sha, names in sorted(named.items()) if len(names) > 1]


def evidence(inputs: Sequence[LoadedInput]) -> tuple[list[LoadedInput], list[RepeatedCorpus]]:
    """The inputs whose box evidence (its left-out clips, its independent check, its manifest's warnings) no other
    input brought: one corpus given in two files (two bundles of one shard, a tarball and its shard.parquet: the
    manifest describes the same bytes), or given beside a merged input made of it, is one box's evidence, counted once
    as its rows are; and each input that repeats another's."""
    # what a merged input was made of (each of its inputs' file sha256): a shard given beside its union is in it
    within = {entry.sha256: inp for inp in inputs if isinstance(inp.manifest, MergeManifest)
              for entry in inp.manifest.inputs}
    first: dict[str, LoadedInput] = {}
    repeats: list[RepeatedCorpus] = []
    for inp in inputs:
        said = inp.manifest.sha256 if inp.manifest is not None and inp.manifest.sha256 else inp.sha256
        union = next((within[k] for k in (said, inp.sha256) if k in within and within[k] is not inp), None)
        earlier = union if union is not None else first.setdefault(said, inp)
        if earlier is inp:
            continue
        box = inp.manifest.box_id if isinstance(inp.manifest, ShardManifest) else ""
        repeats.append(RepeatedCorpus(inp.name, earlier.name, box, isinstance(earlier.manifest, MergeManifest)))
    return list(first.values()), repeats


def left_out_once(inputs: Sequence[LoadedInput]) -> tuple[LeftOut, ...]:
    """Every input's left-out clips, each (box, input, file) once: a merged input and a shard of it name the same
    clip; two boxes of one box id name theirs by their inputs (`apart`)."""
    seen: dict[tuple[str, str, str], LeftOut] = {}
    for inp in inputs:
        for u in inp.manifest.left_out if inp.manifest is not None else ():
            seen.setdefault((u.box_id, u.input, u.file), u)
    return tuple(seen.values())


def labels(inputs: Sequence[LoadedInput]) -> dict[str, str]:
    """Each input's path -> its name, or where names repeat (two run directories: `shard.parquet` each) its path's
    last parts, as few as tell it from the others."""
    parts = {i.path: Path(i.path).parts for i in inputs}
    depth = dict.fromkeys(parts, 1)
    while True:
        said = {p: "/".join(parts[p][-depth[p]:]) for p in parts}
        seen: dict[str, list[str]] = {}
        for p, label in said.items():
            seen.setdefault(label, []).append(p)
        clashes = [p for same in seen.values() if len(same) > 1 for p in same if depth[p] < len(parts[p])]
        if not clashes:
            return said
        for p in clashes:
            depth[p] += 1


def shared_box_ids(told: Sequence[LoadedInput]) -> tuple[SharedBoxId, ...]:
    """The box ids the rows of more than one of `told` hold (the inputs whose evidence no other input brought:
    different corpora), but for the shards of one set a box ran apart (`--shard K/N`, each K once); each input named
    by its label (`labels`), the labels sorted: inputs of one file name come in their sha256's order, which says
    nothing, and a merge is the same whatever the inputs' order."""
    holders: dict[str, list[LoadedInput]] = {}
    for inp in told:
        for box in sorted({str(v) for v in pc.unique(inp.table["box_id"]).to_pylist() if v}):
            holders.setdefault(box, []).append(inp)
    named = labels(told)
    return tuple(SharedBoxId(box, sorted(named[i.path] for i in held), one_box(box, held) or None)
                 for box, held in sorted(holders.items()) if len(held) > 1 and not _one_set(held))


def one_box(box: str, holders: Sequence[LoadedInput]) -> bool:
    """Whether every input holding `box`'s rows holds signed runs of it, all of one key (kit 2.5)."""
    keys = [{run.key for run in runs_held(inp)[0] if run.box_id == box and run.key} for inp in holders]
    return all(keys) and len(set().union(*keys)) == 1


def _one_set(inputs: Sequence[LoadedInput]) -> bool:
    """Whether `inputs` are shards of one reference set, each a part of its own (`--shard K/N`)."""
    parts = [(m.shard.set_sha256, m.shard.k) if isinstance(m := i.manifest, ShardManifest) and m.shard is not None
             else None for i in inputs]
    return None not in parts and len({p[0] for p in parts if p}) == 1 and len(set(parts)) == len(parts)


def apart(told: Sequence[LoadedInput], shared: Sequence[SharedBoxId]) -> list[LoadedInput]:
    """`told`, each shard input of a box id another input's rows hold too with its left-out clips named by it (its
    label; a merged input's are named by the merge that made it)."""
    named, names = labels(told), {name for s in shared for name in s.inputs}
    return [replace(i, manifest=replace(i.manifest, left_out=tuple(replace(u, input=named[i.path])
                                                                    for u in i.manifest.left_out)))
            if named[i.path] in names and isinstance(i.manifest, ShardManifest) else i for i in told]


def input_check(inp: LoadedInput) -> IndependentCheck:
    """What the independent check found over one input, from its manifest; an input without one is unchecked."""
    if inp.manifest is not None:
        return independent_check(inp.manifest, name_boxes=True)
    sources = sorted(str(v) for v in pc.unique(inp.table["src"]).to_pylist() if v is not None)
    return IndependentCheck(ORACLE_FRAMES, TOLERANCE, 0, float("nan"), "", [], sources, [])


def checked_sources(inp: LoadedInput) -> set[str] | None:
    """The sources (src_sha256) whose independent check passed in an input; None where its manifest counts them
    without naming them (a merge of a kit before 2.4)."""
    m = inp.manifest
    if isinstance(m, ShardManifest):
        return {c.src_sha256 for c in m.sources if c.oracle is not None and c.oracle.passed}
    if isinstance(m, MergeManifest):
        return set(m.checked) if m.checked or m.check is None or not m.check.clips else None
    return set()


def union_check(told: Sequence[LoadedInput]) -> tuple[IndependentCheck, list[str]]:
    """The independent check over the union, its clips counted each once (by src_sha256) however many inputs checked
    it, and the sources it checked; a merge of an older kit's clips counted as it said."""
    checks = [input_check(i) for i in told]
    named, unnamed = set[str](), 0
    for inp, check in zip(told, checks, strict=True):
        found = checked_sources(inp)
        named |= found if found is not None else set()
        unnamed += check.clips if found is None else 0
    return replace(combine_checks(checks), clips=len(named) + unnamed), sorted(named)


def merge_files(paths: Sequence[Path], out: Path, prefer: str | None = None,
                note: Callable[[str], None] = lambda _: None, overrides: Overrides | None = None,
                accepted: Sequence[tuple[str, str]] = (), again: Again | None = None) -> MergeManifest:
    """Merge the inputs into `out` (+ `<stem>.manifest.json`); returns the manifest. Inputs of different teachers are
    refused (kit.corpus.provenance); the sources are grouped into contents by their fingerprints (kit.corpus.regroup;
    `overrides`: --content-groups); each signed tarball's key is checked against the lead's (kit.corpus.signers;
    `accepted`: --accept-key's box ids and fingerprints; `again`: the merge's command with keys taken, for a hint).
    What a killed merge into `out` left is recovered first, under `out`'s merge lock; `note` hears what was done.
    InputError for no input, an -o the merge may not write, or an input it cannot read."""
    check_output(out, [(Path(p), Path(p)) for p in paths])  # before anything is touched beside -o (the lock too)
    if not paths:
        raise InputError("merge needs at least one input",
                         hint=kit_command("merge", "A.parquet", "B.tar.gz", "-o", "merged.parquet"))
    with open_output_folder(out) as tree, writing(tree, out):
        for line in recover_output(tree, out):  # refuses a link planted at -o or beside it, before any work
            note(line)
        said = again or (lambda taken, left: kit_command("merge", *(p for p in paths if str(Path(p)) not in left),
                                                         "-o", out, *(w for box, fpr in taken
                                                                      for w in ("--accept-key", f"{box}={fpr}"))))
        return _merge_into(tree, paths, out, prefer, overrides, lambda inputs: take_keys(inputs, accepted, said, note),
                           note)


def load_inputs(paths: Sequence[Path | str], note: Callable[[str], None]) -> list[LoadedInput]:
    """Each input read, the merge's memory checked before each is (what the inputs read so far and this one declare:
    a union that cannot be merged here is refused before the input past the box's memory is read, never killed); an
    input of the same bytes as one read before is not read again, nor counted: it holds the same rows
    (canonical_inputs sets it aside); of a box's signed runs, one is merged (supersede): the others are counted as
    the tables they are until then (Held)."""
    loaded: list[LoadedInput] = []
    read: dict[str, LoadedInput] = {}
    held = Held()
    for path in map(Path, paths):
        digest = sha256_file(path) if path.is_file() else None
        if digest is not None and (same := read.get(digest)) is not None:
            loaded.append(same_bytes(same, path))
            continue

        def check(declared: Declared, path: Path = path) -> None:
            rows, runs, extra = held.counted(declared)
            besides = f" (and {runs} other run(s) of their boxes, {size_text(extra)} until the merge takes one run " \
                      "of each box)" if runs else ""
            check_memory(rows, note, f"with {path}, the inputs read so far hold {rows:,} rows{besides}", quiet=True,
                         extra=extra)

        loaded.append(one := load_input(path, check, digest))
        read[one.sha256] = one
        held.add(one)
    return loaded


@dataclass
class Held:
    """The rows of the inputs read so far as the merge will hold them: each input's, but of a box's signed runs (one
    of which is merged, supersede) the run of most rows alone, the others as the bytes of their tables, held only
    until they are set aside (a run given twice, in tarballs of other bytes, is kept twice: counted whole)."""

    whole: int = 0  # the rows of inputs that are no box's run (unsigned, merged, parquet or JSONL files)
    # per box, (rows, bytes, the run's digest) a run read
    runs: dict[tuple[str, str], list[tuple[int, int, str]]] = field(default_factory=dict)

    def add(self, inp: LoadedInput) -> None:
        if (run := signed_run(inp)) is None:
            self.whole += inp.table.num_rows
        else:
            self.runs.setdefault(run.box, []).append((inp.table.num_rows, inp.table.nbytes, run.digest))

    def counted(self, declared: Declared) -> tuple[int, int, int]:
        """(the rows counted at the merge's peak, the other runs of a box, the bytes those hold) with `declared`:
        a box's run of fewer rows than another counted as its box's largest run's bytes a row."""
        runs = {box: list(held) for box, held in self.runs.items()}
        rows = self.whole
        if declared.box is None:
            rows += declared.rows
        else:
            same = runs.setdefault(declared.box, [])
            largest = max(same, key=rows_first, default=None)
            per_row = largest[1] / max(1, largest[0]) if largest is not None else 0.0
            same.append((declared.rows, round(per_row * declared.rows), declared.run))
        others = extra = 0
        for held in runs.values():
            seen: set[str] = set()
            distinct = []
            for one in held:  # a digest again: the same run in other bytes, kept beside the first
                if one[2] in seen:
                    rows += one[0]
                else:
                    seen.add(one[2])
                    distinct.append(one)
            largest = max(distinct, key=rows_first)
            rows += largest[0]
            others += len(distinct) - 1
            extra += sum(one[1] for one in distinct) - largest[1]
        return rows, others, extra


def rows_first(run: tuple[int, int, str]) -> tuple[int, int]:
    """A run's order as the one of a box counted as rows: the most rows, of those the smallest table (the others
    counted as their bytes)."""
    return run[0], -run[1]


def check_memory(rows: int, note: Callable[[str], None], held: str = "", quiet: bool = False, extra: int = 0) -> None:
    """The merge's peak on `rows` rows (MERGE_PEAK) against the box's memory: refused where the box has less in all
    (exit 2, nothing written; KIT_MEMORY_CHECK=off merges anyway, said), said where less is free now (`quiet`: only
    refused; `held`: what holds the rows, said in the refusal; `extra`: bytes held besides them)."""
    need = MERGE_PEAK.at(rows) + extra
    said = f"merging {rows:,} rows needs about {size_text(need)} of memory at its peak"
    if (short := memory_short(need)) is None or (quiet and not short.refused):
        return
    if short.refused:
        raise ResourceLimit(f"{held or f'the inputs hold {rows:,} rows together'}: {said}, {short.why}; nothing was "
                            "written",
                            hint="merge on a box with more memory, or fewer boxes' corpora; or, where this box can "
                                 f"give more (its swap, memory freed), {MEMORY_CHECK.name}=off merges anyway")
    note(f"{said}, {short.why}: merged anyway ({MEMORY_CHECK.name} is off)" if short.in_all else
         f"{said}, and {short.why}: if other programs keep theirs it may run out of memory")


def open_output_folder(out: Path) -> Tree:
    """-o's folder, the user's (made when missing), held for the merge: its files are the merge's to check."""
    return Tree.open(out.parent, Rules(group_shared=group_shared_from_env(), checked_root=False),
                     label="-o's folder")


def _merge_into(tree: Tree, paths: Sequence[Path], out: Path, prefer: str | None, overrides: Overrides | None,
                keys: Callable[[Sequence[LoadedInput]], tuple[Histories, list[LoadedInput]]],
                note: Callable[[str], None]) -> MergeManifest:
    inputs, repeats = canonical_inputs(load_inputs(paths, note))
    histories, inputs = keys(inputs)  # whose key each box's signed runs are, and which runs proven, before any row
    inputs, superseded = supersede(inputs, histories)  # a box that ran again: its latest run is the box
    if (total := sum(i.table.num_rows for i in inputs)) > MAX_CORPUS_ROWS:
        raise InputError(f"the inputs hold {total} rows together, over the limit of {MAX_CORPUS_ROWS} rows per "
                         "merge; nothing was written", hint="merge fewer inputs at a time")
    check_memory(total, note)  # read, not yet combined: the most of its peak is ahead
    refuse_inputs(inputs)  # rows a kit before 2.0 scored against the wrong reference frames (kit.corpus.misscored)
    check_teachers([i.name for i in inputs], [i.table for i in inputs])
    d = dedupe(combine(inputs, preference(inputs, prefer)))
    n_conflicts = len(np.unique(d.kept_row[d.conflict_rows]))  # keys: each conflict's kept row once
    if n_conflicts and prefer is None:
        raise MergeConflict(f"{n_conflicts} key(s) hold different scores in different rows; nothing was written",
                            hint="pick a rule: --prefer first (canonical input order) or --prefer newest "
                                 "(newest recorded time); or drop the input that is wrong",
                            details=conflict_examples(d, inputs))
    entries = input_entries(d, inputs)
    kept = d.kept()
    builds = build_rows(kept, [i.manifest for i in inputs])
    contents = regroup(kept.drop_columns(list(HELPERS)), inputs, overrides)
    conflicts = Conflicts(n_conflicts, sum(e.conflict for e in entries), conflict_examples(d, inputs))
    summary = summarise_table(contents.table)
    return commit_pair(tree, contents.table, out, lambda written: replace(build_merge_manifest(
        out, written, inputs, entries, repeats, prefer, summary, conflicts, builds, contents,
        overrides.lines() if overrides else []), runs=(runs := runs_of(inputs)),
        superseded=superseded_in(inputs, superseded),
        box_keys=as_records({r.box_id: histories[r.box_id] for r in runs if r.box_id in histories})))


def runs_of(inputs: Sequence[LoadedInput]) -> tuple[BoxRun, ...]:
    """The box runs the union holds (MergeManifest.runs): each input's, a merged input's carried on, so that a later
    merge of the union with an earlier run of one of its boxes takes the union's."""
    runs = {run.digest or run.sha256: run for inp in inputs for run in runs_held(inp)[0]}
    return tuple(sorted(runs.values(), key=lambda r: (r.box, r.key, r.run, r.made, r.sha256)))


def superseded_in(inputs: Sequence[LoadedInput], superseded: Sequence[Superseded]) -> tuple[Superseded, ...]:
    """The runs this merge, and each merged input's, found superseded (MergeManifest.superseded)."""
    carried = [s for inp in inputs if isinstance(inp.manifest, MergeManifest) for s in inp.manifest.superseded]
    gone = {(s.input, s.run.sha256): s for s in [*carried, *superseded]}
    return tuple(gone[k] for k in sorted(gone))


def box_warnings(told: Sequence[LoadedInput], shared: Sequence[SharedBoxId] = ()) -> list[str]:
    """The boxes' corpus warnings (a heavily compressed reference), each naming its box (and its input, where another
    input holds its box id: `shared`); `told`: the inputs whose evidence no other input brought (`evidence`), so a
    box's warning is said once whatever files brought it."""
    named, names = labels(told), {name for s in shared for name in s.inputs}
    return [f"box {i.manifest.box_id or i.name}{f' (input {named[i.path]})' if named[i.path] in names else ''}: {w}"
            for i in told if isinstance(i.manifest, ShardManifest) for w in i.manifest.warnings]


def merge_warnings(inputs: Sequence[LoadedInput], told: Sequence[LoadedInput], summary: TableSummary,
                   builds: tuple[BuildRows, ...], contents: Regrouped, shared: Sequence[SharedBoxId] = ()) -> list[str]:
    """What the merge found about its inputs beyond the rows' keys, in the order the terminal prints it: box ids
    several inputs hold, shards missing from a set, names, renames, builds, the content groups' notes and the legacy
    links, the boxes' own."""
    return [*(s.line for s in shared), *shard_warnings(inputs), *name_warnings(summary),
            *rename_warnings(inputs, contents.table), *build_warnings(builds), *contents.grouping.notes,
            *contents.legacy, *box_warnings(told, shared)]


def build_merge_manifest(out: Path, written: str, inputs: Sequence[LoadedInput], entries: Sequence[InputEntry],
                         repeats: list[RepeatedInput], prefer: str | None, summary: TableSummary,
                         conflicts: Conflicts, builds: tuple[BuildRows, ...], contents: Regrouped,
                         overrides: list[str]) -> MergeManifest:
    """The manifest of the merged corpus; its warnings hold what the merge found about its inputs beyond the
    rows' keys (the terminal prints them too)."""
    # the table summary's figures under their own names; its sources and teachers are said below, per source
    same = {f.name: getattr(summary, f.name) for f in fields(summary) if f.name not in ("sources", "teacher_sha256s")}
    told, repeated = evidence(inputs)  # each box's evidence once, whatever files brought it
    shared = shared_box_ids(told)
    told = apart(told, shared)  # two boxes of one id: each one's evidence kept, named by its input
    times = [i.recorded_utc for i in inputs if i.recorded_utc]
    recorded_utc = max(times) if times else None  # the newest input's; None when no input recorded one
    demo_corpus = any(i.manifest is not None and i.manifest.demo_corpus for i in inputs)  # one demo input taints
    teacher_sha256 = next(iter(summary.teacher_sha256s), "")  # one teacher: kit.corpus.provenance refused mixes
    n_contents = len(pc.unique(contents.table["content"]))
    check, checked = union_check(told)
    return MergeManifest(
        **same, file=out.name, sha256=written, key=list(KEY), sort_order=list(SORT_ORDER),
        scored_columns=list(SCORED), prefer=prefer, conflicts=conflicts,
        duplicates_dropped=sum(e.duplicate for e in entries), inputs=tuple(entries), repeated_inputs=tuple(repeats),
        repeated_corpora=tuple(repeated), demo_corpus=demo_corpus,
        jsonl_identity=f"rows without src_sha256: sha256 of UTF-8 '{JSONL_NAMESPACE}' + src",
        warnings=merge_warnings(inputs, told, summary, builds, contents, shared),
        recorded_utc=recorded_utc, merged_at_utc=utc_iso(), kit_version=__version__,
        sources=source_rows(summary.sources, contents), teacher_sha256=teacher_sha256,
        builds=builds, n_contents=n_contents,
        groups=contents.grouping.groups, unchecked_inputs=[Path(p).name for p in contents.unchecked],
        overrides=overrides, twins=contents.twins, apart=[list(p) for p in contents.grouping.apart],
        left_out=left_out_once(told), check=check, checked=checked, shared_box_ids=shared,
    )
