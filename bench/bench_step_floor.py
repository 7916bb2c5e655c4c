"""What one training step costs, by torch as the kit trains and by numpy (with scipy.special's erf): the floor under
any LOSO trainer driven from Python (issue 77, item 6).

The loso step of `--seeds 0` trains three stacks of nine members (one per fold of the demo's nine contents): the
`linear` and `mlp_small` baselines by the frames recipe, and the ensemble's nine tunings by the teacher recipe (the
seed's base is carried by the kit). This bench takes each stack's shape and step count from the kit's own planning
(kit.model.schedule.plan_schedule, TrainConfig.teacher_steps) and times, A B A B in this one process on one thread:

* **torch**: the kit's fast path (kit.model.optimise.HandStep on kit.model.stacked.StackedMLP), a step as the kit
  makes it: in torch's inference mode (kit.model.kernels.steps_mode), the batch gathered (and z-scored, by the frames
  recipe, a chunk of steps at once: kit.model.train.chunk_steps), forward, the backward pass written out, the fused
  Adam; the tuning's batch is drawn from one table here, where the kit draws each member's from three sources (a
  cost left out: the figure is a floor);
* **numpy**: the same arithmetic in numpy, GELU's erf from scipy.special (batched matmul, the backward pass written
  out, Adam as torch's formula), from the same initial weights and on the same rows; its weights are compared with
  torch's at the end (the same arithmetic, not the same bits). There is no warm-up round: each round times torch
  first, then numpy, from a cold start of the stack.

Beside them, each library's import as a process of its own (wait4), and the projection: the stacks' steps times
each library's step, plus its import and the shard's reader's (pyarrow; the kit's pandas too), against what
`--bash-cpu` (bench_bashkit.py's figure for the bash kit's trainer) allows at 100x. Nothing here is a LOSO: no
corpus is read, no member is scored.

    python bench/bench_step_floor.py [--bash-cpu 412.8] [--rounds 2] [--rows 7200 --contents 9]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread, as bench_bashkit.py runs both trainers
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import statistics
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch
from common import load_average, measure
from scipy.special import erf

from kit.model.arch import Arch, baseline_archs, fr_regressor_v2
from kit.model.batches import gather
from kit.model.kernels import active, steps_mode
from kit.model.optimise import HandStep
from kit.model.recipe import TEACHER, TrainConfig
from kit.model.schedule import plan_schedule
from kit.model.stacked import StackedMLP
from kit.model.train import chunk_steps

torch.set_num_threads(1)
BETAS, EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam's, as kit.model.kernels.FusedAdam passes them


@dataclass(frozen=True)
class Stack:
    label: str
    arch: Arch
    members: int
    batch: int
    steps: int
    lr: float
    zscored: bool  # the frames recipe z-scores each batch (kit.model.batches.Inputs); the teacher recipe's table is
    # scaled once (kit.model.distil)


def stacks(rows: int, contents: int) -> list[Stack]:
    """The stacks a `--seeds 0` LOSO of `rows` rows over `contents` contents trains, at the kit's defaults."""
    config = TrainConfig()
    fold_rows = rows * (contents - 1) / contents
    out = []
    for arch in baseline_archs(config):
        sched = plan_schedule(fold_rows, config)
        out.append(Stack(arch.name, arch, contents, sched.batch, sched.steps, config.lr, True))
    out.append(Stack("ensemble tuning", fr_regressor_v2(config, TEACHER), contents, config.tune_batch,
                     config.teacher_steps(), config.tune_lr, False))
    return out


