"""How long the run still takes: each step's work left of each kind (the corpus's jobs, training, the steps' rest),
in the run's one unit (kit.model.cost), at the pace this run has shown for that kind, its older seconds weighing less
(docs/collaborator.md, "The time left"). Until MEASURED_SHARE of the run's work is done it says it is estimating.

Its `eta` event is made by the renderer, never by a step.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from kit import events as ev
from kit.model.cost import FIXED_WORK, SETUP_SHARE

ETA_EVERY_S = 2.0  # an `eta` event at most this often, besides those at a step's start and end
MEASURED_SHARE = 0.1  # of the run's work done before an estimate is given as a figure
MEMORY_S = 120.0  # a pace's working seconds weigh e^(-age / MEMORY_S)
OVERDUE_SAID_S = 5.0  # a running step this far past its estimate (no work counted meanwhile) is said to be
PRIOR_S = 30.0  # a kind's pace, when it first works, starts as this many seconds at the pace that stood in for it
KINDS = ("jobs", "training", "rest")  # the corpus's jobs, the trainings, the steps' rest (torch, files, exports)
Key = tuple[str, str]  # (step, one of KINDS)


@dataclass(frozen=True)
class Estimate:
    seconds_left: float | None  # None: still estimating
    steps_left: dict[str, float]  # per step still to run, its seconds (empty while estimating)
    step: str
    done: float  # the share of the run's work done (of the run's own steps: a step it does not run is not counted)
    overdue_s: float = 0.0  # the seconds the running step has worked, no work counted, past its own estimate

    @property
    def measured(self) -> bool:
        return self.seconds_left is not None


@dataclass
class Pace:
    """A kind's work and working seconds, each second weighing less as newer ones come."""

    work: float = 0.0
    seconds: float = 0.0

    def add(self, work: float, seconds: float) -> None:
        keep = math.exp(-seconds / MEMORY_S)
        self.work, self.seconds = self.work * keep + work, self.seconds * keep + seconds


@dataclass
class RunningJob:
    """A corpus job's work (half its encode, half its scoring) and its frames through each phase; `encodes`: the
    jobs' encodes its encode phase makes (a shared decode's batch: its other jobs then only score, 0 for those)."""

    work: float
    frames: int
    key: tuple[str, str]  # its clip and rung: a shared decode's batch has one of each (its encoders may be several)
    encode: int = 0
    score: int = 0
    encodes: int = 1

    def counted(self, ended: bool = False) -> float:
        """Its work done so far (all of it once it has ended)."""
        if ended:
            return self.work / 2 * (self.encodes + 1)
        return self.work / 2 * (self.encodes * self.encode + self.score) / self.frames


