"""The one click parameter type of the kit's flags (`KitParam`): a flag or its variable refused names the flag;
flags parse, the settings validate (no range is spelled here). A switch's option (`SwitchOption`) reads its variable
by the one rule of every switch (kit.infra.variables.switch), never by click's BOOL.

A number is read by its parser (kit.infra.flags.Int, Float, a Parser with `numeric = True`), never by click's int,
float, IntRange or FloatRange; a value option's variable is click's (`envvar=`), read and checked as the option is."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import click

from kit.errors import InputError
from kit.infra.flags import Parser
from kit.infra.outside import label

if TYPE_CHECKING:
    from kit.infra.arrays import ArrayPosition
    from kit.infra.rules import Rule
    from kit.infra.variables import Variable


class FlagError(click.BadParameter):
    """A flag's value refused, with the kit's one-line cause and its hint (the CLI prints both, exit 2)."""

    def __init__(self, message: str, hint: str, ctx: click.Context | None, param: click.Parameter | None) -> None:
        super().__init__(message, ctx, param)
        self.hint = hint


class SwitchOption(click.Option):
    """A switch flag's option (`--group-shared`), its variable read by its declaration (`variable`: the one reader
    of every KIT_ switch, whose refusal names it, exit 2, as every other switch's), where click would read it with
    its own BOOL."""

    def __init__(self, *args: Any, variable: Variable, **kwargs: Any) -> None:
        super().__init__(*args, envvar=variable.name, **{"is_flag": True, **kwargs})
        self.variable = variable

    def value_from_envvar(self, ctx: click.Context) -> Any:
        return self.variable.given()  # None unset or empty: the flag's default


class KitParam(click.ParamType):
    """A flag's type: `parser` reads the text, then the value is checked with its setting's `rules`."""

    def __init__(self, parser: Parser, rules: tuple[Rule, ...] = ()) -> None:
        self.parser, self.rules, self.name = parser, rules, parser.name

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):  # a default, already typed
            return value
        flag = max(param.opts, key=len) if param is not None and param.opts else self.name
        try:  # what a value must be, in a message: the setting's rule's words, or the parser's
            typed = self.parser.parse(value, flag, self.rules[0].value_words if self.rules else self.parser.fallback)
            for rule in () if self.parser.exempt(typed) else self.rules:  # the first of its rules it breaks
                if (why := rule.problem(typed)) is not None:
                    words = rule.words if self.parser.takes_off else rule.value_words
                    raise InputError(f"{label(flag, value)} {why}", hint=f"give {flag} {words}")
            return typed
        except InputError as exc:  # named by the flag, whoever said it (`unknown encoder 'x'`: --encoders 'x': ...)
            said = exc.message if exc.message.startswith(flag) else f"{label(flag, value)}: {exc.message}"
            raise FlagError(said, exc.hint, ctx, param) from None


class TrainTask(Parser):
    """`K/N` -> task K of N; `auto` -> the place of the array task this runs in (KIT_ARRAY_TASK, or Slurm's)."""

    name = "task"
    numeric = True

    def parse(self, text: str, flag: str, words: str = "") -> ArrayPosition:
        from kit.infra.arrays import parse_task

        return parse_task(text, flag, os.environ)
