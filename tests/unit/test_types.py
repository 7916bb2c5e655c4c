"""kit/ type-checks: mypy, with pyproject.toml's [tool.mypy] settings, finds no error (ARCHITECTURE.md, "Style").

A test rather than a step of the README's test command: there it ran alone before pytest started, here it runs on
one worker while the other runs tests (about 15 s of CPU on a fresh clone, when .mypy_cache is empty).
`nox -s type` runs mypy alone."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_kit_type_checks() -> None:
    res = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:]  # 1 for errors found, 2 for a failed start
