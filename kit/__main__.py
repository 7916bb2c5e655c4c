"""`python -m kit` is the `ensemble-kit` command (also `python kit/__main__.py`)."""

import sys
from pathlib import Path

if __package__ in (None, ""):
    # run as a file from an untarred kit: make the `kit` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kit.cli.main import main

main()
