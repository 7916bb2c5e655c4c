"""`ensemble-kit binaries stage`: copy an ffmpeg with libvmaf into binaries/<os>-<arch>/."""

from __future__ import annotations

from pathlib import Path

import click

from kit.cli.guard import guard
from kit.infra.variables import FFMPEG


@click.group("binaries")
def binaries_cmd() -> None:
    """The per-platform ffmpeg shipped in binaries/<os>-<arch>/ (used before an ffmpeg on PATH).

    \b
    Examples:
      ensemble-kit binaries stage
      ensemble-kit binaries stage --from /opt/ffmpeg-vmaf/bin/ffmpeg
    """


@binaries_cmd.command("stage")
@click.option("--from", "from_path", type=click.Path(path_type=Path),
              help="ffmpeg to copy. Default: the one on PATH if it has libvmaf, else imageio-ffmpeg's.")
@click.option("--root", type=click.Path(path_type=Path), hidden=True, help="Kit root to stage into (tests).")
@guard
def stage_cmd(from_path: Path | None, root: Path | None) -> None:
    """Copy an ffmpeg into binaries/<os>-<arch>/ with a manifest; make_tarball.py ships it.

    \b
    Examples:
      ensemble-kit binaries stage
      ensemble-kit binaries stage --from /opt/ffmpeg-vmaf/bin/ffmpeg
    """
    from kit import KIT_ROOT
    from kit.platforms.binaries import choose_source, stage_ffmpeg

    src, source = choose_source(from_path)
    staged = stage_ffmpeg(src, source, root or KIT_ROOT)
    info = staged.info
    click.echo(f"staged {staged.path} ({info.version}, build {info.build}, libvmaf "
               f"{'yes' if info.has_libvmaf else 'no'}, sha256 {staged.sha256[:16]}...) from {source}: {src}")
    click.echo(f"manifest: {staged.manifest_path}; make_tarball.py ships both, and the pipeline uses this "
               f"ffmpeg unless --ffmpeg or {FFMPEG.name} is given")
