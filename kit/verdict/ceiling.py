"""The ceiling per encode, and the encodes the consumer gates judge (docs/verdict.md, "The consumer's gate"). Each
counted held-out encode is judged as vmaf-tune samples it: the proxy fed the mean features of its window (its first
--consumer-window s, kit.verdict.sampling) against the whole encode's teacher score, which is what vmaf-tune's verify
encode measures; the ceiling is the teacher's own function fed the same features. An encode is within when its miss
is at most the tolerance. The pool is the encodes the ceiling lands within on (every encode without a ceiling): the
encodes the consumer's input can carry, fixed by the encodes alone, so no threshold and no other content's figure
moves an encode in or out of it. The per-encode figures (the whole encode's mean features) stay beside as a diagnosis.
`tally` counts them per group: what the gates read (kit.verdict.consumer_gates), each count a sum over
04_verdict/consumer_encodes.parquet. Its records (ConsumerTally, ConsumerJudged) are the verdict's `consumer.judged`;
numpy and pandas are imported where the encodes are counted, so the verdict reads without them."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from kit.infra.records import Record, keep, omit_none
from kit.infra.rules import COUNT, POINTS, SHARE_FIGURE
from kit.model.consumer import band_order

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

FILE = "04_verdict/consumer_encodes.parquet"
# the groupings the tallies count, after `all`: the gates judge all, encoder, CRF band and content; rung is shown
TALLIED = ("encoder", "crf_band", "rung", "content")
IDENTITY = ("content", "content_group", "src", "src_sha256", "encoder", "cq", "enc_width", "enc_height", "rung",
            "crf_band", "longer")
JUDGED_COLUMNS = (*IDENTITY, "teacher", "predicted", "miss", "within", "ceiling", "ceiling_miss", "ceiling_within",
                  "sampled_predicted", "sampled_miss", "sampled_within", "sampled_ceiling", "sampled_ceiling_miss",
                  "sampled_ceiling_within", "pool")


@dataclass(frozen=True)
class ConsumerTally(Record):
    """One group's counted held-out encodes as the consumer gates judge them (kit.verdict.ceiling): whole counts of
    encodes as vmaf-tune samples them, each a row of 04_verdict/consumer_encodes.parquet, so every share a gate line
    prints is a count there. The pool: the encodes the ceiling itself lands within the tolerance on (every encode
    where there is no ceiling), fixed by the encodes alone."""

    by: str  # all | encoder | crf_band | rung | content
    group: str  # as ConsumerGroup names it
    n_encodes: int = field(metadata=keep(COUNT))
    within: int = field(metadata=keep(COUNT))  # the student within the tolerance, of all its encodes
    # the ceiling within the tolerance: the pool's size (None: no ceiling, and the pool is every encode)
    ceiling_within: int | None = field(metadata=keep(COUNT))
    pool_within: int | None = field(metadata=keep(COUNT))  # the student within, on the pool (None: no ceiling)

    @property
    def pool(self) -> int:
        """The encodes the input can carry: the ceiling within the tolerance (every encode without a ceiling)."""
        return self.n_encodes if self.ceiling_within is None else self.ceiling_within

    @property
    def pool_hits(self) -> int:
        return self.within if self.pool_within is None else self.pool_within

    @property
    def pool_share(self) -> float:
        """The student's share of the pool (NaN for an empty pool), rounded as the gates compare it."""
        return round(self.pool_hits / self.pool, 12) if self.pool else math.nan

    @property
    def share(self) -> float:
        return round(self.within / self.n_encodes, 12) if self.n_encodes else math.nan

    @property
    def ceiling_share(self) -> float | None:
        if self.ceiling_within is None or not self.n_encodes:
            return None
        return round(self.ceiling_within / self.n_encodes, 12)

    @property
    def gap(self) -> float | None:
        """How much of its encodes' share the student loses under the ceiling's (negative: it beats it)."""
        if self.ceiling_within is None or not self.n_encodes:
            return None
        return round((self.ceiling_within - self.within) / self.n_encodes, 12)

    @property
    def shortfall(self) -> int:
        """The input's shortfall: the encodes the ceiling misses, out of the pool."""
        return self.n_encodes - self.pool

    @property
    def label(self) -> str:
        """How a gate names it: `all`, `CRF 36-51`, `encoder libx264`, `rung native`, `content <its sources>`."""
        return "all" if self.by == "all" else f"{'CRF' if self.by == 'crf_band' else self.by} {self.group}"

    def pooled_words(self) -> str:
        """The gated figure with its pool: `95.0% of the 40 encodes the input can carry`."""
        return f"{self.pool_share:.1%} of {self.pool}" if self.pool else "none of 0"


