"""An --incumbent is run on the corpus before any training: one score per row ([N], or [N, 1] squeezed),
finite, not one constant. Anything else is refused at once, naming the model file (exit 2)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest
import torch
from onnx import TensorProto, helper

from kit.errors import InputError
from kit.infra.tree import Tree
from kit.model.arch import fr_regressor_v2
from kit.model.export import INPUT_CODEC, INPUT_FEATURES, OUTPUT, build_onnx
from kit.model.features import CODEC_DIM, N_FEATURES, design_matrix
from kit.model.incumbent import TIMEOUT_ENV, incumbent_loso, incumbent_scores
from kit.model.network import FrRegressor
from kit.model.recipe import TrainConfig
from kit.rundir import ENSEMBLE_MANIFEST
from tests import pace
from tests.conftest import synthetic_corpus
from tests.training import make_folds, onnx_predict


def graph_for(kind: str) -> onnx.GraphProto:
    """A model over (features, codec) whose output is a column, a vector, NaN, a constant or two columns, or
    one that never answers (a loop)."""
    if kind == "loop":
        return hostile_loop_graph()
    w = helper.make_tensor("w", TensorProto.FLOAT, [N_FEATURES, 1], [10.0] * N_FEATURES)
    w2 = helper.make_tensor("w2", TensorProto.FLOAT, [N_FEATURES, 2], [10.0] * N_FEATURES * 2)
    zero = helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])
    fifty = helper.make_tensor("fifty", TensorProto.FLOAT, [], [50.0])
    nan = helper.make_tensor("nan", TensorProto.FLOAT, [], [float("nan")])
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    nodes = {
        "column": [helper.make_node("MatMul", [INPUT_FEATURES, "w"], [OUTPUT])],
        "vector": [helper.make_node("MatMul", [INPUT_FEATURES, "w"], ["col"]),
                   helper.make_node("Squeeze", ["col", "axes"], [OUTPUT])],
        "nan": [helper.make_node("MatMul", [INPUT_FEATURES, "w"], ["col"]),
                helper.make_node("Mul", ["col", "nan"], [OUTPUT])],
        "constant": [helper.make_node("MatMul", [INPUT_FEATURES, "w"], ["col"]),
                     helper.make_node("Mul", ["col", "zero"], ["z"]),
                     helper.make_node("Add", ["z", "fifty"], [OUTPUT])],
        "two-columns": [helper.make_node("MatMul", [INPUT_FEATURES, "w2"], [OUTPUT])],
    }[kind]
    inputs = [helper.make_tensor_value_info(INPUT_FEATURES, TensorProto.FLOAT, ["n", N_FEATURES]),
              helper.make_tensor_value_info(INPUT_CODEC, TensorProto.FLOAT, ["n", CODEC_DIM])]
    output = helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, None)
    return helper.make_graph(nodes, kind, inputs, [output], [w, w2, zero, fifty, nan, axes])


def hostile_loop_graph(trips: int = 10**13) -> onnx.GraphProto:
    """A valid model with the kit's inputs whose output waits on a Loop of `trips` iterations (years)."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Add", ["v_in", "one"], ["v_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_in", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [1])],
        [helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])])
    consts = [helper.make_tensor("trips", TensorProto.INT64, [], [trips]),
              helper.make_tensor("go", TensorProto.BOOL, [], [True]),
              helper.make_tensor("v0", TensorProto.FLOAT, [1], [0.0]),
              helper.make_tensor("w", TensorProto.FLOAT, [N_FEATURES, 1], [10.0] * N_FEATURES)]
    nodes = [helper.make_node("Loop", ["trips", "go", "v0"], ["v_end"], body=body),
             helper.make_node("MatMul", [INPUT_FEATURES, "w"], ["col"]),
             helper.make_node("Add", ["col", "v_end"], [OUTPUT])]
    inputs = [helper.make_tensor_value_info(INPUT_FEATURES, TensorProto.FLOAT, ["n", N_FEATURES]),
              helper.make_tensor_value_info(INPUT_CODEC, TensorProto.FLOAT, ["n", CODEC_DIM])]
    return helper.make_graph(nodes, "loop", inputs, [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, None)],
                             consts)


