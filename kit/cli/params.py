"""Click parameter types of the run flags: each parses its text at the flag, with the kit's message and hint,
and hands over a typed value, parsed once: the settings travel as that value (kit.steps.settings), never as
text again. Flags parse, the settings validate: a run flag's type is bound to its setting's rules
(`KitType.bound`: the rules declared in the setting's field, which a --settings file and a run.json are checked with),
which it checks once the text is parsed; no range is spelled here.

Light to import: the kit modules they parse with load when a value is converted.
"""

from __future__ import annotations

import os
from abc import ABCMeta, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import click

from kit.errors import InputError
from kit.infra.outside import label, number, parse_float, parse_int, read_float, read_int, read_rate

if TYPE_CHECKING:
    from kit.corpus.split import ShardSpec
    from kit.infra.arrays import ArrayPosition
    from kit.infra.rules import Rule
    from kit.model.recipe import FoldsAsked
    from kit.platforms.grids import CqGrid

OFF = "off"
T = TypeVar("T")


class FlagError(click.BadParameter):
    """A flag's value refused, with the kit's one-line cause and its hint (the CLI prints both, exit 2)."""

    def __init__(self, message: str, hint: str, ctx: click.Context | None, param: click.Parameter | None) -> None:
        super().__init__(message, ctx, param)
        self.hint = hint


class KitType(click.ParamType, Generic[T], metaclass=ABCMeta):
    """A flag's type: parse with the kit's own parser, a refusal is a usage error carrying its hint.
    Each type says how its text becomes a value (`parse`); a type without it cannot be made.
    `numeric`: its text holds numbers, read by kit.infra.outside (tests/unit/test_outside_numbers.py feeds
    every such flag `²`, 5000 digits, nan and inf)."""

    numeric: ClassVar[bool] = False
    takes_off: ClassVar[bool] = False  # `off` is a value of the flag (a setting that may be None)
    rules: tuple[Rule, ...] = ()  # the setting's rules, once bound (a type of no setting has none)

    @abstractmethod
    def parse(self, text: str, flag: str) -> T:
        """The value of `text` given to `flag`; InputError (with a hint) when it is not one."""

    def bound(self, path: str) -> KitType[T]:
        """This type checking the rules of the setting at dotted `path` once it has parsed (a copy)."""
        from kit.infra.rules import rules_at
        from kit.steps.settings import RunSettings

        made = type(self).__new__(type(self))
        vars(made).update(vars(self), rules=rules_at(RunSettings, path))
        return made

    def exempt(self, value: T) -> bool:
        """Whether `value` is a word the flag takes beyond the setting's rules (--train-tasks auto, for `slurm`)."""
        return False

    @property
    def words(self) -> str:
        """What a value must be, as a message says it: the setting's rule's words, or `fallback`'s."""
        return self.rules[0].value_words if self.rules else self.fallback

    fallback = "a value"

    def check(self, value: T, shown: str, flag: str) -> None:
        """InputError for the first of the setting's rules `value` breaks (`shown` is the value as given)."""
        for rule in () if self.exempt(value) else self.rules:
            if (why := rule.problem(value)) is not None:
                words = rule.words if self.takes_off else rule.value_words
                raise InputError(f"{shown} {why}", hint=f"give {flag} {words}")

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):  # a default, already typed
            return value
        flag = max(param.opts, key=len) if param is not None and param.opts else self.name
        try:
            typed = self.parse(value, flag)
            self.check(typed, label(flag, value), flag)
            return typed
        except InputError as exc:  # named by the flag, whoever said it (`unknown encoder 'x'`: --encoders 'x': ...)
            said = exc.message if exc.message.startswith(flag) else f"{label(flag, value)}: {exc.message}"
            raise FlagError(said, exc.hint, ctx, param) from None


