"""Content whose frames fall into regimes their mean hides: repeated pictures (a camera's frames sent two or three
times, pulldown, frame-rate padding). A repeat is a decoded picture identical, bit for bit, to the one before it
(their md5, from the one decode that fingerprints the clip: kit.media.fingerprint.Repeats), never a small motion: a
still clip, whose pictures all differ however little, is not one (issue 74). libvmaf's motion2 of a repeat is 0 and
of the next new picture is not, so VMAF scores the new pictures and the repeats apart, and an encode's mean features
describe neither: a mean-feature proxy, the teacher's own function of the mean included, may not carry its score. A
warning naming the clip and what its ceiling shows of that (only what it shows), not a gate (docs/verdict.md,
"Repeated pictures"). No pandas import: document.py takes the record from here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

from kit.infra.records import Record, keep, omit_none
from kit.infra.rules import COUNT, POINTS, SHARE_FIGURE, Each
from kit.media.fingerprint import REPEAT, Repeats
from kit.media.libvmaf import MOTION

if TYPE_CHECKING:
    import pandas as pd

# the thresholds, each measured on real clips (docs/verdict.md, "Repeated pictures")
MIN_FRAMES = 6  # a pattern needs a few pictures
MIN_SHARE = 0.15  # at least this share of a clip's frames (the first, which repeats nothing, left out) repeat, and
# at least this share do not: 3:2 pulldown and 24-to-30 padding repeat one frame in five, a 5 fps camera at 15 two in 3
MIN_RUNS = 3  # the repeats come in at least this many runs ...
MAX_RUN = 4  # ... of at most this many frames on average: a still intro or a freeze is one long run, not a regime


@dataclass(frozen=True)
class FrameRegime(Record):
    """One source whose pictures repeat between new ones, and its content group's figures as vmaf-tune uses the
    models (the ceiling absent where the teacher is no function of the six). A verdict of kit 2.2.0 said a frame
    with motion2 at most 0.01 repeated (`moving_motion2`, `pattern`: read, never written)."""

    src: str
    src_sha256: str
    n_frames: int = field(metadata=keep(COUNT))
    repeated: int = field(metadata=keep(COUNT))  # frames whose decoded picture is the one before's, bit for bit
    runs: int = field(metadata=keep(COUNT))  # runs of such frames
    moving_motion2: float | None = omit_none(POINTS)  # kit 2.2.0's: the median motion2 of the other frames
    pattern: list[float] | None = omit_none(Each(POINTS))  # kit 2.2.0's: motion2 of its frames 1 .. 9, rounded to 0.1
    content: str = ""  # its content group as the consumer block names it (its sources' names)
    # the models' share within the tolerance on that group, as vmaf-tune samples it (as the consumer gates count it)
    share_within: float | None = omit_none(SHARE_FIGURE)
    ceiling_share: float | None = omit_none(SHARE_FIGURE)  # the ceiling's
    n_encodes: int | None = omit_none(COUNT)
    longest: int | None = omit_none(COUNT)  # the longest run
    first: str | None = omit_none()  # its first frames, each a new picture (n) or a repeat (r)

    @property
    def text(self) -> str:
        """The warning, in one sentence: what repeats, what it hides, and what its content group's figures say of it."""
        if self.first is None:  # a verdict of kit 2.2.0
            shown = ", ".join(f"{v:g}" for v in self.pattern or ())
            return (f"{self.src} repeats pictures: {of_its(self.repeated, self.n_frames, 'frames')} have {MOTION} 0 "
                    f"between new pictures ({MOTION} {shown}, …; {self.runs} runs, new pictures at median {MOTION} "
                    f"{self.moving_motion2 or 0:.1f}), so its frames fall into regimes an encode's mean features "
                    f"hide{self.carried}")
        shown = ", ".join("repeat" if c == REPEAT else "new" for c in self.first)
        repeats = of_its(self.repeated, self.n_frames, "decoded frames")
        return (f"{self.src} repeats its pictures: {repeats} are the one before them, bit for bit (each frame's md5), "
                f"in {self.runs} runs of at most {self.longest} (first frames: {shown}, …): two regimes ({MOTION} 0 on "
                f"a repeat) that an encode's mean features hide{self.carried}")

    @property
    def counts(self) -> tuple[int, int, int | None] | None:
        """Its content group's encodes, the models' within the tolerance and the ceiling's (None: no ceiling), as the
        consumer gates counted them (kit.verdict.ceiling.ConsumerTally: its shares are those counts over n); None
        without the consumer block."""
        if self.n_encodes is None or self.share_within is None:
            return None
        n = self.n_encodes
        return n, round(self.share_within * n), None if self.ceiling_share is None else round(self.ceiling_share * n)

    @property
    def carried(self) -> str:
        """What its content group's figures say of the mean features here: only what they show, in counts of its
        encodes (`of_its`)."""
        if (counted := self.counts) is None:
            return "; vmaf-tune is not fed here, so no figure says whether a mean-feature proxy carries its score"
        n, student, ceiling = counted
        if ceiling is None:
            return (f"; on content {self.content} the models land within the tolerance on {of_its(student, n)}, and "
                    "there is no ceiling to compare (the teacher is no function of the six features)")
        if ceiling == n:
            return (f"; on content {self.content} its ceiling (the teacher's own function of the mean features) lands "
                    f"within the tolerance on {of_its(n, n)} even so, the models on {student}")
        return (f"; on content {self.content} the ceiling (the teacher's own function of the mean features) lands "
                f"within the tolerance on {of_its(ceiling, n)}, so no mean-feature proxy carries its score on the "
                f"other {n - ceiling}; the models on {student}")


