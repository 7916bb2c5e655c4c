"""`--teacher`: a built-in libvmaf model's name or a model file, checked without ffmpeg and hashed (its identity)."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path, PurePath

from kit.errors import InputError
from kit.infra.limits import MAX_TEACHER_BYTES, human_bytes
from kit.infra.outside import JsonRefused, load_json
from kit.infra.shown import Spelled
from kit.media.libvmaf import BUILTIN_TEACHERS, DEFAULT_TEACHER, MODEL_SEPARATOR, TEACHER_MODEL, Teacher

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
    return raw


def teacher_of(text: str) -> Teacher:
    """The teacher `--teacher TEXT` names: a built-in by its name, else a model file (checked, hashed, absolute)."""
    if text in BUILTIN_TEACHERS:
        return DEFAULT_TEACHER if text == TEACHER_MODEL else Teacher(text)
    path = Path(os.path.abspath(Path(text).expanduser()))
    raw = read_model_file(path)
    name = path.name.removesuffix(".json") or path.name
    return Teacher(name, str(path), hashlib.sha256(raw).hexdigest())


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
