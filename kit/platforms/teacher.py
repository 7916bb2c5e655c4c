"""The teacher check: libvmaf scores a test pair with --teacher's model (and the opt-in features, when asked for) on
this ffmpeg before any corpus encode (the default teacher: kit.platforms.probe.check_libvmaf)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from kit.errors import InputError
from kit.infra.perms import require_trusted
from kit.infra.proc import LogFn, ProcResult
from kit.infra.records import Record, keep, read_record
from kit.infra.shown import KEPT_TEXT, Spelled, heard, spelled_from, spelled_path
from kit.infra.tree import Tree
from kit.media.argv import build_encode_argv, build_score_argv
from kit.media.ffmpeg import how_it_ended, telling_line
from kit.media.libvmaf import (
    BUILTIN_TEACHERS,
    CANONICAL6,
    CANONICAL6_V1,
    EXTRA_SAID,
    Teacher,
    parse_vmaf_log,
)
from kit.media.teachers import FLAG, HINT, read_model_file, teacher_of
from kit.platforms.encoders import get_spec
from kit.platforms.probe import PAIR_FPS, PROBE_SIZE, VMAF_CHECK_CQ, render_probe_clip, run_probe

TEACHER_CHECK_SIZE = PROBE_SIZE
INPUTS_FLAG = "--inputs"
TEACHER_CHECK_FRAMES = 3


def trusted_teacher(text: str) -> Teacher:
    """The teacher `--teacher TEXT` names; a model file held to the trust rule (it decides every score)."""
    teacher = teacher_of(text)
    if teacher.path:
        require_trusted(Path(teacher.path), FLAG)
    return teacher


def own_keys(ffmpeg: str, teacher: Teacher) -> tuple[str, ...]:
    """The keys libvmaf logs `teacher`'s own six under, where it computes them with options of its own (NEG), for
    the corpus to store beside the six (kit.media.libvmaf.TEACHER_FEATURES); () for a teacher of the six at
    libvmaf's defaults, or one the kit cannot read as an SVR (the loso step says why)."""
    from kit.media.svr import NotReproducible, builtin_model_text, parse_model

    if teacher.default:
        return ()
    try:
        text = builtin_model_text(Path(ffmpeg), teacher.name) if teacher.builtin else \
            read_model_file(Path(teacher.path)).decode("utf-8", "replace")
        model = parse_model(text, teacher.name)
    except NotReproducible:
        return ()
    return model.log_keys if model.own_features else ()


@dataclass(frozen=True)
class SizeAnswer(Record):
    """The kit's cache's `teacher-sizes/<key>.json`: what the teacher check found for one reference size on one ffmpeg,
    libvmaf and teacher (its key): why the teacher scores no frame of `size` ("" when it does), kept with its paths
    (kit.infra.shown.spelled_document: a plain text, or an object of its parts)."""

    size: str
    teacher: str
    cause: str | dict[str, object] = field(metadata=keep(KEPT_TEXT))


def kept_size_answer(cache: Tree, path: Path) -> tuple[str | None, Spelled | None]:
    """The cause a SizeAnswer at `path` keeps (None where none is kept), and, where the record is there but damaged,
    what its reader says once before the check is run again and the record written anew (None otherwise)."""
    answer, why = read_record(SizeAnswer, cache, path)
    if answer is not None:
        return spelled_from(answer.cause), None
    return None, None if why == "missing" else Spelled("the kit's cache ", path, f" is {why}: the teacher's check "
                                                         "of that size is run again")


def smaller_sizes(sizes: dict[str, tuple[int, int]]) -> dict[str, list[str]]:
    """Each reference size below TEACHER_CHECK_SIZE (which step 01 did not vouch for), and its clips."""
    cw, ch = (int(v) for v in TEACHER_CHECK_SIZE.split("x"))
    found: dict[str, list[str]] = {}
    for clip, (w, h) in sorted(sizes.items()):
        if w < cw or h < ch:
            found.setdefault(f"{w}x{h}", []).append(clip)
    return found


def clips_label(clips: list[str]) -> str:
    """The first clip (a path, kit.infra.shown), and how many more of its size."""
    return Spelled(PurePath(clips[0]), f" (and {len(clips) - 1} more of that size)" if len(clips) > 1 else "")


class SizeRefused(InputError):
    """A reference size the teacher scores no frame of: libvmaf's cause kept apart from the clips it names."""

    def __init__(self, message: str, hint: str, cause: str) -> None:
        super().__init__(message, hint=hint)
        self.cause = cause


