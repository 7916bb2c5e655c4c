"""Slurm, as far as the kit needs it: where an array task sits in its array, and `sbatch`.

The rule for `--shard auto` (README, "Running on a Slurm cluster"). Inside an
array task Slurm sets SLURM_ARRAY_TASK_ID, _MIN, _MAX, _COUNT and _STEP. The
array must be contiguous (`--array=1-N`, `--array=0-(N-1)`, any `A-B`, with or
without a `%limit`): then N = MAX - MIN + 1 and K = ID - MIN + 1, so a 0-based
and a 1-based array both give shards 1..N, each exactly once. A list
(`--array=1,3,4`) or a step (`--array=0-6:3`) is refused: their K could not be
told from one task's variables without guessing, and a shard left out would go
unnoticed. ID and MIN are required; COUNT, MAX and STEP, where set, must agree
with them. Outside an array task (no SLURM_ARRAY_* variable at all) there is
nothing to split: `auto` is the whole set, 1/1.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from kit.errors import InputError, PrereqError, ToolError
from kit.infra.arrays import ArrayPosition
from kit.infra.outside import NotANumber, because, label, read_int
from kit.infra.proc import run_process

ARRAY_VARS = ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX", "SLURM_ARRAY_TASK_COUNT",
              "SLURM_ARRAY_TASK_STEP", "SLURM_ARRAY_JOB_ID")
ARRAY_HINT = "submit the array as --array=1-N (or 0-(N-1)): one task per shard, a %limit is fine"
SBATCH_TIMEOUT_S = 120.0


def _int(env: Mapping[str, str], name: str) -> int | None:
    text = env.get(name, "")
    if not text.strip():
        return None
    try:
        return read_int(text)
    except NotANumber as exc:
        raise InputError(f"--shard auto: {label(name, text)} is not a whole number{because(exc)}", hint=ARRAY_HINT) \
            from None


def array_position(env: Mapping[str, str]) -> ArrayPosition | None:
    """This Slurm array task's shard K of N; None outside an array task; InputError when the variables disagree."""
    present = [name for name in ARRAY_VARS if env.get(name, "").strip()]
    if not present:
        return None
    task, lo, hi, count, step = (_int(env, f"SLURM_ARRAY_TASK_{v}") for v in ("ID", "MIN", "MAX", "COUNT", "STEP"))
    missing = [name for name, value in (("SLURM_ARRAY_TASK_ID", task), ("SLURM_ARRAY_TASK_MIN", lo)) if value is None]
    if missing:
        raise InputError(f"--shard auto: {' and '.join(missing)} not set, though {present[0]} is; this is not a "
                         "Slurm array task the kit can place", hint=f"{ARRAY_HINT}, or give --shard K/N")
    assert task is not None and lo is not None
    if step not in (None, 1):
        raise InputError(f"--shard auto: the array has a step of {step} (SLURM_ARRAY_TASK_STEP); it must be "
                         "contiguous so that its tasks are shards 1..N", hint=ARRAY_HINT)
    span = hi - lo + 1 if hi is not None else None
    n = span if span is not None else count
    if n is None:
        raise InputError("--shard auto: neither SLURM_ARRAY_TASK_MAX nor SLURM_ARRAY_TASK_COUNT is set, so the "
                         "number of shards is unknown", hint=f"{ARRAY_HINT}, or give --shard K/N")
    if span is not None and count is not None and span != count:
        raise InputError(f"--shard auto: the array has {count} task(s) but spans {lo}..{hi} (SLURM_ARRAY_TASK_COUNT "
                         f"vs _MIN/_MAX): a list or a gap, so its tasks are not shards 1..N", hint=ARRAY_HINT)
    if n < 1 or not lo <= task <= lo + n - 1:
        raise InputError(f"--shard auto: SLURM_ARRAY_TASK_ID={task} is outside the array {lo}..{lo + n - 1}",
                         hint=ARRAY_HINT)
    k = task - lo + 1
    return ArrayPosition(k, n, f"Slurm array task {task} of {lo}..{lo + n - 1}")


def sbatch(script: Path, args: Sequence[str] = (), cwd: Path | None = None) -> str:
    """Submit `script` with `sbatch --parsable [args]`; returns the job id. Errors name the script."""
    exe = shutil.which("sbatch")
    if exe is None:
        raise PrereqError("sbatch not found: this machine is not a Slurm submit host",
                          hint="run the command on the cluster's login node")
    res = run_process([exe, "--parsable", *args, str(script)], timeout_s=SBATCH_TIMEOUT_S, cwd=cwd,
                      capture_stdout=True)
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
