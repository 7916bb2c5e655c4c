"""Which Pythons the set-up takes, and the sentence that refuses another: read by install.py before it loads the
set-up, and by install_steps.py (the set-up itself, which checks a caller of its main() and an existing .venv the same
way). Any Python reads this file before it can say it is too old, so it is written in what Python 2.7 and 3.6 parse,
like install.py (tests/unit/test_install_cases.py checks both). Standard library only.
"""

import os

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
