"""No coverage or width beside an unbounded level, in any file a run writes (issue 37, item 1).

The shared `json_run` holds out 4 content groups: its 95 % and 90 % intervals are unbounded (ceil(5 x 0.9) > 4),
and its 80 % interval, bounded with all 4, is unbounded once a row's own group is left out (ceil(4 x 0.8) > 3), so
its coverage on unseen content cannot be measured either. Which levels those are is worked out here from
intervals.parquet's content groups by the finite-sample rule, not read from the verdict. Then every JSON file, every
parquet file, report.html, the NDJSON events and the terminal summary of the run (and of its results tarball) is
walked: a coverage or a width given as a number at such a level, or an interval given as a multiplier or residuals
where the kit says it has none, fails the test.
"""

from __future__ import annotations

import json
import math
import subprocess
import tarfile
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from kit.infra.tree import Tree
from kit.model.conformal import LEVELS, level_key, percent
from kit.rundir import RunDir
from tests.conftest import full_summary

pytestmark = pytest.mark.slow  # a real run (the shared one)

NOMINAL = 0.95  # the run's --interval-level (the default)
FIGURES = ("coverage", "mean_width", "source_coverage_min", "coverage_held_out", "group_coverage",
           "group_coverage_min")


def unmeasurable(n: int) -> set[str]:
    """The levels whose coverage on held-out content no file may state: unbounded with n groups, or with n - 1."""
    return {level_key(lv) for lv in LEVELS if math.ceil(n * lv - 1e-9) > n - 1}


def walk(doc: object, where: str = "") -> Iterator[tuple[str, dict]]:
    if isinstance(doc, dict):
        yield where, doc
        for k, v in doc.items():
            yield from walk(v, f"{where}.{k}")
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from walk(v, f"{where}[{i}]")


def json_problems(doc: object, open_levels: set[str], label: str) -> list[str]:
    """Every number that stands for a coverage or width at a level in `open_levels` (or at the nominal level,
    for the blocks that are of it), and every interval given where the block says it has none."""
    bad = []
    nominal_open = level_key(NOMINAL) in open_levels
    for where, d in walk(doc, label):
        at = level_key(d["level"]) if isinstance(d.get("level"), int | float) else None
        of_nominal = any(k in d for k in ("n_clips", "recipe")) or ("by" in d and "n_frames" in d) \
            or d.get("measure") == "coverage"
        if (at in open_levels or (at is None and of_nominal and nominal_open)) and \
                any(isinstance(d.get(k), int | float) for k in FIGURES):
            bad.append(f"{where}: a coverage or width at an unbounded level: {d}")
        if d.get("measure") == "coverage" and nominal_open and (d.get("worst_value") is not None
                                                                 or "unbounded" not in str(d.get("statement"))):
            bad.append(f"{where}: a gate on an unbounded level must say so, with no value: {d}")
        for key in ("coverage_by_level", "width_by_level"):
            for lv, v in (d.get(key) or {}).items():
                if lv in open_levels and v is not None:
                    bad.append(f"{where}.{key}[{lv}] = {v} at an unbounded level")
        if d.get("calibrated") is False or d.get("unbounded") is True:
            given = {k: d[k] for k in ("conformal_q_residual", "gaussian_z", "q_abs", *FIGURES)
                     if isinstance(d.get(k), int | float)}
            if given or d.get("residuals"):
                bad.append(f"{where}: reads as an interval where there is none: {given or d.get('residuals')}")
        for k, v in d.items():
            if isinstance(v, str) and any(f"{percent(float(lv) / 100)} covers" in v or
                                          f"coverage at {percent(float(lv) / 100)} nominal is" in v
                                          for lv in open_levels):
                bad.append(f"{where}.{k}: states a coverage at an unbounded level: {v[:120]}")
    return bad


