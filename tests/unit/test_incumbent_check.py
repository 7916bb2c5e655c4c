"""An --incumbent is run on the corpus before any training: one score per row ([N], or [N, 1] squeezed),
finite, not one constant. Anything else is refused at once, naming the model file (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest
from onnx import TensorProto, helper

from kit.errors import InputError
from kit.model.export import INPUT_CODEC, INPUT_FEATURES, OUTPUT
from kit.model.features import CODEC_DIM, N_FEATURES, design_matrix
from kit.model.incumbent import incumbent_loso, incumbent_scores
from kit.model.loso import make_folds
from kit.rundir import ENSEMBLE_MANIFEST
from tests.conftest import synthetic_corpus


def graph_for(kind: str) -> onnx.GraphProto:
    """A model over (features, codec) whose output is a column, a vector, NaN, a constant or two columns."""
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
def test_one_score_per_row_as_n_or_n_by_1_is_accepted(kind: str, corpus: pd.DataFrame, tmp_path: Path) -> None:
    feats, codec = design_matrix(corpus)
    scored = incumbent_scores(bundle(tmp_path / kind, kind), feats, codec)
    assert scored[2].shape == (len(corpus),)
    np.testing.assert_allclose(scored[2], feats.astype(np.float64).sum(axis=1) * 10, rtol=1e-5)
    result = incumbent_loso(scored, corpus["vmaf"].to_numpy(dtype="float64"), make_folds(corpus))
    assert result.n_folds == 4 and np.isfinite(result.mean_plcc)


@pytest.mark.parametrize(("kind", "needle"), [("nan", "NaN or infinity for 160 of 160 rows"),
                                              ("constant", "outputs the constant 50"),
                                              ("two-columns", "output of shape [160, 2]")])
def test_a_broken_incumbent_is_refused_naming_the_file(kind: str, needle: str, corpus: pd.DataFrame,
                                                       tmp_path: Path) -> None:
    feats, codec = design_matrix(corpus)
    with pytest.raises(InputError) as err:
        incumbent_scores(bundle(tmp_path / kind, kind), feats, codec)
    assert needle in err.value.message and str(tmp_path / kind / "m0.onnx") in err.value.message
    assert "--incumbent" in err.value.hint
