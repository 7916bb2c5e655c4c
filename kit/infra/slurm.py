"""Slurm's client command, as far as the kit needs it: `sbatch`. Where an array task sits in its array
(Slurm's SLURM_ARRAY_TASK_* variables) is read with the kit's other array sources, in kit.infra.arrays."""

from __future__ import annotations

import re
import shutil
import signal
from collections.abc import Sequence
from pathlib import Path

from kit.errors import PrereqError, ToolError
from kit.infra.proc import TimedOut, run_process

SBATCH_TIMEOUT_S = 120.0


# what sbatch says when the job never reached the controller, by cause, and the words and fix for each: munge (Slurm's
# authentication) not running here or its key not the cluster's; the controller (slurmctld) down or unreachable.
# Both are the box's or the moment's, not the script's: the same command again submits once they are mended.
UNREACHED = (
    (re.compile(r"Munge (?:en|de)code failed[^\n]*|auth_g_create[^\n]*|Protocol authentication error|"
                r"Invalid authentication credential"),
     "munge, Slurm's authentication, is not running on this host or holds another key than the cluster's",
     "start munge (systemctl start munge, or as the cluster's admin says), then run the same command again"),
    (re.compile(r"Unable to contact slurm controller[^\n]*|Socket timed out on send/recv operation|"
                r"Slurm controller not responding"),
     "the Slurm controller (slurmctld) does not answer",
     "check it answers (scontrol ping), or ask the cluster's admin; then run the same command again"))
REFUSED = re.compile(r"Batch job submission failed: ([^\n]+)")  # the controller read the job and said no


def sbatch_failure(script: Path, returncode: int, stderr: str) -> ToolError:
    """Why sbatch did not submit `script`, in one line: its telling words quoted, the cause named, its fix; a cause a
    rerun can mend (munge, the controller) offered as `retry:`."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return ToolError(f"sbatch crashed ({name}) submitting {script}",
                         hint="check that this host's sbatch runs, or ask the cluster's admin; the script is kept, so "
                              "run the same command again once it does", stderr_tail=stderr)
    for pattern, cause, fix in UNREACHED:
        if (found := pattern.search(stderr)) is not None:
            said = REFUSED.search(stderr)
            return ToolError(f"sbatch could not submit {script}: {cause} ('{(said or found)[0].strip()}')", hint=fix)
    if (refused := REFUSED.search(stderr)) is not None:
        failure = ToolError(f"Slurm refused {script}: '{refused[1].strip()}'",
                            hint="check the partition, time and memory options against the cluster's limits "
                                 "(sinfo); the script is kept, so you can fix it and run sbatch on it")
        failure.retry_helps = False  # the same job is refused again
        return failure
    return ToolError(f"sbatch refused {script} (exit {returncode})",
                     hint="check the partition, time and memory options against the cluster's limits (sinfo); the "
                          "script is kept, so you can fix it and run sbatch on it", stderr_tail=stderr)


def sbatch(script: Path, args: Sequence[str] = (), cwd: Path | None = None) -> str:
    """Submit `script` with `sbatch --parsable [args]`; returns the job id. Errors name the script."""
    exe = shutil.which("sbatch")
    if exe is None:
        raise PrereqError("sbatch not found: this machine is not a Slurm submit host",
                          hint="run the command on the cluster's login node")
    try:
        res = run_process([exe, "--parsable", *args, str(script)], timeout_s=SBATCH_TIMEOUT_S, cwd=cwd,
                          capture_stdout=True, handed_over=True)  # the job outlives this command
    except TimedOut:  # sbatch waits for the controller's answer: one that never comes is the controller's
        raise ToolError(f"sbatch could not submit {script}: {UNREACHED[1][1]} (no answer within "
                        f"{SBATCH_TIMEOUT_S:g} s)", hint=UNREACHED[1][2]) from None
    out = res.stdout.decode(errors="replace").strip()
    if res.returncode != 0:
        raise sbatch_failure(script, res.returncode, res.stderr_tail)
    # --parsable prints "<jobid>" or "<jobid>;<cluster>"
    job_id = out.splitlines()[-1].split(";")[0].strip() if out else ""
    if not re.fullmatch(r"[0-9]+", job_id):
        raise ToolError(f"sbatch printed no job id for {script}: {out!r}", hint="check sbatch's output above",
                        stderr_tail=res.stderr_tail)
    return job_id
