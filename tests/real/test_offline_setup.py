"""The set-up with no network at all (issue 77): `make_tarball.py --wheels` makes the tarball for this platform with
every wheel install.py installs, and install.py, run from it untarred in a scratch folder inside a network namespace
of its own (no interface but a loopback that is down) with pip's own settings out of the way (no pip.conf, no
PIP_FIND_LINKS: only the tarball's wheels can be read), sets up a kit that trains and exports, then runs again in a
second. A wide case: it fetches about 430 MB of wheels (kept in the session's folder) and installs them, about three
minutes of wall and 30 s of CPU on this project's 2-core box; the fast tier runs the rerun alone
(tests/unit/test_install_offline.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests import pace
from tests.conftest import ROOT
from tests.unit.test_install_offline import no_network

pytestmark = [pytest.mark.wide,
              pytest.mark.skipif(no_network() is None, reason="no network namespace can be made here (unshare -n)")]


def offline(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`argv` in a network namespace of its own, with no pip setting that could name another source of wheels."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")} | {"PIP_CONFIG_FILE": os.devnull}
    return pace.run([*no_network(), *argv], cwd=cwd, env=env, capture_output=True, text=True,  # type: ignore[misc]
                    check=False, timeout=1800)


def test_a_wheels_tarball_sets_up_a_kit_that_trains_with_no_network(tmp_path: Path) -> None:
    built = tmp_path / "wheels-tarball"  # tmp_path: 3 GB, removed as the test passes (pyproject.toml)
    made = pace.run([sys.executable, str(ROOT / "make_tarball.py"), "--wheels", "--out-dir", str(built)],
                    capture_output=True, text=True, check=False, timeout=1800)
    assert made.returncode == 0, made.stdout + made.stderr
    (tarball,) = built.glob("ensemble-kit-*-py*.tar.gz")
    scratch = tmp_path / "offline"
    with tarfile.open(tarball) as tar:
        tar.extractall(scratch, filter="data")
    (kit,) = scratch.iterdir()
    assert any((kit / "wheels").glob("torch-*+cpu-*.whl"))  # torch's CPU build is among them
    python = f"python3.{sys.version_info[1]}"
    res = offline([python, "install.py"], kit)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "installing from" in res.stdout and "(no index asked)" in res.stdout
    assert res.stdout.splitlines()[-1] == "set-up: done; this box makes its corpus, trains and exports"
    with pace.ticking() as clock:  # the box's own time (tests/pace.py)
        again = offline([python, "install.py"], kit)
    assert again.returncode == 0 and "nothing to do" in again.stdout, again.stdout + again.stderr
    assert clock.seconds() < 10
    imports = "import torch, onnxruntime, kit; print(kit.__version__)"
    version = offline([str(kit / ".venv" / "bin" / "python"), "-c", imports], kit)
    assert version.returncode == 0, version.stderr
