"""`ensemble-kit corpus export`: a corpus as the lead's other tools read it (kit.corpus.export)."""

from __future__ import annotations

from pathlib import Path

import click

from kit.cli.guard import guard
from kit.infra.visible import visible

FORMATS = ("upstream-jsonl", "vmaftune")  # kit.corpus.export.FORMATS, spelled here so --help loads no pyarrow


@click.command("export")
@click.argument("corpus", type=click.Path(path_type=Path))
@click.option("--format", "fmt", required=True, type=click.Choice(FORMATS),
              help="upstream-jsonl: per frame, for lusoris/vmaf's LOSO trainer (ai/scripts/"
                   "train_fr_regressor_v2_ensemble_loso.py); vmaftune: per encode, vmaf-tune's corpus rows (schema 3), "
                   "which ai/scripts/merge_corpora.py merges.")
@click.option("-o", "--out", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The export: a new .jsonl file, never the corpus it reads; its record (what was filled in and "
                   "why) goes beside it as <stem>.export.json.")
@guard
def export_cmd(corpus: Path, fmt: str, out: Path) -> None:
    """Write a corpus as JSON Lines for another tool: exactly the keys and types its reader requires.

    CORPUS is a shard or merged corpus (parquet), a results tarball, bash-kit JSONL or a run's out-dir (the corpus
    its completed corpus step wrote). Where the kit has no value for a key, the export fills one: each such key,
    its value and why are printed and kept in the record beside the file (docs/corpus-export.md). A corpus of
    several teachers is refused. Exit 0 written, 2 bad input.

    \b
    Examples:
      ensemble-kit corpus export merged.parquet --format upstream-jsonl -o per_frame_canonical6.jsonl
      ensemble-kit corpus export runs/mybox --format vmaftune -o corpus.jsonl
    """
    from kit.corpus.commit import check_output
    from kit.corpus.export import EXPORTED, export_corpus
    from kit.corpus.inputs import load_input
    from kit.corpus.merge import open_output_folder
    from kit.corpus.misscored import refuse_export
    from kit.steps.status import input_corpus

    path = input_corpus(corpus)
    check_output(out, [(corpus, path)], EXPORTED)  # before anything is read or written beside -o
    loaded = load_input(path)
    refuse_export(loaded)  # rows kits 1.0.x paired with the wrong reference frames go to no upstream trainer
    with open_output_folder(out) as tree:
        record = export_corpus(tree, loaded, fmt, out)
    click.echo(visible(f"exported {record.rows} {'frames' if fmt == 'upstream-jsonl' else 'encodes'} of {path} "
                       f"as {fmt} into {out} (for {record.reader}); its record: {EXPORTED.beside(out)}"))
    for line in [*(f"{fill.key} = {fill.value}: {fill.why}" for fill in record.fills), *record.notes]:
        click.echo(visible(f"note: {line}"), err=True)