@dataclass(frozen=True)
class PairedLift(Record):
    """What the student adds to its ceiling as vmaf-tune uses it, on ALL the counted held-out encodes as vmaf-tune
    samples them (no pool): how many the student lands within the tolerance on, how many the ceiling does, and the
    discordant encodes (only the student, only the ceiling); the lift's uncertainty is the exact McNemar test, a
    two-sided binomial test of the discordant encodes at 1/2 (docs/verdict.md, "What the student adds"). Each count is
    a sum over 04_verdict/consumer_encodes.parquet (sampled_within, sampled_ceiling_within)."""

    n_encodes: int = field(metadata=keep(COUNT))
    student: int = field(metadata=keep(COUNT))
    ceiling: int = field(metadata=keep(COUNT))
    student_only: int = field(metadata=keep(COUNT))
    ceiling_only: int = field(metadata=keep(COUNT))
    p_value: float = field(metadata=keep(SHARE_FIGURE))  # exact McNemar, two-sided

    @property
    def lift(self) -> int:
        return self.student - self.ceiling

    def words(self, tolerance: float) -> str:
        """`the student 53 of 64 held-out encodes within 1.5 (82.8%), its ceiling 51 (79.7%): +2 encodes (+3.1
        points; 3 only the student, 1 only the ceiling; exact McNemar p = 0.62)`."""
        n = self.n_encodes
        if not n:
            return "no held-out encode"
        return (f"the student {self.student} of {n} held-out encodes within {tolerance:g} VMAF "
                f"({self.student / n:.1%}), its ceiling {self.ceiling} ({self.ceiling / n:.1%}): {self.lift:+d} "
                f"encodes ({100 * self.lift / n:+.1f} points; {self.student_only} only the student, "
                f"{self.ceiling_only} only the ceiling; exact McNemar p = {self.p_value:.2g})")


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """The two-sided exact McNemar p-value of `only_a` against `only_b` discordant pairs: twice the smaller tail of a
    binomial of their sum at 1/2, at most 1 (1 where there are none)."""
    n = only_a + only_b
    if not n:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(only_a, only_b) + 1)) / 2**n
    return min(1.0, 2.0 * tail)


def paired(judged: pd.DataFrame) -> PairedLift | None:
    """The student against its ceiling on every judged encode (consumer_encodes.parquet), None without a ceiling."""
    ceiling = judged["sampled_ceiling_within"]
    if not len(judged) or ceiling.isna().any():
        return None
    s, c = judged["sampled_within"].astype(bool).to_numpy(), ceiling.astype(bool).to_numpy()
    b, d = int((s & ~c).sum()), int((c & ~s).sum())
    return PairedLift(len(judged), int(s.sum()), int(c.sum()), b, d, round(mcnemar_exact(b, d), 12))


@dataclass(frozen=True)
class ConsumerJudged(Record):
    """What the consumer gates judge (kit.verdict.ceiling, consumer_gates): every counted held-out encode as vmaf-tune
    samples it, the student's and the ceiling's hits, the pool, counted per group; each encode a row of `file`."""

    how: str  # which prediction is judged: as vmaf-tune samples (its window against the whole clip), or why not
    pool: str  # what the pool is, in words
    file: str  # the encodes, one row each (04_verdict/consumer_encodes.parquet)
    sampled: bool  # the window's features (as vmaf-tune samples); false: no window placed, the whole encode's
    window_s: float = field(metadata=keep(POINTS))  # --consumer-window
    n_longer: int = field(metadata=keep(COUNT))  # of clips longer than the window: where sampled and whole can differ
    # all first, then by encoder, CRF band, rung and content, each grouping's lowest pool share first
    tallies: tuple[ConsumerTally, ...]
    median_miss: float = field(metadata=keep(POINTS))  # |predicted - teacher| as judged, over every counted encode
    max_miss: float = field(metadata=keep(POINTS))
    worst_encode: str
    paired: PairedLift | None = omit_none()  # the student against its ceiling on all of them (absent: before 2.5)

    def of(self, by: str) -> tuple[ConsumerTally, ...]:
        return tuple(t for t in self.tallies if t.by == by)

    @property
    def whole(self) -> ConsumerTally:
        return self.tallies[0]

    @property
    def sampled_how(self) -> str:
        """`how` in a few words, for the summary's row."""
        w = f"{self.window_s:g}"
        if not self.sampled:
            return "on each whole encode (no window placed: the corpus gives no frame rate)"
        if not self.n_longer:
            return f"as vmaf-tune samples: no clip here is longer than its {w} s window, so each encode is judged whole"
        return (f"as vmaf-tune samples: its first {w} s against the whole clip ({self.n_longer} of the "
                f"{self.whole.n_encodes} encodes of clips longer than {w} s)")

    def shortfall_words(self) -> str | None:
        """The input's shortfall in one sentence: how many encodes the ceiling misses as judged, and on which contents
        (None: it misses none, or there is no ceiling)."""
        w = self.whole
        if w.ceiling_within is None or not w.shortfall:
            return None
        short = sorted((t for t in self.of("content") if t.shortfall), key=lambda t: (-t.shortfall / t.n_encodes,
                                                                                        t.group))
        beaten = w.within - w.pool_hits
        said = ", ".join(f"content {t.group} {t.shortfall} of {t.n_encodes}" for t in short[:5]) + (
            f" and {len(short) - 5} more" if len(short) > 5 else "")
        return (f"the input falls short on {w.shortfall} of {w.n_encodes} encodes (the ceiling misses them, so no "
                f"gate counts them against the student): {said}"
                + (f"; the student lands within on {beaten} of them" if beaten else ""))


