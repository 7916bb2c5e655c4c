"""The ensemble's held-out rows, their intervals (kit.model.conformal) and the figures the verdict draws from them,
each recomputable from `04_verdict/intervals.parquet`."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kit.corpus.schema import CORPUS_ROW
from kit.model.clips import ENCODE_KEY
from kit.model.conformal import (
    FORMULA,
    LEVELS,
    METHOD,
    UNIT,
    Calibration,
    covered,
    groups_needed,
    interval,
    level_key,
    percent,
    rank_needed,
    scores,
)
from kit.model.metrics import residuals
from kit.verdict.document import ClipUse, IntervalLevel, Intervals, LimitGate
from kit.verdict.thresholds import finite

COVERAGE_SLACK = 0.05  # coverage this far below nominal is said in the summary (and clip use "does not hold")
META = ("src", "src_sha256", "content", "encoder", "cq", "box_id", "width", "height", "enc_width", "enc_height",
        "frame_index")


def column(level: float, side: str) -> str:
    """`lo_95`, `hi_80`, `lo_97.5`: a level's interval columns in intervals.parquet."""
    return f"{side}_{level_key(level)}"


def level_of(col: str) -> float | None:
    """The level of an interval column (`lo_97.5` -> 0.975), None for another column (`lo`, the nominal's); within a
    float's last bit of the level that made the column: re-key it with `level_key`, never compare it with ==."""
    side, _, pct = col.partition("_")
    try:
        return float(pct) / 100 if side in ("lo", "hi") and pct else None
    except ValueError:
        return None


def levels_for(nominal: float) -> tuple[float, ...]:
    """The reported levels and the nominal, one per key (a standard level the nominal spells the same gives way)."""
    return tuple(sorted({level_key(lv): lv for lv in (*LEVELS, nominal)}.values()))  # the nominal comes last, so wins


def ensemble_rows(predictions: pd.DataFrame, meta: pd.DataFrame) -> pd.DataFrame:
    """Per held-out row: the seeds' mean prediction and std (ddof=1), beside its corpus columns (`meta`)."""
    by_row = predictions.groupby(CORPUS_ROW, sort=True)
    out = pd.DataFrame({"vmaf": by_row["vmaf"].first(), "pred": by_row["pred"].mean(),
                        "std": by_row["pred"].std(ddof=1)})
    # rows of no ladder: each encoded at its source's own size (rung `native`)
    meta = meta.assign(**{f"enc_{d}": meta[d] for d in ("width", "height") if f"enc_{d}" not in meta})
    # every corpus row held out once (LOSO's rule) comes in the corpus's order: its columns are then meta's own, not a
    # copy of them (at 50,000 contents 4 GiB held twice by the verdict step)
    mine = meta[list(META)] if meta.index.equals(out.index) else meta.loc[out.index, list(META)]
    out = mine.join(out)
    out.index.name = CORPUS_ROW
    return out.reset_index()


@dataclass(frozen=True)
class GroupThresholds:
    """The scores' calibration over the content groups, made once for the rows' and the clips' intervals."""

    ids: np.ndarray  # the group ids, in code order
    codes: np.ndarray  # each row's group code
    normalised: bool  # scores scaled by the ensemble's std, else absolute (absolute_why says why)
    cal: Calibration
    cal_abs: Calibration  # on absolute scores (cal itself when the scores are absolute)
    left_out: dict[float, np.ndarray]  # per level, each group's threshold calibrated without it
    absolute_why: str | None = None

    @classmethod
    def of(cls, rows: pd.DataFrame, nominal: float) -> GroupThresholds:
        codes, ids = pd.factorize(rows["content"], sort=True)  # a code per row for its group (0..n-1, by id)
        codes = codes.astype(np.int64)
        sigma = rows["std"].to_numpy(dtype=np.float64)
        y, mu = rows["vmaf"].to_numpy(dtype=np.float64), rows["pred"].to_numpy(dtype=np.float64)
        why = absolute_why(sigma, np.abs(y - mu))
        normalised = why is None
        cal = Calibration.of(scores(y, mu, sigma if normalised else None), codes)
        cal_abs = Calibration.of(scores(y, mu, None), codes) if normalised else cal
        return cls(np.asarray(ids, dtype=object), codes, normalised, cal, cal_abs,
                   {lv: cal.left_out(lv) for lv in levels_for(nominal)}, why)


