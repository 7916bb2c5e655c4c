"""The training recipe: plain data, importable without torch (the CLI and the corpus step load it).

Every knob of a recipe is a TrainConfig field with its default, in LOSO's and the bundle's fingerprints, never a module
constant. A recipe's trainer sits beside kit.model.train (as kit.model.distil), routed by `train.train_jobs` for the
ensemble's job (the baselines keep the frames' trainer) and stepping by kit.model.optimise; the recipe a LOSO used is
`LosoInputs.recipe`, in the member store's fingerprint, the seed reports and the verdict."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import ClassVar

from kit.errors import InputError
from kit.infra.changes import Entry, InRecord, Through, changes, setting
from kit.infra.flags import Choice, Flag, Int
from kit.infra.outside import NotANumber, read_int
from kit.infra.records import Record, RecordError
from kit.infra.rules import Check, OneOf, Real, Whole
from kit.media.refs import MIN_FRAMES_PER_SOURCE
from kit.model.contract import INPUT_SETS, INPUTS_HELP

ARCH = "fr_regressor_v2"
MIN_SOURCES = 3  # leave-one-source-out needs at least this many distinct contents
# every fold weighs the same in the gate, and a 1- or 2-frame source's correlation is trivial: MIN_FRAMES_PER_SOURCE,
# declared where a clip is first judged (kit.media.refs: a crop that keeps a clip too short is no fix)


def check_frames_per_source(frames: Mapping[str, int], where: str, hint: str) -> None:
    """Refuse a source with fewer than MIN_FRAMES_PER_SOURCE frames (`frames`: each source's label and count)."""
    if short := sorted((n, label) for label, n in frames.items() if n < MIN_FRAMES_PER_SOURCE):
        n, label = short[0]
        more = f" (and {len(short) - 1} more)" if len(short) > 1 else ""
        raise InputError(f"{label}: {n} frame(s){where}{more}; a LOSO fold needs at least "
                         f"{MIN_FRAMES_PER_SOURCE} frames per source", hint=hint)


LOSO = "loso"
AUTO = "auto"
# --folds auto: LOSO up to this many content groups, grouped AUTO_K-fold above (bench/README.md "K-fold against LOSO")
LOSO_MAX_GROUPS = 50
AUTO_K = 10


TEACHER, FRAMES = "teacher", "frames"  # --recipe (TrainConfig.recipe)
DEFAULT_EPOCHS = 60  # --epochs's default; the teacher recipe's steps scale with --epochs against it
RECIPES = (TEACHER, FRAMES)

FoldsAsked = int | str  # --folds: LOSO, AUTO, or a whole number K >= 2 of grouped folds (kit.steps.parsers.Folds)


def checked_folds(value: object) -> FoldsAsked:
    """--folds as a record holds it: LOSO, AUTO or K >= 2 (text from an earlier kit's run.json); else RecordError."""
    if value in (LOSO, AUTO):
        return str(value)
    with contextlib.suppress(NotANumber):
        value = read_int(value) if isinstance(value, str) else value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 2:
        return value
    raise RecordError(f"folds: {value!r} {FOLDS_REFUSAL}")


FOLDS_REFUSAL = "is neither loso, auto nor a number of folds of at least 2"


def folds_problem(value: object) -> str | None:
    """--folds's rule, for a value read from a flag or a file."""
    try:
        checked_folds(value)
    except RecordError:
        return FOLDS_REFUSAL
    return None


FOLDS = Check(folds_problem, "loso, auto or a number of folds of at least 2")


# what a training setting changes: LOSO's members, and the bundle's refit of them on PROMOTE; a new one joins their
# fingerprints' entry `train` off its default alone, where the fields 2.1.0 had are held at their defaults too
# (TRAINED_IN_2_1; InRecord: the bundle's where it exports models), so an out-dir of 2.1.0 resumes as it was
IN_TRAIN = {"loso": InRecord(), "bundle": InRecord(models=True)}
TRAINS = changes("loso", "bundle")
TRAINED_IN_2_1 = changes("loso", "bundle", entries=IN_TRAIN)
# --inputs: also the features measured (2.1.0's prereqs held whether they are VMAF v1's, the opt-in features:
# kit.steps.settings.RunSettings.extra_features; the corpus step's, through its inputs)
MEASURED_AND_TRAINS = changes("prereqs", "corpus", "loso", "bundle", entries={
    "prereqs": Entry("extra_features", lambda s: s.extra_features),
    "corpus": Through("the opt-in features measured, in its inputs"), **IN_TRAIN})


def shares_problem(value: object) -> str | None:
    """tune_shares' rule: three shares (windows, frames, teacher samples), each from 0 to 1, that add up to 1."""
    if not isinstance(value, tuple) or len(value) != 3 or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1 for v in value):
        return "is not three shares from 0 to 1"
    return None if abs(sum(value) - 1) <= 1e-9 else f"adds up to {sum(value):g}, not 1"


