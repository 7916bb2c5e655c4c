"""`FrRegressor`: one member as a torch module built from its `Arch`, scaler inside, and by the teacher recipe the
teacher's function it corrects (kit.model.floor); the ONNX graph is checked by it."""

from __future__ import annotations

import torch
from torch import nn

from kit.media.svr import SvrModel
from kit.model.arch import Arch
from kit.model.contract import log_columns
from kit.model.spread import Spread
from kit.model.teacher_term import TeacherTerm

ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU}


class FrRegressor(nn.Module):
    mean: torch.Tensor  # (1, F) feature means of the training rows (in model space), a buffer
    std: torch.Tensor  # (1, F) their standard deviations
    logged: torch.Tensor  # (1, F) 1.0 where a raw feature enters as log(1 + x) (kit.model.features.model_space)

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, arch: Arch, teacher: SvrModel | None = None,
                 scale: float = 1.0, spread: Spread | None = None) -> None:
        super().__init__()
        self.arch = arch
        # the teacher recipe's student: the teacher's function (its clip an expectation under `spread` where one is
        # kept, kit.model.spread) plus `scale` times the network (its correction)
        self.teacher = TeacherTerm(teacher, spread) if teacher is not None else None
        self.scale = scale
        self.register_buffer("mean", mean.reshape(1, arch.n_features).float())
        self.register_buffer("std", std.reshape(1, arch.n_features).float())
        self.register_buffer("logged", torch.tensor([log_columns(arch.n_features)], dtype=torch.float32))
        self.slots = nn.ModuleDict({layer.name: nn.Linear(layer.fan_in, layer.fan_out) for layer in arch.layers()})
        self.after = nn.ModuleDict({
            layer.name: nn.Sequential(ACTIVATIONS[layer.activation](), nn.Dropout(layer.dropout))
            for layer in arch.layers() if layer.activation is not None})

    def slot(self, name: str) -> nn.Linear:
        linear = self.slots[name]
        assert isinstance(linear, nn.Linear)
        return linear

    def forward(self, features: torch.Tensor, codec: torch.Tensor) -> torch.Tensor:
        spaced = features * (1 - self.logged) + torch.log1p((features * self.logged).clamp(min=0))
        h = torch.cat([(spaced - self.mean) / self.std, codec], dim=1)
        for layer in self.arch.layers():
            h = self.slots[layer.name](h)
            if layer.name in self.after:
                h = self.after[layer.name](h)
        out = h.squeeze(1)
        return out if self.teacher is None else self.teacher(features, codec) + torch.tensor(self.scale) * out