class NumpyStep:
    """The same step as HandStep, in numpy: forward, the backward pass written out, Adam with L2 weight decay."""

    def __init__(self, net: StackedMLP, lr: float, weight_decay: float) -> None:
        self.layers = [s.layer for s in net.slots]
        self.params = [t.numpy().copy() for s in net.slots for t in (s.weight, s.bias)]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.lr, self.wd, self.t = lr, weight_decay, 0

    def __call__(self, x: np.ndarray, target: np.ndarray, scale: float) -> np.ndarray:
        seen, pres = [], []
        h = x
        for k, layer in enumerate(self.layers):
            w, b = self.params[2 * k], self.params[2 * k + 1]
            seen.append(h)
            h = np.matmul(h, w) + b
            if layer.activation == "relu":
                pres.append(h)
                h = np.maximum(h, 0)
            elif layer.activation == "gelu":
                pres.append(h)
                h = h * 0.5 * (1 + erf(h / np.sqrt(np.float32(2))))
        err = h[..., 0] - target
        g = (err * np.float32(scale))[..., None]
        grads: list[np.ndarray] = [np.empty(0)] * len(self.params)
        for k in reversed(range(len(self.layers))):
            grads[2 * k] = np.matmul(seen[k].transpose(0, 2, 1), g)
            grads[2 * k + 1] = g.sum(axis=1, keepdims=True)
            if k == 0:
                break
            g = np.matmul(g, self.params[2 * k].transpose(0, 2, 1))
            pre = pres[k - 1]
            if self.layers[k - 1].activation == "relu":
                g = g * (pre > 0)
            else:  # exact GELU's derivative: Phi(x) + x phi(x)
                g = g * (0.5 * (1 + erf(pre / np.sqrt(np.float32(2)))) + pre * np.exp(-0.5 * pre * pre)
                         / np.sqrt(np.float32(2 * np.pi)))
        self.t += 1
        b1, b2 = BETAS
        c1, c2 = 1 - b1 ** self.t, 1 - b2 ** self.t
        for p, gr, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            if self.wd:
                gr = gr + self.wd * p
            m *= b1
            m += (1 - b1) * gr
            v *= b2
            v += (1 - b2) * gr * gr
            p -= (self.lr / c1) * m / (np.sqrt(v / c2) + EPS)
        return err


@dataclass(frozen=True)
class Timed:
    cpu: float
    steps: int

    @property
    def per_step_us(self) -> float:
        return self.cpu / self.steps * 1e6


def time_stack(stack: Stack, rows: int, steps: int, seed: int = 0) -> tuple[Timed, Timed, float]:
    """(torch, numpy) over `steps` steps of the stack from the same weights on the same rows, and the largest
    difference of their weights at the end."""
    config = TrainConfig()
    gen = torch.Generator().manual_seed(seed)
    table = torch.randn(rows, stack.arch.in_dim, generator=gen)
    target = torch.rand(rows, generator=gen) * 100
    if stack.zscored:
        shift = table.mean(0).expand(stack.members, 1, -1).contiguous()
        spread = table.std(0).expand(stack.members, 1, -1).contiguous()
    else:
        table = (table - table.mean(0)) / table.std(0)
    idx = torch.randint(0, rows, (steps, stack.members, stack.batch), generator=gen)
    net = StackedMLP(list(range(stack.members)), stack.arch)
    plain = NumpyStep(net, stack.lr, config.weight_decay)
    hand = HandStep(net, stack.lr, config.weight_decay)
    scale = 2 / stack.batch

    # as the kit's groups step: in steps_mode, the frames recipe's inputs made a chunk of steps at a time
    # (kit.model.train._train_group), the tuning's a step at a time (its batch is drawn per step)
    chunk = chunk_steps(stack.members, stack.batch, stack.arch) if stack.zscored else 1
    start = time.process_time()
    with steps_mode(active()):
        for a in range(0, steps, chunk):
            r = idx[a : a + chunk]
            xs = gather(table, r).sub_(shift).div_(spread) if stack.zscored else gather(table, r)
            ys = gather(target, r)
            for k in range(len(r)):
                hand(xs[k], [], ys[k], scale)
    by_torch = Timed(time.process_time() - start, steps)

    table_np, target_np, idx_np = table.numpy(), target.numpy(), idx.numpy()
    shift_np, spread_np = (shift.numpy(), spread.numpy()) if stack.zscored else (None, None)
    start = time.process_time()
    for k in range(steps):
        r = idx_np[k]
        plain((table_np[r] - shift_np) / spread_np if stack.zscored else table_np[r], target_np[r], scale)
    by_numpy = Timed(time.process_time() - start, steps)
    trained = [t.numpy() for s in net.slots for t in (s.weight, s.bias)]
    apart = max(float(np.max(np.abs(a - b))) for a, b in zip(trained, plain.params, strict=True))
    return by_torch, by_numpy, apart


