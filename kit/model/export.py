"""One ensemble member as a single-file ONNX graph, scaler inside, written op by op (byte-for-byte reproducible)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from kit import __version__
from kit.model.contract import CODEC_DIM
from kit.model.network import FrRegressor
from kit.model.recipe import ARCH
from kit.model.runtime import INPUT_CODEC, INPUT_FEATURES, OUTPUT, predict, session
from kit.model.teacher_term import teacher_nodes

OPSET = 17
PARITY_ATOL = 1e-4


def _array(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32)


def member_graph(model: FrRegressor, features: str = INPUT_FEATURES, codec: str = INPUT_CODEC,
                 output: str = OUTPUT) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """The member's nodes and initialisers, from tensors `features` and `codec` to `output` (kit.bundle.vmaftune)."""
    layers = model.arch.layers()
    if any(layer.activation not in (None, "gelu") for layer in layers):
        raise ValueError(f"{model.arch.name}: only GELU members are exported")
    inits = [numpy_helper.from_array(array, name) for name, array in (
        ("scaler_mean", _array(model.mean).reshape(1, model.arch.n_features)),
        ("scaler_std", _array(model.std).reshape(1, model.arch.n_features)), ("logged", _array(model.logged)),
        ("sqrt2", np.array(math.sqrt(2.0), np.float32)), ("one", np.array(1.0, np.float32)),
        ("half", np.array(0.5, np.float32)),
        ("squeeze_axes", np.array([1], dtype=np.int64)))]
    # the motion columns as log(1 + max(x, 0)), the others as they come (kit.model.features.model_space), z-scored
    nodes = [helper.make_node(op, inputs, [out]) for op, inputs, out in (
        ("Sub", ["one", "logged"], "kept"), ("Mul", [features, "kept"], "plain"),
        ("Mul", [features, "logged"], "motion"), ("Relu", ["motion"], "motion_pos"),
        ("Add", ["motion_pos", "one"], "motion_1p"), ("Log", ["motion_1p"], "motion_log"),
        ("Add", ["plain", "motion_log"], "spaced"), ("Sub", ["spaced", "scaler_mean"], "centred"),
        ("Div", ["centred", "scaler_std"], "z"))]
    nodes.append(helper.make_node("Concat", ["z", codec], ["x"], axis=1))
    h = "x"
    for k, layer in enumerate(layers, start=1):  # initialisers w1, b1, w2, ...: layer k's weights
        linear = model.slot(layer.name)
        inits += [numpy_helper.from_array(_array(t), f"{n}{k}") for n, t in (("w", linear.weight), ("b", linear.bias))]
        nodes.append(helper.make_node("Gemm", [h, f"w{k}", f"b{k}"], [f"l{k}"], transB=1))
        h = f"l{k}"
        if layer.activation == "gelu":  # exact GELU as torch computes it: 0.5 * x * (1 + erf(x / sqrt(2)))
            x, h = h, f"h{k}"
            nodes += [helper.make_node(op, inputs, [out]) for op, inputs, out in (
                ("Div", [x, "sqrt2"], f"{h}_d"), ("Erf", [f"{h}_d"], f"{h}_e"), ("Add", [f"{h}_e", "one"], f"{h}_a"),
                ("Mul", [x, f"{h}_a"], f"{h}_m"), ("Mul", [f"{h}_m", "half"], h))]
    if model.teacher is None:
        nodes.append(helper.make_node("Squeeze", [h, "squeeze_axes"], [output]))
        return nodes, inits
    # the teacher recipe's student: the teacher's function plus the network scaled (kit.model.floor)
    told, known = teacher_nodes(model.teacher.model, features, "teacher_score", model.teacher.spread, codec)
    inits += [*known, numpy_helper.from_array(np.array(model.scale, np.float32), "correction_scale")]
    nodes += [helper.make_node("Squeeze", [h, "squeeze_axes"], ["correction_raw"]),
              helper.make_node("Mul", ["correction_scale", "correction_raw"], ["correction"]), *told,
              helper.make_node("Add", ["teacher_score", "correction"], [output])]
    return nodes, inits


def finish_model(graph: onnx.GraphProto, metadata: dict[str, str]) -> onnx.ModelProto:
    """A single-file model at the kit's opset, metadata sorted (stable bytes), checked by onnx."""
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="ensemble-kit", producer_version=__version__)
    proto.ir_version = 8
    helper.set_model_props(proto, dict(sorted(metadata.items())))
    onnx.checker.check_model(proto)
    return proto


def build_onnx(model: FrRegressor, metadata: dict[str, str]) -> onnx.ModelProto:
    """The member with the kit's own two inputs: features[N, F] and codec[N, CODEC_DIM]."""
    nodes, inits = member_graph(model)
    return finish_model(helper.make_graph(
        nodes, ARCH,
        [helper.make_tensor_value_info(INPUT_FEATURES, TensorProto.FLOAT, ["batch", model.arch.n_features]),
         helper.make_tensor_value_info(INPUT_CODEC, TensorProto.FLOAT, ["batch", CODEC_DIM])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch"])],
        initializer=inits,
    ), metadata)


def parity(model: FrRegressor, path: Path, feats: np.ndarray, codec: np.ndarray) -> float:
    """Max |onnxruntime - torch| over the given rows."""
    with torch.no_grad():
        ref = model(torch.from_numpy(feats.astype(np.float32)), torch.from_numpy(codec.astype(np.float32)))
    return float(np.max(np.abs(predict(session(path), feats, codec) - ref.numpy().astype(np.float64))))
