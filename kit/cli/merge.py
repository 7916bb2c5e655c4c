"""`ensemble-kit merge` and `ensemble-kit corpus info`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kit.cli.export import export_cmd
from kit.cli.guard import guard
from kit.errors import InputError
from kit.infra.visible import visible

if TYPE_CHECKING:
    from collections.abc import Sequence

    from kit.corpus.manifests import MergeManifest
    from kit.corpus.summary import TableSummary


def merged_lines(manifest: MergeManifest, out: Path) -> list[str]:
    from kit.corpus.regroup import group_lines

    n = len(manifest.inputs) - len(manifest.repeated_corpora)  # one box's corpus given twice is one
    corpora = f" of {n} {'corpus' if n == 1 else 'corpora'}" if manifest.repeated_corpora else ""
    later = f" (and {len(manifest.superseded)} superseded by a later run of its box)" if manifest.superseded else ""
    lines = [f"merged {len(manifest.inputs)} input(s){corpora}{later} into {out}: {manifest.rows} rows, "
             f"{manifest.n_contents} "
             f"contents in {manifest.n_sources} sources, boxes {', '.join(manifest.boxes)}, "
             f"{manifest.duplicates_dropped} duplicate(s) dropped, {manifest.conflicts.keys} conflict(s) resolved"]
    for inp in manifest.inputs:
        lines.append(f"  {inp.name} ({inp.kind}{', shard ' + inp.shard if inp.shard else ''}): "
                     f"{inp.read} read, {inp.kept} kept, {inp.duplicate} duplicate, {inp.conflict} conflict")
        lines += [f"    {inp.upgraded}"] if inp.upgraded else []
    return [*lines, *(s.line for s in manifest.superseded),
            *(f"  {r.path}: same bytes as {r.same_bytes_as}, counted once" for r in manifest.repeated_inputs),
            *(r.line for r in manifest.repeated_corpora),
            *(b.line for b in manifest.builds),
            *(f"  {g}" for g in group_lines(manifest.groups, manifest.unchecked_inputs, manifest.sources)),
            *(u.line for u in manifest.left_out),
            *([f"  independent check: {manifest.check.text}"] if manifest.check is not None else [])]


def accepted_keys(_ctx: click.Context, _param: click.Parameter, given: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """--accept-key's BOX=FINGERPRINT, each as (box id, fingerprint)."""
    from kit.infra.keys import FINGERPRINT

    taken = []
    for text in given:
        box, _, fpr = text.partition("=")
        if not box or not FINGERPRINT.fullmatch(fpr):
            raise click.BadParameter(f"{text!r} is not BOX=FINGERPRINT (a box id, then a key's fingerprint as the "
                                     "merge names it: SHA256: and 43 characters)")
        taken.append((box, fpr))
    return tuple(taken)


def merge_again(inputs: tuple[Path, ...], paths: list[Path], out: Path, prefer: str | None,
                content_groups: Path | None, accepted: list[tuple[str, str]], left: Sequence[str]) -> str:
    """This merge's command again, with the keys `accepted` (--accept-key), without the inputs whose corpus (`paths`,
    as read: LoadedInput.path) is `left` out: what a refusal of a key tells the lead."""
    from kit.infra.invocation import kit_command

    kept = [given for given, path in zip(inputs, paths, strict=True) if str(Path(path)) not in left]
    return kit_command("merge", *kept, "-o", out, *(("--prefer", prefer) if prefer else ()),
                       *(("--content-groups", content_groups) if content_groups is not None else ()),
                       *(w for box, fpr in dict.fromkeys(accepted) for w in ("--accept-key", f"{box}={fpr}")))


@click.command("merge")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--out", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The merged corpus: a new .parquet file, never one of the inputs; its manifest goes beside "
                   "it as <stem>.manifest.json.")
@click.option("--prefer", type=click.Choice(["first", "newest"]), default=None,
              help="Resolve conflicts (same key, different scores): the first input in sorted order, "
                   "or the newest recorded one. Without it a conflict is an error.")
@click.option("--content-groups", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help='A JSON file overriding which sources hold one content, both ways: {"same": [["a", "b"]], '
                   '"different": [["c", "d"]]} (names, file names, name~<hex> or src_sha256 prefixes); recorded '
                   "in the merged manifest.")
