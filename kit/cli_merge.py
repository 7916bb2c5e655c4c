"""`ensemble-kit merge` and `ensemble-kit corpus info`.

Importing this module stays light: pyarrow and pandas load inside the commands.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click


def _guarded(fn: Callable[[], int]) -> None:
    from kit.cli import guarded  # here, not at the top: kit.cli imports this module

    guarded(fn, retry=False)


def _echo_counts(manifest: dict[str, object], err: bool) -> None:
    for inp in manifest["inputs"]:  # type: ignore[union-attr]
        click.echo(f"  {inp['name']} ({inp['kind']}{', shard ' + inp['shard'] if inp['shard'] else ''}): "
                   f"{inp['read']} read, {inp['kept']} kept, {inp['duplicate']} duplicate, "
                   f"{inp['conflict']} conflict", err=err)
    for rep in manifest["repeated_inputs"]:  # type: ignore[union-attr]
        click.echo(f"  {rep['path']}: same bytes as {rep['same_bytes_as']}, counted once", err=err)
    for warning in manifest["warnings"]:  # type: ignore[union-attr]
        click.echo(f"warning: {warning}", err=True)


@click.command("merge")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--out", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The merged corpus (parquet); its manifest goes beside it as <stem>.manifest.json.")
@click.option("--prefer", type=click.Choice(["first", "newest"]), default=None,
              help="Resolve conflicts (same key, different scores): the first input in sorted order, "
                   "or the newest recorded one. Without it a conflict is an error.")
@click.option("--json", "json_mode", is_flag=True, help="Print the merge manifest as JSON on stdout.")
def merge_cmd(inputs: tuple[Path, ...], out: Path, prefer: str | None, json_mode: bool) -> None:
    """Merge corpus shards, results tarballs and bash-kit JSONL into one corpus.

    Rows are de-duplicated on (src_sha256, encoder, preset, cq, frame_index, device);
    the result is sorted canonically, so the order of the inputs does not matter.
    Exit 0 merged, 2 bad input or unresolved conflicts.

    \b
    Examples:
      ensemble-kit merge results-boxa-*.tar.gz results-boxb-*.tar.gz -o merged.parquet
      ensemble-kit merge runs/a/02_corpus/shard.parquet legacy.jsonl -o merged.parquet --prefer newest
      ensemble-kit run --corpus merged.parquet --out-dir runs/union
    """
    def go() -> int:
        from kit.merge import MergeConflict, merge_files

        try:
            manifest = merge_files(list(inputs), out, prefer)
        except MergeConflict as exc:
            for line in exc.details:
                click.echo(f"conflict: {line}", err=True)
            raise
        click.echo(f"merged {len(manifest['inputs'])} input(s) into {out}: {manifest['rows']} rows, "  # type: ignore[arg-type]
                   f"{manifest['n_sources']} sources, boxes {', '.join(manifest['boxes'])}, "  # type: ignore[arg-type]
                   f"{manifest['duplicates_dropped']} duplicate(s) dropped, "
                   f"{manifest['conflicts']['keys']} conflict(s) resolved", err=json_mode)  # type: ignore[index]
        _echo_counts(manifest, err=json_mode)
        if json_mode:
            click.echo(json.dumps(manifest, indent=2))
        return 0

    _guarded(go)


@click.group("corpus")
def corpus_group() -> None:
    """Inspect corpus files (shards, merged corpora, results tarballs, bash-kit JSONL).

    \b
    Examples:
      ensemble-kit corpus info runs/mybox/02_corpus/shard.parquet
      ensemble-kit corpus info results-mybox-20261121T101500Z.tar.gz --json
    """


@corpus_group.command("info")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "json_mode", is_flag=True, help="Print the summary as JSON on stdout.")
def info_cmd(file: Path, json_mode: bool) -> None:
    """Summarise a corpus: rows, sources, encoders, boxes, devices, cq grid, vmaf range.

    \b
    Examples:
      ensemble-kit corpus info runs/mybox/02_corpus/shard.parquet
      ensemble-kit corpus info merged.parquet --json
    """
    def go() -> int:
        from kit.corpus_io import load_input
        from kit.merge import summarise_table

        loaded = load_input(file)
        info = {"path": str(file), "kind": loaded.kind, "sha256": loaded.sha256,
                "manifest_kind": loaded.manifest.get("kind"), "shard": loaded.manifest.get("shard"),
                "recorded_utc": loaded.recorded_utc or None, **summarise_table(loaded.table)}
        if json_mode:
            click.echo(json.dumps(info, indent=2))
        else:
            _echo_info(info)
        return 0

    _guarded(go)


def _first_names(sources: list[dict[str, object]], limit: int = 12) -> str:
    names = ", ".join(str(s["src"]) for s in sources[:limit])
    return names + (f", ... (+{len(sources) - limit} more; --json lists all)" if len(sources) > limit else "")


def _echo_info(info: dict[str, object]) -> None:
    shard = info["shard"]
    label = f", shard {shard['label']}" if isinstance(shard, dict) else ""
    lo, hi = info["vmaf_range"]  # type: ignore[misc]
    lines = [
        f"{info['path']} ({info['kind']}{', ' + str(info['manifest_kind']) if info['manifest_kind'] else ''}{label})",
        f"rows      {info['rows']}",
        f"sources   {info['n_sources']}: {_first_names(info['sources'])}",  # type: ignore[arg-type]
        f"encoders  {', '.join(info['encoders'])}",  # type: ignore[arg-type]
        f"boxes     {', '.join(info['boxes'])}",  # type: ignore[arg-type]
        f"devices   {', '.join(info['devices'])}",  # type: ignore[arg-type]
        f"cq grid   {', '.join(map(str, info['cq_grid']))}",  # type: ignore[call-overload]
        f"vmaf      {lo:.3f} .. {hi:.3f}",
    ]
    click.echo("\n".join(lines))