# each trainer's imports with what reads the shard: pyarrow beside numpy, pandas and pyarrow beside torch (the kit's);
# each process then ends as the kit's commands end, by Python's exit
IMPORTS = {"python alone": "pass", "numpy": "import numpy", "numpy + scipy.special": "import numpy, scipy.special",
           "numpy + scipy.special + pyarrow": "import numpy, scipy.special, pyarrow.parquet", "torch": "import torch",
           "torch + pandas + pyarrow": "import torch, pandas, pyarrow.parquet"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bash-cpu", type=float, help="the bash kit's trainer's CPU seconds (bench_bashkit.py)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--rows", type=int, default=7200, help="the corpus's rows (the demo: 7200)")
    ap.add_argument("--contents", type=int, default=9, help="its contents, one fold each (the demo: 9)")
    ap.add_argument("--most-steps", type=int, default=2000, help="timed steps per stack and round, at most")
    args = ap.parse_args()
    plan = stacks(args.rows, args.contents)
    print(f"torch {torch.__version__}, numpy {np.__version__}, one thread; load average {load_average()}")
    print("the stacks of a --seeds 0 LOSO at the defaults: " + "; ".join(
        f"{s.label}: {s.members} members x {s.steps} steps of {s.batch} rows ({s.arch.params} parameters each)"
        for s in plan))
    per: dict[str, dict[str, list[float]]] = {s.label: {"torch": [], "numpy": []} for s in plan}
    for r in range(args.rounds):
        for s in plan:
            n = min(s.steps, args.most_steps)
            by_torch, by_numpy, apart = time_stack(s, args.rows, n, seed=r)
            per[s.label]["torch"].append(by_torch.per_step_us)
            per[s.label]["numpy"].append(by_numpy.per_step_us)
            print(f"round {r + 1} {s.label:>15}: {n} steps, torch {by_torch.per_step_us:6.1f} us a step, numpy "
                  f"{by_numpy.per_step_us:6.1f} us; weights apart at the end {apart:.2e}")
    imports: dict[str, list[float]] = {k: [] for k in IMPORTS}
    for _ in range(args.rounds):
        for label, code in IMPORTS.items():
            m = measure([sys.executable, "-c", code])
            if m.rc != 0:
                raise SystemExit(f"importing {label} failed (exit {m.rc}):\n{m.output[-2000:]}")
            imports[label].append(m.cpu)

    print()
    print("| stack | steps | torch, a step (median) | numpy, a step | the stack's steps by torch | by numpy |")
    print("|---|---|---|---|---|---|")
    total = {"torch": 0.0, "numpy": 0.0}
    for s in plan:
        t, n = statistics.median(per[s.label]["torch"]), statistics.median(per[s.label]["numpy"])
        total["torch"] += t * s.steps / 1e6
        total["numpy"] += n * s.steps / 1e6
        print(f"| {s.label} | {s.steps} | {t:.1f} us | {n:.1f} us | {t * s.steps / 1e6:.2f} s | "
              f"{n * s.steps / 1e6:.2f} s |")
    print(f"| all | {sum(s.steps for s in plan)} | | | **{total['torch']:.2f} s** | **{total['numpy']:.2f} s** |")
    print()
    print("| import, a process of its own | CPU (median of " + str(args.rounds) + ") |")
    print("|---|---|")
    for label, cpu in imports.items():
        print(f"| {label} | {statistics.median(cpu):.2f} s |")
    floor = {"torch": total["torch"] + statistics.median(imports["torch + pandas + pyarrow"]),
             "numpy": total["numpy"] + statistics.median(imports["numpy + scipy.special + pyarrow"])}
    print()
    print(f"the least a LOSO of these steps costs, its imports and steps alone (no corpus read, nothing scored or "
          f"written): torch {floor['torch']:.2f} s, numpy {floor['numpy']:.2f} s")
    if args.bash_cpu:
        need = args.bash_cpu / 100
        print(f"100x of the bash kit's {args.bash_cpu:.1f} s needs at most {need:.2f} s: torch's floor allows at "
              f"most {args.bash_cpu / floor['torch']:.0f}x, numpy's {args.bash_cpu / floor['numpy']:.0f}x")


if __name__ == "__main__":
    main()
