"""The verdict in the consumer's terms (docs/vmaf-tune.md): the held-out encodes as vmaf-tune's fast path predicts
them, every figure over the `counted` rows of 03_loso/encodes.parquet, and the gate at its tolerance. The slots of
vmaf-tune's one-hot no row trained are named, never given a figure.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from kit.corpus.samplings import VMAFTUNE_WINDOW_S
from kit.infra.rules import flag_of
from kit.media.ladder import NATIVE
from kit.model.clips import encode_name
from kit.model.consumer import CRF_BANDS, VMAFTUNE_VOCAB, band_order, crf_band
from kit.model.contract import CODEC_VOCAB
from kit.model.metrics import residuals
from kit.model.teacher_fn import TeacherFunction
from kit.platforms.encoders import get_spec
from kit.verdict.document import Carried, ConsumerFit, ConsumerGroup, ShortInput, UntrainedSlot
from kit.verdict.sampling import consumer_sampling, window_figures
from kit.verdict.thresholds import GateThresholds

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


def consumer_groups(counted: pd.DataFrame, tolerance: float,
                    groupings: tuple[str, ...] = GROUPINGS) -> tuple[ConsumerGroup, ...]:
    """Per encoder, CRF band, rung and content (named by its sources), worst first: lowest share, largest miss, name."""
    names = content_names(counted)
    out: list[ConsumerGroup] = []
    for by in groupings:
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
                 window_s: float = VMAFTUNE_WINDOW_S, thresholds: GateThresholds | None = None,
                 no_ceiling: str | None = None) -> ConsumerFit:
    """The verdict's `consumer` block; `codec_blind`: the models do not read the codec block (no slot untrained);
    `samplings`: 03_loso/samplings.parquet, the consumer as it samples (kit.verdict.sampling); `thresholds`: the
    consumer gates', to name the contents whose input cannot carry them (`carried`); `no_ceiling`: why the teacher's
    function gave no ceiling (said by the ceiling's gate)."""
    counted = encodes[encodes["counted"].astype(bool)]
    encoders = set(map(str, encodes["encoder"]))
    slots = () if codec_blind else untrained_slots(encoders)
    groups = consumer_groups(counted, tolerance)
    has_ceiling = "ceiling" in counted and bool(counted["ceiling"].notna().any())
    return ConsumerFit(HOW, tolerance, list(crf_range), **figures(counted, tolerance),
                       groups=groups, untrained=slots,
                       train_hint=training_hint(encoders, slots), not_counted=not_counted(encodes, crf_range),
                       unmeasured_bands=unmeasured_bands(counted, crf_range),
                       codec_note=CODEC_BLIND if codec_blind else None,
                       sampling=consumer_sampling(counted, samplings, content_names(counted), tolerance, window_s),
                       carried=carried(counted, groups, tolerance, thresholds) if has_ceiling else None,
                       no_ceiling=None if has_ceiling else no_ceiling or NO_CEILING)


NO_CEILING = ("the teacher's own function of the mean features was not computed (LOSO found no function of the six "
              "features vmaf-tune feeds that gives the teacher's scores: see teacher_function)")


def no_ceiling_why(proof: TeacherFunction | None) -> str | None:
    """Why LOSO gave the teacher's function no ceiling on what vmaf-tune feeds (None: said generically, NO_CEILING)."""
    if proof is None:
        return None
    if proof.own_features is not None:
        return (f"{proof.teacher} reads features of its own ({proof.own_features}) that vmaf-tune does not feed, so "
                "no function of the six it feeds is this teacher: the ceiling is absent, not computed on another "
                "input")
    if not proof.reproduced:
        return f"{proof.teacher}'s function was not reproduced from the stored features ({proof.reason})"
    return None


SHARE_FLAG = flag_of(GateThresholds, "min_consumer_share").opt
CONTENT_FLAG = flag_of(GateThresholds, "min_consumer_content_share").opt


def held_to(ceiling: float, gap: float) -> float:
    """What the ceiling-gap gate holds a group to: its ceiling's share less the gap (rounded to 12 places, so that a
    share of whole counts equal to it, 12 of 20 under 15 of 20 less 0.15, is equal and not a rounding below)."""
    return round(ceiling - gap, 12)


def short_of(g: ConsumerGroup, t: GateThresholds, gap: float) -> list[str]:
    """The gates a content's input cannot carry, by flag: its ceiling below --min-consumer-share, or its ceiling less
    the gap below --min-consumer-content-share (where the lesser of the gate and ceiling - gap is the ceiling's)."""
    c, share, content = g.ceiling_share, t.min_consumer_share, t.min_consumer_content_share
    if c is None or not g.n_encodes:
        return []
    return [flag for flag, below in ((SHARE_FLAG, share is not None and c < share),
                                     (CONTENT_FLAG, content is not None and held_to(c, gap) < content)) if below]


def carried(counted: pd.DataFrame, groups: tuple[ConsumerGroup, ...], tolerance: float,
            t: GateThresholds | None) -> Carried | None:
    """The contents whose own ceiling is below a consumer gate (each judged by the ceiling-gap gate alone), and
    --min-consumer-share's groups (all, each band, each encoder) over the other contents; None with the ceiling's gate
    off or no such content."""
    if t is None or (gap := t.max_consumer_ceiling_gap) is None:
        return None
    short = [ShortInput(g.group, g.n_encodes, g.share_within, g.ceiling_share, below)
             for g in groups if g.by == "content" and (below := short_of(g, t, gap)) and g.ceiling_share is not None]
    if not short:
        return None
    names = content_names(counted)
    out = names.index[names.isin([s.content for s in short if SHARE_FLAG in s.below])]
    rest = counted[~counted["content"].isin(out)]
    pooled = (ConsumerGroup("all", "all held-out encodes", **figures(rest, tolerance)),
              *consumer_groups(rest, tolerance, ("crf_band", "encoder"))) if len(out) else ()
    return Carried(t.min_consumer_share if len(out) else None, tuple(short), pooled)


def untrained_note(fit: ConsumerFit | None) -> str:
    """What a vmaf-tune registry row's notes add: the slots of its one-hot no row trained ("" when none is)."""
    if fit is None or not fit.untrained:
        return ""
    slotted = ",".join(s.encoder for s in fit.untrained if s.trains_it)
    none = ",".join(s.encoder for s in fit.untrained if not s.trains_it)
    said = f"; one-hot slots never trained (extrapolated): {slotted}" if slotted else ""
    return said + (f"; no slot in the models: {none}" if none else "")
