"""kit.infra.exits: a process that ran one command ends as Python's exit ends it, in all that anyone can see (its
status, its atexit functions, its buffered output, a thread still at work), without the teardown of its modules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

# a child that buffers output (no PYTHONUNBUFFERED), registers an atexit function, leaves an object whose finalizer
# only the teardown would run, then ends by exit_now(code)
CHILD = """
import atexit, sys, threading, time
from pathlib import Path
from kit.infra.exits import exit_now, run_then_exit
marks = Path(sys.argv[1])
class Torn:  # what it needs bound now: the teardown may have cleared the module's names before it is freed
    def __del__(self, path=str(marks / "torn"), opener=open):
        with opener(path, "w") as fh:
            fh.write("the teardown ran")
kept = Torn()
atexit.register(lambda: (marks / "atexit").write_text("ran"))
sys.stdout.write("said, not yet flushed")
sys.stderr.write("warned, not yet flushed")
code = eval(sys.argv[2])
if sys.argv[3] == "thread":
    def late():
        time.sleep(0.3)
        (marks / "thread").write_text("finished")
    threading.Thread(target=late).start()
if sys.argv[4] == "command":
    run_then_exit(lambda: sys.exit(code))
exit_now(code)
"""


def run_child(tmp_path: Path, code: str, thread: str = "none", how: str = "direct") -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", CHILD, str(tmp_path), code, thread, how], capture_output=True,
                          text=True, env=env, timeout=60)


@pytest.mark.parametrize("how", ["direct", "command"])
@pytest.mark.parametrize(("code", "status"), [("0", 0), ("None", 0), ("2", 2), ("1", 1), ("141", 141), ("True", 1)])
def test_the_status_atexit_functions_and_buffered_output_are_pythons_and_the_teardown_is_skipped(
        tmp_path: Path, code: str, status: int, how: str) -> None:
    res = run_child(tmp_path, code, how=how)
    assert res.returncode == status
    assert res.stdout == "said, not yet flushed"
    assert res.stderr == "warned, not yet flushed"
    assert (tmp_path / "atexit").read_text() == "ran"
    assert not (tmp_path / "torn").exists()  # what exit_now saves: the modules' and objects' teardown


def test_a_code_that_is_no_number_is_printed_and_ends_in_one(tmp_path: Path) -> None:
    res = run_child(tmp_path, "'no such corpus'")
    assert res.returncode == 1
    assert res.stderr == "warned, not yet flushedno such corpus\n"
    assert (tmp_path / "atexit").read_text() == "ran"


@pytest.mark.parametrize("how", ["direct", "command"])
def test_a_thread_still_at_work_is_waited_for_as_python_waits(tmp_path: Path, how: str) -> None:
    res = run_child(tmp_path, "2", thread="thread", how=how)
    assert res.returncode == 2
    assert (tmp_path / "thread").read_text() == "finished"
    assert (tmp_path / "atexit").read_text() == "ran"
    assert res.stdout == "said, not yet flushed"
    assert (tmp_path / "torn").read_text() == "the teardown ran"  # Python's own exit, teardown included


def test_a_closed_reader_costs_no_traceback(tmp_path: Path) -> None:
    """A reader gone before the end (`ensemble-kit status | head -c0`): the flush fails quietly, the status stays."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), "0", "none", "direct"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={"PYTHONPATH": str(ROOT)})
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()
    err = child.stderr.read().decode()
    assert child.wait(timeout=60) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err
