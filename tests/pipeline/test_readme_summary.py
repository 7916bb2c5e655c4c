"""The README's annotated closing summary is the demo's as the kit prints it on a terminal 100 columns wide: the same
rows under the same labels, in the same order, and the same lines after the table; each note marker on the first
line of a row, numbered from 1 with no gap, one note below the block for each. Figures, paths and the box's encoders
vary from box to box and are not compared."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_kit

pytestmark = pytest.mark.slow  # the whole demo run (about three and a half minutes of CPU)
MARK = re.compile(r"\s+\((\d+)\)\s*$")


def readme_text() -> str:
    return (ROOT / "README.md").read_text().split("## The closing summary, annotated", 1)[1].split("\n## ", 1)[0]


def readme_block() -> tuple[list[str], list[int]]:
    """The README's summary block, its note markers taken off, and the note numbers listed under it."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## The closing summary, annotated", 1)[1].split("```text\n", 1)[1].split("\n```", 1)[0]
    notes = text.split("## The closing summary, annotated", 1)[1].split("\n```\n", 1)[1].split("\n## ", 1)[0]
    return block.splitlines(), [int(n) for n in re.findall(r"^(\d+)\. ", notes, re.MULTILINE)]


def table_rows(lines: list[str]) -> list[str]:
    """The labels of a printed summary table, one per row (a row's continuation lines have none)."""
    cells = [line.split("│") for line in lines if line.startswith("│")]
    return [cell[1].strip() for cell in cells if cell[1].strip()]


BOX_LINES = ("encoders that work here", "opt-in encoders")  # what this box's encoders add (the README says so)
WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6}


def after_table(lines: list[str]) -> list[str]:
    """The lines after the table, each a label's words up to its first colon or parenthesis, or its path's place
    (a path line is indented); the lines about this box's opt-in encoders left out."""
    end = max(i for i, line in enumerate(lines) if line.startswith("└"))
    out: list[str] = []
    for line in lines[end + 1:]:
        if line.startswith("  "):
            out += ["(path)"] if out and not out[-1].startswith(BOX_LINES) else []
        elif line.strip():
            out.append(line.split(":")[0].split("(")[0].strip())
    return [line for line in out if not line.startswith(BOX_LINES)]


def test_the_readme_summary_is_the_demo_s_as_printed(tmp_path: Path) -> None:
    res = run_kit("run", "--box-id", "mybox", "--out-dir", tmp_path / "runs" / "mybox",
                  env={"COLUMNS": "100", "KIT_CACHE_DIR": str(tmp_path / "cache")}, timeout=1800)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    printed = res.stdout.splitlines()
    start = next(i for i, line in enumerate(printed) if line.startswith("┌"))
    printed = printed[start:]
    block, notes = readme_block()
    marks = [(i, int(m[1])) for i, line in enumerate(block) if (m := MARK.search(line))]
    shown = [MARK.sub("", line) for line in block]
    assert table_rows(shown) == table_rows(printed), "\n".join(printed)
    said, shown_after, printed_after = readme_text(), after_table(shown), after_table(printed)
    last = re.search(r"its last (\w+) lines", said)
    assert last is not None and printed_after == shown_after + printed_after[len(shown_after):], printed_after
    assert len(printed_after) - len(shown_after) == WORDS[last[1]], printed_after  # the lines it leaves to a note
    assert [n for _, n in marks] == list(range(1, len(marks) + 1)) == notes, (marks, notes)
    for i, n in marks:  # a marker sits on a row's first line (a label there), or on a line after the table
        line = shown[i]
        assert not line.startswith("│") or line.split("│")[1].strip(), f"note ({n}) marks a row's continuation: {line}"
