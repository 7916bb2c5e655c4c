"""A child's limits are counted in its own time and, where it shows progress, on the lack of it (issue 91, item 1):
what passed while the child or the kit was stopped (SIGSTOP, a suspended job, a laptop's lid) or while the child
waited for a CPU (a busy box) is never counted, so a busy or suspended box finishes what a quiet one does; a child
that shows no progress at all is still stopped. The clock is read from a /proc made here (its states and run-queue
waits as the test sets them) and a clock the test moves; real children are stopped with real signals."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from kit.infra import proc
from kit.infra.clock import GAP_S, OWN_READ_S, OwnTime
from kit.infra.proc import TimedOut, progress_frame, run_process
from tests import pace

PID = 4242


class FakeProc:
    """A /proc holding one child: its state and each thread's run-queue wait, and a clock the test moves."""

    def __init__(self, root: Path) -> None:
        self.root, self.now = root, 100.0
        (root / str(PID) / "task").mkdir(parents=True)
        self.set(state="S", waits={"1": 0, "2": 0})

    def set(self, state: str | None = None, waits: dict[str, int] | None = None) -> None:
        if state is not None:
            (self.root / str(PID) / "stat").write_text(f"{PID} (ffmpeg (odd) name) {state} 1 2 3\n")
        for tid, ns in (waits or {}).items():
            (self.root / str(PID) / "task" / tid).mkdir(exist_ok=True)
            (self.root / str(PID) / "task" / tid / "schedstat").write_text(f"5000 {ns} 7\n")

    def clock(self) -> OwnTime:
        return OwnTime(PID, lambda: self.now, self.root)

    def walk(self, own: OwnTime, seconds: float, step: float = 0.2) -> float:
        """Move the clock `seconds` on, the kit checking the child every `step`; its own seconds then."""
        for _ in range(round(seconds / step)):
            self.now += step
            own.seconds()
        return own.seconds()


@pytest.fixture()
def fake(tmp_path: Path) -> FakeProc:
    return FakeProc(tmp_path)


def test_a_running_child_s_time_is_the_wall_time(fake: FakeProc) -> None:
    own = fake.clock()
    assert fake.walk(own, 10) == pytest.approx(10, abs=OWN_READ_S)


def test_a_stopped_child_s_time_stands_still(fake: FakeProc) -> None:
    own = fake.clock()
    fake.walk(own, 3)
    fake.set(state="T")  # SIGSTOP: scontrol suspend, Ctrl-Z, a debugger
    stopped = fake.walk(own, 200)
    assert stopped == pytest.approx(3, abs=OWN_READ_S)
    fake.set(state="S")
    assert fake.walk(own, 2) == pytest.approx(5, abs=2 * OWN_READ_S)


def test_the_kit_stopped_with_its_child_counts_nothing(fake: FakeProc) -> None:
    """The kit's own check comes late (it was stopped, or got no CPU): the gap is nobody's work, whatever the child's
    state now."""
    own = fake.clock()
    fake.walk(own, 2)
    fake.now += 200  # one check 200 s after the one before
    assert own.seconds() == pytest.approx(2, abs=OWN_READ_S)
    fake.now += GAP_S * 0.9  # a late check under GAP_S is the child's
    assert own.seconds() == pytest.approx(2 + GAP_S * 0.9, abs=OWN_READ_S)


