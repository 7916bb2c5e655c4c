"""Every function in kit/ reads in one sitting: at most 60 lines and a cyclomatic complexity of at most 20, both
by radon's count (pinned in requirements-test.txt: its rules move between versions). A nested function and a
method are functions of their own; a class is not one. ARCHITECTURE.md, "Style"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from radon.visitors import ComplexityVisitor, Function

from tests.conftest import ROOT

KIT = ROOT / "kit"
MAX_LINES = 60
MAX_COMPLEXITY = 20
MAX_MODULE_LINES = 500


def functions(code: str) -> Iterator[Function]:
    """Every function and method of `code`, nested ones included (radon counts a closure on its own)."""
    pending = list(ComplexityVisitor.from_code(code).functions)
    for cls in ComplexityVisitor.from_code(code).classes:
        pending += cls.methods
    while pending:
        func = pending.pop()
        pending += func.closures
        yield func


def too_big(path: Path, root: Path = ROOT) -> list[str]:
    found = []
    for func in functions(path.read_text()):
        lines = func.endline - func.lineno + 1
        if lines > MAX_LINES or func.complexity > MAX_COMPLEXITY:
            found.append(f"{path.relative_to(root)}:{func.fullname}: {lines} lines, complexity {func.complexity}")
    return found


def test_every_function_reads_in_one_sitting() -> None:
    over = [line for path in sorted(KIT.rglob("*.py")) for line in too_big(path)]
    assert over == [], f"split these (at most {MAX_LINES} lines, complexity {MAX_COMPLEXITY}):\n" + "\n".join(over)


def test_every_module_is_under_the_split_size() -> None:
    """STYLE: split a module that passes ~400 lines; none of kit/ may pass 500."""
    over = [f"{p.relative_to(ROOT)}: {n}" for p in sorted(KIT.rglob("*.py"))
            if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES]
    assert over == [], f"split these (at most {MAX_MODULE_LINES} lines):\n" + "\n".join(over)


def _branches(indent: str, n: int) -> str:
    return "".join(f"{indent}if x == {i}:\n{indent}    return {i}\n" for i in range(n))


def test_the_check_can_fail(tmp_path: Path) -> None:
    """A long function, a tangled method and a tangled closure are each caught; a long class, a function of 60
    lines and one of complexity 20 are not."""
    code = ("def long(x):\n" + "    x += 1\n" * 60 + "    return x\n"
            + "def fits(x):\n" + "    x += 1\n" * 58 + "    return x\n"
            + "def even(x):\n" + _branches("    ", 19) + "    return x\n"
            + "class C:\n" + "    a = 1\n" * 70 + "    def m(self, x):\n" + _branches("        ", 21)
            + "def outer():\n    def inner(x):\n" + _branches("        ", 21) + "    return inner\n")
    probe = tmp_path / "probe.py"
    probe.write_text(code)
    assert sorted(too_big(probe, tmp_path)) == ["probe.py:C.m: 43 lines, complexity 22",
                                                "probe.py:inner: 43 lines, complexity 22",
                                                "probe.py:long: 62 lines, complexity 1"]
