"""No test bounds wall time where the box's own pace or CPU time says the same (issue 98, item 8): a fresh clone's CI
beside other work at a load of 35 failed 8 tests where one thing was broken, on a 2 s wall bound on Ctrl-C's stop, a
1,800 s wall limit on the real-files run and Ray's stop cases waiting on wall time.

Every limit of tests/ goes through tests/pace.py (the box's own time: `pace.run`, `pace.communicate`, `pace.wait`,
`pace.until`, `pace.Deadline`, `pace.ticking`) or reads CPU time (`time.process_time`, getrusage). This test reads
the suite's source for the ways a wall bound is spelt: a `timeout=` given to subprocess's run, communicate or wait, a
deadline made of the wall clock plus seconds, and a wall clock's reading (or a name holding one) on the small side of
`<` or `<=`. A lower bound (`> 5`: it took at least as long as a stop) holds on any box and is let be, and so is a
line that says why the wall clock is no limit there (NOT_A_LIMIT: a figure the kit computes from the time of day,
bracketed between two readings of it).
"""

from __future__ import annotations

import ast

from tests.conftest import ROOT

WALL_CLOCKS = frozenset({"monotonic", "time", "perf_counter", "monotonic_ns", "time_ns", "perf_counter_ns"})
POPEN_WAITS = frozenset({"communicate", "wait"})
OWN = ("tests/pace.py",)  # the one module that reads the wall clock to count the box's own time
NOT_A_LIMIT = "# not a time limit:"  # a line's comment: the wall clock read there bounds no time the test waits


def reads_wall_clock(node: ast.AST, names: set[str]) -> bool:
    """Whether `node` calls time's wall clock (`time.monotonic()`), or reads a name that holds such a reading."""
    for part in ast.walk(node):
        if isinstance(part, ast.Call) and isinstance(part.func, ast.Attribute) and part.func.attr in WALL_CLOCKS \
                and isinstance(part.func.value, ast.Name) and part.func.value.id == "time":
            return True
        if isinstance(part, ast.Name) and part.id in names:
            return True
    return False


def is_wall_reading(node: ast.AST) -> bool:
    """Whether `node` is a wall clock's reading, or arithmetic on one (`time.monotonic() - start`): not a call that
    takes one (`figures(out, time.time())` returns what the figures are)."""
    if isinstance(node, ast.BinOp):
        return is_wall_reading(node.left) or is_wall_reading(node.right)
    if isinstance(node, ast.Tuple):
        return any(is_wall_reading(e) for e in node.elts)
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WALL_CLOCKS \
        and isinstance(node.func.value, ast.Name) and node.func.value.id == "time"


def scopes(tree: ast.Module) -> list[list[ast.AST]]:
    """The nodes of each function (a closure's with its own), and of the module's statements outside functions."""
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    top = [s for s in tree.body if not isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)]
    return [list(ast.walk(f)) for f in functions] + [[n for s in top for n in ast.walk(s)]]


def wall_bounds(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, what) for each wall bound spelt in `tree`."""
    found: list[tuple[int, str]] = []
    for nodes in scopes(tree):
        held: set[str] = set()  # the names a wall clock's reading is assigned to (`took = time.monotonic() - t0`)
        for node in nodes:
            if isinstance(node, ast.Assign) and is_wall_reading(node.value):
                held |= {n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        for node in nodes:
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                timed = any(k.arg == "timeout" for k in node.keywords)
                if timed and (node.func.attr in POPEN_WAITS or (node.func.attr == "run" and isinstance(
                        node.func.value, ast.Name) and node.func.value.id == "subprocess")):
                    found.append((node.lineno, f"{node.func.attr}(timeout=…) counts wall time"))
            elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and (
                    (reads_wall_clock(node.left, set()) and isinstance(node.left, ast.Call))
                    or (reads_wall_clock(node.right, set()) and isinstance(node.right, ast.Call))):
                found.append((node.lineno, "a deadline on the wall clock"))
            elif isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                for op, small in zip(node.ops, sides[:-1], strict=True):
                    if isinstance(op, ast.Lt | ast.LtE) and reads_wall_clock(small, held):
                        found.append((node.lineno, "a wall time bounded from above"))
    return sorted(set(found))


def test_no_test_bounds_wall_time() -> None:
    spelt = {}
    for path in sorted((ROOT / "tests").rglob("*.py")):
        if str(path.relative_to(ROOT)) in OWN:
            continue
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        spelt |= {f"{path.relative_to(ROOT)}:{line}": what for line, what in wall_bounds(ast.parse(source))
                  if NOT_A_LIMIT not in lines[line - 1]}
    assert spelt == {}, "bound it in the box's own time (tests/pace.py) or in CPU time"


def test_each_way_a_wall_bound_is_spelt_is_found() -> None:
    """The reader finds what it looks for (a test that cannot fail is a defect), and lets a lower bound be."""
    source = '''
def f(proc, x):
    subprocess.run(["x"], timeout=3)
    proc.communicate(timeout=3)
    proc.wait(timeout=3)
    deadline = time.monotonic() + 5
    start = time.monotonic()
    took = time.monotonic() - start
    assert took <= 2.0
    assert time.perf_counter() - start < 9
    assert 3 < time.monotonic() - start
    assert time.monotonic() - start > 5
    pace.run(["x"], timeout=3)
    assert time.process_time() - x < 20
'''
    assert [line for line, _ in wall_bounds(ast.parse(source))] == [3, 4, 5, 6, 9, 10]
