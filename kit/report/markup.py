"""The page's HTML pieces: escaped text, cells, tables, every table's columns once (COLUMNS); a cell's colour: its
distance from perfect over the typical (median) one's, floored (`ratio`): from MILD amber, from SEVERE red."""

from __future__ import annotations

import html
import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from kit.infra.visible import visible

ROWS_SHOWN = 100  # rows of a table that grows with the sources (sources, groups, folds); the rest in a named file
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
    """A table cell with its grade (`table` colours it)."""

    value: object
    css: str = ""


def num(v: float | None, digits: str = ".4f") -> str:
    """A figure; n/a for None and NaN (null in the verdict file)."""
    return format(v, digits) if v is not None and math.isfinite(v) else "n/a"


def esc(text: str) -> str:
    """Text for the page: made visible (kit/infra/visible.py), then HTML-escaped."""
    return html.escape(visible(text))


def fmt(v: object) -> str:
    """A cell for people: floats to 4 places, yes/no for flags, None and NaN (null in the file) as n/a."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float) or v is None:
        return num(v)
    if isinstance(v, list | tuple):
        return ", ".join(fmt(x) for x in v)
    return str(v)


def cell(c: object) -> str:
    """One <td>: a Graded value carries its colour class."""
    css, value = (c.css, c.value) if isinstance(c, Graded) else ("", c)
    return f"<td class='{css}'>{esc(fmt(value))}</td>" if css else f"<td>{esc(fmt(value))}</td>"


UNBOUNDED_CELL = "unbounded: no figure"  # a coverage or width where the interval is unbounded


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], cls: str = "") -> str:
    """A table; a column that says UNBOUNDED_CELL in every row is said once, in a note under it, not in each row."""
    rows = [list(r) for r in rows]
    empty = [i for i in range(len(headers)) if rows and all(i < len(r) and r[i] == UNBOUNDED_CELL for r in rows)]
    kept = [i for i in range(len(headers)) if i not in empty]
    head = "".join(f"<th>{esc(headers[i])}</th>" for i in kept)
    body = "".join("<tr>" + "".join(cell(r[i]) for i in kept if i < len(r)) + "</tr>" for r in rows)
    opening = f"<table class='{cls}'>" if cls else "<table>"
    said = note(f"{', '.join(headers[i] for i in empty)}: no figure in any row, the interval being unbounded "
                "(the intervals' section says why)") if empty else ""
    return f"{opening}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{said}"


def kv_table(d: dict[str, object]) -> str:
    return table(["field", "value"], [(k.replace("_", " "), v) for k, v in d.items()
                                      if not isinstance(v, dict | list) or (isinstance(v, list) and len(v) <= 12)],
                 cls="kv")


def capped(headers: Sequence[str], rows: Sequence[Sequence[object]], what: str, where: str) -> str:
    """A table of at most ROWS_SHOWN rows, and a note of how many more there are and which file holds them all."""
    more = len(rows) - ROWS_SHOWN
    note = f"<p class='note'>and {more} more {esc(what)} ({esc(where)} lists them all)</p>" if more > 0 else ""
    return table(headers, rows[:ROWS_SHOWN], cls="compact") + note


def note(text: str) -> str:
    return f"<p class='note'>{esc(text)}</p>"


def sorted_by(key: str) -> str:
    """The line under a table's heading that names how its rows are sorted."""
    return f"<p class='sort'>{esc('sorted: ' + key)}</p>"


def details(summary: str, *parts: str) -> str:
    """A section folded away: its summary line shows, the rest on a click (the page stays short)."""
    return f"<details><summary>{esc(summary)}</summary>{''.join(parts)}</details>"


def bounded_cell(value: float | None, unbounded: bool) -> object:
    """A coverage or width cell: the figure, or that there is none because the interval is unbounded."""
    return UNBOUNDED_CELL if unbounded and (value is None or not math.isfinite(value)) else value


@dataclass(frozen=True)
class Column:
    field: str
    header: str
    measure: Measure | None = None  # how the figure is graded; None: shown as it is
    shown: Callable[[Any], object] | None = None  # the cell from the value, where kit.report.markup.fmt does not fit


