"""The work of the steps after the corpus, in the run's one unit of work (kit.report.eta): a pixel-frame of a corpus
job (its frames x the pixels it encodes and scores). Torch-free: the corpus step reckons it as its jobs are planned.

Training is reckoned in the trainer's own plan (kit.model.schedule: its arithmetic, steps x members x parameters) at
WORK_PER_PARAM_STEP; the rest of each step (loading torch and the corpus, evaluating the folds, the files, the ONNX
exports, the report) as the seconds it took at the corpus's pace. Only the ratios matter: a busy box slows every part,
and the ETA measures the run's own pace. bench/bench_eta.py prints what a run implies.

The step that first knows a step's work says it as a `forecast` event; LOSO's rest is work per row and per held-out
prediction, its part before training said apart (`loso_rest`, the event's `setup`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kit.infra.resources import PeakLine
from kit.model.recipe import TEACHER, FoldsAsked, TrainConfig

if TYPE_CHECKING:  # the model's description and its folds load pandas: when reckoned, not for the renderer's constants
    from kit.model.schedule import JobShape

# measured on this 2-core box by bench/bench_eta.py (bench/README.md, "The run's ETA"): the corpus's work a second;
# a training parameter-step in that work, a guess until training measures itself (0.44-0.75 beside two busy loops,
# 0.9-2.2 on a box crowded by other sessions at 5-8 per core); each step's part outside training, in seconds at PACE
PACE = 2.6e7
WORK_PER_PARAM_STEP = 0.7
# each step's part outside training: on the demo (bench/bench_eta.py on a 2-core AMD EPYC box, quiet and beside two
# busy loops) LOSO took 9.5 to 13 s in all, its training counted at 8.4 s; its 16 s of before (set when its set-up
# loaded more) made the demo's estimate 1.4 to 1.5 times the truth there, and 2.3 times in the middle of CI's run
# beside the suite (a miss of the 2x its test allows). The bundle's 8 s stays:
# the demo's 13 to 24 s are its five members' exports, and the tiny run's two take 7 s
FIXED_WORK = {"loso": 5.0 * PACE, "verdict": 1.2 * PACE, "bundle": 8.0 * PACE}
# of it, the share done before its training starts (torch and the corpus loaded)
SETUP_SHARE = {"loso": 0.6, "bundle": 0.1}
BUNDLE_CORPUS_WORK = 1.5 * PACE  # a corpus-only box's bundle: the tarball of its shard
# LOSO's work outside training that grows with the corpus, in seconds at PACE, measured at 3,000,000 rows (10,000
# contents, grouped 10-fold, 5 seeds: bench/README.md, "10,000 contents"): before training, per row (read, the
# duplicate rule, the teacher's proof, the encodes' windows); after it, per held-out prediction (each model predicts
# every row once: the figures of its held-out contents, its encodes pooled, the files)
SETUP_PER_ROW = 26e-6 * PACE
# after training, refit to the seconds LOSO took there at 900,000 and 3,000,000 rows (30 and 82 s, 2.3 and 1.9 times
# what 5e-6 said at the pace of the same run's set-up) and at 15,000,000 (about 7 minutes, 2 times); 11e-6 since the
# step's fixed part is 5 s (FIXED_WORK), 10e-6 beside 16
AFTER_PER_PREDICTION = 11e-6 * PACE
# of that work after training, the share its files take (the predictions most: 15,000,000 rows at 10,000 contents), the
# rest counted by the rows each model has predicted as it goes (kit.steps.after.AfterTraining): its files took 16 %
# of LOSO's seconds after training at 1,000 contents (5 of 32 s) and 26 % at 10,000 (54 of 208 s), 2.6.2 on this box
AFTER_FILES_SHARE = 0.25
# the bundle's work after its refit that grows with the corpus, per row: the report, each text of the tarball's
# members (the predictions, the verdict's rows) checked by the catalogue, the members packed: 160 s of a PROMOTE's
# bundle at 10,000 contents (2.6.2 on this box; 120e-6 before, from a HOLD's 7.5 minutes there in 2.5, since the
# catalogue's names are looked up, not compiled: the step's CPU 58, 150 and 490 s at 1,000, 3,000 and 10,000 then)
BUNDLE_PER_ROW = 55e-6 * PACE
# of it, each part's share as the bundle does them: the report, every text the tarball sends checked by the
# catalogue, the tarball packed (16, 104 and 40 s of a PROMOTE's bundle at 10,000 contents, 2.6.2 on this box)
BUNDLE_PACKING = {"report": 0.1, "texts": 0.65, "tarball": 0.25}
# of the texts' part, done when the records are made with the box's folders shown (34 of its 104 s), then when those
# and the logs are checked (55 s more); the tables and models checked last
TEXTS_DONE = {"records": 0.33, "members": 0.86}
# a PROMOTE's besides, per row and seed: the vmaf-tune profile's model of each seed checked on every row (two models'
# scores of it, kit.bundle.vmaftune.profile_parity): 466 s of six checks at 10,000 contents (3,000,000 rows, 2.6.2 on
# this box), 7 of the step's 12 minutes; since 2.7.0 the proxy's single model is its seed's, checked once
PROFILE_PER_ROW = 26e-6 * PACE
# the verdict's, per row (the held-out rows' figures by group, their intervals, the clips pooled): the step's own 6.2,
# 20.7 and 69.2 s at 1,000, 3,000 and 10,000 contents, 576 at 50,000, faster than the rows (bench/README.md#step-memory)
# and since each group's figures are taken from arrays 0.67 of its CPU at 1,000 and at 10,000 contents (A B on one
# box, bench/README.md#scale-10000): about 4.2, 13.9 and 46.6 s, those seconds x 0.67 (projected, not measured)
VERDICT_PER_ROW = 15e-6 * PACE
# its parts, in the order it does them (kit.steps.after.Parts), each its share of the step's 142 s at 10,000 contents
# (2.6.2 on this box): the corpus checked and summarised, the held-out predictions read, the consumer's encodes, the
# intervals and figures by group, the gates decided, the files
VERDICT_PARTS = {"corpus": 0.26, "held_out": 0.17, "consumer": 0.14, "figures": 0.27, "decide": 0.07, "files": 0.09}


# what a step's part says as it goes (kit.steps.after.Parts): what it does now, and the share of the part done
Told = Callable[[str, float], None]


def untold(what: str, share: float) -> None:
    """A Told that tells no one."""


# the peak of each step after the corpus, each in a process of its own (wait4's max RSS), on corpora of N contents x
# 300 rows scored by their teacher (bench/README.md#step-memory): the verdict's a line through its peaks at 1,000 and
# 10,000 contents since it holds its text as one string a value (472 and 2,119 MiB, the higher of two rounds; before,
# 527 and 3,228, 14,924 at 50,000, 0.85 of its line then), each on a corpus whose rows are not in its order, so that
# the held-out rows copy its columns; LOSO's, with its margin, just above its spread at 3,000 contents (1,202 to 1,373
# MiB from run to run in 2.7.3), and above 50,000's; the bundle's through its PROMOTEs' (its refit: the largest
# part) at 1,000 and 10,000 (1,126 and 2,528 MiB), above 3,000's (1,486) and far above 50,000's HOLD (4,696 MiB, no
# refit); it grew faster than its rows while every message that holds a name compiled them all (21,342 MiB at 50,000:
# kit.infra.kinds.Named). LOSO's drawn again on 2.7.3's peaks (793, 1,373, 1,727 and 6,636 MiB at 1,000, 3,000, 10,000
# and 50,000 contents, the higher of two rounds below 50,000): its line of 2.6 said 2,608 MiB with its margin at 10,000
# contents, 1.5 to 1.6 times the 1,635 to 1,727 it holds since 2.7.2
STEP_PEAKS = {"loso": PeakLine(860 * 2**20, 440), "verdict": PeakLine(290 * 2**20, 640),
              "bundle": PeakLine(970 * 2**20, 545)}
# a training task's (`step loso --train-task K/N`): LOSO's set-up, then its share of the members trained with its rows'
# identity let go (kit.model.loso.LosoInputs.training_only); a line just above its peaks at 1,000, 10,000 and 50,000
# contents (568, the highest of three rounds, its libraries; 1,306, the higher of two; 4,544 once; 2.7.3 558, 720 at
# 3,000, 1,307 and 4,536), at 10,000 and 50,000 where its set-up makes the teacher's windows beside the corpus's
# tables, not LOSO's evaluation, the verdict or the bundle: 0.59 to 0.64 of LOSO's line. Since 2.7.4 (its frame let go
# before the teacher's set is made, the set before the baselines train, the codec block made from the encoders' codes)
# 557, 715, 1,315 and 3,955 MiB (the higher of two rounds below 50,000; one there): the line kept, 1.33 times its peak
# at 50,000 with its margin, 1.15 at 10,000, where the task's peak did not move (its set-up's tables and its training).
# Since 2.7.5 (a scaler's copy one at a time, the teacher's residuals a part at a time, a fold's draws by position)
# 553, 658, 1,112 and 3,524 MiB (once each; 10,000 1,092 in another round): the line drawn again through 10,000 and
# 50,000, 1.16 to 1.21 times each peak with its margin (a line just above the peaks: the headroom is the margin's)
TRAINING_TASK = "training task"
TASK_PEAK = PeakLine(510 * 2**20, 215)
STEP_LABELS = {"loso": "LOSO", "verdict": "the verdict", "bundle": "the bundle",  # each step as a line says it
               TRAINING_TASK: "LOSO's training"}


def step_label(step: str, first: bool = False) -> str:
    """`step` as a line says it (STEP_LABELS); `first`: said first in its sentence (`The verdict`, `LOSO`)."""
    label = STEP_LABELS[step]
    return label[:1].upper() + label[1:] if first else label


def peak_bytes(step: str, rows: int) -> int:
    """`step`'s peak resident memory on a corpus of `rows` rows at its defaults (one box; or a cluster's task that
    runs it: each reads the whole corpus), with its margin (kit.infra.resources.PEAK_MARGIN); TRAINING_TASK's, a
    training task's."""
    return (TASK_PEAK if step == TRAINING_TASK else STEP_PEAKS[step]).at(rows)


