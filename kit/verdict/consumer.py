"""The verdict in the consumer's terms (docs/vmaf-tune.md): the held-out encodes as vmaf-tune's fast path predicts
them, every figure over the `counted` rows of 03_loso/encodes.parquet, and the gate at its tolerance. The slots of
vmaf-tune's one-hot no row trained are named, never given a figure.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from kit.corpus.samplings import VMAFTUNE_WINDOW_S
from kit.media.ladder import NATIVE
from kit.model.clips import encode_name
from kit.model.consumer import CRF_BANDS, VMAFTUNE_VOCAB, band_order, crf_band
from kit.model.contract import CODEC_VOCAB
from kit.model.metrics import residuals
from kit.platforms.encoders import get_spec
from kit.verdict.document import ConsumerFit, ConsumerGroup, LimitGate, UntrainedSlot
from kit.verdict.sampling import consumer_sampling, window_figures

GROUPINGS = ("encoder", "crf_band", "rung", "content")
HOW = ("each held-out encode (a source at one encoder, cq and rung), predicted as vmaf-tune's fast path predicts it: "
       "the exported graph (each member's output clipped to [0, 100]; the mean over seeds of the members that never "
       "saw its content) fed the encode's mean canonical-6 features, vmaf-tune's one-hot, preset_norm 0.5 and "
       "crf_norm = (crf - lo) / (hi - lo) over --vmaftune-crf-range (vmaf-tune's CRF is the kit's cq), against the "
       "mean of its frames' teacher scores; miss = |predicted - teacher|, within: miss <= the tolerance. Recompute "
       "from 03_loso/encodes.parquet, its rows with counted true")


def figures(part: pd.DataFrame, tolerance: float) -> dict[str, Any]:
    """What a ConsumerGroup (and the ConsumerFit) holds of these counted rows (NaN figures without any)."""
    r = residuals(part["predicted"], part["teacher"], tolerance=tolerance)
    known = "ceiling" in part and len(part) > 0 and bool(part["ceiling"].notna().all())
    limit = residuals(part["ceiling"], part["teacher"], tolerance=tolerance) if known else None
    w = part.iloc[r.worst] if r.n else None
    return {"n_encodes": r.n, **r.fields_of(ConsumerGroup), "median_miss": r.median_abs_error,
            "max_miss": r.max_abs_error, "ceiling_share": limit.share_within if limit is not None else None,
            "worst_encode": "" if w is None else encode_name(w["src"], w["encoder"], w["cq"], int(w["enc_width"]),
                                                              int(w["enc_height"]), w["rung"] == NATIVE),
            **window_figures(part, tolerance)}


def content_names(counted: pd.DataFrame) -> pd.Series:
    """Each content group named by its sources."""
    return counted.groupby("content")["src"].agg(lambda s: " + ".join(sorted(set(map(str, s)))))


def consumer_groups(counted: pd.DataFrame, tolerance: float) -> tuple[ConsumerGroup, ...]:
    """Per encoder, CRF band, rung and content (named by its sources), worst first: lowest share, largest miss, name."""
    names = content_names(counted)
    out: list[ConsumerGroup] = []
    for by in GROUPINGS:
        key = counted["content"].map(names) if by == "content" else counted[by]
        groups = [ConsumerGroup(by, str(name), **figures(part, tolerance)) for name, part in counted.groupby(key)]
        out += sorted(groups, key=lambda g: (g.share_within, -g.max_miss if math.isfinite(g.max_miss) else -math.inf,
                                             band_order(g.group), g.group))
    return tuple(out)


def untrained_slots(encoders: set[str]) -> tuple[UntrainedSlot, ...]:
    """The slots of vmaf-tune's one-hot no row trained, in vmaf-tune's order, each with what would train it."""
    out = []
    for name in (e for e in VMAFTUNE_VOCAB if e not in encoders):
        if name not in CODEC_VOCAB:
            out.append(UntrainedSlot(name, "no slot in the kit's models (their codec vocabulary): vmaf-tune's rows of "
                                           "it run with an empty one-hot", None))
            continue
        traits = get_spec(name).traits
        where = "" if not traits.engine else f" on a box with {traits.host} {traits.engine}"
        out.append(UntrainedSlot(name, "no row of the training corpus: vmaf-tune's one-hot sets a slot the models "
                                       "never learnt, so its predictions there are extrapolation",
                                 f"--encoders {','.join(sorted({*encoders, name}))}{where}"))
    return tuple(out)


def training_hint(encoders: set[str], slots: tuple[UntrainedSlot, ...]) -> str | None:
    """The untrained slots, each kind (software, hardware, without a slot) with what would train it."""
    software = [s.encoder for s in slots if s.trains_it and not get_spec(s.encoder).traits.engine]
    hardware = [s.encoder for s in slots if s.trains_it and get_spec(s.encoder).traits.engine]
    none = [s.encoder for s in slots if not s.trains_it]
    said = [f"{', '.join(names)} ({how})" for names, how in (
        (software, f"--encoders {','.join(sorted({*encoders, *software}))} trains them"),
        (hardware, "add them to --encoders on a box with their hardware"),
        (none, "no slot in the kit's models: no --encoders trains them")) if names]
    return "; ".join(said) or None


def not_counted(encodes: pd.DataFrame, crf_range: tuple[int, int]) -> str | None:
    """The held-out encodes left out of the figures, counted by why; None when every one counts."""
    slotted = encodes["crf"].notna()
    queried = encodes["queried"].astype(bool)
    untrained = queried & ~encodes["encoder_trained"].astype(bool)
    cases = ((~slotted, "of {names}, which vmaf-tune has no slot for (it cannot ask about them)"),
             (slotted & ~queried, f"at a CRF outside {crf_range[0]}-{crf_range[1]}, which vmaf-tune does not query"),
             (untrained, "of {names} whose fold trained on no other content's rows of that encoder"))
    said = [f"{int(left.sum())} " + why.format(names=", ".join(sorted(set(encodes.loc[left, "encoder"]))))
            for left, why in cases if left.any()]
    return f"{len(encodes) - int(encodes['counted'].astype(bool).sum())} held-out encodes not counted: " \
           + "; ".join(said) if said else None


def unmeasured_bands(counted: pd.DataFrame, crf_range: tuple[int, int]) -> list[str] | None:
    """The CRF bands of vmaf-tune's queried range that no counted encode falls in."""
    lo, hi = crf_range
    measured = set(counted["crf_band"])
    return [crf_band(a) for a, b in CRF_BANDS if a <= hi and b >= lo and crf_band(a) not in measured] or None


