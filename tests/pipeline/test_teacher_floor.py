"""The teacher recipe's floor on a real box (issue 92): five whole public clips of four packages (cartoon, CG, a
camera's movie, a test sequence; bench/bench_boxes.py's `small`), the default run. Held out by content, as vmaf-tune
feeds them, the student keeps at least as many encodes within 1.5 as the teacher's own function of the same mean
features, and no content more than one fewer; the verdict, the baselines and the summary say so in figures recomputed
here from encodes.parquet; the export computes the teacher's function and keeps the factor LOSO chose. The box is
tests/conftest.py's `small_box`, shared with tests/pipeline/test_consumer_recomputed.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest
from onnx import numpy_helper

from kit.bundle.vmaftune import v2_rows
from kit.media.libvmaf import FEATURES, TEACHER_MODEL
from kit.media.svr import builtin_model_text, parse_model
from kit.model.consumer import TOLERANCE
from kit.model.runtime import session
from kit.report.summary import FLOOR_LABEL, closing_rows
from kit.rundir import RunDir
from tests.kitfiles import verdict_of

pytestmark = pytest.mark.slow  # the session's small real box (tests/conftest.py)


def counted(out: Path) -> pd.DataFrame:
    encodes = pd.read_parquet(RunDir(out).encodes)
    return encodes[encodes["counted"].astype(bool)]


def test_held_out_the_student_keeps_as_many_encodes_as_its_teachers_function(small_box: tuple[Path, object]) -> None:
    rows = counted(small_box[0])
    student, floor = rows["miss"] <= TOLERANCE, rows["ceiling_miss"] <= TOLERANCE
    assert len(rows) == 40 and student.sum() >= floor.sum()
    by_content = pd.DataFrame({"student": student, "floor": floor}).groupby(rows["src"]).sum()
    assert (by_content["student"] >= by_content["floor"] - 1).all(), by_content


def test_the_verdict_baselines_and_summary_give_the_figures_of_encodes_parquet(small_box: tuple[Path, object]) -> None:
    out, res = small_box
    rows, verdict = counted(out), verdict_of(out)
    correction, teacher = verdict.correction, verdict.baselines["teacher_fn"]
    assert correction is not None and verdict.recipe == "teacher"
    assert len(correction.fold_scales) == 5 and correction.encodes == len(rows)
    assert correction.within_teacher == (rows["ceiling_miss"] <= TOLERANCE).sum() == teacher.details["encodes_within"]
    assert teacher.details["student_encodes_within"] == (rows["miss"] <= TOLERANCE).sum()
    assert correction.within_student >= correction.within_teacher
    assert teacher.mean_rmse < 0.01 and teacher.n_folds == 5  # the proven function: libvmaf's score of each frame
    said = "the student is the teacher's function:" if correction.is_teacher else "the teacher's function + "
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
    graph = session(path)
    rows = v2_rows(means[list(FEATURES)].to_numpy(dtype=np.float32), means["encoder"].to_numpy(),
                   means["cq"].to_numpy(), (10, 51))
    (predicted,) = graph.run(None, {graph.get_inputs()[0].name: rows})
    if verdict.correction.is_teacher:  # the model is the teacher's function itself
        assert np.abs(np.asarray(predicted) - teacher).max() < 1e-4
    else:  # the teacher's function plus a correction kept, which moves no encode far
        assert 0 < np.abs(np.asarray(predicted) - teacher).max() < 10
