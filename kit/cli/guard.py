"""The guard every command runs under (a leaf: it imports no command), and the one mapping from an exception to an
exit code: a KitError's own, a stop signal's 128 + N, a reader gone 141 quietly, a full disk 2. An OSError is the
user's (2) only when it names a path and its errno is one the environment causes (PATH_CAUSES), or stdout is closed;
any other (ENOENT, EINVAL, ...) is a bug, as the kit made or checked those paths itself: 70, with its traceback.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from tempfile import gettempdir
from typing import Any

import click

from kit.errors import EXIT_BROKEN_PIPE, EXIT_INTERNAL, EXIT_INTERRUPTED, Interrupted, KitError
from kit.events import Event, RunError, RunFinished
from kit.infra import interrupts, proc, scratch
from kit.infra.files import OWN_CAUSES, TMP_MARK, disk_full_at, no_home
from kit.infra.invocation import retry_command
from kit.infra.resources import resource_error
from kit.infra.variables import CACHE_DIR, NUMBERS, OF_FLAGS, VARIABLES, check_variables, unknown_variable_warnings
from kit.infra.visible import traceback_lines, visible

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
# errno -> what it means for the path, for the OSErrors that are the environment's, not the kit's
PATH_CAUSES = {
    errno.EACCES: "permission denied", errno.EPERM: "operation not permitted",
    errno.EROFS: "the file system is read-only", errno.ENAMETOOLONG: "a name in the path is too long",
    errno.ENOTDIR: "a part of the path is a file, not a folder", errno.EISDIR: "it is a folder, not a file",
    errno.EEXIST: "a file of that name is in the way", errno.ELOOP: "too many levels of symbolic links",
    errno.EIO: "an input/output error (a failing disk or a lost network mount?)",
}


def path_error(exc: OSError) -> KitError | None:
    """The user error for an OSError about a path the user chose or the kit's cache; None for a bug."""
    cause = PATH_CAUSES.get(exc.errno or 0)
    if cause is None or not exc.filename:
        return None
    path = Path(os.fsdecode(exc.filename))
    shown = f"in {path.parent}" if path.name.startswith(TMP_MARK) else str(path)
    cache: Path | None = None
    with contextlib.suppress(Exception):  # HOME unset and no KIT_CACHE_DIR: there is no cache to blame
        from kit.infra.host import cache_dir

        cache = cache_dir().absolute()
    if cache is not None and path.absolute().is_relative_to(cache):
        # the fix is a variable the same command line does not carry: no `retry:` of it
        return KitError(f"cannot write the kit's cache {shown}: {cause}",
                        hint=f"set {CACHE_DIR.name} to a folder you can write (it holds probe results, clip hashes, "
                             "the demo clips and the box's signing key) and rerun", retry_helps=False)
    if temporary(path):  # where a command unpacks or scratches (verify's tarball): TMPDIR chooses it
        return KitError(f"cannot write {shown}: {cause}",
                        hint=f"set TMPDIR to a folder you can write (now {scratch.said_temp_folder()}); nothing "
                             "already computed is lost")
    return KitError(f"cannot write {shown}: {cause}", hint=path_fix(exc.errno or 0, ""),
                    by_flag=tuple((flag, path_fix(exc.errno or 0, flag)) for flag in PLACES))


def path_fix(err: int, flag: str) -> str:
    """The fix of a path the command cannot write, naming `flag` (the one that chooses it; "": none)."""
    if err == errno.ENAMETOOLONG:
        fix = f"choose a shorter path{f' ({flag})' if flag else ''}"
    elif err in (errno.ENOTDIR, errno.EEXIST, errno.EISDIR):
        fix = f"choose another path{f' ({flag})' if flag else ''}, or move the file that is in the way"
    elif err == errno.EROFS:  # no permission of the user's makes it writable
        fix = f"choose a folder on a file system you can write{f' (another {flag})' if flag else ''}, or remount it " \
              "read-write"
    else:
        fix = f"choose a folder you can write{f' (another {flag})' if flag else ''}, or fix its permissions"
    return f"{fix}; nothing already computed is lost"


# the flags that choose where a command writes, in the order a hint names the first its command has: the out-dir
# (run, step, the cluster commands), merge's and export's -o
PLACES = ("--out-dir", "-o")


# the folders a command makes in the temporary folder (TMPDIR) to unpack or probe in: kit.infra.archive's
# extraction_dir (`verify`, `merge`), `detect`'s
TEMPORARY_FOLDERS = (f"{TMP_MARK}kit-", "kit-detect-")


def temporary(path: Path) -> bool:
    """Whether `path` lies in a folder a command made in the temporary folder (TMPDIR's) to unpack what it reads."""
    with contextlib.suppress(OSError, ValueError):
        inside = path.absolute().relative_to(Path(gettempdir()).absolute()).parts
        return len(inside) > 1 and inside[0].startswith(TEMPORARY_FOLDERS)
    return False


