"""The one mapping from an exception to an exit code, and the guard every command runs under.

A leaf of the CLI: the commands import it, it imports no command. KitError ->
its exit code with one line of cause and a hint; Ctrl-C -> 130; a full disk ->
2; a reader that went away -> 141, quietly; anything else is a bug and keeps its
traceback (exit 70, never 1, which means HOLD).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from kit.errors import EXIT_BAD_INPUT, EXIT_BROKEN_PIPE, EXIT_INTERNAL, EXIT_INTERRUPTED, KitError
from kit.infra.invocation import retry_command

if TYPE_CHECKING:
    from kit.events import Event

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def exit_code_for(exc: BaseException) -> int:
    """The exit code of a command that raised `exc`."""
    if isinstance(exc, KitError):
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, BrokenPipeError):
        return EXIT_BROKEN_PIPE
    if isinstance(exc, OSError) and exc.errno in DISK_FULL:
        return EXIT_BAD_INPUT
    return EXIT_INTERNAL


def as_user_error(exc: BaseException) -> KitError | None:
    """The KitError a user sees for `exc`; None for an interrupt, a broken pipe or a bug."""
    if isinstance(exc, KitError):
        return exc
    if isinstance(exc, OSError) and exc.errno in DISK_FULL:
        return KitError(f"disk full while writing {exc.filename or 'an output'}",
                        hint="free some space (or choose another --out-dir) and rerun: every finished "
                             "output is kept and half-written files are never used")
    return None


def failure_events(exc: BaseException, retry: str, seconds: float) -> list[Event]:
    """`error` (not for an interrupt) and `run_finished` for a run that raised; none for a broken pipe."""
    from kit.events import RunError, RunFinished

    code = exit_code_for(exc)
    if code == EXIT_BROKEN_PIPE or not isinstance(exc, Exception | KeyboardInterrupt):
        return []
    events: list[Event] = []
    if (user := as_user_error(exc)) is not None:
        events.append(RunError(user.message, user.hint, code, retry))
    elif code == EXIT_INTERNAL:
        events.append(RunError(f"internal error: {type(exc).__name__}: {exc}", "a bug in the kit; see the step log",
                               code, retry))
    return [*events, RunFinished(code, round(seconds, 3))]


def report_error(exc: KitError) -> None:
    click.echo(f"error: {exc.message}", err=True)
    tail = getattr(exc, "stderr_tail", "")
    for line in tail.splitlines()[-8:]:
        click.echo(f"    | {line}", err=True)
    if exc.hint:
        click.echo(f"hint: {exc.hint}", err=True)


def guarded(fn: Callable[[], int], retry: bool = True) -> None:
    """Run fn and exit with its code, or with the code and message its exception deserves."""
    from kit.infra import proc

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    # a parent may hand us SIGINT ignored (a background job of a non-interactive shell): an interrupt sent
    # to the kit must still stop it, as it stops the ffmpegs beside it, so the run never outlives it
    signal.signal(signal.SIGINT, signal.default_int_handler)
    proc.allow_new()
    try:
        code = fn()
    except (Exception, KeyboardInterrupt) as exc:  # every exit path is decided here, once
        code = exit_code_for(exc)
        if code == EXIT_BROKEN_PIPE:
            # the reader went away (e.g. `ensemble-kit detect | head`): stop quietly, as Unix tools do
            proc.stop_all()
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        elif code == EXIT_INTERRUPTED:
            proc.stop_all()
            click.echo(f"\ninterrupted ({proc.stopped_count()} running process(es) stopped); finished work is kept.",
                       err=True)
            click.echo(f"resume with: {retry_command()}", err=True)
        elif (user := as_user_error(exc)) is not None:
            (proc.kill_all if isinstance(exc, KitError) else proc.stop_all)()
            report_error(user)
            if retry:
                click.echo(f"retry: {retry_command()}", err=True)
        else:
            proc.stop_all()
            # a bug, not a user error: keep the traceback visible
            traceback.print_exc()
            click.echo("error: internal error in ensemble-kit (a bug; the traceback is above)", err=True)
            click.echo("hint: report it with the step log under <out-dir>/NN_step/logs/; finished work is kept",
                       err=True)
    sys.exit(code)