def bundle(folder: Path, kind: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    model = helper.make_model(graph_for(kind), opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, folder / "m0.onnx")
    member = {"seed": 0, "onnx": "m0.onnx", "sidecar": "m0.json", "sha256": "", "parity_max_abs_diff": 0.0}
    (folder / ENSEMBLE_MANIFEST).write_text(json.dumps({"members": [member]}))
    return folder


@pytest.fixture(scope="module")
def corpus() -> pd.DataFrame:
    return synthetic_corpus(n_src=4, rows_per_src=40)


@pytest.mark.parametrize("kind", ["column", "vector"])
def test_one_score_per_row_as_n_or_n_by_1_is_accepted(kind: str, corpus: pd.DataFrame, tmp_path: Path,
                                                      tree: Tree) -> None:
    feats, codec = design_matrix(corpus)
    scored = incumbent_scores(tree, bundle(tmp_path / kind, kind), feats, codec, tmp_path / "scratch")
    assert scored[2].shape == (len(corpus),)
    np.testing.assert_allclose(scored[2], feats.astype(np.float64).sum(axis=1) * 10, rtol=1e-5)
    result = incumbent_loso(scored, corpus["vmaf"].to_numpy(dtype="float64"), make_folds(corpus))
    assert result.n_folds == 4 and np.isfinite(result.mean_plcc)


@pytest.mark.parametrize(("kind", "needle"), [("nan", "NaN or infinity for 160 of 160 rows"),
                                              ("constant", "outputs the constant 50"),
                                              ("two-columns", "output of shape [160, 2]")])
def test_a_broken_incumbent_is_refused_naming_the_file(kind: str, needle: str, corpus: pd.DataFrame,
                                                       tmp_path: Path, tree: Tree) -> None:
    feats, codec = design_matrix(corpus)
    with pytest.raises(InputError) as err:
        incumbent_scores(tree, bundle(tmp_path / kind, kind), feats, codec, tmp_path / "scratch")
    assert needle in err.value.message and str(tmp_path / kind / "m0.onnx") in err.value.message
    assert "--incumbent" in err.value.hint


def test_a_model_that_never_ends_is_stopped_at_the_timeout_and_named(corpus: pd.DataFrame, tmp_path: Path, tree: Tree,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A Loop of 10^13 iterations once kept the kit at 100 % CPU for ever, deaf to Ctrl-C: it runs in a child
    process now, which the timeout stops (exit 2 for a run: an InputError naming the model)."""
    feats, codec = design_matrix(corpus)
    monkeypatch.setenv(TIMEOUT_ENV, "3")
    scratch = tmp_path / "scratch"
    with pace.ticking() as clock, pytest.raises(InputError) as err:
        incumbent_scores(tree, bundle(tmp_path / "loop", "loop"), feats, codec, scratch)
    assert clock.seconds() < 30  # the box's own time (tests/pace.py)
    assert err.value.message == (f"--incumbent model {tmp_path / 'loop' / 'm0.onnx'}: not finished after 3 s on "
                                 f"{len(corpus)} rows; it was stopped")
    assert TIMEOUT_ENV in err.value.hint and "--incumbent" in err.value.hint
    assert not scratch.exists() and not processes_mentioning(str(scratch))


def test_a_model_process_killed_from_outside_is_named(corpus: pd.DataFrame, tmp_path: Path, tree: Tree) -> None:
    """The OOM killer (here: a SIGKILL to the child alone) ends the model's process: refused, naming the model."""
    feats, codec = design_matrix(corpus)
    scratch = tmp_path / "scratch"

    def kill_the_child() -> None:
        limit = pace.Deadline(60)
        while not limit.expired():
            with contextlib.suppress(OSError, ValueError):
                if json.loads((scratch / "state.json").read_text())["stage"] == "run":
                    for pid in processes_mentioning(str(scratch)):
                        os.kill(pid, signal.SIGKILL)
                    return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_the_child)
    killer.start()
    try:
        with pytest.raises(InputError) as err:
            incumbent_scores(tree, bundle(tmp_path / "loop", "loop"), feats, codec, scratch)
    finally:
        killer.join()
    assert err.value.message == (f"--incumbent model {tmp_path / 'loop' / 'm0.onnx'}: the process running it ended "
                                 "abnormally (killed by signal 9 (SIGKILL))")
    assert "step log" in err.value.hint and not scratch.exists()


@pytest.mark.parametrize("value", ["0", "-5", "soon", "nan", "inf"])
def test_a_bad_incumbent_timeout_is_refused(value: str, corpus: pd.DataFrame, tmp_path: Path, tree: Tree,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    feats, codec = design_matrix(corpus)
    monkeypatch.setenv(TIMEOUT_ENV, value)
    with pytest.raises(InputError, match=f"{TIMEOUT_ENV}='{value}' is not a number above 0"):
        incumbent_scores(tree, bundle(tmp_path / "column", "column"), feats, codec, tmp_path / "scratch")


def test_a_kit_ensemble_scores_exactly_as_in_the_kits_own_process(corpus: pd.DataFrame, tmp_path: Path,
                                                                   tree: Tree) -> None:
    """The child changes where the models run, not what they give: the same float64 figures to the last bit."""
    feats, codec = design_matrix(corpus)
    folder = tmp_path / "exports"
    folder.mkdir()
    members = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = FrRegressor(torch.from_numpy(feats.mean(axis=0)), torch.from_numpy(feats.std(axis=0) + 0.1),
                            fr_regressor_v2(TrainConfig()))
        onnx.save(build_onnx(model, {"seed": str(seed)}), folder / f"m{seed}.onnx")
        members.append({"seed": seed, "onnx": f"m{seed}.onnx", "sidecar": "", "sha256": "",
                        "parity_max_abs_diff": 0.0})
    (folder / ENSEMBLE_MANIFEST).write_text(json.dumps({"members": members}))
    _, _, scores = incumbent_scores(tree, folder, feats, codec, tmp_path / "scratch")
    in_process = np.mean([onnx_predict(folder / f"m{seed}.onnx", feats, codec) for seed in (0, 1)], axis=0)
    assert scores.dtype == np.float64 and scores.tobytes() == in_process.tobytes()


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line holds `text` (a child left running would be one)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found
