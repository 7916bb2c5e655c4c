"""What the verdict adds from the held-out rows: a fold without results is HOLD naming its sources; the
out-of-range and coverage gates; errors by group (kit.verdict.assess, breakdown, intervals)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kit.verdict.assess import Predicted, assess, completeness
from kit.verdict.breakdown import range_gate, resolution_class
from kit.verdict.decide import recommendation
from kit.verdict.gates import COVERAGE, OUT_OF_RANGE
from kit.verdict.intervals import coverage_gate
from kit.verdict.thresholds import GateThresholds, evaluate_gate
from tests.unit.test_gate_and_metrics import only_gate


def corpus_rows(n_src: int = 25, frames: int = 6) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(meta as the verdict reads the corpus, predictions of two seeds) for n_src sources."""
    rng = np.random.default_rng(0)
    ids = [f"{i:064x}" for i in range(n_src)]
    meta = pd.DataFrame({"src": np.repeat([f"s{i}" for i in range(n_src)], frames),
                         "src_sha256": np.repeat(ids, frames), "content": np.repeat(ids, frames),
                         "encoder": "libx264", "cq": np.tile([19, 37], n_src * frames // 2),
                         "box_id": np.repeat(["a", "b"], n_src * frames // 2 + 1)[: n_src * frames],
                         "width": 1920, "height": 1080, "frame_index": np.tile(np.arange(frames), n_src)})
    meta = meta.assign(corpus_row=np.arange(len(meta))).set_index("corpus_row", drop=False)  # as the verdict reads it
    y = rng.uniform(20, 95, len(meta))
    preds = pd.concat([pd.DataFrame({"seed": s, "corpus_row": np.arange(len(meta)), "vmaf": y,
                                     "pred": y + rng.normal(0, 2, len(meta))}) for s in (0, 1)], ignore_index=True)
    return meta, preds


def test_a_source_without_results_fails_completeness_and_the_recommendation_names_it() -> None:
    meta, preds = corpus_rows()
    assert completeness(meta, preds).passed
    lost = meta.index[meta["src"] == "s7"]
    partial = preds[~((preds["seed"] == 1) & preds["corpus_row"].isin(lost))]  # one seed's fold failed
    c = completeness(meta, partial)
    assert not c.passed and c.missing == ["s7"] and c.with_results == 24
    nan = preds.copy()
    nan.loc[(nan["seed"] == 0) & nan["corpus_row"].isin(meta.index[meta["src"] == "s3"]), "pred"] = np.nan
    assert completeness(meta, nan).missing == ["s3"]  # a member that diverged
    gate = evaluate_gate({0: 0.99, 1: 0.99}, GateThresholds())
    text = recommendation(only_gate(gate, complete=c))
    assert text.startswith("HOLD") and "s7" in text and "no held-out results" in text


def test_range_and_coverage_gates_are_off_unless_asked_and_name_the_worst() -> None:
    meta, preds = corpus_rows()
    preds.loc[preds["corpus_row"].isin(meta.index[meta["src"] == "s2"][:3]), "pred"] = 112.0
    a = assess(Predicted.of(preds, meta), meta, None, {}, 0.9)
    off = range_gate(a.breakdown, None, OUT_OF_RANGE.measure)
    assert off.passed and not off.enabled and off.worst == "s2" and off.worst_value == 0.5
    on = range_gate(a.breakdown, 0.05, OUT_OF_RANGE.measure)
    assert not on.passed and on.failing == ["s2"]
    assert coverage_gate(a.intervals, None, COVERAGE.measure).passed
    at = a.intervals.at(0.9)
    assert at is not None and not coverage_gate(a.intervals, at.coverage + 0.01, COVERAGE.measure).passed
    assert coverage_gate(a.intervals, at.coverage, COVERAGE.measure).passed
    six = meta.iloc[:36]  # 6 sources: unbounded at 95 %
    few = assess(Predicted.of(preds[preds["corpus_row"] < 36], six), six, None, {}, 0.95)
    g = coverage_gate(few.intervals, 0.5, COVERAGE.measure)
    assert not g.passed and "unbounded" in str(g.statement) and "needs at least 19 groups" in str(g.statement)


def test_groups_by_box_quality_and_resolution() -> None:
    meta, preds = corpus_rows()
    a = assess(Predicted.of(preds, meta), meta, None, {}, 0.95)
    by = {(g.by, g.group): g for g in a.breakdown}
    assert {k for k in by if k[0] == "quality"} == {("quality", "libx264 cq19"), ("quality", "libx264 cq37")}
    assert {k for k in by if k[0] == "box"} == {("box", "a"), ("box", "b")}
    assert by[("quality", "libx264 cq19")].n_frames == 75
    assert [resolution_class(h) for h in (144, 480, 720, 1080, 2160, 0)] == \
        ["<=240p", "<=480p", "<=720p", "<=1080p", ">1080p", "unknown"]


def test_ridge_from_the_totals_minus_the_fold_is_the_ridge_fit_on_the_fold_s_training_rows() -> None:
    from kit.model.baselines import Moments, ridge_from_moments
    from kit.model.features import design_matrix
    from tests.conftest import synthetic_corpus
    from tests.training import fit_ridge

    df = synthetic_corpus(n_src=5, rows_per_src=50)
    feats, codec = design_matrix(df)
    y = df["vmaf"].to_numpy(dtype=np.float64)
    spaced = feats.astype(np.float64).copy()
    spaced[:, 5] = np.log1p(spaced[:, 5])  # ridge_from_moments takes the moments of the model's space
    data = np.concatenate([spaced, codec.astype(np.float64), y[:, None]], axis=1)
    shift = data.mean(0)
    total = Moments.of(data - shift)
    for src in ("s0", "s3"):
        held = np.flatnonzero(df["src"] == src)
        keep = np.flatnonzero(df["src"] != src)
        direct = fit_ridge(feats[keep], codec[keep], y[keep])
        fast = ridge_from_moments(total - Moments.of(data[held] - shift), shift, feats.shape[1])
        assert np.allclose(fast.predict(feats[held], codec[held]), direct.predict(feats[held], codec[held]),
                           rtol=0, atol=1e-5)  # fit_ridge takes its means in float32
        assert np.allclose(fast.mean, direct.mean, rtol=1e-6) and np.allclose(fast.std, direct.std, rtol=1e-6)


def test_clip_coverage_per_level_is_recomputable_from_intervals_and_clips() -> None:
    from kit.verdict.document import ClipUse

    meta, preds = corpus_rows()
    src = meta["src_sha256"].to_numpy()[preds["corpus_row"]]
    clips = preds.assign(src_sha256=src, encoder="libx264", cq=meta["cq"].to_numpy()[preds["corpus_row"]]).groupby(
        ["seed", "src_sha256", "encoder", "cq"], as_index=False).agg(
        n_frames=("corpus_row", "size"), vmaf_mean=("vmaf", "mean"), pred_from_mean_features=("pred", "mean"),
        pred_mean_of_frames=("pred", "mean"))
    a = assess(Predicted.of(preds, meta), meta, clips, {}, 0.8)
    use = a.intervals.clip_use
    assert use is not None and use.coverage_by_level is not None and set(use.coverage_by_level) == \
        {"50", "80", "90", "95"}  # as GroupErrors and intervals.parquet key them
    rows = a.rows
    q80 = ((rows["hi_80"] - rows["pred"]) / rows["std"]).groupby(rows["src_sha256"]).first()  # each group's q
    ens = clips.groupby(["src_sha256", "encoder", "cq"]).agg(v=("vmaf_mean", "first"),
                                                             p=("pred_from_mean_features", "mean"),
                                                             s=("pred_from_mean_features", "std"))
    q = q80.loc[ens.index.get_level_values(0)].to_numpy()
    inside = ((ens["p"] - q * ens["s"] <= ens["v"]) & (ens["v"] <= ens["p"] + q * ens["s"])).mean()
    assert use.coverage_by_level["80"] == use.coverage == pytest.approx(inside)
    assert ClipUse.from_json(use.to_json()) == use
    nine = preds["corpus_row"] < 9 * 6  # 9 content groups: 95 % is unbounded (ceil(10 x 0.95) > 9), 80 % is not
    few = assess(Predicted.of(preds[nine], meta.iloc[: 9 * 6]), meta.iloc[: 9 * 6],
                 clips[clips["src_sha256"].isin(meta["src_sha256"][: 9 * 6])], {}, 0.95).intervals.clip_use
    assert few is not None and few.coverage_by_level is not None and few.coverage_by_level["95"] is None
    assert np.isnan(few.coverage) and not few.holds and "unbounded for some of them" in few.note
    assert f"80% {few.coverage_by_level['80']:.1%}" in few.note
    assert a.sidecar is not None and a.sidecar["n"] == 25 and len(a.sidecar["residuals"]) == 25


def test_every_group_has_its_coverage_and_width_at_every_level() -> None:
    meta, preds = corpus_rows()
    a = assess(Predicted.of(preds, meta), meta, None, {}, 0.95)
    box = next(g for g in a.breakdown if g.by == "box" and g.group == "a")
    mine = a.rows[a.rows["box_id"] == "a"]
    assert box.coverage_by_level is not None and set(box.coverage_by_level) == {"50", "80", "90", "95"}
    for level in ("50", "80", "90", "95"):
        inside = ((mine[f"lo_{level}"] <= mine["vmaf"]) & (mine["vmaf"] <= mine[f"hi_{level}"])).mean()
        assert box.coverage_by_level[level] == pytest.approx(inside)
    assert box.coverage == box.coverage_by_level["95"]


def test_a_nominal_spelled_as_a_standard_level_replaces_it_once() -> None:
    """--interval-level 0.9500001 is keyed "95" as 0.95 is: one lo_95/hi_95 pair, one "95" key, no crash."""
    from kit.verdict.intervals import levels_for

    assert levels_for(0.9500001) == (0.5, 0.8, 0.9, 0.9500001) and levels_for(0.975)[-1] == 0.975
    meta, preds = corpus_rows()
    clips = preds.assign(src_sha256=meta["src_sha256"].to_numpy()[preds["corpus_row"]], encoder="libx264",
                         cq=meta["cq"].to_numpy()[preds["corpus_row"]]).groupby(
        ["seed", "src_sha256", "encoder", "cq"], as_index=False).agg(
        n_frames=("corpus_row", "size"), vmaf_mean=("vmaf", "mean"), pred_from_mean_features=("pred", "mean"),
        pred_mean_of_frames=("pred", "mean"))
    a = assess(Predicted.of(preds, meta), meta, clips, {}, 0.9500001)
    assert list(a.rows.columns).count("lo_95") == 1 and "lo" in a.rows
    use = a.intervals.clip_use
    assert use is not None and use.coverage_by_level is not None and list(use.coverage_by_level) == \
        ["50", "80", "90", "95"] and use.coverage == use.coverage_by_level["95"]
    from dataclasses import replace

    from kit.model.conformal import percent
    from kit.verdict.intervals import coverage_warning

    at = a.intervals.at(0.9500001)
    assert at is not None and a.intervals.levels[-1] is at
    low = [*a.intervals.levels[:-1], replace(at, coverage=0.5)]  # the 95 % warning still finds its level
    assert (warning := coverage_warning(low)) is not None and "at 95 % nominal is 50.0%" in warning
    assert [percent(x) for x in (0.95, 0.975, 0.999)] == ["95%", "97.5%", "99.9%"]  # never rounded to "98%"


@pytest.mark.parametrize("lost", [(), ("s7",)])
def test_the_held_out_rows_are_the_corpus_columns_beside_the_seeds_mean(lost: tuple[str, ...]) -> None:
    """Every row predicted (LOSO's rule): the held-out rows hold the corpus's own columns, not a copy; a source lost
    (a fold that failed): only the rows predicted. Either way each row is its corpus columns, its seeds' mean and
    spread, by pandas' plain grouping."""
    from kit.verdict.intervals import META, ensemble_rows

    meta, preds = corpus_rows()
    meta = meta.assign(enc_width=1920, enc_height=1080)
    preds = preds[~preds["corpus_row"].isin(meta.index[meta["src"].isin(lost)])]
    rows = ensemble_rows(preds, meta)
    by_row = preds.groupby("corpus_row")
    plain = meta.loc[by_row.size().index, list(META)].assign(
        vmaf=by_row["vmaf"].first(), pred=by_row["pred"].mean(), std=by_row["pred"].std(ddof=1)).reset_index()
    pd.testing.assert_frame_equal(rows, plain)
    assert np.shares_memory(rows["cq"].to_numpy(), meta["cq"].to_numpy()) == (not lost)
