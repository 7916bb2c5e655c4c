"""Every KIT_ variable that holds no number is declared once with its rule (kit/infra/variables.py), read only
through it, checked as every command starts and named in its refusal (issue 75, item 3). The numeric ones and the
flags' own variables: tests/unit/test_outside_numbers.py, which also finds every KIT_ name the source spells in a
declaration (a new variable cannot escape).

Each declared variable is given the values its kind refuses (a switch `maybe`, `2`, `enabled`; a folder a file's
path; a word one it does not take) under every command of the kit: exit 2, one `error:` line naming it, before any
work; and each spelling the docs give of its values (docs/collaborator.md: on/true/yes/1, off/false/no/0, any case)
is read as that value.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from kit.cli.main import cli
from kit.corpus.shared import shared_decode_enabled
from kit.infra import variables
from kit.infra.host import cache_dir, group_shared_from_env
from kit.infra.variables import OFF, ON, VARIABLES, Variable, any_text, folder, switch
from tests.conftest import ROOT


def refused_values(variable: Variable, tmp_path: Path) -> list[str]:
    """What its kind refuses; a kind this test does not know fails here (a new kind: say what it refuses)."""
    if variable.parse is switch:
        return ["maybe", "2", "enabled", "o n"]
    if variable.parse is folder:
        (tmp_path / "a-file").write_text("")
        return [str(tmp_path / "a-file")]
    if variable.parse is any_text:
        return []  # a command's words, a harness's point: any text is one
    if variable.parse.__qualname__.startswith("one_of"):
        return ["bogus", "public,auto"]
    raise AssertionError(f"{variable.name}: a kind of variable this test does not know ({variable.parse})")


CHECKED = [v for v in VARIABLES.values() if v.checked]
# commands that start cheaply with a placeholder; each must refuse the variable before it does anything
COMMANDS = [["status", "/nonexistent/out"], ["verify", "/nonexistent/x.tar.gz"], ["corpus", "info", "/nonexistent"],
            ["merge", "/nonexistent/a.parquet", "-o", "/nonexistent/m.parquet"], ["run", "--out-dir", "OUT"],
            ["detect"]]


@pytest.mark.parametrize("variable", CHECKED, ids=[v.name for v in CHECKED])
def test_a_value_a_variable_does_not_take_is_refused_naming_it_as_any_command_starts(variable: Variable,
                                                                                      tmp_path: Path) -> None:
    for value in refused_values(variable, tmp_path):
        for command in COMMANDS:
            args = [str(tmp_path / "out") if a == "OUT" else a for a in command]
            res = CliRunner().invoke(cli, args, env={variable.name: value})
            assert res.exit_code == 2, (variable.name, value, command, res.output)
            errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
            assert len(errors) == 1 and variable.name in errors[0], (command, res.stderr)  # click names an option's
            assert "hint: " in res.stderr and "Traceback" not in res.output
            assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("word", [*ON, *OFF, *(w.upper() for w in ON + OFF), " On ", "False"])
def test_a_switch_reads_every_spelling_the_docs_give(word: str, monkeypatch: pytest.MonkeyPatch) -> None:
    on = word.strip().lower() in ON
    monkeypatch.setenv("KIT_SHARED_DECODE", word)
    monkeypatch.setenv("KIT_GROUP_SHARED", word)
    assert shared_decode_enabled() is on and group_shared_from_env() is on
    res = CliRunner().invoke(cli, ["status", "/nonexistent/out"], env={"KIT_SHARED_DECODE": word})
    assert "KIT_SHARED_DECODE" not in res.stderr, res.stderr  # taken: status goes on to its own refusal


def test_unset_or_empty_is_each_variable_s_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for variable in VARIABLES.values():
        monkeypatch.delenv(variable.name, raising=False)
        assert variable.read() == variable.default
        monkeypatch.setenv(variable.name, "  ")
        assert variable.read() == variable.default
    monkeypatch.setenv("KIT_CACHE_DIR", str(tmp_path / "cache"))
    assert cache_dir() == tmp_path / "cache"  # a folder not made yet: made where the cache is opened
    assert VARIABLES["KIT_TRAIN_KERNELS"].read({"KIT_TRAIN_KERNELS": "Public"}) == "public"


def test_the_declared_variables_are_read_only_through_their_declaration() -> None:
    """No module reads a declared variable by its name from the environment (os.environ.get, os.getenv,
    os.environ[...]): each goes through its Variable.read, so its rule is the one reading."""
    declared = set(VARIABLES)
    found = []
    for path in sorted((ROOT / "kit").rglob("*.py")):
        if path == Path(variables.__file__):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            text = ast.unparse(node) if isinstance(node, ast.Call | ast.Subscript) else ""
            if re.search(r"(environ\.get|getenv|environ\[)", text) and (names := set(re.findall(r"KIT_[A-Z_]+", text))
                                                                         & declared):
                found.append(f"{path.relative_to(ROOT)}: {sorted(names)}")
    assert found == []