@dataclass(frozen=True)
class TrainConfig(Record):
    """How the ensemble trains: its net, its optimiser, and the teacher recipe's knobs (kit.model.distil). Every field
    changes LOSO's members and the bundle's refit (TRAINS); --inputs also what prereqs and the corpus measure."""

    LENIENT = True  # run.json of older kits may lack a later field

    hidden: int = setting(64, Whole(1, 4096), changes=TRAINED_IN_2_1)  # width of both hidden layers
    dropout: float = setting(0.1, Real(0, 1, hi_open=True), changes=TRAINED_IN_2_1)  # after each GELU
    lr: float = setting(5e-4, Real(0, 1, lo_open=True), changes=TRAINED_IN_2_1)  # Adam learning rate
    weight_decay: float = setting(1e-5, Real(0, 1), changes=TRAINED_IN_2_1)  # Adam L2 penalty
    # passes over each member's training rows ...
    epochs: int = setting(DEFAULT_EPOCHS, Whole(1, 10_000), changes=TRAINED_IN_2_1, flag=Flag(
        "--epochs", Int(), rank=450,
        help="Training epochs (advanced)."))
    # ... in batches of this many rows
    batch_size: int = setting(64, Whole(1, 1 << 20), changes=TRAINED_IN_2_1, flag=Flag(
        "--batch-size", Int(), rank=460,
        help="Training batch size per model (advanced)."))
    # ... but at most this many rows seen per member, in at most max_steps steps: the batch grows up to max_batch
    max_samples: int = setting(4_000_000, Whole(1, 1 << 40), changes=TRAINED_IN_2_1)
    max_steps: int = setting(4_000, Whole(1, 1 << 30), changes=TRAINED_IN_2_1)
    max_batch: int = setting(1_024, Whole(1, 1 << 20), changes=TRAINED_IN_2_1)
    # --inputs: the input set (kit.model.contract.INPUT_SETS), its own model contract; a set with the opt-in features
    # (VMAF v1's) has prereqs check that libvmaf computes them and the corpus step measure them
    inputs: str = setting("canonical6", OneOf(tuple(INPUT_SETS)), changes=MEASURED_AND_TRAINS, flag=Flag(
        "--inputs", Choice(), INPUTS_HELP, rank=140))
    # --recipe: kit.model.distil, or the corpus's per-frame rows
    recipe: str = setting(TEACHER, OneOf(RECIPES), changes=TRAINED_IN_2_1, flag=Flag(
        "--recipe", Choice(), rank=150,
        help="How the ensemble learns its teacher: teacher (the default: the teacher's own function, proven on every "
             "corpus row, plus a correction each member learns from its contents' encodes, kept only as far as "
             "held-out encodes show it beats the function; where the teacher cannot be reproduced from the six "
             "features, frames) or frames (the corpus's per-frame scores, as kits before 2.1; docs/teachers.md)."))
    # the teacher recipe (kit.model.distil), the rest of this record: the teacher's samples, where the correction is
    # held to zero, drawn once from a prior where encodes lie (draw_prior) ...
    teacher_samples: int = setting(100_000, Whole(1_000, 10_000_000), changes=TRAINED_IN_2_1)
    # each member's tuning from its seed's zero correction ...
    tune_steps: int = setting(600, Whole(0, 1 << 20), changes=TRAINED_IN_2_1)
    tune_batch: int = setting(128, Whole(3, 1 << 16), changes=TRAINED_IN_2_1)  # ... in batches of this many rows
    # ... from this learning rate, decayed along a cosine
    tune_lr: float = setting(3e-4, Real(0, 1, lo_open=True), changes=TRAINED_IN_2_1)
    # a tuning batch's shares: the encodes' windows, the frames, the teacher's samples
    tune_shares: tuple[float, float, float] = setting((0.4, 0.2, 0.4), Check(
        shares_problem, "three shares (windows, frames, teacher samples) from 0 to 1 that add up to 1"), changes=TRAINS)
    # per encode: its whole mean, and this many contiguous runs and as many random subsets of its frames
    windows_per_encode: int = setting(16, Whole(0, 1024), changes=TRAINS)
    # the prior's motion2 reaches this: past the demo's 21 and the real clips' (bench/README.md)
    motion_max: float = setting(40.0, Real(0, 1024, lo_open=True), changes=TRAINS)
    # the teacher's samples are the same for every seed, fold and box; the encodes' windows likewise (they depend on
    # the corpus alone)
    prior_seed: int = setting(0x5EED7EAC, Whole(0, 2**32 - 1), changes=TRAINS)
    window_seed: int = setting(0x57494E44, Whole(0, 2**32 - 1), changes=TRAINS)

    WRITTEN: ClassVar[Mapping[str, object]] = {"arch": ARCH, "optimizer": "adam", "loss": "mse",
                                               "target": "vmaf"}  # said in the JSON, never read back
    # the teacher recipe's knobs, module constants of kit.model.distil before 2.2: written only off their defaults, so
    # a run at the defaults writes its documents (run.json, the LOSO reports, the verdict, the model cards) as 2.1.0
    QUIET_AT_DEFAULT: ClassVar[tuple[str, ...]] = ("tune_shares", "windows_per_encode", "motion_max", "prior_seed",
                                                   "window_seed")

    # the bases' settings of kits 2.1 to 2.3 (a network distilled from the teacher's samples before the tuning): no
    # base is trained since the student is the teacher's function plus a correction, so a document naming them (an
    # older run.json, a --settings file) reads with them left out (`adapted`), and no fingerprint holds them
    RETIRED: ClassVar[tuple[str, ...]] = ("base_steps", "base_batch", "base_lr")

    @classmethod
    def adapted(cls, data: object) -> object:
        return {k: v for k, v in data.items() if k not in cls.RETIRED} if isinstance(data, Mapping) else data

    def teacher_steps(self) -> int:
        """The teacher recipe's tuning steps per member, scaled by --epochs over its default (kit.model.distil)."""
        return round(self.tune_steps * self.epochs / DEFAULT_EPOCHS)

    def to_json(self) -> dict[str, object]:
        fields = {k: v for k, v in asdict(self).items()
                  if k not in self.QUIET_AT_DEFAULT or v != getattr(TrainConfig, k)}
        return {"arch": ARCH, **fields, **{k: v for k, v in self.WRITTEN.items() if k != "arch"}}