@click.option("--accept-key", "accept_keys", multiple=True, metavar="BOX=FINGERPRINT", callback=accepted_keys,
              help="Take the key of this fingerprint (SHA256:…, as the refused merge named it) as box BOX's from now "
                   "on: a box reinstalled, its cache wiped, signs with a new key. Compare it first with the "
                   "fingerprint the box's owner tells you; recorded in the lead's record of the boxes' keys "
                   "(docs/lead.md, \"A box is its key\"). A key the box already has keeps its place (the order "
                   "the lead first took its keys). Repeatable.")
@click.option("--json", "json_mode", is_flag=True, help="Print the merge manifest as JSON on stdout.")
@guard
def merge_cmd(inputs: tuple[Path, ...], out: Path, prefer: str | None, content_groups: Path | None,
              accept_keys: tuple[tuple[str, str], ...], json_mode: bool) -> None:
    """Merge corpus shards, results tarballs, run directories and bash-kit JSONL into one corpus.

    A run directory (an out-dir) stands for its 02_corpus/shard.parquet, and is
    refused while its corpus step has not completed.

    Rows are de-duplicated on (src_sha256, encoder, preset, enc_pix_fmt, cq, frame_index,
    device);
    the result is sorted canonically, so the order of the inputs does not matter.
    One corpus, one teacher: inputs scored by different teachers (libvmaf models,
    a --teacher model file by its sha256) are refused, naming both. The ffmpeg/libvmaf builds of the rows are
    listed with their row counts, with a warning when they mix.
    Exit 0 merged, 2 bad input, unresolved conflicts or mixed teachers.

    \b
    Examples:
      ensemble-kit merge results-boxa-*.tar.gz results-boxb-*.tar.gz -o merged.parquet
      ensemble-kit merge runs/a/02_corpus/shard.parquet legacy.jsonl -o merged.parquet --prefer newest
      ensemble-kit merge runs/slurm/shards/shard1of2 runs/slurm/shards/shard2of2 -o merged.parquet
      ensemble-kit run --corpus merged.parquet --out-dir runs/union
    """
    from kit.corpus.commit import check_output
    from kit.corpus.contents import read_overrides
    from kit.corpus.merge import MergeConflict, merge_files
    from kit.infra.perms import require_trusted
    from kit.steps.status import input_corpus

    paths = [input_corpus(p) for p in inputs]
    check_output(out, list(zip(inputs, paths, strict=True)))  # before anything is touched beside -o
    # the overrides decide which sources are one content: the folds
    groups = require_trusted(content_groups, "--content-groups") if content_groups is not None else None
    refuse_free_text(paths)
    try:
        manifest = merge_files(paths, out, prefer, note=lambda line: click.echo(f"note: {visible(line)}", err=True),
                               overrides=read_overrides(groups), accepted=accept_keys,
                               again=lambda taken, left: merge_again(inputs, paths, out, prefer, content_groups,
                                                                     [*accept_keys, *taken], left))
    except MergeConflict as exc:
        for line in exc.details:
            click.echo(f"conflict: {visible(line)}", err=True)
        raise
    click.echo("\n".join(map(visible, merged_lines(manifest, out))), err=json_mode)
    for warning in manifest.warnings:
        click.echo(f"warning: {visible(warning)}", err=True)
    if json_mode:
        click.echo(json.dumps(manifest.to_json(), indent=2))


def refuse_free_text(paths: list[Path]) -> None:
    """InputError (exit 2) for a results tarball holding a text no kind of the catalogue admits, naming the tarball,
    the member and the field, before anything is merged (kit.bundle.tarball.text_problems)."""
    from kit.bundle.tarball import free_text_hint, refused_texts
    from kit.corpus.inputs import detect_kind

    for path in paths:
        if path.is_file() and detect_kind(path) == "tarball" and (found := refused_texts(path)):
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            raise InputError(f"{path}: {found[0]}{more}; nothing was merged", hint=free_text_hint(path))


