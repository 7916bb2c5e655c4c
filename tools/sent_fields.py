#!/usr/bin/env python3
"""Every place a results tarball may hold a text, with the kind the catalogue declares there
(kit.bundle.texts.declared_fields), as docs/reference/files.md lists it ("Every sent field and its kind").

    .venv/bin/python tools/sent_fields.py            # exit 1 if the docs' list differs from the catalogue
    .venv/bin/python tools/sent_fields.py --write    # write the list into docs/reference/files.md

tests/unit/test_catalogue.py checks the list is the catalogue's.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "reference" / "files.md"
BEGIN = "<!-- sent fields: written by tools/sent_fields.py from kit/bundle/catalogue.py -->"
END = "<!-- end of the sent fields -->"
# a member's pattern as a person reads it
SHOWN = ((r"\d{1,6}", "<N>"), (r"\d{1,3}", "<N>"), ("(?:_[a-z0-9_]{1,40})?", "[_<tag>]"), (r"\.", "."),
         ("(?:PROMOTE|HOLD)", "PROMOTE|HOLD"), ("\\", ""))


def member(pattern: str) -> str:
    for regex, shown in SHOWN:
        pattern = pattern.replace(regex, shown)
    return pattern


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def listed() -> str:
    sys.path.insert(0, str(ROOT))
    from kit.bundle.texts import declared_fields

    lines = [BEGIN, "", "| member | field | kind |", "|---|---|---|"]
    before = None
    for arc, field, kind in declared_fields():
        shown = member(arc)
        lines.append(f"| {'' if shown == before else f'`{cell(shown)}`'} | `{cell(field)}` | {cell(kind)} |")
        before = shown
    return "\n".join([*lines, "", END])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="write the list into docs/reference/files.md")
    args = parser.parse_args()
    text = DOC.read_text(encoding="utf-8")
    found = re.search(re.escape(BEGIN) + ".*?" + re.escape(END), text, re.DOTALL)
    if found is None:
        print(f"{DOC}: no list between {BEGIN!r} and {END!r}", file=sys.stderr)
        return 1
    wanted = listed()
    if found.group(0) == wanted:
        return 0
    if args.write:
        DOC.write_text(text[:found.start()] + wanted + text[found.end():], encoding="utf-8")
        return 0
    print(f"{DOC}: its list of sent fields is not the catalogue's: run tools/sent_fields.py --write", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
