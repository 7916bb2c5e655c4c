"""Content whose frames fall into regimes their mean hides: repeated pictures (a camera's frames sent two or three
times, pulldown, frame-rate padding). libvmaf's motion2 of a repeated picture is 0 and of the next new one is not, so
such a clip's motion2 runs 0, 0, x, 0, 0, x (vmaf-tune's parser reads motion2 per frame too). VMAF scores the new
pictures and the repeats apart, and an encode's mean features describe neither: no mean-feature proxy, the teacher's
own function of the mean included, can carry its score. A warning naming the clip and its ceiling, not a gate
(docs/verdict.md, "Repeated pictures"). No pandas import: document.py takes the record from here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from statistics import median
from typing import TYPE_CHECKING, Protocol

from kit.infra.records import Record, omit_none
from kit.media.libvmaf import MOTION
from kit.verdict.plausibility import native_rows

if TYPE_CHECKING:
    import pandas as pd

# the thresholds, each measured on real clips (docs/verdict.md, "Repeated pictures")
STILL = 0.01  # a frame's motion2 at most this: its picture repeats the one before (a repeat decodes to the same bits)
MIN_FRAMES = 6  # a pattern needs a few pictures
MIN_SHARE = 0.15  # at least this share of a clip's frames (the first, whose motion2 is always 0, left out) repeat, and
# at least this share do not: 3:2 pulldown and 24-to-30 padding repeat one frame in five, a 5 fps camera at 15 two in 3
MIN_RUNS = 3  # the repeats come in at least this many runs ...
MAX_RUN = 4  # ... of at most this many frames on average: a still intro or a freeze is one long run, not a regime
PATTERN = 9  # motion2 values the warning shows, from the second frame on


@dataclass(frozen=True)
class FrameRegime(Record):
    """One source whose pictures repeat between new ones, its motion2 pattern, and its content group's figures as
    vmaf-tune uses the models (the ceiling absent where the teacher is no function of the six)."""

    src: str
    src_sha256: str
    n_frames: int
    repeated: int  # frames (the first left out) whose motion2 is at most STILL
    runs: int  # runs of such frames
    moving_motion2: float  # the median motion2 of the other frames
    pattern: list[float]  # motion2 of its frames 1 .. PATTERN, rounded to 0.1
    content: str = ""  # its content group as the consumer block names it (its sources' names)
    share_within: float | None = omit_none()  # the models' share within the tolerance on that group
    ceiling_share: float | None = omit_none()  # the ceiling's
    n_encodes: int | None = omit_none()

    @property
    def text(self) -> str:
        """The warning, in one sentence: what repeats, what it hides, and the group's ceiling against the models."""
        shown = ", ".join(f"{v:g}" for v in self.pattern)
        where = (f"; as vmaf-tune uses the models on content {self.content}: the ceiling (the teacher's own function "
                 f"of the mean features) {self.ceiling_share:.1%} of {self.n_encodes} encodes within the tolerance, "
                 f"the models {self.share_within:.1%}" if self.ceiling_share is not None and self.share_within
                 is not None else "; no ceiling to compare: the teacher is no function of the six features")
        return (f"{self.src} repeats pictures: {self.repeated} of its {self.n_frames} frames have {MOTION} 0 between "
                f"new pictures ({MOTION} {shown}, …; {self.runs} runs, new pictures at median {MOTION} "
                f"{self.moving_motion2:.1f}), so its frames fall into regimes an encode's mean features hide, and no "
                f"mean-feature proxy can carry its score there{where}")


class ContentGroup(Protocol):
    """What a regime takes of its content group as vmaf-tune uses the models (kit.verdict.document.ConsumerGroup)."""

    @property
    def group(self) -> str: ...  # its sources' names, joined by " + "
    @property
    def share_within(self) -> float: ...
    @property
    def ceiling_share(self) -> float | None: ...
    @property
    def n_encodes(self) -> int: ...


def motion_of(rows: pd.DataFrame) -> pd.Series:
    """Each source's per-frame motion2 at its own size, the median over its encodes (motion2 is the reference's)."""
    native = native_rows(rows)
    return native.groupby(["src_sha256", "frame_index"], sort=True)[MOTION].median()


def regime_of(src: str, sha: str, motion: list[float]) -> FrameRegime | None:
    """The source's repeated pictures, when its frames fall into the two regimes (MIN_SHARE, MIN_RUNS, MAX_RUN)."""
    later = motion[1:]
    still = [m <= STILL for m in later]
    repeated = sum(still)
    runs = sum(1 for i, s in enumerate(still) if s and (i == 0 or not still[i - 1]))
    moving = [m for m in later if m > STILL]
    if len(motion) < MIN_FRAMES or min(repeated, len(moving)) < MIN_SHARE * len(later):
        return None
    if runs < MIN_RUNS or repeated / runs > MAX_RUN:
        return None
    return FrameRegime(src, sha, len(motion), repeated, runs, round(median(moving), 3),
                       [round(m, 1) for m in later[:PATTERN]])


def frame_regimes(rows: pd.DataFrame, groups: Sequence[ContentGroup]) -> tuple[FrameRegime, ...]:
    """Every source of the corpus rows whose pictures repeat (in name order), with its content group's figures
    (`groups`: the consumer block's content groups; none without the block). Rows without motion2 (a hand-made
    frame of predictions) have none."""
    if not {MOTION, "frame_index"} <= set(rows.columns):
        return ()
    motion = motion_of(rows)
    names = rows.drop_duplicates("src_sha256").set_index("src_sha256")["src"]
    found = []
    for sha, part in motion.groupby(level="src_sha256", sort=True):
        regime = regime_of(str(names[sha]), str(sha), [float(v) for v in part.to_numpy()])
        if regime is None:
            continue
        group = next((g for g in groups if regime.src in g.group.split(" + ")), None)
        found.append(regime if group is None else replace(regime, content=group.group, share_within=group.share_within,
                                                          ceiling_share=group.ceiling_share,
                                                          n_encodes=group.n_encodes))
    return tuple(sorted(found, key=lambda r: (r.src, r.src_sha256)))
