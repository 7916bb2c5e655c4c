"""The consumer as it samples (docs/vmaf-tune.md, "How vmaf-tune samples a clip"): vmaf-tune's fast path feeds the
proxy the features of a window of the clip (its first 5 s) and verifies the pick on the whole clip, so beside the
consumer's figures the verdict gives the share with the window's features against the whole clip's score
(encodes.parquet's window_* columns), the samplings measured beside it (samplings.parquet), and a warning for each
content whose window is not its clip. The consumer's gates judge the first window's figure (kit.verdict.ceiling); the
samplings are figures beside them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from kit.corpus.samplings import BY_RATE, BY_TIMES, FIRST, PLACED_BY, SAMPLINGS
from kit.media.ladder import NATIVE
from kit.model.clips import ENCODE_KEY, encode_name
from kit.model.metrics import residuals
from kit.model.samplings import CUT, ENCODED
from kit.verdict.document import ConsumerSampling, SampledShare

HOW_WORDS = {CUT: "its frames cut from the whole encode", ENCODED: "each window encoded on its own"}


WINDOW_COLUMNS = ("window_predicted", "window_teacher", "window_ceiling", "longer")  # besides the teacher's score


def window_figures_of(columns: Mapping[str, np.ndarray], tolerance: float) -> dict[str, Any]:
    """ConsumerGroup's window figures of these counted encodes, from their columns (WINDOW_COLUMNS and `teacher`, as
    arrays): none without the window's columns (a corpus with no frame rate, or an encodes.parquet of an older
    kit)."""
    if "window_predicted" not in columns or not len(columns["teacher"]) or pd.isna(columns["window_teacher"]).all():
        return {}
    share = residuals(columns["window_predicted"], columns["teacher"], tolerance=tolerance).share_within
    known = bool(pd.notna(columns["window_ceiling"]).all())
    ceiling = residuals(columns["window_ceiling"], columns["teacher"], tolerance=tolerance).share_within \
        if known else None
    return {"window_share": share, "window_ceiling_share": ceiling, "n_longer": int(columns["longer"].sum())}


def window_how(window_s: float, cut_vs_encoded: list[float] | None) -> str:
    """How the window's figure is taken, with what cutting it from the whole encode leaves out, measured here."""
    said = (f"vmaf-tune's window as its code takes it today: the first {window_s:g} s of each held-out encode (the "
            f"frames whose own timestamps lie before {window_s:g} s, those `-t {window_s:g}` keeps, whatever the "
            "header's rate; a clip no longer than that is its own window), their mean canonical-6 fed to the exported "
            "graph as the consumer figures feed the whole encode's, against the whole encode's teacher score (what "
            "vmaf-tune's verify encode measures). The frames are the whole encode's; vmaf-tune encodes the chunk on "
            "its own (its own first frame and rate control)")
    if cut_vs_encoded is None:
        return said + ": not measured on this corpus (no window encoded on its own: see --consumer-samplings)"
    mean, largest = cut_vs_encoded
    return said + (f", which moved the prediction by {mean:.2f} VMAF on average and {largest:.2f} at most on this "
                   "corpus (samplings.parquet, the first window cut against encoded)")


# the words of placed_words, its slots as kit.bundle.messages.PLACED catalogues them (one text: the lead is sent it)
PLACED_WORDS = ("{k} of the {n} held-out encodes' windows are placed " + PLACED_BY[BY_RATE] + ": where the header's "
                "rate is not the packets', those are not the frames `-t {w}` keeps")


def placed_words(window_s: float, by_rate: int, of: int) -> str | None:
    """How many of `of` encodes' windows were placed by their header's rate (no frame times recorded:
    kit.corpus.samplings.PLACED_BY), None where none was: a fact of the corpus's manifest, said in a field of its own
    (ConsumerSampling.placed), so the same rows without their manifest give the same `how`."""
    if not by_rate:
        return None
    return PLACED_WORDS.format(k=by_rate, n=of, w=f"{window_s:g}")


def window_warnings(counted: pd.DataFrame, names: pd.Series, tolerance: float, window_s: float) -> list[str] | None:
    """Each content whose window's own teacher score lies beyond the tolerance of its whole clip's at some CRF,
    largest gap first: there the window is not the clip, and vmaf-tune's verify encode flags the proxy's pick."""
    if "window_gap" not in counted:
        return None
    out = []
    for content, part in counted[counted["window_gap"] > tolerance].groupby("content"):
        worst = part.loc[part["window_gap"].idxmax()]
        out.append((float(worst["window_gap"]), f"{names[content]}: its first {window_s:g} s lie "
                    f"{worst['window_gap']:.2f} VMAF from the whole clip at {worst['encoder']} CRF {worst['cq']} "
                    f"({len(part)} of its {int((counted['content'] == content).sum())} held-out encodes beyond "
                    f"{tolerance:g}): vmaf-tune's fast path judges it by a window that is not the clip, and its "
                    "verify encode flags the pick there"))
    return [text for _, text in sorted(out, key=lambda x: -x[0])] or None


