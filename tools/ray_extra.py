#!/usr/bin/env python3
"""Install the `ray` extra into the running Python (the venv install.py made), for the Ray tests: Ray and its
dependencies resolved by pip, with every package the set-up pins kept at its pin. The extra is not in the hashed
pins (a developer's and CI's tool, never a box's): a constraints file without hashes, since one with hashes would put
pip in hash-checking mode, which Ray's unpinned dependencies cannot pass.

    .venv/bin/python tools/ray_extra.py      # .ci/run and `nox -s release` run it
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import pins  # noqa: E402


def main() -> int:
    (ray,) = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["ray"]
    with tempfile.TemporaryDirectory() as folder:
        constraints = Path(folder) / "pins.txt"
        constraints.write_text("".join(f"{pin.spec()}\n" for pin_file in pins.read_all() for pin in pin_file.pins))
        return subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-c", str(constraints), ray]).returncode


if __name__ == "__main__":
    sys.exit(main())