COLUMNS = {c.field: c for c in (
    Column("label", "grouping"), Column("group", "group"), Column("rank", "rank"), Column("seed", "seed"),
    Column("fold", "fold"), Column("src", "source"), Column("reason", "why"), Column("resolution", "resolution"),
    Column("fps", "frame rate", shown=lambda v: num(v, "g")), Column("frames", "frames"),
    Column("n_frames", "frames"), Column("n_sources", "sources"), Column("n_encodes", "encodes"),
    Column("stat", "pooling"), Column("encoder", "encoder"), Column("n_clips", "clips"),
    Column("plcc", "PLCC ({kind})", "plcc"), Column("srocc", "SROCC"), Column("krocc", "KROCC"),
    Column("rmse", "RMSE ({kind})", "rmse"), Column("mean_abs_error", "mean abs error"),
    Column("bias", "bias (prediction - teacher)", "bias"), Column("max_abs_error", "max abs error", "miss"),
    Column("share_out_of_range", "share outside [0, 100]", "share"), Column("share_within", "share within"),
    Column("median_miss", "median miss", shown=lambda v: num(v, ".2f")),
    Column("max_miss", "largest miss", shown=lambda v: num(v, ".2f")),
    Column("worst_encode", "worst encode"), Column("worst_clip", "worst clip"),
    Column("ceiling_share", "ceiling: the teacher's function within", shown=lambda v: num(v, ".1%")),
    Column("window_share", "within, from vmaf-tune's window", shown=lambda v: num(v, ".1%")),
    Column("window_ceiling_share", "ceiling, from its window", shown=lambda v: num(v, ".1%")),
    Column("words", "sampling"), Column("how", "its frames"),
    Column("gap_share", "its own score within of the clip's", shown=lambda v: num(v, ".1%")),
    Column("encodes_per_trial", "encodes a trial", shown=lambda v: num(v, ".3g")),
    Column("frames_per_trial", "frames a trial", shown=lambda v: num(v, ".0f")),
    Column("seconds_per_trial", "seconds a trial (this box, by its frames)", shown=lambda v: num(v, ".2f")),
    Column("coverage", "coverage{at}", shown=lambda v: bounded_cell(v, v is None)),
    Column("mean_width", "mean width", shown=lambda v: bounded_cell(v, v is None)),
)}
FIGURES = ("plcc", "rmse", "bias", "max_abs_error", "share_out_of_range")  # a source's or a group's, graded
SOURCE_TABLE = ("rank", "src", "reason", "resolution", "fps", "frames", *FIGURES)  # (+ coverage)
GROUP_TABLE = ("group", "n_frames", "n_sources", *FIGURES)  # the breakdown's and --holdout's (+ coverage, mean_width)
FOLD_TABLE = ("seed", "fold", "src", "n_frames", "plcc", "srocc", "krocc", "rmse", "bias", "max_abs_error",
              "share_out_of_range")
SAMPLING_TABLE = ("words", "how", "n_encodes", "share_within", "ceiling_share", "gap_share", "median_miss", "max_miss",
                  "encodes_per_trial", "frames_per_trial", "seconds_per_trial")
POOLING_TABLE = ("stat", "encoder", "n_clips", "rmse", "mean_abs_error", "max_abs_error", "bias", "worst_clip")


def headers(names: Sequence[str], kind: str = "", at: str = "") -> list[str]:
    return [COLUMNS[n].header.format(kind=kind, at=at) for n in names]


def cells(names: Sequence[str], row: object, typical: dict[str, float | None] | None = None,
          **given: object) -> list[object]:
    """One row's cells: a cell given, else the row's attribute, formatted or graded as its column says."""
    return [given[n] if n in given else as_column(COLUMNS[n], getattr(row, n), typical) for n in names]


def as_column(c: Column, value: Any, typical: dict[str, float | None] | None) -> object:
    if c.shown is not None:
        return c.shown(value)
    if c.measure and typical is not None:
        return Graded(value, grade(ratio(value, typical.get(c.field), c.measure)))
    return value


def typical(rows: Iterable[object], names: Sequence[str] = FIGURES) -> dict[str, float | None]:
    """The median over `rows` of each graded figure (of |bias|): what its cells are coloured against."""
    rows = list(rows)
    return {n: median([abs(v) if COLUMNS[n].measure == "bias" and v is not None else v
                       for v in (getattr(r, n) for r in rows)]) for n in names}