def compared(samplings: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The rows the samplings are compared on: with frames cut from the whole encodes alone, every counted encode (the
    base of the consumer's figure as vmaf-tune samples, so its first-window row is that figure, encode for encode);
    where some windows were encoded on their own, only the encodes at the source's size of clips longer than the
    window that have every sampling both ways."""
    counted = samplings[samplings["counted"].astype(bool)]
    if not counted["longer"].astype(bool).any():  # every sampling of every clip is the whole clip: nothing to compare
        return counted.iloc[:0], "no encode longer than the window"
    if not (counted["how"] == ENCODED).any():
        return counted, "every counted encode, the frames cut from the whole encodes (a clip no longer than the " \
                        "window is every sampling's)"
    rows = counted[(counted["rung"] == NATIVE) & counted["longer"].astype(bool)]
    encoded = rows[rows["how"] == ENCODED]
    keys = encoded.groupby(list(ENCODE_KEY))["sampling"].nunique()
    whole = keys[keys == len(SAMPLINGS)].index
    rows = rows.set_index(list(ENCODE_KEY))
    return rows[rows.index.isin(whole)].reset_index(), "the encodes with every sampling both ways"


def shares(rows: pd.DataFrame, tolerance: float, window_s: float) -> tuple[SampledShare, ...]:
    """Each sampling and way: its share, its ceiling's, its own teacher's against the whole clip's, what it costs."""
    out = []
    for s in SAMPLINGS:
        for how in (CUT, ENCODED):
            part = rows[(rows["sampling"] == s.name) & (rows["how"] == how)]
            if not len(part):
                continue
            r = residuals(part["predicted"], part["teacher"], tolerance=tolerance)
            known = bool(part["ceiling"].notna().all())
            ceiling = residuals(part["ceiling"], part["teacher"], tolerance=tolerance).share_within if known else None
            w = part.iloc[r.worst] if r.n else None
            seconds = (part["enc_seconds"] + part["score_seconds"]).mean() if how == ENCODED else None
            out.append(SampledShare(
                s.name, s.words(window_s), how, r.n, float(r.share_within or 0.0), ceiling,
                float(np.mean(part["gap"] <= tolerance)), r.median_abs_error, r.max_abs_error,
                "" if w is None else encode_name(w["src"], w["encoder"], w["cq"], 0, 0, True),
                float(part["windows"].mean()), float(part["frames"].mean()),
                float(seconds) if seconds is not None and math.isfinite(seconds) else None))
    return tuple(out)


def best_words(found: tuple[SampledShare, ...], tolerance: float) -> str | None:
    """The sampling that serves the consumer best, encoded on its own as a consumer encodes it, with vmaf-tune's own
    beside it and what each trial costs (ties go to fewer encodes a trial); none named from frames cut from the whole
    encode alone, which flatter short windows (measured: docs/vmaf-tune.md)."""
    mine = [s for s in found if s.how == ENCODED]
    today = next((s for s in mine if s.sampling == FIRST.name), None)
    if found and not mine:
        return ("none named: no window was encoded on its own (--consumer-samplings cut, or a --corpus run: the "
                "boxes' corpus steps encode them, and a merge keeps the corpus alone), and frames cut from the whole "
                "encode flatter short windows, whose own first frame a consumer's encode starts from")
    if not mine or today is None:
        return None
    top = max(s.share_within for s in mine)
    tied = [s for s in mine if s.share_within == top]
    base = f"on {today.n_encodes} encodes of clips longer than the window, {HOW_WORDS[ENCODED]}, within {tolerance:g}"
    if today in tied:
        others = [s.words for s in tied if s is not today]
        return (f"vmaf-tune's own, {today.words}, serves as well as any sampling measured" +
                (f" (tied with {', '.join(others)})" if others else "") + f" ({base})")
    best = min(tied, key=lambda s: (s.encodes_per_trial, [x.name for x in SAMPLINGS].index(s.sampling)))
    cost = f"{best.encodes_per_trial:g} encode(s) of {best.frames_per_trial:.0f} frames a trial"
    return (f"{best.words} serves better than vmaf-tune's own ({today.words}): {100 * (top - today.share_within):+.1f} "
            f"points of share ({base}; {cost})")


def cut_against_encoded(samplings: pd.DataFrame) -> list[float] | None:
    """The mean and largest |prediction from the first window encoded on its own - from its frames cut from the
    whole encode| over the encodes that have both; None where none has."""
    first = samplings[samplings["sampling"] == FIRST.name]
    both = first[first["how"] == CUT].merge(first[first["how"] == ENCODED], on=list(ENCODE_KEY),
                                            suffixes=("_cut", "_enc"))
    both = both[both["longer_cut"].astype(bool)]
    if not len(both):
        return None
    diff = (both["predicted_enc"] - both["predicted_cut"]).abs()
    return [float(diff.mean()), float(diff.max())]


def consumer_sampling(counted: pd.DataFrame, samplings: pd.DataFrame | None, names: pd.Series, tolerance: float,
                      window_s: float) -> ConsumerSampling:
    """The consumer block's `sampling`: the window, the samplings compared, the best, the warnings."""
    if samplings is None or "window_teacher" not in counted:
        return ConsumerSampling(window_s, window_how(window_s, None), 0, math.nan, (), not_measured=(
            "no window placed: the corpus gives no frame rate (a JSONL or hand-made corpus) or vmaf-tune is not fed "
            "(another input set), so vmaf-tune's sampling is not measured"))
    rows, on = compared(samplings)
    found = shares(rows, tolerance, window_s)
    diff = cut_against_encoded(samplings)
    longer = counted[counted["longer"].fillna(False).astype(bool)]  # no window placed: judged whole
    # a LOSO of kit 2.2 placed every window by the rate and said nothing of it
    by_rate = int((counted["window_placed"] != BY_TIMES).sum()) if "window_placed" in counted else len(counted)
    return ConsumerSampling(window_s, window_how(window_s, diff) + f"; the samplings compared on {on}",
                            len(longer), float(longer["n_frames"].mean()) if len(longer) else math.nan, found,
                            best_words(found, tolerance), diff, window_warnings(counted, names, tolerance, window_s),
                            placed=placed_words(window_s, by_rate, len(counted)))
