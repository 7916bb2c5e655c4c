"""Click parameter types of the run flags: each validates its text at the flag, with the kit's message and hint,
and hands over a typed value, parsed once: the settings travel as that value (kit.steps.settings), never as
text again.

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

    @abstractmethod
    def parse(self, text: str, flag: str) -> T:
        """The value of `text` given to `flag`; InputError (with a hint) when it is not one."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):  # a default, already typed
            return value
        flag = max(param.opts, key=len) if param is not None and param.opts else self.name
        try:
            return self.parse(value, flag)
        except InputError as exc:
            raise FlagError(exc.message, exc.hint, ctx, param) from None


class Int(KitType[int]):
    """A whole number in lo..hi, in ASCII digits (kit.infra.outside.parse_int)."""

    name = "integer"
    numeric = True

    def __init__(self, lo: int, hi: int) -> None:
        self.lo, self.hi = lo, hi

    def parse(self, text: str, flag: str) -> int:
        return parse_int(text, flag, self.lo, self.hi)


class Float(KitType[float]):
    """A finite number in [lo, hi] (hi None: no bound above), in plain ASCII notation: never nan or inf."""

    name = "float"
    numeric = True

    def __init__(self, lo: float, hi: float | None = None) -> None:
        self.lo, self.hi = lo, hi

    def parse(self, text: str, flag: str) -> float:
        return parse_float(text, flag, self.lo, self.hi)


class IntList(KitType[tuple[int, ...]]):
    """`19,25,31` -> (19, 25, 31): whole numbers in lo..hi, each once, at least one."""

    name = "list"
    numeric = True

    def __init__(self, lo: int, hi: int, example: str) -> None:
        self.lo, self.hi, self.example = lo, hi, example

    def parse(self, text: str, flag: str) -> tuple[int, ...]:
        values = number(lambda t: tuple(read_int(v) for v in t.split(",") if v.strip()), text,
                        f"{label(flag, text)} is not a comma-separated list of whole numbers",
                        f"e.g. {flag} {self.example}")
        if not values:
            raise InputError(f"{label(flag, text)} is empty", hint=f"give at least one value to {flag}")
        if len(set(values)) != len(values):
            raise InputError(f"{label(flag, text)} repeats a value", hint="list each value once")
        if bad := [v for v in values if not self.lo <= v <= self.hi]:
            raise InputError(f"{flag} value {bad[0]} is outside {self.lo}..{self.hi}",
                             hint=f"use values from {self.lo} to {self.hi}")
        return values


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
        values = IntList(0, 255, "19,25,31,37")
        for entry in (e.strip() for e in text.split(ENTRY_SEP) if e.strip()):
            name, _, listed = entry.rpartition(NAME_SEP)
            name = name.strip()
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
    """`--scales native,720,0.5`: the ladder's rungs (kit.media.ladder), each once, written back canonically."""

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
        if not rungs:
            raise InputError(f"{label(flag, text)} is empty", hint=hint)
        if len(set(rungs)) != len(rungs):
            raise InputError(f"{label(flag, text)} repeats a rung", hint="list each rung once")
        return tuple(rungs)


class Range(KitType[tuple[int, int]]):
    """`10,51` -> (10, 51): MIN,MAX with MIN < MAX."""

    name = "range"
    numeric = True

    def __init__(self, lo: int, hi: int, example: str) -> None:
        self.values, self.example = IntList(lo, hi, example), example

    def parse(self, text: str, flag: str) -> tuple[int, int]:
        values = self.values.parse(text, flag)
        if len(values) != 2 or values[0] >= values[1]:
            raise InputError(f"{label(flag, text)} is not MIN,MAX with MIN < MAX", hint=f"e.g. {flag} {self.example}")
        return values[0], values[1]


