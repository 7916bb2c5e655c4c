"""What decided that two sources are one content, said so that people can undo it.

kit.corpus.contents forms the groups; this module words its decisions:

* `Ruling`: two sources as the signature judged them, joined into one content (a match, or alike) or left
  apart undecided (two flat pictures), with the exact --content-groups entry that reverses it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass


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

