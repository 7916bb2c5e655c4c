"""Output that cannot be forged (issue 24 H), in a real run: a clip whose name holds line breaks and a verdict
line, and one with a terminal escape, a carriage return, a bidi override and rich markup. The run HOLDs and
says so once; no line it prints, logs or writes in the report starts with the forged text."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from kit.infra.tree import Tree
from kit.rundir import RunDir
from tests.conftest import ESCAPES_NAME, FORGED, FORGED_NAME

pytestmark = pytest.mark.slow  # a whole run of the pipeline

LOG_LINE = re.compile(r"\d\d:\d\d:\d\d |    ")  # an entry's time, or a line of its block (a stderr tail, a traceback)


def test_a_clip_named_to_forge_a_promote_line_cannot(
        named_run: tuple[Path, Path, subprocess.CompletedProcess[str]]) -> None:
    refs, out, res = named_run  # the session's run on these names (and on a clip it leaves out: test_hint_commands)
    assert {p.stem for p in refs.iterdir()} >= {FORGED_NAME, ESCAPES_NAME}
    assert res.returncode == 1, res.stdout[-3000:] + res.stderr[-3000:]  # HOLD, whatever the names say
    run = RunDir(out)
    shown = {"stdout": res.stdout, "stderr": res.stderr, "report.html": run.report.read_text(),
             **{run.rel(log): log.read_text() for log in run.logs(Tree.open(run.root, make=False))}}
    for where, text in shown.items():
        lines = text.replace("\r", "\n").splitlines()
        assert not any(line.startswith(FORGED) for line in lines), where
        assert "\x1b" not in text and "\r" not in text and "\u202e" not in text, where
        if where.endswith(".log"):
            assert all(LOG_LINE.match(line) for line in lines), (where, [ln for ln in lines if not LOG_LINE.match(ln)])
    verdict_lines = [line for line in res.stdout.splitlines() if line.startswith("[04 verdict]")]
    assert len(verdict_lines) == 3 and verdict_lines[1].startswith("[04 verdict] HOLD: mean PLCC"), verdict_lines
    assert not any("PROMOTE" in line for line in verdict_lines)
    escaped = f"zz\\n{FORGED}\\nzz"
    assert f"; {escaped} libx264 cq25: 8 frames" in res.stdout  # the job lines name it, escaped
    assert "esc\\x1b[31mred\\rcr\\u202eevil[red]x libx264 cq25" in res.stdout  # markup shown as it is
    corpus_log = (run.log("corpus")).read_text()
    assert f"-i $'{refs}/{escaped}.y4m'" in corpus_log  # the logged command, runnable as written
    assert escaped in shown["report.html"]