def misspelt_variables() -> list[str]:
    """The warnings of KIT_ names set that the kit does not read. The names are looked up in kit.infra.variables'
    declarations, then among run's settings' variables, and only a name neither knows has every command's options
    walked for it: a command (`status`) loads no other command's module to learn that KIT_SEEDS is run's."""
    lines: list[str] = []
    for known in (declared_variables, setting_variables, known_variables):
        if not (lines := unknown_variable_warnings(known())):
            break
    return lines


def declared_variables() -> frozenset[str]:
    """The variables kit.infra.variables declares: the kit's own and those a layer below the CLI reads."""
    return frozenset({*VARIABLES, *NUMBERS, *OF_FLAGS})


def setting_variables() -> frozenset[str]:
    """Those and the variables of run's settings' flags (kit.steps.settings, which `status` reads runs with too)."""
    from kit.infra.changes import flags_of
    from kit.steps.settings import RunSettings

    return declared_variables() | {flag.envvar for _, flag, _ in flags_of(RunSettings) if flag.envvar}


def known_variables() -> frozenset[str]:
    """Every variable the kit reads: its own (kit.infra.variables) and each option's of every command of the tree."""
    names = set(declared_variables())
    ctx = click.get_current_context(silent=True)
    todo: list[click.Command] = [ctx.find_root().command] if ctx is not None else []
    while todo:
        cmd = todo.pop()
        todo += list(cmd.commands.values()) if isinstance(cmd, click.Group) else []
        for param in cmd.params:
            envvar = getattr(param, "envvar", None)
            names.update([envvar] if isinstance(envvar, str) else envvar or ())
    return frozenset(names)


