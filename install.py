#!/usr/bin/env python3
"""Set up the kit in .venv: the pinned packages, each checked against its sha256, then the kit itself.

    python3 install.py           # the README's set-up; then .venv/bin/python kit/run_full_pipeline.py
    python3 install.py --test    # also the tests' tools (the README's test command, .ci/run)

Any Python reads this file before it can say it is too old, so it is written in what Python 2.7 and 3.6 parse (no
f-strings, no annotations: tests/unit/test_install_cases.py checks): it checks the Python that runs it
(install_python.py: SUPPORTED_PYTHONS and the sentence), refuses one outside them in a sentence (exit 2), and only
then imports the set-up itself, install_steps.py, which says what it does. The imports point one way: install.py
and install_steps.py each read install_python.py, and install_steps.py reads nothing of install.py. Standard
library only: it runs before anything is installed.
"""

import sys

from install_python import python_refusal


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
