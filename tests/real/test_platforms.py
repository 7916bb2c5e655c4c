"""The platform table of docs/collaborator.md is what the pins give (issue 54): the encoders column's reading of an
ffmpeg binary agrees with what that ffmpeg lists, and (where the network is) tools/platforms.py's
check, pip's resolution of every platform's pins, makes the docs' table as it is."""

from __future__ import annotations

import subprocess
import sys

import imageio_ffmpeg
import pytest

from tests import pace
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import platforms


def listed(ffmpeg: str, what: str) -> set[str]:
    """The names in the second column of `ffmpeg -encoders` or `-filters`, below its legend."""
    out = subprocess.run([ffmpeg, "-hide_banner", f"-{what}"], capture_output=True, text=True, check=True).stdout
    rows = out.split(" ------\n", 1)[1] if " ------\n" in out else out.split(" = ")[-1]
    return {line.split()[1] for line in rows.splitlines() if len(line.split()) > 1}


def test_reading_the_binary_finds_the_encoders_and_libvmaf_its_ffmpeg_lists() -> None:
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()  # the pinned wheel's, the one the table reads for this platform
    with open(ffmpeg, "rb") as binary:
        names, vmaf = platforms.encoders_in(binary.read())
    encoders = listed(ffmpeg, "encoders")
    assert names == [name for name in platforms.SPECS if name in encoders]
    assert {"libx264", "libx265", "libsvtav1"} <= set(names)  # this build has the CPU encoders the kit knows
    assert vmaf and "libvmaf" in listed(ffmpeg, "filters")


@pytest.mark.slow
def test_the_docs_table_is_what_pip_resolves_for_each_platform() -> None:
    """Every platform and Python resolved by pip from the public indexes (no wheel downloaded but imageio-ffmpeg's):
    hashes pinned, every dependency pinned, and the table in docs/collaborator.md the one it makes. A pin whose
    index cannot be reached from here (PyTorch's) is reported as not checked, and does not fail it."""
    done = pace.run([sys.executable, str(ROOT / "tools" / "platforms.py")], capture_output=True, text=True,
                    check=False, timeout=1500)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "PROBLEM" not in done.stdout


@pytest.mark.slow
def test_every_pin_s_hashes_are_the_ones_uv_writes() -> None:
    """tools/pins.py --check: each pin holds exactly the sha256s uv writes for it, every file its index lists for
    that version (a hash no index lists, or a file of the version without its hash, fails)."""
    done = pace.run([sys.executable, str(ROOT / "tools" / "pins.py"), "--check"], capture_output=True,
                    text=True, check=False, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "every pin's hashes are uv's" in done.stdout