class Int(KitType[int]):
    """A whole number in ASCII digits (kit.infra.outside), in its setting's range once bound; lo..hi for a flag of
    no setting (--shards)."""

    name = "integer"
    numeric = True
    fallback = "a whole number"

    def __init__(self, lo: int | None = None, hi: int | None = None) -> None:
        self.lo, self.hi = lo, hi

    def parse(self, text: str, flag: str) -> int:
        if not self.rules:
            return parse_int(text, flag, self.lo, self.hi)
        return number(lambda t: read_int(t, signed=True), text, f"{label(flag, text)} is not {self.words}",
                      f"give {self.words}, in ASCII digits")


class Float(KitType[float]):
    """A finite number in plain ASCII notation, never nan or inf; in its setting's range once bound, in [lo, hi]
    for a flag of no setting (hi None: no bound above)."""

    name = "float"
    numeric = True
    fallback = "a finite number"

    def __init__(self, lo: float | None = None, hi: float | None = None) -> None:
        self.lo, self.hi = lo, hi

    def parse(self, text: str, flag: str) -> float:
        if not self.rules:
            return parse_float(text, flag, self.lo, self.hi)
        return number(read_float, text, f"{label(flag, text)} is not {self.words}", f"give {self.words}")


class IntList(KitType[tuple[int, ...]]):
    """`19,25,31` -> (19, 25, 31): whole numbers, in the order given (how many, which and whether each once: the
    setting's rules)."""

    name = "list"
    numeric = True

    def __init__(self, example: str) -> None:
        self.example = example

    def parse(self, text: str, flag: str) -> tuple[int, ...]:
        return number(lambda t: tuple(read_int(v, signed=True) for v in t.split(",") if v.strip()), text,
                      f"{label(flag, text)} is not a comma-separated list of whole numbers",
                      f"e.g. {flag} {self.example}")


class CqGrids(KitType["CqGrid"]):
    """`--cqs`: `auto`, `19,25,31`, `libsvtav1:20,32,44,56`, or entries joined by `;` (kit.platforms.grids)."""

    name = "grid"
    numeric = True
    EXAMPLE = "'libsvtav1:20,32,44,56'"

    def parse(self, text: str, flag: str) -> CqGrid:
        from kit.platforms.grids import AUTO_GRID, ENTRY_SEP, NAME_SEP, CqGrid, check_name

        if text.strip().lower() == AUTO_GRID:
            return CqGrid()
        every: tuple[int, ...] = ()
        named: dict[str, tuple[int, ...]] = {}
        values = IntList("19,25,31,37")
        for entry in (e.strip() for e in text.split(ENTRY_SEP) if e.strip()):
            name, sep, listed = entry.rpartition(NAME_SEP)
            name = name.strip()
            if sep and not name:
                raise InputError(f"{label(flag, text)} gives {listed.strip() or 'a list'} after {NAME_SEP!r} but "
                                 "names no encoder before it", hint=f"name an encoder or a family, e.g. {flag} "
                                                                    f"{self.EXAMPLE}, or give the list alone")
            if name:
                check_name(name, flag)
            if (name in named) or (not name and every):
                raise InputError(f"{label(flag, text)} gives {name or 'the list for every encoder'} twice",
                                 hint=f"give each entry once, e.g. {flag} {self.EXAMPLE}")
            if name:
                named[name] = values.parse(listed, flag)
            else:
                every = values.parse(listed, flag)
        if not every and not named:
            raise InputError(f"{label(flag, text)} is empty", hint=f"e.g. {flag} auto or {flag} {self.EXAMPLE}")
        return CqGrid(every, named)


class Scales(KitType[tuple[str, ...]]):
    """`--scales native,720,0.5`: the ladder's rungs (kit.media.ladder), written back canonically (at least one,
    each once, each able to give a picture: the setting's rules)."""

    name = "scales"
    numeric = True

    def parse(self, text: str, flag: str) -> tuple[str, ...]:
        from kit.media.ladder import NATIVE, parse_rung

        hint = f"e.g. {flag} native,0.5 or {flag} native,720,540,360"
        rungs = []
        for part in (p.strip() for p in text.split(",") if p.strip()):
            if part.lower() != NATIVE:  # ASCII digits, finite, bounded: then the rung's own rules
                number(read_float, part, f"{label(flag, part)} is neither native, a height in lines (540) nor a "
                       "fraction of the height (0.5)", hint)
            try:
                rungs.append(parse_rung(part))
            except ValueError as exc:
                raise InputError(f"{flag}: {exc}", hint=hint) from None
        return tuple(rungs)


