"""A corpus job's children (its encode or the shared decode, its scoring, the independent check, a sample job's),
run and, when one fails, said of its clip in the kit's words (`libvmaf crashed (SIGSEGV) scoring tiny.y4m at libx264
cq 37`): the clip is left out and the run goes on (kit.corpus.failures.failed_clips; docs/design/robustness.md, "A
child that fails"). What the box or the moment did (a stall, a kill from outside, a full disk, a work folder or
out-dir gone, the clip changed under the job: `moment_of`) is said in the box's words and tried again by the next run,
never the clip's verdict.
"""

from __future__ import annotations

import errno
import math
from collections.abc import Callable, Sequence
from pathlib import Path, PurePath
from typing import Protocol

from kit.corpus.shared import Job as SharedJob
from kit.errors import ToolError
from kit.infra.ended import Ended, moment_of_end
from kit.infra.files import OWN_CAUSES, disk_full_at
from kit.infra.proc import LogFn, ProcResult, TimedOut, run_process
from kit.infra.shown import Spelled, found, heard, spelled_path
from kit.infra.tree import Tree
from kit.media.ffmpeg import CAPPED_FIX, end_of, how_it_ended, how_it_stopped, on_full_disk


class Job(SharedJob, Protocol):
    """What a failure says of a corpus job (kit.corpus.jobs.Job): its clip, size, id, encoder and cq."""

    @property
    def encoder(self) -> str: ...

    @property
    def cq(self) -> int: ...


class JobFailed(ToolError):
    """A job (or a sample job) whose child failed, said of its clip (`clip_path`) in the kit's words: its clip is left
    out of the corpus (kit.steps.s02_corpus), the run goes on. `retry_helps`: the same job can end otherwise (a kill
    from outside, a full disk), never for a crash, an exit code of ffmpeg's, a hang or an output that is wrong."""

    # the moment that left its clip out (kit.infra.ended.MOMENTS), typed: what a repeat is told by, never its words
    moment: str | None = None

    def __init__(self, message: str, hint: str = "", stderr_tail: str = "", clip_path: str = "",
                 retry_helps: bool = False, end: Ended | None = None) -> None:
        super().__init__(message, hint, stderr_tail)
        self.clip_path = clip_path
        self.retry_helps = retry_helps
        if (moment := moment_of_end(end)) is not None:  # `end`: how its child ended, where one did (kit.infra.ended)
            self.moment = moment


def job_words(job: Job, what: str = "") -> str:
    """A job as every line of the corpus step names it (its failure, a redo and why): `tiny.y4m at libx264 cq 37` (at
    320x180 for a rung), `what` after the clip (a sample job: kit.corpus.samples.WHAT)."""
    rung = f" at {job.size.width}x{job.size.height}" if job.rendition is not None else ""
    return f"{Path(job.clip.path).name}{what} at {job.encoder} cq {job.cq}{rung}"


AGAIN = "not the clip's fault: the same command again tries its jobs again (the finished ones are kept)"
CAPPED_HINT = f"{CAPPED_FIX}: the same command then tries its jobs again (the finished ones are kept)"


def child_failure(job: Job, program: str, how: str, doing: str, *, said: str = "", tail: str = "",
                  given: Sequence[str] = (), retry_helps: bool = False, what: str = "", capped: bool = False,
                  full_disk: bool = False, end: Ended | None = None) -> JobFailed:
    """A child of `job` that failed, in the kit's words: `libvmaf crashed (SIGSEGV) scoring tiny.y4m at libx264 cq
    37`, then what ffmpeg said (`said`, its telling line) where it said something; `said` and `how` read as heard of
    the command it ran (`given`, its argv) and of the clip (kit.infra.shown). `capped`: stopped by KIT_TIMEOUT_S,
    whose hint raises it; `full_disk`: the box's, not the clip's (no clip named: the step stops); `end`: how the
    child ended, typed."""
    known = [*given, spelled_path(job.clip.path)]
    hint = (CAPPED_HINT if capped else AGAIN if retry_helps else
            f"the same job fails again (job {job.job_id}): its command and stderr are in the step log "
            "(02_corpus/logs/corpus.log); fix or replace the clip, or report it with that log")
    return JobFailed(Spelled(PurePath(job.clip.path), ": ", found(f"{program} {how} {doing} {job_words(job, what)}",
                                                                  known),
                             *((heard(said, known, lead=": "),) if said else ())),
                     hint=hint, stderr_tail=tail, clip_path="" if full_disk else job.clip.path,
                     retry_helps=retry_helps, end=end)