@pytest.mark.parametrize("share", [0.5, 0.9, 14 / 15])  # a load of 4, 20 and 30 on two cores
def test_a_child_waiting_for_a_cpu_is_counted_only_while_it_runs(fake: FakeProc, share: float) -> None:
    own = fake.clock()
    waited = 0
    for _ in range(100):  # 20 s, its busiest thread waiting `share` of it
        fake.now += 0.2
        waited += round(0.2 * share * 1e9)
        fake.set(waits={"1": waited // 3, "2": waited})
        own.seconds()
    assert own.seconds() == pytest.approx(20 * (1 - share), abs=OWN_READ_S)


def test_without_proc_the_wall_time_less_the_kit_s_gaps(tmp_path: Path) -> None:
    now = [0.0]
    own = OwnTime(PID, lambda: now[0], tmp_path / "no-proc")
    for _ in range(50):
        now[0] += 0.2
        own.seconds()
    now[0] += 100
    assert own.seconds() == pytest.approx(10, abs=OWN_READ_S)


@pytest.mark.parametrize(("line", "frame"), [("frame=12", 12), ("frame= 7 ", 7), ("fps=3.0", None), ("frame=", None),
                                             ("progress=continue", None), ("frame=x", None)])
def test_progress_lines(line: str, frame: int | None) -> None:
    assert progress_frame(line) == frame


def script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "child"
    path.write_text(f"#!{sys.executable} -IS\nimport sys, time\n{body}")
    path.chmod(0o755)
    return path


def stop_for(seconds: float, after: float = 0.3) -> threading.Thread:
    """A thread that stops the kit's latest child (SIGSTOP to its group) `after` seconds, for `seconds`."""
    def stop() -> None:
        time.sleep(after)
        with proc._live_lock:
            (child,) = proc._live
        os.killpg(child.pid, signal.SIGSTOP)
        time.sleep(seconds)
        os.killpg(child.pid, signal.SIGCONT)

    thread = threading.Thread(target=stop, daemon=True)
    thread.start()
    return thread


FRAMES = "for n in range(1, 9):\n    print(f'frame={n}', flush=True)\n    time.sleep(0.25)\n"


def test_a_child_stopped_longer_than_its_limits_finishes(tmp_path: Path) -> None:
    """SIGSTOP for 5 s of a child whose timeout is 3 s and whose stall limit is 1.5 s: it finishes."""
    child = script(tmp_path, FRAMES)
    start = time.monotonic()
    stopper = stop_for(5)
    res = run_process([child], timeout_s=3 + 2, stall_s=1.5, frames=True)
    stopper.join()
    assert res.returncode == 0 and time.monotonic() - start > 5


def test_a_slow_child_that_progresses_has_no_time_limit(tmp_path: Path) -> None:
    """A frame every 0.6 s for 6 s, its stall limit 1.5 s and no timeout: it finishes, however long it takes."""
    child = script(tmp_path, "for n in range(1, 11):\n    print(f'frame={n}', flush=True)\n    time.sleep(0.6)\n")
    res = run_process([child], timeout_s=float("inf"), stall_s=1.5, frames=True)
    assert res.returncode == 0 and res.elapsed_s > 5


def test_a_child_whose_frame_count_stands_still_is_stopped(tmp_path: Path) -> None:
    """ffmpeg's -progress blocks come twice a second whether or not a frame did: only a count above the last is
    progress."""
    child = script(tmp_path, "while True:\n    print('frame=3\\nprogress=continue', flush=True)\n    time.sleep(0.2)\n")
    with pace.ticking() as clock, pytest.raises(TimedOut) as stalled:
        run_process([child], timeout_s=float("inf"), stall_s=1.5, frames=True)
    assert stalled.value.stalled and clock.seconds() < 15  # the box's own time (tests/pace.py)


def test_a_stopped_child_that_shows_no_progress_once_running_is_stopped(tmp_path: Path) -> None:
    """A hang is still a hang: stopped for 3 s, then no frame for its 1.5 s of running: stopped, after both."""
    child = script(tmp_path, "print('frame=1', flush=True)\ntime.sleep(600)\n")
    start = time.monotonic()
    with pace.ticking() as clock:
        stopper = stop_for(3, after=0.1)
        with pytest.raises(TimedOut):
            run_process([child], timeout_s=float("inf"), stall_s=1.5, frames=True)
        stopper.join()
        took = clock.seconds()  # the box's own time (tests/pace.py): its stop and its stall at the box's pace
    assert time.monotonic() - start > 3 and took < 20, took


@pytest.mark.skipif(not Path("/proc/self/schedstat").exists() or not hasattr(os, "sched_setaffinity"),
                    reason="needs Linux's /proc/self/schedstat and os.sched_setaffinity")
def test_a_child_sharing_its_cpu_counts_only_the_time_it_runs(tmp_path: Path) -> None:
    """Real load: a busy child and a busy neighbour pinned to one CPU each get about half of it; the child's own time
    is its share, not the wall time (a box at a load of 30 counts a fifteenth of it, and finishes)."""
    import subprocess

    busy = "import time\nend = time.monotonic() + {s}\nwhile time.monotonic() < end:\n    pass\n"
    cpu = {min(os.sched_getaffinity(0))}
    procs = [subprocess.Popen([sys.executable, "-c", busy.format(s=3)]) for _ in range(2)]
    for p in procs:
        os.sched_setaffinity(p.pid, cpu)
    own = OwnTime(procs[0].pid)
    start = time.monotonic()
    while procs[0].poll() is None:
        counted = own.seconds()
        time.sleep(0.1)
    wall = time.monotonic() - start
    for p in procs:
        p.wait()
    assert counted < 0.8 * wall, (counted, wall)
