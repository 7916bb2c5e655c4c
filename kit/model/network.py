"""The network, described once: an `Arch` names its layers, and every form of the
model is built from that description.

fr_regressor_v2 (seed document 001):

    input   six z-scored libvmaf features (ten with --inputs canonical6+v1) + the codec block (kit.model.features)
    hidden1 Linear(in -> 64), GELU, Dropout 0.1
    hidden2 Linear(64 -> 64), GELU, Dropout 0.1
    output  Linear(64 -> 1)

The three forms: `FrRegressor`, one member as a torch module with its scaler
baked in (what is exported and compared against ONNX); the batched trainer's
stacked weights (kit.model.stacked), one tensor per layer slot holding every
member; and the ONNX graph (kit.model.export). All three walk `Arch.layers()`,
so a slot is always found by its name.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import nn

from kit.model.contract import input_features, log_columns
from kit.model.features import CODEC_DIM, N_FEATURES
from kit.model.recipe import ARCH, TrainConfig


@dataclass(frozen=True)
class Layer:
    """One linear layer slot: its name, shape and what follows it."""

    name: str  # hidden1, hidden2, ..., output
    fan_in: int
    fan_out: int
    activation: str | None  # "gelu" | "relu" after a hidden layer; None after the output
    dropout: float  # after the activation, while training

    @property
    def drops(self) -> bool:
        """Whether training drops units after this layer (a hidden layer with dropout > 0)."""
        return self.activation is not None and self.dropout > 0


@dataclass(frozen=True)
class Arch:
    """A plain MLP: hidden widths, activation, dropout, and whether it sees the codec block."""

    name: str
    hidden: tuple[int, ...]
    activation: str  # "gelu" | "relu"
    dropout: float
    use_codec: bool
    n_features: int = N_FEATURES  # the input set's width (kit.model.contract.INPUT_SETS)

    @property
    def in_dim(self) -> int:
        return self.n_features + (CODEC_DIM if self.use_codec else 0)

    def layers(self) -> tuple[Layer, ...]:
        widths = [self.in_dim, *self.hidden, 1]
        names = [*(f"hidden{i + 1}" for i in range(len(self.hidden))), "output"]
        return tuple(Layer(name, fi, fo, None if name == "output" else self.activation,
                           0.0 if name == "output" else self.dropout)
                     for name, (fi, fo) in zip(names, itertools.pairwise(widths), strict=True))

    @property
    def params(self) -> int:
        return sum(layer.fan_in * layer.fan_out + layer.fan_out for layer in self.layers())


def fr_regressor_v2(config: TrainConfig) -> Arch:
    """The ensemble's member: features + codec block -> 64 -> 64 -> 1, GELU, dropout."""
    return Arch(ARCH, (config.hidden, config.hidden), "gelu", config.dropout, True,
                len(input_features(config.inputs)))


# seed document 000's baselines: the six features only (of the canonical set: 6 -> 1, 7 parameters; 6 -> 16 -> 8
# -> 1 ReLU, 257 parameters); with another input set, its features
LINEAR = Arch("linear", (), "relu", 0.0, False)
MLP_SMALL = Arch("mlp_small", (16, 8), "relu", 0.0, False)


def baseline_archs(config: TrainConfig) -> tuple[Arch, ...]:
    """LINEAR and MLP_SMALL on the input set the ensemble trains on."""
    n = len(input_features(config.inputs))
    return tuple(Arch(a.name, a.hidden, a.activation, a.dropout, a.use_codec, n) for a in (LINEAR, MLP_SMALL))

ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU}


class FrRegressor(nn.Module):
    """One member with its feature scaler baked in: the exported form, checked against ONNX."""

    mean: torch.Tensor  # (1, F) feature means of the training rows (in model space), a buffer
    std: torch.Tensor  # (1, F) their standard deviations
    logged: torch.Tensor  # (1, F) 1.0 where a raw feature enters as log(1 + x) (kit.model.features.model_space)

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, arch: Arch) -> None:
        super().__init__()
        if not arch.use_codec:
            raise ValueError(f"{arch.name} takes no codec block; only codec-aware members are exported")
        self.arch = arch
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
        return h.squeeze(1)
