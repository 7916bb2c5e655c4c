"""A child's limits are counted in its own time and, where it shows progress, on the lack of it (issues 91 and 98,
item 1): what passed while the kit was stopped (the whole box suspended, its process group stopped) or while the child
waited for a CPU (a busy box) is never counted, so a busy or suspended box finishes what a quiet one does; a child
stopped alone while the kit runs (SIGSTOP to it or its group) counts, and is ended at its limit, said as stopped from
outside; a child that shows no progress at all is still stopped. The clock is read from a /proc made here (its states
and run-queue waits as the test sets them) and a clock the test moves, the watch ticked by hand; real children are
stopped with real signals."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from kit.infra import proc
from kit.infra.clock import GAP_S, OWN_READ_S, WATCH, OwnTime, Watch
from kit.infra.proc import TimedOut, progress_frame, run_process
from tests import pace

PID = 4242


class FakeProc:
    """A /proc holding one child: its state and each thread's run-queue wait, a clock the test moves and the watch
    that reads them, ticked every OWN_READ_S (or late, where the kit was stopped)."""

    def __init__(self, root: Path) -> None:
        self.root, self.now = root, 100.0
        (root / str(PID) / "task").mkdir(parents=True)
        self.set(state="S", waits={"1": 0, "2": 0})
        self.watch = Watch(lambda: self.now, root, threaded=False)

    def set(self, state: str | None = None, waits: dict[str, int] | None = None) -> None:
        if state is not None:
            (self.root / str(PID) / "stat").write_text(f"{PID} (ffmpeg (odd) name) {state} 1 2 3\n")
        for tid, ns in (waits or {}).items():
            (self.root / str(PID) / "task" / tid).mkdir(exist_ok=True)
            (self.root / str(PID) / "task" / tid / "schedstat").write_text(f"5000 {ns} 7\n")

    def clock(self) -> OwnTime:
        return self.watch.child(PID)

    def walk(self, own: OwnTime, seconds: float, step: float = OWN_READ_S) -> float:
        """Move the clock `seconds` on, the watch ticking every `step`; the child's own seconds then."""
        for _ in range(round(seconds / step)):
            self.now += step
            self.watch.tick()
        return own.seconds()


@pytest.fixture()
def fake(tmp_path: Path) -> FakeProc:
    return FakeProc(tmp_path)


def test_a_running_child_s_time_is_the_wall_time(fake: FakeProc) -> None:
    own = fake.clock()
    assert fake.walk(own, 10) == pytest.approx(10, abs=OWN_READ_S)


def test_a_child_stopped_alone_while_the_kit_runs_counts_and_says_so(fake: FakeProc) -> None:
    """SIGSTOP of the child (or its group) alone: the kit ticks on, the child's seconds go on, each of them stopped."""
    own = fake.clock()
    fake.walk(own, 3)
    fake.set(state="T")
    assert fake.walk(own, 20) == pytest.approx(23, abs=OWN_READ_S)
    assert own.stopped and own.stopped_s == pytest.approx(20, abs=OWN_READ_S)
    fake.set(state="S")
    fake.walk(own, 2)
    assert not own.stopped and own.stopped_s == pytest.approx(20, abs=OWN_READ_S)


@pytest.mark.parametrize("state", ["S", "T"])  # the kit stopped with its child, or the kit alone (the child runs on)
def test_the_kit_stopped_counts_nothing(fake: FakeProc, state: str) -> None:
    """The watch's tick comes late (the kit was stopped, or got no CPU): the gap is nobody's work, whatever the
    child's state, and the kit's own clock leaves it out."""
    own = fake.clock()
    fake.walk(own, 2)
    kit_before = fake.watch.kit_seconds()
    fake.set(state=state)
    fake.now += 200  # one tick 200 s after the one before
    assert fake.watch.kit_seconds() == pytest.approx(kit_before, abs=OWN_READ_S)  # before the tick: the pause seen
    fake.watch.tick()
    assert own.seconds() == pytest.approx(2, abs=OWN_READ_S) and own.stopped_s == 0
    assert fake.watch.paused_s == pytest.approx(200) and fake.watch.kit_seconds() == pytest.approx(kit_before)
    fake.now += GAP_S * 0.9  # a late tick under GAP_S is the child's
    fake.watch.tick()
    assert own.seconds() == pytest.approx(2 + GAP_S * 0.9, abs=OWN_READ_S)


