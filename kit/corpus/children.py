"""A corpus job's children (its encode or the shared decode, its scoring, the independent check, a sample job's),
run and, when one fails, said of its clip in the kit's words (`libvmaf crashed (SIGSEGV) scoring tiny.y4m at libx264
cq 37`): the clip is left out and the run goes on (kit.corpus.failures.failed_clips; docs/design/robustness.md, "A
child that fails").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path, PurePath
from typing import Protocol

from kit.corpus.shared import Job as SharedJob
from kit.errors import ToolError
from kit.infra.proc import LogFn, ProcResult, TimedOut, run_process
from kit.infra.shown import Spelled, heard, spelled_path
from kit.media.ffmpeg import how_it_ended


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

    def __init__(self, message: str, hint: str = "", stderr_tail: str = "", clip_path: str = "",
                 retry_helps: bool = False) -> None:
        super().__init__(message, hint, stderr_tail)
        self.clip_path = clip_path
        self.retry_helps = retry_helps


def job_words(job: Job, what: str = "") -> str:
    """A job as every line of the corpus step names it (its failure, a redo and why): `tiny.y4m at libx264 cq 37` (at
    320x180 for a rung), `what` after the clip (a sample job: kit.corpus.samples.WHAT)."""
    rung = f" at {job.size.width}x{job.size.height}" if job.rendition is not None else ""
    return f"{Path(job.clip.path).name}{what} at {job.encoder} cq {job.cq}{rung}"


def child_failure(job: Job, program: str, how: str, doing: str, *, said: str = "", tail: str = "",
                  given: Sequence[str] = (), retry_helps: bool = False, what: str = "") -> JobFailed:
    """A child of `job` that failed, in the kit's words: `libvmaf crashed (SIGSEGV) scoring tiny.y4m at libx264 cq
    37`, then what ffmpeg said (`said`, its telling line) where it said something; `said` and `how` read as heard of
    the command it ran (`given`, its argv) and of the clip (kit.infra.shown)."""
    known = [*given, spelled_path(job.clip.path)]
    hint = ("not the clip's fault: the same command again tries its jobs again (the finished ones are kept)"
            if retry_helps else
            f"the same job fails again (job {job.job_id}): its command and stderr are in the step log "
            "(02_corpus/logs/corpus.log); fix or replace the clip, or report it with that log")
    return JobFailed(Spelled(PurePath(job.clip.path), ": ", heard(f"{program} {how} {doing} {job_words(job, what)}",
                                                                  known),
                             *((": ", heard(said, known)) if said else ())),
                     hint=hint, stderr_tail=tail, clip_path=job.clip.path, retry_helps=retry_helps)


def run_child(job: Job, argv: Sequence[str], program: str, doing: str, *, timeout_s: float, log: LogFn,
              what: str = "", on_stdout_line: Callable[[str], None] | None = None) -> ProcResult:
    """run_process for a child of `job` (`on_stdout_line`: its -progress lines); JobFailed in the kit's words when it
    runs past its timeout (a hang comes again: no retry), or ends otherwise than by exit 0
    (kit.media.ffmpeg.how_it_ended; a full disk is the box's, not the clip's: no clip named, the step stops)."""
    try:
        res = run_process(argv, timeout_s=timeout_s, log=log, on_stdout_line=on_stdout_line)
    except TimedOut as exc:
        raise child_failure(job, program, f"timed out after {exc.timeout_s:.0f} s", doing, tail=exc.stderr_tail,
                            given=argv, what=what) from None
    if res.returncode != 0:
        how, said, again = how_it_ended(res)
        failed = child_failure(job, program, how, doing, said=said, tail=res.stderr_tail, given=res.argv,
                               retry_helps=again, what=what)
        if again and res.killed_by is None:  # a full disk: the box's, not the clip's; the step stops (`retry:`)
            failed.clip_path = ""
        raise failed
    return res


