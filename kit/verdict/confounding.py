"""What a grouping's figures also stand for: a box that ran its own encoders, or holds the only rows of a content
(where box A ran only libx264, "worst box: A" is libx264's figures). The breakdown's and the holdout's rows carry
these sentences (`note`), the verdict lists them (`confounding`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd

from kit.verdict.document import GroupErrors

NAMES_SHOWN = 4  # encoders or contents named in one sentence; the rest counted


def listed(names: list[str]) -> str:
    shown = ", ".join(names[:NAMES_SHOWN])
    return shown + (f" and {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else "")


@dataclass(frozen=True)
class Confounding:
    """Sentences per (grouping, group): ("box", "realA"), ("encoder", "libx264"); and all of them, in order."""

    notes: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    @property
    def sentences(self) -> list[str]:
        return list(dict.fromkeys(s for said in self.notes.values() for s in said))

    def note(self, by: str, group: str) -> str | None:
        said = self.notes.get((by, group))
        return "; ".join(said) if said else None

    def add(self, by: str, group: str, sentence: str) -> None:
        self.notes.setdefault((by, group), []).append(sentence)

    def apply(self, groups: tuple[GroupErrors, ...], by: str | None = None) -> tuple[GroupErrors, ...]:
        """The groups with their notes (`by`: the grouping of them all, as a --holdout block's kind)."""
        return tuple(replace(g, note=n) if (n := self.note(by or g.by, g.group)) else g for g in groups)


def confounding(rows: pd.DataFrame) -> Confounding:
    """What the boxes confound with the encoders and the contents, over the held-out rows."""
    out = Confounding()
    if "box_id" not in rows or rows["box_id"].nunique() < 2:
        return out
    encoders = {str(b): sorted(map(str, e)) for b, e in rows.groupby("box_id")["encoder"].unique().items()}
    boxes_of = rows.groupby("encoder")["box_id"].unique()
    for box, mine in encoders.items():
        others = {e for b, es in encoders.items() if b != box for e in es}
        only = [e for e in mine if e not in others]
        if not set(mine) & others:
            out.add("box", box, f"box {box} ran only {listed(mine)}: its figures are {listed(mine)}'s")
        elif only:
            out.add("box", box, f"box {box} holds the only rows of {listed(only)}: its figures mix in "
                                f"{listed(only)}'s")
    for encoder, boxes in boxes_of.items():
        if len(boxes) == 1:
            out.add("encoder", str(encoder), f"encoder {encoder} ran only on box {boxes[0]}: its figures are box "
                                             f"{boxes[0]}'s too")
    # a box that holds the only rows of some content group: its figures are also those contents'
    boxes_per_content = rows.groupby("content")["box_id"].nunique()
    single = set(boxes_per_content.index[boxes_per_content == 1])
    names = rows.drop_duplicates("content").set_index("content")["src"].astype(str)
    for box, contents in rows.groupby("box_id")["content"].unique().items():
        only = sorted(str(names[c]) for c in contents if c in single)
        if not only:
            continue
        whole = len(only) == len(contents)
        out.add("box", str(box), f"box {box} holds the only rows of {'all its ' if whole else ''}{len(only)} content "
                                 f"group(s) ({listed(only)}): its figures are also {'' if whole else 'partly '}those "
                                 "contents'")
    return out
