"""`ensemble-kit ffmpeg ARGS...`: the kit's own ffmpeg, as the run finds it, with the arguments as given (the
kit's hints that convert or crop a clip print it, for a box with no ffmpeg on the PATH)."""

from __future__ import annotations

import sys

import click

from kit.cli.guard import guard

CONVERT_TIMEOUT_S = 24 * 3600.0  # a conversion of a long master; KIT_TIMEOUT_S caps it


@click.command("ffmpeg", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False,
                                           "help_option_names": ["--help"]})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@guard
def ffmpeg_cmd(args: tuple[str, ...]) -> int:
    """Run the ffmpeg the kit uses (--ffmpeg's KIT_FFMPEG, binaries/<os>-<arch>/, an ffmpeg on PATH with
    libvmaf, else imageio-ffmpeg's) with ARGS as given, as if run by hand: what it writes to stdout (`-` as the
    output, -version) goes to stdout, its messages to stderr, its exit code is the command's; Ctrl-C, kill and a
    closed terminal reach ffmpeg, which ends as it would by hand (on Ctrl-C and kill it finishes its file). The
    kit's hints that convert or crop a clip print it.

    \b
    Examples:
      ensemble-kit ffmpeg -i clips/city.mpg -an -c:v ffv1 clips/city.mkv
      ensemble-kit ffmpeg -version
    """
    from kit.infra.interrupts import passed_on
    from kit.infra.proc import run_process, signal_children
    from kit.media.ffmpeg import resolve_ffmpeg

    ffmpeg = resolve_ffmpeg().path
    sys.stdout.flush()
    sys.stderr.flush()
    # its outputs straight to ours as it goes; a stop signal goes to ffmpeg, which ends as when run by hand
    with passed_on(signal_children):
        code = run_process([ffmpeg, "-hide_banner", *args], timeout_s=CONVERT_TIMEOUT_S,
                           output=(sys.stdout, sys.stderr)).returncode
    return 128 - code if code < 0 else code  # ended by signal N: 128 + N, as a shell says it
