"""The `ensemble-kit` command group. Importing it stays light (no torch, onnx or
pyarrow), so `--help` is instant; each command imports its work when it runs."""

from __future__ import annotations

import os

import click

from kit import __version__
from kit.cli.binaries import binaries_cmd
from kit.cli.detect import detect_cmd
from kit.cli.export import export_cmd
from kit.cli.ffmpeg import ffmpeg_cmd
from kit.cli.merge import corpus_group, merge_cmd
from kit.cli.ray import ray_cmd
from kit.cli.run import run_cmd, step_cmd
from kit.cli.slurm import slurm_cmd
from kit.cli.status import status_cmd
from kit.cli.usage import KitGroup
from kit.cli.verify import verify_cmd


@click.group(cls=KitGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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


for command in (run_cmd, step_cmd, verify_cmd, detect_cmd, binaries_cmd, merge_cmd, corpus_group, status_cmd,
                slurm_cmd, ray_cmd, ffmpeg_cmd):
    cli.add_command(command)
corpus_group.add_command(export_cmd)


def main() -> None:
    from kit.infra import interrupts

    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    interrupts.whole_process()  # the process ends with the command (kit/infra/interrupts.py)
    cli(prog_name="ensemble-kit")


if __name__ == "__main__":
    main()
