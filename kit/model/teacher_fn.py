"""The teacher's function (kit.media.svr), proven on every corpus row within PROOF_TOLERANCE of libvmaf's score before
the teacher recipe distils it; one that differs is refused (exit 2), one not reproducible said (the frames' recipe)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kit.errors import InputError
from kit.infra.perms import require_trusted
from kit.infra.records import Record, keep, omit_none
from kit.infra.rules import COUNT, POINTS
from kit.media.libvmaf import FEATURES, TEACHER_FEATURES, TEACHER_MODEL
from kit.media.svr import PROOF_TOLERANCE, NotReproducible, SvrModel, builtin_model_text, parse_model
from kit.media.teachers import read_model_file

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class TeacherFunction(Record):
    """What the loso step found of the teacher's function (in every seed's report and the verdict)."""

    teacher: str  # the teacher's name, as the corpus's rows record it
    reproduced: bool  # its function, evaluated on the stored features, gave libvmaf's score on every row
    rows_checked: int = field(metadata=keep(COUNT))
    tolerance: float = field(metadata=keep(POINTS))
    max_abs_diff: float | None = omit_none(POINTS)  # the largest |function - libvmaf| over the rows checked
    worst: str | None = omit_none()  # where it is: `<source> frame <i> (<encoder> cq <cq>)`
    model_sha256: str | None = omit_none()  # of the model JSON evaluated
    # why it was not reproduced: a message of the kit's, checked by its kind where the verdict is sent (one that
    # quotes the model file's own words is withheld there)
    reason: str | None = omit_none()
    # the features it reads with options of its own, in words (kit.media.svr.options_text), where it does (NEG): its
    # function is not one of the student's input, so it is not distilled whether or not it was reproduced
    own_features: str | None = omit_none()

    @property
    def distillable(self) -> bool:
        """The teacher recipe can distil it: proven, and a function of the six the student reads."""
        return self.reproduced and self.own_features is None

    @property
    def label(self) -> str:
        if self.reproduced and self.own_features is not None:
            return (f"{self.teacher} reproduced from its own features ({self.own_features}, measured beside the "
                    f"six) on all {self.rows_checked} rows (largest difference {self.max_abs_diff:.5f} <= "
                    f"{self.tolerance}); not distilled: {NOT_THE_STUDENTS}")
        if self.reproduced:
            return (f"{self.teacher} reproduced from the six features on all {self.rows_checked} rows (largest "
                    f"difference {self.max_abs_diff:.5f} <= {self.tolerance})")
        return f"{self.teacher} not reproduced: it {self.reason}"


# why a teacher of features of its own is not distilled, however well its function is proven
NOT_THE_STUDENTS = ("the student reads libvmaf's default features, as vmaf-tune feeds them, which are not the "
                    "teacher's inputs: there is no function of the student's input to distil")


def model_text(teacher: str, teacher_sha256: str, ffmpeg: Path | None, model_file: Path | None) -> str:
    """The teacher's JSON: a built-in from the ffmpeg, or --teacher's file of the rows' sha256; else NotReproducible."""
    if not teacher_sha256:
        return builtin_model_text(ffmpeg, teacher)
    if model_file is None or not model_file.is_file():
        raise NotReproducible("is a model file that is not at hand (give it with --teacher to have it proven)")
    require_trusted(model_file, "--teacher")  # it decides what the models learn: the trust rule, as at every door
    raw = read_model_file(model_file)  # a regular file, within the size limit, a libvmaf model (InputError if not)
    if hashlib.sha256(raw).hexdigest() != teacher_sha256:
        raise NotReproducible(f"is a model file whose bytes are not those of --teacher {model_file.name}")
    return raw.decode("utf-8")


