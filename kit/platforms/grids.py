"""Quality grids: which `cq` values each encoder is encoded at (`--cqs`).

Every encoder row has a default grid in its own native scale (kit.platforms.encoders: `EncoderSpec.grid`), chosen
by measurement so that the teacher spans the quality range on the demo clips and the grid reaches the ends of
vmaf-tune's CRF 10..51 query range (docs/quality-and-ladder.md). `--cqs` overrides it:

    --cqs 19,25,31,37                        every encoder at these values
    --cqs 'libsvtav1:20,32,44,56'            libsvtav1 at these, every other encoder at its default
    --cqs 'svtav1:20,32,44,56;x264:18,30'    a family name sets every encoder of that family
    --cqs '19,25,31;libsvtav1:20,32,44'      a list for every encoder, and one encoder's own
    --cqs auto                               each encoder's default grid (the default)

An encoder's own entry wins over its family's, which wins over the list for every encoder. Each value is checked
against the encoder's own range when the encoders are known.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kit.errors import InputError
from kit.infra.records import Record
from kit.platforms.encoders import FAMILIES, SPECS, get_spec

AUTO_GRID = "auto"
ENTRY_SEP, NAME_SEP = ";", ":"


@dataclass(frozen=True)
class CqGrid(Record):
    """`--cqs` as parsed: the list for every encoder (empty: each its default) and the entries of names."""

    LENIENT = True  # either part may be left out

    every: tuple[int, ...] = ()
    named: dict[str, tuple[int, ...]] = field(default_factory=dict)  # encoder or family name -> its values

    @classmethod
    def from_json(cls, data: object, where: str = "") -> CqGrid:
        """The record, or a run.json of a kit before grids per encoder: its one list was every encoder's."""
        if isinstance(data, list):
            data = {"every": data}
        return super().from_json(data, where)

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


def check_name(name: str, flag: str) -> None:
    if name not in SPECS and name not in FAMILIES:
        raise InputError(f"{flag}: {name!r} is neither an encoder nor an encoder family",
                         hint="name an encoder (" + ", ".join(sorted(SPECS)) + ") or a family ("
                              + ", ".join(FAMILIES) + "), e.g. libsvtav1:20,32,44,56")


def outside_range(name: str, grid: CqGrid) -> tuple[int, int, int] | None:
    """(the first of `name`'s values outside its own quality range, the range's lowest, highest); None if none is."""
    lo, hi = get_spec(name).cq_bounds
    return next(((cq, lo, hi) for cq in grid.for_encoder(name) if not lo <= cq <= hi), None)


def check_grid(encoders: tuple[str, ...] | list[str], grid: CqGrid) -> None:
    """Every encoder's values within its own quality range (the CLI checks the encoders it knows, the corpus step
    those --encoders auto resolved to)."""
    for name in encoders:
        if (bad := outside_range(name, grid)) is not None:
            cq, lo, hi = bad
            raise InputError(f"--cqs value {cq} is outside {name}'s range {lo}..{hi}",
                             hint=f"choose values between {lo} and {hi}")
