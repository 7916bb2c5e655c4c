"""How `ensemble-kit ray` finds the cluster it joins, without Ray: the word `ray start` left (Ray's file, read only
where it is this user's own), whether an address answers (IPv6 too), and a SIGTERM Ray's handler took during
ray.init read as the kit's stop. tests/pipeline/test_ray.py joins and starts real clusters."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

from kit.cluster.ray import answers, ray_folder, ray_start_address
from tests import pace
from tests.conftest import ROOT


def left_word(folder: Path, text: str, mode: int = 0o644) -> Path:
    (folder / "ray").mkdir(exist_ok=True)
    path = folder / "ray" / "ray_current_cluster"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_the_word_ray_start_left_is_read_where_it_is_this_user_s_own(tmp_path: Path) -> None:
    assert ray_start_address(tmp_path) == ("", "")  # no `ray start` here
    path = left_word(tmp_path, "10.0.0.7:6379\n")
    assert ray_start_address(tmp_path) == ("10.0.0.7:6379", "")
    for mode, who in ((0o664, "group"), (0o666, "everyone")):  # Ray's folder is open to all: such a file could
        path.chmod(mode)  # point the driver, and its token, anywhere (a umask of 002 writes 0664)
        address, why = ray_start_address(tmp_path)
        assert address == "" and why.startswith(f"{path} can be written by ") and who in why, why
        assert why.endswith("not taken (`chmod go-w` it if it is yours, or give --address)"), why
    path.chmod(0o644)
    os.link(path, tmp_path / "another-name")  # one name: another could change it
    address, why = ray_start_address(tmp_path)
    assert address == "" and "has 2 names (hard links)" in why


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_in_its_place_is_not_waited_on(tmp_path: Path) -> None:
    (tmp_path / "ray").mkdir()
    os.mkfifo(tmp_path / "ray" / "ray_current_cluster")
    address, why = ray_start_address(tmp_path)  # no writer ever comes: a blocking open would never return
    assert address == "" and "a named pipe" in why and why.endswith("not taken")


def test_an_address_answers_or_says_why_not() -> None:
    for family, host, spelled in ((socket.AF_INET, "127.0.0.1", "127.0.0.1:{}"), (socket.AF_INET6, "::1", "[::1]:{}")):
        try:
            server = socket.socket(family)
            server.bind((host, 0))
        except OSError:
            continue  # no IPv6 on this box's loopback
        with server:
            port = server.getsockname()[1]
            with pytest.raises(ConnectionRefusedError):
                answers(spelled.format(port))  # bound, not listening: refused
            server.listen()
            answers(spelled.format(port))  # Ray writes an IPv6 address in brackets
    with pytest.raises(ValueError, match="is not HOST:PORT"):
        answers("head-node")


def test_ray_s_folder_is_chosen_as_ray_chooses_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))
    assert ray_folder() == tmp_path
    monkeypatch.delenv("RAY_TMPDIR")
    monkeypatch.setenv("TMPDIR", str(tmp_path / "t"))
    monkeypatch.setattr(sys, "platform", "linux")
    assert ray_folder() == tmp_path / "t"
    monkeypatch.setattr(sys, "platform", "darwin")  # macOS's own TMPDIR would make a session's socket paths too long
    assert ray_folder() == Path("/tmp")


CAUGHT = """
import signal, sys
from kit.errors import Interrupted
from kit.infra import interrupts
interrupts.install()
for code in (signal.SIGTERM, 1, 2):
    try:
        try:
            signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(signum))  # Ray's, set in ray.init
            raise SystemExit(code)
        except SystemExit as exc:
            interrupts.caught_for_us(exc)
    except Interrupted as stop:
        print(code, "stop", stop.signum, signal.getsignal(signal.SIGTERM) is interrupts._on_signal)
    except SystemExit as exc:
        print(code, "exit", exc.code)
"""


def test_a_sigterm_ray_s_handler_took_is_the_kit_s_stop_and_no_other_exit_is() -> None:
    res = pace.run([sys.executable, "-c", CAUGHT], cwd=ROOT, capture_output=True, text=True, timeout=60,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.stdout.splitlines() == ["15 stop 15 True", "1 exit 1", "2 exit 2"], res.stdout + res.stderr
