"""Live job progress: ffmpeg's -progress lines streamed through the process wrapper, throttled into events."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from kit import events as ev
from kit.corpus.scheduler import ProgressRelay
from kit.errors import ToolError
from kit.infra.proc import progress_frame, run_process
from kit.media.argv import COMMON, build_encode_argv, build_score_argv
from kit.platforms.encoders import get_spec
from tests import pace


def test_progress_lines_parse() -> None:
    assert [progress_frame(x) for x in ("frame=12", "frame= 7 ", "fps=3.0", "frame=", "progress=end")] == \
        [12, 7, None, None, None]


def test_builders_ask_for_progress_only_when_told() -> None:
    spec = get_spec("libx264")
    plain = build_encode_argv("ffmpeg", ["-i", "ref.y4m"], spec, 25, "out.h264")
    live = build_encode_argv("ffmpeg", ["-i", "ref.y4m"], spec, 25, "out.h264", progress=True)
    assert "-progress" not in plain
    assert live == [*plain[: 1 + len(COMMON)], "-progress", "pipe:1", *plain[1 + len(COMMON):]]
    score = build_score_argv("ffmpeg", "d.h264", ["-i", "r.y4m"], 64, 48, "yuv420p", "v.json", 2, progress=True,
                             fps="25")
    assert score[1 + len(COMMON): 3 + len(COMMON)] == ["-progress", "pipe:1"] and score[-3:] == ["-f", "null", "-"]


def encode_argv(ffmpeg: str, out: Path, frames: int = 30) -> list[str]:
    return [ffmpeg, *COMMON, "-progress", "pipe:1", "-f", "lavfi", "-i", "testsrc2=s=160x120:r=25",
            "-frames:v", str(frames), "-c:v", "libx264", "-f", "h264", str(out)]


def test_stdout_lines_stream_to_the_callback_and_stderr_is_kept(ffmpeg: str, tmp_path: Path) -> None:
    lines: list[str] = []
    res = run_process(encode_argv(ffmpeg, tmp_path / "a.h264"), timeout_s=60, on_stdout_line=lines.append)
    assert res.returncode == 0 and res.stdout == b""
    frames = [f for f in map(progress_frame, lines) if f is not None]
    assert frames and frames[-1] == 30 and "progress=end" in lines
    assert "frame=" in res.stderr  # the final report the corpus step counts frames from


def test_a_failing_callback_is_raised_after_the_child_finished(ffmpeg: str, tmp_path: Path) -> None:
    def boom(line: str) -> None:
        raise RuntimeError(f"bad line {line!r}")

    with pytest.raises(RuntimeError, match="bad line"):
        run_process(encode_argv(ffmpeg, tmp_path / "b.h264"), timeout_s=60, on_stdout_line=boom)
    assert (tmp_path / "b.h264").stat().st_size > 0  # the child was drained and ran to the end


def test_a_streamed_child_past_its_timeout_is_killed_and_its_stderr_kept(tmp_path: Path) -> None:
    logged: list[str] = []
    with pytest.raises(ToolError, match="timed out after 1 s") as caught:
        run_process(["sh", "-c", "echo frame=1; echo stuck-here >&2; exec sleep 30"], timeout_s=1,
                    on_stdout_line=lambda _: None, log=logged.append)
    assert "stuck-here" in caught.value.stderr_tail
    assert logged[0].startswith("$ ") and "stuck-here" in logged[-1]  # the step log has the tail too


def test_a_child_whose_own_child_keeps_the_pipes_open_does_not_hang(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kit.infra.proc.ORPHAN_PIPE_GRACE_S", 0.3)
    pid_file = tmp_path / "orphan.pid"
    try:
        logged: list[str] = []
        with pace.ticking() as clock, pytest.raises(
                ToolError, match=r"sh exited \(code 0\) but a process it started kept its output open") as caught:
            run_process(["sh", "-c", f"sleep 20 & echo $! > {pid_file}; echo frame=1; echo on-stderr >&2; exit 0"],
                        timeout_s=600, on_stdout_line=lambda _: None, log=logged.append)
        # the orphan's 20 s, let alone the 600 s timeout, were not waited (in the box's own time: tests/pace.py)
        assert clock.seconds() < 15
        assert "on-stderr" in caught.value.stderr_tail and "on-stderr" in logged[-1]  # what it said is kept
    finally:
        if pid_file.is_file():
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_the_relay_throttles_per_job_and_phase(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([0.0, 0.2, 0.5, 1.1, 1.3, 2.0, 2.1])
    monkeypatch.setattr("kit.corpus.scheduler.time.monotonic", lambda: next(clock))
    got: list[ev.Event] = []
    relay = ProgressRelay(got.append, {"j": 100})
    for frames in (0, 10, 30, 55, 60, 100):
        relay("j", "encode", frames)
    relay("j", "score", 0)
    assert [(e.phase, e.frames_done) for e in got] == [("encode", 55), ("encode", 100)]  # type: ignore[attr-defined]
    assert got[0].fps == 50.0  # type: ignore[attr-defined]  # 55 frames in 1.1 s
