"""How many threads torch and onnxruntime may use: the kit decides, as it does for libvmaf.

The kit's models are tiny (a layer is a (members x 64 x 64) batched matmul), so a
second intra-op thread buys little on an idle box and costs a lot on a busy one:
OpenMP threads that wait for a descheduled peer spin, and every one of the
~10,000 parallel regions of a LOSO run waits for its slowest thread. One thread
per process is the choice on every box, whatever its core count (torch would
otherwise start one thread per core, for matrices far too small to share).
bench/bench_busy.py measures it; bench/README.md has the figures.

KIT_TRAIN_THREADS overrides the choice (1 to the core count). The result of a
given seed is byte-identical from run to run at one thread count; another
thread count may change the last bits of the weights (a sum split differently).

Importing this module does not import torch (the runner records the choice in
run.json before any step runs, and `status` stays light).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass

from kit.errors import InputError
from kit.infra.host import core_count
from kit.infra.records import Record

ENV = "KIT_TRAIN_THREADS"
KIT_CHOICE = 1  # torch intra-op threads when KIT_TRAIN_THREADS is unset (bench_busy.py: 1 vs 2 threads)
ORT_THREADS = 1  # onnxruntime intra- and inter-op threads per session: its models are as tiny


@dataclass(frozen=True)
class ThreadChoice(Record):
    """The threads of this run's training and inference, as run.json and the step logs record them."""

    train: int  # torch intra-op threads (torch.set_num_threads)
    chosen_by: str  # "kit" or KIT_TRAIN_THREADS
    cores: int  # the cores this process may run on
    interop: int = 1  # torch inter-op threads (the kit runs no parallel torch ops of its own)
    onnxruntime: int = ORT_THREADS  # per session, spin-waiting off
    omp_wait_policy: str = ""  # as torch's OpenMP runtime read it at start (kit/__init__.py sets PASSIVE)

    def describe(self) -> str:
        """One line for the step log."""
        why = (f"set by {ENV}" if self.chosen_by == ENV
               else f"the kit's choice on {self.cores} core(s): the models are too small to share a core")
        return (f"torch threads: {self.train} ({why}); inter-op {self.interop}; onnxruntime {self.onnxruntime} "
                f"per session, no spin-wait; OMP_WAIT_POLICY={self.omp_wait_policy or '(unset)'}")


def choose_threads(environ: Mapping[str, str] | None = None, cores: int | None = None) -> ThreadChoice:
    """KIT_TRAIN_THREADS when set (validated), else the kit's choice: one thread, on any box."""
    env = os.environ if environ is None else environ
    cores = core_count() if cores is None else cores
    policy = env.get("OMP_WAIT_POLICY", "")
    raw = env.get(ENV, "").strip()
    if not raw:
        return ThreadChoice(KIT_CHOICE, "kit", cores, omp_wait_policy=policy)
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= cores:
        raise InputError(f"{ENV}={raw!r} is not a thread count from 1 to {cores} (this box's cores)",
                         hint=f"unset {ENV} to let the kit choose (1 thread), or set e.g. {ENV}=1")
    return ThreadChoice(value, ENV, cores, omp_wait_policy=policy)


_applied: list[ThreadChoice] = []


def apply_threads(choice: ThreadChoice) -> None:
    """Set torch's thread counts for this process (before its first parallel work)."""
    import torch

    torch.set_num_threads(choice.train)
    if not _applied:
        # torch allows it once, and only before any inter-op work; a RuntimeError means it is
        # already fixed in this process (a test or an embedding program ran torch first)
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(choice.interop)
    _applied.append(choice)
