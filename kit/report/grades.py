"""How bad a figure is, as the report colours it: its distance from perfect (1 - PLCC, |bias|, else the figure)
over the typical (median) one of its kind, floored: from MILD amber, from SEVERE red. A failed gate is red.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Measure = Literal["plcc", "rmse", "bias", "miss", "share"]
MILD, SEVERE = 1.5, 3.0  # x the typical distance from perfect
# the least typical distance a ratio is taken over, in each measure's unit (VMAF points, a share, 1 - PLCC)
FLOORS: dict[Measure, float] = {"plcc": 0.002, "rmse": 0.5, "bias": 0.5, "miss": 2.0, "share": 0.01}
LEGEND = (f"Colours: amber {MILD:g}-{SEVERE:g}x the typical (median) value's distance from perfect, red from "
          f"{SEVERE:g}x or past a gate (1 - PLCC for a correlation, |bias|; small typical values count as "
          f"{FLOORS['rmse']:g} VMAF points, a share as {FLOORS['share']:.0%}).")


def distance(value: float, measure: Measure) -> float:
    """How far from perfect: 1 - PLCC, |bias|, or the figure itself."""
    if measure == "plcc":
        return 1.0 - value
    return abs(value) if measure == "bias" else value


def ratio(value: float | None, typical: float | None, measure: Measure) -> float | None:
    """The figure's distance from perfect over the typical one's (floored); None without both figures."""
    if value is None or typical is None or not (math.isfinite(value) and math.isfinite(typical)):
        return None
    return distance(value, measure) / max(distance(typical, measure), FLOORS[measure])


def grade(r: float | None) -> str:
    """The CSS class of a ratio: "" (typical), "g1" (amber), "g2" (red)."""
    if r is None or not math.isfinite(r):
        return ""
    return "g2" if r >= SEVERE else "g1" if r >= MILD else ""


def median(values: Sequence[float | None]) -> float | None:
    """The median of the finite figures; None when there is none."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return statistics.median(finite) if finite else None


@dataclass(frozen=True)
class Graded:
    """A table cell with its grade (kit.report.markup.table colours it)."""

    value: object
    css: str = ""


def graded(value: float | None, typical: float | None, measure: Measure) -> Graded:
    return Graded(value, grade(ratio(value, typical, measure)))