CODEC_BLIND = ("the models do not read the codec block (the teacher recipe: its weights are zero), so every slot of "
               "vmaf-tune's one-hot, trained or not, predicts alike; the ceiling is the teacher's own function on the "
               "same mean features")


def consumer_fit(encodes: pd.DataFrame, tolerance: float, crf_range: tuple[int, int],
                 codec_blind: bool = False, samplings: pd.DataFrame | None = None,
                 window_s: float = VMAFTUNE_WINDOW_S) -> ConsumerFit:
    """The verdict's `consumer` block; `codec_blind`: the models do not read the codec block (no slot untrained);
    `samplings`: 03_loso/samplings.parquet, the consumer as it samples (kit.verdict.sampling)."""
    counted = encodes[encodes["counted"].astype(bool)]
    encoders = set(map(str, encodes["encoder"]))
    slots = () if codec_blind else untrained_slots(encoders)
    return ConsumerFit(HOW, tolerance, list(crf_range), **figures(counted, tolerance),
                       groups=consumer_groups(counted, tolerance), untrained=slots,
                       train_hint=training_hint(encoders, slots), not_counted=not_counted(encodes, crf_range),
                       unmeasured_bands=unmeasured_bands(counted, crf_range),
                       codec_note=CODEC_BLIND if codec_blind else None,
                       sampling=consumer_sampling(counted, samplings, content_names(counted), tolerance, window_s))


def share_text(g: ConsumerGroup, label: str) -> str:
    return f"{label} {g.share_within:.1%} of {g.n_encodes}"


