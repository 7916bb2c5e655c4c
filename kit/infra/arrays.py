"""Where this process sits in an array of tasks: the small interface `--shard auto` reads (kit.corpus.split).

A scheduler that runs the kit's shards as an array tells each task its position its own way. Each way is a
source, a function of the environment: Slurm's SLURM_ARRAY_TASK_* variables (kit.infra.slurm), and the
kit's own KIT_ARRAY_TASK=K/N, which the kit's adapters that have no array variables of their own (Ray,
kit.cluster.ray) set for every task. Outside every array there is no position: `auto` is the whole set.
A task that two sources place differently is refused rather than guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from kit.errors import InputError
from kit.infra.outside import NotANumber, because, label, read_pair

KIT_ARRAY_TASK = "KIT_ARRAY_TASK"  # "K/N", 1-based: set by the kit's own cluster adapters


@dataclass(frozen=True)
class ArrayPosition:
    """Where this array task sits: shard k (1-based) of n, and how that was read."""

    k: int
    n: int
    how: str


Source = Callable[[Mapping[str, str]], "ArrayPosition | None"]


def kit_position(env: Mapping[str, str]) -> ArrayPosition | None:
    text = env.get(KIT_ARRAY_TASK, "")
    if not text.strip():
        return None
    refused = f"--shard auto: {label(KIT_ARRAY_TASK, text)} is not K/N with 1 <= K <= N"
    hint = f"unset {KIT_ARRAY_TASK} (the kit's cluster adapters set it), or give --shard K/N"
    try:
        k, n = read_pair(text)
    except NotANumber as exc:
        raise InputError(f"{refused}{because(exc)}", hint=hint) from None
    if not 1 <= k <= n:
        raise InputError(refused, hint=hint)
    return ArrayPosition(k, n, f"task {k} of {n} ({KIT_ARRAY_TASK})")


def sources() -> tuple[Source, ...]:
    from kit.infra.slurm import array_position as slurm_position

    return kit_position, slurm_position


def array_position(env: Mapping[str, str], found_by: Sequence[Source] | None = None) -> ArrayPosition | None:
    """This task's position from the first source that places it; None outside every array."""
    placed = [p for p in (src(env) for src in (found_by or sources())) if p is not None]
    if len({(p.k, p.n) for p in placed}) > 1:
        raise InputError(f"--shard auto: this task is placed twice, differently: {placed[0].how} and {placed[1].how}",
                         hint="run it under one scheduler, or give --shard K/N")
    return placed[0] if placed else None


MAX_TASKS = 4096  # an array of at most this many tasks (Slurm's MaxArraySize is 1001 by default)


def parse_task(text: str, flag: str, env: Mapping[str, str]) -> ArrayPosition:
    """`K/N` as given, or `auto`: this array task's place (KIT_ARRAY_TASK or Slurm's variables), for a flag that
    runs one task of N (`step loso --train-task`). Outside every array, `auto` is refused: a task of nothing."""
    hint = f"give K/N with 1 <= K <= N <= {MAX_TASKS}, or auto inside an array task ({KIT_ARRAY_TASK}=K/N, or Slurm)"
    if text.strip().lower() == "auto":
        pos = array_position(env)
        if pos is None:
            raise InputError(f"{flag} auto: this process runs in no array task", hint=hint)
    else:
        try:
            k, n = read_pair(text)
        except NotANumber as exc:
            raise InputError(f"{label(flag, text)} is not of the form K/N{because(exc)}", hint=hint) from None
        pos = ArrayPosition(k, n, f"{flag} {k}/{n}")
    if not 1 <= pos.k <= pos.n <= MAX_TASKS:
        raise InputError(f"{label(flag, text)}: task {pos.k} of {pos.n} is not 1 <= K <= N <= {MAX_TASKS}",
                         hint=hint)
    return pos