@click.group("corpus")
def corpus_group() -> None:
    """Inspect corpus files (shards, merged corpora, results tarballs, bash-kit JSONL, a run's corpus).

    \b
    Examples:
      ensemble-kit corpus info runs/mybox
      ensemble-kit corpus info results-mybox-20261121T101500Z.tar.gz --json
    """


corpus_group.add_command(export_cmd)


@corpus_group.command("info")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "json_mode", is_flag=True, help="Print the summary as JSON on stdout.")
@guard
def info_cmd(file: Path, json_mode: bool) -> None:
    """Summarise a corpus: rows, sources, encoders, boxes, devices, cq grid, vmaf range, teachers and
    ffmpeg/libvmaf builds (with their row counts; a warning when builds mix).

    \b
    FILE is a shard or merged corpus (parquet), a results tarball, bash-kit JSONL or a run's out-dir (the corpus
    its completed corpus step wrote).

    \b
    Examples:
      ensemble-kit corpus info runs/mybox
      ensemble-kit corpus info merged.parquet --json
    """
    from kit.corpus.inputs import load_input
    from kit.corpus.manifests import ShardManifest
    from kit.corpus.provenance import build_rows, build_warnings, teacher_rows, teachers_line
    from kit.corpus.summary import summarise_table
    from kit.rundir import manifest_path
    from kit.steps.status import input_corpus

    path = input_corpus(file)
    loaded = load_input(path)
    if loaded.upgraded and not json_mode:
        click.echo(f"note: {visible(loaded.upgraded)}", err=True)
    m = loaded.manifest
    if loaded.kind == "parquet" and m is None and manifest_path(path).is_file():
        click.echo(visible(f"warning: {manifest_path(path)} does not describe {path} (another file's, or a merge "
                           "into it was killed); its provenance is ignored. Rerun the merge to rewrite both"),
                   err=True)
    shard = m.shard if isinstance(m, ShardManifest) else None
    summary = summarise_table(loaded.table)
    builds, teachers = build_rows(loaded.table, [m]), teacher_rows(loaded.table)
    if json_mode:
        click.echo(json.dumps({"path": str(path), "kind": loaded.kind, "sha256": loaded.sha256,
                               "manifest_kind": m.kind if m is not None else None,
                               "shard": shard.to_json() if shard is not None else None,
                               "recorded_utc": loaded.recorded_utc or None, **summary.to_json(),
                               "teacher_rows": teachers, "builds": [b.to_json() for b in builds]}, indent=2))
    else:
        kind = loaded.kind + (f", {m.kind}" if m is not None else "") + (f", shard {shard.label}" if shard else "")
        lines = [*info_lines(f"{path} ({kind})", summary), f"teachers  {teachers_line(teachers)}",
                 "builds", *(b.line for b in builds)]
        click.echo("\n".join(visible(line) for line in lines))
    for warning in build_warnings(builds) + ([f"the corpus holds rows of {len(teachers)} teacher models"]
                                             if len(teachers) > 1 else []):
        click.echo(f"warning: {visible(warning)}", err=True)


def info_lines(head: str, s: TableSummary) -> list[str]:
    from kit.corpus.names import source_names

    shown = source_names((x.src_sha256, x.src) for x in s.sources)  # two contents of one name told apart
    names = ", ".join(sorted(shown.values())[:12])
    if len(s.sources) > 12:
        names += f", ... (+{len(s.sources) - 12} more; --json lists all)"
    # the cq values of each encoder's rows, one line each (a corpus of an older kit: its one grid)
    grids = [f"{name}: {', '.join(map(str, values))}" for name, values in s.grids.items()] or \
        [", ".join(map(str, s.cq_grid))]
    lo, hi = s.vmaf_range
    return [head, f"rows      {s.rows}", f"sources   {s.n_sources}: {names}", f"encoders  {', '.join(s.encoders)}",
            f"boxes     {', '.join(s.boxes)}", f"devices   {', '.join(s.devices)}",
            *(f"{'cq grid' if i == 0 else '':<10}{grid}" for i, grid in enumerate(grids)),
            f"rungs     {', '.join(s.rungs) or 'native'}",
            f"vmaf      {lo:.3f} .. {hi:.3f}", f"encoded   {', '.join(f or '(not recorded)' for f in s.enc_pix_fmts)}"]
