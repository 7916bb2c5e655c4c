"""The trainer's private torch ops, the only module that calls them, each beside the public API that computes the same.

The batched trainer writes its backward pass and its Adam by hand (kit.model.stacked, kit.model.train) and runs
four of torch's private ops there, for speed: autograd's bookkeeping and the optimiser framework cost as much per
step as the arithmetic of a small member (bench/README.md). Private ops may change or go at any torch release,
so each has a public twin here, and the trainer uses the private one only when it passed a self-check at import:

* `torch.ops.aten.gelu_backward(g, x)`: g * (Phi(x) + x * phi(x)), the derivative of exact (erf) GELU at x,
  times g. Twin: `torch.autograd.grad(F.gelu(x), x, g)`, the same bits (autograd runs this very kernel; the
  formula written in tensor ops differs from it by up to 1e-6).
* `torch.ops.aten.threshold_backward(g, x, 0)`: g where x > 0, else 0 (ReLU's derivative; a NaN x passes g).
  Twin: `g.masked_fill(x <= 0, 0)`, the same bits (a selection, no arithmetic).
* `torch._foreach_add_(steps, 1)` and `torch._fused_adam_(params, grads, exp_avgs, exp_avg_sqs, [], steps, lr=,
  beta1=, beta2=, weight_decay=, eps=, amsgrad=False, maximize=False)`: every step counter + 1, then Adam with L2
  weight decay in one pass over each tensor. Twin: `torch.optim.Adam(params, lr, betas, eps, weight_decay,
  fused=True).step()` with each `.grad` set, the same bits (torch.optim calls these two ops itself); where torch
  has no fused Adam, its default one (the same update, different last bits).

Checked with torch 2.13.0 (CPU, AVX2): every twin gives the private op's bits, and a LOSO trained either way gives
byte-identical weights, reports and predictions (tests/unit/test_kernels.py). The twins cost more: GELU's ~4x
the private op (autograd repeats the forward GELU), ReLU's ~5x on mlp_small's shapes (~20 us a layer), Adam's
~15 %; the whole LOSO step ~1.4x the CPU (bench/README.md).

KIT_TRAIN_KERNELS=public forces the public twins (to compare, or to rule the private ops out); unset or `auto`
uses the private ops when they passed the self-check. The choice is in the step log, on the threads line.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from kit.errors import InputError

ENV = "KIT_TRAIN_KERNELS"
CHECKED_WITH = "2.13.0"  # the torch release the twins were compared on
FUSED_PUBLIC = True  # the public Adam: torch.optim.Adam(fused=True) where torch has it (a test turns it off)

GradFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (gradient by the output, input) -> by the input


# --- the activations' derivatives: the private ops, then their public twins -----------------------------------------

def _gelu_backward(grad: torch.Tensor, pre: torch.Tensor) -> torch.Tensor:
    return torch.ops.aten.gelu_backward(grad, pre)


def _relu_backward(grad: torch.Tensor, pre: torch.Tensor) -> torch.Tensor:
    return torch.ops.aten.threshold_backward(grad, pre, 0)


def _gelu_backward_public(grad: torch.Tensor, pre: torch.Tensor) -> torch.Tensor:
    with torch.enable_grad():
        x = pre.detach().requires_grad_(True)
        (by_input,) = torch.autograd.grad(F.gelu(x), x, grad)
    return by_input


def _relu_backward_public(grad: torch.Tensor, pre: torch.Tensor) -> torch.Tensor:
    return grad.masked_fill(pre <= 0, 0)


PRIVATE_GRADS: dict[str, GradFn] = {"gelu": _gelu_backward, "relu": _relu_backward}
PUBLIC_GRADS: dict[str, GradFn] = {"gelu": _gelu_backward_public, "relu": _relu_backward_public}


# --- Adam: the fused kernel called directly, or torch.optim.Adam ----------------------------------------------------

class Adam:
    """Adam with L2 weight decay, as torch.optim.Adam(fused=True) computes it, taking the gradients as a list in
    `params` order (`StackedMLP.gradients`).

    Private: torch's fused kernel called directly, the state kept as torch.optim keeps it, without the optimiser
    framework around it (hooks, profiler records, grouping by device): half the time of element-wise ops, and the
    bits of torch.optim.Adam(fused=True) (a test compares them). Public: torch.optim.Adam itself, fused where torch
    has a fused Adam for these tensors (on the CPU since 2.4), else its default implementation."""

    def __init__(self, params: list[torch.Tensor], lr: float, weight_decay: float,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, kernels: Kernels | None = None) -> None:
        self.params, self.lr, self.weight_decay, self.betas, self.eps = params, lr, weight_decay, betas, eps
        self.private = (kernels or active()).private
        if self.private:
            self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in params]
            self.exp_avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in params]
            self.steps = [torch.zeros((), dtype=torch.float32) for _ in params]  # as torch keeps them
            return
        try:
            self.torch_adam = torch.optim.Adam(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                               fused=FUSED_PUBLIC)
        except (RuntimeError, ValueError, TypeError):  # a torch without a fused Adam for them
            self.torch_adam = torch.optim.Adam(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    @torch.no_grad()
    def step(self, grads: list[torch.Tensor]) -> None:
        """One update of every parameter by its gradient (in `params` order)."""
        assert len(grads) == len(self.params), "a parameter without a gradient"
        if self.private:
            torch._foreach_add_(self.steps, 1)
            torch._fused_adam_(self.params, grads, self.exp_avg, self.exp_avg_sq, [], self.steps,
                               lr=self.lr, beta1=self.betas[0], beta2=self.betas[1], weight_decay=self.weight_decay,
                               eps=self.eps, amsgrad=False, maximize=False)
            return
        for p, g in zip(self.params, grads, strict=True):
            p.grad = g
        self.torch_adam.step()
        for p in self.params:
            p.grad = None


# --- which ones the trainer runs ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Kernels:
    """The ops one training runs: torch's private ones, or their public twins and why."""

    private: bool
    why: str = ""  # why the public twins: KIT_TRAIN_KERNELS, or what the self-check found

    def activation_grad(self, activation: str) -> GradFn:
        """d(activation)/d(input) applied to a gradient: (gradient by its output, its input) -> by its input."""
        return (PRIVATE_GRADS if self.private else PUBLIC_GRADS)[activation]

    def describe(self) -> str:
        """For the step log, after the threads."""
        if self.private:
            return f"training kernels: torch's private ops, self-checked (torch {torch.__version__}; {ENV}=public: " \
                   f"the public API, same figures)"
        return f"training kernels: torch's public API ({self.why})"


