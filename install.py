#!/usr/bin/env python3
"""Set up the kit in .venv: the pinned packages, each checked against its sha256, then the kit itself.

    python3 install.py           # the README's set-up; then .venv/bin/python kit/run_full_pipeline.py
    python3 install.py --test    # also the tests' tools (the README's test command, .ci/run)

Any Python reads this file before it can say it is too old, so it is written in what Python 2.7 and 3.6 parse (no
f-strings, no annotations: tests/unit/test_pins.py checks): it checks the Python that runs it, refuses one outside
SUPPORTED_PYTHONS in a sentence (exit 2), and only then imports the set-up itself, install_steps.py, which says
what it does. Standard library only: it runs before anything is installed.
"""

import os
import sys

SUPPORTED_PYTHONS = ((3, 11), (3, 13))  # the table's range (docs/collaborator.md#platforms), both ends included


def supported(version):
    # type: (tuple[int, int]) -> bool
    return SUPPORTED_PYTHONS[0] <= tuple(version) <= SUPPORTED_PYTHONS[1]


def span():
    # type: () -> str
    (major, low), (_, high) = SUPPORTED_PYTHONS
    return str(major) + "." + str(low) + " to " + str(major) + "." + str(high)


def on_path(name):
    # type: (str) -> bool
    """Whether `name` is a program on the PATH (shutil.which, which Python 2.7 lacks)."""
    folders = os.environ.get("PATH", "").split(os.pathsep)
    return any(os.path.isfile(os.path.join(d, name)) and os.access(os.path.join(d, name), os.X_OK) for d in folders)


def other_pythons():
    # type: () -> list[str]
    """Supported Pythons on the PATH, newest first: what the hint can offer instead."""
    (major, low), (_, high) = SUPPORTED_PYTHONS
    names = ["python" + str(major) + "." + str(minor) for minor in range(high, low - 1, -1)]
    return [name for name in names if on_path(name)]


def python_refusal(version):
    # type: (tuple[int, int]) -> tuple[str, str] | None
    """None for a supported Python; else the sentence that refuses `version` (major, minor) and the hint."""
    if supported(version):
        return None
    found = other_pythons()
    hint = ("run it with " + found[0] + ": " + found[0] + " install.py") if found else (
        "install Python " + span() + " (python.org, or your system's packages, e.g. apt install python3.12-venv) "
        "and run install.py with it")
    return ("Python " + str(version[0]) + "." + str(version[1]) + " runs install.py; the pinned packages are for "
            "Python " + span() + " (docs/collaborator.md#platforms)"), hint


def main():
    # type: () -> int
    refused = python_refusal(tuple(sys.version_info[:2]))
    if refused is not None:
        sys.stderr.write("error: " + refused[0] + "\nhint: " + refused[1] + "\n")
        return 2
    import install_steps  # the set-up, in the Python it needs

    return install_steps.main()


if __name__ == "__main__":
    sys.exit(main())