def command_flags() -> frozenset[str]:
    """The options of the command that runs (its click definition): what a hint it prints may name."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return frozenset()
    return frozenset(opt for param in ctx.command.params for opt in (*param.opts, *param.secondary_opts)
                     if opt.startswith("-"))


class OutputError(KitError):
    """Standard output or error cannot be written (`> /dev/full`): not a fault of the out-dir."""

    def __init__(self, stream: str, exc: OSError) -> None:
        cause = (exc.strerror or str(exc)).lower() if exc.errno != errno.EBADF else "it is closed"
        where = "a full disk or device (> /dev/full, or a file on a full disk)" if exc.errno in DISK_FULL else \
            "somewhere it cannot be written"
        super().__init__(f"cannot write to standard {stream}: {cause}",
                         hint=f"standard {stream} goes to {where}: redirect it to a file on a disk with room, or "
                              f"drop the redirect; the out-dir is fine and finished work in it is kept")


class _Output:
    """sys.stdout or stderr during a command: a failed write names its stream (a gone reader stays the quiet 141)."""

    def __init__(self, stream: Any, name: str) -> None:
        self._stream, self._name = stream, name

    def write(self, text: str) -> int:
        return self._guard(self._stream.write, text) or len(text)

    def flush(self) -> None:
        self._guard(self._stream.flush)

    def _guard(self, op: Callable[..., Any], *args: Any) -> Any:
        try:
            return op(*args)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(self._name, exc) from exc

    def __getattr__(self, attr: str) -> Any:  # isatty, fileno, encoding, buffer: the stream's own
        return getattr(self._stream, attr)


def exit_code_for(exc: BaseException) -> int:
    """The exit code of a command that raised `exc`: a user error's own (as_user_error), else a bug's."""
    if isinstance(exc, KeyboardInterrupt):
        return exc.exit_code if isinstance(exc, Interrupted) else EXIT_INTERRUPTED
    if isinstance(exc, BrokenPipeError):
        return EXIT_BROKEN_PIPE
    user = as_user_error(exc)
    return user.exit_code if user is not None else EXIT_INTERNAL


def as_user_error(exc: BaseException) -> KitError | None:
    """The KitError a user sees for `exc`; None for an interrupt, a broken pipe or a bug."""
    if isinstance(exc, KitError):
        return exc
    if (limit := resource_error(exc)) is not None:  # memory, open files, a file's size: the box's limits
        return limit
    if isinstance(exc, RuntimeError) and "home directory" in str(exc).lower():  # `~` or a user folder, with none
        return KitError(no_home("a path of yours (one given with `~`, or the user's cache or configuration folder)"),
                        hint=f"set HOME (export HOME=/path/to/your/folder), or {CACHE_DIR.name} for the kit's cache, "
                             "then run the command again", retry_helps=False)
    if not isinstance(exc, OSError):
        return None
    if (own := own_folder_error(exc)) is not None:  # the out-dir, the cache, the temporary folder: named
        return own
    if exc.errno in DISK_FULL:
        return disk_full(exc)
    if exc.errno == errno.EBADF and not exc.filename:  # stdout closed (`cmd >&-`)
        return KitError("cannot write to standard output: it is closed",
                        hint="run the command with its output open, or redirect it to a file (> out.txt)")
    return path_error(exc)


OWN_FIXES = {  # role -> (what frees or mends it, how to choose another), the same command run again after
    "out-dir": ("the out-dir", "choose another --out-dir"),
    "the kit's cache": ("the kit's cache (probe results, clip hashes, the demo clips and the box's signing key)",
                        f"set {CACHE_DIR.name} to a folder"),
    "the kit's temporary folder": ("the temporary folder", "set TMPDIR to a folder"),
}


def kit_folders() -> list[tuple[Path, str]]:
    """The folders the running command writes, (where, its role), the most particular first: this process's
    private temporary folder (its children's inside it), the out-dir, the kit's cache. (The user's TMPDIR is not
    one: an out-dir may lie in /tmp.)"""
    found: list[tuple[Path, str]] = []
    if (mine := scratch.private_folder()) is not None:
        found.append((mine, "the kit's temporary folder"))
    ctx = click.get_current_context(silent=True)
    value = ctx.params.get("out_dir") if ctx is not None else None  # merge's -o: disk_full's and path_error's words
    if isinstance(value, str | Path) and str(value):
        found.append((Path(os.path.abspath(value)), "out-dir"))
    with contextlib.suppress(Exception):  # HOME unset and no KIT_CACHE_DIR: there is no cache to blame
        from kit.infra.host import cache_dir

        found.append((Path(os.path.abspath(cache_dir())), "the kit's cache"))
    return found


def own_folder_error(exc: OSError) -> KitError | None:
    """An OSError of a file below one of the kit's own folders (kit_folders) that the box caused: the folder full,
    over its quota, unwritable, or removed while the kit ran (where it is gone: else ENOENT is a bug), said in one
    line naming the folder and its role, the same command offered again once it is mended; None otherwise."""
    cause = OWN_CAUSES.get(exc.errno or 0)
    if cause is None:
        return None
    folders = kit_folders()
    if not exc.filename and exc.errno in DISK_FULL:  # a write through a file object: the folder whose disk is full
        full = next(((f, r) for f, r in folders if disk_full_at(f)), None)
        return own_folder_said(exc, full[0], full[0], full[1]) if full is not None else None
    if not exc.filename:
        return None
    path = Path(os.path.abspath(os.fsdecode(exc.filename)))
    found = next(((f, r) for f, r in folders if path == f or path.is_relative_to(f)), None)
    if found is None:
        return None
    folder, role = found
    if exc.errno == errno.ENOENT and folder.is_dir():
        return None  # it is there: what is missing below it the kit made or checked itself (a bug)
    return own_folder_said(exc, path, folder, role)


def own_folder_said(exc: OSError, path: Path, folder: Path, role: str) -> KitError:
    """own_folder_error's line: `folder`'s cause (OWN_CAUSES) while `path` below it was written, and the fix."""
    cause = OWN_CAUSES[exc.errno or 0]
    what, another = OWN_FIXES[role]
    fix = {errno.ENOSPC: f"free space on the disk of {what}, or {another} on a disk with room; then run",
           errno.EDQUOT: f"free space within your quota, or {another}; then run",
           errno.ENOENT: "run",  # the kit makes it again
           errno.EROFS: f"remount the file system of {what} read-write, or {another}; then run",
           }.get(exc.errno or 0, f"fix its permissions (or its immutable flag), or {another}; then run")
    return KitError(cause.format(folder=folder, role=role) + (f", writing {path}" if path != folder else ""),
                    hint=f"{fix} the same command again: every finished output is kept and half-written files are "
                         "never used", retry_helps=True)


def disk_full(exc: OSError) -> KitError:
    """A full disk, said of where the command was writing: the temporary folder (TMPDIR's), or its out-dir or -o."""
    kept = "every finished output is kept and half-written files are never used"
    path = Path(os.fsdecode(exc.filename)) if exc.filename else None
    if path is not None and temporary(path):
        return KitError(f"disk full while writing {path} (in the temporary folder, {scratch.said_temp_folder()})",
                        hint=f"free some space on that folder's disk, or set TMPDIR to a folder on a disk with room, "
                             f"and rerun: {kept}")
    return KitError(f"disk full while writing {exc.filename or 'an output'}",
                    hint=f"free some space on that disk and rerun: {kept}",
                    by_flag=(("--out-dir", f"free some space (or choose another --out-dir) and rerun: {kept}"),
                             ("-o", f"free some space (or give -o a file on another disk) and rerun: {kept}")))


def outcome(exc: BaseException) -> BaseException:
    """What ended the command: `exc`, or the latest stop signal that came before it. After a signal, whatever
    failed follows from it (a child the same signal killed: `pkill ffmpeg` with a Ctrl-C)."""
    signum = interrupts.received()
    return Interrupted(signum) if signum is not None else exc


def failure_events(exc: BaseException, retry: str, seconds: float) -> list[Event]:
    """`error` (not for an interrupt) and `run_finished` for a run that raised; none for a broken pipe."""
    exc = outcome(exc)
    code = exit_code_for(exc)
    if code == EXIT_BROKEN_PIPE or not isinstance(exc, Exception | KeyboardInterrupt):
        return []
    events: list[Event] = []
    if (user := as_user_error(exc)) is not None:
        events.append(RunError(user.message, user.hint_for(command_flags()), code, retry if user.retry_helps else ""))
    elif code == EXIT_INTERNAL:
        events.append(RunError(f"internal error: {type(exc).__name__}: {exc}", "a bug in the kit; see the step log",
                               code, retry))
    return [*events, RunFinished(code, round(seconds, 3))]


def say(line: str) -> None:
    """One line on stderr, unless stderr is gone (a closed terminal): the exit code still tells."""
    with contextlib.suppress(OSError, ValueError):
        click.echo(line, err=True)


def report_error(exc: KitError) -> None:
    """`error:`, the tool's last lines, `hint:`; each on its own line, names in them made visible."""
    say(f"error: {visible(exc.message)}")
    for line in getattr(exc, "stderr_tail", "").splitlines()[-8:]:
        say(f"    | {visible(line)}")
    if hint := exc.hint_for(command_flags()):
        say(f"hint: {visible(hint)}")


def _quiet_stdout() -> None:
    """What is still buffered for stdout goes nowhere: a failed flush at exit would print a traceback, exit 120."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def guard(fn: Callable[..., int | None], retry: bool = False) -> Callable[..., None]:
    """A command's callback run under `guarded`: what it returns is the exit code, None 0."""
    @functools.wraps(fn)
    def callback(*args: Any, **kwargs: Any) -> None:
        guarded(lambda: fn(*args, **kwargs) or 0, retry)
    return callback


def guarded(fn: Callable[[], int], retry: bool = True) -> None:
    """Run fn and exit with its code, or with the code and message its exception deserves."""
    interrupts.install()
    proc.allow_new()
    try:
        code = _run(fn)
    except (Exception, KeyboardInterrupt) as caught:  # every exit path is decided here, once (_run settled it)
        code = report_failure(caught, retry)
    finally:
        interrupts.end()
    try:
        sys.stdout.flush()
    except (OSError, ValueError, AttributeError):
        _quiet_stdout()
    sys.exit(code)


def _run(fn: Callable[[], int]) -> int:
    try:
        interrupts.check()  # a stop signal while the command's modules loaded or its flags were read
        if sys.stdout is None:  # Python's stdout when the kit starts with descriptor 1 closed (`cmd >&-`)
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        check_variables()  # every KIT_ variable of kit.infra.variables, as the command starts: a bad one is exit 2
        for line in misspelt_variables():  # a misspelt one (KIT_SEED), said once
            say(f"warning: {line}")
        if interrupts.is_whole_process():  # the process's own temporary folder, before any library loads
            scratch.open_scratch()
        errors = _Output(sys.stderr, "error") if sys.stderr is not None else None
        with contextlib.redirect_stdout(_Output(sys.stdout, "output")), contextlib.redirect_stderr(errors):
            code = fn()
        interrupts.check()  # a stop signal since the last poll ends the command as one
        return code
    finally:
        interrupts.settle()


def report_failure(exc: BaseException, retry: bool = False) -> int:
    """Stop what still runs, say why the command ended (`exc`, or the stop signal before it), inside `guarded` or
    outside (while its flags were read); returns its exit code, never Python's 1, which means HOLD."""
    exc = outcome(exc)
    code = exit_code_for(exc)
    if code == EXIT_BROKEN_PIPE:
        proc.stop_all()  # the reader went away (`ensemble-kit detect | head`): quietly, as Unix tools do
        _quiet_stdout()
    elif isinstance(exc, KeyboardInterrupt):
        proc.stop_all()
        say("\n".join(interrupts.stop_lines(interrupts.signal_of(exc), proc.stopped_count(), retry_command())))
    elif (user := as_user_error(exc)) is not None:
        (proc.kill_all if isinstance(exc, KitError) else proc.stop_all)()
        report_error(user)
        if retry and user.retry_helps:
            say(f"retry: {retry_command()}")
    else:
        proc.stop_all()
        say("\n".join(traceback_lines(exc)))  # a bug: its traceback, each message on its own line
        say("error: internal error in ensemble-kit (a bug; the traceback is above)")
        say("hint: report it with the step log under <out-dir>/NN_step/logs/; finished work is kept")
    return code
