"""The parsers of RunSettings' own flags (kit.infra.flags.Parser): each makes its flag's text, or its KIT_ variable's,
the setting's typed value, or refuses it with the kit's message and hint; the setting's rules are checked after it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kit.errors import InputError
from kit.infra.flags import Parser
from kit.infra.outside import label, number, read_float, read_int, read_items, read_rate
from kit.infra.rules import OFF
from kit.media.decode import MAX_FPS, parse_fps
from kit.media.ladder import NATIVE, parse_rung
from kit.model.recipe import AUTO, FOLDS_REFUSAL, LOSO, FoldsAsked, folds_problem
from kit.platforms.grids import AUTO_GRID, ENTRY_SEP, NAME_SEP, CqGrid, check_name

HOLDOUTS = ("encoder", "box", "rung")  # --holdout's kinds, in the kit's order


class BoxName(Parser):
    """`--box-id`: a name, never empty (`--box-id ''` was taken for the host name without a word); what a file name
    may not hold of it is refused after (kit.cli.flags.check_box_id). Its variable set empty is unset, as every one."""

    def parse(self, text: str, flag: str, words: str = "") -> str:
        if not text.strip():
            raise InputError(f"{label(flag, text)} is empty: the box is named by it in its rows and its results "
                             "tarball", hint=f"give it a name (letters, digits, '-', '_', '.'), e.g. {flag} mybox, or "
                                             f"leave {flag} out to name the box by its host")
        return text


class CqGrids(Parser):
    """`--cqs`: `auto`, `19,25,31`, `libsvtav1:20,32,44,56`, or entries joined by `;` (kit.platforms.grids)."""

    name = "grid"
    items = "libx264:25,37;libx265:20,30"
    numeric = True
    EXAMPLE = "'libsvtav1:20,32,44,56'"

    def parse(self, text: str, flag: str, words: str = "") -> CqGrid:
        if text.strip().lower() == AUTO_GRID:
            return CqGrid()
        every: tuple[int, ...] = ()
        named: dict[str, tuple[int, ...]] = {}
        hint = f"e.g. {flag} 19,25,31,37 or {flag} {self.EXAMPLE}"
        for entry in read_items(text, flag, hint, sep=ENTRY_SEP, item="entry"):
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
            numbers = f"e.g. {flag} 19,25,31,37"
            items = read_items(listed, flag, numbers, quoted=text, item=f"{name}'s item" if name else "item")
            refused = f"{label(flag, text)} is not a comma-separated list of whole numbers"
            values = tuple(number(lambda t: read_int(t, signed=True), v, refused, numbers) for v in items)
            if name:
                named[name] = values
            else:
                every = values
        if not every and not named:
            raise InputError(f"{label(flag, text)} is empty", hint=f"e.g. {flag} auto or {flag} {self.EXAMPLE}")
        return CqGrid(every, named)


class Scales(Parser):
    """`--scales native,720,0.5`: the ladder's rungs (kit.media.ladder), written back canonically."""

    name = "scales"
    items = "native,0.5"
    numeric = True

    def parse(self, text: str, flag: str, words: str = "") -> tuple[str, ...]:
        hint = f"e.g. {flag} native,0.5 or {flag} native,720,540,360"
        rungs = []
        for part in read_items(text, flag, hint):
            if part.lower() != NATIVE:  # ASCII digits, finite, bounded: then the rung's own rules
                number(read_float, part, f"{label(flag, part)} is neither native, a height in lines (540) nor a "
                       "fraction of the height (0.5)", hint)
            try:
                rungs.append(parse_rung(part))
            except ValueError as exc:
                raise InputError(f"{flag}: {exc}", hint=hint) from None
        return tuple(rungs)


class Folds(Parser):
    """`loso`, `auto` or a whole number K >= 2 of grouped folds (`010` is 10)."""

    name = "folds"
    numeric = True

    def parse(self, text: str, flag: str, words: str = "") -> FoldsAsked:
        word = text.strip(" \t\r\n").lower()  # a word, as the other words the flags take
        if word in (LOSO, AUTO):
            return word
        refused, hint = f"{label(flag, text)} {FOLDS_REFUSAL}", f"e.g. {flag} auto, {flag} loso or {flag} 10"
        k = number(lambda t: read_int(t, signed=True), text, refused, hint)  # a number as every one: ` 2` refused
        if folds_problem(k) is not None:  # the setting's rule, for a caller of parse alone too
            raise InputError(refused, hint=hint)
        return k


AUTO_TASKS = -1  # --train-tasks auto: `slurm` makes it its --shards


class TrainTasks(Parser):
    """`off` (or 0) -> 0: LOSO trains its members itself; N -> N tasks train them; `auto` -> AUTO_TASKS."""

    name = "tasks"
    numeric = True

    def parse(self, text: str, flag: str, words: str = "") -> int:
        if (word := {OFF: 0, "auto": AUTO_TASKS}.get(text.strip().lower())) is not None:
            return word
        return number(lambda t: read_int(t, signed=True), text, f"{label(flag, text)} is neither off, auto nor a "
                      "number of tasks", f"give off, auto or a number of tasks, e.g. {flag} 8 (with `slurm`: {flag} "
                                         "auto, one per shard)")

    def exempt(self, value: int) -> bool:
        return value == AUTO_TASKS  # `slurm` makes it its --shards; `run` and `step` refuse it (kit.cli.flags)


class Holdouts(Parser):
    """`encoder`, `box`, `rung` joined by commas, or `none` -> the held-out validations to add, in the kit's order."""

    name = "holdout"
    items = "encoder,box"

    def parse(self, text: str, flag: str, words: str = "") -> tuple[str, ...]:
        asked = set(read_items(text, flag, f"e.g. {flag} encoder,box, or {flag} none")) - {"none"}
        return tuple(k for k in HOLDOUTS if k in asked) + tuple(sorted(asked - set(HOLDOUTS)))


class Fps(Parser):
    """`25`, `29.97`, `30000/1001` -> the exact rate as num/den."""

    name = "fps"
    numeric = True

    def parse(self, text: str, flag: str, words: str = "") -> str:
        hint = f"e.g. {flag} 25 or {flag} 30000/1001"
        number(read_rate, text, f"{label(flag, text)} is not a frame rate", hint)
        try:
            return parse_fps(text)
        except ValueError:
            raise InputError(f"{label(flag, text)} is not a frame rate above 0 and at most {MAX_FPS}", hint=hint) \
                from None


class Reading(Parser):
    """A flag's text read whole by the function of the layer that knows it (--encoders: parse_encoder_list)."""

    def __init__(self, name: str, read: Callable[[str], Any], items: str = "") -> None:
        self.name, self.read, self.items = name, read, items

    def parse(self, text: str, flag: str, words: str = "") -> Any:
        return self.read(text)


class Numbers(Reading):
    numeric = True