class Tables(HTMLParser):
    """report.html's tables as rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None and self.tables and self.tables[-1]:
            self.tables[-1][-1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text.rstrip("%")))
    except ValueError:
        return False


def html_problems(page: str, open_levels: set[str]) -> list[str]:
    """A table cell under a coverage or width header holding a number at an unbounded level."""
    parser = Tables()
    parser.feed(page)
    bad = []
    for rows in parser.tables:
        if not rows:
            continue
        head = rows[0]
        cols = [i for i, h in enumerate(head) if ("coverage" in h or "width" in h) and "share of rows" not in h]
        for row in rows[1:]:
            level = level_key(float(row[0])) if head[0] == "nominal" and is_number(row[0]) else level_key(NOMINAL)
            if level in open_levels:
                bad += [f"report.html: {head[i]} = {row[i]} at {level} %" for i in cols
                        if i < len(row) and is_number(row[i])]
    return bad


def parquet_problems(path: Path, open_levels: set[str]) -> list[str]:
    bad = []
    frame = pd.read_parquet(path)
    for col in frame.columns:
        side, _, key = col.partition("_")
        at_open_level = key in open_levels or (not key and level_key(NOMINAL) in open_levels)
        if side in ("lo", "hi") and at_open_level and frame[col].notna().any():
            bad.append(f"{path.name}: {col} holds a bound at an unbounded level")
        if side in ("lo", "hi") and frame[col].dtype.kind == "f" and frame[col].abs().eq(math.inf).any():
            bad.append(f"{path.name}: {col} holds an infinite bound (null is 'no bound')")
    return bad


def test_no_file_a_run_writes_states_a_coverage_beside_an_unbounded_level(
        json_run: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    out, res = json_run
    run = RunDir(out)
    n = len(pq.read_table(run.intervals, columns=["content"]).column("content").unique())
    open_levels = unmeasurable(n)
    assert n == 4 and open_levels == {"80", "90", "95"}  # what this test is about
    roots = [out]
    # the results tarball holds the same files: walk them too
    with tarfile.open(run.latest_tarball(Tree.open(run.root, make=False))) as tar:
        tar.extractall(tmp_path, filter="data")
    roots.append(tmp_path)
    bad: list[str] = []
    walked = {".json": 0, ".parquet": 0, ".html": 0}
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            if path.suffix == ".json":
                bad += json_problems(json.loads(path.read_text()), open_levels, path.name)
            elif path.suffix == ".parquet":
                bad += parquet_problems(path, open_levels)
            elif path.suffix == ".html":
                bad += html_problems(path.read_text(), open_levels)
            else:
                continue
            walked[path.suffix] += 1
    events = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    for i, event in enumerate(events):
        bad += json_problems(event, open_levels, f"event {i} ({event.get('event')})")
    said = " ".join(res.stderr.replace("│", " ").split())  # the summary table's cells, unwrapped
    bad += json_problems({"summary": said}, open_levels, "terminal")
    assert walked[".json"] >= 10 and walked[".parquet"] >= 4 and walked[".html"] >= 1 and events, walked
    assert not bad, "\n".join(bad[:20])
    # and where there is no figure, the reason stands in its place
    verdict = json.loads(next(p for p in (out / "04_verdict").glob("*.json") if p.stem in ("PROMOTE", "HOLD"))
                         .read_text())
    for level in verdict["intervals"]["levels"]:
        assert (level["coverage"] is None) == (level_key(level["level"]) in open_levels)
        assert (level.get("reason") is not None) == (level["coverage"] is None)
    rows = full_summary(out)  # the intervals row: among those the closing summary points to in the report
    assert "95% unbounded" in rows and "80% unbounded without each row's own group" in rows
    bad += json_problems({"summary": rows}, open_levels, "summary rows")
    assert not bad, "\n".join(bad[:20])


def test_the_walk_finds_what_the_kit_before_this_issue_wrote() -> None:
    """The checks bite: the verdict blocks, sidecar, manifest block and summary line of kit 0.4 on 4 groups."""
    open_levels = unmeasurable(4)
    old = {"intervals": {"levels": [{"level": 0.95, "unbounded": True, "coverage": 1.0, "mean_width": None},
                                    {"level": 0.8, "unbounded": False, "coverage": 1.0, "share_unbounded": 1.0}]},
           "breakdown": [{"by": "source", "group": "a", "n_frames": 9, "coverage": 1.0, "mean_width": None,
                          "coverage_by_level": {"50": 0.6, "95": 1.0}}],
           "coverage_gate": {"measure": "coverage", "worst_value": 1.0,
                             "statement": "held-out coverage at 95% nominal is 100.0%"}}
    assert len(json_problems(old, open_levels, "verdict")) >= 5
    assert json_problems({"confidence": {"calibrated": False, "gaussian_z": 1.96, "conformal_q_residual": None}},
                         open_levels, "manifest")
    assert json_problems({"alpha": 0.05, "calibrated": False, "residuals": [7.12]}, open_levels, "sidecar")
    page = ("<table><tr><th>nominal</th><th>coverage (pooled)</th></tr><tr><td>0.8000</td><td>1.0000</td></tr>"
            "</table><table><tr><th>group</th><th>coverage</th></tr><tr><td>x</td><td>1.0000</td></tr></table>")
    assert len(html_problems(page, open_levels)) == 2
    assert html_problems(page.replace("1.0000", "unbounded: no figure"), open_levels) == []
