"""Every RMSE and PLCC the kit prints names its kind (issue 37, item 5): mean over content groups, pooled over
frames, per source or per clip; the summary's headline is of the kind of the lines beside it; the kinds are defined
once, in docs/figures.md (the words in kit/verdict/kinds.py)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from kit.infra.tree import Tree
from kit.report.summary import summary_rows
from kit.rundir import RunDir
from kit.verdict.document import Verdict
from kit.verdict.kinds import DEFINITIONS, FIGURE_KINDS, GROUPS, POOLED
from tests.conftest import ROOT
from tests.pipeline.test_no_figure_without_a_bound import Tables

pytestmark = pytest.mark.slow  # the shared real run

KINDS = tuple(DEFINITIONS)
FIGURE = re.compile(r"\b(RMSE|PLCC)\b")


def test_every_printed_rmse_and_plcc_names_its_kind(json_run: tuple[Path, subprocess.CompletedProcess[str]]
                                                    ) -> None:
    out, res = json_run
    run = RunDir(out)
    found = run.verdict_on_disk(Tree.open(run.root, make=False))
    assert found is not None
    verdict = Verdict.from_json(json.loads(found[1].read_text()))
    assert verdict.figure_kinds == FIGURE_KINDS and verdict.figure_kinds["gate"] == GROUPS
    rows = summary_rows(out, verdict)
    for label, text in rows:
        if FIGURE.search(text) and label not in ("the baselines", "validation"):
            assert any(k in text for k in KINDS), (label, text)
    said = dict(rows)
    # the headline (the gate's mean PLCC) and the lines beside it (per seed, baselines, lift) are one kind ...
    for label in ("mean LOSO PLCC", "per seed", "ridge baseline", "what the ensemble adds"):
        assert GROUPS in said[label], label
    # ... and the pooled lines come under a pooled figure of every held-out frame
    assert POOLED in said["all held-out frames"]
    assert f"mean PLCC {verdict.gate.mean_plcc:.4f} ({GROUPS})" in res.stderr  # the step line
    parser = Tables()
    parser.feed(run.report.read_text())
    for table in parser.tables:
        for header in table[0] if table else []:
            if FIGURE.search(header) and header not in ("min PLCC", "max PLCC", "std PLCC"):
                assert any(k in header for k in KINDS), header


def test_the_kinds_are_defined_once_in_the_docs() -> None:
    doc = (ROOT / "docs" / "figures.md").read_text()
    for kind in KINDS:
        assert f"## {kind}" in doc
    readme = (ROOT / "README.md").read_text()
    assert "docs/figures.md" in readme