def absolute_why(sigma: np.ndarray, miss: np.ndarray) -> str | None:
    """Why the scores cannot be scaled by the ensemble's spread (None: they can): one seed gives none, and a row the
    members agree on exactly but the teacher does not would score infinite, so every level would read unbounded
    whatever the groups (a student that is its teacher's function, kit.model.floor, has no spread at all)."""
    if not len(sigma) or not np.isfinite(sigma).all():
        return "one seed: no ensemble spread to scale by, so the intervals are absolute (q_abs, VMAF points)"
    flat = int(((sigma == 0) & (miss > 0)).sum())
    if flat:
        return (f"on {flat} of the {len(sigma)} held-out rows the members agree exactly and the teacher differs "
                "from them (a student that is its teacher's function has no spread): no spread to scale by, so the "
                "intervals are absolute (q_abs, VMAF points)")
    return None


def level_figures(level: float, rows: pd.DataFrame, lo: np.ndarray, hi: np.ndarray, open_ended: np.ndarray,
                  th: GroupThresholds) -> IntervalLevel:
    """One level's thresholds and measured figures, each row calibrated without its group; None where unbounded."""
    n = len(th.ids)
    q, q_abs = th.cal.threshold(level), th.cal_abs.threshold(level)
    figures: dict[str, float | None] = {"coverage": None, "mean_width": None, "source_coverage_min": None}
    reason = None
    if open_ended.any():
        reason = unmeasured_reason(n, level, math.isfinite(q), float(np.mean(open_ended)))
    elif len(rows):
        inside = covered(rows["vmaf"].to_numpy(dtype=np.float64), lo, hi)
        # each source's share covered, on its code (its name's array of Python strings was the step's peak at
        # 10,000 contents: bench/README.md#scale-10000)
        source = pd.factorize(rows["src_sha256"])[0]
        per_source = np.bincount(source, weights=inside) / np.bincount(source)
        figures = {"coverage": float(inside.mean()), "mean_width": float((hi - lo).mean()),
                   "source_coverage_min": float(per_source.min())}
    return IntervalLevel(level=level, rank=rank_needed(n, level), q=finite(q), q_abs=finite(q_abs),
                         unbounded=not math.isfinite(q), share_unbounded=float(np.mean(open_ended)) if len(rows)
                         else 0.0, reason=reason, **figures)


def unmeasured_reason(n: int, level: float, bounded_with_all: bool, share: float) -> str:
    """Why a level has no coverage or width: unbounded with every group, or once a row's own group is out."""
    if not bounded_with_all:
        return unbounded_reason(n, level) + ": no coverage or width is given"
    if share < 1:
        return (f"{share:.1%} of the held-out rows have no finite {percent(level)} interval once their own content "
                "group is left out of the calibration (a spread of zero): no coverage or width is given")
    return (f"bounded with all {n} content groups, but not once a row's own group is left out of its calibration: "
            + unbounded_reason(n - 1, level) + "; its coverage on content it was not calibrated on cannot be "
            "measured, so no coverage or width is given")


UNBOUNDED_COLUMN = "unbounded"  # intervals.parquet: the levels at which the row's interval is unbounded, and why


