"""Every function in kit/ reads in one sitting: at most 60 lines, by radon's count (pinned in requirements-test.txt: its
rules move between versions). A nested function and a method are functions of their own; a class is not one.

A cyclomatic complexity over 20 and a module over 500 lines are signals, not targets: they fail
nothing, and the test lists them as a warning for a reviewer to read (pytest's warnings summary), where packing a
function's conditions into one line to pass a cap would hide them. ARCHITECTURE.md, "Style"."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

from radon.visitors import ComplexityVisitor, Function

from tests.conftest import ROOT

KIT = ROOT / "kit"
MAX_LINES = 60
SIGNAL_COMPLEXITY = 20
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
    """The functions of a module over MAX_LINES: the check."""
    return [f"{path.relative_to(root)}:{func.fullname}: {func.endline - func.lineno + 1} lines"
            for func in functions(path.read_text()) if func.endline - func.lineno + 1 > MAX_LINES]


def signals(path: Path, root: Path = ROOT) -> list[str]:
    """The functions of a module over SIGNAL_COMPLEXITY, and the module itself over SIGNAL_MODULE_LINES: a reviewer's
    reading, never a failure."""
    text = path.read_text()
    found = [f"{path.relative_to(root)}:{func.fullname}: complexity {func.complexity}"
             for func in functions(text) if func.complexity > SIGNAL_COMPLEXITY]
    lines = len(text.splitlines())
    return found + ([f"{path.relative_to(root)}: {lines} lines"] if lines > SIGNAL_MODULE_LINES else [])


def test_every_function_reads_in_one_sitting() -> None:
    over = [line for path in sorted(KIT.rglob("*.py")) for line in too_long(path)]
    assert over == [], f"split these (at most {MAX_LINES} lines):\n" + "\n".join(over)


def test_what_a_reviewer_reads_is_listed() -> None:
    """The functions over complexity 20 and the modules over 500 lines, as one warning: read them, split what reads
    badly, leave what reads well."""
    found = [line for path in sorted(KIT.rglob("*.py")) for line in signals(path)]
    if found:
        warnings.warn(f"{len(found)} over the signals (complexity {SIGNAL_COMPLEXITY}, {SIGNAL_MODULE_LINES} lines "
                      "a module), for a reviewer to read:\n" + "\n".join(found), stacklevel=1)


def _branches(indent: str, n: int) -> str:
    return "".join(f"{indent}if x == {i}:\n{indent}    return {i}\n" for i in range(n))


def test_the_check_and_the_signals_can_fire(tmp_path: Path) -> None:
    """A long function fails; a tangled method and a tangled closure, and a module over 500 lines, are signals; a
    long class, a function of 60 lines and one of complexity 20 are neither."""
    code = ("def long(x):\n" + "    x += 1\n" * 60 + "    return x\n"
            + "def fits(x):\n" + "    x += 1\n" * 58 + "    return x\n"
            + "def even(x):\n" + _branches("    ", 19) + "    return x\n"
            + "class C:\n" + "    a = 1\n" * 70 + "    def m(self, x):\n" + _branches("        ", 21)
            + "def outer():\n    def inner(x):\n" + _branches("        ", 21) + "    return inner\n")
    probe = tmp_path / "probe.py"
    probe.write_text(code)
    assert too_long(probe, tmp_path) == ["probe.py:long: 62 lines"]
    assert sorted(signals(probe, tmp_path)) == ["probe.py:C.m: complexity 22", "probe.py:inner: complexity 22"]
    probe.write_text(code + "y = 1\n" * 500)
    assert signals(probe, tmp_path)[-1] == f"probe.py: {len(code.splitlines()) + 500} lines"
