"""Is the teacher plausible? Per source and encoder at the clip's own size, the mean teacher at the grid's best
setting and at its worst: a suspect is the best under BEST_FLOOR, or a fall under MIN_DROP (a flat curve). A warning,
not a gate (docs/verdict.md). No pandas import: document.py takes the record from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kit.infra.records import Record, keep
from kit.infra.rules import COUNT, SIGNED_FIGURE, Each
from kit.media.ladder import scaled
from kit.platforms.encoders import SPECS

if TYPE_CHECKING:
    import pandas as pd

# the thresholds, each measured on the demo clips (docs/verdict.md, "Plausibility of the teacher")
BEST_FLOOR = 90.0  # the mean teacher an encode at a high-quality setting reaches at its own size
HIGH_QUALITY = 0.4  # how far into its knob's range (0: best, 1: worst) a best setting is held to BEST_FLOOR
MIN_DROP = 1.0  # the fall of the mean teacher from the best setting to the worst below which a curve is flat
SHOWN = 3  # suspects named in a sentence (the summary, the recommendation); the verdict and the report list all
SIZES = ("enc_width", "enc_height", "width", "height")  # a frame without them is one of the clip's own size


@dataclass(frozen=True)
class TeacherSuspect(Record):
    """One source and encoder whose teacher looks wrong at the clip's own size, and why (`low`: the best under
    BEST_FLOOR; `flat`: the fall under MIN_DROP)."""

    src: str
    src_sha256: str
    encoder: str
    # the cq values of its encodes at its own size, best quality first
    settings: list[int] = field(metadata=keep(Each(COUNT)))
    best_cq: int = field(metadata=keep(COUNT))
    worst_cq: int = field(metadata=keep(COUNT))
    best_mean: float = field(metadata=keep(SIGNED_FIGURE))  # the mean teacher score over the frames at best_cq
    worst_mean: float = field(metadata=keep(SIGNED_FIGURE))  # at worst_cq (best_mean for a grid of one setting)
    why: list[str]  # "low" and/or "flat"

    @property
    def text(self) -> str:
        """The suspect in one sentence: the figures, then why."""
        figures = f"mean teacher {self.best_mean:.1f} at cq {self.best_cq}" + (
            " (its only setting)" if len(self.settings) == 1 else
            f" (best) to {self.worst_mean:.1f} at cq {self.worst_cq} (worst) of cq {','.join(map(str, self.settings))}")
        said = {"low": f"under {BEST_FLOOR:g} at its best setting",
                "flat": f"falls {self.best_mean - self.worst_mean:.1f}, under {MIN_DROP:g}: flat"}
        return f"{self.src} {self.encoder} at its own size: {figures}: {' and '.join(said[w] for w in self.why)}"


def suspects_text(suspects: tuple[TeacherSuspect, ...]) -> str:
    """The suspects as the summary and the recommendation say them: how many sources, the first SHOWN in full."""
    sources = len({s.src_sha256 for s in suspects})
    more = f"; and {len(suspects) - SHOWN} more" if len(suspects) > SHOWN else ""
    return (f"suspect teacher on {sources} source(s): {'; '.join(s.text for s in suspects[:SHOWN])}{more} "
            "(teacher_suspects in the verdict file; a warning, not a gate)")


def native_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of encodes at the clip's own size (kit.media.ladder.scaled: a size of 0 is not recorded, native)."""
    import pandas as pd

    size = rows[[c for c in SIZES if c in rows]].reindex(columns=list(SIZES)).fillna(0).astype(int)
    native = [c for c in size.drop_duplicates().itertuples(index=False, name=None) if not scaled(*map(int, c))]
    return rows[pd.MultiIndex.from_frame(size).isin(native)]


def teacher_suspects(rows: pd.DataFrame) -> tuple[TeacherSuspect, ...]:
    """Every suspect (source, encoder) of the corpus rows, the lowest best-setting mean first."""
    native = native_rows(rows)
    means = native.groupby(["src_sha256", "encoder", "cq"], sort=True).agg(src=("src", "first"),
                                                                           vmaf=("vmaf", "mean"))
    out = []
    for (sha, encoder), part in means.groupby(level=["src_sha256", "encoder"], sort=True):
        by_cq = {int(cq): float(v) for (_, _, cq), v in part["vmaf"].items()}
        spec = SPECS.get(str(encoder))
        top, bottom = spec.cq_range if spec is not None else (0, 1)  # VideoToolbox's q:v runs upwards
        settings = sorted(by_cq, reverse=top > bottom)  # best quality first
        held = spec is None or (settings[0] - top) / (bottom - top) <= HIGH_QUALITY  # an unknown encoder always is
        best, worst = by_cq[settings[0]], by_cq[settings[-1]]
        why = [*(["low"] if best < BEST_FLOOR and held else []),
               *(["flat"] if len(settings) > 1 and best - worst < MIN_DROP else [])]
        if why:
            out.append(TeacherSuspect(str(part["src"].iloc[0]), str(sha), str(encoder), settings, settings[0],
                                      settings[-1], best, worst, why))
    return tuple(sorted(out, key=lambda s: (s.best_mean, s.best_mean - s.worst_mean, s.src, s.encoder)))
