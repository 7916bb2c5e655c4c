"""The package's shape is the architecture (ARCHITECTURE.md): layers point down, no module imports itself
through others, and steps meet only through files. Read from the source with ast, lazy imports inside functions and
TYPE_CHECKING imports included, so a violation fails here before a reviewer has to spot it. Who may import click,
rich, subprocess or json's readers is ruff's rule (TID251, pyproject.toml)."""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.conftest import ROOT

KIT = ROOT / "kit"
# the layers, lowest first; a module may import its own layer and any layer below it
LAYERS = ("contracts", "infra", "media", "platforms", "corpus", "model", "verdict", "bundle", "report", "steps",
          "cluster", "cli", "entry")
CONTRACTS = {"kit", "kit.errors", "kit.events", "kit.rundir"}  # kit/*.py that every layer shares
ENTRY = {"kit.__main__", "kit.run_full_pipeline"}


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    if module in CONTRACTS:
        return "contracts"
    if module in ENTRY:
        return "entry"
    parts = module.split(".")
    assert len(parts) >= 2 and parts[1] in LAYERS, f"{module} is in no layer: put it in the folder of its layer"
    return parts[1]


def imports(path: Path, module: str | None = None, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, module) for every import in the file, function-level and relative ones included."""
    here = (module or module_name(path, root)).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join([*package[: len(package) - node.level + 1], *([node.module] if node.module else [])]
                            ) if node.level else str(node.module)
            found.append((node.lineno, base))
            # `from kit import events` or `from kit import steps` names a module or a package
            found += [(node.lineno, f"{base}.{a.name}") for a in node.names
                      if base.startswith("kit") and _is_module(f"{base}.{a.name}", root)]
    return found


def _is_module(dotted: str, root: Path = ROOT) -> bool:
    path = root.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def violations(path: Path, module: str | None = None) -> list[str]:
    """Every import of `path` that points up a layer."""
    here = module or module_name(path)
    rank = LAYERS.index(layer_of(here))
    return [f"{path.name}:{line}: {here} ({layer_of(here)}) imports {target} ({layer_of(target)})"
            for line, target in imports(path, here)
            if target.startswith("kit.") and LAYERS.index(layer_of(target)) > rank]


SOURCES = sorted(KIT.rglob("*.py"))


def test_every_module_sits_in_a_layer_folder() -> None:
    flat = sorted(p.name for p in KIT.glob("*.py"))
    assert flat == ["__init__.py", "__main__.py", "errors.py", "events.py", "run_full_pipeline.py", "rundir.py"]
    for path in SOURCES:
        layer_of(module_name(path))


MODULES_AT = 51  # where ARCHITECTURE.md's layer listing has its third column, the modules (`python -m kit`'s place)


def listed_modules(text: str) -> dict[str, list[str]]:
    """Each layer's modules as ARCHITECTURE.md's listing names them: a folder's in the third column; the entry
    points' and the contracts' files in the second (`kit/__main__.py, run_full_pipeline.py`)."""
    block = text.split("## The layers", 1)[1].split("```\n", 2)[1]
    listed: dict[str, list[str]] = {}
    layer = ""
    for line in block.splitlines():
        layer = line[:11].strip().rstrip("/") or layer
        assert len(line) <= MODULES_AT or line[MODULES_AT - 1] == " ", \
            f"ARCHITECTURE.md: {line!r}: its second column runs into the third (column {MODULES_AT + 1})"
        names = re.findall(r"(\w+)\.py", line[11:MODULES_AT]) if layer in ("entry", "contracts") else \
            line[MODULES_AT:].split()
        listed.setdefault(layer, []).extend(names)
    return listed


def test_the_architecture_s_listing_names_each_module_once_in_its_layer() -> None:
    """ARCHITECTURE.md's listing of the layers is the folders': every module of kit/ named once, in its layer's
    row, and none that is gone (report/warned stayed listed after it went)."""
    listed = listed_modules((ROOT / "ARCHITECTURE.md").read_text())
    assert sorted(listed) == sorted(LAYERS)
    for layer, names in listed.items():
        have = sorted(p.stem for p in SOURCES if layer_of(module_name(p)) == layer and
                      (p.stem != "__init__" or p.parent == KIT))
        assert sorted(names) == have, f"ARCHITECTURE.md lists {layer}'s modules as {sorted(names)}, the folder " \
                                      f"holds {have}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down(path: Path) -> None:
    assert violations(path) == []


def test_steps_meet_only_through_files() -> None:
    steps = sorted((KIT / "steps").glob("s0*.py"))
    assert len(steps) == 5
    for path in steps:
        for line, target in imports(path):
            assert not target.startswith("kit.steps.s0"), f"{path.name}:{line}: a step imports {target}"


def test_a_violation_is_caught(tmp_path: Path) -> None:
    """The check can fail: upward imports at module level, inside a function, relative, or of a package."""
    probe = tmp_path / "probe.py"
    probe.write_text("from kit.infra.files import write_json\n"
                     "def f():\n    from kit.cli.guard import guarded\n"
                     "from ..report import summary\n"
                     "from kit import steps\n")
    found = violations(probe, "kit.model.probe")
    assert {v.split(":")[1] for v in found} == {"3", "4", "5"}, found  # line 1 points down: fine
    assert any("kit.cli.guard" in v for v in found) and any("kit.report.summary" in v for v in found)
    assert any(v.endswith("imports kit.steps (steps)") for v in found)
    with pytest.raises(AssertionError, match="in no layer"):
        layer_of("kit.helpers")


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """module -> the kit modules it imports (a package is its __init__, whose imports are its edges; importing
    a module is no edge to its package: a package's __init__ that gathers its own modules is no cycle)."""
    sources = sorted((root / "kit").rglob("*.py"))
    graph = {module_name(path, root): set[str]() for path in sources}
    for path in sources:
        here = module_name(path, root)
        graph[here] |= {t for _, t in imports(path, here, root) if t in graph and t != here}
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan's, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[frozenset[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        while work:
            node, edges = work[-1]
            nxt = next((t for t in edges if t not in index or t in stack), None)
            if nxt is not None:
                if nxt in index:
                    low[node] = min(low[node], index[nxt])
                else:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    top = stack.pop()
                    component.add(top)
                    if top == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def test_no_import_cycles() -> None:
    """No module reaches itself through its imports, late and TYPE_CHECKING ones included."""
    assert sorted(map(sorted, cycles(import_graph()))) == [], "import cycles: break each along its seam"


def test_a_cycle_is_caught(tmp_path: Path) -> None:
    """The check can fail: a cycle through a late import, one through a TYPE_CHECKING import, through a
    package's __init__, and a longer one; a chain is not a cycle."""
    kit = tmp_path / "kit"
    files = {
        "a/__init__.py": "from kit.a import one\n",
        "a/one.py": "from kit.b.two import x\n",
        "b/__init__.py": "",
        "b/two.py": "def f():\n    from kit.a import one\n",
        "c/__init__.py": "",
        "c/three.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from kit.c import four\n",
        "c/four.py": "import kit.c.five\n",
        "c/five.py": "from kit.c.three import y\n",
        "d/__init__.py": "",
        "d/six.py": "from kit.d import seven\n",
        "d/seven.py": "from kit.c import three\n",
    }
    for name, text in files.items():
        (kit / name).parent.mkdir(parents=True, exist_ok=True)
        (kit / name).write_text(text)
    (kit / "__init__.py").write_text("")
    assert sorted(map(sorted, cycles(import_graph(tmp_path)))) == [["kit.a", "kit.a.one", "kit.b.two"],
                                                  ["kit.c.five", "kit.c.four", "kit.c.three"]]
