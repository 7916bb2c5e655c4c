"""The consumer's gates (docs/verdict.md, "The consumer's gate"), computed from the verdict's `consumer.judged` alone:
each a count over a pool the encodes fix (kit.verdict.ceiling), against its own threshold and no other. With s(e) the
student within the tolerance on encode e as vmaf-tune samples it and c(e) the ceiling within on it (c(e) = 1 for every
e without a ceiling), P = {e : c(e)} the pool, and G a group's encodes:

- --min-consumer-share X: for all, every CRF band and every encoder with P & G not empty,
  #{e in P & G : s(e)} / #(P & G) >= X;
- --min-consumer-content-share Y: the same for every content group;
- --max-consumer-ceiling-gap Z: for every content group, over all its encodes, (#{c(e)} - #{s(e)}) / #G <= Z.

So one more s(e) never fails a gate that passed (a numerator grows, a gap shrinks), one more c(e) the student misses
never passes a gate that failed (a miss joins a pool, a gap grows), a looser threshold passes whatever the stricter
one passed, and a content the student gets right everywhere adds only hits and a gap of at most 0
(tests/unit/test_monotone_verdict.py). A gate with nothing to judge says so and is never said as a pass."""

from __future__ import annotations

import math

from kit.verdict.ceiling import ConsumerJudged, ConsumerTally
from kit.verdict.document import ConsumerFit, LimitGate

SHOWN = 5  # groups a statement names; the rest counted


def pool_words(j: ConsumerJudged, tolerance: float) -> str:
    """What a share gate's figures are: the student's share of which encodes, in a few words."""
    sampled = "as vmaf-tune samples them" if j.sampled else "each whole encode: no window placed"
    if j.whole.ceiling_within is None:
        return f"the student within {tolerance:g} VMAF on the held-out encodes, {sampled} (no ceiling: every one)"
    return (f"the student within {tolerance:g} VMAF on the held-out encodes the input can carry (the ceiling "
            f"within, {sampled})")


def named(tallies: list[ConsumerTally], figure: str = "pool") -> str:
    """Groups with their figure (`pool`: the student on the pool; `gap`: under the ceiling), the first SHOWN."""
    said = [f"{t.label} {t.pooled_words()}" if figure == "pool" else
            f"{t.label} {t.gap or 0.0:.1%} under (the student {t.within} of {t.n_encodes}, the ceiling "
            f"{t.ceiling_within} of {t.n_encodes})" for t in tallies[:SHOWN]]
    more = f" and {len(tallies) - SHOWN} more" if len(tallies) > SHOWN else ""
    return ", ".join(said) + more


def unjudged(measure: str, threshold: float | None, why: str) -> LimitGate:
    """A gate on with nothing to judge: never a pass, its row says why."""
    return LimitGate.of(measure, threshold, None, math.nan, [], f"not judged: {why}", why)


def no_encode(fit: ConsumerFit) -> str:
    return f"no held-out encode vmaf-tune can query ({fit.not_counted or 'none held out'})"


def nowhere(fit: ConsumerFit, j: ConsumerJudged) -> str:
    """Why no consumer gate can judge: the ceiling lands within the tolerance on none of the held-out encodes."""
    return f"the ceiling lands within {fit.tolerance:g} on none of the {j.whole.n_encodes} held-out encodes"


def empty_pools(groups: list[ConsumerTally]) -> str:
    """The content groups whose pool is empty, each with the student's count ("" for none): no share judged there."""
    empty = [t for t in groups if not t.pool and t.by == "content"]
    said = "; ".join(f"{t.label}: the ceiling lands within on none of its {t.n_encodes} encodes, so no share is "
                     f"judged there (the student {t.within} of {t.n_encodes})" for t in empty[:SHOWN])
    return f"; {said}" + (f" and {len(empty) - SHOWN} more such" if len(empty) > SHOWN else "") if said else ""


def share_gate(fit: ConsumerFit, threshold: float | None, measure: str, content: bool) -> LimitGate:
    """--min-consumer-share (all held-out encodes, every CRF band, every encoder) or, `content`,
    --min-consumer-content-share (every content group): the student's share of each group's pool at least the
    threshold; a content group with an empty pool is named, and judged by no share."""
    j = fit.judged
    if j is None or not j.whole.n_encodes:
        return unjudged(measure, threshold, no_encode(fit))
    groups = list(j.of("content")) if content else [j.whole, *j.of("crf_band"), *j.of("encoder")]
    judged = [t for t in groups if t.pool]
    failing = [t for t in judged if threshold is not None and not t.pool_share >= threshold]  # a NaN fails
    worst = min(judged, key=lambda t: (t.pool_share, t.by != "all", t.label), default=None)
    if worst is None:
        return unjudged(measure, threshold, nowhere(fit, j) + empty_pools(groups))
    tol = pool_words(j, fit.tolerance)
    if failing:
        whole = "" if content or failing[0].by == "all" else f" (all {j.whole.pooled_words()})"
        statement = f"{tol}: {named(failing)}{whole}"
    elif content:
        statement = f"every content group, {tol}: lowest {worst.label} {worst.pooled_words()}"
    else:
        lowest = "" if worst.by == "all" else f"; lowest {worst.label} {worst.pooled_words()}"
        statement = f"{tol}: all {j.whole.pooled_words()}{lowest}"
    return LimitGate.of(measure, threshold, worst.label, worst.pool_share, [t.label for t in failing],
                        statement + empty_pools(groups))


def ceiling_gate(fit: ConsumerFit, gap: float | None, measure: str) -> LimitGate:
    """--max-consumer-ceiling-gap: every content group's share of all its encodes (as vmaf-tune samples them) at most
    `gap` under the ceiling's share of the same encodes. Off with no `gap`; not judged with no ceiling, or where the
    ceiling lands within on no encode (no content's share can fall under its ceiling's 0)."""
    j = fit.judged
    if gap is None:
        return LimitGate.of(measure, None, None, math.nan, [], "off: no content group is held to its ceiling")
    if fit.no_ceiling is not None or j is None or j.whole.ceiling_within is None:
        return unjudged(measure, gap, f"no ceiling: {fit.no_ceiling or 'the teacher gives no ceiling here'}")
    gaps = {t.label: t.gap for t in j.of("content") if t.gap is not None}
    if not gaps:
        return unjudged(measure, gap, no_encode(fit))
    if not j.whole.ceiling_within:  # a gap is at most 0 on every content: it cannot fail, so it judges nothing
        return unjudged(measure, gap, nowhere(fit, j))
    contents = {t.label: t for t in j.of("content")}
    worst = max(gaps, key=lambda label: (gaps[label], label))
    failing = sorted((label for label, lost in gaps.items() if not lost <= gap), key=lambda x: (-gaps[x], x))
    head = (f"each content group's share of all its held-out encodes within {fit.tolerance:g} VMAF "
            f"({'as vmaf-tune samples them' if j.sampled else 'each whole encode'}), against the ceiling's")
    if failing:
        statement = f"{head}: {named([contents[x] for x in failing], 'gap')}"
    elif gaps[worst] <= 0:
        statement = f"{head}: the student at or above the ceiling on every content group"
    else:
        statement = f"{head}: largest {named([contents[worst]], 'gap')}"
    return LimitGate.of(measure, gap, worst, gaps[worst], failing, statement)
