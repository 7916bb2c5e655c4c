"""Usage errors (a bad flag value, an unknown option, a missing argument) as `error:` and `hint:` lines, exit 2;
with --json (or its variable) the `error` and `run_finished` events go to stdout too."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from importlib import import_module
from typing import Any

import click

from kit.cli.guard import report_failure
from kit.cli.params import FlagError
from kit.errors import EXIT_BAD_INPUT, InputError
from kit.infra import interrupts
from kit.infra.invocation import check_working_folder, kit_command, retry_command
from kit.infra.variables import JSON
from kit.infra.visible import visible


def cause_and_hint(exc: click.UsageError) -> tuple[str, str]:
    if isinstance(exc, FlagError):
        source = ""
        if exc.ctx is not None and exc.param is not None and exc.param.name and isinstance(exc.param, click.Option) \
                and exc.ctx.get_parameter_source(exc.param.name) == click.core.ParameterSource.ENVIRONMENT:
            source = f" (from {exc.param.envvar})"
        return f"{exc.message}{source}", exc.hint
    words = exc.ctx.command_path.split()[1:] if exc.ctx is not None else []
    message = exc.format_message() if isinstance(exc, click.BadParameter) else exc.message
    return message, f"see `{kit_command(*words, '--help')}`"


def json_mode(args: Sequence[str] | None) -> bool:
    """Whether the command was asked for NDJSON events (--json, or KIT_JSON), though its flags did not parse."""
    if "--json" in (sys.argv[1:] if args is None else args):
        return True
    with contextlib.suppress(InputError):  # the variable read as its option reads it (a value that is none: off here)
        return JSON.given() is True
    return False


def usage_events(exc: click.UsageError) -> list[str]:
    """The `error` and `run_finished` events a --json consumer reads for a run refused at its flags."""
    from kit.events import RunError, RunFinished
    from kit.infra.records import dump

    cause, hint = cause_and_hint(exc)
    # a flag refused: the same command is refused again (no retry)
    return [json.dumps(dump(e.to_json())) for e in (RunError(cause, hint, EXIT_BAD_INPUT, ""),
                                                    RunFinished(EXIT_BAD_INPUT, 0.0))]


class Commands(MutableMapping[str, click.Command]):
    """A group's commands by name, each imported the first time it is asked for (`where`: name -> "module:attribute"):
    a command run imports its own module alone (`status`: not run's flags, made from every setting, nor the cluster
    commands'); `--help` and a mistyped name ask for all of them."""

    def __init__(self, where: Mapping[str, str]) -> None:
        self.where, self.loaded = dict(where), dict[str, click.Command]()

    def __getitem__(self, name: str) -> click.Command:
        if name not in self.loaded:
            module, attribute = self.where[name].split(":")
            self.loaded[name] = getattr(import_module(module), attribute)
        return self.loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self.where.setdefault(name, "")
        self.loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self.where[name]
        self.loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self.where)

    def __len__(self) -> int:
        return len(self.where)


class KitGroup(click.Group):
    """The command group, printing usage errors as the kit prints every error."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        try:
            check_working_folder()  # before a flag's path is made absolute from it
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            if json_mode(args):
                click.echo("\n".join(usage_events(exc)))
            cause, hint = cause_and_hint(exc)  # the value given may hold a line break or an escape: made visible
            click.echo("\n".join(visible(line) for line in [f"error: {cause}", *([f"hint: {hint}"] if hint else [])]),
                       err=True)
            sys.exit(EXIT_BAD_INPUT)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort as exc:  # a stop signal while the flags were read (click turns it into Abort)
            signum = interrupts.signal_of(exc.__cause__ or exc.__context__)
            click.echo("\n".join(interrupts.stop_lines(signum, 0, retry_command())), err=True)
            sys.exit(128 + signum)
        except Exception as exc:  # not a usage error, raised while the flags were read: a KitError, or a bug
            sys.exit(report_failure(exc))  # never Python's own 1 for it, which would read as HOLD
        if standalone_mode:  # as click's own standalone mode: a command that returns (or --help) exits 0
            sys.exit(rv if isinstance(rv, int) else 0)
        return rv
