"""The verdict in the consumer's terms (docs/vmaf-tune.md): the held-out encodes as vmaf-tune's fast path predicts
them, every figure over the `counted` rows of 03_loso/encodes.parquet, and the gate at its tolerance. The slots of
vmaf-tune's one-hot no row trained are named, never given a figure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from kit.corpus.samplings import VMAFTUNE_WINDOW_S
from kit.media.ladder import NATIVE
from kit.model.clips import encode_name
from kit.model.consumer import CRF_BANDS, VMAFTUNE_VOCAB, band_order, crf_band
from kit.model.contract import CODEC_VOCAB
from kit.model.metrics import residuals
from kit.model.teacher_fn import TeacherFunction
from kit.platforms.encoders import get_spec
from kit.verdict import ceiling
from kit.verdict.breakdown import positions
from kit.verdict.ceiling import ConsumerJudged
from kit.verdict.document import ConsumerFit, ConsumerGroup, UntrainedSlot
from kit.verdict.sampling import WINDOW_COLUMNS, consumer_sampling, window_figures_of

GROUPINGS = ("encoder", "crf_band", "rung", "content")
HOW = ("each held-out encode (a source at one encoder, cq and rung), predicted as vmaf-tune's fast path predicts it: "
       "the exported graph (each member's output clipped to [0, 100]; the mean over seeds of the members that never "
       "saw its content) fed the encode's mean canonical-6 features, vmaf-tune's one-hot, preset_norm 0.5 and "
       "crf_norm = (crf - lo) / (hi - lo) over --vmaftune-crf-range (vmaf-tune's CRF is the kit's cq), against the "
       "mean of its frames' teacher scores; miss = |predicted - teacher|, within: miss <= the tolerance. Recompute "
       "from 03_loso/encodes.parquet, its rows with counted true")


# the columns of the counted rows a group's figures read
FIGURE_COLUMNS = ("predicted", "teacher", "ceiling", "src", "encoder", "cq", "enc_width", "enc_height", "rung",
                  *WINDOW_COLUMNS)


def figures(part: pd.DataFrame, tolerance: float) -> dict[str, Any]:
    """What a ConsumerGroup (and the ConsumerFit) holds of these counted rows (NaN figures without any)."""
    return figures_of(figure_arrays(part), tolerance)


def figure_arrays(rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """The FIGURE_COLUMNS these counted rows hold, as arrays; `longer` (missing where no window was measured) as its
    true rows, which are what its sum counts."""
    return {c: rows[c].to_numpy(dtype=bool, na_value=False) if c == "longer" else rows[c].to_numpy()
            for c in FIGURE_COLUMNS if c in rows}


def figures_of(columns: Mapping[str, np.ndarray], tolerance: float) -> dict[str, Any]:
    """figures of the counted rows' FIGURE_COLUMNS, as arrays (a frame's part per content cost more than the
    figures)."""
    r = residuals(columns["predicted"], columns["teacher"], tolerance=tolerance)
    bound = columns.get("ceiling")
    known = bound is not None and len(bound) > 0 and bool(pd.notna(bound).all())
    limit = residuals(bound, columns["teacher"], tolerance=tolerance) if known else None
    w = {c: columns[c][r.worst] for c in ("src", "encoder", "cq", "enc_width", "enc_height", "rung")} if r.n else None
    return {"n_encodes": r.n, **r.fields_of(ConsumerGroup), "median_miss": r.median_abs_error,
            "max_miss": r.max_abs_error, "ceiling_share": limit.share_within if limit is not None else None,
            "worst_encode": "" if w is None else encode_name(w["src"], w["encoder"], w["cq"], int(w["enc_width"]),
                                                              int(w["enc_height"]), w["rung"] == NATIVE),
            **window_figures_of(columns, tolerance)}


def content_names(counted: pd.DataFrame) -> pd.Series:
    """Each content group named by its sources."""
    return counted.groupby("content")["src"].agg(lambda s: " + ".join(sorted(set(map(str, s)))))


def consumer_groups(counted: pd.DataFrame, tolerance: float,
                    groupings: tuple[str, ...] = GROUPINGS) -> tuple[ConsumerGroup, ...]:
    """Per encoder, CRF band, rung and content (named by its sources), worst first: lowest share, largest miss, name."""
    names = content_names(counted)
    columns = figure_arrays(counted)
    out: list[ConsumerGroup] = []
    for by in groupings:
        codes, keys = pd.factorize(counted["content"].map(names) if by == "content" else counted[by])  # NaN: none
        groups = [ConsumerGroup(by, str(keys[code]), **figures_of({c: a[at] for c, a in columns.items()}, tolerance))
                  for code, at in positions(codes, len(keys))]
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
                 window_s: float = VMAFTUNE_WINDOW_S, no_ceiling: str | None = None) -> ConsumerFit:
    """The verdict's `consumer` block (consumer_block's, without its encodes)."""
    return consumer_block(encodes, tolerance, crf_range, codec_blind, samplings, window_s, no_ceiling)[0]


def consumer_block(encodes: pd.DataFrame, tolerance: float, crf_range: tuple[int, int],
                   codec_blind: bool = False, samplings: pd.DataFrame | None = None,
                   window_s: float = VMAFTUNE_WINDOW_S, no_ceiling: str | None = None
                   ) -> tuple[ConsumerFit, pd.DataFrame]:
    """The verdict's `consumer` block and the encodes its gates judge (04_verdict/consumer_encodes.parquet);
    `codec_blind`: the models do not read the codec block (no slot untrained); `samplings`: 03_loso/samplings.parquet,
    the consumer as it samples (kit.verdict.sampling); `no_ceiling`: why the teacher's function gave no ceiling."""
    counted = encodes[encodes["counted"].astype(bool)]
    encoders = set(map(str, encodes["encoder"]))
    slots = () if codec_blind else untrained_slots(encoders)
    names = content_names(counted)
    judged = ceiling.judged_encodes(counted, names, tolerance)
    has_ceiling = ceiling.has_ceiling(counted)
    fit = ConsumerFit(HOW, tolerance, list(crf_range), **figures(counted, tolerance),
                      groups=consumer_groups(counted, tolerance), untrained=slots,
                      train_hint=training_hint(encoders, slots), not_counted=not_counted(encodes, crf_range),
                      unmeasured_bands=unmeasured_bands(counted, crf_range),
                      codec_note=CODEC_BLIND if codec_blind else None,
                      sampling=consumer_sampling(counted, samplings, names, tolerance, window_s),
                      judged=judged_block(judged, tolerance, window_s, ceiling.has_window(counted), has_ceiling),
                      no_ceiling=None if has_ceiling else no_ceiling or NO_CEILING)
    return fit, judged