def calibrate(rows: pd.DataFrame, nominal: float,
              th: GroupThresholds | None = None) -> tuple[pd.DataFrame, Intervals]:
    """Every level's interval for every held-out row (its group left out; null where unbounded, UNBOUNDED_COLUMN
    naming the levels), the thresholds from all groups, and the measured coverage."""
    th = th or GroupThresholds.of(rows, nominal)
    codes, n, normalised = th.codes, len(th.ids), th.normalised
    spread = rows["std"].to_numpy(dtype=np.float64) if normalised else None
    mu = rows["pred"].to_numpy(dtype=np.float64)
    out = rows.assign()  # a new frame: the interval columns are added to it, not to the caller's
    levels = []
    open_keys = np.full(len(rows), "", dtype=object)
    for level in levels_for(nominal):
        q = th.left_out[level][codes]
        lo, hi = interval(mu, spread, q)
        open_ended = np.isinf(q) | np.isinf(hi - lo)  # (a NaN prediction is a miss, not an unbounded interval)
        lo[open_ended], hi[open_ended] = np.nan, np.nan  # no bound is written as a bound: null in the file
        out[column(level, "lo")], out[column(level, "hi")] = lo, hi
        open_keys[open_ended] += level_key(level) + ","
        levels.append(level_figures(level, rows, lo, hi, open_ended, th))
    out["lo"], out["hi"] = out[column(nominal, "lo")], out[column(nominal, "hi")]
    said = {k: f"{k.rstrip(',')}: {UNBOUNDED_WHY}" if k else "" for k in set(open_keys)}
    out[UNBOUNDED_COLUMN] = pd.Categorical(pd.Series(open_keys, index=out.index).map(said))
    at = next(x for x in levels if abs(x.level - nominal) < 1e-9)
    reason = None
    if not normalised:
        reason = th.absolute_why
    elif at.unbounded:
        reason = unbounded_reason(n, nominal)
    return out, Intervals(method=METHOD, formula=FORMULA, score="normalised" if normalised else "absolute",
                          unit=UNIT, nominal=nominal, n_groups=n, levels=tuple(levels),
                          conformal_q_residual=at.q if normalised else None, q_reason=reason,
                          warning=coverage_warning(levels))


def unbounded_reason(n: int, level: float) -> str:
    return (f"{n} content group(s) cannot bound a {percent(level)} interval: the threshold is the "
            f"ceil((n+1) x {level:g}) = {rank_needed(n, level)}-th smallest of {n} scores; it needs at least "
            f"{groups_needed(level)} groups")


def unbounded_label(level: IntervalLevel, n_groups: int) -> str:
    """A level without coverage, worded as what it is (the chart's line): unbounded, so no coverage, never a 0 %."""
    if level.unbounded:
        return f"{percent(level.level)}: unbounded ({n_groups} groups, needs {groups_needed(level.level)})"
    return f"{percent(level.level)}: unbounded without a row's own group ({level.share_unbounded:.0%} of rows)"


def unbounded_words(levels: list[float]) -> str:
    """The legend's entry for the levels without coverage."""
    return f"unbounded at {', '.join(percent(lv) for lv in levels)}: no finite interval, so no coverage (not 0 %)"


UNBOUNDED_WHY = ("no finite interval at these levels once the row's own content group is left out of the "
                 "calibration (too few content groups; the verdict's intervals.levels say how many it needs)")


def coverage_warning(levels: list[IntervalLevel]) -> str | None:
    """The sentence the summary shows when the pooled coverage at 95 % is more than 5 points below nominal."""
    at95 = next((x for x in levels if level_key(x.level) == level_key(0.95)), None)  # or the nominal spelled so
    if at95 is None or at95.coverage is None or at95.coverage >= at95.level - COVERAGE_SLACK:
        return None
    return (f"held-out coverage at 95 % nominal is {at95.coverage:.1%}, more than {COVERAGE_SLACK:.0%} below: the "
            "intervals are too narrow for new sources")