def largest_peak(steps: Sequence[str], rows: int) -> tuple[str, int]:
    """Of `steps` (each with a line: LOSO and after), the one whose peak on `rows` rows is largest, and that peak; one
    process runs them in turn, so its peak is theirs, not their sum."""
    return max(((step, peak_bytes(step, rows)) for step in steps), key=lambda sp: sp[1])


@dataclass(frozen=True)
class StepWork:
    """A step's work in all, and of it its training's (the bundle's refit counted as if the verdict PROMOTEs, until
    the bundle runs) and the part done before its training starts (0: SETUP_SHARE of its rest)."""

    step: str
    work: float
    training: float = 0.0
    setup: float = 0.0


def loso_rest(rows: int, seeds: int, config: TrainConfig, holdouts: int = 0) -> tuple[float, float]:
    """LOSO's work outside training on a corpus of `rows` rows: (before its training, after it). After it, every row
    is predicted once by each seed's members (and each --holdout kind's) and by each baseline: ridge and the
    trained ones (kit.model.baselines)."""
    from kit.model.arch import baseline_archs

    fixed, share = FIXED_WORK["loso"], SETUP_SHARE["loso"]
    predictions = rows * (seeds * (1 + holdouts) + 1 + len(baseline_archs(config)))
    return fixed * share + rows * SETUP_PER_ROW, fixed * (1 - share) + predictions * AFTER_PER_PREDICTION


