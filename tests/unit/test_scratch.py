"""Each kit process, each child and each library it loads writes its temporaries in a folder of its own (issue 89,
item 2; kit.infra.scratch): made fresh (0700, a random name), checked, named by TMPDIR, TMP, TEMP, tempfile and
XDG_CACHE_HOME, removed at exit, after a SIGKILL by the reaper, and, left anyway, by the next kit process; a
temporary folder others may write without the sticky bit, or another user's, refused. Each case runs in a process
of its own (opening the folder changes the process's environment). Another user's folders are made with os.chown
(the tests run as root in CI); elsewhere those cases skip."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests import pace
from tests.conftest import ROOT

NOBODY = 65534
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user needs root")

OPEN = """
import json, os, sys, tempfile
from kit.infra import scratch
from kit.infra.host import cache_dir
made = scratch.open_scratch()
child = scratch.child_folder()
env = scratch.child_environment(os.environ, child)
print(json.dumps({"made": str(made), "env": {k: os.environ.get(k) for k in ("TMPDIR", "TMP", "TEMP", "XDG_CACHE_HOME")},
                  "tempdir": tempfile.gettempdir(), "mode": oct(os.stat(made).st_mode & 0o7777),
                  "child": str(child), "child_env": {k: env.get(k) for k in ("TMPDIR", "XDG_CACHE_HOME")},
                  "handed": {k: scratch.child_environment(os.environ, None).get(k) for k in ("TMPDIR",)},
                  "cache": str(cache_dir()), "exists": os.path.isdir(made)}))
"""


def run_python(code: str, tmpdir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    dropped = ("TMPDIR", "TEMP", "TMP", "XDG_CACHE_HOME", "KIT_CACHE_DIR")
    full = {k: v for k, v in os.environ.items() if k not in dropped}
    full.update({"TMPDIR": str(tmpdir), "PYTHONPATH": str(ROOT), **env})
    return pace.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=120)


@pytest.fixture()
def sticky(tmp_path: Path) -> Path:
    """A temporary folder as /tmp is: root's (the test's user's), everyone's to write, sticky."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    folder.chmod(0o1777)
    return folder


def test_a_process_gets_a_private_folder_named_by_every_variable_and_removed_at_exit(sticky: Path,
                                                                                    tmp_path: Path) -> None:
    res = run_python(OPEN, sticky, XDG_CACHE_HOME=str(tmp_path / "xdg"))
    assert res.returncode == 0, res.stderr
    said = json.loads(res.stdout)
    made = Path(said["made"])
    assert made.parent == sticky and made.name.startswith(".tmp-kit.") and said["mode"] == "0o700"
    assert said["env"]["TMPDIR"] == said["env"]["TMP"] == said["env"]["TEMP"] == said["tempdir"] == str(made)
    if sys.platform.startswith("linux"):  # where libraries read it: onnxruntime's telemetry goes below the folder
        assert Path(said["env"]["XDG_CACHE_HOME"]).parent == made
    # a child: a folder of its own inside; XDG_CACHE_HOME as the user started the kit; work handed over: the user's
    assert Path(said["child"]).parent == made and said["child_env"]["TMPDIR"] == said["child"]
    assert said["child_env"]["XDG_CACHE_HOME"] == str(tmp_path / "xdg") and said["handed"]["TMPDIR"] == str(sticky)
    assert said["cache"] == str(tmp_path / "xdg" / "ensemble-kit")  # the kit's own cache: the user's XDG's
    assert said["exists"] and not made.exists() and list(sticky.iterdir()) == []  # gone at exit


def test_a_folder_others_may_write_without_the_sticky_bit_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    res = run_python(OPEN, shared)
    assert res.returncode != 0 and "TempRefused" in res.stderr, res.stderr
    assert f"the temporary folder TMPDIR {shared} belongs to you" in res.stderr
    assert "without the sticky bit (drwxrwxrwx)" in res.stderr and list(shared.iterdir()) == []


