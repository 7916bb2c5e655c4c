"""Every function in kit/ reads in one sitting: at most 60 lines and a cyclomatic complexity of at most 20, by radon's
count (pinned in requirements-test.txt: its rules move between versions). A nested function and a method are
functions of their own; a class is not one. A function over either is split into named steps that read better, never
packed onto fewer lines (radon counts a condition wherever it is written).

A module over 500 lines is a signal, not a rule: the test lists it as a warning for a reviewer to read (pytest's
warnings summary). ARCHITECTURE.md, "Style"."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

from radon.visitors import ComplexityVisitor, Function

from tests.conftest import ROOT

KIT = ROOT / "kit"
MAX_LINES = 60
MAX_COMPLEXITY = 20
SIGNAL_MODULE_LINES = 500


def functions(code: str) -> Iterator[Function]:
    """Every function and method of `code`, nested ones included (radon counts a closure on its own)."""
    pending = list(ComplexityVisitor.from_code(code).functions)
    for cls in ComplexityVisitor.from_code(code).classes:
        pending += cls.methods
    while pending:
        func = pending.pop()
        pending += func.closures
        yield func


def too_long(path: Path, root: Path = ROOT) -> list[str]:
    """The functions of a module over MAX_LINES or over MAX_COMPLEXITY: the check."""
    found = []
    for func in functions(path.read_text()):
        if (lines := func.endline - func.lineno + 1) > MAX_LINES:
            found.append(f"{path.relative_to(root)}:{func.fullname}: {lines} lines")
        if func.complexity > MAX_COMPLEXITY:
            found.append(f"{path.relative_to(root)}:{func.fullname}: complexity {func.complexity}")
    return found


def signals(path: Path, root: Path = ROOT) -> list[str]:
    """The module itself over SIGNAL_MODULE_LINES: a reviewer's reading, never a failure."""
    lines = len(path.read_text().splitlines())
    return [f"{path.relative_to(root)}: {lines} lines"] if lines > SIGNAL_MODULE_LINES else []


def test_every_function_reads_in_one_sitting() -> None:
    over = [line for path in sorted(KIT.rglob("*.py")) for line in too_long(path)]
    assert over == [], (f"split these into named steps (at most {MAX_LINES} lines, complexity {MAX_COMPLEXITY}):\n"
                        + "\n".join(over))


def test_what_a_reviewer_reads_is_listed() -> None:
    """The modules over 500 lines, as one warning: read them, split what reads badly, leave what reads well."""
    found = [line for path in sorted(KIT.rglob("*.py")) for line in signals(path)]
    if found:
        warnings.warn(f"{len(found)} modules over {SIGNAL_MODULE_LINES} lines, for a reviewer to read:\n"
                      + "\n".join(found), stacklevel=1)


def _branches(indent: str, n: int) -> str:
    return "".join(f"{indent}if x == {i}:\n{indent}    return {i}\n" for i in range(n))


def test_the_check_and_the_signal_can_fire(tmp_path: Path) -> None:
    """A long function, a tangled method and a tangled closure fail; a module over 500 lines is a signal; a long
    class, a function of 60 lines and one of complexity 20 are neither."""
    code = ("def long(x):\n" + "    x += 1\n" * 60 + "    return x\n"
            + "def fits(x):\n" + "    x += 1\n" * 58 + "    return x\n"
            + "def even(x):\n" + _branches("    ", 19) + "    return x\n"
            + "class C:\n" + "    a = 1\n" * 70 + "    def m(self, x):\n" + _branches("        ", 21)
            + "def outer():\n    def inner(x):\n" + _branches("        ", 21) + "    return inner\n")
    probe = tmp_path / "probe.py"
    probe.write_text(code)
    assert sorted(too_long(probe, tmp_path)) == ["probe.py:C.m: complexity 22", "probe.py:inner: complexity 22",
                                                 "probe.py:long: 62 lines"]
    assert signals(probe, tmp_path) == []
    probe.write_text(code + "y = 1\n" * 500)
    assert signals(probe, tmp_path) == [f"probe.py: {len(code.splitlines()) + 500} lines"]
