"""A stop signal is raised while the main thread waits on other threads (kit.infra.interrupts, its docstring).

The main thread blocks SIGTERM, so the kernel must hand the signal to a worker; no future finishes after it, so
only a wait in slices lets the main thread run the handler.
"""

from __future__ import annotations

import ast
import re
import sys

import pytest

from tests import pace
from tests.conftest import ROOT

SCRIPT = """
import os, signal, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
from kit.errors import Interrupted
from kit.infra import interrupts
from tests.pace import BoxClock

interrupts.install()
release = threading.Event()
sent = []

def send(then: threading.Event) -> None:
    time.sleep(0.3)
    sent.append(BoxClock())  # the box's own time from now (tests/pace.py), read once, as the wait ends
    os.kill(os.getpid(), signal.SIGTERM)  # to the process: the kernel picks a thread that takes it
    then.wait(30)  # and nothing finishes after it

def wait_batches() -> None:
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(release.wait, 30), pool.submit(send, release)]
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # after the workers exist: they take it
        try:
            for _ in interrupts.finished_batches(futures):
                pass
        finally:
            release.set()

def wait_workers() -> None:
    from kit.model.workers import run_on_workers

    def hold(stop: threading.Event) -> None:
        stop.wait(30)

    def sender(stop: threading.Event) -> None:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        send(stop)

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # the workers start unblocked (sender)
    run_on_workers([hold, sender], 2, lambda: None)

def wait_child() -> None:
    from kit.infra.proc import run_process

    threading.Thread(target=send, args=(release,), daemon=True).start()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    with open(os.devnull, "wb") as fh:  # its output to a file: no reader thread to join in slices
        run_process(["sleep", "30"], timeout_s=60, output=fh)

try:
    {"batches": wait_batches, "workers": wait_workers, "child": wait_child}[sys.argv[1]]()
except Interrupted as exc:
    print(f"interrupted by {exc.signum} {sent[0].seconds():.2f} s after it was sent")
"""


@pytest.mark.parametrize("waiter", ["batches", "workers", "child"])
def test_a_signal_taken_by_another_thread_ends_the_main_thread_s_wait(waiter: str) -> None:
    res = pace.run([sys.executable, "-c", SCRIPT, waiter], cwd=ROOT, capture_output=True, text=True,
                   timeout=90)
    assert res.returncode == 0, res.stderr
    said = re.fullmatch(r"interrupted by 15 ([\d.]+) s after it was sent\n", res.stdout)
    assert said, res.stdout + res.stderr
    assert float(said[1]) < 5, res.stdout  # a wait with no timeout ends when the workers do: 30 s


def untimed_waits(tree: ast.AST) -> list[int]:
    """Lines calling concurrent.futures' as_completed or wait, or ray.wait or ray.get, with no timeout."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            owner = node.func.value if isinstance(node.func, ast.Attribute) else None
            on_futures = name == "as_completed" or (name == "wait" and isinstance(owner, ast.Name)
                                                     and owner.id in ("cf", "futures", "ray")) or (
                name == "get" and isinstance(owner, ast.Name) and owner.id == "ray")
            if on_futures and not any(k.arg == "timeout" for k in node.keywords):
                found.append(node.lineno)
    return found


def test_no_kit_code_waits_on_futures_without_a_timeout() -> None:
    """The waits that lost the signal; the kit waits through interrupts.finished_batches or in slices."""
    found = [f"{p.relative_to(ROOT)}:{n}" for p in sorted((ROOT / "kit").rglob("*.py"))
             for n in untimed_waits(ast.parse(p.read_text()))]
    assert not found, found
    assert untimed_waits(ast.parse("cf.as_completed(fs)\nray.wait(refs, num_returns=1)\ncf.wait(fs, timeout=1)\n"
                                   "ray.get(ref)\nray.get(ref, timeout=0)")) == [1, 2, 4]


FLAG = """
import os, signal, threading
from concurrent.futures import ThreadPoolExecutor, wait
from kit.errors import Interrupted
from kit.infra import interrupts

interrupts.install()
polled = False
try:
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(sum, range(10))
        os.kill(os.getpid(), signal.SIGTERM)  # the handler runs in os.kill (3.11 on), at the latest in the loop
        for _ in range(1000):
            wait([future], timeout=0.01)  # a library's wait: never interrupted inside
        polled = True
        interrupts.check()
except Interrupted:
    pass
print("raised", "by the poll" if polled else "inside the wait")

# a worker thread's poll raises nothing (the main thread stops what it waits on); the main thread's does
said = []
worker = threading.Thread(target=lambda: (interrupts.check(), said.append("worker: nothing")))
worker.start()
worker.join()
try:
    interrupts.check()
except Interrupted as exc:
    said.append(f"main: {exc.signum}")
print("\\n".join(said))
"""


def test_a_signal_is_a_flag_raised_by_the_main_thread_s_poll_never_inside_a_library() -> None:
    """Raised inside concurrent.futures.wait it left the futures' locks held, and the pool's shutdown hung."""
    res = pace.run([sys.executable, "-c", FLAG], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert res.stdout == "raised by the poll\nworker: nothing\nmain: 15\n", res.stdout + res.stderr
