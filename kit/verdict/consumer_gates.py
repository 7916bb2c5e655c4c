"""The consumer's gates (docs/verdict.md, "The consumer's gate" and "Judged against the ceiling"), computed from the
verdict's `consumer` block alone. The rule, in one sentence: a content is held to the lesser of each consumer gate and
its own ceiling less --max-consumer-ceiling-gap, so a content whose ceiling is below --min-consumer-share (or whose
ceiling less the gap is below --min-consumer-content-share) is named and judged by the ceiling-gap gate alone, and
every other gate is judged over the other contents, its share over all said beside it; a group those contents leave
whose own ceiling is still below the share gate goes to the ceiling-gap gate too. A gate with nothing to judge says so.
"""

from __future__ import annotations

import math

from kit.verdict.consumer import CONTENT_FLAG, SHARE_FLAG, held_to
from kit.verdict.document import ConsumerFit, ConsumerGroup, LimitGate, ShortInput


def share_text(g: ConsumerGroup, label: str) -> str:
    return f"{label} {g.share_within:.1%} of {g.n_encodes}"


def group_label(g: ConsumerGroup) -> str:
    """How a gate names a group: `all` (ConsumerFit.whole), `CRF 36-51`, `encoder libx264`, `content <its sources>`."""
    return "all" if g.by == "all" else f"{'CRF' if g.by == 'crf_band' else g.by} {g.group}"


def pooled(fit: ConsumerFit) -> list[ConsumerGroup]:
    """--min-consumer-share's groups: all, each band, each encoder, over the contents whose ceiling reaches the gate."""
    if fit.carried is not None and fit.carried.groups:
        return list(fit.carried.groups)
    return [fit.whole, *fit.of("crf_band"), *fit.of("encoder")]


def short_contents(fit: ConsumerFit, flag: str) -> tuple[ShortInput, ...]:
    return fit.carried.of(flag) if fit.carried is not None else ()


def low_ceiling(g: ConsumerGroup, threshold: float | None, gap: float | None) -> bool:
    """A pooled group whose own ceiling (over the contents that reach the gate) is still below it: the ceiling-gap
    gate's, with that gate on."""
    return (gap is not None and threshold is not None and g.n_encodes > 0 and g.ceiling_share is not None
            and g.ceiling_share < threshold)


def share_gate(fit: ConsumerFit, threshold: float | None, measure: str, content: bool,
               ceiling_gap: float | None = None) -> LimitGate:
    """--min-consumer-share (all held-out encodes, every CRF band, every encoder at least X within the tolerance) or,
    `content`, --min-consumer-content-share (every content group at least Y): each over the contents whose input
    carries it; the others named, with their ceiling and the student's share, and left to the ceiling-gap gate."""
    if content:
        left = short_contents(fit, CONTENT_FLAG)
        out = {s.content for s in left}
        groups = [g for g in fit.of("content") if g.group not in out]
    else:
        left = short_contents(fit, SHARE_FLAG)
        groups = [g for g in pooled(fit) if not low_ceiling(g, threshold, ceiling_gap)]
    labels = {id(g): group_label(g) for g in groups}
    judged = [g for g in groups if g.n_encodes]
    failing = [g for g in judged if threshold is not None and not g.share_within >= threshold]  # a NaN share fails
    worst = min(judged, key=lambda g: (g.share_within if math.isfinite(g.share_within) else -1.0, g.by != "all"),
                default=None)
    aside = named_aside(fit, left, threshold, ceiling_gap, content)
    if worst is None:
        why = not_judged_why(fit, content, threshold)
        return LimitGate.of(measure, threshold, None, math.nan, [], f"not judged: {why}{aside}", why)
    statement = gate_statement(fit, [(labels[id(g)], g) for g in failing], worst, labels[id(worst)], content)
    return LimitGate.of(measure, threshold, labels[id(worst)], worst.share_within, [labels[id(g)] for g in failing],
                        statement + aside)


def not_judged_why(fit: ConsumerFit, content: bool, threshold: float | None) -> str:
    """Why a consumer gate has no group to judge."""
    if not fit.n_encodes:
        return f"no held-out encode vmaf-tune can query ({fit.not_counted or 'none held out'})"
    what = "content group" if content else "content"
    return (f"no {what}'s ceiling carries {f'the gate {threshold:g}' if threshold is not None else 'this gate'}: "
            "each is judged against its ceiling (--max-consumer-ceiling-gap)")


def gate_statement(fit: ConsumerFit, failing: list[tuple[str, ConsumerGroup]], worst: ConsumerGroup, label: str,
                   content: bool) -> str:
    """What the gate found over the groups it judges: what failed, each with its share; else the lowest."""
    tol = f"within {fit.tolerance:g} VMAF of the teacher as vmaf-tune predicts them"
    every = [g for g in (pooled(fit) if not content else ()) if g.by == "all"]
    over = ("" if content or not (fit.carried and fit.carried.groups) else
            f" (over the contents whose ceiling reaches the gate; over every content: "
            f"{share_text(fit.whole, 'all')})")
    if failing:
        whole = f"; {share_text(every[0], 'all')}" if every and failing[0][0] != "all" else ""
        return f"held-out encodes {tol}: " + ", ".join(share_text(g, lab) for lab, g in failing) + whole + over
    if content:
        return f"every content group's held-out encodes {tol}: lowest {share_text(worst, label)}"
    lowest = "" if label == "all" else f"; lowest {share_text(worst, label)}"
    head = every[0] if every else worst
    return f"{head.share_within:.1%} of {head.n_encodes} held-out encodes {tol}{lowest}{over}"


