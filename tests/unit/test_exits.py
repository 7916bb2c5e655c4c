"""kit.infra.exits: a process that ran one command ends as Python's exit ends it, in all that anyone can see (its
status, its atexit functions, its buffered output, a thread still at work), without the teardown of its modules."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

# a child that buffers output (no PYTHONUNBUFFERED), registers an atexit function, leaves an object whose finalizer
# only the teardown would run, then ends by exit_now(code)
CHILD = """
import atexit, sys, threading, time
from pathlib import Path
from kit.infra.exits import exit_now, run_then_exit
marks = Path(sys.argv[1])
class Torn:  # what it needs bound now: the teardown may have cleared the module's names before it is freed
    def __del__(self, path=str(marks / "torn"), opener=open):
        with opener(path, "w") as fh:
            fh.write("the teardown ran")
kept = Torn()
atexit.register(lambda: (marks / "atexit").write_text("ran"))
sys.stdout.write("said, not yet flushed")
sys.stderr.write("warned, not yet flushed")
code = eval(sys.argv[2])
if sys.argv[3] == "thread":
    def late():
        time.sleep(0.3)
        (marks / "thread").write_text("finished")
    threading.Thread(target=late).start()
if sys.argv[4] == "command":
    run_then_exit(lambda: sys.exit(code))
if sys.argv[4] == "raises":
    def bug():
        raise ValueError("a bug's own exception")
    run_then_exit(bug)
exit_now(code)
"""


def child_env() -> dict[str, str]:
    """This environment (a system's own variables kept) with output buffered and the kit importable."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"} | {"PYTHONPATH": str(ROOT)}


def run_child(tmp_path: Path, code: str, thread: str = "none", how: str = "direct") -> subprocess.CompletedProcess[str]:
    env = child_env()
    return subprocess.run([sys.executable, "-c", CHILD, str(tmp_path), code, thread, how], capture_output=True,
                          text=True, env=env, timeout=60)


@pytest.mark.parametrize("how", ["direct", "command"])
# as sys.exit's: a number's low byte reaches the parent on POSIX (Windows' 0xC0000005, a crashed child's code that
# `ensemble-kit ffmpeg` passes on, is past what os._exit takes as it is)
@pytest.mark.parametrize(("code", "status"), [("0", 0), ("None", 0), ("2", 2), ("1", 1), ("141", 141), ("True", 1),
                                              ("-1", 255), ("3221225477", 5), ("2**40 + 3", 3)])
def test_the_status_atexit_functions_and_buffered_output_are_pythons_and_the_teardown_is_skipped(
        tmp_path: Path, code: str, status: int, how: str) -> None:
    res = run_child(tmp_path, code, how=how)
    assert res.returncode == status
    assert res.stdout == "said, not yet flushed"
    assert res.stderr == "warned, not yet flushed"
    assert (tmp_path / "atexit").read_text() == "ran"
    assert not (tmp_path / "torn").exists()  # what exit_now saves: the modules' and objects' teardown


def test_a_code_that_is_no_number_is_printed_and_ends_in_one(tmp_path: Path) -> None:
    res = run_child(tmp_path, "'no such corpus'")
    assert res.returncode == 1
    assert res.stderr == "warned, not yet flushedno such corpus\n"
    assert (tmp_path / "atexit").read_text() == "ran"


@pytest.mark.parametrize("how", ["direct", "command"])
def test_a_thread_still_at_work_is_waited_for_as_python_waits(tmp_path: Path, how: str) -> None:
    res = run_child(tmp_path, "2", thread="thread", how=how)
    assert res.returncode == 2
    assert (tmp_path / "thread").read_text() == "finished"
    assert (tmp_path / "atexit").read_text() == "ran"
    assert res.stdout == "said, not yet flushed"
    assert (tmp_path / "torn").read_text() == "the teardown ran"  # Python's own exit, teardown included


def test_a_closed_reader_costs_no_traceback(tmp_path: Path) -> None:
    """A reader gone before the end (`ensemble-kit status | head -c0`): the flush fails quietly, the status stays."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), "0", "none", "direct"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env())
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()
    err = child.stderr.read().decode()
    assert child.wait(timeout=60) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_an_exception_that_is_no_exit_ends_as_python_ends_it(tmp_path: Path) -> None:
    """Not the kit's way out (kit.cli.guard turns every exception into a code), but never a lost traceback."""
    res = run_child(tmp_path, "0", how="raises")
    assert res.returncode == 1
    assert "Traceback" in res.stderr and "ValueError: a bug's own exception" in res.stderr
    assert (tmp_path / "atexit").read_text() == "ran"
    assert (tmp_path / "torn").read_text() == "the teardown ran"


# the files a command keeps open while it runs (a Tree's open_append), each a log that flushes every write, so the
# teardown exit_now skips owes them nothing; any other file the kit writes is a Tree's atomic write, closed at once
# (tests/unit/test_tree.py: every write goes through a Tree)
KEPT_OPEN = {("kit/steps/runner.py", "StepLog"): "_write", ("kit/corpus/progress.py", "DoneList"): "add"}


def kept_open(path: Path) -> set[str]:
    """The classes of `path` that keep a Tree's open_append beyond the statement that opens it (not a `with`)."""
    tree = ast.parse(path.read_text(), str(path))
    in_with = {id(item.context_expr) for node in ast.walk(tree) if isinstance(node, ast.With | ast.AsyncWith)
               for item in node.items}
    def opens(node: ast.AST) -> set[int]:
        return {id(n) for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                and n.func.attr == "open_append" and id(n) not in in_with}

    classes = {cls.name: opens(cls) for cls in ast.walk(tree) if isinstance(cls, ast.ClassDef)}
    outside = opens(tree) - set().union(*classes.values())
    return {name for name, found in classes.items() if found} | ({"<module>"} if outside else set())


def test_every_file_a_command_keeps_open_flushes_each_write() -> None:
    kept = {(path.relative_to(ROOT).as_posix(), name) for path in sorted((ROOT / "kit").rglob("*.py"))
            if path.name != "tree.py" for name in kept_open(path)}
    assert kept == set(KEPT_OPEN), "a file kept open across a command must flush each write (kit/infra/exits.py)"
    for (rel, name), method in KEPT_OPEN.items():
        cls = next(n for n in ast.walk(ast.parse((ROOT / rel).read_text())) if isinstance(n, ast.ClassDef)
                   and n.name == name)
        writes = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == method)
        calls = [n.func.attr for n in ast.walk(writes) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]
        assert "write" in calls and "flush" in calls, f"{rel}: {name}.{method} writes without a flush"


