"""The network's description, without torch: an `Arch` names the layers every form of the model walks (`layers()`)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

from kit.model.contract import CODEC_DIM, N_FEATURES, input_features
from kit.model.recipe import ARCH, FRAMES, TEACHER, TrainConfig


@dataclass(frozen=True)
class Layer:
    name: str  # hidden1, hidden2, ..., output
    fan_in: int
    fan_out: int
    activation: str | None  # "gelu" | "relu" after a hidden layer; None after the output
    dropout: float  # after the activation, while training

    @property
    def drops(self) -> bool:
        return self.activation is not None and self.dropout > 0


@dataclass(frozen=True)
class Arch:
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


def fr_regressor_v2(config: TrainConfig, recipe: str = FRAMES) -> Arch:
    """The ensemble's member: features + codec block -> 64 -> 64 -> 1, GELU, dropout (none by the teacher recipe)."""
    dropout = 0.0 if recipe == TEACHER else config.dropout
    return Arch(ARCH, (config.hidden, config.hidden), "gelu", dropout, True, len(input_features(config.inputs)))


# seed document 000's baselines, on the features alone (7 and 257 parameters on the canonical six)
LINEAR = Arch("linear", (), "relu", 0.0, False)
MLP_SMALL = Arch("mlp_small", (16, 8), "relu", 0.0, False)


def baseline_archs(config: TrainConfig) -> tuple[Arch, ...]:
    """LINEAR and MLP_SMALL on the input set the ensemble trains on."""
    return tuple(replace(a, n_features=len(input_features(config.inputs))) for a in (LINEAR, MLP_SMALL))
