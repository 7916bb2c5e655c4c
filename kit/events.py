"""Typed events: steps emit them, one UI module renders them; `kind` is the NDJSON `event` name (`--json`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Event:
    kind = "event"

    def to_json(self) -> dict[str, object]:
        return {"event": self.kind, **asdict(self)}


@dataclass(frozen=True)
class RunStarted(Event):
    kind = "run_started"
    out_dir: str
    steps: list[str]
    kit_version: str


@dataclass(frozen=True)
class StepStarted(Event):
    kind = "step_started"
    step: str
    reason: str


@dataclass(frozen=True)
class StepSkipped(Event):
    kind = "step_skipped"
    step: str
    reason: str


@dataclass(frozen=True)
class StepFinished(Event):
    kind = "step_finished"
    step: str
    seconds: float
    summary: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class StepFailed(Event):
    kind = "step_failed"
    step: str
    message: str
    hint: str


@dataclass(frozen=True)
class Info(Event):
    kind = "info"
    step: str
    message: str


@dataclass(frozen=True)
class Doing(Event):
    """What a step is doing now (`reading clip 3 of 10: a.mp4`), for the plain lines' heartbeat (report.terminal); the
    work of LOSO, the verdict and the bundle after their training says how far it is (`done`), which the run's ETA
    counts (kit.report.eta)."""

    kind = "doing"
    step: str
    what: str
    done: float | None = None  # of the step's work after its training, the share done (0 to 1); None: not said


@dataclass(frozen=True)
class CheckTable(Event):
    """Rows of (check, result, detail), e.g. the prereqs table; a detail may end with its hint after HINT_MARK."""

    kind = "checks"
    step: str
    rows: list[list[str]]


HINT_MARK = " - hint: "  # in a check row's detail (CheckTable, `detect`'s rows): what was found, then the fix


def split_hint(detail: str) -> tuple[str, str]:
    """(what was found, its hint: "" when the detail has none)."""
    found, _, hint = detail.partition(HINT_MARK)
    return found, hint


@dataclass(frozen=True)
class JobsPlanned(Event):
    """The corpus step's jobs, the one count its line, the bar, an interrupt and `status` (its plan.json) say: the
    clip x encoder x cq jobs (x rung where the ladder has a rung below a clip's size), then the sample jobs (`samples`
    of `total`: the consumer's samplings encoded on their own, kit.corpus.samples), each counted done as it ends."""

    kind = "jobs_planned"
    total: int
    reused: int
    # per encoder, per source, the pixel-frames of the jobs still to run, sample jobs too: the corpus's work
    # (kit.report.eta)
    work: dict[str, dict[str, float]] = field(default_factory=dict)
    workers: int = 0  # how many jobs run at once
    samples: int = 0  # of `total`, the sample jobs
    rungs: bool = False  # the jobs are one per ladder rung of a clip too (a rung below its size: --scales)


@dataclass(frozen=True)
class JobsDropped(Event):
    """The sample jobs of the clips the corpus step left out after their corpus jobs (a job failed, the independent
    check refused the clip), dropped from its one count before they run: from now on the step's jobs are `total` (of
    which `samples` sample jobs), on the line, the bar, each job_done, an interrupt and in its plan.json."""

    kind = "jobs_dropped"
    total: int
    samples: int
    dropped: int  # the sample jobs no longer run
    reused: int = 0  # of `dropped`, those an earlier run did (counted done when planned)
    work: float = 0.0  # the pixel-frames of the others, taken out of the corpus's work (kit.report.eta)


@dataclass(frozen=True)
class Forecast(Event):
    """The work of a step still to come (or the rest of the one running), in the run's unit (kit.model.cost)."""

    kind = "forecast"
    step: str
    work: float
    training: float = 0.0  # of which training (its pace is measured apart)
    setup: float = 0.0  # of the rest, the part done before the step's training starts (0: a share of it, the ETA's)


@dataclass(frozen=True)
class JobStarted(Event):
    """A (clip, rung, encoder, cq) job that really runs (reused jobs never start)."""

    kind = "job_started"
    job_id: str
    src: str
    encoder: str
    cq: int
    frames: int
    rung: str = ""  # the encode's size (`320x180`) for a ladder rung below the clip's own; "" at its own size
    work: float = 0.0  # its pixel-frames: frames x (encode pixels + scoring pixels)


@dataclass(frozen=True)
class JobProgress(Event):
    """Frames through one phase (`encode`, then `score`) of a running job; `encodes`: how many jobs' encodes it makes
    (a shared decode's batch encodes its jobs' in one ffmpeg; they then only score)."""

    kind = "job_progress"
    job_id: str
    phase: str
    frames_done: int
    frames: int
    fps: float
    encodes: int = 1


@dataclass(frozen=True)
class JobDone(Event):
    kind = "job_done"
    job_id: str
    done: int
    total: int
    reused: bool
    rows: int
    enc_time_ms: float
    vmaf_mean: float
    score_time_ms: float = 0.0
    enc_fps: float = 0.0  # frames / encode seconds; 0 for a reused job


@dataclass(frozen=True)
class JobFailed(Event):
    kind = "job_failed"
    job_id: str
    message: str
    stderr_tail: str


@dataclass(frozen=True)
class Epoch(Event):
    kind = "epoch"
    step: str
    epoch: int
    epochs: int
    members: int
    loss: float
    work: float = 0.0  # the work this training has done so far, in the run's unit of work (kit.model.cost)


@dataclass(frozen=True)
class Eta(Event):
    """The whole run's time left (kit.report.eta), made by the renderer from the events before it."""

    kind = "eta"
    seconds_left: float | None  # every step still to run, the running one included; None while estimating
    elapsed_s: float  # since the run started
    step: str  # the step running
    done: float = 0.0  # the share of the run's work done (0 to 1)
    steps_left: dict[str, float] = field(default_factory=dict)  # per step still to run, its seconds
    basis: str = "estimating"  # "estimating" (no figure yet) or "measured": this run's own pace
    overdue_s: float = 0.0  # the seconds the running step has worked past its own estimate, no work counted since


@dataclass(frozen=True)
class VerdictReached(Event):
    kind = "verdict"
    verdict: str
    mean_plcc: float
    plcc_spread: float
    path: str
    # why the PLCC gate judged nothing (the student is the teacher's function), and why the consumer gates did
    not_judged: str | None = None
    consumer_not_judged: str | None = None
    # why the seed spread judged nothing (every seed is one student: its spread is 0 by construction)
    seeds_not_judged: str | None = None


@dataclass(frozen=True)
class BundleWritten(Event):
    kind = "bundle_written"
    path: str
    files: int
    sha256: str


@dataclass(frozen=True)
class RunError(Event):
    """The run stopped on a user-facing error (bad input, missing prerequisite, failed jobs) or a bug."""

    kind = "error"
    message: str
    hint: str
    exit_code: int
    retry: str


@dataclass(frozen=True)
class RunFinished(Event):
    """Always the last event of a run: its exit code and where the results are."""

    kind = "run_finished"
    exit_code: int
    seconds: float
    verdict: str | None = None
    tarball: str | None = None
    report: str | None = None


Emit = Callable[[Event], None]
