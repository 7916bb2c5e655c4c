"""`--teacher`: a built-in libvmaf model's name or a model file, checked without ffmpeg and hashed (its identity).

A model file needs no code of its own: this reads it, and kit.platforms.teacher has libvmaf score with it before any
encode. Whatever the teacher, the canonical six are scored beside it; it is the rows' identity (`teacher_model`,
`teacher_sha256`), held in the jobs' fingerprints, and its `Teacher.tag` is in every exported id and file name."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path, PurePath

from kit.errors import InputError
from kit.infra.files import expanded
from kit.infra.limits import MAX_TEACHER_BYTES, human_bytes
from kit.infra.outside import JsonRefused, load_json
from kit.infra.shown import Spelled
from kit.media.libvmaf import (
    BUILTIN_TEACHERS,
    DEFAULT_TEACHER,
    MODEL_SEPARATOR,
    TEACHER_MODEL,
    Teacher,
    file_teacher_name,
)

FLAG = "--teacher"
HINT = (f"give one of libvmaf's built-in models ({', '.join(BUILTIN_TEACHERS)}) or the path of a libvmaf model JSON "
        "file (e.g. model/vmaf_v1.0.16/vmaf_v1.0.16_3d0h.json from Netflix/vmaf)")


def _refused(path: Path, why: str) -> InputError:
    return InputError(Spelled(f"{FLAG} ", PurePath(path), f": {why}"), hint=HINT)  # the file a path (kit.infra.shown)


def read_model_file(path: Path) -> bytes:
    """The bytes of a model file, checked as a libvmaf model JSON; InputError naming the file when it is not one."""
    if MODEL_SEPARATOR in str(path):
        raise _refused(path, f"libvmaf's model option cannot hold a path with {MODEL_SEPARATOR!r} in it (its filter "
                             "splits the option on it)")
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):  # a FIFO would block the read
            raise _refused(path, "is a folder, not a model file" if stat.S_ISDIR(mode) else "is not a regular file")
        with open(path, "rb") as fh:
            raw = fh.read(MAX_TEACHER_BYTES + 1)
    except FileNotFoundError:
        raise _refused(path, "does not exist") from None
    except OSError as exc:
        raise _refused(path, f"cannot be read ({exc.strerror or exc})") from None
    if len(raw) > MAX_TEACHER_BYTES:
        raise _refused(path, f"is larger than {human_bytes(MAX_TEACHER_BYTES)}, the most a model file may be")
    try:
        doc = load_json(raw)
    except JsonRefused as exc:
        raise _refused(path, f"is not JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("model_dict"), dict):
        raise _refused(path, "is not a libvmaf model: a JSON object with a `model_dict` object")
    if missing := svm_missing(doc["model_dict"].get("model")):
        raise _refused(path, f"is not a model libvmaf can load: {missing} (libvmaf reads the SVM "
                             "there with libsvm and does not check that libsvm read one: ffmpeg dies by SIGSEGV on "
                             "the first score)")
    return raw


# the header lines libsvm's svm_load_model reads before `SV` (it refuses a model with any other, or without `SV`)
LIBSVM_HEADER = frozenset({"svm_type", "kernel_type", "degree", "gamma", "coef0", "nr_class", "total_sv", "rho",
                           "label", "probA", "probB", "prob_density_marks", "nr_sv"})
LIBSVM_NEEDED = ("svm_type", "kernel_type", "nr_class", "total_sv", "rho")


def svm_missing(model: object) -> str:
    """What a `model_dict`'s `model` lacks to be the libsvm model text libsvm loads ("" when it is one): a header of
    LIBSVM_NEEDED (and only LIBSVM_HEADER's keywords), a line `SV`, then `total_sv` support vectors."""
    if model is None:
        return "its `model_dict` has no `model` (the SVM, as libsvm's text)"
    if not isinstance(model, str):
        return f"its `model_dict` holds a `model` of JSON type {type(model).__name__}, not libsvm's text"
    head, sep, body = model.partition("\nSV\n")
    words = [line.split(" ", 1)[0] for line in head.splitlines() if line.strip()]
    if unknown := [w for w in words if w not in LIBSVM_HEADER]:
        return (f"its `model_dict.model` is not libsvm's text: its header holds {unknown[0]!r}, which libsvm does "
                "not read")
    if absent := [w for w in LIBSVM_NEEDED if w not in words]:
        return f"its `model_dict.model` lacks libsvm's {', '.join(absent)}"
    if not sep:
        return "its `model_dict.model` lacks libsvm's `SV` line (its support vectors)"
    total = next((line.split(" ", 1)[1] for line in head.splitlines() if line.startswith("total_sv ")), "")
    vectors = [line for line in body.splitlines() if line.strip()]
    if not total.strip().isdigit() or len(vectors) < int(total):
        return (f"its `model_dict.model` holds {len(vectors)} support vectors where its total_sv says "
                f"{total.strip() or 'nothing'}")
    return ""


def teacher_of(text: str) -> Teacher:
    """The teacher `--teacher TEXT` names: a built-in by its name, else a model file (checked, hashed, absolute)."""
    if text in BUILTIN_TEACHERS:
        return DEFAULT_TEACHER if text == TEACHER_MODEL else Teacher(text)
    path = Path(os.path.abspath(expanded(text, "--teacher")))
    raw = read_model_file(path)
    digest = hashlib.sha256(raw).hexdigest()
    return Teacher(file_teacher_name(digest), str(path), digest)


def setting_text(text: str) -> str:
    """What the run's settings hold for `--teacher TEXT`: a built-in's name, or the model file's absolute path."""
    return teacher_of(text).path or text


# the model vmaf-tune's fast path verifies a proxy's pick with, whatever the height (`vmaf-tune fast --vmaf-model`)
VMAFTUNE_VERIFIER = TEACHER_MODEL


def verifier_note(teacher: Teacher) -> str | None:
    """What vmaf-tune does not do for a proxy of `teacher`, said wherever its rows leave the kit; None for its own."""
    if teacher.default:
        return None
    return (f"vmaf-tune's fast path verifies with {VMAFTUNE_VERIFIER} whatever the height (fast.py's fast_recommend; "
            f"`vmaf-tune fast --vmaf-model` defaults to it), not with this teacher, {teacher.name}: its 1.5-point "
            "check compares a proxy of this teacher with another model's score")