def share_gate(fit: ConsumerFit, threshold: float | None, measure: str, content: bool,
               ceiling_gap: float | None = None) -> LimitGate:
    """--min-consumer-share: all held-out encodes, every CRF band and every encoder at least X within the tolerance;
    `content`, --min-consumer-content-share: every content group at least Y. With no encode to gate, it passes. A group
    whose ceiling is below the threshold is left to the ceiling's gate (`ceiling_gap` on: ceiling_gate), and said."""
    gated = gated_groups(fit, content)
    everything = next((g for g in gated if g.by == "all"), None)
    groups = [g for g in gated if not below_ceiling(g, threshold, ceiling_gap)]
    left = [g for g in gated if below_ceiling(g, threshold, ceiling_gap)]
    labels = {id(g): group_label(g) for g in gated}
    worst = _worst(groups, everything)
    failing = _failing(groups, threshold)
    if groups:
        statement = gate_statement(fit, [(labels[id(g)], g) for g in failing], worst, labels, content)
    else:  # every group's ceiling is below the threshold: the ceiling's gate judges them all
        statement = f"every {'content group' if content else 'group'} is judged against its ceiling"
    # no encode held out at all: the row names no worst group
    worst_label = labels[id(worst)] if worst is not None and fit.n_encodes else None
    worst_share = worst.share_within if worst is not None else math.nan
    return LimitGate.of(measure, threshold, worst_label, worst_share, [labels[id(g)] for g in failing],
                        statement + left_to_ceiling(left, labels))


def _worst(groups: list[ConsumerGroup], everything: ConsumerGroup | None) -> ConsumerGroup | None:
    """The group of the lowest share within the tolerance (one without a figure, NaN, counts lowest); on a tie the
    whole set (`all`), so a CRF band or an encoder is named only when it is worse than all of them together."""
    return min(groups, key=lambda g: (g.share_within if math.isfinite(g.share_within) else -1.0, g is not everything),
               default=None)


def _failing(groups: list[ConsumerGroup], threshold: float | None) -> list[ConsumerGroup]:
    """The groups under `threshold` (none while the gate is off); a group without an encode has nothing to fail, and
    one whose share is NaN fails (`not >=`)."""
    return [g for g in groups if threshold is not None and g.n_encodes and not g.share_within >= threshold]


def gate_statement(fit: ConsumerFit, failing: list[tuple[str, ConsumerGroup]], worst: ConsumerGroup | None,
                   labels: dict[int, str], content: bool) -> str:
    """What the gate found: what failed, each with its share; else the lowest; or why nothing was measured."""
    tol = f"within {fit.tolerance:g} VMAF of the teacher as vmaf-tune predicts them"
    if not fit.n_encodes:
        return f"no held-out encode vmaf-tune can query ({fit.not_counted or 'none held out'}): not measured"
    whole = f"all: {fit.share_within:.1%} of {fit.n_encodes}"
    if failing:
        return f"held-out encodes {tol}: " + ", ".join(share_text(g, label) for label, g in failing) + \
            ("" if content or failing[0][0] == "all" else f" ({whole})")
    assert worst is not None
    lowest = "" if labels[id(worst)] == "all" else f"; lowest {share_text(worst, labels[id(worst)])}"
    if content:
        return f"every content group's held-out encodes {tol}: lowest {share_text(worst, labels[id(worst)])}"
    return f"{fit.share_within:.1%} of {fit.n_encodes} held-out encodes {tol}{lowest}"


def untrained_note(fit: ConsumerFit | None) -> str:
    """What a vmaf-tune registry row's notes add: the slots of its one-hot no row trained ("" when none is)."""
    if fit is None or not fit.untrained:
        return ""
    slotted = ",".join(s.encoder for s in fit.untrained if s.trains_it)
    none = ",".join(s.encoder for s in fit.untrained if not s.trains_it)
    said = f"; one-hot slots never trained (extrapolated): {slotted}" if slotted else ""
    return said + (f"; no slot in the models: {none}" if none else "")


