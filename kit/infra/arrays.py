"""Where this process sits in an array of tasks: the small interface `--shard auto` reads (kit.corpus.split).

A scheduler that runs the kit's shards as an array tells each task its position its own way. Each way is a
source, a function of the environment: Slurm's SLURM_ARRAY_TASK_* variables (kit.infra.slurm), and the
kit's own KIT_ARRAY_TASK=K/N, which the kit's adapters that have no array variables of their own (Ray,
kit.cluster.ray) set for every task. Outside every array there is no position: `auto` is the whole set.
A task that two sources place differently is refused rather than guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from kit.errors import InputError

KIT_ARRAY_TASK = "KIT_ARRAY_TASK"  # "K/N", 1-based: set by the kit's own cluster adapters


@dataclass(frozen=True)
class ArrayPosition:
    """Where this array task sits: shard k (1-based) of n, and how that was read."""

    k: int
    n: int
    how: str


Source = Callable[[Mapping[str, str]], "ArrayPosition | None"]


def kit_position(env: Mapping[str, str]) -> ArrayPosition | None:
    text = env.get(KIT_ARRAY_TASK, "").strip()
    if not text:
        return None
    m = re.fullmatch(r"(\d+)/(\d+)", text)
    if m is None or not 1 <= int(m[1]) <= int(m[2]):
        raise InputError(f"--shard auto: {KIT_ARRAY_TASK}={text!r} is not K/N with 1 <= K <= N",
                         hint=f"unset {KIT_ARRAY_TASK} (the kit's cluster adapters set it), or give --shard K/N")
    return ArrayPosition(int(m[1]), int(m[2]), f"task {m[1]} of {m[2]} ({KIT_ARRAY_TASK})")


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
        m = re.fullmatch(r"\s*(\d+)/(\d+)\s*", text)
        if m is None:
            raise InputError(f"{flag} {text!r} is not of the form K/N", hint=hint)
        pos = ArrayPosition(int(m[1]), int(m[2]), f"{flag} {m[1]}/{m[2]}")
    if not 1 <= pos.k <= pos.n <= MAX_TASKS:
        raise InputError(f"{flag} {text!r}: task {pos.k} of {pos.n} is not 1 <= K <= N <= {MAX_TASKS}", hint=hint)
    return pos