def of_its(k: int, n: int, what: str = "encodes") -> str:
    """A count of a content group's encodes in words, one way wherever a regime says one: `6 of its 8 encodes`,
    `all 8 of its encodes`."""
    return f"all {n} of its {what}" if k == n else f"{k} of its {n} {what}"


class ContentGroup(Protocol):
    """What a regime takes of its content group as the consumer gates count it (kit.verdict.document.ConsumerTally:
    as vmaf-tune samples it)."""

    @property
    def group(self) -> str: ...  # its sources' names, joined by " + "
    @property
    def share(self) -> float: ...
    @property
    def ceiling_share(self) -> float | None: ...
    @property
    def n_encodes(self) -> int: ...


def regime_of(src: str, sha: str, repeats: Repeats) -> FrameRegime | None:
    """The source's repeated pictures, when its frames fall into the two regimes (MIN_SHARE, MIN_RUNS, MAX_RUN)."""
    later = repeats.frames - 1  # the first frame repeats nothing
    if repeats.frames < MIN_FRAMES or min(repeats.repeated, later - repeats.repeated) < MIN_SHARE * later:
        return None
    if repeats.runs < MIN_RUNS or repeats.repeated / repeats.runs > MAX_RUN:
        return None
    return FrameRegime(src, sha, repeats.frames, repeats.repeated, repeats.runs, longest=repeats.longest,
                       first=repeats.first)


def frame_regimes(rows: pd.DataFrame, groups: Sequence[ContentGroup],
                  repeats: Mapping[str, Repeats]) -> tuple[FrameRegime, ...]:
    """Every source of the corpus rows whose pictures repeat (in name order), with its content group's figures
    (`groups`: the consumer block's content groups; none without the block). `repeats`: each source's, by src_sha256,
    as the corpus's manifest records them (a source it does not record, of a corpus an older kit made, has none)."""
    names = rows.drop_duplicates("src_sha256").set_index("src_sha256")["src"]
    found = []
    for sha, src in names.items():
        if (measured := repeats.get(str(sha))) is None or (regime := regime_of(str(src), str(sha), measured)) is None:
            continue
        group = next((g for g in groups if regime.src in g.group.split(" + ")), None)
        found.append(regime if group is None else replace(regime, content=group.group, share_within=group.share,
                                                          ceiling_share=group.ceiling_share,
                                                          n_encodes=group.n_encodes))
    return tuple(sorted(found, key=lambda r: (r.src, r.src_sha256)))
