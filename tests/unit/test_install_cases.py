"""The set-up's hostile cases (issue 60): install.py over a half-made .venv, in a read-only folder, stopped by Ctrl-C,
and run by a Python too old to read today's syntax. Each refusal is one sentence naming its cause and the folder or
the Python, a hint, exit 2, no traceback; Ctrl-C says what to run to finish, exit 130. The set-up runs for real, as
`python install.py` in a copy of its three files (a kit folder of its own), where what it meets stops it early."""

from __future__ import annotations

import ast
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import install_python
import install_steps
from tests import pace
from tests.conftest import ROOT

SETUP_FILES = ("install.py", "install_python.py", "install_steps.py")


def kit_folder(where: Path) -> Path:
    """A folder holding the set-up's three files, as an untarred kit holds them."""
    where.mkdir(parents=True, exist_ok=True)
    for name in SETUP_FILES:
        shutil.copy2(ROOT / name, where / name)
    return where


def set_up(folder: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return pace.run([sys.executable, "install.py", *args], cwd=folder, capture_output=True, text=True,
                    timeout=300, env={**os.environ, **(env or {})})


def refusal(res: subprocess.CompletedProcess[str]) -> tuple[str, str]:
    """(the error line, the hint line) of a set-up that refused: exit 2, one of each, no traceback."""
    said = res.stdout + res.stderr
    assert res.returncode == 2 and "Traceback" not in said, said
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
    hints = [ln for ln in res.stderr.splitlines() if ln.startswith("hint: ")]
    assert len(errors) == 1 and len(hints) == 1, res.stderr
    return errors[0], hints[0]


@pytest.mark.parametrize(("cfg", "why"), [
    (b"home = /usr/bin\nversion = 3\n", "says version '3'"),
    (b"", "is empty"),
    (b"home = /usr/bin\nversion = 3.12\xff\xfe\n", "is not UTF-8 text"),
    (None, "is missing"),
])
def test_a_half_made_venv_is_refused_naming_the_folder(tmp_path: Path, cfg: bytes | None, why: str) -> None:
    """Once a traceback and exit 1 (pyvenv.cfg's version read as int('3.12') or split short, or not decoded)."""
    folder = kit_folder(tmp_path / "kit")
    venv = folder / ".venv"
    install_steps.venv_python(venv).parent.mkdir(parents=True)
    install_steps.venv_python(venv).write_text("")
    if cfg is not None:
        (venv / "pyvenv.cfg").write_bytes(cfg)
    error, hint = refusal(set_up(folder))
    assert error.startswith(f"error: {venv} is a half-made venv: its pyvenv.cfg {why}"), error
    assert hint == f"hint: remove or move the .venv folder (rm -rf {venv}), then run install.py again"
    assert venv.is_dir()  # the set-up removes nothing it did not make


@pytest.fixture
def read_only_kit(tmp_path: Path) -> Path:
    """A kit folder on a file system mounted read-only (a tmpfs: root, which this suite runs as in CI, ignores
    permission bits, never a read-only mount)."""
    where = tmp_path / "ro"
    where.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (not root, or no mount)")
    try:
        kit_folder(where)
        subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True, capture_output=True)
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_a_read_only_kit_folder_is_said_as_such_not_as_a_missing_venv_package(read_only_kit: Path) -> None:
    """Once `python -m venv could not make …` with the hint to install python3.11-venv, the real cause (a read-only
    file system) only in venv's own output above it."""
    error, hint = refusal(set_up(read_only_kit))
    assert error == (f"error: install.py cannot write in {read_only_kit}: Read-only file system (the set-up makes "
                     ".venv and the kit's build files there)"), error
    assert hint.startswith("hint: it is on a read-only file system: copy the kit to a folder you can write"), hint
    assert "-venv" not in hint, hint


def test_ctrl_c_says_how_to_finish_the_set_up_without_a_traceback(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the terminal's process group) while pip waits on an index: once a 20-line KeyboardInterrupt
    traceback; now a line saying it was interrupted and the command that finishes it, exit 130, pip stopped."""
    folder = kit_folder(tmp_path / "kit")
    (folder / install_steps.FROZEN).write_text(f"tinykit-probe==1.0 --hash=sha256:{'0' * 64}\n")
    with socket.socket() as index:  # an index that takes the connection and never answers
        index.bind(("127.0.0.1", 0))
        index.listen(8)
        env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": f"http://127.0.0.1:"
               f"{index.getsockname()[1]}/simple", "PIP_TIMEOUT": "120", "PIP_RETRIES": "0", "PYTHONUNBUFFERED": "1"}
        env.pop("PIP_FIND_LINKS", None)
        proc = subprocess.Popen([sys.executable, "install.py"], cwd=folder, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
        assert proc.stdout is not None
        for line in proc.stdout:  # until pip has started on the pinned packages
            if line.startswith("set-up: the pinned packages"):
                break
        time.sleep(2)  # pip imports and connects
        os.killpg(proc.pid, signal.SIGINT)
        out, err = pace.communicate(proc, 60)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err, out + err
    assert err.strip().splitlines()[-1] == ("set-up: interrupted; what is installed is kept. To finish it, run: "
                                            f"{sys.executable} install.py"), err


def test_a_ctrl_c_while_a_child_is_made_stops_the_child(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ctrl-C that lands while Popen makes pip's process (a busy box: the full suite's Ctrl-C test hung 60 s in 2 of
    4 runs) once left pip running unseen, holding the terminal's output open; now it is held until the child exists,
    then stops it."""
    made: list[subprocess.Popen[str]] = []

    class CtrlCInside(subprocess.Popen):  # type: ignore[type-arg]
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            made.append(self)
            # the user's Ctrl-C, before Popen has returned, to this thread: install.py has no other, but a test
            # runner's worker does, and a signal to the process may land on one of those
            signal.pthread_kill(threading.get_ident(), signal.SIGINT)

    monkeypatch.setattr(install_steps.subprocess, "Popen", CtrlCInside)
    with pytest.raises(KeyboardInterrupt):
        install_steps.finished([sys.executable, "-c", "import time; time.sleep(60)"])
    assert made and made[0].poll() is not None, "the child was left running"
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, set())  # Ctrl-C no longer held


