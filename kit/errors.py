"""The few error types of the kit. Exit codes live on the classes."""

from __future__ import annotations

from typing import NoReturn

EXIT_PROMOTE = 0
EXIT_HOLD = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of our output went away
EXIT_INTERNAL = 70  # a bug in the kit (EX_SOFTWARE); never 1, which means HOLD


class KitError(Exception):
    """A user-facing error: one line of cause, one line of hint, an exit code.

    Anything that is not a KitError is a bug and keeps its traceback.
    """

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class InputError(KitError):
    """Bad input: a flag, a clip, a corpus file."""


class PrereqError(KitError):
    """A missing or broken prerequisite: ffmpeg, libvmaf, an encoder, disk."""


class ToolError(KitError):
    """An external tool (ffmpeg) failed; the message carries its stderr tail."""

    def __init__(self, message: str, hint: str = "", stderr_tail: str = "") -> None:
        super().__init__(message, hint)
        self.stderr_tail = stderr_tail


def assert_never(value: NoReturn) -> NoReturn:
    """The arm of a `match` over a closed type (a Literal) that no value reaches: mypy reports a call that a value
    can reach, i.e. a member of the type without an arm of its own (typing.assert_never is 3.11+)."""
    raise AssertionError(f"unhandled value {value!r}")
