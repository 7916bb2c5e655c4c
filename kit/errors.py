"""The few error types of the kit. Exit codes live on the classes.

A refusal's message names the file or setting and its `hint:` says what to do; the CLI prints both where it refuses. A
hint names only flags of the commands that can print it (tests/unit/test_hint_flags.py); a flag some of them lack is a
`by_flag` alternative, said only by a command that has it (kit.cli.guard.command_flags). What a hint cannot say is in
docs/reference/troubleshooting.md, an encoder's in docs/encoders.md under its vendor."""

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

    def __init__(self, message: str, hint: str = "", retry_helps: bool | None = None,
                 by_flag: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        # a hint that names a flag, by the flag it names: said in place of `hint` by a command that has that flag
        # (hint_for), so that a hint never names a flag its command lacks (`verify` has no --out-dir)
        self.by_flag = by_flag
        if retry_helps is not None:
            self.retry_helps = retry_helps

    def hint_for(self, flags: frozenset[str]) -> str:
        """The hint as a command of these `flags` says it: the first of `by_flag` whose flag it has, else `hint`."""
        return next((hint for flag, hint in self.by_flag if flag in flags), self.hint)


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

    def __init__(self, message: str, hint: str = "", stderr_tail: str = "",
                 by_flag: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message, hint, by_flag=by_flag)
        self.stderr_tail = stderr_tail


class ResourceLimit(KitError):
    """The box hit a limit (memory, open files, a file's size): the run stops, where a ToolError fails one job."""
