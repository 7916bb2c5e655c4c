"""`ensemble-kit verify TARBALL`: check a results tarball against its manifest."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from kit.cli.guard import guard
from kit.errors import EXIT_BAD_INPUT
from kit.infra.visible import visible

if TYPE_CHECKING:
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
              help="Also print every text the tarball sends, member by member (each JSON text by its key, each log "
                   "line, each table's text values and metadata, each model's metadata and names, the report's "
                   "text): read it before you send the tarball (docs/reference/files.md, \"What the tarball "
                   "sends\").")
@guard
def verify_cmd(tarball: Path, show_sent: bool) -> int:
    """Check a results tarball against its manifest.json (sha256 of every file).

    \b
    Examples:
      ensemble-kit verify results-mybox-20261121T101500Z.tar.gz
      ensemble-kit verify --show-sent results-mybox-20261121T101500Z.tar.gz | less
    """
    from kit.bundle.tarball import verify_tarball
    from kit.bundle.texts import MemberTexts, member_texts

    texts: list[MemberTexts] = []
    report = verify_tarball(tarball, read=(lambda top, members: texts.extend(member_texts(top / m, m) for m in members))
                            if show_sent else None)
    if report.ok and report.manifest is not None:
        meta = report.manifest
        holds = f"verdict {meta.get('verdict')}" if meta.get("verdict") is not None else \
            "a corpus, no verdict: training happens at the lead (merge it with the other boxes' corpora)"
        click.echo(visible(f"OK: {report.files} files match their sha256 ({tarball}; box {meta.get('box_id')}, "
                           f"{holds}); {signed_words(report)}"))
        for found in texts:
            click.echo(visible(f"== {found.member} ({found.kind})"))
            click.echo("".join(f"  {visible(line)}\n" for line in found.lines), nl=False)
        return 0
    click.echo("\n".join([*(f"MISMATCH: {visible(p)}" for p in report.problems),  # member names are the sender's
                          f"error: {visible(str(tarball))} failed verification ({len(report.problems)} problem(s))",
                          "hint: the tarball was damaged in transit or edited; ask for it again"]), err=True)
    return EXIT_BAD_INPUT