def clip_use(clips: pd.DataFrame, rows: pd.DataFrame, nominal: float,
             th: GroupThresholds) -> tuple[ClipUse, pd.DataFrame]:
    """Encodes predicted from their mean features (03_loso/clips.parquet) inside their group's frame-level interval
    (calibrated without it); and each content group's largest encode miss, for the split-conformal sidecar."""
    ens = clips.groupby([c for c in ENCODE_KEY if c in clips], sort=True).agg(
        vmaf=("vmaf_mean", "first"), pred=("pred_from_mean_features", "mean"),
        std=("pred_from_mean_features", "std"), n_frames=("n_frames", "first")).reset_index()  # ddof=1, as the rows'
    # (ensemble_rows): a Python call per encode took 7.2 s of CPU at 100,000 encodes of 5 seeds, this 0.03
    content = rows.drop_duplicates("src_sha256").set_index("src_sha256")["content"]
    ens["content"] = content.loc[ens["src_sha256"]].to_numpy()
    at_clip = pd.Series(np.arange(len(th.ids)), index=th.ids).loc[ens["content"]].to_numpy()
    clip_sd = ens["std"].to_numpy() if th.normalised else None
    by_level: dict[str, float | None] = {}
    for level, left_out in th.left_out.items():  # each clip in its group's interval, calibrated without that group
        clip_q = left_out[at_clip]
        inside = covered(ens["vmaf"].to_numpy(), *interval(ens["pred"].to_numpy(), clip_sd, clip_q))
        by_level[level_key(level)] = float(inside.mean()) if len(ens) and np.isfinite(clip_q).all() else None
    measured = ", ".join(f"{key}% {share:.1%}" for key, share in by_level.items() if share is not None)
    r = residuals(ens["pred"], ens["vmaf"])
    cov = by_level[level_key(nominal)]
    holds = cov is not None and cov >= nominal - COVERAGE_SLACK
    said = (f"{len(ens)} encodes held out (a source at one encoder, cq and rung), each predicted from the mean of "
            f"its frames' features: RMSE {r.rmse:.2f} against the encode's mean teacher score; ")
    if cov is None:
        note = said + (f"the frame-level {percent(nominal)} interval is unbounded for some of them (too few content "
                       "groups to calibrate without their own), so it is not measured per clip"
                       + (f"; at {measured} of clips are inside" if measured else ""))
    else:
        note = said + (f"{cov:.1%} inside the frame-level {percent(nominal)} interval, so the intervals "
                       + ("hold for per-clip use" if holds else
                          "do not hold for per-clip use: use the calibration sidecar's clip residuals"))
    per_group = ens.assign(miss=(ens["pred"] - ens["vmaf"]).abs()).groupby("content", sort=True)["miss"].max()
    return (ClipUse(n_clips=r.n, **r.fields_of(ClipUse), coverage=cov if cov is not None else float("nan"),
                    holds=bool(holds), note=note, coverage_by_level=by_level),
            per_group.to_frame("residual").reset_index())


SIDECAR_CALIBRATES = ("an encode (a source at one encoder, cq and rung: a ladder's rungs are encodes apart) predicted "
                      "from its mean features by the mean of the ensemble's members: prediction +/- the "
                      "ceil((n+1)(1-alpha))-th smallest residual")


def sidecar(residuals: pd.DataFrame, nominal: float) -> dict[str, object]:
    """vmaf-tune's split-conformal sidecar: one absolute residual (VMAF points) per content group, in group order;
    when the groups cannot bound the level none (upstream would take the largest), `calibrated: false` and why."""
    values = [round(float(r), 6) for r in residuals["residual"]]
    head = {"alpha": round(1.0 - nominal, 10), "method": "split-conformal"}
    if rank_needed(len(values), nominal) > len(values):
        return {**head, "n": 0, "residuals": [], "calibrated": False, "content_groups": len(values),
                "reason": unbounded_reason(len(values), nominal) + "; no residual is given, so no interval is read "
                          "from this file"}
    return {**head, "n": len(values), "residuals": values, "calibrated": True, "calibrates": SIDECAR_CALIBRATES}


def coverage_gate(intervals: Intervals, threshold: float | None, measure: str) -> LimitGate:
    """--min-coverage: the pooled held-out coverage at the nominal level at least X; an unbounded interval fails."""
    at = intervals.at(intervals.nominal)
    assert at is not None  # calibrate always computes the nominal level
    value = at.coverage
    # unbounded with all n groups, or with each row's own group left out: no figure to gate on, so it fails
    failing = ["pooled"] if threshold is not None and (value is None or not value >= threshold) else []
    if value is None:
        n = intervals.n_groups if at.unbounded else intervals.n_groups - 1
        statement = (f"the {percent(intervals.nominal)} interval is unbounded" + ("" if at.unbounded else
                     " once a row's own group is left out of its calibration") + ": " +
                     unbounded_reason(n, intervals.nominal) + "; there is no coverage to state")
    else:
        statement = f"held-out coverage at {percent(intervals.nominal)} nominal is {value:.1%}"
    return LimitGate.of(measure, threshold, "pooled", value if value is not None else math.nan, failing, statement)
