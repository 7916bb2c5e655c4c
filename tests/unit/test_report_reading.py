"""How the report reads: docs/lead.md's "Reading the report" names every section of the page, in the page's order
(issue 54: it left out "Where it is worst" and listed another order), and a column with no figure in any row is
said once, under its table. The page's own order is its link bar's (kit/report/html.NAV), which the rendered page
follows (tests/pipeline/test_report.py::test_the_page_holds_its_figures_and_tables)."""

from __future__ import annotations

import re

from kit.report.html import NAV
from kit.report.markup import UNBOUNDED_CELL, table
from tests.conftest import ROOT

HEADING = re.compile(r"<h2 id='([^']+)'>([^<{]+)")  # a section's heading in the kit's source: its id and title


def section_titles() -> dict[str, str]:
    """Every section the page can have: its id (a --holdout block's `holdout-`) and its title, from the source (a
    title's computed part, `Held out by {kind}`, left off)."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "kit" / "report").glob("*.py")):
        for anchor, title in HEADING.findall(path.read_text()):
            found[anchor.split("{")[0]] = title.strip()
    return found


def page_order() -> list[str]:
    """The sections in the page's order: the link bar's, each --holdout block after the groupings' table."""
    ids = [anchor for anchor, _ in NAV]
    return [*ids[:ids.index("groups") + 1], "holdout-", *ids[ids.index("groups") + 1:]]


def guide_sections() -> list[str]:
    """The sections docs/lead.md's "Reading the report" names (each in bold, by its title), in its order."""
    text = (ROOT / "docs" / "lead.md").read_text()
    part = text.split("## Reading the report", 1)[1].split("\n## ", 1)[0]
    titles = section_titles()
    named = []
    for bold in re.findall(r"\*\*([^*]+)\*\*", part):
        (anchor,) = [a for a, title in titles.items() if bold.startswith(title)] or [f"no section: {bold}"]
        named.append(anchor)
    return named


def test_the_link_bar_names_every_section_the_page_can_have() -> None:
    assert set(page_order()) == set(section_titles()), (sorted(page_order()), sorted(section_titles()))


def test_the_lead_s_guide_reads_the_report_in_the_page_s_order() -> None:
    assert guide_sections() == page_order()
    assert section_titles()["worst"] == "Where it is worst"


def test_a_column_without_a_figure_in_any_row_is_one_note_under_its_table() -> None:
    page = table(["group", "RMSE", "coverage", "mean width"],
                 [["a", 1.5, UNBOUNDED_CELL, UNBOUNDED_CELL], ["b", 2.0, UNBOUNDED_CELL, UNBOUNDED_CELL]])
    assert UNBOUNDED_CELL not in page and "<th>coverage</th>" not in page and page.count("<td>") == 4
    assert page.endswith("<p class='note'>coverage, mean width: no figure in any row, the interval being unbounded "
                         "(the intervals&#x27; section says why)</p>")
    mixed = table(["level", "coverage"], [[0.5, 0.61], [0.95, UNBOUNDED_CELL]])  # some rows bounded: kept
    assert "<th>coverage</th>" in mixed and f"<td>{UNBOUNDED_CELL}</td>" in mixed and "note" not in mixed
