"""`python -m kit` is the `ensemble-kit` command (also `python kit/__main__.py`)."""

import sys
from pathlib import Path

if __package__ in (None, ""):
    # run as a file from an untarred kit: make the `kit` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kit.errors import Interrupted
from kit.infra import interrupts

# a stop signal while the modules load: the same two lines and exit 128 + N as later, not a traceback
interrupts.install()
try:
    from kit.cli.main import main

    interrupts.check()
except Interrupted as exc:
    from kit.infra.invocation import retry_command

    sys.stderr.write("\n".join(interrupts.stop_lines(exc.signum, 0, retry_command())) + "\n")
    sys.exit(128 + exc.signum)

main()
