"""How many threads torch and onnxruntime may use: the kit decides, as it does for libvmaf.

torch's default is one intra-op thread per core, and its OpenMP threads spin while they
wait for each other. On a busy box a spinning thread burns the core its descheduled peer
needs, and each of the ~100,000 parallel regions of a LOSO run waits for its slowest
thread: measured on this 2-core box at load 10, 4 epochs took > 300 s on 2 spinning
threads against 8-30 s otherwise (issue 14: a whole LOSO > 35 min). So:

* waiting threads sleep (OMP_WAIT_POLICY=PASSIVE, set in kit/__init__.py before torch
  loads): the CPU a run costs no longer grows with the load around it;
* two threads at most (one on a 1-core box): with sleeping waiters, 2 threads cost the
  same CPU as 1 here (3.5 s for 4 epochs either way) and gave 2-4x less wall on the busy
  box. More threads split matrices of (members x 64 x 64) into slices too small to pay
  for the wake-ups; torch would start one per core, 64 on a 64-core box.

KIT_TRAIN_THREADS overrides the choice (1 to the core count). Results do not depend on
the thread count (batched matmuls are split by member, and MKL runs in its strict
reproducible mode): 1 and 2 threads gave byte-identical weights here.

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
MAX_KIT_THREADS = 2  # torch intra-op threads when KIT_TRAIN_THREADS is unset, at most (bench/README.md)
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
               else f"the kit's choice on {self.cores} core(s): at most {MAX_KIT_THREADS}, the models are small")
        return (f"torch threads: {self.train} ({why}); inter-op {self.interop}; onnxruntime {self.onnxruntime} "
                f"per session, no spin-wait; OMP_WAIT_POLICY={self.omp_wait_policy or '(unset)'}")


def choose_threads(environ: Mapping[str, str] | None = None, cores: int | None = None) -> ThreadChoice:
    """KIT_TRAIN_THREADS when set (validated), else the kit's choice: 2 threads, 1 on a 1-core box."""
    env = os.environ if environ is None else environ
    cores = core_count() if cores is None else cores
    policy = env.get("OMP_WAIT_POLICY", "")
    raw = env.get(ENV, "").strip()
    if not raw:
        return ThreadChoice(min(cores, MAX_KIT_THREADS), "kit", cores, omp_wait_policy=policy)
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= cores:
        raise InputError(f"{ENV}={raw!r} is not a thread count from 1 to {cores} (this box's cores)",
                         hint=f"unset {ENV} to let the kit choose (at most {MAX_KIT_THREADS}), or set e.g. {ENV}=1")
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
