"""The teacher recipe (docs/teachers.md): the student is the teacher's own function (kit.model.teacher_term) plus a
network, its correction, which starts at zero and is tuned per member on its contents' encodes (`encode_windows`),
frames and the teacher's samples (`draw_prior`), each a target of what the teacher's function of its (mean)
features misses: an encode's mean scores against the function of its mean features, nothing at a frame or a sample.
How much of the correction a member keeps is chosen on held-out encodes (kit.model.floor). The codec block's rows and
weights are zero: an unseen encoder predicts as a trained one. Its knobs (the samples, shares, windows, the prior's
reach and seeds) are TrainConfig's fields, in LOSO's and the bundle's fingerprints."""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import pandas as pd
import torch

from kit.corpus.dedup import KEY
from kit.corpus.training import text_groups
from kit.infra.files import sha256_json
from kit.infra.resources import give_back_memory
from kit.media import svr
from kit.media.libvmaf import CANONICAL, Feature
from kit.media.svr import SvrModel
from kit.model.arch import Arch
from kit.model.batches import Complement, Kept, Member, gather
from kit.model.features import model_space
from kit.model.kernels import Kernels, active, steps_mode
from kit.model.optimise import AutogradStep, HandStep
from kit.model.recipe import FRAMES, TEACHER, TrainConfig
from kit.model.stacked import StackedMLP
from kit.model.workers import Cancelled, run_on_workers

# one encode, whose frames a window may mix: the corpus's key but the frame, and the box (--holdout box)
ENCODE_COLUMNS: tuple[str, ...] = (*(c for c in KEY if c != "frame_index"), "box_id")
Rows: TypeAlias = "torch.Tensor | Kept"  # a member's rows of the table: every one, or those a fold leaves out
REPORT_EVERY = 50  # steps between two progress reports


