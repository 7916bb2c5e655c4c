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
from kit.model.contract import CODEC_DIM
from kit.model.spread import BLOCK, INV_SQRT_2PI, MOTION, SQRT2, TERMS, Spread

# the ops these nodes use, beyond the member's: all on libvmaf's ONNX op allowlist (libvmaf/src/dnn/op_allowlist.c)
TEACHER_OPS = frozenset({"Cast", "Gather", "Unsqueeze", "Sub", "Mul", "ReduceSum", "Exp", "MatMul", "Add", "Div", "Max",
                         "Min", "Clip", "Erf", "Log"})


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

    def __init__(self, model: SvrModel, spread: Spread | None = None) -> None:
        super().__init__()
        self.model = model
        # the clip as an expectation under a spread (kit.model.spread), where one is kept and the model clips
        self.spread = spread if spread is not None and spread.kept and model.clip is not None else None
        kept = self.spread
        self.register_buffer("spread_coefs", _f64(kept.coefs if kept is not None else [0.0] * len(TERMS)))
        self.register_buffer("spread_factor", _f64(kept.factor if kept is not None else 0.0))
        self.register_buffer("most_motion", _f64(kept.most_motion if kept is not None else 0.0))
        self.register_buffer("most_spread", _f64(kept.most_spread if kept is not None else 0.0))
        self.register_buffer("spread_block", _f64(block_coefs(kept.coefs if kept is not None else [0.0] * len(TERMS))))
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

    def forward(self, features: torch.Tensor, codec: torch.Tensor | None = None) -> torch.Tensor:
        """A float32 score per row, CHUNK_ROWS rows at a time (a row's kernel is support vectors x 6 in float64);
        `codec`: the rows' codec block, whose cq the spread reads (needed where one is kept)."""
        if not len(features):
            return features[:, 0]
        return torch.cat([self.scores(features[at : at + CHUNK_ROWS],
                                      codec[at : at + CHUNK_ROWS] if codec is not None else None)
                          for at in range(0, len(features), CHUNK_ROWS)])

    def expected(self, raw: torch.Tensor, features: torch.Tensor, codec: torch.Tensor) -> torch.Tensor:
        """kit.model.spread.expected_clipped in torch, the same operations in the graph's order."""
        lo, hi = self.clip[0], self.clip[1]
        motion = torch.minimum(torch.log(torch.clamp(features[:, MOTION].double(), min=0.0) + 1.0), self.most_motion)
        level = (torch.clamp(raw, lo, hi) - lo) / (hi - lo)
        c = self.spread_coefs
        middle = level * (1.0 - level)
        block = codec.double() @ self.spread_block
        unit = torch.exp(c[0] + c[1] * codec[:, -1].double() + c[2] * level + c[3] * motion + c[4] * middle + block)
        sigma = torch.minimum(torch.minimum(unit, self.most_spread) * self.spread_factor, self.most_spread)
        a, b = (lo - raw) / sigma, (hi - raw) / sigma

        def cdf(z: torch.Tensor) -> torch.Tensor:
            return (torch.special.erf((z / SQRT2).float()).double() + 1.0) * 0.5

        def pdf(z: torch.Tensor) -> torch.Tensor:
            return torch.exp(z * z * -0.5) * INV_SQRT_2PI

        fa, fb = cdf(a), cdf(b)
        return lo * fa + hi * (1.0 - fb) + raw * (fb - fa) + sigma * (pdf(a) - pdf(b))

    def scores(self, features: torch.Tensor, codec: torch.Tensor | None = None) -> torch.Tensor:
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
        if self.spread is not None:
            assert codec is not None, "a spread reads the codec block's cq"
            return self.expected(score, features, codec).float()
        if m.clip is not None:
            score = score.clamp(self.clip[0], self.clip[1])
        return score.float()


def _node(op: str, inputs: list[str], out: str) -> onnx.NodeProto:
    """A node with its op's attributes (ATTRS); a Cast to an output named `..32` is to float32 (erf's input)."""
    if op == "Cast" and out.endswith("32"):
        return helper.make_node(op, inputs, [out], to=TensorProto.FLOAT)
    return helper.make_node(op, inputs, [out], **ATTRS.get(op, {}))


def teacher_nodes(model: SvrModel, features: str, output: str, spread: Spread | None = None, codec: str = ""
                  ) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """TeacherTerm.forward as ONNX nodes, from tensor `features` (N, F) (and `codec` (N, CODEC_DIM), whose cq a
    spread kept reads) to `output` (N,)."""
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
    if spread is not None and spread.kept and model.clip is not None:
        expected, more = expected_nodes(model.clip, spread, features, codec, score)
        inits.update(more)
        nodes += expected
        made = [_node(op, inputs, out) for op, inputs, out in nodes]
        made.append(helper.make_node("Cast", ["s_expected"], [output], to=TensorProto.FLOAT))
        return made, [numpy_helper.from_array(v, k) for k, v in inits.items()]
    made = [_node(op, inputs, out) for op, inputs, out in nodes]
    if model.clip is not None:
        inits.update(t_clip_lo=f64(model.clip[0]), t_clip_hi=f64(model.clip[1]))
        made.append(helper.make_node("Clip", [score, "t_clip_lo", "t_clip_hi"], ["t_clipped"]))
        score = "t_clipped"
    made.append(helper.make_node("Cast", [score], [output], to=TensorProto.FLOAT))
    return made, [numpy_helper.from_array(v, k) for k, v in inits.items()]


