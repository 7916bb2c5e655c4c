"""A child that floods stderr costs the kit a bounded buffer, not its output's size (kit/infra/proc.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from kit.infra.proc import STDERR_HEAD_BYTES, STDERR_KEEP_BYTES, BoundedBuffer
from tests import pace
from tests.conftest import ROOT

FLOOD_MB = 300
MEASURE = """
import resource, sys
from kit.infra.proc import run_process
res = run_process([sys.argv[1]], timeout_s=120, capture_stdout={capture}, on_stdout_line={on_line})
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, len(res.stderr), res.returncode)
print(res.stderr_tail.splitlines()[-1])
print(res.stderr.splitlines()[0])
"""


@pytest.fixture(scope="module")
def flood(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wrapper of the kind the issue found: 300 MB of lines on stderr, then its last word."""
    script = tmp_path_factory.mktemp("flood") / "ffmpeg-wrapper"
    script.write_text(f"#!/bin/sh\necho 'Input #0, first line' >&2\n"
                      f"yes 'frame=  123 fps= 10 q=-1.0 size= 1kB time=00:00:01 bitrate=1kbits/s noise' "
                      f"| head -c {FLOOD_MB * 1000 * 1000} >&2\necho >&2\necho 'the telling last line' >&2\nexit 3\n")
    script.chmod(0o755)
    quiet = script.with_name("quiet")
    quiet.write_text("#!/bin/sh\necho 'Input #0, first line' >&2\necho 'the telling last line' >&2\nexit 3\n")
    quiet.chmod(0o755)
    return script


def peak_kib(flood: Path, capture: bool, on_line: str) -> tuple[int, list[str]]:
    code = MEASURE.format(capture=capture, on_line=on_line)
    res = pace.run([sys.executable, "-c", code, str(flood)], capture_output=True, text=True, timeout=300,
                   env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    return int(lines[0].split()[0]), lines


@pytest.mark.parametrize(("capture", "on_line"), [(False, "None"), (True, "None"), (False, "lambda line: None")],
                         ids=["stderr-only", "stdout-captured", "stdout-streamed"])
def test_a_child_flooding_stderr_keeps_the_kit_small(flood: Path, capture: bool, on_line: str) -> None:
    baseline, _ = peak_kib(flood.with_name("quiet"), capture, on_line)  # the same child, a quiet command
    peak, lines = peak_kib(flood, capture, on_line)
    kept, code = int(lines[0].split()[1]), int(lines[0].split()[2])
    assert code == 3
    assert kept <= STDERR_HEAD_BYTES + STDERR_KEEP_BYTES + 65536 + 200, kept  # head, tail (+ a read), the note
    assert lines[1] == "the telling last line" and lines[2] == "Input #0, first line"
    assert peak - baseline < 64 * 1024, f"peak RSS {peak / 1024:.0f} MiB (quiet: {baseline / 1024:.0f} MiB)"


def test_the_bounded_buffer_keeps_the_head_and_the_tail() -> None:
    buf = BoundedBuffer(head=10, tail=20)
    for i in range(1000):
        buf.add(f"{i:05d}\n".encode())
    value = buf.value()
    assert value.startswith(b"00000\n0000") and value.endswith(b"00999\n")
    assert b"bytes) of output not kept" in value and len(value) < 10 + 20 + 6 + 60
    small = BoundedBuffer(head=10, tail=20)
    small.add(b"abc")
    assert small.value() == b"abc"


PATHS = """
import gc, sys
from kit.infra.proc import run_process
run_process(["echo", "out"], timeout_s=30, capture_stdout=True)
run_process(["sh", "-c", "echo a; echo b >&2; exit 3"], timeout_s=30, on_stdout_line=lambda line: None)
run_process(["sh", "-c", "echo quiet"], timeout_s=30)
def fail(line):
    raise ValueError(line)
for argv, kw in ((["sleep", "30"], {"timeout_s": 0.5}), (["echo", "x"], {"timeout_s": 30, "on_stdout_line": fail}),
                 (["/nonexistent/program"], {"timeout_s": 30})):
    try:
        run_process(argv, **kw)
    except Exception as exc:
        print(type(exc).__name__)
gc.collect()
"""


def test_every_path_closes_the_child_s_pipes() -> None:
    """Each child's stdout and stderr pipes are closed on every path (output kept, read line by line, dropped, a
    timeout, a failing callback, a program that cannot start), and the reaper at exit: Python's development mode
    names anything left to the garbage collector."""
    res = pace.run([sys.executable, "-X", "dev", "-c", PATHS], capture_output=True, text=True, timeout=120,
                   env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    assert res.stdout.split() == ["TimedOut", "ValueError", "CannotStart"], res.stderr
    assert "ResourceWarning" not in res.stderr, res.stderr
