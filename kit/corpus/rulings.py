"""What decided that two sources are one content, worded so people can undo it (`Ruling`), and a --content-groups file
that contradicts itself (`check_consistent`). `components` and `chain` are the one connectivity rule (an undirected
graph's; `chain`'s path by scipy's csgraph, asked only to word a refusal).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kit.errors import InputError
from kit.infra.outside import load_json

if TYPE_CHECKING:  # scipy and numpy are imported where they are needed (~0.5 s, ~0.1 s: `status` plans without them)
    from scipy.sparse import csr_matrix

KINDS = ("same", "different")
TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[][{}:\n]')  # a JSON string, escapes included, or what entry_lines counts


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
        return json.dumps({"different" if self.joined else "same": [[self.a, self.b]]})

    def line(self) -> str:
        how = (f"are held out together as one content ({self.detail}); if they are different contents" if self.joined
               else f"are undecided ({self.detail}): kept as two contents; if they are one content")
        return f"{self.a} and {self.b} {how}, pass --content-groups FILE with FILE holding {self.reverse}"

    def why(self, labels: tuple[str, str]) -> str:
        return f"{labels[0]} ~ {labels[1]}: {self.detail}; if they are different contents: {self.reverse}"


def entry_lines(text: str) -> dict[str, list[int]]:
    """The line (from 1) each entry of "same" and "different" starts on, in a --content-groups file that parsed."""
    found: dict[str, list[int]] = {k: [] for k in KINDS}
    depth, line, key, last = 0, 1, "", ""
    for token in TOKENS.findall(text):
        if token[0] == '"':  # a string holds no line break in JSON
            last = token
        elif token == "\n":
            line += 1
        elif token == ":" and depth == 1:
            key = load_json(last)  # one string of a file load_json already read whole
        elif token in "[{":
            depth += 1
            if token == "[" and depth == 3 and key in found:
                found[key].append(line)
        elif token in "]}":
            depth -= 1
    return found


def entry_name(kind: str, k: int, lines: dict[str, list[int]]) -> str:
    """'"same" entry 2 (line 4)': the k-th entry (from 0) of `kind`."""
    at = lines.get(kind, [])
    return f'"{kind}" entry {k + 1}' + (f" (line {at[k]})" if k < len(at) else "")


def _graph(n: int, pairs: Sequence[tuple[int, int]]) -> csr_matrix:
    import numpy as np
    from scipy.sparse import coo_matrix

    ends = np.array(pairs, dtype=np.int64).reshape(-1, 2).T
    return coo_matrix((np.ones(len(pairs)), (ends[0], ends[1])), shape=(n, n)).tocsr()


def components(n: int, pairs: Sequence[tuple[int, int]]) -> list[int]:
    """Each of n nodes' component label, the components joined by `pairs` numbered 0, 1, ... in the order of their
    first node (as scipy's connected_components numbers them); a union-find: a merge of thousands of sources holds
    a few hundred pairs."""
    root = list(range(n))

    def find(i: int) -> int:
        while root[i] != i:
            root[i] = root[root[i]]  # halve the path
            i = root[i]
        return i

    for a, b in pairs:
        ra, rb = find(a), find(b)
        root[max(ra, rb)] = min(ra, rb)  # the smaller index leads
    label: dict[int, int] = {}
    return [label.setdefault(find(i), len(label)) for i in range(n)]


def chain(n: int, pairs: Sequence[tuple[int, int]], a: int, b: int) -> list[int]:
    """The indices of `pairs` along a shortest path from source a to source b (which `pairs` join)."""
    from scipy.sparse.csgraph import breadth_first_order

    before = breadth_first_order(_graph(n, pairs), a, directed=False, return_predecessors=True)[1]
    index = {frozenset(p): k for k, p in enumerate(pairs)}
    found: list[int] = []
    while b != a:
        found.append(index[frozenset((b, int(before[b])))])
        b = int(before[b])
    return found


def check_consistent(file: str, same: Sequence[Sequence[int]], different: Sequence[Sequence[int]],
                     words: Sequence[Sequence[str]], lines: dict[str, list[int]]) -> None:
    """Refuse a file that calls one pair of sources both one content and different contents (by a chain too)."""
    pairs = [(entry[0], j) for entry in same for j in entry[1:]]
    owner = [k for k, entry in enumerate(same) for _ in entry[1:]]  # the "same" entry of each pair
    n = 1 + max((i for entry in (*same, *different) for i in entry), default=0)
    component = components(n, pairs)
    for k, entry in enumerate(different):
        for (x, a), (y, b) in itertools.combinations(enumerate(entry), 2):
            pair = f"{words[k][x]!r} and {words[k][y]!r}"
            if a == b:
                raise InputError(f"{file}: {entry_name('different', k, lines)} names one source twice: {pair}",
                                 hint="a source is one content with itself: drop one of the two names")
            if component[a] == component[b]:
                entries = sorted({owner[k] for k in chain(n, pairs, a, b)})
                joined = ", ".join(entry_name("same", s, lines) for s in entries)
                raise InputError(f"{file}: {pair} are one content by {joined} and different contents by "
                                 f"{entry_name('different', k, lines)}",
                                 hint="keep one of the two: remove the pair from \"different\", or the entry that "
                                      "joins them from \"same\"")
