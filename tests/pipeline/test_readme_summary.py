"""The README's annotated closing summary is the demo's as this release prints it on a terminal 100 columns wide
(issue 90): the block is the printed lines, figures and words alike, from the table's top to the tarball's path; only
what differs from run to run or box to box is set aside (the out-dir's folder, shown as runs/mybox; the tarball's time
and size; the corpus file's size, whose rows hold each encode's measured time, and which differed with the temporary
folder's path: 956 KiB in the README, 962-966 KiB on other boxes, so CI failed on a box whose TMPDIR is not /tmp; the
lines about this box's opt-in encoders). The other figures are the demo's clips, encodes and scores, which the same
ffmpeg build makes alike on every box. Each note marker sits on the first line of a row or on a line
after the table, numbered from 1 with no gap, one note below the block for each.

`TESTS_WRITE_README=1` writes the demo's lines into the README instead (each marker kept on the line of the same row
label or path line), for a release whose summary changed; then read the notes under the block again."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # the shared demo run (about a minute and a half of CPU)
MARK = re.compile(r"\s+\((\d+)\)\s*$")
HEADING = "## The closing summary, annotated"
BOX_LINES = ("encoders that work here", "opt-in encoders")  # what this box's encoders add (the README says so)
WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
VARIES = ((re.compile(r"results-mybox-\d{8}T\d{6}Z"), "results-mybox-<utc>"),
          (re.compile(r"results tarball \(\d+(\.\d)? [KM]iB\)"), "results tarball (<size>)"),
          (re.compile(r", \d+(\.\d)? [KM]iB on disk\b"), ", <size> on disk"))


def readme_parts() -> tuple[str, list[str], str]:
    """The README before its summary block, the block's lines, and the README after it."""
    text = (ROOT / "README.md").read_text()
    head, rest = text.split(HEADING, 1)
    before, block = rest.split("```text\n", 1)
    block, after = block.split("\n```", 1)
    return head + HEADING + before + "```text\n", block.splitlines(), "\n```" + after


def notes() -> list[int]:
    after = readme_parts()[2].split("\n## ", 1)[0]
    return [int(n) for n in re.findall(r"^(\d+)\. ", after, re.MULTILINE)]


def printed_block(res: subprocess.CompletedProcess[str], out: Path) -> list[str]:
    """The demo's closing lines as the README shows them: the table, then each line after it up to the tarball's
    path, this box's encoder lines left out and the out-dir shown as runs/mybox."""
    lines = res.stdout.replace(str(out), "runs/mybox").splitlines()
    lines = lines[next(i for i, line in enumerate(lines) if line.startswith("┌")):]
    end = next(i for i, line in enumerate(lines) if ".tar.gz" in line and line.startswith("  "))
    kept, skip = [], 0
    for line in lines[:end + 1]:
        if line.startswith(BOX_LINES):
            skip = 2  # the line and its command
        if skip:
            skip -= 1
            continue
        kept.append(line.rstrip())
    return kept


def same(line: str) -> str:
    for pattern, shown in VARIES:
        line = pattern.sub(shown, line)
    return line


def label_of(line: str) -> str:
    """What a marker is kept on: a row's label, or a line after the table as it reads up to its first colon."""
    return line.split("│")[1].strip() if line.startswith("│") else same(line).split(":")[0]


def written(block: list[str], printed: list[str]) -> list[str]:
    """The printed lines with the README's markers put back on the lines of the same labels (in order)."""
    marks = {label_of(MARK.sub("", line)): m[1] for line in block if (m := MARK.search(line))}
    out = []
    for line in printed:
        mark = marks.pop(label_of(line), None) if label_of(line) else None
        if mark is None:
            out.append(line)
        elif line.startswith("│") or len(line) > 98:  # a table row, or a line past the table's width
            out.append(f"{line}{' ' if line.startswith('│') else '   '}({mark})")
        else:
            out.append(f"{line.ljust(101)}({mark})")  # under the table's markers
    assert not marks, f"notes whose rows the demo no longer prints: {marks}"
    return out


def test_the_readme_summary_is_the_demo_s_as_printed(demo_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, res = demo_run
    head, block, after = readme_parts()
    printed = printed_block(res, out)
    if os.environ.get("TESTS_WRITE_README"):
        (ROOT / "README.md").write_text(head + "\n".join(written(block, printed)) + after)
        head, block, after = readme_parts()
    shown = [MARK.sub("", line).rstrip() for line in block]
    assert [same(line) for line in shown] == [same(line) for line in printed], "\n".join(printed)
    said = after.split("\n## ", 1)[0]
    last = re.search(r"its last (\w+) lines", head)
    tail = res.stdout.split(".tar.gz\n", 1)[1].splitlines()  # what the README leaves to a note
    assert last is not None and len(tail) == WORDS[last[1]], tail
    marks = [(i, int(m[1])) for i, line in enumerate(block) if (m := MARK.search(line))]
    assert [n for _, n in marks] == list(range(1, len(marks) + 1)) == notes(), (marks, notes(), said[:200])
    for i, n in marks:  # a marker sits on a row's first line (a label there), or on a line after the table
        line = shown[i]
        assert not line.startswith("│") or line.split("│")[1].strip(), f"note ({n}) marks a row's continuation: {line}"
