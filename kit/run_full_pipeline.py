"""The one command: `python kit/run_full_pipeline.py [FLAGS]` (or `ensemble-kit run`): prereqs -> corpus -> loso ->
verdict -> bundle. Exit 0 PROMOTE, 1 HOLD, 2 bad input or missing prerequisite, 128 + N on signal N (kit.errors)."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    # run as a script from an untarred kit: make the `kit` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv: list[str] | None = None) -> None:
    from kit.cli.main import cli
    from kit.infra import interrupts

    interrupts.whole_process()  # the process ends with the command (kit/infra/interrupts.py)
    cli.main(args=["run", *(sys.argv[1:] if argv is None else argv)], prog_name="run_full_pipeline.py")


if __name__ == "__main__":
    main()
