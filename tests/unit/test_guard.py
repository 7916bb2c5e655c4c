"""The one exception -> exit-code mapping (kit/cli/guard.py) and what each path tells the user."""

from __future__ import annotations

import errno
import signal
from collections.abc import Callable, Iterator

import pytest

from kit.cli.guard import exit_code_for, guarded
from kit.errors import EXIT_BAD_INPUT, EXIT_BROKEN_PIPE, EXIT_INTERNAL, EXIT_INTERRUPTED, InputError, ToolError
from kit.infra import proc


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for s, handler in handlers.items():
        signal.signal(s, handler)
    proc.allow_new()  # an interrupt path refuses new children: later tests must start them again


def _run(fn: Callable[[], int], retry: bool = True) -> int:
    with pytest.raises(SystemExit) as exc:
        guarded(fn, retry=retry)
    return int(exc.value.code or 0)


def _raise(exc: BaseException) -> Callable[[], int]:
    def fn() -> int:
        raise exc
    return fn


def test_a_user_error_is_one_line_a_hint_and_the_retry(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(_raise(ToolError("ffmpeg failed", hint="see the log", stderr_tail="a\nb"))) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "error: ffmpeg failed" in err and "    | b" in err and "hint: see the log" in err and "retry: " in err
    assert "Traceback" not in err


def test_a_full_disk_is_bad_input_not_a_bug(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(_raise(OSError(errno.ENOSPC, "No space left", "/out/x.json")), retry=False) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "error: disk full while writing /out/x.json" in err and "retry:" not in err


def test_ctrl_c_exits_130_and_prints_how_to_resume(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(_raise(KeyboardInterrupt())) == EXIT_INTERRUPTED
    err = capsys.readouterr().err
    assert "interrupted" in err and "resume with: " in err


def test_a_bug_keeps_its_traceback_and_never_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(_raise(ValueError("boom"))) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "Traceback" in err and "ValueError: boom" in err and "internal error" in err


def test_the_command_s_own_code_passes_through() -> None:
    assert _run(lambda: 1) == 1 and _run(lambda: 0) == 0


def test_every_exit_code_comes_from_one_mapping() -> None:
    assert exit_code_for(InputError("x")) == EXIT_BAD_INPUT
    assert exit_code_for(BrokenPipeError()) == EXIT_BROKEN_PIPE
    assert exit_code_for(KeyboardInterrupt()) == EXIT_INTERRUPTED
    assert exit_code_for(OSError(errno.EDQUOT, "quota")) == EXIT_BAD_INPUT
    assert exit_code_for(OSError(errno.EACCES, "denied")) == EXIT_INTERNAL
    assert exit_code_for(RuntimeError()) == EXIT_INTERNAL


def test_an_interrupt_stops_the_kit_even_when_its_parent_ignored_sigint() -> None:
    """A background job of a shell script inherits SIGINT ignored; the kit takes it back."""
    import os

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def interrupted() -> int:
        os.kill(os.getpid(), signal.SIGINT)
        return 0

    assert _run(interrupted) == EXIT_INTERRUPTED
