"""`ensemble-kit verify TARBALL`: check a results tarball against its manifest, and every text it sends against the
kit's catalogue (kit.bundle.catalogue)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from kit.cli.guard import guard
from kit.errors import EXIT_BAD_INPUT
from kit.infra.visible import visible

if TYPE_CHECKING:
    from kit.bundle.texts import SentText
    from kit.infra.archive import ResultsCheck


def signed_words(report: ResultsCheck) -> str:
    """Who signed the tarball, as the OK line says it."""
    if report.signed is None:
        return ("unsigned (a kit before 2.5's, or one whose signature was taken off): the lead's merge never takes it "
                "as a later run of its box, and a signed run of its box supersedes it")
    signer = report.signed.signer
    part = f" of part {signer.part}" if signer.part else ""
    return f"signed by key {signer.fingerprint}, the box's run {signer.run}{part}"


@click.command("verify")
@click.argument("tarball", type=click.Path(path_type=Path))
@click.option("--show-sent", is_flag=True,
              help="Also print every text the tarball sends, member by member: its field, its kind (what the kit's "
                   "catalogue declares there) and its value, each JSON text by its key, each log line, each table's "
                   "text values and metadata, each model's names and metadata: read it before you send the tarball "
                   "(docs/reference/files.md, \"What the tarball sends\").")
@guard
def verify_cmd(tarball: Path, show_sent: bool) -> int:
    """Check a results tarball against its manifest.json (sha256 of every file) and every text it sends against the
    kit's catalogue (a text no kind admits is refused, naming its member and field).

    \b
    Examples:
      ensemble-kit verify results-mybox-20261121T101500Z.tar.gz
      ensemble-kit verify --show-sent results-mybox-20261121T101500Z.tar.gz | less
    """
    from kit.bundle.tarball import CATALOGUE_KEY, catalogued, free_text_hint, verify_tarball

    texts: list[SentText] = []

    def read(top: Path, members: list[str]) -> None:
        from kit.bundle.texts import sent_texts  # the catalogue, once a tarball opened (it loads the verdict's words)

        texts.extend(sent_texts(top, members)[1])

    report = verify_tarball(tarball, read=read if show_sent else None)
    older = report.manifest is not None and not catalogued(report.manifest)
    if report.ok and report.manifest is not None:
        meta = report.manifest
        holds = f"verdict {meta.get('verdict')}" if meta.get("verdict") is not None else \
            "a corpus, no verdict: training happens at the lead (merge it with the other boxes' corpora)"
        click.echo(visible(f"OK: {report.files} files match their sha256 ({tarball}; box {meta.get('box_id')}, "
                           f"{holds}); {signed_words(report)}"))
        if older:
            click.echo(f"note: its manifest has no `{CATALOGUE_KEY}`: made by a kit before the catalogue (2.4 and "
                       "older) or with --keep-paths, whose texts were not checked by kind where they were made; merge "
                       "reads its corpus alone (its device and ffmpeg names typed) and no other text of it")
    show(texts)
    if report.ok:
        return 0
    texts_refused = any("no kind of the catalogue admits" in p for p in report.problems)
    click.echo("\n".join([*(f"MISMATCH: {visible(p)}" for p in report.problems),  # member names are the sender's
                          f"error: {visible(str(tarball))} failed verification ({len(report.problems)} problem(s))",
                          f"hint: {visible(free_text_hint(tarball))}" if texts_refused else
                          "hint: the tarball was damaged in transit or edited; ask for it again"]), err=True)
    return EXIT_BAD_INPUT


def show(texts: list[SentText]) -> None:
    """Each member's texts: its field, kind and value (a value no kind admits marked)."""
    member = None
    for t in texts:
        if t.member != member:
            member = t.member
            click.echo(visible(f"== {member}"))
        click.echo(f"  {visible(t.line())}")