def training_work(shapes: Sequence[JobShape], config: TrainConfig, workers: int) -> float:
    """The work of training these jobs on `workers` threads, as kit.model.train plans them."""
    from kit.model.schedule import plan_jobs

    return sum(plan.arithmetic for plan in plan_jobs(list(shapes), config, workers)) * WORK_PER_PARAM_STEP if shapes \
        else 0.0


def loso_shapes(rows: int, folds: int, seeds: int, config: TrainConfig, holdouts: int = 0) -> list[JobShape]:
    """LOSO's jobs (kit.model.baselines.loso_jobs): every seed x fold, and each baseline on every fold of the first
    seed, each member training on the rows of the other folds; each --holdout kind about as many members again."""
    from kit.model.arch import baseline_archs, fr_regressor_v2
    from kit.model.schedule import JobShape

    mean_rows = max(1.0, rows * (folds - 1) / max(folds, 1))  # a shard of one content: LOSO refuses it, later
    ensemble = JobShape(fr_regressor_v2(config, config.recipe), seeds * folds * (1 + holdouts), mean_rows)
    return [ensemble, *(JobShape(arch, folds, mean_rows) for arch in baseline_archs(config))]


def ensemble_work(shape: JobShape, config: TrainConfig, workers: int) -> float:
    """The ensemble's training: by the teacher recipe (asked: where the teacher cannot be reproduced, the frames'
    is what runs), a tuning per member (kit.model.schedule.distilled_arithmetic), else its plan."""
    from kit.model.schedule import distilled_arithmetic

    if config.recipe == TEACHER:
        return distilled_arithmetic(shape.arch, shape.members, config) * WORK_PER_PARAM_STEP
    return training_work([shape], config, workers)


