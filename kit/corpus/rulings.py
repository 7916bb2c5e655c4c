"""What decided that two sources are one content, said so that people can undo it, and a --content-groups
file that contradicts itself.

kit.corpus.contents forms the groups; this module words its decisions:

* `Ruling`: two sources as the signature judged them, joined into one content (a match, or alike) or left
  apart undecided (two flat pictures), with the exact --content-groups entry that reverses it;
* `entry_lines`: on which line of the file each "same" and "different" entry starts, so a refusal can
  point at them;
* `check_consistent`: a file whose "same" entries join two sources (directly, or through a chain A=B,
  B=C) that one of its "different" entries keeps apart is refused, naming the file, the lines and the pair.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from kit.errors import InputError
from kit.infra.outside import load_json

KINDS = ("same", "different")


@dataclass(frozen=True)
class Ruling:
    """Two sources the signature compared, each named as a --content-groups file names it (kit.corpus.names)."""

    a: str
    b: str
    detail: str  # kit.media.identity's line: the distance, the bars, why
    outcome: str  # kit.media.identity's: identical, match or undecided
    joined: bool  # one content (held out together); False: flat pictures, left apart undecided

    @property
    def reverse(self) -> str:
        """The --content-groups file that reverses the decision, as JSON."""
        return json.dumps({"different" if self.joined else "same": [[self.a, self.b]]})

    def line(self) -> str:
        """What the corpus step says: both names, the distance, how to reverse it."""
        if self.joined:
            return (f"{self.a} and {self.b} are held out together as one content ({self.detail}); if they are "
                    f"different contents, pass --content-groups FILE with FILE holding {self.reverse}")
        return (f"{self.a} and {self.b} are undecided ({self.detail}): kept as two contents; if they are one "
                f"content, pass --content-groups FILE with FILE holding {self.reverse}")

    def why(self, labels: tuple[str, str]) -> str:
        """The link as a content group records it (the manifest, the verdict, the summary)."""
        return f"{labels[0]} ~ {labels[1]}: {self.detail}; if they are different contents: {self.reverse}"


def reverse_all(rulings: Sequence[Ruling]) -> str:
    """One --content-groups file that reverses every ruling given (each joined, or each not)."""
    if not rulings:
        return ""
    return json.dumps({"different" if rulings[0].joined else "same": [[r.a, r.b] for r in rulings]})


def entry_lines(text: str) -> dict[str, list[int]]:
    """The line (from 1) each entry of "same" and "different" starts on, in the text of a --content-groups
    file that parsed as JSON: a scan of its strings and brackets only."""
    found: dict[str, list[int]] = {k: [] for k in KINDS}
    depth, line, key, last, i = 0, 1, "", "", 0
    while i < len(text):
        ch = text[i]
        if ch == '"':  # a string holds no line break in JSON; skip it whole, escapes included
            j = i + 1
            while text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            last, i = text[i:j + 1], j + 1
            continue
        if ch == "\n":
            line += 1
        elif ch == ":" and depth == 1:
            key = load_json(last)  # one string of a file load_json already read whole
        elif ch in "[{":
            depth += 1
            if ch == "[" and depth == 3 and key in found:
                found[key].append(line)
        elif ch in "]}":
            depth -= 1
        i += 1
    return found


def entry_name(kind: str, k: int, lines: dict[str, list[int]]) -> str:
    """'"same" entry 2 (line 4)': the k-th entry (from 0) of `kind`; the line when it is known."""
    at = lines.get(kind, [])
    return f'"{kind}" entry {k + 1}' + (f" (line {at[k]})" if k < len(at) else "")


def _path(edges: dict[int, list[tuple[int, int]]], a: int, b: int) -> list[int]:
    """The "same" entries (their indices) along a shortest chain of entries from source a to source b (joined)."""
    came: dict[int, tuple[int, int]] = {a: (a, -1)}
    todo = deque([a])
    while todo and b not in came:
        at = todo.popleft()
        for nxt, entry in edges.get(at, []):
            if nxt not in came:
                came[nxt] = (at, entry)
                todo.append(nxt)
    entries: list[int] = []
    while b != a:
        b, entry = came[b]
        entries.append(entry)
    return sorted(set(entries))


def check_consistent(file: str, same: Sequence[Sequence[int]], different: Sequence[Sequence[int]],
                     words: Sequence[Sequence[str]], lines: dict[str, list[int]]) -> None:
    """Refuse a file that calls one pair of sources both one content and different contents.

    `same`, `different`: each entry's sources (indices, in the entry's order); `words`: the "different"
    entries as written; `lines`: entry_lines of the file."""
    root: dict[int, int] = {}

    def find(i: int) -> int:
        while root.get(i, i) != i:
            i = root[i]
        return i

    edges: dict[int, list[tuple[int, int]]] = {}
    for k, entry in enumerate(same):
        for j in entry[1:]:
            root[find(j)] = find(entry[0])  # whether two sources are joined: one lookup, not a search per pair
            edges.setdefault(entry[0], []).append((j, k))
            edges.setdefault(j, []).append((entry[0], k))
    for k, entry in enumerate(different):
        for x, a in enumerate(entry):
            for y in range(x + 1, len(entry)):
                b = entry[y]
                pair = f"{words[k][x]!r} and {words[k][y]!r}"
                if a == b:
                    raise InputError(f"{file}: {entry_name('different', k, lines)} names one source twice: {pair}",
                                     hint="a source is one content with itself: drop one of the two names")
                if find(a) == find(b):
                    joined = ", ".join(entry_name("same", s, lines) for s in _path(edges, a, b))
                    raise InputError(f"{file}: {pair} are one content by {joined} and different contents by "
                                     f"{entry_name('different', k, lines)}",
                                     hint="keep one of the two: remove the pair from \"different\", or the entry "
                                          "that joins them from \"same\"")
