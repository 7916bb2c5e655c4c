#!/usr/bin/env python3
"""Writes kit/infra/spoken.py: the words, places and characters of the kit's own string literals, which the door of
free text (kit.infra.known) keeps as the kit's own. A literal is what the kit says or spells; a docstring (a string
that is a statement of its own) and a comment are what it tells its readers, and no part of it.

    .venv/bin/python tools/spoken.py            # write the table again (after a change to a literal of kit/)
    .venv/bin/python tools/spoken.py --check    # write nothing; exit 1 where the table is not kit/'s

tests/unit/test_known.py fails while the table is stale.
"""

from __future__ import annotations

import argparse
import ast
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "kit" / "infra" / "spoken.py"
WIDTH = 120
HEADER = '''"""What the kit's own string literals spell, docstrings and comments aside: every word (lower-cased), every
chunk that names a place (a path, an address), every character beyond ASCII. kit.infra.known keeps them as the kit's
own. Written by tools/spoken.py from kit/, never by hand: tests/unit/test_known.py fails while it is stale."""
'''


def literals(root: Path = ROOT / "kit") -> Iterator[str]:
    """Every str literal of the modules under `root` (an f-string's literal pieces each), but docstrings and the
    table's own."""
    for path in sorted(root.rglob("*.py")):
        if path.resolve() == TABLE:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        told = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
        yield from (node.value for node in ast.walk(tree)
                    if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in told)


def packed(items: list[str], indent: str = "    ") -> str:
    """`items` (each a Python expression) comma-separated, as many a line as fit in WIDTH."""
    return textwrap.fill(", ".join(items), WIDTH, initial_indent=indent, subsequent_indent=indent,
                         break_long_words=False, break_on_hyphens=False)


def table(root: Path = ROOT / "kit") -> str:
    """The text of kit/infra/spoken.py for the modules under `root`."""
    sys.path.insert(0, str(ROOT))
    from kit.infra.known import spelled

    words, places, chars = spelled(literals(root))
    return (f"{HEADER}\n_WORDS = \"\"\"\n{textwrap.fill(' '.join(sorted(words)), WIDTH)}\n\"\"\"\n"
            "WORDS = frozenset(_WORDS.split())\n"
            f"PLACES = frozenset((\n{packed([repr(p) for p in sorted(places)])},\n))\n"
            f"CHARACTERS = frozenset({''.join(sorted(chars))!r})\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 where the table is stale")
    args = parser.parse_args()
    text = table()
    if args.check:
        stale = not TABLE.is_file() or TABLE.read_text(encoding="utf-8") != text
        print(f"{TABLE.relative_to(ROOT)}: {'stale: run tools/spoken.py' if stale else 'current'}")
        return 1 if stale else 0
    TABLE.write_text(text, encoding="utf-8")
    print(f"wrote {TABLE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
