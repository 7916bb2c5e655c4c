"""Quality grids: which `cq` values each encoder is encoded at (`--cqs`, docs/quality-and-ladder.md): an encoder's own
entry wins over its family's, which wins over the list for every encoder, which wins over its default.

`--cqs` is parsed once (kit.steps.parsers.CqGrids) into a CqGrid, which every consumer asks (`for_encoder`): the prereqs
probe, the corpus plan, the manifest. An encoder's default grid is data on its row
(kit.platforms.encoders.EncoderSpec.grid), chosen by measurement."""

from __future__ import annotations

from dataclasses import dataclass, field

from kit.errors import InputError
from kit.infra.records import Record
from kit.infra.rules import Distinct, Whole
from kit.platforms.encoders import FAMILIES, SPECS, get_spec

AUTO_GRID = "auto"
ENTRY_SEP, NAME_SEP = ";", ":"
VALUES = Distinct(Whole(0, 255))  # a list of the grid: no knob of any encoder the kit drives goes beyond 0..255


@dataclass(frozen=True)
class CqGrid(Record):
    """`--cqs` as parsed: the list for every encoder (empty: each its default) and the entries of names."""

    LENIENT = True  # either part may be left out

    every: tuple[int, ...] = ()
    named: dict[str, tuple[int, ...]] = field(default_factory=dict)  # encoder or family name -> its values

    def __post_init__(self) -> None:
        # a set of values per encoder, held in one order: `25,19` and `19,25` are one grid, one fingerprint
        object.__setattr__(self, "every", tuple(sorted(self.every)))
        object.__setattr__(self, "named", {name: tuple(sorted(v)) for name, v in sorted(self.named.items())})

    @classmethod
    def adapted(cls, data: object) -> object:
        """The record, or a run.json of a kit before grids per encoder: its one list was every encoder's."""
        return {"every": data} if isinstance(data, list) else data

    def for_encoder(self, name: str) -> tuple[int, ...]:
        """The values `name` is encoded at: its own entry, its family's, the list for every encoder, its default."""
        spec = get_spec(name)
        return self.named.get(name) or self.named.get(spec.family) or self.every or spec.grid

    def by_encoder(self, encoders: tuple[str, ...] | list[str]) -> dict[str, list[int]]:
        return {name: list(self.for_encoder(name)) for name in encoders}

    @property
    def probe_text(self) -> str:
        """What the prereqs probe depends on: each entry's first value (an encoder is tested at its grid's first)."""
        return CqGrid(self.every[:1], {k: v[:1] for k, v in self.named.items()}).text

    @property
    def text(self) -> str:
        """The flag's text that parses back to this grid."""
        parts = [",".join(map(str, self.every))] if self.every else []
        parts += [f"{name}{NAME_SEP}{','.join(map(str, values))}" for name, values in sorted(self.named.items())]
        return ENTRY_SEP.join(parts) or AUTO_GRID


NAME_HINT = ("name an encoder (" + ", ".join(sorted(SPECS)) + ") or a family (" + ", ".join(FAMILIES) +
             "), e.g. libsvtav1:20,32,44,56")


def check_name(name: str, flag: str) -> None:
    if name not in SPECS and name not in FAMILIES:
        raise InputError(f"{flag}: {name!r} is neither an encoder nor an encoder family", hint=NAME_HINT)


def outside_range(name: str, grid: CqGrid) -> tuple[int, int, int] | None:
    """(the first of `name`'s values outside its own quality range, the range's lowest, highest); None if none is."""
    lo, hi = sorted(get_spec(name).cq_range)
    return next(((cq, lo, hi) for cq in grid.for_encoder(name) if not lo <= cq <= hi), None)


def first_outside(encoders: tuple[str, ...] | list[str], grid: CqGrid) -> tuple[str, int, int, int] | None:
    """(the encoder, its value outside its range, the range's lowest, highest) of the first such; None if none."""
    return next(((name, *bad) for name in encoders if (bad := outside_range(name, grid)) is not None), None)


def range_problem(encoders: tuple[str, ...] | list[str], grid: CqGrid) -> str | None:
    """Why the grid does not fit these encoders, read after the grid (`holds 60, outside libx264's range 0..51`)."""
    bad = first_outside(encoders, grid)
    return None if bad is None else f"holds {bad[1]}, outside {bad[0]}'s range {bad[2]}..{bad[3]}"


def grid_problem(grid: object) -> str | None:
    """--cqs's rule: distinct values, names of encoders or families, values within every set encoder's range."""
    if not isinstance(grid, CqGrid):
        return "is not a quality grid"
    if grid.every and (why := VALUES.problem(grid.every)) is not None:
        return f"{why} in the list for every encoder"
    for name, values in grid.named.items():
        if name not in SPECS and name not in FAMILIES:
            return f"names {name!r}, which is neither an encoder nor an encoder family"
        if (why := VALUES.problem(values)) is not None:
            return f"{why} for {name}"
        named = [n for n, spec in SPECS.items() if name in (n, spec.family)]  # the encoder, or its family's
        if (why := range_problem(named, CqGrid(named={name: values}))) is not None:
            return why
    return None


def check_grid(encoders: tuple[str, ...] | list[str], grid: CqGrid) -> None:
    """Every encoder's values within its own quality range (the encoders --encoders auto resolved to)."""
    if (bad := first_outside(encoders, grid)) is not None:
        raise InputError(f"--cqs {grid.text!r} {range_problem(encoders, grid)}",
                         hint=f"choose values between {bad[2]} and {bad[3]} for {bad[0]}")
