"""Usage errors (a bad flag value, an unknown option, a missing argument) in the kit's own form:

    error: --cqs '19,abc' is not a comma-separated list of whole numbers
    hint: e.g. --cqs 19,25,31,37

exit 2, as every other bad input; a flag's type (kit.cli.params) carries the hint of the kit's parser, other
usage errors point at the command's --help. Nothing has run yet, so there is nothing to retry or resume.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click

from kit.cli.params import FlagError
from kit.errors import EXIT_BAD_INPUT
from kit.infra.invocation import kit_command
from kit.infra.visible import visible


def usage_lines(exc: click.UsageError) -> list[str]:
    if isinstance(exc, FlagError):
        source = ""
        if exc.ctx is not None and exc.param is not None and exc.param.name and isinstance(exc.param, click.Option) \
                and exc.ctx.get_parameter_source(exc.param.name) == click.core.ParameterSource.ENVIRONMENT:
            source = f" (from {exc.param.envvar})"
        return [f"error: {exc.message}{source}", *([f"hint: {exc.hint}"] if exc.hint else [])]
    words = exc.ctx.command_path.split()[1:] if exc.ctx is not None else []
    message = exc.format_message() if isinstance(exc, click.BadParameter) else exc.message
    return [f"error: {message}", f"hint: see `{kit_command(*words, '--help')}`"]


class KitGroup(click.Group):
    """The command group, printing usage errors as the kit prints every error."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            for line in usage_lines(exc):
                click.echo(visible(line), err=True)  # the value given may hold a line break or an escape
            sys.exit(EXIT_BAD_INPUT)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("interrupted", err=True)
            sys.exit(130)
        if standalone_mode:  # as click's own standalone mode: a command that returns (or --help) exits 0
            sys.exit(rv if isinstance(rv, int) else 0)
        return rv