def named_aside(fit: ConsumerFit, left: tuple[ShortInput, ...], threshold: float | None, gap: float | None,
                content: bool) -> str:
    """The contents (and pooled groups) this gate leaves to the ceiling-gap gate, each with its ceiling and the
    student's share ("" for none)."""
    said = [f"content {s.content} (ceiling {s.ceiling_share:.1%}, the student {s.share_within:.1%} of {s.n_encodes})"
            for s in left]
    if not content:
        said += [f"{group_label(g)} (ceiling {g.ceiling_share:.1%}, the student {g.share_within:.1%} of "
                 f"{g.n_encodes})" for g in pooled(fit) if low_ceiling(g, threshold, gap)]
    if not said:
        return ""
    return "; the input cannot carry this gate on " + ", ".join(said) + ": judged against the ceiling instead"


def shortfall(ceiling: float, share: float) -> float:
    """How much of its encodes' share the models lose under the ceiling (negative: they beat it), rounded as
    held_to rounds."""
    return round(ceiling - share, 12)


def ceiling_judged(fit: ConsumerFit, thresholds: tuple[float | None, float | None], gap: float
                   ) -> list[tuple[str, ConsumerGroup, str]]:
    """What the ceiling-gap gate judges: every content whose input cannot carry a consumer gate, then each pooled
    group whose own ceiling is still below the share gate; each with the gate it stands in for, in words."""
    share, content = thresholds
    groups = {g.group: g for g in fit.of("content")}
    out = []
    for s in fit.carried.short if fit.carried is not None else ():
        why = (f"below {SHARE_FLAG} {share:g}" if SHARE_FLAG in s.below and share is not None else
               f"less than {gap:g} above {CONTENT_FLAG} {content:g}")
        out.append((f"content {s.content}", groups[s.content], why))
    return out + [(group_label(g), g, f"below {SHARE_FLAG} {share:g}") for g in pooled(fit)
                  if share is not None and low_ceiling(g, share, gap)]


def ceiling_gate(fit: ConsumerFit, gap: float | None, measure: str,
                 thresholds: tuple[float | None, float | None]) -> LimitGate:
    """--max-consumer-ceiling-gap: each group whose input cannot carry a consumer gate (ceiling_judged) at least its
    ceiling's share less `gap` within the tolerance; each named with who falls short there, the student or the
    input. Off with no `gap`; not judged with no ceiling or no such group."""
    if gap is None:
        return LimitGate.of(measure, None, None, math.nan, [], "off: every group is judged by the consumer gates alone")
    if fit.no_ceiling is not None or fit.whole.ceiling_share is None:
        why = f"no ceiling: {fit.no_ceiling or 'the teacher gives no ceiling on these encodes'}"
        return LimitGate.of(measure, gap, None, math.nan, [], f"not judged: {why}", why)
    judged = ceiling_judged(fit, thresholds, gap)
    if not judged:
        why = "every content's ceiling carries the consumer gates: none is judged against its ceiling"
        return LimitGate.of(measure, gap, None, math.nan, [], f"not judged: {why}", why)
    lost = {label: shortfall(g.ceiling_share or 0.0, g.share_within) for label, g, _ in judged}
    worst = max(judged, key=lambda item: (lost[item[0]], item[0]))[0]
    failing = [label for label, _, _ in judged if not lost[label] <= gap]
    return LimitGate.of(measure, gap, worst, lost[worst], failing, ceiling_statement(judged, lost, gap))


def ceiling_statement(judged: list[tuple[str, ConsumerGroup, str]], lost: dict[str, float], gap: float) -> str:
    """Each group judged against its ceiling, the share it is held to, and who falls short there: the student (under
    it), the input (the ceiling itself below the gate, the student within `gap` of it), or nobody (beaten)."""
    said = []
    for label, g, why in judged:
        assert g.ceiling_share is not None
        who = (f"the student falls short: {lost[label]:.1%} under the ceiling" if lost[label] > gap else
               "the models beat the teacher's own function of the mean features there" if lost[label] < 0 else
               f"the input falls short, not the student ({lost[label]:.1%} under the ceiling)")
        said.append(f"{label} {g.share_within:.1%} of {g.n_encodes}, ceiling {g.ceiling_share:.1%} ({why}), held to "
                    f"{held_to(g.ceiling_share, gap):.1%}: {who}")
    return "where the consumer's input cannot carry a gate (its ceiling below it): " + "; ".join(said)