def test_the_kept_open_scan_finds_a_log_kept_without_a_with(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("class Log:\n    def __init__(self, tree, p):\n        self.fh = tree.open_append(p)\n"
                      "def ok(tree, p):\n    with tree.open_append(p) as fh:\n        fh.write('x')\n")
    assert kept_open(sample) == {"Log"}


def main_blocks(path: Path) -> list[ast.If]:
    """The `if __name__ == "__main__":` blocks of a module."""
    return [node for node in ast.parse(path.read_text(), str(path)).body if isinstance(node, ast.If)
            and ast.unparse(node.test).replace("'", '"') == '__name__ == "__main__"']


def ends_through_exits(node: ast.AST, functions: dict[str, ast.FunctionDef]) -> bool:
    """Whether `node` calls run_then_exit, itself or through a function of its module it calls."""
    called = {n.func.attr if isinstance(n.func, ast.Attribute) else getattr(n.func, "id", "")
              for n in ast.walk(node) if isinstance(n, ast.Call)}
    return "run_then_exit" in called or any(ends_through_exits(functions[name], {}) for name in called
                                            if name in functions)


def test_every_entry_point_of_the_kit_ends_through_exits() -> None:
    """Each module run as a program (its __main__ block) and each console script (pyproject's) ends by
    run_then_exit: an entry point that ends by Python's own exit pays the teardown again."""
    import tomllib

    found = {}
    for path in sorted((ROOT / "kit").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
        for block in main_blocks(path):
            found[path.relative_to(ROOT).as_posix()] = ends_through_exits(block, functions)
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for target in scripts.values():
        module, function = target.split(":")
        path = ROOT / (module.replace(".", "/") + ".py")
        tree = ast.parse(path.read_text())
        functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
        found[target] = ends_through_exits(functions[function], functions)
    # `python -m kit`: kit/__main__.py runs the console script's function at its top level
    package_main = ast.parse((ROOT / "kit" / "__main__.py").read_text())
    found["kit/__main__.py"] = any(isinstance(n, ast.ImportFrom) and n.module == "kit.cli.main"
                                   and any(a.name == "main" for a in n.names) for n in ast.walk(package_main)) \
        and any(isinstance(n, ast.Expr) and ast.unparse(n) == "main()" for n in package_main.body)
    assert "kit/run_full_pipeline.py" in found and "kit.cli.main:main" in found
    assert all(found.values()), f"entry points that end by Python's own exit: {[k for k, v in found.items() if not v]}"


def test_the_entry_point_scan_finds_one_that_ends_by_sys_exit(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import sys\ndef main():\n    return 0\nif __name__ == '__main__':\n    sys.exit(main())\n")
    tree = ast.parse(sample.read_text())
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert [ends_through_exits(b, functions) for b in main_blocks(sample)] == [False]