class Range(KitType[tuple[int, ...]]):
    """`10,51` -> (10, 51): MIN,MAX (two values, MIN < MAX: the setting's rule)."""

    name = "range"
    numeric = True

    def __init__(self, example: str) -> None:
        self.values, self.example = IntList(example), example

    def parse(self, text: str, flag: str) -> tuple[int, ...]:
        return self.values.parse(text, flag)


class Limit(KitType["float | None"]):
    """A gate's threshold `X|off`: a number, or off (None); above 0 by the setting's rule."""

    name = "limit"
    numeric = True
    takes_off = True

    def parse(self, text: str, flag: str) -> float | None:
        if text.strip().lower() in (OFF, "none"):
            return None
        return number(read_float, text, f"{label(flag, text)} is neither a positive number nor off",
                      f"e.g. {flag} 5, or {flag} off")


class ClipErrorLimits(KitType["dict[str, float]"]):
    """`STAT:X[,STAT:X...]` or off: the largest error a held-out clip's pooled prediction may have, per pooling
    (kit.model.pooling.POOLS: mean, harmonic_mean, p1, min); X a number of VMAF points, above 0 by the setting's
    rule."""

    name = "limits"
    numeric = True
    takes_off = True

    def parse(self, text: str, flag: str) -> dict[str, float]:
        from kit.model.pooling import POOLS
        from kit.verdict.gate import clip_limits_problem

        if text.strip().lower() in (OFF, "none"):
            return {}
        hint = f"e.g. {flag} p1:4 or {flag} p1:4,min:8 (STAT one of {', '.join(POOLS)}), or {flag} off"
        limits: dict[str, float] = {}
        for part in (p.strip() for p in text.split(",")):
            stat, colon, value = part.partition(":")
            if not colon or stat.strip() not in POOLS:
                raise InputError(f"{label(flag, text)} is not STAT:X[,STAT:X] with STAT one of {', '.join(POOLS)}",
                                 hint=hint)
            if stat.strip() in limits:
                raise InputError(f"{label(flag, text)} names {stat.strip()} twice", hint=hint)
            limits[stat.strip()] = number(read_float, value, f"{label(flag, text)}: {stat.strip()}'s limit is not a "
                                                             "number", hint)
        if (why := clip_limits_problem(limits)) is not None:  # the setting's rule, for a caller of parse alone too
            raise InputError(f"{label(flag, text)} {why}", hint=hint)
        return {stat: limits[stat] for stat in POOLS if stat in limits}


class Shard(KitType["ShardSpec | None"]):
    """`K/N` -> ShardSpec(K, N); `auto` -> K and N of the array task this runs in (1/1 outside one)."""

    name = "shard"
    numeric = True

    def parse(self, text: str, flag: str) -> ShardSpec | None:
        from kit.corpus.split import parse_shard

        return parse_shard(text)


class Folds(KitType["FoldsAsked"]):
    """`loso`, `auto` or a whole number K >= 2 of grouped folds (`010` is 10)."""

    name = "folds"
    numeric = True

    def parse(self, text: str, flag: str) -> FoldsAsked:
        from kit.model.recipe import AUTO, LOSO

        value = text.strip(" \t\r\n").lower()  # ASCII space only, as every number the kit reads
        if value in (LOSO, AUTO):
            return value
        from kit.model.recipe import FOLDS_REFUSAL, folds_problem

        refused, hint = f"{label(flag, text)} {FOLDS_REFUSAL}", f"e.g. {flag} auto, {flag} loso or {flag} 10"
        k = number(lambda t: read_int(t, signed=True), value, refused, hint)
        if folds_problem(k) is not None:  # the setting's rule, for a caller of parse alone too
            raise InputError(refused, hint=hint)
        return k


