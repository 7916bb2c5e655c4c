"""The training recipe: plain data, importable without torch (the CLI and the corpus step load it)."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import ClassVar

from kit.errors import InputError
from kit.infra.outside import NotANumber, read_int
from kit.infra.records import Record, RecordError
from kit.infra.rules import Check, Choice, Flag, Int, OneOf, Real, Whole, setting
from kit.model.contract import INPUT_SETS, INPUTS_HELP

ARCH = "fr_regressor_v2"
MIN_SOURCES = 3  # leave-one-source-out needs at least this many distinct contents
# every fold weighs the same in the gate, and a 1- or 2-frame source's correlation is trivial
MIN_FRAMES_PER_SOURCE = 8


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


@dataclass(frozen=True)
class TrainConfig(Record):
    LENIENT = True  # run.json of older kits may lack a later field

    hidden: int = setting(64, Whole(1, 4096))  # width of both hidden layers
    dropout: float = setting(0.1, Real(0, 1, hi_open=True))  # after each GELU
    lr: float = setting(5e-4, Real(0, 1, lo_open=True))  # Adam learning rate
    weight_decay: float = setting(1e-5, Real(0, 1))  # Adam L2 penalty
    # passes over each member's training rows ...
    epochs: int = setting(DEFAULT_EPOCHS, Whole(1, 10_000), flag=Flag("--epochs", Int(), "Training epochs (advanced).",
                                                                       rank=450))
    # ... in batches of this many rows
    batch_size: int = setting(64, Whole(1, 1 << 20), flag=Flag("--batch-size", Int(), "Training batch size per model "
                                                               "(advanced).", rank=460))
    max_samples: int = setting(4_000_000, Whole(1, 1 << 40))  # ... but at most this many rows seen per member
    max_steps: int = setting(4_000, Whole(1, 1 << 30))  # ... in at most this many steps: the batch grows to fit
    max_batch: int = setting(1_024, Whole(1, 1 << 20))  # ... up to this size
    # --inputs: the input set (kit.model.contract.INPUT_SETS), its own model contract
    inputs: str = setting("canonical6", OneOf(tuple(INPUT_SETS)), flag=Flag(
        "--inputs", Choice(), INPUTS_HELP, rank=140))
    # --recipe: kit.model.distil, or the corpus's per-frame rows
    recipe: str = setting(TEACHER, OneOf(RECIPES), flag=Flag(
        "--recipe", Choice(), "How the ensemble learns its teacher: teacher (the default: the teacher's own function, "
        "proven on every corpus row, distilled over where encodes lie, then each member tuned on its contents' "
        "encodes; where the teacher cannot be reproduced from the six features, frames) or frames (the corpus's "
        "per-frame scores, as kits before 2.1; docs/teachers.md).", rank=150))
    # the teacher's samples the bases learn (drawn once, kit.model.distil.draw_prior)
    teacher_samples: int = setting(100_000, Whole(1_000, 10_000_000))
    base_steps: int = setting(6_000, Whole(1, 1 << 20))  # each seed's base: steps ...
    base_batch: int = setting(256, Whole(1, 1 << 16))  # ... of this many teacher samples
    base_lr: float = setting(2e-3, Real(0, 1, lo_open=True))  # ... from this learning rate, decayed along a cosine
    tune_steps: int = setting(600, Whole(0, 1 << 20))  # each member's tuning from its seed's base: steps ...
    # ... of this many rows (windows, frames and teacher samples: kit.model.distil.TUNE_SHARES)
    tune_batch: int = setting(128, Whole(3, 1 << 16))
    tune_lr: float = setting(3e-4, Real(0, 1, lo_open=True))  # ... from this learning rate, decayed along a cosine

    WRITTEN: ClassVar[Mapping[str, object]] = {"arch": ARCH, "optimizer": "adam", "loss": "mse",
                                               "target": "vmaf"}  # said in the JSON, never read back

    def teacher_steps(self) -> tuple[int, int]:
        """The teacher recipe's (base, tune) steps, scaled by --epochs over its default."""
        scale = self.epochs / DEFAULT_EPOCHS
        return max(1, round(self.base_steps * scale)), round(self.tune_steps * scale)

    def to_json(self) -> dict[str, object]:
        return {"arch": ARCH, **asdict(self), **{k: v for k, v in self.WRITTEN.items() if k != "arch"}}
