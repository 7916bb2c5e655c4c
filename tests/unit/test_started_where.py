"""Where a command starts (issue 91, item 5): from a folder deleted since the shell entered it, or with no home folder
(HOME unset and the user unknown to the password database: a service, a container's unnamed user). Each is said in
one line, exit 2, never a traceback (before: exit 70, `FileNotFoundError` from Path.cwd() in kit/infra/invocation.py,
`RuntimeError: could not determine the home directory` from platformdirs and from `~`)."""

from __future__ import annotations

import os
import pwd
import sys
from pathlib import Path

import pytest

from tests import pace
from tests.conftest import ROOT, run_here

COMMANDS = (["status", "/nowhere/out"], ["verify", "/nowhere/results-box-1.tar.gz"], ["run", "--epochs", "1"],
            ["merge", "/nowhere/a.parquet", "-o", "m.parquet"], ["detect"], ["corpus", "info", "x.parquet"])


def one_error(stderr: str) -> str:
    errors = [ln for ln in stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    assert any(ln.startswith("hint: ") for ln in stderr.splitlines()), stderr
    return errors[0]


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a[:2]) for a in COMMANDS])
def test_a_command_started_in_a_deleted_folder_says_so_in_one_line(args: list[str], tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    script = "import os, sys; os.chdir(sys.argv[1]); os.rmdir(sys.argv[1]); " \
             "os.execv(sys.executable, [sys.executable, '-m', 'kit', *sys.argv[2:]])"
    res = pace.run([sys.executable, "-c", script, str(gone), *args], capture_output=True, text=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert res.returncode == 2, res.stderr
    assert one_error(res.stderr) == "error: the folder this command was started in no longer exists (deleted or " \
                                    "moved after the shell entered it): no path given to the kit can be found from it"


@pytest.fixture()
def no_home(monkeypatch: pytest.MonkeyPatch) -> None:
    """HOME unset, no KIT_CACHE_DIR, and this user unknown to the password database."""
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.delenv("KIT_CACHE_DIR", raising=False)

    def unknown(uid: int) -> pwd.struct_passwd:
        raise KeyError(uid)

    monkeypatch.setattr(pwd, "getpwuid", unknown)
    with pytest.raises(RuntimeError):
        Path("~").expanduser()  # what Python says then: the case is real


@pytest.mark.parametrize(("args", "said"), [
    (["detect"], "no folder for the kit's cache: its default folder starts with ~, your home folder, but there is "
                "none: HOME is not set and this user has no home folder"),
    (["run", "--out-dir", "~/runs/a"], "--out-dir '~/runs/a' starts with ~, your home folder, but there is none"),
    (["run", "--ref-dir", "~/clips"], "--ref-dir '~/clips' starts with ~, your home folder, but there is none"),
    (["merge", "a.parquet", "-o", "m.parquet", "--content-groups", "~/g.json"],
     "--content-groups"),
])
def test_a_command_with_no_home_folder_says_so_in_one_line(no_home: None, args: list[str], said: str,
                                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = run_here(*args)
    assert res.returncode == 2, (res.returncode, res.stderr[-2000:])
    assert said in one_error(res.stderr), res.stderr


def test_a_cache_variable_of_the_home_folder_with_none_is_refused_naming_it(no_home: None,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIT_CACHE_DIR", "~/cache")
    res = run_here("status", "/nowhere/out")
    assert res.returncode == 2
    assert "KIT_CACHE_DIR='~/cache' starts with ~, your home folder, but there is none" in one_error(res.stderr)
