"""Every command the kit prints is spelled the way the kit was started, and the README's set-up is install.py."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

import make_tarball
from kit import KIT_ROOT
from kit.infra import invocation
from kit.infra.invocation import kit_cli, kit_command, retry_command
from tests.conftest import ROOT

PRINTED_COMMAND = re.compile(r"ensemble-kit (run|step|verify|status|detect|merge|corpus|binaries)\b")


def entry_script(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "ensemble-kit"
    script.write_text(f"#!{sys.executable}\nfrom kit.cli.main import main\nmain()\n")
    script.chmod(0o755)
    return script


def test_the_entry_point_is_named_only_when_that_name_on_path_is_what_ran(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = entry_script(tmp_path / ".venv" / "bin")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setattr(sys, "argv", [str(script), "status", "runs/a b"])
    assert kit_cli() == ".venv/bin/ensemble-kit"  # a venv that is not active: the name alone would not run
    assert retry_command() == ".venv/bin/ensemble-kit status 'runs/a b'"
    monkeypatch.setenv("PATH", f"{script.parent}:/usr/bin:/bin")
    assert kit_cli() == "ensemble-kit" and kit_command("verify", "r s.tar.gz") == "ensemble-kit verify 'r s.tar.gz'"


def test_python_dash_m_kit_and_the_script_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", [str(KIT_ROOT / "kit" / "__main__.py"), "run", "--seeds", "0"])
    monkeypatch.chdir(KIT_ROOT)
    assert kit_cli() == f"{invocation.interpreter()} -m kit"
    assert retry_command() == f"{invocation.interpreter()} -m kit run --seeds 0"
    monkeypatch.chdir(tmp_path)  # elsewhere, `-m kit` would not find the kit: name its file
    assert kit_cli() == f"{sys.executable} {KIT_ROOT / 'kit' / '__main__.py'}"
    assert retry_command() == f"{sys.executable} {KIT_ROOT / 'kit' / '__main__.py'} run --seeds 0"
    monkeypatch.chdir(KIT_ROOT)
    monkeypatch.setattr(sys, "argv", ["kit/run_full_pipeline.py", "--seeds", "0"])
    assert retry_command() == f"{invocation.interpreter()} kit/run_full_pipeline.py --seeds 0"


def _printed_literals(tree: ast.AST) -> list[tuple[int, str]]:
    """String literals that reach users as messages: not docstrings, not --help text."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skip.add(id(first.value))
        if isinstance(node, ast.keyword) and node.arg in ("help", "epilog"):
            skip.update(id(n) for n in ast.walk(node.value))
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in skip]


def test_no_message_spells_a_kit_command_itself() -> None:
    """`ensemble-kit …` runs only where it is installed and its venv active: messages use kit_command."""
    found = [f"{path.relative_to(ROOT)}:{line}: {text!r}"
             for path in sorted((ROOT / "kit").rglob("*.py"))
             for line, text in _printed_literals(ast.parse(path.read_text()))
             if PRINTED_COMMAND.search(text)]
    assert not found, "\n".join(found)


def test_readme_ci_and_tarball_set_up_with_install_py() -> None:
    """The README's two commands start with install.py (the hash-checked set-up, tests/unit/test_pins.py), .ci/run
    runs the README's test command exactly, and the kit tarball ships what the main command needs."""
    readme = (ROOT / "README.md").read_text()
    commands = [line.strip() for line in readme.splitlines() if line.startswith("    python3 install.py")]
    assert commands == ["python3 install.py && .venv/bin/python kit/run_full_pipeline.py",
                        "python3 install.py --test && .venv/bin/ruff check . && .venv/bin/mypy && .venv/bin/python -m "
                        "pytest -q -n 3 --dist loadfile --durations=25"]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert commands[1] in ci  # a line of its own: exactly the README's
    # the type check is a step of its own, seen in the command (pyproject.toml's [tool.mypy]: files = kit), not a test
    assert "&& .venv/bin/mypy &&" in commands[1] and not (ROOT / "tests" / "unit" / "test_types.py").exists()
    assert {"install.py", "requirements-frozen.txt", "requirements-train.txt", "requirements-torch.txt",
            "pyproject.toml"} <= set(make_tarball.INCLUDE)


def test_step_help_offers_no_selection_flags_and_no_example_that_needs_an_earlier_step() -> None:
    from click.testing import CliRunner

    from kit.cli.main import cli

    step = CliRunner().invoke(cli, ["step", "--help"]).output
    assert "--from" not in step and "--only" not in step and "step corpus" not in step
    run = CliRunner().invoke(cli, ["run", "--help"]).output
    assert "--from" in run and "--only" in run
    assert CliRunner().invoke(cli, ["step", "verdict", "--only", "loso"]).exit_code == 2  # click: no such option


def test_the_files_dealt_first_are_files_of_the_suite() -> None:
    """tests/conftest.py's LONGEST names each file by its folder and name: a renamed file would fall back to
    collection order unnoticed, and be the last one running again."""
    from tests.conftest import LONGEST

    assert len(set(LONGEST)) == len(LONGEST)
    assert [name for name in LONGEST if not (ROOT / "tests" / name).is_file()] == []
