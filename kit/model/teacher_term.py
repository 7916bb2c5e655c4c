"""The teacher's function as a part of the student (the teacher recipe's floor, kit.model.floor): kit.media.svr's
arithmetic in torch and as ONNX nodes, in float64 as numpy's (SvrModel.predict: what LOSO's figures and the ceiling
use; float32 would move a score by a few thousandths), the same operations in the same order in both forms (the
export's parity check compares them), the score cast back to float32 at the end."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from kit.media.svr import SvrModel

# the ops these nodes use, beyond the member's: all on libvmaf's ONNX op allowlist (libvmaf/src/dnn/op_allowlist.c)
TEACHER_OPS = frozenset({"Cast", "Gather", "Unsqueeze", "Sub", "Mul", "ReduceSum", "Exp", "MatMul", "Add", "Div", "Max",
                         "Min", "Clip"})


CHUNK_ROWS = 8_192  # rows a TeacherTerm evaluates at once: 80 MiB of kernel for vmaf_v0.6.1's 211 support vectors
ATTRS: dict[str, dict[str, Any]] = {"Gather": {"axis": 1}, "ReduceSum": {"keepdims": 0},
                                    "Cast": {"to": TensorProto.DOUBLE}}  # each op's attributes here


def _f64(values: object) -> torch.Tensor:
    return torch.tensor(np.asarray(values, dtype=np.float64))


class TeacherTerm(nn.Module):
    """An SvrModel evaluated on raw canonical features (N, F), F >= 6 in kit.media.libvmaf.FEATURES order, in float64;
    a float32 score."""

    order: torch.Tensor
    support: torch.Tensor

    def __init__(self, model: SvrModel) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("order", torch.tensor(model.order, dtype=torch.long))
        self.register_buffer("slopes", _f64(model.slopes[1:]))
        self.register_buffer("intercepts", _f64(model.intercepts[1:]))
        self.register_buffer("support", _f64(model.support).unsqueeze(0))  # (1, S, 6)
        self.register_buffer("coefs", _f64(model.coefs))
        self.register_buffer("neg_gamma", _f64(-model.gamma))
        self.register_buffer("rho", _f64(model.rho))
        self.register_buffer("out_intercept", _f64(model.intercepts[0]))
        self.register_buffer("out_slope", _f64(model.slopes[0]))
        self.register_buffer("poly", _f64(model.transform or (0.0, 0.0, 0.0)))
        self.register_buffer("clip", _f64(model.clip or (0.0, 0.0)))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """A float32 score per row, CHUNK_ROWS rows at a time (a row's kernel is support vectors x 6 in float64)."""
        return torch.cat([self.scores(features[at : at + CHUNK_ROWS])
                          for at in range(0, len(features), CHUNK_ROWS)]) if len(features) else features[:, 0]

    def scores(self, features: torch.Tensor) -> torch.Tensor:
        m = self.model
        x = features.index_select(1, self.order).double()
        if m.rescale:
            x = x * self.slopes + self.intercepts
        diff = x.unsqueeze(1) - self.support
        kernel = torch.exp((diff * diff).sum(dim=2) * self.neg_gamma)
        score = kernel @ self.coefs - self.rho
        if m.rescale:
            score = (score - self.out_intercept) / self.out_slope
        if m.transform is not None:
            out = self.poly[0] + self.poly[1] * score + self.poly[2] * (score * score)
            out = torch.maximum(out, score) if m.out_gte_in else out
            score = torch.minimum(out, score) if m.out_lte_in else out
        if m.clip is not None:
            score = score.clamp(self.clip[0], self.clip[1])
        return score.float()


def teacher_nodes(model: SvrModel, features: str, output: str) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """TeacherTerm.forward as ONNX nodes, from tensor `features` (N, F) to `output` (N,)."""
    def f64(value: object) -> np.ndarray:
        return np.asarray(value, dtype=np.float64)

    inits = {"t_order": np.asarray(model.order, dtype=np.int64), "t_support": f64(model.support)[None],
             "t_coefs": f64(model.coefs), "t_neg_gamma": f64(-model.gamma), "t_rho": f64(model.rho),
             "t_axis1": np.array([1], dtype=np.int64), "t_axis2": np.array([2], dtype=np.int64)}
    nodes: list[tuple[str, list[str], str]] = [("Gather", [features, "t_order"], "t_x32"), ("Cast", ["t_x32"], "t_x")]
    x = "t_x"
    if model.rescale:
        inits.update(t_slopes=f64(model.slopes[1:]), t_intercepts=f64(model.intercepts[1:]))
        nodes += [("Mul", [x, "t_slopes"], "t_xs"), ("Add", ["t_xs", "t_intercepts"], "t_xr")]
        x = "t_xr"
    nodes += [("Unsqueeze", [x, "t_axis1"], "t_x3"), ("Sub", ["t_x3", "t_support"], "t_diff"),
              ("Mul", ["t_diff", "t_diff"], "t_sq"), ("ReduceSum", ["t_sq", "t_axis2"], "t_dist"),
              ("Mul", ["t_dist", "t_neg_gamma"], "t_arg"), ("Exp", ["t_arg"], "t_kernel"),
              ("MatMul", ["t_kernel", "t_coefs"], "t_dot"), ("Sub", ["t_dot", "t_rho"], "t_score")]
    score = "t_score"
    if model.rescale:
        inits.update(t_out_intercept=f64(model.intercepts[0]), t_out_slope=f64(model.slopes[0]))
        nodes += [("Sub", [score, "t_out_intercept"], "t_centred"), ("Div", ["t_centred", "t_out_slope"], "t_raw")]
        score = "t_raw"
    if model.transform is not None:
        p0, p1, p2 = model.transform
        inits.update(t_p0=f64(p0), t_p1=f64(p1), t_p2=f64(p2))
        nodes += [("Mul", ["t_p1", score], "t_lin"), ("Add", ["t_p0", "t_lin"], "t_aff"),
                  ("Mul", [score, score], "t_s2"), ("Mul", ["t_p2", "t_s2"], "t_quad"),
                  ("Add", ["t_aff", "t_quad"], "t_poly")]
        out = "t_poly"
        if model.out_gte_in:
            nodes.append(("Max", [out, score], "t_gte"))
            out = "t_gte"
        if model.out_lte_in:
            nodes.append(("Min", [out, score], "t_lte"))
            out = "t_lte"
        score = out
    made = [helper.make_node(op, inputs, [out], **ATTRS.get(op, {})) for op, inputs, out in nodes]
    if model.clip is not None:
        inits.update(t_clip_lo=f64(model.clip[0]), t_clip_hi=f64(model.clip[1]))
        made.append(helper.make_node("Clip", [score, "t_clip_lo", "t_clip_hi"], ["t_clipped"]))
        score = "t_clipped"
    made.append(helper.make_node("Cast", [score], [output], to=TensorProto.FLOAT))
    return made, [numpy_helper.from_array(v, k) for k, v in inits.items()]