class RunClock:
    """The run's work planned and done per step and kind, and each kind's pace; `feed` it every event with its time
    (monotonic seconds), ask it `left`."""

    def __init__(self) -> None:
        self.steps: list[str] = []
        self.ended: set[str] = set()
        self.current = ""
        self.planned: dict[Key, float] = {}
        self.done: dict[Key, float] = {}
        self.jobs: dict[str, RunningJob] = {}
        self.encoded: dict[tuple[str, str], int] = {}  # per key, the encodes counted for jobs yet to score
        self.trained = (0.0, 0.0)  # the running step's trainings: work of those ended, and of the current one
        self.loading = False  # the running step has not trained yet
        self.setups: dict[str, float] = {}  # per step, its rest's part before its training (Forecast.setup)
        self.after: dict[str, float] = {}  # per step, its rest done when its work after training first said how far
        self.paces: dict[Key, Pace] = {}
        self.latest: dict[str, Key] = {}  # per kind, the step whose pace of it was measured last
        self.worked_at = 0.0  # when work was last done (or a step or the corpus's jobs began)
        self.began: float | None = None  # when the first event came

    def feed(self, e: ev.Event, now: float) -> bool:
        """Takes in one event; True when the estimate should be said at once (a plan, a step's start or end). The
        seconds since work was last done go to the step's kind this event did work of (its rest, when it did some)."""
        self.began = now if self.began is None else self.began
        before = dict(self.done)
        # a step's first word of how far its work after training is: its seconds before (a set-up that trained
        # nothing, a cluster's gather reading the union) are no part of that work's pace
        begins = isinstance(e, ev.Doing) and e.done is not None and e.step == self.current and e.step not in self.after
        changed = self._take(e)
        worked = {key: done - before.get(key, 0.0) for key, done in self.done.items() if done > before.get(key, 0.0)}
        if worked:
            key = next((k for k in worked if k[1] == "rest"), None) or max(worked, key=lambda k: worked[k])
            pace = self.paces.setdefault(key, Pace())
            if pace.seconds == 0 and (stand_in := self.speed(key)) is not None:
                prior = min(PRIOR_S, now - self.began)  # never more than the run has seen: a run of seconds
                pace.add(stand_in * prior, prior)
            pace.add(worked[key], now - self.worked_at)
            self.latest[key[1]] = key
        if worked or begins or isinstance(e, ev.StepStarted | ev.JobsPlanned):
            self.worked_at = now
        return changed

    def speed(self, key: Key) -> float | None:
        """A step's kind's work a second; one not measured yet goes at the pace of that kind measured last (another
        step's), else at the corpus's, else at whatever was measured."""
        for k in (key, self.latest.get(key[1]), self.latest.get("jobs"), *self.latest.values()):
            pace = self.paces.get(k) if k is not None else None
            if pace is not None and pace.work > 0 and pace.seconds > 0:
                return pace.work / pace.seconds
        return None

    def _take(self, e: ev.Event) -> bool:
        """What `e` changes of the planned and done work, by its type; True when the estimate should be said at once.
        An event of another type (info, checks, the verdict, ...) changes nothing here."""
        match e:
            case ev.RunStarted():
                return self._on_run_started(e)
            case ev.StepStarted():
                return self._on_step_started(e)
            case ev.StepFinished() | ev.StepFailed():
                return self._on_step_finished(e)
            case ev.StepSkipped():
                return self._on_step_skipped(e)
            case ev.JobsPlanned():
                return self._on_jobs_planned(e)
            case ev.JobsDropped():
                self.planned["corpus", "jobs"] = self.planned.get(("corpus", "jobs"), 0.0) - e.work
                return True
            case ev.Forecast():
                return self._on_forecast(e)
            case ev.JobStarted():
                return self._on_job_started(e)
            case ev.JobProgress():
                return self._on_job_progress(e)
            case ev.JobDone() | ev.JobFailed():
                return self._on_job_done(e)
            case ev.Epoch():
                return self._on_epoch(e)
            case ev.Doing(done=float() | int()):
                return self._on_after(e)
            case _:
                return False

    def _plan(self, step: str, work: float, training: float = 0.0) -> None:
        self.planned[step, "rest"], self.planned[step, "training"] = work - training, training

    def _on_run_started(self, e: ev.RunStarted) -> bool:
        self.steps = list(e.steps)
        return False

    def _on_step_started(self, e: ev.StepStarted) -> bool:
        self.current, self.trained, self.loading = e.step, (0.0, 0.0), True
        self.after.pop(e.step, None)
        if (e.step, "rest") not in self.planned and e.step != "corpus":
            self._plan(e.step, FIXED_WORK.get(e.step, 0.0))
        return True

    def _on_step_finished(self, e: ev.StepFinished | ev.StepFailed) -> bool:
        self.ended.add(e.step)
        for kind in KINDS:
            self.done[e.step, kind] = self.planned.get((e.step, kind), 0.0)
        return True

    def _on_step_skipped(self, e: ev.StepSkipped) -> bool:
        self.ended.add(e.step)
        for kind in KINDS:
            self.planned.pop((e.step, kind), None)
        return True

    def _on_jobs_planned(self, e: ev.JobsPlanned) -> bool:
        work = sum(w for per in e.work.values() for w in per.values())
        self.planned["corpus", "jobs"], self.done["corpus", "jobs"], self.jobs = work or e.total - e.reused, 0.0, {}
        self.encoded = {}
        return True

    def _on_forecast(self, e: ev.Forecast) -> bool:
        """A step's work; the running step's is what is left of it, on top of what it has done."""
        ran = e.step == self.current
        if e.setup > 0:
            self.setups[e.step] = e.setup
        else:  # a forecast without it: the fixed share again (docs/events.md)
            self.setups.pop(e.step, None)
        self._plan(e.step, e.work + (sum(self.done.get((e.step, k), 0.0) for k in KINDS) if ran else 0.0),
                   e.training + (self.done.get((e.step, "training"), 0.0) if ran else 0.0))
        return True

    def _on_job_started(self, e: ev.JobStarted) -> bool:
        self.jobs[e.job_id] = RunningJob(e.work if e.work > 0 else 1.0, max(1, e.frames), (e.src, e.rung))
        return False

    def _through(self, job_id: str, phase: str = "", frames: int = 0, encodes: int = 1) -> None:
        """Counts a job's work done as its frames go through encode then score; with no phase, at its end (a failed
        one's too: the step fails once the others end). A job whose encode another's batch made (counted there)
        only scores."""
        job = self.jobs[job_id]
        if phase != "encode" and not job.encode and job.encodes and self.encoded.get(job.key, 0) > 0:
            self.encoded[job.key] -= 1
            job.encodes = 0
        was = job.counted()
        if phase == "encode" and encodes > job.encodes:
            self.encoded[job.key] = self.encoded.get(job.key, 0) + encodes - job.encodes
            job.encodes = encodes
        if phase:
            setattr(job, phase, min(job.frames, frames))
        self.done["corpus", "jobs"] = self.done.get(("corpus", "jobs"), 0.0) + job.counted(not phase) - was

    def _on_job_progress(self, e: ev.JobProgress) -> bool:
        if e.job_id in self.jobs and e.phase in ("encode", "score"):
            self._through(e.job_id, e.phase, e.frames_done, e.encodes)
        return False

    def _on_job_done(self, e: ev.JobDone | ev.JobFailed) -> bool:
        if e.job_id in self.jobs:
            self._through(e.job_id)
            del self.jobs[e.job_id]
        return False

    def _on_epoch(self, e: ev.Epoch) -> bool:
        """A training's work so far; at a step's first, its work outside training before it (torch and the corpus
        loaded: the step's forecast says how much, else SETUP_SHARE of the step's rest)."""
        ended, current = self.trained
        if self.loading:
            self.loading = False
            planned = self.planned.get((e.step, "rest"), 0.0)
            rest = min(planned, self.setups[e.step]) if e.step in self.setups else \
                planned * SETUP_SHARE.get(e.step, 0.5)
            self.done[e.step, "rest"] = self.done.get((e.step, "rest"), 0.0) + rest
        if e.work < current:  # a new training
            ended += current
        self.done[e.step, "training"] = self.done.get((e.step, "training"), 0.0) + ended + e.work - sum(self.trained)
        self.trained = (ended, e.work)
        return False

    def _on_after(self, e: ev.Doing) -> bool:
        """The running step's work after its training, `done` of it: its rest from where it stood when the first such
        event came (its set-up counted at its first epoch; none where it trained nothing: a gather's members all on
        disk, whose forecast said the rest from then on) to all of it planned. Never counted back."""
        if e.step != self.current or e.done is None:
            return False
        self.loading = False  # a step that trained nothing: its forecast's rest is all after it (members.forecast_rest)
        key = (e.step, "rest")
        base = self.after.setdefault(e.step, self.done.get(key, 0.0))
        reached = base + min(1.0, max(0.0, e.done)) * max(0.0, self.planned.get(key, 0.0) - base)
        self.done[key] = max(self.done.get(key, 0.0), reached)
        return False

    def left(self, now: float) -> Estimate | None:
        """The estimate at `now` (the clock `feed` is given: the kit's own, its pauses left out); None before any work
        is planned, and once no step is left to run."""
        to_run = [s for s in self.steps if s not in self.ended]
        ours = set(self.steps)  # a forecast of a step this run does not run (`--only loso`'s verdict) is not its work
        total = sum(w for (step, _), w in self.planned.items() if step in ours)
        if not to_run or total <= 0:  # no step left, or no work said yet (the corpus's plan)
            return None
        for step in (s for s in to_run if (s, "rest") not in self.planned and s != "corpus"):
            self._plan(step, FIXED_WORK.get(step, 0.0))
        total = sum(w for (step, _), w in self.planned.items() if step in ours)
        share = min(1.0, sum(w for (step, _), w in self.done.items() if step in ours) / total)
        speeds = {(s, k): self.speed((s, k)) for s in to_run for k in KINDS}
        if share < MEASURED_SHARE or None in speeds.values():
            return Estimate(None, {}, self.current, share)
        left = {s: sum(max(0.0, self.planned.get((s, k), 0.0) - self.done.get((s, k), 0.0)) / (speeds[s, k] or 1.0)
                       for k in KINDS) for s in to_run}
        over = 0.0
        if self.current in left:  # the seconds since work was last counted went to the running step's work left
            since = max(0.0, now - self.worked_at)
            over = max(0.0, since - left[self.current])
            left[self.current] = max(0.0, left[self.current] - since)
        return Estimate(sum(left.values()), left, self.current, share, over)