def verdict_work(rows: int) -> StepWork:
    """The verdict on a corpus of `rows` rows: no training, its fixed part and VERDICT_PER_ROW."""
    return StepWork("verdict", FIXED_WORK["verdict"] + rows * VERDICT_PER_ROW)


def bundle_parts(rows: int, seeds: int, config: TrainConfig, promoted: bool) -> dict[str, float]:
    """The bundle's work after its set-up by part, in the order it does them (kit.steps.after.Parts): the exports (a
    PROMOTE's refit is training: each seed's ONNX, then, where vmaf-tune feeds the input set, its profile's model
    checked on every row; the step's fixed rest), the report, the texts checked, the tarball packed."""
    from kit.model.contract import CANONICAL6

    fixed = FIXED_WORK["bundle"] * (1 - SETUP_SHARE["bundle"])
    profile = rows * seeds * PROFILE_PER_ROW if promoted and config.inputs == CANONICAL6 else 0.0
    packing = {part: rows * BUNDLE_PER_ROW * share for part, share in BUNDLE_PACKING.items()}
    return {"exports": fixed + profile, **packing}


def bundle_work(rows: int, seeds: int, config: TrainConfig, workers: int, promoted: bool = True) -> StepWork:
    """The bundle: on a PROMOTE every seed refit on all the rows, then its parts (bundle_parts) after its set-up."""
    from kit.model.arch import fr_regressor_v2
    from kit.model.schedule import JobShape

    refit = ensemble_work(JobShape(fr_regressor_v2(config, config.recipe), seeds, max(1, rows)), config,
                          workers) if promoted else 0
    setup = FIXED_WORK["bundle"] * SETUP_SHARE["bundle"]
    return StepWork("bundle", refit + setup + sum(bundle_parts(rows, seeds, config, promoted).values()), refit, setup)


def forecast(rows: int, groups: int, sources: int, seeds: int, folds: FoldsAsked, config: TrainConfig,
             workers: int, holdouts: int = 0) -> list[StepWork]:
    """LOSO, the verdict and the bundle (with its refit, as if the verdict PROMOTEs) on a corpus of `rows` rows of
    `groups` content groups."""
    from kit.model.folds import choose_scheme

    scheme = choose_scheme(folds, groups, sources)
    ensemble, *baselines = loso_shapes(rows, scheme.folds, seeds, config, holdouts)
    loso = ensemble_work(ensemble, config, workers) + training_work(baselines, config, workers)
    setup, after = loso_rest(rows, seeds, config, holdouts)
    return [StepWork("loso", loso + setup + after, loso, setup), verdict_work(rows),
            bundle_work(rows, seeds, config, workers)]
