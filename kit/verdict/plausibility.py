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
    """The rows of encodes at the clip's own size (kit.media.ladder.scaled: a size of 0 is not recorded, native),
    each distinct set of sizes judged once."""
    import numpy as np
    import pandas as pd

    size = rows[[c for c in SIZES if c in rows]].reindex(columns=list(SIZES)).fillna(0).astype(int)
    if not len(size):
        return rows
    joint, inverse = np.unique(size.to_numpy(dtype=np.int64), axis=0, return_inverse=True)
    native = np.array([not scaled(*map(int, sizes)) for sizes in joint], dtype=bool)
    return rows[pd.Series(native[inverse.reshape(-1)], index=rows.index)]


def teacher_suspects(rows: pd.DataFrame) -> tuple[TeacherSuspect, ...]:
    """Every suspect (source, encoder) of the corpus rows, the lowest best-setting mean first. Each encode's mean
    teacher is pandas' over its frames, grouped on codes (at 50,000 contents its sources' names as strings took
    2.5 minutes); each (source, encoder)'s best and worst setting are found for all at once, a suspect's settings
    listed."""
    import numpy as np
    import pandas as pd

    native = native_rows(rows)
    shas, encoders = (pd.factorize(native[c], sort=True) for c in ("src_sha256", "encoder"))
    known = (shas[0] >= 0) & (encoders[0] >= 0)  # a missing name is no group, as pandas' grouping drops it
    native = native[known]
    means = native.groupby([shas[0][known], encoders[0][known], native["cq"]], sort=True).agg(
        src=("src", "first"), vmaf=("vmaf", "mean")).reset_index(names=["sha", "encoder", "cq"])
    specs = [SPECS.get(str(name)) for name in encoders[1]]
    ranges = np.array([spec.cq_range if spec is not None else (0, 1) for spec in specs], dtype=float).reshape(-1, 2)
    upward = ranges[:, 0] > ranges[:, 1]  # VideoToolbox's q:v runs upwards: its best is its highest
    cq = means["cq"].to_numpy(dtype=np.int64)
    e = means["encoder"].to_numpy()
    means = means.assign(order=np.where(upward[e], -cq, cq)).sort_values(["sha", "encoder", "order"], kind="stable")
    # each (source, encoder)'s encodes now lie together, best setting first: its first row and its last
    pair = means["sha"].to_numpy(dtype=np.int64) * max(1, len(encoders[1])) + means["encoder"].to_numpy()
    starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]]) if len(pair) else np.zeros(0, dtype=np.int64)
    stops = np.append(starts[1:], len(pair)).astype(np.int64) if len(starts) else starts
    vmaf, best_cq = means["vmaf"].to_numpy(dtype=np.float64), means["cq"].to_numpy(dtype=np.int64)
    enc = means["encoder"].to_numpy()[starts]
    top, bottom = ranges[enc].T
    unknown = np.array([specs[k] is None for k in enc], dtype=bool)
    held = unknown | ((best_cq[starts] - top) / (bottom - top) <= HIGH_QUALITY)
    best, worst = vmaf[starts], vmaf[stops - 1]
    low = (best < BEST_FLOOR) & held
    flat = (stops - starts > 1) & (best - worst < MIN_DROP)
    out = []
    for k in np.flatnonzero(low | flat):
        part = means.iloc[starts[k]:stops[k]]
        settings = [int(c) for c in part["cq"]]
        why = [*(["low"] if low[k] else []), *(["flat"] if flat[k] else [])]
        src = part["src"].iloc[int(np.argmin(part["cq"].to_numpy()))]  # as pandas' groups gave it: the lowest cq's
        out.append(TeacherSuspect(str(src), str(shas[1][int(part["sha"].iloc[0])]), str(encoders[1][enc[k]]),
                                  settings, settings[0], settings[-1], float(best[k]), float(worst[k]), why))
    return tuple(sorted(out, key=lambda s: (s.best_mean, s.best_mean - s.worst_mean, s.src, s.encoder)))