def proven_model(proof: TeacherFunction, teacher_sha256: str, ffmpeg: Path | None, model_file: Path | None,
                 ) -> SvrModel:
    """The model `proof` proved, read again (by its sha256); NotReproducible when it cannot be or is another."""
    model = parse_model(model_text(proof.teacher, teacher_sha256, ffmpeg, model_file), proof.teacher)
    if not proof.reproduced or model.sha256 != proof.model_sha256:
        raise NotReproducible(f"reads as a model of sha256 {model.sha256[:12]}, not the one LOSO proved "
                              f"({(proof.model_sha256 or 'none')[:12]})")
    return model


def prove(df: pd.DataFrame, ffmpeg: Path | None, model_file: Path | None, strict: bool = True,
          ) -> tuple[TeacherFunction, SvrModel | None]:
    """The corpus's teacher evaluated on every row against `vmaf`: (record, model) when reproduced from the six, else
    (record saying why, None); a teacher of features of its own (NEG) is proven on them where the rows hold them
    (TEACHER_FEATURES), never distilled (None). A function that differs from libvmaf's scores is an InputError if
    `strict`."""
    import numpy as np

    teacher = str(df["teacher_model"].iloc[0]) if "teacher_model" in df and len(df) else TEACHER_MODEL
    sha = str(df["teacher_sha256"].iloc[0]) if "teacher_sha256" in df and len(df) else ""
    sha = "" if sha in ("nan", "None") else sha
    try:
        model = parse_model(model_text(teacher, sha, ffmpeg, model_file), teacher)
    except NotReproducible as exc:
        return TeacherFunction(teacher, False, 0, PROOF_TOLERANCE, reason=str(exc)), None
    own = model.options_said or None
    columns = inputs_of(model)
    if any(c not in df or df[c].isna().any() for c in columns):  # a corpus of kit 2.1: NEG's own six not measured
        return TeacherFunction(teacher, False, 0, PROOF_TOLERANCE, model_sha256=model.sha256, own_features=own,
                               reason=f"computes {own}: features of its own, which the corpus's columns (libvmaf's "
                                      "defaults) and vmaf-tune's feed do not carry, and which these rows were scored "
                                      "without (score the clips again with this kit to have them measured)"), None
    diff = np.abs(model.predict(df[list(columns)].to_numpy(dtype=np.float64)) - df["vmaf"].to_numpy(np.float64))
    bad = np.flatnonzero(~np.isfinite(diff))  # a score or a feature that is not a number: the first of them
    worst = int(bad[0]) if len(bad) else int(np.argmax(diff)) if len(diff) else 0
    row = df.iloc[worst]
    where = (f"{row.get('src', row.get('src_sha256', '?'))} frame {int(row['frame_index'])} "
             f"({row.get('encoder', '?')} cq {row.get('cq', '?')})")
    found = float(diff[worst]) if len(diff) else 0.0
    if len(bad) or found > PROOF_TOLERANCE:
        if not strict:
            return TeacherFunction(teacher, False, len(df), PROOF_TOLERANCE, found, where, model.sha256,
                                   f"differs from libvmaf's own score by {found:.4f} at {where}", own), None
        inputs = "teacher's own features" if own else "six features"
        raise InputError(f"the teacher {teacher}, evaluated from the corpus's {inputs} as libvmaf evaluates it, "
                         f"gives {found:.4f} points away from libvmaf's own score at {where}, beyond "
                         f"{PROOF_TOLERANCE}: the corpus was scored by another function than the one the kit would "
                         "distil",
                         hint="rerun with --recipe frames to train on the corpus's scores as they are, or score "
                              "the corpus again with this box's ffmpeg (its corpus step, with --force) where its "
                              "clips are")
    proof = TeacherFunction(teacher, True, len(df), PROOF_TOLERANCE, found, where, model.sha256, own_features=own)
    return proof, model if proof.distillable else None


def inputs_of(model: SvrModel) -> tuple[str, ...]:
    """The corpus columns the model's function reads, in FEATURES order: a feature it computes with options of its
    own from TEACHER_FEATURES, the others from the six."""
    return tuple(own if suffix else name
                 for name, own, suffix in zip(FEATURES, TEACHER_FEATURES, model.suffixes, strict=True))
