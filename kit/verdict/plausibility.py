"""Is the teacher plausible? Per source and encoder, from the corpus rows at the clip's own size (the native rung),
the mean teacher score over the frames of its encodes at the grid's best setting and at its worst. A source is a
suspect teacher when its best setting scores under BEST_FLOOR (a high-quality encode the teacher calls poor), or
when its teacher falls less than MIN_DROP from the best setting to the worst (a flat rate-quality curve: the
teacher barely sees the grid). A warning, not a gate, said by the verdict (`teacher_suspects`, the recommendation),
the summary and the report. Why: a wrong teacher learnt well keeps the held-out PLCC high (a scoring bug gave VMAF
16-27 where 99 was right, and the run PROMOTEd). No pandas import: document.py takes the record from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kit.infra.records import Record
from kit.media.ladder import scaled
from kit.platforms.encoders import SPECS

if TYPE_CHECKING:
    import pandas as pd

# The mean teacher score an encode at a high-quality setting reaches at its own size. The demo's 9 clips at the
# default grids' best settings (CRF 10) scored 95.7-99.95 (libx264), 95.0-99.96 (libx265), 94.4-99.96 (libsvtav1),
# and 90.5-99.9 at CRF 19 (the lowest: perlin, libx265); the scoring bug gave 16-27 at the best setting.
BEST_FLOOR = 90.0
# How far, at most, the best setting may sit into its knob's range (kit.platforms.encoders: cq_range runs from
# the best quality, 0, to the worst, 1) to be held to BEST_FLOOR: up to x264 CRF 20, SVT-AV1 CRF 25, VideoToolbox
# q:v 61. An honest teacher goes under 90 beyond it: the demo at CRF 24 scored 86.3 (perlin) and 88.7 (mandelbrot),
# the tests' tiny clips at CRF 25 79.6-92.9. The default grids start at 0.15-0.20 (CRF 10, q:v 80).
HIGH_QUALITY = 0.4
# The fall of the mean teacher from the best setting to the worst, VMAF points, below which a curve is flat: a
# sixth of a just-noticeable difference (about 6 points, as commonly cited). On the demo the flattest honest curves
# fall 4.0 (gradients, libx264 CRF 10-38), 3.1 (sierpinski, libx265 CRF 10-38), 1.8 (gradients, libx265 CRF 19-37)
# and 1.05 (gradients, libsvtav1 CRF 19-37); a teacher stuck at one score (an encode scored against itself, one
# pair scored for every setting) falls 0. Flagged on the demo: sierpinski with libsvtav1 (97.4 from CRF 10 to 63, a
# fall of 0.2; its encodes, 14 to 68 kbps, are alike to the teacher).
MIN_DROP = 1.0
SHOWN = 3  # suspects named in a sentence (the summary, the recommendation); the verdict and the report list all
SIZES = ("enc_width", "enc_height", "width", "height")  # a frame without them is one of the clip's own size


@dataclass(frozen=True)
class TeacherSuspect(Record):
    """One source and encoder whose teacher looks wrong, at the clip's own size: the mean teacher over the frames
    of its encodes at the grid's best and worst setting, and why (`low`: the best under BEST_FLOOR; `flat`: the
    fall under MIN_DROP)."""

    src: str
    src_sha256: str
    encoder: str
    settings: list[int]  # the cq values of its encodes at its own size, best quality first
    best_cq: int
    worst_cq: int
    best_mean: float  # the mean teacher score over the frames at best_cq
    worst_mean: float  # at worst_cq (best_mean for a grid of one setting)
    why: list[str]  # "low" and/or "flat"

    @property
    def text(self) -> str:
        """The suspect in one sentence: the figures, then why."""
        if len(self.settings) == 1:
            figures = f"mean teacher {self.best_mean:.1f} at cq {self.best_cq} (its only setting)"
        else:
            figures = (f"mean teacher {self.best_mean:.1f} at cq {self.best_cq} (best) to {self.worst_mean:.1f} at "
                       f"cq {self.worst_cq} (worst) of cq {','.join(map(str, self.settings))}")
        said = {"low": f"under {BEST_FLOOR:g} at its best setting",
                "flat": f"falls {self.best_mean - self.worst_mean:.1f}, under {MIN_DROP:g}: flat"}
        return f"{self.src} {self.encoder} at its own size: {figures}: {' and '.join(said[w] for w in self.why)}"


def suspects_text(suspects: tuple[TeacherSuspect, ...]) -> str:
    """The suspects as the summary and the recommendation say them: how many sources, the first SHOWN in full."""
    sources = len({s.src_sha256 for s in suspects})
    more = f"; and {len(suspects) - SHOWN} more" if len(suspects) > SHOWN else ""
    return (f"suspect teacher on {sources} source(s): {'; '.join(s.text for s in suspects[:SHOWN])}{more} "
            "(teacher_suspects in the verdict file; a warning, not a gate)")


def best_first(encoder: str, cqs: list[int]) -> list[int]:
    """The settings, best quality first: the lowest cq, but VideoToolbox's q:v runs upwards (its cq_range)."""
    spec = SPECS.get(encoder)
    return sorted(cqs, reverse=spec is not None and spec.cq_range[0] > spec.cq_range[1])


def held_to_floor(encoder: str, cq: int) -> bool:
    """Whether a best setting is of high enough quality to be held to BEST_FLOOR (an unknown encoder always is)."""
    spec = SPECS.get(encoder)
    if spec is None:
        return True
    best, worst = spec.cq_range
    return (cq - best) / (worst - best) <= HIGH_QUALITY


def native_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of encodes at the clip's own size (kit.media.ladder.scaled: a size of 0 is not recorded, native)."""
    import pandas as pd

    size = rows[[c for c in SIZES if c in rows]].reindex(columns=list(SIZES)).fillna(0).astype(int)
    native = [c for c in size.drop_duplicates().itertuples(index=False, name=None) if not scaled(*map(int, c))]
    return rows[pd.MultiIndex.from_frame(size).isin(native)]


def teacher_suspects(rows: pd.DataFrame) -> tuple[TeacherSuspect, ...]:
    """Every suspect (source, encoder) of the corpus rows (src, src_sha256, encoder, cq, vmaf and, where recorded,
    enc_width, enc_height, width, height), the lowest best-setting mean first."""
    native = native_rows(rows)
    means = native.groupby(["src_sha256", "encoder", "cq"], sort=True).agg(src=("src", "first"),
                                                                           vmaf=("vmaf", "mean"))
    out = []
    for (sha, encoder), part in means.groupby(level=["src_sha256", "encoder"], sort=True):
        by_cq = {int(cq): float(v) for (_, _, cq), v in part["vmaf"].items()}
        settings = best_first(str(encoder), list(by_cq))
        best, worst = by_cq[settings[0]], by_cq[settings[-1]]
        why = [*(["low"] if best < BEST_FLOOR and held_to_floor(str(encoder), settings[0]) else []),
               *(["flat"] if len(settings) > 1 and best - worst < MIN_DROP else [])]
        if why:
            out.append(TeacherSuspect(str(part["src"].iloc[0]), str(sha), str(encoder), settings, settings[0],
                                      settings[-1], best, worst, why))
    return tuple(sorted(out, key=lambda s: (s.best_mean, s.best_mean - s.worst_mean, s.src, s.encoder)))
