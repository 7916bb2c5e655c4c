"""Slurm's client command, as far as the kit needs it: `sbatch`. Where an array task sits in its array
(Slurm's SLURM_ARRAY_TASK_* variables) is read with the kit's other array sources, in kit.infra.arrays."""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from kit.errors import PrereqError, ToolError
from kit.infra.proc import run_process

SBATCH_TIMEOUT_S = 120.0


def sbatch(script: Path, args: Sequence[str] = (), cwd: Path | None = None) -> str:
    """Submit `script` with `sbatch --parsable [args]`; returns the job id. Errors name the script."""
    exe = shutil.which("sbatch")
    if exe is None:
        raise PrereqError("sbatch not found: this machine is not a Slurm submit host",
                          hint="run the command on the cluster's login node")
    res = run_process([exe, "--parsable", *args, str(script)], timeout_s=SBATCH_TIMEOUT_S, cwd=cwd,
                      capture_stdout=True, handed_over=True)  # the job outlives this command
    out = res.stdout.decode(errors="replace").strip()
    if res.returncode != 0:
        raise ToolError(f"sbatch refused {script} (exit {res.returncode})",
                        hint="check the partition, time and memory options against the cluster's limits "
                             "(sinfo); the script is kept, so you can fix it and run sbatch on it",
                        stderr_tail=res.stderr_tail)
    # --parsable prints "<jobid>" or "<jobid>;<cluster>"
    job_id = out.splitlines()[-1].split(";")[0].strip() if out else ""
    if not re.fullmatch(r"[0-9]+", job_id):
        raise ToolError(f"sbatch printed no job id for {script}: {out!r}", hint="check sbatch's output above",
                        stderr_tail=res.stderr_tail)
    return job_id