def rounds(config: TrainConfig) -> int:
    """The progress reports of a training by the teacher recipe: its tunings' steps, REPORT_EVERY a time."""
    return -(-config.teacher_steps() // REPORT_EVERY)


def recipe_of(distil: Distillation | None) -> str:
    """The recipe a training uses: the teacher's where its distillation is at hand, else the frames'."""
    return TEACHER if distil is not None else FRAMES


def extractor_of(feature: Feature) -> str:
    """The libvmaf extractor a feature comes from (`vif` for vif_scale2: its `feature=` entry's name)."""
    return feature.extractor.split(":")[0].removeprefix("name=")


def by_feature(draws: dict[str, np.ndarray]) -> np.ndarray:
    """Draws per libvmaf extractor (`vif`: one column per scale, in the table's order) laid out as the canonical six
    are (kit.media.libvmaf.TABLE: each feature by its extractor and place), never by position; every column drawn
    is placed, once."""
    taken = dict.fromkeys(draws, 0)
    columns = []
    for feature in CANONICAL:
        kind = extractor_of(feature)
        columns.append(draws[kind][:, taken[kind]])
        taken[kind] += 1
    assert all(taken[kind] == drawn.shape[1] for kind, drawn in draws.items()), "the prior draws the table's six"
    return np.column_stack(columns)


def draw_prior(n: int, config: TrainConfig) -> np.ndarray:
    """`n` raw canonical six where encodes lie, near-lossless densest, motion2 log-uniform in [0, motion_max]; the same
    for every seed, fold and box (drawn from `prior_seed`)."""
    rng = np.random.default_rng(config.prior_seed)
    half = n // 2
    # vif's four scales, the finest losing most: half of them each its own loss, half one loss shared
    own = np.sort(rng.random((half, 4)) ** 2, axis=1)[:, ::-1]
    t = rng.random(n - half) ** 2
    shared = t[:, None] * np.sort(rng.random((n - half, 4)), axis=1)[:, ::-1]
    vif = 1.0 - np.vstack([own, shared])
    vif[:, 3] += np.abs(rng.normal(0.0, 0.001, n))
    adm = 1.0 - np.concatenate([rng.random(half) ** 2, t * rng.random(n - half)]) + rng.normal(0.0, 0.002, n)
    motion = np.expm1(rng.random(n) * math.log1p(config.motion_max))
    return by_feature({"adm": adm[:, None], "vif": vif, "motion": motion[:, None]})


def encode_codes(df: pd.DataFrame) -> np.ndarray:
    """An integer per row naming its encode by ENCODE_COLUMNS (a column the corpus lacks is one value for all)."""
    return text_groups([df[c] for c in ENCODE_COLUMNS if c in df])  # as groupby(...).ngroup() of their text


WINDOW_ROWS_AT_ONCE = 2_000_000  # window rows drawn, then gathered, at once for their means (48 MiB of features)
# windows of one length are taken together from this many, and from half their length (a batch adds its rows one
# position at a time: for a few long windows, a long clip's, each its own numpy mean is faster)
WINDOWS_TOGETHER = 16
PAIRWISE_BLOCK = 128  # numpy's pairwise summation: up to this many values, eight running sums (PW_BLOCKSIZE)


def encode_windows(feats: np.ndarray, target: np.ndarray, codes: np.ndarray, config: TrainConfig,
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per encode (`codes`), its whole mean and `windows_per_encode` contiguous runs and random subsets of at least
    two frames: (mean features (W, F), mean scores (W,), each window's encode code (W,)). Drawn from `window_seed`:
    they depend on the corpus alone.

    The draws are made encode by encode, as they always were (the same stream, the same windows); the means are then
    taken a batch of windows at a time, each window's rows gathered in its own order and summed as numpy's mean sums
    them, so every mean is the bit pattern `x[picks].mean(0)` gave window by window (80,000 encodes of 33 windows at
    10,000 contents: 2.6 million calls, 96 s, before)."""
    rng = np.random.default_rng(config.window_seed)
    per_encode = config.windows_per_encode
    order = np.argsort(codes, kind="stable")
    x, y = feats[order], target[order]
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    xs, ys, cs = [], [], []
    picks: list[np.ndarray] = []  # each window's rows, as positions in `order`, in the order a window takes them
    rows = 0
    for first, end in zip(np.r_[0, bounds], np.r_[bounds, len(order)], strict=True):
        n = int(end - first)
        mine = [np.arange(first, end)]
        for _ in range(per_encode if n > 1 else 0):
            length = int(rng.integers(2, n + 1))
            start = int(rng.integers(0, n - length + 1))
            mine += [np.arange(first + start, first + start + length),
                     first + rng.choice(n, size=int(rng.integers(2, n + 1)), replace=False)]
        picks += mine
        cs.append(np.full(len(mine), codes[order[first]], dtype=np.int64))
        rows += sum(len(p) for p in mine)
        if rows >= WINDOW_ROWS_AT_ONCE:  # a batch's means taken, its windows' rows let go
            means = window_means(x, y, picks)
            xs.append(means[0])
            ys.append(means[1])
            picks, rows = [], 0
    means = window_means(x, y, picks)
    return (np.concatenate([*xs, means[0]]), np.concatenate([*ys, means[1]]),
            np.concatenate(cs) if cs else np.zeros(0, dtype=np.int64))


def window_means(x: np.ndarray, y: np.ndarray, picks: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Each window's mean of `x`'s rows (and of `y`) at its positions `picks[i]`, bit for bit `x[p].mean(0)` and
    `y[p].mean()`, for many windows at once: the windows of one length (WINDOWS_TOGETHER of them or more) gathered
    as a matrix, summed as numpy's mean
    sums (the rows of a 2-D mean added one after the other, a 1-D mean by numpy's pairwise summation) and divided as it
    divides (by the count as an integer scalar: in float64, cast back to the values' type)."""
    xs = np.zeros((len(picks), x.shape[1]), dtype=x.dtype)
    ys = np.zeros(len(picks), dtype=np.float64)
    lengths = np.array([len(p) for p in picks], dtype=np.int64)
    for length in np.unique(lengths):
        which = np.flatnonzero(lengths == length)
        if not batched(len(which), int(length)):  # a few windows of this length: each its own mean
            for i in which:
                xs[i], ys[i] = x[picks[i]].mean(0), y[picks[i]].mean()
            continue
        for part in np.array_split(which, int(len(which) * length // WINDOW_ROWS_AT_ONCE) + 1):
            at = np.stack([picks[i] for i in part]) if len(part) else np.zeros((0, int(length)), dtype=np.int64)
            rows = x[at]  # (windows, length, columns)
            total = np.array(rows[:, 0])  # a copy, added to in place
            for k in range(1, int(length)):
                total += rows[:, k]
            xs[part] = np.true_divide(total, np.intp(length), dtype=np.float64).astype(x.dtype)
            values = y[at]
            ys[part] = pairwise_sum(values) / np.intp(length)
    return xs, ys


def batched(windows: int, length: int) -> bool:
    """Whether `windows` windows of one `length` are taken together (WINDOWS_TOGETHER)."""
    return windows >= max(WINDOWS_TOGETHER, length // 2)


def pairwise_sum(m: np.ndarray) -> np.ndarray:
    """Each row's sum as numpy adds a contiguous float64 array (numpy/_core/src/umath/loops_utils.h.src,
    pairwise_sum): fewer than 8 values one after the other from 0; up to PAIRWISE_BLOCK, eight
    running sums over the values 8 apart, combined ((0+1)+(2+3))+((4+5)+(6+7)), the rest added after; above it, the
    two halves' sums added (the first half a multiple of 8 long)."""
    n = m.shape[1]
    if n < 8:
        out = np.zeros(len(m), dtype=np.float64)
        for i in range(n):
            out += m[:, i]
        return out
    if n <= PAIRWISE_BLOCK:
        r = np.array(m[:, 0:8])  # a copy, added to in place
        whole = n - n % 8
        for i in range(8, whole, 8):
            r += m[:, i:i + 8]
        out = ((r[:, 0] + r[:, 1]) + (r[:, 2] + r[:, 3])) + ((r[:, 4] + r[:, 5]) + (r[:, 6] + r[:, 7]))
        for i in range(whole, n):
            out += m[:, i]
        return out
    half = n // 2
    half -= half % 8
    return pairwise_sum(m[:, :half]) + pairwise_sum(m[:, half:])


# the fields of the recipe the teacher's samples are made of (draw_prior's and their count), with the teacher's model
PRIOR_FIELDS = ("teacher_samples", "prior_seed", "motion_max")


@dataclass(frozen=True)
class Prior:
    """The teacher's samples as every member reads them, which depend on no corpus: `teacher_samples` draws of the
    prior in model space, z-scored by their own scaler (which every member's inputs then use); the correction's
    target at each is zero (the teacher's function misses nothing of itself there)."""

    z: np.ndarray  # (S, F) float32
    mean: np.ndarray  # (F,) float32
    std: np.ndarray
    identity: str  # what made them, whatever the box: the teacher's model and PRIOR_FIELDS, hashed

    @classmethod
    def of(cls, teacher: SvrModel, config: TrainConfig) -> Prior:
        drawn = draw_prior(config.teacher_samples, config)
        spaced = model_space(drawn)
        mean, std = spaced.mean(0), spaced.std(0)
        std = np.where(std > 1e-12, std, 1.0)
        identity = sha256_json([teacher.sha256, {name: getattr(config, name) for name in PRIOR_FIELDS}])
        return cls((spaced - mean) / std, mean.astype(np.float32), std.astype(np.float32), identity)


@dataclass(frozen=True)
class Distillation:
    """What the teacher recipe trains on, shared read-only by the workers: one table of the corpus's frames, then the
    encodes' windows, then the teacher's samples, z-scored by the samples' scaler (the codec block, zero in every row,
    is not kept: `_fit` adds it to each batch); `release` lets the rows go once the training is over."""

    rows: list[tuple[torch.Tensor, torch.Tensor]]  # [(the table (N + W + S, F), its targets (N + W + S,))]
    n_frames: int
    n_windows: int
    frame_codes: np.ndarray  # (N,) each frame's encode
    window_codes: np.ndarray  # (W,) each window's encode
    mean: torch.Tensor  # (F,) the scaler every member uses
    std: torch.Tensor
    prior: str = ""  # Prior.identity: what made the teacher's samples
    function: SvrModel | None = None  # the teacher's function the corrections correct (the student's other part)

    @classmethod
    def of(cls, feats: np.ndarray, target: np.ndarray, codes: np.ndarray, teacher: SvrModel,
           config: TrainConfig) -> Distillation:
        """From the corpus's raw features (N, 6), teacher scores and encode codes, and `teacher_samples` of the
        prior: each row's target what the teacher's function of its features misses (`residuals`)."""
        prior = Prior.of(teacher, config)
        wx, wy, wc = encode_windows(feats, target, codes, config)
        give_back_memory()  # the windows' draws and gathered rows, freed: not carried under the table
        n, w = len(feats), len(wx)
        table = np.empty((n + w + len(prior.z), feats.shape[1]), dtype=np.float32)
        scores = np.empty(len(table), dtype=np.float32)
        spaced_into(table[n:n + w], wx, prior)  # the windows first, their means let go before the frames' turn
        residuals_into(scores[n:n + w], teacher, wx, wy)
        del wx, wy
        spaced_into(table[:n], feats, prior)
        residuals_into(scores[:n], teacher, feats, target)
        table[n + w:] = prior.z
        scores[n + w:] = 0.0
        return cls([(torch.from_numpy(table), torch.from_numpy(scores))], n, w, np.asarray(codes, dtype=np.int64), wc,
                   torch.from_numpy(prior.mean), torch.from_numpy(prior.std), prior.identity, teacher)

    @property
    def table(self) -> torch.Tensor:
        return self.rows[0][0]

    @property
    def target(self) -> torch.Tensor:
        return self.rows[0][1]

    def release(self) -> None:
        """The table let go (once no member is left to tune on it: its figures need only the function)."""
        self.rows.clear()

    @property
    def teacher_rows(self) -> tuple[int, int]:
        return self.n_frames + self.n_windows, len(self.target)

    def member_rows(self, member: Member) -> tuple[Rows, Rows]:
        """A member's frames and the windows of the encodes they belong to, as rows of the table: where it trains on
        a fold's complement, each as the rows it leaves out (Kept: the same draws, without the rows it keeps)."""
        total = np.bincount(self.frame_codes, minlength=int(self.frame_codes.max(initial=0)) + 1)
        rows = member.train_rows
        # the encodes every frame of which the member trains on (where it trains on a complement: none left out); a
        # fold holds whole contents out, so an encode is all in or all out; a window of one half in is never drawn
        if isinstance(rows, Complement):
            whole = np.flatnonzero((np.bincount(self.frame_codes[rows.held_out], minlength=len(total)) == 0)
                                   & (total > 0))
            return (Kept.of(rows.n_rows, rows.held_out),
                    Kept.of(self.n_windows, np.flatnonzero(~np.isin(self.window_codes, whole)), self.n_frames))
        whole = np.flatnonzero((np.bincount(self.frame_codes[rows], minlength=len(total)) == total) & (total > 0))
        windows = np.flatnonzero(np.isin(self.window_codes, whole)) + self.n_frames
        # kept as int32 while the member tunes (half the memory; a draw of them indexes the table all the same)
        narrow = np.int32 if len(self.target) < 2**31 else np.int64
        return torch.from_numpy(np.asarray(rows, dtype=narrow)), torch.from_numpy(windows.astype(narrow))


SPACED_ROWS = 1 << 20  # rows put in model space at once (24 MiB of the six in float32)


def spaced_into(out: np.ndarray, raw: np.ndarray, prior: Prior) -> None:
    """`raw`'s rows in model space, z-scored by the teacher's samples' scaler, written into `out` SPACED_ROWS at a time:
    the bits of (model_space(raw) - mean) / std, with no copy of all the rows (at 10,000 contents three of 135 MB)."""
    for start in range(0, len(raw), SPACED_ROWS):
        part = model_space(raw[start:start + SPACED_ROWS])
        part -= prior.mean
        part /= prior.std
        out[start:start + len(part)] = part


RESIDUAL_CHUNKS = 16  # the SVR's chunks (kit.media.svr.CHUNK_ROWS) whose rows' residuals are taken at once


def residuals_into(out: np.ndarray, teacher: SvrModel, feats: np.ndarray, scores: np.ndarray) -> None:
    """What the teacher's function of each row's raw features misses of its (mean) score, written into `out` (float32)
    RESIDUAL_CHUNKS of the SVR's chunks at a time: nothing at a frame (the function proven is libvmaf's), at an
    encode's mean features the gap a mean of scores is not the score of. A part starts where one of the SVR's chunks
    of all the rows starts, so each row is evaluated in the company it was (a row's score can move by a bit with the
    rows a product takes it among): the bits of the whole arrays' difference, without its float64 arrays of every row
    (the function's parts, their whole and the difference: 23 MiB each at 10,000 contents, 343 at 150,000)."""
    part = RESIDUAL_CHUNKS * svr.CHUNK_ROWS
    for start in range(0, len(feats), part):
        end = start + part
        out[start:end] = np.asarray(scores[start:end], dtype=np.float64) - teacher.predict(feats[start:end])


Progress = Callable[[int, int, list[float]], None]  # (stage steps done, stage steps, the members' latest losses)


def _draw(gen: torch.Generator, rows: Rows | tuple[int, int], n: int) -> torch.Tensor:
    if isinstance(rows, tuple):
        return torch.randint(rows[0], rows[1], (n,), generator=gen)
    return rows[torch.randint(0, len(rows), (n,), generator=gen)]


def _fit(net: StackedMLP, table: torch.Tensor, target: torch.Tensor, batches: Callable[[], torch.Tensor], steps: int,
         lr: float, config: TrainConfig, kernels: Kernels, progress: Progress, stop: threading.Event) -> list[float]:
    """`steps` Adam steps on the rows of `table` `batches` draws (M, B), lr decayed along a cosine; the members'
    latest MSEs."""
    step = (HandStep if kernels.private else AutogradStep)(net, lr, config.weight_decay)
    last, total = [float("nan")] * net.slots[0].weight.shape[0], torch.zeros(net.slots[0].weight.shape[0])
    with steps_mode(kernels):
        for k in range(steps):
            if stop.is_set():
                raise Cancelled
            step.set_lr(lr * 0.5 * (1.0 + math.cos(math.pi * k / steps)))
            rows = batches()
            x = gather(table, rows)
            if (pad := net.arch.in_dim - x.shape[-1]) > 0:  # the codec block, zero in every row of the table
                x = torch.cat([x, x.new_zeros(*x.shape[:-1], pad)], dim=-1)
            err = step(x, [], gather(target, rows), 2 / rows.shape[1])
            total += (err * err).mean(dim=1)
            if k == 0:  # the first step at once: the run's ETA measures the step's set-up up to the first report
                progress(1, steps, (err * err).mean(dim=1).tolist())
            if (k + 1) % REPORT_EVERY == 0 or k + 1 == steps:
                last, total = (total / ((k % REPORT_EVERY) + 1)).tolist(), torch.zeros_like(total)
                progress(k + 1, steps, last)
    return last


def zero_correction(seeds: list[int], arch: Arch) -> StackedMLP:
    """Each seed's network as a correction of nothing: its hidden layers drawn from the seed, its codec rows and its
    output zero, so that the student starts as the teacher's function itself."""
    net = StackedMLP(seeds, arch)
    net.slots[0].weight[:, arch.n_features:, :] = 0.0  # the codec rows are zero: these weights never move
    net.slots[-1].weight.zero_()
    net.slots[-1].bias.zero_()
    return net


@torch.no_grad()
def tune_members(data: Distillation, members: list[Member], bases: dict[int, StackedMLP], config: TrainConfig,
                 kernels: Kernels, progress: Progress, stop: threading.Event) -> tuple[StackedMLP, list[float]]:
    """Each member from its seed's zero correction, tuned on its own contents' windows and frames and the teacher's
    samples."""
    net = StackedMLP.joined([bases[m.seed] for m in members])
    if (steps := config.teacher_steps()) == 0:
        return net, [float("nan")] * len(members)
    parts = [round(config.tune_batch * share) for share in config.tune_shares]  # windows, frames, teacher samples
    parts[-1] = config.tune_batch - sum(parts[:-1])
    made: dict[int, tuple[Rows, Rows]] = {}  # a fold's members share their rows: made once (a fold's left-out rows:
    for m in members:  # 12 MiB at 50,000 contents, where its kept frames and windows were 100 and a group holds nine)
        if id(m.train_rows) not in made:
            made[id(m.train_rows)] = data.member_rows(m)
    sources = [made[id(m.train_rows)] for m in members]
    gens = [torch.Generator().manual_seed(m.seed * 1_000_003 + m.fold + 1) for m in members]
    teacher = data.teacher_rows

    def batches() -> torch.Tensor:
        return torch.stack([torch.cat([_draw(g, windows, parts[0]), _draw(g, frames, parts[1]),
                                       _draw(g, teacher, parts[2])])
                            for g, (frames, windows) in zip(gens, sources, strict=True)])

    return net, _fit(net, data.table, data.target, batches, steps, config.tune_lr, config, kernels, progress, stop)


def distil(data: Distillation, members: list[Member], arch: Arch, config: TrainConfig, workers: int,
           progress: Callable[[int, float], None], poll: Callable[[], None],
           on_group: Callable[[list[Member], StackedMLP, list[float]], None]) -> None:
    """Train `members`' corrections by the teacher recipe on `workers` threads, in groups; `progress` (on a worker):
    the recipe's steps done and their mean loss."""
    kernels = active()
    w = max(1, workers)
    bases = {seed: zero_correction([seed], arch) for seed in sorted({m.seed for m in members})}

    def report(done: int, steps: int, loss: list[float]) -> None:
        progress(done, float(np.nanmean(loss)))

    cuts = [round(i * len(members) / w) for i in range(w + 1)]
    groups = [members[a:b] for a, b in itertools.pairwise(cuts) if b > a]  # in order: joined, the job's
    tune = [lambda stop, g=g: tune_members(data, g, bases, config, kernels, report, stop) for g in groups]
    run_on_workers(tune, workers, poll, lambda i, result: on_group(groups[i], *result))