def block_coefs(coefs: list[float]) -> list[float]:
    """The spread's encoder terms as a vector over the codec block (CODEC_DIM): a coefficient per slot, 0 for cq (its
    own term)."""
    return [*coefs[BLOCK:], 0.0]


def expected_nodes(clip: tuple[float, float], spread: Spread, features: str, codec: str, score: str
                   ) -> tuple[list[tuple[str, list[str], str]], dict[str, np.ndarray]]:
    """TeacherTerm.expected as nodes (op, inputs, output), from the unclipped `score` (float64) to `s_expected`."""
    def f64(value: object) -> np.ndarray:
        return np.asarray(value, dtype=np.float64)

    lo, hi = clip
    inits = {"s_lo": f64(lo), "s_hi": f64(hi), "s_width": f64(hi - lo), "s_zero": f64(0.0), "s_one": f64(1.0),
             "s_half": f64(0.5), "s_neg_half": f64(-0.5), "s_sqrt2": f64(SQRT2), "s_inv_sqrt_2pi": f64(INV_SQRT_2PI),
             "s_factor": f64(spread.factor), "s_most_motion": f64(spread.most_motion),
             "s_most_spread": f64(spread.most_spread), "s_cq_at": np.array(CODEC_DIM - 1, dtype=np.int64),
             "s_motion_at": np.array(MOTION, dtype=np.int64), "s_c_block": f64(block_coefs(spread.coefs)),
             **{f"s_c{i}": f64(c) for i, c in enumerate(spread.coefs[:BLOCK])}}
    nodes: list[tuple[str, list[str], str]] = [
        ("Gather", [codec, "s_cq_at"], "s_cq32"), ("Cast", ["s_cq32"], "s_cq"),
        ("Gather", [features, "s_motion_at"], "s_m32"), ("Cast", ["s_m32"], "s_m"), ("Max", ["s_m", "s_zero"], "s_mp"),
        ("Add", ["s_mp", "s_one"], "s_m1"), ("Log", ["s_m1"], "s_logm"),
        ("Min", ["s_logm", "s_most_motion"], "s_motion"),
        ("Clip", [score, "s_lo", "s_hi"], "s_clipped"), ("Sub", ["s_clipped", "s_lo"], "s_above"),
        ("Div", ["s_above", "s_width"], "s_level"),
        ("Mul", ["s_c1", "s_cq"], "s_t1"), ("Add", ["s_c0", "s_t1"], "s_l1"), ("Mul", ["s_c2", "s_level"], "s_t2"),
        ("Add", ["s_l1", "s_t2"], "s_l2"), ("Mul", ["s_c3", "s_motion"], "s_t3"), ("Add", ["s_l2", "s_t3"], "s_l3"),
        ("Sub", ["s_one", "s_level"], "s_rest"), ("Mul", ["s_level", "s_rest"], "s_middle"),
        ("Mul", ["s_c4", "s_middle"], "s_t4"), ("Add", ["s_l3", "s_t4"], "s_l4"),
        ("Cast", [codec], "s_block"), ("MatMul", ["s_block", "s_c_block"], "s_t5"), ("Add", ["s_l4", "s_t5"], "s_log"),
        ("Exp", ["s_log"], "s_unit"), ("Min", ["s_unit", "s_most_spread"], "s_bounded"),
        ("Mul", ["s_bounded", "s_factor"], "s_scaled"), ("Min", ["s_scaled", "s_most_spread"], "s_sigma"),
        ("Sub", ["s_lo", score], "s_dlo"), ("Div", ["s_dlo", "s_sigma"], "s_a"),
        ("Sub", ["s_hi", score], "s_dhi"), ("Div", ["s_dhi", "s_sigma"], "s_b")]
    for z in ("a", "b"):  # the CDF, erf in float32 (onnxruntime has no float64 Erf), and the density
        nodes += [("Div", [f"s_{z}", "s_sqrt2"], f"s_{z}_r"), ("Cast", [f"s_{z}_r"], f"s_{z}_r32"),
                  ("Erf", [f"s_{z}_r32"], f"s_{z}_e32"), ("Cast", [f"s_{z}_e32"], f"s_{z}_e"),
                  ("Add", [f"s_{z}_e", "s_one"], f"s_{z}_e1"), ("Mul", [f"s_{z}_e1", "s_half"], f"s_F{z}"),
                  ("Mul", [f"s_{z}", f"s_{z}"], f"s_{z}_sq"), ("Mul", [f"s_{z}_sq", "s_neg_half"], f"s_{z}_arg"),
                  ("Exp", [f"s_{z}_arg"], f"s_{z}_g"), ("Mul", [f"s_{z}_g", "s_inv_sqrt_2pi"], f"s_d{z}")]
    nodes += [("Mul", ["s_lo", "s_Fa"], "s_p1"), ("Sub", ["s_one", "s_Fb"], "s_above_hi"),
              ("Mul", ["s_hi", "s_above_hi"], "s_p2"), ("Sub", ["s_Fb", "s_Fa"], "s_between"),
              ("Mul", [score, "s_between"], "s_p3"), ("Sub", ["s_da", "s_db"], "s_dd"),
              ("Mul", ["s_sigma", "s_dd"], "s_p4"), ("Add", ["s_p1", "s_p2"], "s_q1"),
              ("Add", ["s_q1", "s_p3"], "s_q2"), ("Add", ["s_q2", "s_p4"], "s_expected")]
    return nodes, inits