def self_check() -> str:
    """'' when each private op exists and computes what the list above says on a small input (vector lanes and a
    tail), else what failed: a missing op, a changed signature or a changed result."""
    x = torch.linspace(-4, 4, 19)
    g = torch.linspace(0.5, 2.0, 19)
    by_erf = torch.tensor([0.5 * (1 + math.erf(v / math.sqrt(2))) + v * math.exp(-v * v / 2) / math.sqrt(2 * math.pi)
                           for v in x.tolist()], dtype=torch.float64)
    start = torch.linspace(-1, 1, 19)
    grad = torch.linspace(0.2, 0.6, 19) * torch.tensor([(-1.0) ** i for i in range(19)])
    decayed = grad.double() + 0.1 * start.double()  # an L2 weight decay of 0.1
    # Adam's first step moves each weight by lr against the sign of its gradient: m / sqrt(v) is g / |g| once
    # both are bias-corrected
    after_one = start.double() - 0.01 * decayed / (decayed.abs() + 1e-8)
    op = "torch.ops.aten.gelu_backward"
    try:
        if not torch.allclose(_gelu_backward(g, x).double(), g.double() * by_erf, rtol=0, atol=1e-5):
            return f"{op} is not GELU's derivative any more"
        op = "torch.ops.aten.threshold_backward"
        if not torch.equal(_relu_backward(g, x), torch.where(x > 0, g, 0.0)):
            return f"{op} is not ReLU's derivative any more"
        op = "torch._fused_adam_"
        adam = Adam([start.clone()], lr=0.01, weight_decay=0.1, kernels=Kernels(True))
        adam.step([grad.clone()])
        if float(adam.steps[0]) != 1 or not torch.allclose(adam.params[0].double(), after_one, rtol=0, atol=1e-6):
            return f"{op} is not Adam's update any more"
    except Exception as err:  # an op gone or its signature changed: the twins take over
        first = str(err).strip().splitlines()[:1]
        return f"{op}: {type(err).__name__}" + "".join(f": {line}" for line in first)
    return ""


PRIVATE_FAULT = self_check()  # at import: one check per process


def choose(environ: Mapping[str, str], fault: str) -> Kernels:
    """The private ops unless KIT_TRAIN_KERNELS=public or their self-check found `fault`."""
    raw = environ.get(ENV, "").strip()
    if raw == "public":
        return Kernels(False, f"{ENV}=public")
    if raw not in ("", "auto"):
        raise InputError(f"{ENV}={raw!r} is not 'public' or 'auto'",
                         hint=f"unset {ENV} (the kit uses torch's private ops when they pass their self-check), "
                              f"or set {ENV}=public")
    if fault:
        return Kernels(False, f"torch {torch.__version__}: {fault}; checked with {CHECKED_WITH}")
    return Kernels(True)


def active() -> Kernels:
    """The kernels of a training started now (KIT_TRAIN_KERNELS is read on each call, the self-check once)."""
    return choose(os.environ, PRIVATE_FAULT)