def jobs_left(work: Mapping[str, float], done: Mapping[str, float], reused: Collection[str], elapsed_s: float,
              workers: int) -> float | None:
    """The seconds a corpus's jobs still take, as `status` tells them from the files (02_corpus/plan.json, the
    ledgers of jobs/): the work this run has to do (`work`: each job's pixel-frames, the `reused` left out) at the
    pace of the jobs it did, their work over the seconds from the plan to the last one's end (`done`: each job done
    and when it ended, in seconds since the plan), less the seconds since that end. None (estimating) until three times
    as many jobs as run at once (`workers`) are done: the first to end leave the work of the others beside them
    uncounted (the first figure was 5.6 times the truth on a box of whole files, issue 77); from then on within 2x of
    the truth on every shape of job list tests/unit/test_eta.py generates."""
    fresh = {job_id: at for job_id, at in done.items() if job_id not in reused}
    to_run = sum(w for job_id, w in work.items() if job_id not in reused)
    ran = sum(work.get(job_id, 0.0) for job_id in fresh)
    if len(fresh) < 3 * max(1, workers) or ran <= 0 or (last := max(fresh.values())) <= 0:
        return None
    return max(0.0, to_run * last / ran - elapsed_s)


def rough(seconds: float) -> str:
    """A time left as coarsely as it is known: 45 s (to 5 s), 4 min, 25 min (to 5), 1h15m (to 15 min)."""
    if seconds < 57.5:
        return f"{max(5, 5 * round(seconds / 5))} s"
    if seconds < 570:
        return f"{max(1, round(seconds / 60))} min"
    if seconds < 3450:
        return f"{5 * round(seconds / 300)} min"
    quarters = round(seconds / 900)
    return f"{quarters // 4}h{quarters % 4 * 15:02d}m"


def left_words(found: Estimate | None) -> str:
    """`about 4 min left (30 % of its work done)`, or `estimating its time left (4 % of its work done)`; a running step
    past its estimate says so: `loso 2 min past its estimate, then about 4 min left (40 % of its work done)`."""
    if found is None:
        return "estimating its time left"
    done = f"{100 * found.done:.0f} % of its work done"
    if found.seconds_left is None:
        return f"estimating its time left ({done})"
    if found.overdue_s >= OVERDUE_SAID_S:
        late = f"{found.step} {rough(found.overdue_s)} past its estimate"
        after = f", then about {rough(found.seconds_left)} left" if found.seconds_left >= OVERDUE_SAID_S else ""
        return f"{late}{after} ({done})"
    return f"about {rough(found.seconds_left)} left ({done})"