def python2_breaches(source: str) -> list[str]:
    """What in `source` Python 2.7 (and 3.6) cannot parse: f-strings, annotations, keyword-only arguments, `:=`,
    `nonlocal`, async, `yield from`, `raise … from`, `@`, starred targets and displays, `**` in a dict display,
    print with keywords (print is a statement there), and `from __future__ import annotations` (3.7)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        bad = (
            isinstance(node, ast.JoinedStr | ast.AnnAssign | ast.NamedExpr | ast.Nonlocal | ast.AsyncFunctionDef
                       | ast.Await | ast.YieldFrom | ast.MatMult | ast.Starred)
            or (isinstance(node, ast.arg) and node.annotation is not None)
            or (isinstance(node, ast.FunctionDef) and (node.returns is not None or node.args.kwonlyargs
                                                       or node.args.posonlyargs))
            or (isinstance(node, ast.Raise) and node.cause is not None)
            or (isinstance(node, ast.Dict) and None in node.keys)
            or (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print")
            or (isinstance(node, ast.ImportFrom) and node.module == "__future__"))
        if bad:
            found.append(f"line {line}: {type(node).__name__}")
    return found


def test_install_py_reads_in_the_grammar_of_python_2_7_and_3_6() -> None:
    """Once a SyntaxError on Python 3.6 (`from __future__ import annotations`) and 2.7 (f-strings): no older Python
    is installable here, so its grammar is checked (3.6's by ast itself, 2.7's by the subset above, which finds what
    install_steps.py, the file for 3.11, holds)."""
    for name in ("install.py", "install_python.py"):
        source = (ROOT / name).read_text()
        ast.parse(source, feature_version=(3, 6))
        assert python2_breaches(source) == [], name
    assert python2_breaches((ROOT / "install_steps.py").read_text())  # the check sees what 2.7 would refuse


@pytest.mark.parametrize("version", [(2, 7, 18, "final", 0), (3, 6, 9, "final", 0), (3, 10, 12, "final", 0)])
def test_an_old_python_gets_the_sentence_and_exit_2(tmp_path: Path, version: tuple[object, ...]) -> None:
    """install.py run as an old Python runs it (its version is all it reads of it before it refuses): the sentence
    naming the version and the floor, exit 2, and install_steps.py never imported."""
    folder = kit_folder(tmp_path / "kit")
    (folder / "install_steps.py").write_text("raise SystemExit('install_steps imported')\n")
    code = (f"import runpy, sys; sys.version_info = {version!r}; "
            "runpy.run_path('install.py', run_name='__main__')")
    res = pace.run([sys.executable, "-c", code], cwd=folder, capture_output=True, text=True, timeout=60,
                   env={**os.environ, "PATH": str(tmp_path / "no-pythons")})
    error, hint = refusal(res)
    assert error == (f"error: Python {version[0]}.{version[1]} runs install.py; the pinned packages are for Python "
                     "3.11 to 3.13 (docs/collaborator.md#platforms)"), error
    assert hint.startswith("hint: install Python 3.11 to 3.13"), hint
    assert install_python.python_refusal((3, 11)) is None and install_python.python_refusal((3, 13)) is None


def top_level_imports(names: set[str]) -> dict[str, set[str]]:
    """Each of the repository's top-level modules (`names`) -> those of them it imports, late imports included."""
    graph: dict[str, set[str]] = {name: set() for name in names}
    for name in names:
        for node in ast.walk(ast.parse((ROOT / f"{name}.py").read_text())):
            if isinstance(node, ast.Import):
                graph[name] |= {alias.name for alias in node.names} & names
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in names:
                graph[name].add(node.module)
    return graph


def test_the_set_up_s_files_import_one_way() -> None:
    """install.py and install_steps.py once imported each other (install_steps read the Python check from install,
    which loads install_steps): the check lives in install_python.py, which both read. No top-level module of the
    repository reaches itself (tests/unit/test_layers.py checks kit/ the same way)."""
    from tests.unit.test_layers import cycles

    graph = top_level_imports({path.stem for path in ROOT.glob("*.py")})
    assert graph["install"] == {"install_python", "install_steps"} and graph["install_steps"] == {"install_python"}
    assert graph["install_python"] == set()
    assert cycles(graph) == []
    assert cycles({"install": {"install_steps"}, "install_steps": {"install"}}) == [{"install", "install_steps"}]
