"""The `ensemble-kit` command group. Importing it stays light (no torch, onnx or
pyarrow), so `--help` is instant; each command's module is imported when it is
asked for (usage.Commands), and imports its work when it runs."""

from __future__ import annotations

import os

import click

from kit import __version__
from kit.cli.usage import Commands, KitGroup

COMMANDS = {"run": "kit.cli.run:run_cmd", "step": "kit.cli.run:step_cmd", "verify": "kit.cli.verify:verify_cmd",
            "detect": "kit.cli.detect:detect_cmd", "binaries": "kit.cli.binaries:binaries_cmd",
            "merge": "kit.cli.merge:merge_cmd", "corpus": "kit.cli.merge:corpus_group",
            "status": "kit.cli.status:status_cmd", "slurm": "kit.cli.slurm:slurm_cmd", "ray": "kit.cli.ray:ray_cmd",
            "ffmpeg": "kit.cli.ffmpeg:ffmpeg_cmd"}


@click.group(cls=KitGroup, commands=Commands(COMMANDS),
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="ensemble-kit")
def cli() -> None:
    """ensemble-kit: encode reference clips with the encoders this box has, score every frame
    with libvmaf, train an MLP ensemble with leave-one-source-out validation, and get a
    PROMOTE/HOLD verdict plus a results tarball to send back.

    \b
    Examples:
      ensemble-kit run                                  # demo clips, this box's encoders (detect)
      ensemble-kit run --ref-dir ~/clips --out-dir runs/mybox
      ensemble-kit step corpus --ref-dir ~/clips        # one step alone (retry)
      ensemble-kit status runs/mybox                    # what is done, stale or pending, and why
      ensemble-kit run --json 2>run.log | jq -c .       # NDJSON events (docs/events.md)
      ensemble-kit verify runs/mybox/05_bundle/results-mybox-*.tar.gz
      ensemble-kit slurm --shards 8 --ref-dir /shared/clips --out-dir /shared/runs/a   # a Slurm cluster

    Most flags of `run` and `step` also read an environment variable, e.g. KIT_JOBS=4 or
    KIT_SEEDS=0,1,2 (their --help names each one).

    \b
    Shell completion (bash; use zsh_source or fish_source for zsh or fish):
      eval "$(_ENSEMBLE_KIT_COMPLETE=bash_source ensemble-kit)"
    """



def main() -> None:
    from kit.infra import interrupts

    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    interrupts.whole_process()  # the process ends with the command (kit/infra/interrupts.py)
    cli(prog_name="ensemble-kit")


if __name__ == "__main__":
    main()
