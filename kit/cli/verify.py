"""`ensemble-kit verify TARBALL`: check a results tarball against its manifest."""

from __future__ import annotations

from pathlib import Path

import click

from kit.cli.guard import guard
from kit.errors import EXIT_BAD_INPUT
from kit.infra.visible import visible


@click.command("verify")
@click.argument("tarball", type=click.Path(path_type=Path))
@guard
def verify_cmd(tarball: Path) -> int:
    """Check a results tarball against its manifest.json (sha256 of every file).

    \b
    Example:
      ensemble-kit verify results-mybox-20261121T101500Z.tar.gz
    """
    from kit.bundle.tarball import verify_tarball

    report = verify_tarball(tarball)
    if report.ok and report.manifest is not None:
        meta = report.manifest
        holds = f"verdict {meta.get('verdict')}" if meta.get("verdict") is not None else \
            "a corpus, no verdict: training happens at the lead (merge it with the other boxes' corpora)"
        click.echo(visible(f"OK: {report.files} files match their sha256 ({tarball}; box {meta.get('box_id')}, "
                           f"{holds})"))
        return 0
    click.echo("\n".join([*(f"MISMATCH: {visible(p)}" for p in report.problems),  # member names are the sender's
                          f"error: {visible(str(tarball))} failed verification ({len(report.problems)} problem(s))",
                          "hint: the tarball was damaged in transit or edited; ask for it again"]), err=True)
    return EXIT_BAD_INPUT
