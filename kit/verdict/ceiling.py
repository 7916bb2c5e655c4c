"""The ceiling per encode, and the encodes the consumer gates judge (docs/verdict.md, "The consumer's gate"). Each
counted held-out encode is judged as vmaf-tune samples it: the proxy fed the mean features of its window (its first
--consumer-window s, kit.verdict.sampling) against the whole encode's teacher score, which is what vmaf-tune's verify
encode measures; the ceiling is the teacher's own function fed the same features. An encode is within when its miss
is at most the tolerance. The pool is the encodes the ceiling lands within on (every encode without a ceiling): the
encodes the consumer's input can carry, fixed by the encodes alone, so no threshold and no other content's figure
moves an encode in or out of it. The per-encode figures (the whole encode's mean features) stay beside as a diagnosis.
`tally` counts them per group: what the gates read (kit.verdict.consumer_gates), each count a sum over
04_verdict/consumer_encodes.parquet."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from kit.model.consumer import band_order
from kit.verdict.document import ConsumerTally

if TYPE_CHECKING:
    import pandas as pd

FILE = "04_verdict/consumer_encodes.parquet"
# the groupings the tallies count, after `all`: the gates judge all, encoder, CRF band and content; rung is shown
TALLIED = ("encoder", "crf_band", "rung", "content")
IDENTITY = ("content", "content_group", "src", "src_sha256", "encoder", "cq", "enc_width", "enc_height", "rung",
            "crf_band", "longer")
JUDGED_COLUMNS = (*IDENTITY, "teacher", "predicted", "miss", "within", "ceiling", "ceiling_miss", "ceiling_within",
                  "sampled_predicted", "sampled_miss", "sampled_within", "sampled_ceiling", "sampled_ceiling_miss",
                  "sampled_ceiling_within", "pool")


def within(predicted: pd.Series, teacher: pd.Series, tolerance: float) -> np.ndarray:
    """Each encode's |predicted - teacher| at most the tolerance; a NaN prediction (a member diverged) is a miss."""
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
