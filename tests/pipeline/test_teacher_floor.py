"""The teacher recipe's floor on a real box (issue 92): five whole public clips of four packages (cartoon, CG, a
camera's movie, a test sequence; bench/bench_boxes.py's `small`), the default run. Held out by content and judged as
the consumer gates judge (each encode's first 5 s against the whole clip, within --consumer-tolerance), the student
keeps at least as many encodes as the teacher's own function of the same features, and no content more than one
fewer. The rule that keeps it there is recounted in pandas from 03_loso/floor.parquet (every encode's teacher score,
the function and each seed's correction): each fold's factor and the export's are the rule's on that evidence, and the
rule refuses a factor this box's evidence would have taken without it, so the test fails where the floor is removed.
The verdict, the baselines and the summary say so in figures recomputed here; the export computes the teacher's
function and keeps the factor LOSO chose. The box is tests/conftest.py's `small_box`, shared with
tests/pipeline/test_consumer_recomputed.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest
from onnx import numpy_helper
from scipy import stats

from kit.bundle.vmaftune import v2_rows
from kit.media.libvmaf import FEATURES, TEACHER_MODEL
from kit.media.svr import builtin_model_text, parse_model
from kit.model.consumer import TOLERANCE
from kit.model.runtime import session
from kit.report.summary import FLOOR_LABEL, closing_rows
from kit.rundir import RunDir
from tests.kitfiles import verdict_of

pytestmark = pytest.mark.slow  # the session's small real box (tests/conftest.py)
SCALES = (0.0, 0.25, 0.5, 0.75, 1.0)  # the factors the floor tries (kit.model.floor.SCALES), restated
FACTORS = (0.0, 0.5, 0.75, 1.0, 1.25, 1.5)  # the spread's (kit.model.spread.FACTORS), restated
ENCODE = ["fold", "content", "src_sha256", "encoder", "cq", "enc_width", "enc_height"]


def counted(out: Path) -> pd.DataFrame:
    encodes = pd.read_parquet(RunDir(out).encodes)
    return encodes[encodes["counted"].astype(bool)]


def expected_clip(raw: pd.Series, sigma: pd.Series) -> np.ndarray:
    """E[clip(X, 0, 100)], X ~ N(raw, sigma^2), the plain way: P(X > 100) 100 plus P(0 < X < 100) times the mean of
    the normal truncated to [0, 100] (scipy's truncnorm, not the kit's closed form)."""
    mu, sd = raw.to_numpy(dtype=float), sigma.to_numpy(dtype=float)
    a, b = (0.0 - mu) / sd, (100.0 - mu) / sd
    inside = stats.norm.cdf(b) - stats.norm.cdf(a)
    return 100.0 * stats.norm.sf(b) + inside * np.nan_to_num(stats.truncnorm.mean(a, b, loc=mu, scale=sd))


def at_factor(floor: pd.DataFrame, scale: float, tolerance: float, spread: float = 0.0) -> pd.DataFrame:
    """Each encode of floor.parquet at a spread and a correction's factor: the mean over its seeds of the function
    (its clip an expectation under `spread` times the encode's spread) plus the factor times the seed's correction
    (none on a public encode), clipped to [0, 100]; its miss of the whole encode's score and whether it is within."""
    by = [floor[c] for c in ENCODE]
    # at any factor a spread is at most the widest fitted (most_spread)
    sigma = np.minimum(spread * floor["spread"], floor["most_spread"])
    base = floor["ceiling"].to_numpy(dtype=float) if spread == 0.0 else expected_clip(floor["raw"], sigma)
    correction = floor["correction"].fillna(0.0) if scale else 0.0
    predicted = pd.Series(np.clip(base + scale * correction, 0, 100), index=floor.index).groupby(by).mean()
    miss = (predicted - floor.groupby(by)["teacher"].first()).abs()
    real = floor.groupby(by)["real"].first()
    return pd.DataFrame({"predicted": predicted, "miss": miss, "within": miss <= tolerance, "real": real}
                        ).reset_index()


def kept_by_the_rule(floor: pd.DataFrame, tolerance: float, rows: Callable[[pd.DataFrame], pd.Series],
                     spread: float | None = None) -> tuple[float, list[float]]:
    """The floor's rule on the encodes `rows` (a mask by fold), in plain pandas. `spread` None: the spread's factor
    chosen on the box's encodes and the public ones, no correction; else the correction's factor at that spread, on
    the box's alone. A candidate keeps more than it is tried against (the function; the spread alone), no fewer of
    the box's own than the function, and no content more than one under the function; the most, then the least
    median miss, then the first. Returns the factor chosen and those refused."""
    tries = [(k, 0.0) for k in FACTORS[1:]] if spread is None else [(spread, s) for s in SCALES[1:]]
    against = (0.0, 0.0) if spread is None else (spread, 0.0)

    def judged(k: float, s: float) -> pd.DataFrame:
        f = at_factor(floor, s, tolerance, k)
        f = f[rows(f)]
        return f if spread is None else f[~f["real"].astype(bool)]

    function = judged(0.0, 0.0)
    per_content = function.groupby("content")["within"].sum()
    before = int(judged(*against)["within"].sum())
    own = int(function.loc[~function["real"].astype(bool), "within"].sum())
    best, chosen, refused = (before, -np.inf), against, []
    for k, s in tries:
        f = judged(k, s)
        hits = f.groupby("content")["within"].sum()
        key = (int(f["within"].sum()), -f["miss"].median())
        mine = int(f.loc[~f["real"].astype(bool), "within"].sum())
        if key[0] > before and mine >= own and (per_content - hits).max() <= 1:
            if key > best:
                best, chosen = key, (k, s)
        else:
            refused.append(k if spread is None else s)
    return (chosen[0] if spread is None else chosen[1]), refused


def test_judged_as_the_gates_judge_the_student_keeps_as_many_encodes_as_its_teachers_function(
        small_box: tuple[Path, object]) -> None:
    judged = pd.read_parquet(RunDir(small_box[0]).consumer_encodes)  # what the consumer gates count
    student, function = judged["sampled_within"].astype(bool), judged["sampled_ceiling_within"].astype(bool)
    assert len(judged) == 40 and student.sum() >= function.sum() and judged["longer"].any()
    by_content = pd.DataFrame({"student": student, "function": function}).groupby(judged["src"]).sum()
    assert (by_content["student"] >= by_content["function"] - 1).all(), by_content


def test_the_floor_is_the_rule_recounted_from_floor_parquet_and_it_refuses_what_the_box_would_take(
        small_box: tuple[Path, object]) -> None:
    out = small_box[0]
    floor, rows, correction = pd.read_parquet(RunDir(out).floor), counted(out), verdict_of(out).correction
    assert correction is not None and correction.sampled and correction.tolerance == TOLERANCE
    assert correction.fold_spreads is not None and correction.spread is not None and correction.real is not None
    box = floor[~floor["real"]]
    assert len(box) == 5 * len(rows) and box.groupby(ENCODE).ngroups == len(rows) == correction.encodes
    # the public encodes the kit carries, held out of every fold (fold -1), by content
    real = floor[floor["real"]]
    assert (real["fold"] == -1).all() and real.groupby(ENCODE).ngroups == correction.real.encodes
    assert correction.real.status == "read" and correction.real.encodes > 0
    # the evidence is encodes.parquet's window, each encode at its own fold's factors
    factors = dict(enumerate(zip(correction.fold_spreads, correction.fold_scales, strict=True)))
    own = pd.concat([at_factor(box, c, TOLERANCE, k).assign(fold_k=fold) for fold, (k, c) in factors.items()])
    own = own[own["fold"] == own["fold_k"]]
    merged = own.merge(rows, on=ENCODE[2:], suffixes=("", "_run"))
    assert len(merged) == len(rows)
    assert np.allclose(merged["predicted"], merged["window_predicted"], atol=1e-4)  # erf in float32
    function = box.groupby(ENCODE)["ceiling"].first().rename("function").reset_index().merge(rows, on=ENCODE[2:])
    assert len(function) == len(rows) and np.allclose(function["function"], function["window_ceiling"], atol=1e-9)
    # each fold's factors are the rule's on the other folds' encodes (and the public ones), the export's on all
    folds = sorted(box["fold"].unique())
    spreads = [kept_by_the_rule(floor, TOLERANCE, lambda f, k=k: f["fold"] != k)[0] for k in folds]
    assert correction.fold_spreads == spreads
    assert correction.fold_scales == [kept_by_the_rule(floor, TOLERANCE, lambda f, k=k: f["fold"] != k, spreads[k])[0]
                                      for k in folds]
    spread, refused = kept_by_the_rule(floor, TOLERANCE, lambda f: f["fold"] >= -1)
    scale, refused_scales = kept_by_the_rule(floor, TOLERANCE, lambda f: f["fold"] >= -1, spread)
    assert (correction.spread.factor, correction.scale) == (spread, scale)
    assert correction.within_teacher == at_factor(box, 0.0, TOLERANCE)["within"].sum()
    assert correction.within_student == merged["within"].sum()
    # the rule did something here: a spread or correction a rule after more hits alone would take is refused
    assert refused or refused_scales


def test_the_verdict_baselines_and_summary_give_the_figures_of_the_judged_encodes(
        small_box: tuple[Path, object]) -> None:
    out, res = small_box
    judged, verdict = pd.read_parquet(RunDir(out).consumer_encodes), verdict_of(out)
    correction, teacher = verdict.correction, verdict.baselines["teacher_fn"]
    assert correction is not None and verdict.recipe == "teacher"
    assert len(correction.fold_scales) == 5 and correction.encodes == len(judged)
    assert correction.within_teacher == judged["sampled_ceiling_within"].sum() == teacher.details["encodes_within"]
    assert teacher.details["student_encodes_within"] == judged["sampled_within"].sum()
    assert teacher.details["sampled"] is True and teacher.details["tolerance"] == TOLERANCE
    assert correction.within_student >= correction.within_teacher
    assert teacher.mean_rmse < 0.01 and teacher.n_folds == 5  # the proven function: libvmaf's score of each frame
    said = "the student is the teacher's function:" if correction.is_teacher else "the teacher's function with "
    assert (FLOOR_LABEL, correction.label) in closing_rows(out, verdict) and correction.label.startswith(said)
    assert FLOOR_LABEL in res.stdout  # the closing summary printed
    seeds = [json.loads((RunDir(out).loso_seed(s)).read_text())["correction"] for s in verdict.seeds]
    assert all(s == correction.to_json() for s in seeds)


def test_the_export_is_the_teachers_function_plus_the_correction_kept(small_box: tuple[Path, object],
                                                                      ffmpeg: str) -> None:
    out = small_box[0]
    verdict, run = verdict_of(out), RunDir(out)
    assert verdict.correction is not None
    shard = pd.read_parquet(run.shard)
    means = shard.groupby(["src", "encoder", "cq", "enc_height"])[list(FEATURES)].mean().reset_index()
    model = parse_model(builtin_model_text(Path(ffmpeg), TEACHER_MODEL), TEACHER_MODEL)
    teacher = model.predict(means[list(FEATURES)].to_numpy(dtype=np.float64))
    path = run.exports / "vmaftune" / "fr_regressor_v2.onnx"
    kept = {t.name: numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer}
    assert float(kept["correction_scale"]) == verdict.correction.scale
    if verdict.correction.scale == 0.0:  # no network trained to be multiplied by 0: its output layer as it starts
        last = max((k for k in kept if k[0] == "w" and k[1:].isdigit()), key=lambda k: int(k[1:]))
        assert not np.asarray(kept[last]).any()
    graph = session(path)
    rows = v2_rows(means[list(FEATURES)].to_numpy(dtype=np.float32), means["encoder"].to_numpy(),
                   means["cq"].to_numpy(), (10, 51))
    (predicted,) = graph.run(None, {graph.get_inputs()[0].name: rows})
    assert ("s_factor" in kept) == (verdict.correction.spread is not None and verdict.correction.spread.kept)
    if "s_factor" in kept:
        assert float(kept["s_factor"]) == verdict.correction.spread.factor
    if verdict.correction.is_teacher:  # the model is the teacher's function itself
        assert np.abs(np.asarray(predicted) - teacher).max() < 1e-4
    else:  # the teacher's function, its clip under a spread and a correction kept, which moves no encode far
        assert 0 < np.abs(np.asarray(predicted) - teacher).max() < 10
