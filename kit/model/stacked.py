"""The stacked network: M members of one architecture, a tensor per layer slot, so a layer is one batched matmul that
computes each member from its own weights alone; `gradients` is the backward pass written out (autograd's bits)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from kit.media.svr import SvrModel
from kit.model.arch import Arch, Layer
from kit.model.kernels import ACTIVATION_GRADS
from kit.model.network import FrRegressor
from kit.model.spread import Spread

ACTIVATION_FNS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"gelu": F.gelu, "relu": F.relu}


@dataclass
class Trace:
    """What one layer saw on the way forward, for the way back."""

    inp: torch.Tensor  # its input (M, rows, fan_in)
    pre: torch.Tensor | None = None  # its output before the activation
    mask: torch.Tensor | None = None  # the dropout mask after the activation


@dataclass(frozen=True)
class Slot:
    """One layer slot of every member: weights (M, in, out) and biases (M, 1, out), trained together."""

    layer: Layer
    weight: torch.Tensor
    bias: torch.Tensor


class StackedMLP:
    def __init__(self, seeds: list[int], arch: Arch) -> None:
        layers = arch.layers()
        drawn = []  # seed by seed, its layers in order, all drawn from the seed's own generator
        for seed in seeds:
            gen = torch.Generator().manual_seed(seed)
            for layer in layers:  # nn.Linear's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias
                bound = 1.0 / math.sqrt(layer.fan_in)
                w = (torch.rand(layer.fan_out, layer.fan_in, generator=gen) * 2 - 1) * bound
                drawn.append((w.t().contiguous(), (torch.rand(1, layer.fan_out, generator=gen) * 2 - 1) * bound))
        n = len(layers)
        self.slots = [Slot(layer, torch.stack([w for w, _ in drawn[k::n]]), torch.stack([b for _, b in drawn[k::n]]))
                      for k, layer in enumerate(layers)]
        self.arch = arch

    @classmethod
    def of_slots(cls, arch: Arch, slots: list[Slot]) -> StackedMLP:
        net = cls.__new__(cls)
        net.arch, net.slots = arch, slots
        return net

    @classmethod
    def joined(cls, parts: list[StackedMLP]) -> StackedMLP:
        """One stack of the parts' members, in the parts' order."""
        return cls.of_slots(parts[0].arch, [Slot(slot.layer, torch.cat([p.slots[k].weight for p in parts]),
                                                 torch.cat([p.slots[k].bias for p in parts]))
                                            for k, slot in enumerate(parts[0].slots)])

    @property
    def params(self) -> list[torch.Tensor]:
        """Every trainable tensor, layer by layer (weight, bias): what the optimiser updates."""
        return [t for s in self.slots for t in (s.weight, s.bias)]

    def forward(self, h: torch.Tensor, masks: list[torch.Tensor] | None = None, members: slice | None = None,
                trace: list[Trace] | None = None) -> torch.Tensor:
        """Outputs (M, rows) for inputs (M, rows, in) of the `members` slice; `masks`: per layer that drops, its scaled
        keep-mask (none: dropout off, as exported); `trace` collects what each layer saw, for `gradients`."""
        pending = iter(masks or ())
        for s in self.slots:
            w, b = (s.weight, s.bias) if members is None else (s.weight[members], s.bias[members])
            seen = Trace(h)
            # the output layer is a dot product per row: 3-5x faster as one than as a batched matmul of width 1
            h = (h * w.transpose(1, 2)).sum(dim=2, keepdim=True) + b if s.layer.fan_out == 1 else torch.baddbmm(b, h, w)
            if s.layer.activation is not None:
                seen.pre = h
                h = ACTIVATION_FNS[s.layer.activation](h)
                if masks is not None and s.layer.drops:
                    seen.mask = next(pending)
                    h = h * seen.mask
            if trace is not None:
                trace.append(seen)
        if next(pending, None) is not None:
            raise ValueError("more dropout masks than layers that drop")
        return h.squeeze(-1)

    def gradients(self, trace: list[Trace], d_out: torch.Tensor) -> list[torch.Tensor]:
        """The gradients, in `params` order, of a loss whose derivative by the outputs is `d_out`, from a trace."""
        g = d_out.unsqueeze(-1)  # (M, rows, 1): the gradient by the last layer's output
        grads: list[torch.Tensor] = []
        for k in reversed(range(len(self.slots))):
            s, seen = self.slots[k], trace[k]
            grads += [g.sum(dim=1, keepdim=True), (seen.inp * g).sum(dim=1, keepdim=True).transpose(1, 2)
                      if s.layer.fan_out == 1 else torch.bmm(seen.inp.transpose(1, 2), g)]
            if k == 0:
                break
            # by the layer's input, then back through the previous layer's dropout and activation
            g = g * s.weight.transpose(1, 2) if s.layer.fan_out == 1 else torch.bmm(g, s.weight.transpose(1, 2))
            before, activation = trace[k - 1], self.slots[k - 1].layer.activation
            assert activation is not None and before.pre is not None, "a hidden layer without its activation"
            if before.mask is not None:
                g = g * before.mask
            g = ACTIVATION_GRADS[activation](g, before.pre)
        return grads[::-1]

    def member(self, m: int, mean: torch.Tensor, std: torch.Tensor, teacher: SvrModel | None = None,
               scale: float = 1.0, spread: Spread | None = None) -> FrRegressor:
        """Member m as a torch module with its scaler (and the teacher's function it corrects, its clip under
        `spread`), each slot copied by name."""
        model = FrRegressor(mean, std, self.arch, teacher, scale, spread)
        with torch.no_grad():
            for s in self.slots:
                model.slot(s.layer.name).weight.copy_(s.weight[m].t())
                model.slot(s.layer.name).bias.copy_(s.bias[m].squeeze(0))
        model.eval()
        return model