@pytest.mark.parametrize("share", [0.5, 0.9, 14 / 15])  # a load of 4, 20 and 30 on two cores
def test_a_child_waiting_for_a_cpu_is_counted_only_while_it_runs(fake: FakeProc, share: float) -> None:
    own = fake.clock()
    waited = 0
    for _ in range(40):  # 20 s, its busiest thread waiting `share` of it
        fake.now += OWN_READ_S
        waited += round(OWN_READ_S * share * 1e9)
        fake.set(waits={"1": waited // 3, "2": waited})
        fake.watch.tick()
    assert own.seconds() == pytest.approx(20 * (1 - share), abs=OWN_READ_S)


def test_without_proc_the_kit_s_running_time(tmp_path: Path) -> None:
    now = [0.0]
    watch = Watch(lambda: now[0], tmp_path / "no-proc", threaded=False)
    own = watch.child(PID)
    for _ in range(20):
        now[0] += OWN_READ_S
        watch.tick()
    now[0] += 100
    watch.tick()
    assert own.seconds() == pytest.approx(10, abs=OWN_READ_S) and not own.stopped


@pytest.mark.parametrize(("line", "frame"), [("frame=12", 12), ("frame= 7 ", 7), ("fps=3.0", None), ("frame=", None),
                                             ("progress=continue", None), ("frame=x", None)])
def test_progress_lines(line: str, frame: int | None) -> None:
    assert progress_frame(line) == frame


def script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "child"
    path.write_text(f"#!{sys.executable} -IS\nimport sys, time\n{body}")
    path.chmod(0o755)
    return path


def stop_for(seconds: float, after: float = 0.3, group: bool = True) -> threading.Thread:
    """A thread that stops the kit's latest child (SIGSTOP to its group, or to it alone) `after` seconds, for
    `seconds`."""
    def stop() -> None:
        time.sleep(after)
        with proc._live_lock:
            (child,) = proc._live
        send = os.killpg if group else os.kill
        send(child.pid, signal.SIGSTOP)
        end = time.monotonic() + seconds  # not a time limit: how long the stop lasts
        while time.monotonic() < end and child.returncode is None:  # not a time limit: the stop, ended with it
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            send(child.pid, signal.SIGCONT)

    thread = threading.Thread(target=stop, daemon=True)
    thread.start()
    return thread


FRAMES = "for n in range(1, 9):\n    print(f'frame={n}', flush=True)\n    time.sleep(0.25)\n"


@pytest.mark.parametrize("group", [False, True], ids=["child-alone", "child-s-group"])
@pytest.mark.parametrize(("timeout_s", "stall_s"), [(math.inf, 1.5), (1.5, None)], ids=["stall", "timeout"])
def test_a_child_stopped_alone_is_ended_at_its_limit_said_stopped(tmp_path: Path, group: bool, timeout_s: float,
                                                                   stall_s: float | None) -> None:
    """SIGSTOP of the child (or its group) while the kit runs, longer than its limit: ended there (2.4 waited for
    ever: its own time stood still), said as stopped from outside, whichever limit it met."""
    child = script(tmp_path, FRAMES)
    stopper = stop_for(30, group=group)
    with pytest.raises(TimedOut) as ended:
        run_process([child], timeout_s=timeout_s, stall_s=stall_s, frames=True)
    assert ended.value.stopped and not ended.value.capped
    assert "was stopped by a signal from outside for 1.5 s, its limit, while the kit ran" in ended.value.message
    assert "the same command runs it again" in ended.value.hint
    stopper.join()


def test_a_child_stopped_a_moment_then_hung_is_said_hung(tmp_path: Path) -> None:
    """Stopped for a fifth of its limit, then no frame: a hang, said as one (no frames), not as the stop."""
    child = script(tmp_path, "print('frame=1', flush=True)\ntime.sleep(600)\n")
    stopper = stop_for(0.5, after=0.1)
    with pytest.raises(TimedOut) as ended:
        run_process([child], timeout_s=math.inf, stall_s=2.5, frames=True)
    stopper.join()
    assert ended.value.stalled and not ended.value.stopped
    assert "gave no frames for 2.5 s" in ended.value.message


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
    own = WATCH.child(procs[0].pid)
    start = time.monotonic()
    while procs[0].poll() is None:
        counted = own.seconds()
        time.sleep(0.1)
    wall = time.monotonic() - start
    WATCH.forget(own)
    for p in procs:
        p.wait()
    assert counted < 0.8 * wall, (counted, wall)
