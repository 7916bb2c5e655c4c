"""The one exception -> exit-code mapping (kit/cli/guard.py) and what each path tells the user."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kit.cli.guard import exit_code_for, guarded
from kit.errors import (
    EXIT_BAD_INPUT,
    EXIT_BROKEN_PIPE,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    InputError,
    Interrupted,
    ToolError,
)
from kit.infra import interrupts, proc


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    # each test starts from a terminal's dispositions: a suite started under nohup (or by a runner that ignores
    # SIGHUP) inherits an ignored SIGHUP, which the guard rightly keeps ignoring (the nohup test below)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
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


def _signal_self(sig: int, then: Callable[[], int] = lambda: 0) -> Callable[[], int]:
    def fn() -> int:
        os.kill(os.getpid(), sig)  # the handler runs at the next instruction, as for a signal from outside
        return then()
    return fn


@pytest.mark.parametrize(("sig", "code", "by"), [(signal.SIGINT, 130, ""), (signal.SIGTERM, 143, " by SIGTERM"),
                                                 (signal.SIGHUP, 129, " by SIGHUP")])
def test_each_stop_signal_exits_128_plus_its_number_with_the_same_lines(
        sig: int, code: int, by: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(_signal_self(sig)) == code
    err = capsys.readouterr().err
    assert f"\ninterrupted{by} (0 running process(es) stopped); finished work is kept.\nresume with: " in err, err
    assert exit_code_for(Interrupted(sig)) == code


def test_a_signal_a_library_swallowed_still_ends_the_command_as_an_interrupt(
        capsys: pytest.CaptureFixture[str]) -> None:
    """pyarrow swallowed a KeyboardInterrupt raised inside the pandas import it makes lazily, and the run went on:
    the handler now raises nothing inside library code (a flag), the guard's poll ends the command."""
    def swallowed() -> int:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            sum(range(1000))
        except KeyboardInterrupt:
            pass
        return 0

    def then_broken() -> int:  # the library then fails on its half-done import: a consequence, not a bug
        swallowed()
        raise AttributeError("partially initialized module 'pandas' has no attribute '_pandas_datetime_CAPI'")

    assert _run(swallowed) == 143
    assert _run(then_broken) == 143
    err = capsys.readouterr().err
    assert err.count("interrupted by SIGTERM") == 2 and "internal error" not in err and "Traceback" not in err


def test_an_interrupt_python_cannot_pass_on_is_not_printed_and_still_ends_the_command(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A stop signal that lands in a `__del__` or a weakref callback (seen: SIGHUP during a garbage collection):
    raised there, Python swallowed the interrupt and handed it to its hook, which printed a traceback. The command
    ends with 129 and its two lines; the hook (here a recorder in place of Python's printer) never sees an
    interrupt, sees any other exception there as before, and is the kit's to leave alone."""
    seen: list[str] = []

    def hook(unraisable: Any) -> None:
        seen.append(type(unraisable.exc_value).__name__)

    monkeypatch.setattr(sys, "unraisablehook", hook)

    class Collected:
        def __init__(self, then: BaseException | None = None) -> None:
            self.then = then

        def __del__(self) -> None:
            if self.then is not None:
                raise self.then
            os.kill(os.getpid(), signal.SIGHUP)
            for _ in range(1000):  # the handler has run by now, inside __del__ (in os.kill from 3.11 on)
                pass

    def fn() -> int:
        Collected(ValueError("a bug elsewhere"))  # collected at once
        Collected()
        return 0

    assert _run(fn) == 129
    assert "interrupted by SIGHUP (0 running process(es) stopped); finished work is kept." in capsys.readouterr().err
    assert seen == ["ValueError"] and sys.unraisablehook is hook


def test_a_second_install_forgets_no_signal_and_the_end_puts_the_hook_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """kit/__main__.py installs the handlers before its imports, the guard again, Ray's adapter again after
    ray.init: a signal recorded in between still ends the command, and Python's hook is the one found first."""
    def hook(unraisable: Any) -> None:
        raise AssertionError("not called")

    monkeypatch.setattr(sys, "unraisablehook", hook)
    interrupts.install()
    with contextlib.suppress(Interrupted):  # swallowed, as third-party code may
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):
            pass
    interrupts.install()
    with pytest.raises(Interrupted):
        interrupts.check()
    interrupts.settle()
    interrupts.end()
    assert sys.unraisablehook is hook and interrupts.received() is None


def test_a_second_signal_lets_the_clean_up_finish_and_names_the_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    """Ctrl-C, then a kill while the command cleans up: the clean-up is not cut short (a flag, raised only where
    polled), and the latest signal names the exit code and the closing line."""
    cleaned = []

    def fn() -> int:
        try:
            os.kill(os.getpid(), signal.SIGINT)
            interrupts.check()
        finally:
            os.kill(os.getpid(), signal.SIGTERM)
            sum(range(1000))
            cleaned.append(True)
        return 0

    assert _run(fn) == 143 and cleaned == [True]
    assert "interrupted by SIGTERM (0 running process(es) stopped)" in capsys.readouterr().err


def test_a_sighup_ignored_by_nohup_stays_ignored() -> None:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    assert _run(_signal_self(signal.SIGHUP)) == 0


def test_the_exit_code_stands_when_the_terminal_is_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    """A dropped ssh session: SIGHUP, and every write to the terminal fails (EIO)."""
    class Gone(io.StringIO):
        def write(self, s: str) -> int:
            raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr("sys.stderr", Gone())
    assert _run(_signal_self(signal.SIGHUP)) == 129
    assert _run(_raise(InputError("bad"))) == EXIT_BAD_INPUT


def test_a_command_run_in_process_gives_the_signal_handlers_back() -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    _run(lambda: 0)
    _run(_raise(KeyboardInterrupt()))
    assert {s: signal.getsignal(s) for s in before} == before