AUTO_TASKS = -1  # --train-tasks auto: `slurm` makes it its --shards


class TrainTasks(KitType[int]):
    """`off` (or 0) -> 0: LOSO trains its members itself; N -> N tasks train them; `auto` -> AUTO_TASKS."""

    name = "tasks"
    numeric = True

    def parse(self, text: str, flag: str) -> int:
        value = text.strip().lower()
        if value == OFF:
            return 0
        if value == "auto":
            return AUTO_TASKS
        return number(lambda t: read_int(t, signed=True), text, f"{label(flag, text)} is neither off, auto nor a "
                      "number of tasks", f"give off, auto or a number of tasks, e.g. {flag} 8 (with `slurm`: {flag} "
                                         "auto, one per shard)")

    def exempt(self, value: int) -> bool:
        return value == AUTO_TASKS  # `slurm` makes it its --shards; `run` and `step` refuse it (kit.cli.flags)

class TrainTask(KitType["ArrayPosition"]):
    """`K/N` -> task K of N; `auto` -> the place of the array task this runs in (KIT_ARRAY_TASK, or Slurm's)."""

    name = "task"
    numeric = True

    def parse(self, text: str, flag: str) -> ArrayPosition:
        from kit.infra.arrays import parse_task

        return parse_task(text, flag, os.environ)


class Holdouts(KitType[tuple[str, ...]]):
    """`encoder`, `box`, `rung`, any of them joined by commas, or `none` -> the held-out validations to add, in the
    kit's order (kit.steps.settings.HOLDOUTS; a word of none of them is the setting's rule to refuse)."""

    name = "holdout"

    def parse(self, text: str, flag: str) -> tuple[str, ...]:
        from kit.steps.settings import HOLDOUTS

        asked = {v.strip() for v in text.split(",") if v.strip()} - {"none"}
        return tuple(k for k in HOLDOUTS if k in asked) + tuple(sorted(asked - set(HOLDOUTS)))


class Fps(KitType[str]):
    """`25`, `29.97`, `30000/1001` -> the exact rate as num/den."""

    name = "fps"
    numeric = True

    def parse(self, text: str, flag: str) -> str:
        from kit.media.decode import MAX_FPS, parse_fps

        hint = f"e.g. {flag} 25 or {flag} 30000/1001"
        number(read_rate, text, f"{label(flag, text)} is not a frame rate", hint)
        try:
            return parse_fps(text)
        except ValueError:
            raise InputError(f"{label(flag, text)} is not a frame rate above 0 and at most {MAX_FPS}", hint=hint) \
                from None


class Encoders(KitType[tuple[str, ...]]):
    """`libx264,h264_nvenc` or `auto` -> a tuple of names the kit knows."""

    name = "encoders"

    def parse(self, text: str, flag: str) -> tuple[str, ...]:
        from kit.platforms.encoders import parse_encoder_list

        return parse_encoder_list(text)


class TeacherModel(KitType[str]):
    """A libvmaf built-in model's name, or the path of a libvmaf model JSON file (checked as one, made absolute)."""

    name = "teacher"

    def parse(self, text: str, flag: str) -> str:
        from kit.media.teachers import setting_text

        return setting_text(text)


class AbsPath(KitType[Path]):
    """A path, made absolute where it is given (the steps and the cluster's jobs run elsewhere)."""

    name = "path"

    def parse(self, text: str, flag: str) -> Path:
        path = Path(text).expanduser()
        # `..` after a linked folder means the link's parent to the kernel, not the text's: resolve it as the
        # kernel does, so the folders checked are the ones written
        return Path(os.path.realpath(path)) if ".." in path.parts else path.absolute()


class RegistryField(KitType[str]):
    """Text for a field of the vmaf-tune registry rows, refused at the flag by its setting's rule (the registry's
    own, kit.bundle.registry: kit.steps.settings.registry_problem)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def parse(self, text: str, flag: str) -> str:
        return text
