"""What a corpus step's jobs that failed (or its sample jobs') come to: the clips a job of which failed in a child,
each left out in the kit's words (kit.corpus.children.JobFailed), those a rerun tries again (the box's or the
moment's: a stall, a kill from outside, the clip changed while the jobs ran), and what refuses the step (a teacher
file changed while the jobs ran, the out-dir moved, a failure no clip is to blame for)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath

from kit.corpus.children import JobFailed, OutDirMoved
from kit.errors import InputError, ToolError
from kit.infra.shown import Spelled
from kit.media.discovery import Unusable
from kit.media.libvmaf import Teacher
from kit.media.refs import Clip
from kit.media.teachers import teacher_of

KEPT_HINT = "fix the cause and rerun: finished jobs are kept and will not be redone"


def failed_of(n_failed: int, n_jobs: int, what: str, left: str = "") -> str:
    """How many of how many jobs failed, as every line of the corpus step says it, before the first one's message:
    `2 of 8 corpus jobs failed; first: ` (`what`: corpus jobs, sample jobs; `left`: what that leaves, said after)."""
    return f"{n_failed} of {n_jobs} {what} failed{left}; first: "


def jobs_failed(said: str, first: ToolError, retry_helps: bool) -> JobFailed:
    """The step's refusal of its failed jobs: `said` (how many of how many), then the first one's message, a Spelled one
    kept one (its paths shown in what is sent), plain text never made one; `retry_helps`: whether the same command can
    end otherwise."""
    failed = JobFailed(Spelled(said, first.message) if isinstance(first.message, Spelled) else said + first.message,
                       hint=KEPT_HINT, stderr_tail=first.stderr_tail)
    failed.retry_helps = retry_helps
    return failed


def refuse_failures(failures: list[ToolError], n_jobs: int, teacher: Teacher, what: str = "corpus jobs") -> None:
    """After the jobs (`what`: corpus jobs, sample jobs): a teacher file that changed while they ran, the out-dir
    moved, or the jobs that failed for no clip's cause, refused."""
    if moved := next((f for f in failures if isinstance(f, OutDirMoved)), None):
        raise moved
    if teacher.path and teacher_of(teacher.path).sha256 != teacher.sha256:
        raise InputError(Spelled("--teacher ", PurePath(teacher.path), " changed while the run was going: rows scored "
                                 "with it would carry the sha256 of the file as it was at the start"),
                         hint="rerun once the model file is final: the prereqs step checks it again, and every job "
                              "is redone with it", retry_helps=True)
    if failures:  # what no clip is to blame for (ffmpeg cannot start, a full disk): the run stops, the fix is the box's
        raise jobs_failed(failed_of(len(failures), n_jobs, what), failures[0],
                          any(f.retry_helps for f in failures))


def failed_clips(failures: list[ToolError], clips: Sequence[Clip], strict: bool, n_jobs: int,
                 what: str = "corpus jobs") -> tuple[dict[str, Unusable], list[str], list[ToolError]]:
    """The clips a job of which failed in a child (kit.corpus.children.JobFailed), each left out with its first failure
    in the kit's words (with `strict`, or when none is left, the first refuses: exit 2, `retry:` only where a retry
    can change it); those of them a rerun tries again (a child killed from outside: the step's summary lists them,
    and the runner reruns the step for them); and the failures no clip is to blame for (a full disk, an ffmpeg that
    cannot start: refuse_failures stops the step)."""
    left_out: dict[str, Unusable] = {}
    first: dict[str, JobFailed] = {}
    rest: list[ToolError] = []
    for failure in failures:
        if isinstance(failure, JobFailed) and failure.clip_path:
            first.setdefault(failure.clip_path, failure)
        else:
            rest.append(failure)
    if first and (strict or len(first) == len(clips)):
        failure = next(iter(first.values()))
        if strict:
            raise failure
        raise jobs_failed(failed_of(len(failures) - len(rest), n_jobs, what, ", leaving no clip"), failure,
                          any(f.retry_helps for f in first.values()))
    for path, failure in first.items():
        left = "; its rows are left out of this run, and the next run tries them again" if failure.retry_helps else \
            "; its rows are left out"
        left_out[path] = Unusable(path, Spelled(failure.message, left), failure.hint, failure.retry_helps or None)
    return left_out, [path for path, failure in first.items() if failure.retry_helps], rest