# -- the gate judged against what the consumer's input can carry (issue 68) ----------------------------------------
def gated_groups(fit: ConsumerFit, content: bool) -> list[ConsumerGroup]:
    """The groups a consumer gate judges: every content group (`content`), else all encodes, each band, each encoder."""
    return list(fit.of("content")) if content else [fit.whole, *fit.of("crf_band"), *fit.of("encoder")]


def group_label(g: ConsumerGroup) -> str:
    """How a gate names a group: `all` (ConsumerFit.whole), `CRF 36-51`, `encoder libx264`, `content <its sources>`."""
    return "all" if g.by == "all" else f"{'CRF' if g.by == 'crf_band' else g.by} {g.group}"


def below_ceiling(g: ConsumerGroup, threshold: float | None, gap: float | None) -> bool:
    """The consumer's input cannot carry the gate on this group: the teacher's own function of its encodes' mean
    features (the ceiling) is below the gate's threshold there, so with --max-consumer-ceiling-gap on the models are
    judged against the ceiling (ceiling_gate), not the threshold."""
    return (gap is not None and threshold is not None and g.n_encodes > 0 and g.ceiling_share is not None
            and g.ceiling_share < threshold)


def left_to_ceiling(left: list[ConsumerGroup], labels: dict[int, str]) -> str:
    """What a consumer gate says of the groups it leaves to the ceiling's gate ("" for none)."""
    if not left:
        return ""
    return ("; judged against their ceiling instead, which is below this gate: "
            + ", ".join(f"{labels[id(g)]} (ceiling {g.ceiling_share:.1%})" for g in left))


def shortfall(g: ConsumerGroup) -> float:
    """How much of its encodes' share the models lose under the ceiling (negative: they beat it)."""
    assert g.ceiling_share is not None
    return g.ceiling_share - g.share_within


def ceiling_gate(fit: ConsumerFit, gap: float | None, measure: str,
                 thresholds: tuple[float | None, float | None]) -> LimitGate:
    """--max-consumer-ceiling-gap: on every group whose ceiling is below its consumer gate (`thresholds`: the share
    gate's and the content gate's), the models' share at most `gap` under the ceiling's. Each such group is named, and
    whether the student or the input falls short there; with none, or the gate off, nothing is judged."""
    share, content = thresholds
    judged = [(group_label(g), g) for g in gated_groups(fit, False) if below_ceiling(g, share, gap)]
    judged += [(group_label(g), g) for g in gated_groups(fit, True) if below_ceiling(g, content, gap)]
    worst = max(judged, key=lambda pair: (shortfall(pair[1]), pair[0]), default=None)
    failing = [label for label, g in judged if gap is not None and not shortfall(g) <= gap]
    return LimitGate.of(measure, gap, worst[0] if worst else None, shortfall(worst[1]) if worst else math.nan,
                        failing, ceiling_statement(judged, gap, thresholds))


def ceiling_statement(judged: list[tuple[str, ConsumerGroup]], gap: float | None,
                      thresholds: tuple[float | None, float | None]) -> str:
    """Each group judged against its ceiling, with who falls short there: the student (more than `gap` under the
    ceiling), the input (the ceiling itself below the gate, the student within `gap` of it), or nobody (beaten)."""
    if gap is None:
        return "off: every group is judged by the consumer gates alone"
    if not judged:
        return "no CRF band, encoder or content group has a ceiling below its consumer gate"
    said = []
    for label, g in judged:
        gate = thresholds[1] if g.by == "content" else thresholds[0]
        assert g.ceiling_share is not None and gate is not None
        lost = shortfall(g)
        who = (f"the student falls short: {lost:.1%} under the ceiling" if lost > gap else
               "the models beat the teacher's own function of the mean features there" if lost < 0 else
               f"the input falls short, not the student ({lost:.1%} under the ceiling)")
        said.append(f"{label} {g.share_within:.1%} of {g.n_encodes}, ceiling {g.ceiling_share:.1%} (below the gate's "
                    f"{gate:g}): {who}")
    return "where the consumer's input cannot carry the gate (its ceiling below it): " + "; ".join(said)
