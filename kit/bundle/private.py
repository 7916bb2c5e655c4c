"""What a results tarball says of the box's folders: nothing, unless --keep-paths. In its copies of the kit's text
files, a path under --ref-dir, the out-dir or the home folder becomes `[ref-dir]/…`, `[out-dir]/…` or `~/…`, however
the file spells it, before the copy is hashed into manifest.json (docs/reference/files.md)."""

from __future__ import annotations

import contextlib
import functools
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

from kit.infra.visible import utf8_text, visible
from kit.rundir import LAYOUT

TEXT_SUFFIXES = (".json", ".html", ".log", ".txt", ".md", ".csv", ".jsonl")
REF_DIR, OUT_DIR, HOME = "[ref-dir]", "[out-dir]", "~"
_NAME_GOES_ON = r"(?![\w.\-])"  # /data/clips is not the start of /data/clips2


def spellings(folder: str) -> set[str]:
    """The ways a file the kit writes may spell `folder`: as it is, visible, in HTML, in JSON (ASCII or not, and as
    the UTF-8 text a record's name field holds: records.NAMES_FILE)."""
    shown = visible(folder)
    return {folder, shown, html.escape(shown), html.escape(folder, quote=False), json.dumps(folder)[1:-1],
            json.dumps(folder, ensure_ascii=False)[1:-1], json.dumps(utf8_text(folder), ensure_ascii=False)[1:-1]}


def forms(folder: Path) -> set[str]:
    """The folder as given (absolute) and as it resolves (a link on the way, /tmp to /private/tmp)."""
    found = {str(folder.absolute())}
    with contextlib.suppress(OSError, RuntimeError):  # a loop of links: the folder as given only
        found.add(str(folder.resolve()))
    return {f for f in found if f != "/"}


@dataclass(frozen=True)
class Private:
    """The folders a results tarball does not name, each with the word it writes in its place (longest first)."""

    folders: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, ref_dir: Path | None, out_dir: Path, home: Path | None = None) -> Private:
        """The run's reference folder, its out-dir and the home folder (Path.home() unless given)."""
        try:
            home = home if home is not None else Path.home()
        except (KeyError, RuntimeError):  # no home folder known for the user
            home = None
        named = [(folder, word) for folder, word in ((out_dir, OUT_DIR), (ref_dir, REF_DIR), (home, HOME)) if folder]
        pairs = {(spelled, word) for folder, word in named for form in forms(folder) for spelled in spellings(form)}
        return cls(tuple(sorted(pairs, key=lambda p: (-len(p[0]), p[0]))))

    @functools.cached_property
    def _pattern(self) -> re.Pattern[str]:
        return re.compile("|".join(f"({re.escape(spelled)}){_NAME_GOES_ON}" for spelled, _ in self.folders))

    def applies(self, arc: str) -> bool:
        """Whether the tarball's member `arc` is a text file the kit writes (exports/ hold the models)."""
        return arc.endswith(TEXT_SUFFIXES) and not arc.startswith(f"{LAYOUT.exports.as_posix()}/")

    def rewrite(self, data: bytes) -> bytes:
        if not self.folders:
            return data
        text = data.decode("utf-8", "surrogateescape")
        return self._pattern.sub(lambda m: self.folders[m.lastindex - 1][1] if m.lastindex else m.group(0),
                                 text).encode("utf-8", "surrogateescape")

