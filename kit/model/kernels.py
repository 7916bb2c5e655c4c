"""The ops, the self-check and the choice of a training step's two paths; the only module that calls a private torch op.

* **Fast path** (kit.model.optimise.HandStep), wherever its ops pass the self-check made at import: the backward pass
  written out (kit.model.stacked.StackedMLP.gradients) and torch's fused Adam called directly (`FusedAdam`), on:
  - `torch.ops.aten.gelu_backward(g, x)`: g times exact (erf) GELU's derivative at x, g * (Phi(x) + x * phi(x));
  - `torch.ops.aten.threshold_backward(g, x, 0)`: g where x > 0, else 0 (ReLU's derivative; a NaN x passes g);
  - `torch._foreach_add_` and `torch._fused_adam_`, as FusedAdam.step calls them: Adam with L2 weight decay, in place,
    each stack padded to whole vector lanes (Padded).
* **Public path** (kit.model.optimise.AutogradStep; KIT_TRAIN_KERNELS=public forces it): autograd and torch's Adam
  (TorchAdam), the stacks padded as well.

A new private op joins the list above, the self-check and tests/unit/test_kernels.py (which trains a LOSO both ways);
where it pays is measured by bench/bench_train.py --kernels."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

from kit.infra.variables import TRAIN_KERNELS
from kit.infra.visible import reason_line

ENV = TRAIN_KERNELS.name  # declared with its rule in kit.infra.variables
CHECKED_WITH = "2.13.0"  # the torch release the two paths were compared on
FUSED_PUBLIC = True  # the public Adam: torch.optim.Adam(fused=True) where torch has it (a test turns it off)

# d(activation)/d(input) applied to a gradient (the fast path's): (gradient by its output, its input) -> by its input
ACTIVATION_GRADS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "gelu": lambda grad, pre: torch.ops.aten.gelu_backward(grad, pre),
    "relu": lambda grad, pre: torch.ops.aten.threshold_backward(grad, pre, 0)}


LANES = 64  # a multiple of any CPU's vector lanes of float32 (AVX2 8, AVX-512 16): Adam's tensors are padded to it


class Padded:
    """Stacked tensors (members first) each re-homed at the start of a buffer padded to a whole number of LANES, and
    their gradients copied into padded buffers of their own: what Adam updates. torch's fused Adam takes a tensor's
    elements in vector lanes and its last few (the length modulo the lanes) one by one, with other roundings:
    unpadded, a member's bits would hang on its place in the stack and the stack's size (so on the groups the
    workers and the training tasks deal). Padded, every element is in a lane; the padding's weights, gradients and
    moments stay 0 (Adam moves a 0 weight of gradient 0 by 0)."""

    def __init__(self, stacks: list[torch.Tensor]) -> None:
        self.stacks = stacks
        self.buffers = [torch.zeros(-(-p.numel() // LANES) * LANES, dtype=p.dtype) for p in stacks]
        self.grads = [torch.zeros_like(b) for b in self.buffers]
        with torch.no_grad():
            for p, buf in zip(stacks, self.buffers, strict=True):
                buf[:p.numel()].copy_(p.reshape(-1))
                p.set_(buf.untyped_storage(), 0, p.shape, p.contiguous().stride())  # p is now the buffer's start

    @torch.no_grad()
    def gradients(self, grads: list[torch.Tensor | None]) -> list[torch.Tensor]:
        """The stacks' gradients, each copied into its padded buffer."""
        for g, buf in zip(grads, self.grads, strict=True):
            assert g is not None, "a stack without its gradient"
            buf[:g.numel()].copy_(g.reshape(-1))
        return self.grads


class FusedAdam:
    """torch.optim.Adam(fused=True) over the stacks padded (Padded), its state and bits, with torch's fused kernel
    called directly."""

    def __init__(self, params: list[torch.Tensor], lr: float, weight_decay: float) -> None:
        self.padded, self.lr, self.weight_decay = Padded(params), lr, weight_decay
        self.params = self.padded.buffers
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.steps = [torch.zeros((), dtype=torch.float32) for _ in self.params]  # as torch keeps them

    @torch.no_grad()
    def step(self, grads: list[torch.Tensor]) -> None:
        """One step on the stacks' gradients (each as its stack is shaped)."""
        torch._foreach_add_(self.steps, 1)
        torch._fused_adam_(self.params, self.padded.gradients(list(grads)), self.exp_avg, self.exp_avg_sq, [],
                           self.steps, lr=self.lr, beta1=0.9, beta2=0.999, weight_decay=self.weight_decay, eps=1e-8,
                           amsgrad=False, maximize=False)  # torch.optim.Adam's betas and eps