def within(predicted: pd.Series, teacher: pd.Series, tolerance: float) -> np.ndarray:
    """Each encode's |predicted - teacher| at most the tolerance; a NaN prediction (a member diverged) is a miss."""
    import numpy as np

    miss = np.abs(predicted.to_numpy(dtype=np.float64) - teacher.to_numpy(dtype=np.float64))
    return np.asarray(miss <= tolerance)


def has_window(counted: pd.DataFrame) -> bool:
    """Whether a window was placed (encodes.parquet's window columns; none for a corpus without frame rates)."""
    return "window_predicted" in counted and bool(counted["window_teacher"].notna().any())


def has_ceiling(counted: pd.DataFrame) -> bool:
    return "ceiling" in counted and bool(counted["ceiling"].notna().any())


def judged_encodes(counted: pd.DataFrame, names: pd.Series, tolerance: float) -> pd.DataFrame:
    """consumer_encodes.parquet: each counted encode (encodes.parquet's rows with `counted`), its content group's name
    (`names`, by content), its hits per encode and as sampled, and its place in the pool (columns: JUDGED_COLUMNS;
    the sampled ones the whole encode's where no window was placed, the ceiling's null without a ceiling)."""
    import numpy as np

    sampled, ceiling = has_window(counted), has_ceiling(counted)
    window = (lambda c: counted[f"window_{c}"]) if sampled else (lambda c: counted[c])
    teacher = counted["teacher"]
    out = counted.assign(content_group=counted["content"].map(names),
                         longer=counted["longer"].fillna(False).astype(bool) if "longer" in counted else False,
                         within=within(counted["predicted"], teacher, tolerance),
                         sampled_predicted=window("predicted"))
    out["sampled_miss"] = (out["sampled_predicted"] - teacher).abs()
    out["sampled_within"] = within(out["sampled_predicted"], teacher, tolerance)
    if ceiling:
        out["ceiling_within"] = within(counted["ceiling"], teacher, tolerance)
        out["sampled_ceiling"] = window("ceiling")
        out["sampled_ceiling_miss"] = (out["sampled_ceiling"] - teacher).abs()
        out["sampled_ceiling_within"] = within(out["sampled_ceiling"], teacher, tolerance)
        out["pool"] = out["sampled_ceiling_within"]
    else:
        for column in ("ceiling", "ceiling_miss", "sampled_ceiling", "sampled_ceiling_miss"):
            out[column] = np.nan
        out["ceiling_within"] = out["sampled_ceiling_within"] = None
        out["pool"] = True
    for column in ("ceiling_within", "sampled_ceiling_within"):
        out[column] = out[column].astype("boolean")
    return out[list(JUDGED_COLUMNS)].reset_index(drop=True)


class Hit(NamedTuple):
    """One judged encode as the tallies count it: its groups, the student within, the ceiling within (None: none)."""

    encoder: str
    crf_band: str
    rung: str
    content: str
    within: bool
    ceiling: bool | None


def hits_of(judged: pd.DataFrame) -> list[Hit]:
    """consumer_encodes.parquet's rows as the tallies count them."""
    ceiling = judged["sampled_ceiling_within"]
    known = ceiling.notna().all() and len(judged)
    return [Hit(encoder, band, rung, content, bool(s), bool(c) if known else None)
            for encoder, band, rung, content, s, c in zip(
                judged["encoder"].astype(str), judged["crf_band"].astype(str), judged["rung"].astype(str),
                judged["content_group"].astype(str), judged["sampled_within"], ceiling, strict=True)]


def tally(hits: Sequence[Hit], groupings: Iterable[str] = TALLIED) -> tuple[ConsumerTally, ...]:
    """`all`, then each grouping's groups, lowest pool share first (then the most encodes the ceiling misses, then
    the band's order and the name): plain counts, one pass over the encodes a grouping."""
    ceiling = bool(hits) and all(h.ceiling is not None for h in hits)
    out = [counted("all", "all held-out encodes", hits, ceiling)]
    for by in groupings:
        parts: dict[str, list[Hit]] = {}
        for h in hits:
            parts.setdefault(getattr(h, by), []).append(h)
        groups = [counted(by, name, part, ceiling) for name, part in parts.items()]
        out += sorted(groups, key=lambda t: (t.pool_share if t.pool else 2.0, -t.shortfall, band_order(t.group),
                                             t.group))
    return tuple(out)


def counted(by: str, group: str, hits: Sequence[Hit], ceiling: bool) -> ConsumerTally:
    """One group's counts (the ceiling's none where there is no ceiling)."""
    within = sum(h.within for h in hits)
    if not ceiling:
        return ConsumerTally(by, group, len(hits), within, None, None)
    return ConsumerTally(by, group, len(hits), within, sum(bool(h.ceiling) for h in hits),
                         sum(h.within and bool(h.ceiling) for h in hits))