def judged_block(judged: pd.DataFrame, tolerance: float, window_s: float, placed: bool,
                 has_ceiling: bool) -> ConsumerJudged:
    """The block's `judged`: how the encodes are judged, the pool, the tallies, the misses as judged."""
    n_longer = int(judged["longer"].sum())
    r = residuals(judged["sampled_predicted"], judged["teacher"], tolerance=tolerance)
    w = judged.iloc[r.worst] if r.n else None
    return ConsumerJudged(
        judged_how(window_s, n_longer, len(judged), placed), POOL.format(tolerance=tolerance) if has_ceiling else
        NO_POOL, ceiling.FILE, placed, window_s, n_longer, ceiling.tally(ceiling.hits_of(judged)), r.median_abs_error,
        r.max_abs_error,
        "" if w is None else encode_name(w["src"], w["encoder"], w["cq"], int(w["enc_width"]), int(w["enc_height"]),
                                         w["rung"] == NATIVE), ceiling.paired(judged))


POOL = ("the encodes the ceiling (the teacher's own function of the same mean features) lands within {tolerance:g} "
        "on, as vmaf-tune samples them: the encodes the input can carry; the others are the input's shortfall, "
        "counted against the student by no gate")
NO_POOL = "every counted encode: without a ceiling nothing tells the encodes the input can carry"


def judged_how(window_s: float, n_longer: int, n: int, placed: bool) -> str:
    """Which prediction the gates judge, said once: the window's (of how many clips longer), or the whole encode's."""
    if not placed:
        return ("each whole encode's mean features: no window could be placed (the corpus gives no frame rate), so "
                "vmaf-tune's sampling is not measured and the gates judge the whole encode")
    if not n_longer:
        return (f"as vmaf-tune samples a clip (its first {window_s:g} s against the whole clip): no clip here is "
                f"longer than {window_s:g} s, so each encode is its own window and is judged whole")
    return (f"as vmaf-tune samples a clip: each encode predicted from the mean features of its first {window_s:g} s "
            "(the frames cut from the whole encode) against the whole encode's teacher score, what vmaf-tune's "
            f"verify encode measures; {n_longer} of the {n} encodes are of clips longer than {window_s:g} s (a "
            "shorter clip is its own window)")


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


def untrained_note(fit: ConsumerFit | None) -> str:
    """What a vmaf-tune registry row's notes add: the slots of its one-hot no row trained ("" when none is)."""
    if fit is None or not fit.untrained:
        return ""
    slotted = ",".join(s.encoder for s in fit.untrained if s.trains_it)
    none = ",".join(s.encoder for s in fit.untrained if not s.trains_it)
    said = f"; one-hot slots never trained (extrapolated): {slotted}" if slotted else ""
    return said + (f"; no slot in the models: {none}" if none else "")