class Limit(KitType["float | None"]):
    """A gate's threshold `X|off`: a positive number, or off (None)."""

    name = "limit"
    numeric = True

    def parse(self, text: str, flag: str) -> float | None:
        if text.strip().lower() in (OFF, "none"):
            return None
        refused, hint = f"{label(flag, text)} is neither a positive number nor off", f"e.g. {flag} 5, or {flag} off"
        value = number(read_float, text, refused, hint)
        if value <= 0:
            raise InputError(refused, hint=hint)
        return value


class ClipErrorLimits(KitType["dict[str, float]"]):
    """`STAT:X[,STAT:X...]` or off: the largest error a held-out clip's pooled prediction may have, per pooling
    (kit.model.pooling.POOLS: mean, harmonic_mean, p1, min); X a positive number of VMAF points."""

    name = "limits"
    numeric = True

    def parse(self, text: str, flag: str) -> dict[str, float]:
        from kit.model.pooling import POOLS

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
            limit = number(read_float, value, f"{label(flag, text)}: {stat.strip()}'s limit is not a number", hint)
            if limit <= 0:
                raise InputError(f"{label(flag, text)}: {stat.strip()}'s limit must be above 0", hint=hint)
            limits[stat.strip()] = limit
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
        refused, hint = f"{label(flag, text)} is neither loso, auto nor a number of folds of at least 2", \
            f"e.g. {flag} auto, {flag} loso or {flag} 10"
        k = number(read_int, value, refused, hint)
        if k < 2:
            raise InputError(refused, hint=hint)
        return k


AUTO_TASKS = -1  # --train-tasks auto: `slurm` makes it its --shards


class TrainTasks(KitType[int]):
    """`off` (or 0) -> 0: LOSO trains its members itself; N -> N tasks train them; `auto` -> AUTO_TASKS."""

    name = "tasks"
    numeric = True

    def parse(self, text: str, flag: str) -> int:
        from kit.infra.arrays import MAX_TASKS

        value = text.strip().lower()
        if value == OFF:
            return 0
        if value == "auto":
            return AUTO_TASKS
        return parse_int(text, flag, 0, MAX_TASKS, hint=f"give off, auto or a number of tasks up to {MAX_TASKS}, "
                                                        f"e.g. {flag} 8 (with `slurm`: {flag} auto, one per shard)")

class TrainTask(KitType["ArrayPosition"]):
    """`K/N` -> task K of N; `auto` -> the place of the array task this runs in (KIT_ARRAY_TASK, or Slurm's)."""

    name = "task"
    numeric = True

    def parse(self, text: str, flag: str) -> ArrayPosition:
        from kit.infra.arrays import parse_task

        return parse_task(text, flag, os.environ)


class Holdouts(KitType[tuple[str, ...]]):
    """`encoder`, `box`, `rung`, any of them joined by commas, or `none` -> the held-out validations to add, in the
    kit's order."""

    name = "holdout"
    KINDS = ("encoder", "box", "rung")

    def parse(self, text: str, flag: str) -> tuple[str, ...]:
        asked = {v.strip() for v in text.split(",") if v.strip()} - {"none"}
        if bad := sorted(asked - set(self.KINDS)):
            raise InputError(f"{flag} {bad[0]!r} is neither encoder, box nor rung",
                             hint=f"e.g. {flag} encoder, {flag} rung or {flag} encoder,box,rung ({flag} none: none)")
        return tuple(k for k in self.KINDS if k in asked)


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
    """Text for a field of the vmaf-tune registry rows, refused at the flag by the registry's own rule for it
    (`rule`: a function of kit.bundle.registry, loaded when a value is converted: the reason, or None)."""

    def __init__(self, name: str, rule: str, example: str) -> None:
        self.name, self.rule, self.example = name, rule, example

    def parse(self, text: str, flag: str) -> str:
        from kit.bundle import registry

        if (why := getattr(registry, self.rule)(text)) is not None:
            raise InputError(f"{flag} {text!r}: {why}", hint=f"e.g. {flag} {self.example}")
        return text
