"""The training workers: tasks run side by side on threads, each thread running torch on its own single thread.

No thread ever waits for another inside an operation: that waiting is what made training collapse on a busy box
(issue 14), and on an idle one two workers beat two intra-op threads (bench/README.md). The caller's thread only
waits, reports progress and stops every worker on Ctrl-C or a worker's error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import TypeVar

import torch

from kit.model.threads import INTRAOP_THREADS

T = TypeVar("T")
POLL_SECONDS = 0.2  # the caller's progress is refreshed this often at most


class Cancelled(Exception):
    """The caller stopped waiting (Ctrl-C, an error elsewhere): the workers stop at their next step."""


def _worker_start() -> None:
    # this worker's ops run on this thread alone; torch keeps the count per thread for OpenMP and MKL
    torch.set_num_threads(INTRAOP_THREADS)


def run_on_workers(tasks: Sequence[Callable[[threading.Event], T]], workers: int, poll: Callable[[], None],
                   on_done: Callable[[int, T], None] | None = None) -> list[T]:
    """Each task's result, the tasks started in the order given on `workers` threads.

    A task gets the stop event and raises `Cancelled` at its next step once it is set. `poll` runs on the
    calling thread while the tasks run (every POLL_SECONDS at most) and once when all have finished; `on_done`
    (task index, result) on the calling thread as each task finishes. Ctrl-C, a task's error or an error of
    `on_done` stops every worker at its next step, and is raised here once they have all stopped."""
    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="kit-train", initializer=_worker_start)
    try:
        futures = [pool.submit(task, stop) for task in tasks]
        index = {future: i for i, future in enumerate(futures)}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=index.__getitem__):
                result = future.result()  # a worker's error ends the training here
                if on_done is not None:
                    on_done(index[future], result)
            poll()
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
    poll()
    return [future.result() for future in futures]
