"""How long the run still takes: its work left at the pace the run itself shows now.

**Work.** Every step's work is counted in one unit, a pixel-frame of a corpus job (kit.model.cost): a job's frames x
the pixels it encodes and scores (`jobs_planned.work`, `job_started.work`), a training's parameter-steps at a fixed
exchange rate, and each step's part outside training (loading torch, the exports, the report) as so many units. The
corpus step says the work of the steps after it as it plans its jobs (`forecast` events), the LOSO step again once it
knows which members it lacks; what is done is the finished jobs, the running ones' frames through each phase, and the
trainings' parameter-steps (`epoch.work`); a step that ends has done all of its work.

**The pace.** Work done a second over the last WINDOW_S seconds, as rich.progress measures a task's speed; the time
left is the work left at that pace. No benchmark is asked what a second buys: the run's own recent seconds say it.
Training's work has a pace of its own once it trains (a crowded box slows its threads several times more than the
corpus's processes), and so has the steps' rest, measured on the piece a step does between two parts of other work
(loading torch before LOSO's first epoch; the evaluation and files after its last); until then the corpus's stands
for them. Until MEASURED_SHARE of the run's work is done the
estimate is only a guess (`basis: estimating`, no figure): kit 2.0 scaled one libvmaf timing of step 01, which read
30 to 100 fps on the same box within 40 minutes, into a figure that was 1.7 to 4.5 times off.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.progress import Progress

from kit import events as ev
from kit.model.cost import FIXED_WORK, SETUP_SHARE

ETA_EVERY_S = 2.0  # an `eta` event at most this often, besides those at a step's start and end
WINDOW_S = 45.0  # the pace is the work done over the latest this many seconds
MEASURED_SHARE = 0.1  # of the run's work done before an estimate is given as a figure


@dataclass(frozen=True)
class Estimate:
    seconds_left: float | None  # None: still estimating
    steps_left: dict[str, float]  # per step still to run, its seconds (empty while estimating)
    step: str
    done: float  # the share of the run's work done

    @property
    def measured(self) -> bool:
        return self.seconds_left is not None


Key = tuple[str, str]  # (step, one of KINDS)
KINDS = ("jobs", "training", "rest")  # the corpus's jobs, the trainings, the steps' rest (torch, files, exports)


class RunClock:
    """The run's work planned and done per step and kind, and each kind's pace; `feed` it every event with its time
    (monotonic seconds). Training has a pace of its own: a crowded box slows two training threads several times more
    than the corpus's processes (bench/README.md), so the corpus's pace stands for it only until it trains."""

    def __init__(self) -> None:
        self.steps: list[str] = []
        self.ended: set[str] = set()
        self.current = ""
        self.planned: dict[Key, float] = {}
        self.done: dict[Key, float] = {}
        self.jobs: dict[str, tuple[float, dict[str, int], int]] = {}  # running job -> work, frames per phase, frames
        self.trained = (0.0, 0.0)  # the running step's trainings: work of those ended, and of the current one
        self.loading = False  # the running step has not trained yet
        self._now = 0.0
        self.paces = {kind: self._pace() for kind in ("jobs", "training")}
        self.speed: dict[str, float] = {}  # each kind's latest work a second
        self.worked_at = 0.0  # when work was last done

    def _pace(self) -> Progress:
        """A pace: rich's Progress, its one task's speed over WINDOW_S, at the events' times."""
        pace = Progress(get_time=lambda: self._now, speed_estimate_period=WINDOW_S, disable=True)
        pace.add_task("work", total=None)
        return pace

    def feed(self, e: ev.Event, now: float) -> bool:
        """Takes in one event; True when the estimate should be said at once (a plan, a step's start or end)."""
        self._now = now
        before = self._done_by_kind()
        handler = getattr(self, f"_on_{e.kind}", None)
        changed = bool(handler(e)) if handler is not None else False
        worked = {kind: done - before[kind] for kind, done in self._done_by_kind().items() if done > before[kind]}
        for kind, work in worked.items():
            if kind == "rest":  # done in one piece after a gap with no other work: its pace is the piece's
                self.speed[kind] = work / max(0.1, now - self.worked_at)
                continue
            (task,) = self.paces[kind].tasks
            self.paces[kind].advance(task.id, work)
            if task.speed is not None:
                self.speed[kind] = task.speed
        self.worked_at = now if worked else self.worked_at
        return changed

    def _done_by_kind(self) -> dict[str, float]:
        return {kind: sum(w for (_, k), w in self.done.items() if k == kind) for kind in KINDS}

    def _plan(self, step: str, work: float, training: float = 0.0) -> None:
        self.planned[step, "rest"], self.planned[step, "training"] = work - training, training

    def _on_run_started(self, e: ev.RunStarted) -> bool:
        self.steps = list(e.steps)
        return False

    def _on_step_started(self, e: ev.StepStarted) -> bool:
        """A step's training is measured on its own: LOSO's many small groups and the refit's few large ones went at
        paces 2.5 times apart on a crowded box, for the same parameter-steps."""
        self.current, self.trained, self.loading = e.step, (0.0, 0.0), True
        self.paces["training"] = self._pace()
        self.speed.pop("training", None)
        if (e.step, "rest") not in self.planned and e.step != "corpus":
            self._plan(e.step, FIXED_WORK.get(e.step, 0.0))
        return True

    def _end(self, step: str) -> bool:
        self.ended.add(step)
        for kind in KINDS:
            self.done[step, kind] = self.planned.get((step, kind), 0.0)
        return True

    def _on_step_finished(self, e: ev.StepFinished) -> bool:
        return self._end(e.step)

    def _on_step_skipped(self, e: ev.StepSkipped) -> bool:
        self.ended.add(e.step)
        for kind in KINDS:
            self.planned.pop((e.step, kind), None)
        return True

    def _on_step_failed(self, e: ev.StepFailed) -> bool:
        return self._end(e.step)

    def _on_jobs_planned(self, e: ev.JobsPlanned) -> bool:
        self.planned["corpus", "jobs"] = sum(w for per in e.work.values() for w in per.values()) or float(e.total -
                                                                                                         e.reused)
        self.done["corpus", "jobs"], self.jobs = 0.0, {}
        return True

    def _on_forecast(self, e: ev.Forecast) -> bool:
        """A step's work; the running step's is what is left of it, on top of what it has done."""
        ran = e.step == self.current
        self._plan(e.step, e.work + (self._step_done(e.step) if ran else 0.0),
                   e.training + (self.done.get((e.step, "training"), 0.0) if ran else 0.0))
        return True

    def _step_done(self, step: str) -> float:
        return sum(self.done.get((step, kind), 0.0) for kind in KINDS)

    def _on_job_started(self, e: ev.JobStarted) -> bool:
        self.jobs[e.job_id] = (e.work if e.work > 0 else 1.0, {"encode": 0, "score": 0}, max(1, e.frames))
        return False

    def _on_job_progress(self, e: ev.JobProgress) -> bool:
        job = self.jobs.get(e.job_id)
        if job is not None and e.phase in job[1]:
            work, through, frames = job
            was = work * sum(through.values()) / (2 * frames)
            through[e.phase] = min(frames, e.frames_done)
            self._add(("corpus", "jobs"), work * sum(through.values()) / (2 * frames) - was)
        return False

    def _on_job_done(self, e: ev.JobDone) -> bool:
        return self._job_ended(e.job_id)

    def _on_job_failed(self, e: ev.JobFailed) -> bool:
        return self._job_ended(e.job_id)

    def _job_ended(self, job_id: str) -> bool:
        """A job's work is done when it ends (a failed one's too: the step fails once the others end)."""
        job = self.jobs.pop(job_id, None)
        if job is not None:
            work, through, frames = job
            self._add(("corpus", "jobs"), work * (1 - sum(through.values()) / (2 * frames)))
        return False

    def _on_epoch(self, e: ev.Epoch) -> bool:
        """A training's work so far; at a step's first, its work outside training before it (torch and the corpus
        loaded: SETUP_SHARE), whose time measures the pace of the steps' rest."""
        ended, current = self.trained
        if self.loading:
            self.loading = False
            self._add((e.step, "rest"), self.planned.get((e.step, "rest"), 0.0) * SETUP_SHARE.get(e.step, 0.5))
        if e.work < current:  # a new training
            ended += current
        self._add((e.step, "training"), ended + e.work - sum(self.trained))
        self.trained = (ended, e.work)
        return False

    def _add(self, key: Key, work: float) -> None:
        self.done[key] = self.done.get(key, 0.0) + work

    def left(self, now: float) -> Estimate | None:
        """The estimate; None before any work is planned (a run whose steps have no work left), and once no step is
        left to run."""
        to_run = [s for s in self.steps if s not in self.ended]
        if not to_run or not self.planned:
            return None
        for step in to_run:
            if (step, "rest") not in self.planned and step != "corpus":
                self._plan(step, FIXED_WORK.get(step, 0.0))
        total = sum(self.planned.values())
        if total <= 0:  # a step started, its work not yet said (the corpus before its plan)
            return None
        share = min(1.0, sum(self.done.values()) / total)
        jobs = self.speed.get("jobs")
        if share < MEASURED_SHARE or not jobs:
            return Estimate(None, {}, self.current, share)
        pace = {"jobs": jobs, "training": self.speed.get("training", jobs), "rest": self.speed.get("rest", jobs)}
        left = {s: sum(max(0.0, self.planned.get((s, k), 0.0) - self.done.get((s, k), 0.0)) / pace[k] for k in KINDS)
                for s in to_run}
        return Estimate(sum(left.values()), left, self.current, share)


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
    """`about 4 min left (30 % of its work done)`, or `estimating its time left (4 % of its work done)`."""
    if found is None:
        return "estimating its time left"
    done = f"{100 * found.done:.0f} % of its work done"
    if found.seconds_left is None:
        return f"estimating its time left ({done})"
    return f"about {rough(found.seconds_left)} left ({done})"
