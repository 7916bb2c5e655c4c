"""Where this process sits in an array of tasks, for `--shard auto` (kit.corpus.split) and `--train-task auto`: from
Slurm's SLURM_ARRAY_TASK_* variables or the kit's own KIT_ARRAY_TASK=K/N (set by its adapters without array
variables: Ray); a task two sources place differently is refused. A Slurm array must be contiguous (docs/cluster.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kit.errors import InputError
from kit.infra.outside import label, number, read_int, read_pair
from kit.infra.variables import ARRAY_TASK

KIT_ARRAY_TASK = ARRAY_TASK.name  # "K/N", 1-based: set by the kit's own cluster adapters


@dataclass(frozen=True)
class ArrayPosition:
    """Where this array task sits: shard k (1-based) of n, and how that was read."""

    k: int
    n: int
    how: str


def kit_position(env: Mapping[str, str], flag: str = "--shard") -> ArrayPosition | None:
    place: tuple[int, int] | None = ARRAY_TASK.read(env, asked_by=flag)
    if place is None:
        return None
    k, n = place
    return ArrayPosition(k, n, f"task {k} of {n} ({KIT_ARRAY_TASK})")


ARRAY_VARS = ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX", "SLURM_ARRAY_TASK_COUNT",
              "SLURM_ARRAY_TASK_STEP", "SLURM_ARRAY_JOB_ID")
ARRAY_HINT = "submit the array as --array=1-N (or 0-(N-1)): one task per shard, a %limit is fine"


def _int(env: Mapping[str, str], name: str, flag: str) -> int | None:
    text = env.get(name, "")
    if not text.strip():
        return None
    return number(read_int, text, f"{flag} auto: {label(name, text)} is not a whole number", ARRAY_HINT)


def slurm_position(env: Mapping[str, str], flag: str = "--shard") -> ArrayPosition | None:
    """This Slurm array task's shard K of N; None outside an array task; InputError when the variables disagree."""
    present = [name for name in ARRAY_VARS if env.get(name, "").strip()]
    if not present:
        return None
    task, lo, hi, count, step = (_int(env, f"SLURM_ARRAY_TASK_{v}", flag)
                                 for v in ("ID", "MIN", "MAX", "COUNT", "STEP"))
    if missing := [name for name, v in (("SLURM_ARRAY_TASK_ID", task), ("SLURM_ARRAY_TASK_MIN", lo)) if v is None]:
        raise InputError(f"{flag} auto: {' and '.join(missing)} not set, though {present[0]} is; this is not a "
                         "Slurm array task the kit can place", hint=f"{ARRAY_HINT}, or give {flag} K/N")
    assert task is not None and lo is not None
    if step not in (None, 1):
        raise InputError(f"{flag} auto: the array has a step of {step} (SLURM_ARRAY_TASK_STEP); it must be "
                         "contiguous so that its tasks are shards 1..N", hint=ARRAY_HINT)
    span = hi - lo + 1 if hi is not None else None
    n = span if span is not None else count
    if n is None:
        raise InputError(f"{flag} auto: neither SLURM_ARRAY_TASK_MAX nor SLURM_ARRAY_TASK_COUNT is set, so the "
                         "number of shards is unknown", hint=f"{ARRAY_HINT}, or give {flag} K/N")
    if span is not None and count is not None and span != count:
        raise InputError(f"{flag} auto: the array has {count} task(s) but spans {lo}..{hi} (SLURM_ARRAY_TASK_COUNT "
                         f"vs _MIN/_MAX): a list or a gap, so its tasks are not shards 1..N", hint=ARRAY_HINT)
    if n < 1 or not lo <= task <= lo + n - 1:
        raise InputError(f"{flag} auto: SLURM_ARRAY_TASK_ID={task} is outside the array {lo}..{lo + n - 1}",
                         hint=ARRAY_HINT)
    return ArrayPosition(task - lo + 1, n, f"Slurm array task {task} of {lo}..{lo + n - 1}")


def array_position(env: Mapping[str, str], flag: str = "--shard") -> ArrayPosition | None:
    """This task's position from the first source that places it; None outside every array. `flag`: whose `auto`."""
    placed = [p for p in (kit_position(env, flag), slurm_position(env, flag)) if p is not None]
    if len({(p.k, p.n) for p in placed}) > 1:
        raise InputError(f"{flag} auto: this task is placed twice, differently: {placed[0].how} and {placed[1].how}",
                         hint=f"run it under one scheduler, or give {flag} K/N")
    return placed[0] if placed else None


MAX_TASKS = 4096  # an array of at most this many tasks (Slurm's MaxArraySize is 1001 by default)


def parse_task(text: str, flag: str, env: Mapping[str, str]) -> ArrayPosition:
    """`K/N` as given, or `auto`: this array task's place (refused outside every array), for `--train-task`."""
    hint = f"give K/N with 1 <= K <= N <= {MAX_TASKS}, or auto inside an array task ({KIT_ARRAY_TASK}=K/N, or Slurm)"
    if text.strip().lower() == "auto":
        pos = array_position(env, flag=flag)
        if pos is None:
            raise InputError(f"{flag} auto: this process runs in no array task", hint=hint)
    else:
        k, n = number(read_pair, text, f"{label(flag, text)} is not of the form K/N", hint)
        pos = ArrayPosition(k, n, f"{flag} {k}/{n}")
    if not 1 <= pos.k <= pos.n <= MAX_TASKS:
        raise InputError(f"{label(flag, text)}: task {pos.k} of {pos.n} is not 1 <= K <= N <= {MAX_TASKS}",
                         hint=hint)
    return pos
