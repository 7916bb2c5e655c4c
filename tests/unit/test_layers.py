"""The package's shape is the architecture (ARCHITECTURE.md): layers point down, and the few
rules about who may use click, rich and subprocess hold. Read from the source with ast, lazy
imports inside functions included, so a violation fails here before a reviewer has to spot it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

KIT = ROOT / "kit"
# the layers, lowest first; a module may import its own layer and any layer below it
LAYERS = ("contracts", "infra", "media", "platforms", "corpus", "model", "verdict", "bundle", "report", "steps", "cli",
          "entry")
CONTRACTS = {"kit", "kit.errors", "kit.events", "kit.rundir"}  # kit/*.py that every layer shares
ENTRY = {"kit.__main__", "kit.run_full_pipeline"}
UI_LIBRARIES = ("click", "rich")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    if module in CONTRACTS:
        return "contracts"
    if module in ENTRY:
        return "entry"
    parts = module.split(".")
    assert len(parts) >= 2 and parts[1] in LAYERS, f"{module} is in no layer: put it in the folder of its layer"
    return parts[1]


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import in the file, function-level ones included."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            if node.module == "kit":  # `from kit import events` names a module
                found += [(node.lineno, f"kit.{a.name}") for a in node.names if (KIT / f"{a.name}.py").exists()]
    return found


SOURCES = sorted(KIT.rglob("*.py"))


def test_every_module_sits_in_a_layer_folder() -> None:
    flat = sorted(p.name for p in KIT.glob("*.py"))
    assert flat == ["__init__.py", "__main__.py", "errors.py", "events.py", "run_full_pipeline.py", "rundir.py"]
    for path in SOURCES:
        layer_of(module_name(path))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down(path: Path) -> None:
    here = module_name(path)
    rank = LAYERS.index(layer_of(here))
    for line, target in imports(path):
        if target == "kit" or not target.startswith("kit."):
            continue
        there = layer_of(target)
        assert LAYERS.index(there) <= rank, f"{path.name}:{line}: {here} ({layer_of(here)}) imports {target} ({there})"


def test_only_the_cli_and_the_report_draw_on_a_terminal() -> None:
    for path in SOURCES:
        if layer_of(module_name(path)) in ("cli", "report"):
            continue
        for line, target in imports(path):
            assert target.split(".")[0] not in UI_LIBRARIES, f"{path.relative_to(ROOT)}:{line} imports {target}"


def test_only_the_process_wrapper_spawns_processes() -> None:
    for path in SOURCES:
        if path == KIT / "infra" / "proc.py":
            continue
        for line, target in imports(path):
            assert target.split(".")[0] not in ("subprocess", "multiprocessing", "pty"), \
                f"{path.relative_to(ROOT)}:{line} imports {target}: spawn through kit.infra.proc"
        assert "os.system(" not in path.read_text() and "os.popen(" not in path.read_text(), path


def test_steps_meet_only_through_files() -> None:
    steps = sorted((KIT / "steps").glob("s0*.py"))
    assert len(steps) == 5
    for path in steps:
        for line, target in imports(path):
            assert not target.startswith("kit.steps.s0"), f"{path.name}:{line}: a step imports {target}"


def test_a_violation_is_caught() -> None:
    """The checks above can fail: a steps module importing the CLI is named."""
    rank = LAYERS.index(layer_of("kit.steps.runner"))
    assert LAYERS.index(layer_of("kit.cli.guard")) > rank
    assert layer_of("kit.infra.proc") == "infra" and layer_of("kit.rundir") == "contracts"
    with pytest.raises(AssertionError, match="in no layer"):
        layer_of("kit.helpers")