@needs_root
def test_a_sticky_folder_of_another_user_is_refused(tmp_path: Path) -> None:
    """The owner of a sticky folder may still rename or remove what others put in it."""
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    theirs.chmod(0o1777)
    os.chown(theirs, NOBODY, NOBODY)
    res = run_python(OPEN, theirs)
    assert res.returncode != 0 and "belongs to user nobody" in res.stderr, res.stderr


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@needs_root
def test_what_a_killed_process_left_is_removed_by_the_next_one(sticky: Path) -> None:
    """This host's dead process's folder is removed; a live one's, another user's and a name the kit does not give
    are kept."""
    from kit.infra.files import host_tag

    dead = sticky / f".tmp-kit.{dead_pid()}.{host_tag()}.abcd1234"
    alive = sticky / f".tmp-kit.{os.getpid()}.{host_tag()}.abcd1234"
    theirs = sticky / f".tmp-kit.{dead_pid()}.{host_tag()}.efgh5678"
    users = sticky / ".tmp-kit.notes"
    for folder in (dead, alive, theirs, users):
        (folder / "inner").mkdir(parents=True, mode=0o700)
    os.chown(theirs, NOBODY, NOBODY)
    res = run_python(OPEN, sticky)
    assert res.returncode == 0, res.stderr
    assert not dead.exists() and alive.is_dir() and theirs.is_dir() and users.is_dir()


KILLED = """
import os, sys, time
from kit.infra import scratch
from kit.infra.proc import run_process
made = scratch.open_scratch()
run_process([sys.executable, "-c", "pass"], timeout_s=30)  # the first child starts the reaper
print(made, flush=True)
time.sleep(60)
"""


def test_the_reaper_removes_the_folder_of_a_killed_process(sticky: Path) -> None:
    full = {**os.environ, "TMPDIR": str(sticky), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", KILLED], stdout=subprocess.PIPE, text=True, env=full)
    assert proc.stdout is not None
    made = Path(proc.stdout.readline().strip())
    assert made.is_dir() and stat.S_IMODE(made.stat().st_mode) == 0o700
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert pace.until(lambda: not made.exists(), 10, poll_s=0.1)  # the box's own time (tests/pace.py)


def test_a_child_writes_in_a_folder_of_its_own_removed_when_it_ends(sticky: Path) -> None:
    code = """
import os, sys
from kit.infra import scratch
from kit.infra.proc import run_process
made = scratch.open_scratch()
res = run_process([sys.executable, "-c", "import os, tempfile; print(os.environ['TMPDIR'], tempfile.gettempdir())"],
                  timeout_s=30, capture_stdout=True)
print(made, res.stdout.decode().strip(), sorted(os.listdir(made)))
"""
    res = run_python(code, sticky)
    assert res.returncode == 0, res.stderr
    made, child_tmpdir, child_tempfile, left = res.stdout.split(" ", 3)
    assert Path(child_tmpdir).parent == Path(made) and child_tempfile == child_tmpdir
    assert "child." not in left  # removed when the child ended


HINTS = """
import errno, json, os, tempfile
from pathlib import Path
from kit.cli import guard
from kit.infra import scratch
made = scratch.open_scratch()
inside = Path(tempfile.gettempdir()) / ".tmp-kit-x" / "a.y4m"
print(json.dumps([str(made), scratch.said_temp_folder(),
                  guard.path_error(OSError(errno.EACCES, "denied", str(inside))).hint,
                  str(guard.disk_full(OSError(errno.ENOSPC, "full", str(inside))))]))
"""


@pytest.mark.parametrize("given", ["set", "unset", "unusable"])
def test_a_hint_names_the_temporary_folder_as_the_user_set_it(given: str, sticky: Path, tmp_path: Path) -> None:
    """TMPDIR's value as the user wrote it (a link to the folder here: the hint the user can follow), else the
    system's folder with why; never the private folder the kit made in it, gone when the command ends."""
    link = tmp_path / "my-tmp"
    link.symlink_to(sticky)
    env = {"set": {"TMPDIR": str(link)}, "unset": {"TMPDIR": ""}, "unusable": {"TMPDIR": str(tmp_path / "none")}}
    res = run_python(HINTS, sticky, **env[given])
    assert res.returncode == 0, res.stderr
    made, said, hint, full = json.loads(res.stdout)
    assert said == {"set": f"TMPDIR={link}", "unset": f"{tempfile.gettempdir()} (TMPDIR is not set)",
                    "unusable": f"{tempfile.gettempdir()} (TMPDIR={tmp_path / 'none'}: no folder you can write)"}[given]
    assert f"(now {said})" in hint and f"(in the temporary folder, {said})" in full
    assert made not in hint and ".tmp-kit." not in hint + full.split(" (in the temporary folder")[1]


def test_a_hint_names_the_temporary_folder_from_a_removed_current_folder(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The hint of a full disk from a current folder removed under the command (its getcwd fails): the system's
    folder, said, not a traceback in place of the exit 2."""
    from kit.infra import scratch

    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    for name in scratch.TEMP_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(scratch, "STARTED", {})
    assert scratch.said_temp_folder() in ("/tmp (TMPDIR is not set)", "the system's temporary folder (TMPDIR is not "
                                                                      "set)")
