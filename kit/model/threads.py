"""How many threads training and inference use (bench/README.md); importing this module does not import torch."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from kit.infra.host import core_count
from kit.infra.records import Record, keep
from kit.infra.rules import COUNT
from kit.infra.variables import KIT_TRAIN_THREADS_AT_MOST, TRAIN_THREADS

ENV = TRAIN_THREADS.name
MAX_KIT_THREADS = KIT_TRAIN_THREADS_AT_MOST  # training workers when KIT_TRAIN_THREADS is unset, at most
ORT_THREADS = 1  # onnxruntime intra- and inter-op threads per session: its models are as tiny
INTRAOP_THREADS = 1  # torch threads per training worker (kit.model.train): no op waits for another thread


@dataclass(frozen=True)
class ThreadChoice(Record):
    """The threads of this run's training and inference, as run.json and the step logs record them."""

    LENIENT = True  # run.json of kits before the training workers lacks intraop

    # training worker threads, each with one torch thread (kit.model.train.train_jobs)
    train: int = field(metadata=keep(COUNT))
    chosen_by: str  # "kit" or KIT_TRAIN_THREADS
    cores: int = field(metadata=keep(COUNT))  # the cores this process may run on
    # torch inter-op threads (torch's own parallel ops: none in the kit)
    interop: int = field(default=1, metadata=keep(COUNT))
    intraop: int = field(default=INTRAOP_THREADS, metadata=keep(COUNT))  # torch intra-op threads per worker
    onnxruntime: int = field(default=ORT_THREADS, metadata=keep(COUNT))  # per session, spin-waiting off
    omp_wait_policy: str = ""  # as torch's OpenMP runtime read it at start (kit/__init__.py sets PASSIVE)

    def describe(self) -> str:
        """One line for the step log, ending with the training kernels (kit.model.kernels: imports torch)."""
        from kit.model.kernels import active

        why = (f"set by {ENV}" if self.chosen_by == ENV
               else f"the kit's choice on {self.cores} core(s): at most {MAX_KIT_THREADS}, the models are small")
        return (f"training threads: {self.train} ({why}), each running torch on {self.intraop} thread; "
                f"inter-op {self.interop}; onnxruntime {self.onnxruntime} per session, no spin-wait; "
                f"OMP_WAIT_POLICY={self.omp_wait_policy or '(unset)'}; {active().describe()}")


def choose_threads(environ: Mapping[str, str] | None = None, cores: int | None = None) -> ThreadChoice:
    """KIT_TRAIN_THREADS when set (validated), else the kit's choice: 2 threads, 1 on a 1-core box."""
    env = os.environ if environ is None else environ
    cores = core_count() if cores is None else cores
    policy = env.get("OMP_WAIT_POLICY", "")
    value: int | None = TRAIN_THREADS.read(env, cores=cores)
    if value is None:
        return ThreadChoice(min(cores, MAX_KIT_THREADS), "kit", cores, omp_wait_policy=policy)
    return ThreadChoice(value, ENV, cores, omp_wait_policy=policy)


_applied: list[ThreadChoice] = []


def apply_threads(choice: ThreadChoice) -> None:
    """Set torch's thread counts for this process, before its first parallel work."""
    import torch

    torch.set_num_threads(choice.intraop)
    if not _applied:
        # torch allows it once, before any inter-op work: a RuntimeError means it is already fixed in this process
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(choice.interop)
    _applied.append(choice)
