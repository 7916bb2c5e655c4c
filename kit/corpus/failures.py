"""What a corpus step's jobs that failed (or its sample jobs') come to: the clips a job of which failed in a child,
each left out in the kit's words (kit.corpus.children.JobFailed), those a rerun tries again (the box's or the
moment's: a stall, a kill from outside, the clip changed while the jobs ran), and what refuses the step (a teacher
file changed while the jobs ran, the out-dir moved, a failure no clip is to blame for)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import PurePath

from kit.corpus.children import JobFailed, OutDirFault, OutDirMoved
from kit.errors import InputError, ToolError
from kit.infra import ended
from kit.infra.records import NAMES_FILE, Record, keep
from kit.infra.rules import COUNT, OneOf
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
    if moved := next((f for f in failures if isinstance(f, OutDirMoved | OutDirFault)), None):
        raise moved  # the out-dir's: one line naming it, never a count of jobs
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
        left_out[path] = Unusable(path, Spelled(failure.message, left), failure.hint, failure.retry_helps or None,
                                  failure.moment if failure.retry_helps else None)
    return left_out, [path for path, failure in first.items() if failure.retry_helps], rest


# A clip left out for the box's or the moment's cause is tried again by every run; where the same cause leaves it out
# run after run, the words say so and give the fix of that cause (never the clip's refusal: it is tried again still).
# FIXES: each moment (ended.MOMENTS, typed where the clip is left out: how its child ended, or its file changed):
# its fix. The words of its reason are never read back to tell it.
FEWER_HINT = "run fewer jobs at once (--jobs 1) or free memory (close other programs), then the same command again"
FIXES: dict[str, str] = {
    "memory": f"the box ran out of memory for it: {FEWER_HINT}",
    "files": f"the box ran out of open files for it: raise the limit (ulimit -n 4096), or {FEWER_HINT}",
    "killed": f"something killed its ffmpeg each time (the system out of memory, most often: see dmesg): {FEWER_HINT}",
    "stopped": "something outside the kit stopped its ffmpeg each time (kill -STOP, a debugger, a job control of its "
               "own): find it and stop it, then the same command again",
    "stall": f"its ffmpeg gave no frames each time: a disk or share that stalls, or the box short of memory; "
             f"{FEWER_HINT}",
    "changed": "the file changed under the run each time: run again once it is final",
}


@dataclass(frozen=True)
class Repeat(Record):
    """A clip the box or the moment left out, of which cause, and in how many runs in a row."""

    path: str = field(metadata=NAMES_FILE)
    kind: str = field(metadata=keep(OneOf(ended.MOMENTS)))
    runs: int = field(metadata=keep(COUNT))


@dataclass(frozen=True)
class Repeats(Record):
    """`02_corpus/repeats.json`: the clips the last corpus run left out for the box's or the moment's cause, each with
    its kind and how many runs in a row left it out so; the box's own (never sent), read by the next run's step to
    say a cause that comes again (`repeated`)."""

    repeats: tuple[Repeat, ...]


def ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def repeated(unusable: Sequence[Unusable], before: Repeats | None) -> tuple[list[Unusable], Repeats, list[str]]:
    """The clips left out, those of them the same moment (ended.MOMENTS) left out in the run before too said so (`the
    3rd run in a row`) with that moment's fix (FIXES); the record of this run's; the paths whose words changed. A
    clip is never refused for it: it is tried again, as each run's is."""
    runs = {(r.path, r.kind): r.runs for r in (before.repeats if before is not None else ())}
    out, kept, changed = [], [], []
    for u in unusable:
        kind = u.moment if u.again and u.moment in FIXES else None
        if kind is None:
            out.append(u)
            continue
        n = runs.get((u.path, kind), 0) + 1
        kept.append(Repeat(u.path, kind, n))
        if n < 2:
            out.append(u)
            continue
        changed.append(u.path)
        out.append(replace(u, reason=Spelled(u.reason, f"; the {ordinal(n)} run in a row to leave it out so"),
                           fix=f"left out for the same cause in {n} runs in a row: {FIXES[kind]}"))
    return out, Repeats(tuple(kept)), changed
