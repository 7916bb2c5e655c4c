"""The training workers: threads each running torch on one thread of its own, so none waits for another in an op."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch

from kit.infra.interrupts import finished_batches
from kit.model.threads import INTRAOP_THREADS

T = TypeVar("T")


class Cancelled(Exception):
    """The caller stopped waiting (Ctrl-C, an error elsewhere): the workers stop at their next step."""


def run_on_workers(tasks: Sequence[Callable[[threading.Event], T]], workers: int, poll: Callable[[], None],
                   on_done: Callable[[int, T], None] | None = None) -> list[T]:
    """Each task's result, run in order on `workers` threads, each given the stop event; `poll` (every MAIN_WAIT_S at
    most, and at the end) and `on_done` run on the calling thread. Ctrl-C or an error stops every worker, then rises."""
    stop = threading.Event()
    # each worker's ops run on its thread alone; torch keeps the count per thread for OpenMP and MKL
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="kit-train",
                              initializer=torch.set_num_threads, initargs=(INTRAOP_THREADS,))
    try:
        futures = [pool.submit(task, stop) for task in tasks]
        for finished in finished_batches(futures):  # a stop signal is handled between two (kit.infra.interrupts)
            for i in finished:
                result = futures[i].result()  # a worker's error ends the training here
                if on_done is not None:
                    on_done(i, result)
            poll()
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
    poll()
    return [future.result() for future in futures]
