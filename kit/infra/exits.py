"""How a process that ran one command ends (the entry points: kit.cli.main, kit/run_full_pipeline.py, the incumbent's
child kit.model.incumbent_child).

Python's own exit does four things, in order: it waits for every thread that is not a daemon, runs the atexit
functions, flushes sys.stdout and sys.stderr, then frees every module and object one by one. Once torch, pandas and
pyarrow are loaded, that last part alone costs about 0.4 s of CPU (bench/README.md, "A process's end without the
teardown"), and no one sees anything of it: every file the kit writes is closed before the command returns (a Tree's
atomic writes), and its logs flush each line they append (steps/runner.StepLog, corpus/progress.DoneList).

`exit_now` does the first three as Python does, then ends the process with os._exit. While a thread that is not a
daemon still runs, it leaves the whole exit to Python, which waits for it. One difference is kept on purpose: where
the last flush fails (the reader of the output went away), Python says "Exception ignored" and ends with 120, where
`exit_now` keeps the command's own status (kit.cli.guard has already said what is said of a reader gone). A command
run inside another program (a test's CliRunner) never comes here: only the entry points call it."""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from collections.abc import Callable
from typing import NoReturn


def run_then_exit(command: Callable[[], object]) -> NoReturn:
    """Run the command (which ends by SystemExit, as click's and kit.cli.guard's do), then `exit_now` with its code."""
    try:
        command()
    except SystemExit as stop:
        exit_now(stop.code)
    exit_now(0)


def exit_now(code: object) -> NoReturn:
    """End the process with `code` as sys.exit would (None is 0, another object is printed and is 1), skipping the
    teardown of modules and objects."""
    if any(t is not threading.main_thread() and t.is_alive() and not t.daemon for t in threading.enumerate()):
        raise SystemExit(code)  # a thread still at work: Python's own exit waits for it
    status = exit_status(code)
    atexit._run_exitfuncs()  # the kit's own (infra/proc's reaper) and every library's
    # the streams as the command left them, then Python's own where the command replaced them (the teardown would
    # have flushed those as it freed them)
    for stream in dict.fromkeys((sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)):
        if stream is not None:  # a reader gone or a stream closed: kit.cli.guard has said what is said of it
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
    os._exit(status)


def exit_status(code: object) -> int:
    """The status sys.exit(code) ends a process with (a code that is not a number printed to stderr, as it does); a
    number as the C int Python hands the system, its low 32 bits (a crashed child's code on Windows, 0xC0000005 and
    the like, passed on by `ensemble-kit ffmpeg`, is past what os._exit takes)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return (code + 2**31) % 2**32 - 2**31
    with contextlib.suppress(OSError, ValueError, AttributeError):
        print(code, file=sys.stderr)
    return 1