class TorchAdam:
    """torch.optim.Adam (fused where torch has a fused Adam for these tensors: on the CPU since 2.4) over the stacks
    padded (Padded): its leaves are the padded buffers, so its in-place update is the stacks'."""

    def __init__(self, params: list[torch.Tensor], lr: float, weight_decay: float) -> None:
        self.padded = Padded(params)
        try:
            self.adam = torch.optim.Adam(self.padded.buffers, lr=lr, weight_decay=weight_decay, fused=FUSED_PUBLIC)
        except (RuntimeError, ValueError, TypeError):  # a torch without a fused Adam for them
            self.adam = torch.optim.Adam(self.padded.buffers, lr=lr, weight_decay=weight_decay)

    def set_lr(self, lr: float) -> None:
        for group in self.adam.param_groups:
            group["lr"] = lr

    def step(self) -> None:
        """One step on the stacks' gradients (`.grad`, as autograd left them)."""
        for buf, grad in zip(self.padded.buffers, self.padded.gradients([p.grad for p in self.padded.stacks]),
                             strict=True):
            buf.grad = grad
        self.adam.step()


@dataclass(frozen=True)
class Kernels:
    """The path one training takes: the fast one on torch's private ops, or autograd and why."""

    private: bool
    why: str = ""  # why autograd: KIT_TRAIN_KERNELS, or what the self-check found

    def describe(self) -> str:
        if self.private:
            return f"training kernels: torch's private ops, self-checked (torch {torch.__version__}; {ENV}=public: " \
                   f"autograd, same figures)"
        return f"training kernels: torch's autograd ({self.why})"


def self_check() -> str:
    """'' when each private op exists and computes what the list above says on a small input, else what failed."""
    x = torch.linspace(-4, 4, 19)
    g = torch.linspace(0.5, 2.0, 19)
    by_erf = torch.tensor([0.5 * (1 + math.erf(v / math.sqrt(2))) + v * math.exp(-v * v / 2) / math.sqrt(2 * math.pi)
                           for v in x.tolist()], dtype=torch.float64)
    start = torch.linspace(-1, 1, 19)
    grad = torch.linspace(0.2, 0.6, 19) * torch.tensor([(-1.0) ** i for i in range(19)])
    decayed = grad.double() + 0.1 * start.double()  # an L2 weight decay of 0.1
    # Adam's first step moves each weight by lr against the sign of its gradient (bias-corrected m / sqrt(v))
    after_one = start.double() - 0.01 * decayed / (decayed.abs() + 1e-8)
    op = "torch.ops.aten.gelu_backward"
    try:
        if not torch.allclose(ACTIVATION_GRADS["gelu"](g, x).double(), g.double() * by_erf, rtol=0, atol=1e-5):
            return f"{op} is not GELU's derivative any more"
        op = "torch.ops.aten.threshold_backward"
        if not torch.equal(ACTIVATION_GRADS["relu"](g, x), torch.where(x > 0, g, 0.0)):
            return f"{op} is not ReLU's derivative any more"
        op = "torch._fused_adam_"
        weights = start.clone()[None]  # a stack of one member
        adam = FusedAdam([weights], lr=0.01, weight_decay=0.1)
        adam.step([grad.clone()[None]])
        if float(adam.steps[0]) != 1 or not torch.allclose(weights[0].double(), after_one, rtol=0, atol=1e-6):
            return f"{op} is not Adam's update any more"
    except Exception as err:  # an op gone or its signature changed: autograd takes over
        return f"{op}: {reason_line(err, typed=True)}"
    return ""


PRIVATE_FAULT = self_check()  # at import: one check per process


def choose(environ: Mapping[str, str], fault: str) -> Kernels:
    """The fast path unless KIT_TRAIN_KERNELS=public or its self-check found `fault`."""
    if TRAIN_KERNELS.read(environ) == "public":  # its rule, kit.infra.variables: a value it is not is refused
        return Kernels(False, f"{ENV}=public")
    return Kernels(not fault, fault and f"torch {torch.__version__}: {fault}; checked with {CHECKED_WITH}")


def steps_mode(kernels: Kernels) -> contextlib.AbstractContextManager[None]:
    """Where a training's steps run: torch's inference mode on the fast path, whose tensors made in it carry no version
    counter and no view record (the parameters and Adam's state, made before it, are updated in place as before):
    10 to 15 % less CPU a step at the baselines' sizes, the same kernels and bits. Nothing on the public path, whose
    autograd needs them."""
    return torch.inference_mode() if kernels.private else contextlib.nullcontext()


def active() -> Kernels:
    """The path of a training started now (KIT_TRAIN_KERNELS is read on each call, the self-check once)."""
    return choose(os.environ, PRIVATE_FAULT)
