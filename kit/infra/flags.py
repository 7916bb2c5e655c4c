"""A setting's flag (`Flag`, declared in its field: kit.infra.changes.setting; or a command's own: kit.cli.flags) and
its `Parser`, which turns the flag's text (or its KIT_ variable's) into the setting's typed value once: the generic
ones here (`Int`, `Float`, `IntList`, `Limit`, `AbsPath`, `Text`, `Choice`), a setting's own beside its record. What
a value may be is the setting's rule (kit.infra.rules), never the parser's.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import KW_ONLY, dataclass
from pathlib import Path
from typing import Any, ClassVar

from kit.infra.files import expanded
from kit.infra.outside import label, number, parse_float, parse_int, read_float, read_int, read_items
from kit.infra.rules import OFF
from kit.infra.variables import OF_FLAGS, Variable, flag_switch, of_flag


class Parser(ABC):
    """How a flag's text (or its KIT_ variable's) becomes its setting's typed value; a text that is none is an
    InputError with the kit's message and hint. `numeric`: its text holds numbers, read by kit.infra.outside."""

    name: str = "text"  # click's name of the type (upper-case, the metavar of a flag that gives none)
    numeric: ClassVar[bool] = False
    takes_off: ClassVar[bool] = False  # `off` is a value of the flag (a setting that may be None)
    fallback: ClassVar[str] = "a value"  # what a value must be, for a flag of no setting
    items: str = ""  # a list's parser: a list of two items it takes (tests/unit/test_list_items.py leaves one out)

    @abstractmethod
    def parse(self, text: str, flag: str, words: str = "") -> Any:
        """The value of `text` given to `flag` (`words`: what a value must be, its setting's rule says it)."""

    def exempt(self, value: Any) -> bool:
        """Whether `value` is a word the flag takes beyond the setting's rules (--train-tasks auto, for `slurm`)."""
        return False


class Text(Parser):
    """The text as given (a name; the setting's rules check it)."""

    def __init__(self, name: str = "text") -> None:
        self.name = name

    def parse(self, text: str, flag: str, words: str = "") -> str:
        return text


class Int(Parser):
    """A whole number in ASCII digits, in lo..hi for a flag of no setting (--shards)."""

    name = "integer"
    numeric = True
    fallback = "a whole number"

    def __init__(self, lo: int | None = None, hi: int | None = None) -> None:
        self.lo, self.hi = lo, hi

    def parse(self, text: str, flag: str, words: str = "") -> int:
        if self.lo is not None or self.hi is not None:
            return parse_int(text, flag, self.lo, self.hi)
        return number(lambda t: read_int(t, signed=True), text, f"{label(flag, text)} is not {words}",
                      f"give {words}, in ASCII digits")


class Float(Parser):
    """A finite number in plain ASCII notation, in [lo, hi] for a flag of no setting (hi None: no bound above)."""

    name = "float"
    numeric = True
    fallback = "a finite number"

    def __init__(self, lo: float | None = None, hi: float | None = None) -> None:
        self.lo, self.hi = lo, hi

    def parse(self, text: str, flag: str, words: str = "") -> float:
        if self.lo is not None or self.hi is not None:
            return parse_float(text, flag, self.lo, self.hi)
        return number(read_float, text, f"{label(flag, text)} is not {words}", f"give {words}")


class IntList(Parser):
    """`19,25,31` -> (19, 25, 31): whole numbers, in the order given (the rest is the setting's rules')."""

    numeric = True

    def __init__(self, example: str, name: str = "list") -> None:
        self.example, self.name = example, name
        self.items = ",".join(example.split(",")[:2])

    def parse(self, text: str, flag: str, words: str = "") -> tuple[int, ...]:
        hint = f"e.g. {flag} {self.example}"
        items = read_items(text, flag, hint)
        return number(lambda _: tuple(read_int(v, signed=True) for v in items), text,
                      f"{label(flag, text)} is not a comma-separated list of whole numbers", hint)


class Limit(Parser):
    """A threshold `X|off`: a number, or off (None); above 0 by the setting's rule. `example`: the number its hint
    gives; `by_rule`: a text that is no number is refused with the setting's rule's words (a share from 0 to 1, a
    correlation from -1 to 1), where a limit above 0 says `a positive number`."""

    name = "limit"
    numeric = True
    takes_off = True

    def __init__(self, example: str = "5", by_rule: bool = False) -> None:
        self.example, self.by_rule = example, by_rule

    def parse(self, text: str, flag: str, words: str = "") -> float | None:
        if text.strip().lower() in (OFF, "none"):
            return None
        what = words if self.by_rule and words else "a positive number"
        return number(read_float, text, f"{label(flag, text)} is neither {what} nor off",
                      f"e.g. {flag} {self.example}, or {flag} off")


class AbsPath(Parser):
    """A path, made absolute where it is given (the steps and the cluster's jobs run elsewhere)."""

    name = "path"

    def parse(self, text: str, flag: str, words: str = "") -> Path:
        path = expanded(text, flag)
        # `..` after a linked folder is the link's parent to the kernel: resolved so, the folders checked are written
        return Path(os.path.realpath(path)) if ".." in path.parts else path.absolute()


class Choice(Text):
    """One of `choices` (none given: those of the setting's OneOf rule); the CLI lists them as click does."""

    def __init__(self, choices: tuple[str, ...] = ()) -> None:
        self.choices = choices


@dataclass(frozen=True)
class Flag:
    """A setting's flag, declared in its field (or a command's own flag: kit.cli.flags): the option, how its text is
    read (None: an on/off switch), its help (a setting's flag without one is refused as its record's class is made:
    `setting`), and its place in `run --help` (`rank`, lowest first). `computed`: a default worked out at run time,
    named by the help. Its variable: KIT_MAX_ABS_BIAS for --max-abs-bias (`env`)."""

    opt: str  # --cqs
    parse: Parser | None
    help: str = ""
    _: KW_ONLY
    rank: int
    metavar: str | None = None
    computed: str = ""
    dest: str = ""  # the click parameter name when it is not the option's own (--from -> from_step)
    env: bool = True

    @property
    def name(self) -> str:
        return self.dest or self.opt[2:].replace("-", "_")

    @property
    def envvar(self) -> str | None:
        return of_flag(self.opt) if self.env else None

    @property
    def switch(self) -> Variable | None:
        """A switch's variable (kit.infra.variables: declared there where a layer below reads it too, else made from
        the flag), which its option reads by the one rule of every switch; None for a flag that takes a value (its
        parser reads its variable's text as the flag's) or has no variable."""
        if self.parse is not None or self.envvar is None:
            return None
        return OF_FLAGS.get(self.envvar) or flag_switch(self.opt)