def run_child(job: Job, argv: Sequence[str], program: str, doing: str, *, stall_s: float, log: LogFn,
              what: str = "", on_stdout_line: Callable[[str], None] | None = None) -> ProcResult:
    """run_process for a child of `job` writing ffmpeg's `-progress` lines to stdout (`on_stdout_line` hears them):
    stopped once it counts no frame on for `stall_s` of its own time, whatever its length (kit.infra.clock.OwnTime).
    JobFailed in the kit's words when it stalls (the box's or the moment's: tried again), or ends otherwise than by
    exit 0 (kit.media.ffmpeg.how_it_ended; a full disk is the box's, not the clip's: no clip named, the step stops)."""
    try:
        res = run_process(argv, timeout_s=math.inf, log=log, on_stdout_line=on_stdout_line, stall_s=stall_s,
                          frames=True)
    except TimedOut as exc:
        stop = how_it_stopped(exc)
        raise child_failure(job, program, stop.how, doing, said=stop.said, tail=exc.stderr_tail, given=argv, what=what,
                            retry_helps=True, capped=stop.capped, end=exc.ended) from None
    if res.returncode != 0:
        how, said, again = how_it_ended(res)
        raise child_failure(job, program, how, doing, said=said, tail=res.stderr_tail, given=res.argv,
                            retry_helps=again, what=what, full_disk=on_full_disk(res), end=end_of(res))
    return res


class ClipChanged(JobFailed):
    """A clip whose file changed after its look (cut short, re-exported, replaced): what its job made is not of the
    content hashed, whatever its child said. The moment's, never the clip's verdict: left out of this run, and the
    next one hashes it again and tries its jobs again."""

    moment = "changed"

    def __init__(self, job: Job, why: str) -> None:
        super().__init__(Spelled(PurePath(job.clip.path), f" changed while the run was going ({why}): rows made from "
                                 "it would carry the sha256 of the content hashed at the start, so the rows of job "
                                 f"{job.job_id} were discarded"),
                         hint="not the clip's fault: the same command again, once the file is final, hashes it "
                              "again and tries its jobs again (the finished ones of other clips are kept)",
                         clip_path=job.clip.path, retry_helps=True)


class OutDirFault(JobFailed):
    """The out-dir's disk full (ENOSPC), or its job's folder unwritable (EPERM, EACCES, EROFS), while the jobs ran (a
    child's output cut short or never made, a log libvmaf could not finish: whatever its child said): no clip's, the
    step stops naming the folder, and the same command goes on once it is mended."""

    def __init__(self, root: Path, err: int = errno.ENOSPC) -> None:
        fix = "free space on the disk of the out-dir" if err == errno.ENOSPC else "make the out-dir writable again"
        super().__init__(OWN_CAUSES[err].format(folder=root, role="out-dir"),
                         hint=f"{fix}, or choose another --out-dir; then run the same command again: every finished "
                              "job is kept and half-written files are never used",
                         retry_helps=True)


def unwritable(tree: Tree, work: Path) -> int | None:
    """The errno of a file that cannot be made in the job's folder `work` (an immutable or read-only out-dir: root
    is refused there too), or None where one can (or the folder is gone: moment_of's other cases)."""
    if not tree.is_folder(work):
        return None
    try:
        tree.write_bytes(work / ".writable", b"")
        tree.remove(work / ".writable")
    except OSError as exc:
        return exc.errno if exc.errno in (errno.EPERM, errno.EACCES, errno.EROFS) else None
    return None


class OutDirMoved(JobFailed):
    """The out-dir was moved, renamed or removed while the jobs ran: every child given a path in it fails from then
    on (ffmpeg's exit 254, `No such file or directory`), none for its clip. The step stops (its finished jobs are in
    the folder, wherever it went), and the same command where it was tries them again."""

    def __init__(self, root: Path, became: str) -> None:
        super().__init__(Spelled("the out-dir ", root, f" was moved, renamed or removed while the corpus jobs ran "
                                 f"({became}): the jobs' ffmpegs write under its path, so none can finish"),
                         hint=Spelled("put it back at ", root, " and run the same command again: its finished jobs "
                                      "are kept and the rest are tried again (or run with --out-dir set to where it "
                                      "is now)"),
                         retry_helps=True)


def moment_of(failed: JobFailed, job: Job, tree: Tree, work: Path) -> JobFailed:
    """`failed` as the job's moment said it, where the moment is to blame rather than the clip: the clip changed on
    disk (ClipChanged, whatever its child said), the out-dir's disk full (OutDirFault) or the out-dir moved
    (OutDirMoved: the step stops), the job's work folder removed while it ran; else `failed` as it was."""
    if isinstance(failed, ClipChanged):
        return failed
    if why := job.clip.changed_on_disk():
        return ClipChanged(job, why)
    if disk_full_at(tree.root):  # whatever its child said of what it could not write (never a parser's words)
        return OutDirFault(tree.root)
    if (err := unwritable(tree, work)) is not None:
        return OutDirFault(tree.root, err)
    if failed.retry_helps:
        return failed
    if (became := tree.moved()) is not None:
        return OutDirMoved(tree.root, became)
    if not tree.is_folder(work):
        return JobFailed(Spelled(PurePath(job.clip.path), f": the work folder of {job_words(job)}, ", work,
                                 ", was removed while its job ran, so its ffmpeg could not write there: not the "
                                 "clip's fault"),
                         hint=AGAIN, stderr_tail=failed.stderr_tail, clip_path=job.clip.path, retry_helps=True)
    return failed