def named(teacher: Teacher, extra: bool) -> str:
    """The teacher as its flags name it, in a refusal (a model file by its path, kit.infra.shown)."""
    return Spelled(f"{FLAG} ", PurePath(teacher.path) if teacher.path else teacher.name,
                   f" with {INPUTS_FLAG} {CANONICAL6_V1}" if extra else "")


def size_refusal(teacher: Teacher, extra: bool, size: str, clip: str, cause: str) -> SizeRefused:
    """The refusal of a reference size the teacher or the opt-in features cannot score, and what to do about it."""
    builtins = f"a built-in teacher ({', '.join(BUILTIN_TEACHERS)})"
    other = f"{INPUTS_FLAG} {CANONICAL6} (without {EXTRA_SAID})" if extra and teacher.builtin else \
        f"{builtins} with {INPUTS_FLAG} {CANONICAL6}" if extra else f"{builtins}, which scores any size"
    return SizeRefused(Spelled(named(teacher, extra), f" scores no {size} frames, the size of ", clip, ": ", cause),
                       Spelled("CAMBI and SpEED, among the opt-in features, refuse small pictures: leave ", clip,
                               f" out of --ref-dir, or use {other}"), cause)


def check_teacher(ffmpeg: str, teacher: Teacher, work: Path, log: LogFn | None = None, extra: bool = False,
                  size: str = TEACHER_CHECK_SIZE, clip: str = "") -> str:
    """A prereqs line for `teacher` scoring a test pair of `size`; a teacher libvmaf cannot score with is exit 2."""
    ref = render_probe_clip(ffmpeg, work / "teacher-ref.y4m", size, TEACHER_CHECK_FRAMES, log=log)
    spec = get_spec("libx264")
    distorted = work / f"teacher-probe.{spec.container}"
    # through run_probe: an ffmpeg ended by a signal proves nothing, so no size is refused (and cached) for it
    enc = run_probe(build_encode_argv(ffmpeg, ["-i", spelled_path(ref)], spec, VMAF_CHECK_CQ, distorted),
                    "teacher check's test encode", log)
    if enc.returncode != 0 or not distorted.is_file():  # check_libvmaf's encode of the same kind passed before
        raise InputError(f"the teacher check's test encode failed: {telling_line(enc.stderr)}",
                         hint="rerun the prereqs step; if it fails again, use another ffmpeg (--ffmpeg PATH)")
    log_path = work / "teacher vmaf.json"
    w, h = (int(v) for v in size.split("x"))
    res = run_probe(build_score_argv(ffmpeg, distorted, ["-i", spelled_path(ref)], w, h, "yuv420p", log_path, 1,
                                     teacher=teacher, extra=extra, fps=PAIR_FPS), "teacher check's score", log)
    failed, mean = _scored(res, log_path, extra)
    if failed and clip:  # step 01 scored the test size: what fails now is this size
        raise size_refusal(teacher, extra, size, clip, failed)
    if failed:
        raise InputError(Spelled(named(teacher, extra), ": ", failed),
                         hint=HINT + "; the model must use features and options this libvmaf has")
    return (f"{teacher.label} scored a {size} test pair (mean {mean:.2f})"
            + (f", with {EXTRA_SAID}" if extra else ""))


def _scored(res: ProcResult, log_path: Path, extra: bool) -> tuple[str, float]:
    """Why libvmaf's test score failed ("" when it did not), and the mean score."""
    if res.returncode != 0:  # in the kit's words (a crash: its signal), then libvmaf's, each path found in them
        how, said, _ = how_it_ended(res)
        return Spelled(f"this ffmpeg's libvmaf {how} scoring a test pair with it",
                       *((heard(said, res.argv, lead=": "),) if said else ())), math.nan
    if not log_path.is_file() or "no feature" in res.stderr:
        return Spelled("this ffmpeg's libvmaf cannot score with it",
                       heard(telling_line(res.stderr), res.argv, lead=": ")), math.nan
    try:
        vlog = parse_vmaf_log(log_path, extra)
    except ValueError as exc:
        return f"libvmaf scored with it, but its log lacks what the kit reads: {exc}", math.nan
    mean = float(vlog.vmaf.mean())
    if vlog.n_frames != TEACHER_CHECK_FRAMES or not math.isfinite(mean):
        return f"libvmaf gave {vlog.n_frames} scores of {TEACHER_CHECK_FRAMES} test frames (mean {mean})", mean
    return "", mean
