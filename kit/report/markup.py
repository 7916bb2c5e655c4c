"""The page's HTML pieces: escaped text, cells, tables, capped tables. No figures, no files."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence

from kit.infra.visible import visible
from kit.report.grades import Graded

ROWS_SHOWN = 100  # rows of a table that grows with the sources (sources, groups, folds); the rest in a named file


def esc(text: str) -> str:
    """Text for the page: HTML-escaped, and made visible (kit/infra/visible.py), so a source name or a path
    holding a line break, a terminal escape or a bidi override reads as it is spelled."""
    return html.escape(visible(text))


def fmt(v: object) -> str:
    """A cell for people: floats to 4 places, yes/no for flags, None and NaN (null in the file) as n/a."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4f}" if math.isfinite(v) else "n/a"
    if v is None:
        return "n/a"
    if isinstance(v, list | tuple):
        return ", ".join(fmt(x) for x in v)
    return str(v)


def cell(c: object) -> str:
    """One <td>: a Graded value (kit.report.grades) carries its colour class."""
    if isinstance(c, Graded):
        return f"<td class='{c.css}'>{esc(fmt(c.value))}</td>" if c.css else f"<td>{esc(fmt(c.value))}</td>"
    return f"<td>{esc(fmt(c))}</td>"


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
