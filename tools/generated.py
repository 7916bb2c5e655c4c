"""A page the tools write from the code (docs/reference/cli.md, docs/reference/troubleshooting.md): written, or with
--check compared with what is on disk (exit 1 and the command that regenerates it when they differ)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path


def page_main(argv: list[str] | None, doc: str | None, page: Path, render: Callable[[], str], source: str,
              regenerate: str) -> int:
    """The tool's command line: write `page` from `render()`, or --check it; `source` says whose words the page holds
    (`--help says`, `the code's refusals say`)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help=f"exit 1 if the page differs from what {source}")
    text = render()
    shown = page.relative_to(page.parents[2])
    if parser.parse_args(argv).check:
        if page.read_text() != text:
            print(f"{shown} is not what {source}: regenerate it with {regenerate}", file=sys.stderr)
            return 1
        return 0
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(text)
    print(f"wrote {shown} ({len(text.splitlines())} lines)")
    return 0
