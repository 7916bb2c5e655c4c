"""What the steps after the corpus take, reckoned before they run: the run's ETA's prior (kit.report.eta) for LOSO,
the verdict and the bundle. Torch-free: the corpus step reckons it as soon as its jobs are planned.

Training is reckoned in the trainer's own plan (kit.model.schedule: parameter-steps, shared out over the workers),
at the seconds per parameter-step measured on the reference box (kit.platforms.speed.REFERENCE); the rest of each
step (loading torch and the corpus, evaluating the folds, writing the files, the ONNX exports and the report) in
fixed seconds measured there. Both scale by this box's slowness against the reference box (libvmaf's measured
speed stands for the CPU's). bench/bench_eta.py measures these constants on the reference box.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kit.model.recipe import FoldsAsked, TrainConfig
from kit.platforms.prereqs import read_prereqs

if TYPE_CHECKING:  # the model's description and its folds load pandas: when reckoned, not for the renderer's constants
    from kit.infra.tree import Tree
    from kit.model.schedule import JobShape

# measured on the reference box, idle (bench/bench_eta.py): the demo's LOSO (45 members of 5,569 parameters and
# 18 baselines, 3,375 steps each: 1.26e9 parameter-steps) trained in 9.5 s on 2 workers
SECONDS_PER_UNIT = 1.5e-8  # one worker's seconds per parameter-step
LOSO_SETUP_S = 1.3  # torch and the corpus loaded, the folds cut
LOSO_WRAP_S = 2.5  # every member's held-out predictions, the baselines' and the consumer's figures, the files
VERDICT_S = 0.3
BUNDLE_S = 3.0  # the ONNX exports and their checks, the vmaf-tune profile, the report, the tarball
BUNDLE_CORPUS_S = 0.5  # a corpus-only box's bundle: the tarball of its shard


@dataclass(frozen=True)
class StepCost:
    """A step's prior: its seconds in all, and the part of them training (the refit: only on a PROMOTE)."""

    step: str
    seconds: float
    training_s: float = 0.0


def box_slowness(tree: Tree, prereqs_json: Path) -> float:
    """This box's slowness against the reference box, as step 01 measured it (kit.platforms.speed); 1.0 where
    prereqs.json has no figure (a prior: nothing is refused for it)."""
    prereqs, _ = read_prereqs(tree, prereqs_json)
    return prereqs.speed.slowness if prereqs is not None else 1.0


def unit_seconds(units: float, workers: int, slowness: float) -> float:
    """Seconds to train `units` parameter-steps shared out over `workers` threads."""
    return units * SECONDS_PER_UNIT * slowness / max(1, workers)


def training_seconds(shapes: Sequence[JobShape], config: TrainConfig, workers: int, slowness: float) -> float:
    """Seconds to train these jobs on `workers` threads, as kit.model.train plans them."""
    from kit.model.schedule import plan_jobs

    if not shapes:
        return 0.0
    return unit_seconds(sum(plan.total for plan in plan_jobs(list(shapes), config, workers)), workers, slowness)


def loso_shapes(rows: int, folds: int, seeds: int, config: TrainConfig, holdouts: int = 0) -> list[JobShape]:
    """LOSO's jobs (kit.model.baselines.loso_jobs): every seed x fold, and each baseline on every fold of the first
    seed, each member training on the rows of the other folds; each --holdout kind about as many members again."""
    from kit.model.arch import baseline_archs, fr_regressor_v2
    from kit.model.schedule import JobShape

    mean_rows = max(1.0, rows * (folds - 1) / max(folds, 1))  # a shard of one content: LOSO refuses it, later
    ensemble = JobShape(fr_regressor_v2(config), seeds * folds * (1 + holdouts), mean_rows)
    return [ensemble, *(JobShape(arch, folds, mean_rows) for arch in baseline_archs(config))]


def bundle_cost(rows: int, seeds: int, config: TrainConfig, workers: int, slowness: float,
                promoted: bool = True) -> StepCost:
    """The bundle: on a PROMOTE every seed refit on all the rows, then the exports, the report and the tarball."""
    from kit.model.arch import fr_regressor_v2
    from kit.model.schedule import JobShape

    refit = training_seconds([JobShape(fr_regressor_v2(config), seeds, max(1, rows))], config, workers, slowness) \
        if promoted else 0.0
    return StepCost("bundle", refit + BUNDLE_S * slowness, refit)


def forecast(rows: int, groups: int, sources: int, seeds: int, folds: FoldsAsked, config: TrainConfig,
             workers: int, slowness: float, holdouts: int = 0) -> list[StepCost]:
    """LOSO, the verdict and the bundle (with its refit, as if the verdict PROMOTEs) on a corpus of `rows` rows of
    `groups` content groups."""
    from kit.model.folds import choose_scheme

    scheme = choose_scheme(folds, groups, sources)
    loso = training_seconds(loso_shapes(rows, scheme.folds, seeds, config, holdouts), config, workers, slowness)
    return [StepCost("loso", loso + (LOSO_SETUP_S + LOSO_WRAP_S) * slowness, loso),
            StepCost("verdict", VERDICT_S * slowness),
            bundle_cost(rows, seeds, config, workers, slowness)]
