"""A training step of a stack of members by either of kit.model.kernels' two paths, which give the same bits."""

from __future__ import annotations

import torch

from kit.model.kernels import FusedAdam, TorchAdam
from kit.model.stacked import StackedMLP, Trace


class HandStep:
    """The fast path (kit.model.kernels): the written-out backward pass and the fused Adam called directly."""

    def __init__(self, net: StackedMLP, lr: float, weight_decay: float) -> None:
        self.net, self.adam = net, FusedAdam(net.params, lr, weight_decay)

    def set_lr(self, lr: float) -> None:
        self.adam.lr = lr

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, masks: list[torch.Tensor], target: torch.Tensor, scale: float) -> torch.Tensor:
        """One step on `x` (M, rows, in), d(loss)/d(output) = error * `scale`; returns the errors before the step."""
        trace: list[Trace] = []
        err = self.net.forward(x, masks, trace=trace) - target
        self.adam.step(self.net.gradients(trace, err * scale))
        return err


class AutogradStep:
    """The public path (kit.model.kernels): autograd and torch.optim.Adam, the same bits as HandStep's."""

    def __init__(self, net: StackedMLP, lr: float, weight_decay: float) -> None:
        self.net, self.adam = net, TorchAdam(net.params, lr, weight_decay)

    def set_lr(self, lr: float) -> None:
        self.adam.set_lr(lr)

    def __call__(self, x: torch.Tensor, masks: list[torch.Tensor], target: torch.Tensor, scale: float) -> torch.Tensor:
        params = self.net.params
        with torch.enable_grad():
            for p in params:
                p.requires_grad_(True)
            err = self.net.forward(x, masks) - target
            err.backward(err.detach() * scale)
        self.adam.step()
        for p in params:
            p.grad = None
            p.requires_grad_(False)
        return err.detach()
