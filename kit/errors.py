"""The few error types of the kit. Exit codes live on the classes."""

from __future__ import annotations

from typing import assert_never as assert_never  # the arm of a `match` over a closed type that no value reaches

EXIT_PROMOTE = 0
EXIT_HOLD = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT; SIGTERM and SIGHUP end a run with 128 + theirs too (Interrupted)
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of our output went away
EXIT_INTERNAL = 70  # a bug in the kit (EX_SOFTWARE); never 1, which means HOLD


class KitError(Exception):
    """A user-facing error: one line of cause, one line of hint, an exit code (anything else is a bug)."""

    exit_code = EXIT_BAD_INPUT
    # whether the same command run again can end otherwise (a tool failed, a limit, a busy out-dir): `retry:` prints it
    retry_helps = True

    def __init__(self, message: str, hint: str = "", retry_helps: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if retry_helps is not None:
            self.retry_helps = retry_helps


class Interrupted(KeyboardInterrupt):
    """A signal that stops a command (SIGINT, SIGTERM, SIGHUP): exit 128 + its number; Ctrl-C's clean-ups run."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class InputError(KitError):
    """Bad input: a flag, a clip, a corpus file."""

    retry_helps = False


class PrereqError(KitError):
    """A missing or broken prerequisite: ffmpeg, libvmaf, an encoder, disk."""

    retry_helps = False


class ToolError(KitError):
    """An external tool (ffmpeg) failed; the message carries its stderr tail."""

    def __init__(self, message: str, hint: str = "", stderr_tail: str = "") -> None:
        super().__init__(message, hint)
        self.stderr_tail = stderr_tail


class ResourceLimit(KitError):
    """The box hit a limit (memory, open files, a file's size): the run stops, where a ToolError fails one job."""
