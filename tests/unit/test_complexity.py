"""Every function in kit/ reads in one sitting: at most 60 lines. A nested function and a method are functions of their
own; a class is not one. A function over it is split into named steps that read better, never packed onto fewer
lines. Its complexity (at most 20) is ruff's rule, C901 (pyproject.toml): no test of it here.

A module over 500 lines is a signal, not a rule: the test lists it as a warning for a reviewer to read (pytest's
warnings summary). ARCHITECTURE.md, "Style"."""

from __future__ import annotations

import ast
import warnings
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import ROOT

KIT = ROOT / "kit"
MAX_LINES = 60
SIGNAL_MODULE_LINES = 500


def functions(code: str) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every function and method of `code` by its dotted place (`C.m`, `outer.inner`), nested ones included."""
    pending: list[tuple[str, ast.AST]] = [("", ast.parse(code))]
    while pending:
        at, node = pending.pop()
        for child in ast.iter_child_nodes(node):
            name = getattr(child, "name", "")
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                yield at + name, child
            pending.append((f"{at}{name}." if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                            else at, child))


def too_long(path: Path, root: Path = ROOT) -> list[str]:
    """The functions of a module over MAX_LINES (from its `def` to its last line): the check."""
    return [f"{path.relative_to(root)}:{name}: {lines} lines" for name, func in functions(path.read_text())
            if (lines := (func.end_lineno or func.lineno) - func.lineno + 1) > MAX_LINES]


def signals(path: Path, root: Path = ROOT) -> list[str]:
    """The module itself over SIGNAL_MODULE_LINES: a reviewer's reading, never a failure."""
    lines = len(path.read_text().splitlines())
    return [f"{path.relative_to(root)}: {lines} lines"] if lines > SIGNAL_MODULE_LINES else []


def test_every_function_reads_in_one_sitting() -> None:
    over = [line for path in sorted(KIT.rglob("*.py")) for line in too_long(path)]
    assert over == [], f"split these into named steps (at most {MAX_LINES} lines):\n" + "\n".join(over)


def test_what_a_reviewer_reads_is_listed() -> None:
    """The modules over 500 lines, as one warning: read them, split what reads badly, leave what reads well."""
    found = [line for path in sorted(KIT.rglob("*.py")) for line in signals(path)]
    if found:
        warnings.warn(f"{len(found)} modules over {SIGNAL_MODULE_LINES} lines, for a reviewer to read:\n"
                      + "\n".join(found), stacklevel=1)


def test_the_check_and_the_signal_can_fire(tmp_path: Path) -> None:
    """A long function, a long method and a long closure fail; a module over 500 lines is a signal; a long class and
    a function of 60 lines are neither."""
    body = "    x += 1\n"
    code = ("def long(x):\n" + body * 60 + "    return x\n"
            + "def fits(x):\n" + body * 58 + "    return x\n"
            + "class C:\n" + "    a = 1\n" * 70 + "    def m(self, x):\n" + ("    " + body) * 60
            + "def outer():\n    def inner(x):\n" + ("    " + body) * 60 + "    return inner\n")
    probe = tmp_path / "probe.py"
    probe.write_text(code)
    assert sorted(too_long(probe, tmp_path)) == ["probe.py:C.m: 61 lines", "probe.py:long: 62 lines",
                                                 "probe.py:outer.inner: 61 lines", "probe.py:outer: 63 lines"]
    assert signals(probe, tmp_path) == []
    probe.write_text(code + "y = 1\n" * 500)
    assert signals(probe, tmp_path) == [f"probe.py: {len(code.splitlines()) + 500} lines"]
