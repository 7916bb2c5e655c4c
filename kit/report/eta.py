"""How long the run still takes: priors from this box's measured speed, corrected by what the run measures.

**The prior.** Step 01 measures libvmaf's speed and ffmpeg's start-up (kit.platforms.speed), and each encoder's probe
its encode speed. The corpus step turns them into the seconds its jobs take one at a time (`jobs_planned.prior_s`,
per encoder and source: the jobs' pixel-frames at those speeds) and forecasts the steps after it
(`forecast` events, kit.model.cost): LOSO's and the refit's training in the trainer's own plan (parameter-steps,
at a rate measured on a reference box, scaled by this box's libvmaf speed against it), the rest of each step in
fixed seconds scaled likewise. So an estimate exists as soon as the jobs are planned.

**The corpus** (`CorpusClock`). A job's work is its pixel-frames; a key (encoder, source) costs seconds per unit of
work: measured on its finished jobs where there are some (content matters: a noisy 720p clip costs x264 several
times what a cartoon does per pixel), else its prior scaled by how the measured keys compare with theirs (the same
encoder's first, else all). What is done counts the finished jobs and the running ones' frames through each phase.
Wall seconds per job-second start at 1 / (jobs at once) and move to what the run shows (elapsed over job-seconds
done: the jobs side by side are in both, so it needs neither the workers' count nor the box's speed to be right).

**The steps after** (`StepClock`). A step's forecast, its training measured by its epochs once it trains (the rate
of the epochs blended in over the first 15 % of them), the rest of it as forecast, scaled by the run's pace.

**The pace** (`Pace`). How much longer than their priors the run's measured parts took: libvmaf's scorings (the
same work as step 01's, so content does not move it), the finished steps' time outside training, and training
against its forecast; what is still to come is scaled by it, since the load of a shared box moves all of them.

Counting finished jobs alone (the plain lines of kit 0.1) read 8 to 10 times too long at the first jobs on a box
that runs many at once: one job was done while the others running beside it were nearly done too. An estimate
that began only once a job had finished, and counted the corpus alone, was silent for the first minutes of a run on
real clips and short by the whole training.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from statistics import geometric_mean

from kit import events as ev
from kit.infra.host import core_count
from kit.model.cost import VERDICT_S

ENCODE_SHARE = 0.5  # of a job's time, until the prior or a finished job measures it
ETA_EVERY_S = 2.0  # an `eta` event at most this often, besides those at a step's start and end
BLEND_FRACTION = 0.05  # of a training's epochs over which its measured rate takes over from the forecast
FLOOR = 0.15  # a part that has overrun its forecast still has this share of it left, never nothing
PACE_DECAY = 0.9  # the weight of the pace's earlier measurements at each new one
WINDOW_S = 30.0  # the corpus's and a training's pace are measured over at least this much of the latest time
# Training is hit harder than libvmaf by a crowded box (two threads for minutes, sharing caches and memory bandwidth,
# against one for a fraction of a second): until it measures itself, its forecast takes 1 + CROWDED x each process per
# core beyond the first (the 1-minute load average, at most CROWD_CAP) on top of the box's pace. On this 2-core box
# shared with other sessions, at 15-22 processes, LOSO's training ran 2.7 times slower against its forecast than the
# corpus's scorings did against theirs (bench/bench_eta.py); an idle box (its load the run's own) is 1.
CROWDED = 0.2
CROWD_CAP = 10.0
MAX_SNAPSHOTS = 256

Key = tuple[str, str]  # (encoder, source)


@dataclass
class Running:
    key: Key
    work: float
    frames: int
    through: dict[str, int] = field(default_factory=lambda: {"encode": 0, "score": 0})


def _keyed(per_enc: dict[str, dict[str, float]]) -> dict[Key, float]:
    return {(enc, src): v for enc, per_src in per_enc.items() for src, v in per_src.items()}


def _div(a: dict[Key, float], b: dict[Key, float]) -> dict[Key, float]:
    return {k: a[k] / w for k, w in b.items() if w > 0 and a.get(k, 0) > 0}


class CorpusClock:
    """Estimates the corpus jobs' time left; fed the events' figures and their times (seconds, monotonic)."""

    def __init__(self) -> None:
        self.started_at: float | None = None
        self.planned: dict[Key, float] = {}  # (encoder, source) -> work of the jobs to run
        self.prior: dict[Key, float] = {}  # -> their seconds one at a time, by step 01's speeds
        self.prior_score: dict[Key, float] = {}  # -> of which their scorings'
        self.workers = 1
        self.done: dict[Key, float] = {}  # -> work of the finished jobs
        self.seconds: dict[Key, float] = {}  # -> their encode + score seconds
        self.encode_s = self.score_s = 0.0
        self.running: dict[str, Running] = {}
        self.snapshots: list[tuple[float, dict[Key, float]]] = []  # (time, work done by then) at each finished job

    def plan(self, e: ev.JobsPlanned, now: float) -> None:
        """`jobs_planned`: per encoder, per source, the work of the jobs to run, their seconds and their scorings'
        (an emitter that gives no work, an older one: each job counts one)."""
        self.started_at = now
        self.planned = _keyed(e.work or {"": {"": float(e.total - e.reused)}})
        self.prior, self.prior_score = _keyed(e.prior_s), _keyed(e.prior_score_s)
        self.workers = max(1, e.workers)

    def start(self, job_id: str, encoder: str, src: str, work: float, frames: int) -> None:
        self.running[job_id] = Running((encoder, src), work, max(1, frames))

    def progress(self, job_id: str, phase: str, frames_done: int) -> None:
        job = self.running.get(job_id)
        if job is not None and phase in job.through:
            job.through[phase] = frames_done

    def finish(self, job_id: str, encode_ms: float, score_ms: float, now: float | None = None) -> Key | None:
        """A finished job (`now`: when; None leaves no snapshot); returns its key (None for a job never started
        here)."""
        job = self.running.pop(job_id, None)
        if job is None:
            return None
        self.done[job.key] = self.done.get(job.key, 0.0) + job.work
        self.seconds[job.key] = self.seconds.get(job.key, 0.0) + (encode_ms + score_ms) / 1000
        self.encode_s += encode_ms / 1000
        self.score_s += score_ms / 1000
        self.snapshot(now)
        return job.key

    def snapshot(self, now: float | None) -> None:
        """The work done by `now` (the running jobs' share included), for the window of remaining_s; every other one
        dropped past MAX_SNAPSHOTS (older ones are seldom the window's start)."""
        if now is None:
            return
        self.snapshots.append((now, self._done_now()))
        if len(self.snapshots) > MAX_SNAPSHOTS:
            self.snapshots = self.snapshots[::2]

    def _done_now(self) -> dict[Key, float]:
        done = dict(self.done)
        for job in self.running.values():
            done[job.key] = done.get(job.key, 0.0) + job.work * self._partial(job)
        return done

    def fail(self, job_id: str) -> None:
        """A failed job: its work is no longer to do (the step fails once the others end)."""
        job = self.running.pop(job_id, None)
        if job is not None:
            self.planned[job.key] = max(0.0, self.planned.get(job.key, 0.0) - job.work)

    @property
    def measured(self) -> bool:
        return bool(self.done) or any(sum(j.through.values()) for j in self.running.values())

    def prior_score_of(self, key: Key, work: float) -> float:
        """The prior seconds of the scorings of `work` units of the key (0 without a prior)."""
        planned = self.planned.get(key, 0.0)
        return self.prior_score.get(key, 0.0) * work / planned if planned > 0 else 0.0

    def _partial(self, job: Running) -> float:
        """The share of a running job done: each phase's frames, weighed by its share of a finished job's time (of
        the prior's, before one has finished)."""
        total, prior = self.encode_s + self.score_s, sum(self.prior.values())
        share = (self.encode_s / total if total > 0 else
                 1 - sum(self.prior_score.values()) / prior if prior > 0 else ENCODE_SHARE)
        return min(1.0, (share * job.through["encode"] + (1 - share) * job.through["score"]) / job.frames)

    def _costs(self) -> dict[Key, float] | None:
        """Seconds per unit of work of every key: measured on its finished jobs; for a key not yet measured, its
        prior times the geometric mean of measured over prior among the encoder's measured keys, else all (content
        scales the cost: a source twice and one half as costly as the next average to it); without a prior, the
        geometric mean of the encoder's measured costs, else of all. None when nothing gives a cost yet."""
        measured = _div(self.seconds, self.done)
        prior = _div(self.prior, self.planned)
        keys = {*self.planned, *self.done, *(j.key for j in self.running.values())}
        if prior and set(prior) >= keys:
            base, measured_over = prior, {k: c / prior[k] for k, c in measured.items()}
        elif measured:
            base, measured_over = {k: 1.0 for k in keys}, measured
        else:
            return None
        by_enc: dict[str, list[float]] = {}
        for (enc, _), r in measured_over.items():
            by_enc.setdefault(enc, []).append(r)
        per_enc = {enc: geometric_mean(v) for enc, v in by_enc.items()}
        fallback = geometric_mean(measured_over.values()) if measured_over else 1.0
        return {k: measured.get(k, base[k] * per_enc.get(k[0], fallback)) for k in keys}

    def remaining_s(self, now: float) -> float | None:
        """Seconds left; None when nothing gives a cost yet (no prior and no finished job); 0 when every job of the
        plan was reused."""
        if self.started_at is not None and not self.running and not any(self.planned.values()):
            return 0.0
        cost = self._costs()
        if self.started_at is None or cost is None:
            return None
        done = self._done_now()
        spent = sum(cost[k] * w for k, w in done.items())
        left = sum(cost[k] * max(0.0, w - done.get(k, 0.0)) for k, w in self.planned.items())
        if not math.isfinite(left):
            return None
        since, before = self._window(now)
        spent -= sum(cost[k] * w for k, w in before.items())
        elapsed = now - since
        if not self.prior:  # no prior: the run's own pace alone, once a job has finished
            return elapsed * left / spent if spent > 0 else None
        weight = 2.0 * self.workers  # job-seconds the prior's 1/workers counts for
        return left * (weight / self.workers + elapsed) / (weight + max(0.0, spent))

    def _window(self, now: float) -> tuple[float, dict[Key, float]]:
        """Where the pace is measured from: the latest snapshot at least max(WINDOW_S, half the elapsed time) ago,
        so a box growing busier (or idler) mid-run moves the estimate within a minute; the plan before that."""
        assert self.started_at is not None
        start = now - max(WINDOW_S, (now - self.started_at) / 2)
        for at, done in reversed(self.snapshots):
            if at <= start:
                return at, done
        return self.started_at, {}


def load_per_core() -> float | None:
    """The box's 1-minute load average per core; None where the system keeps none (Windows)."""
    try:
        return os.getloadavg()[0] / core_count()
    except (AttributeError, OSError):
        return None


class Pace:
    """How much longer than their priors the run's measured parts took (1.0: as forecast), as sums of seconds."""

    def __init__(self) -> None:
        self.observed = {"box": 0.0, "training": 0.0}
        self.prior = {"box": 0.0, "training": 0.0}
        self.live: float | None = None  # the running training's, against its forecast
        self.crowd = 0.0  # processes per core beyond the first (the 1-minute load average), capped: see CROWDED

    def crowded(self, load_per_core: float | None) -> None:
        self.crowd = min(CROWD_CAP, max(0.0, (load_per_core or 1.0) - 1.0))

    def add(self, kind: str, observed: float, prior: float) -> None:
        """One measured part, against its prior; the earlier ones weigh PACE_DECAY less each time, so a box growing
        busier (or idler) mid-run moves the pace within a few jobs."""
        if observed > 0 and prior > 0:
            self.observed[kind] = self.observed[kind] * PACE_DECAY + observed
            self.prior[kind] = self.prior[kind] * PACE_DECAY + prior

    def of(self, kind: str) -> float:
        """The pace of `kind` ("box": scorings and fixed work; "training"), shrunk towards 1 while little is
        measured (a second of prior counts as if measured at 1.0); training's is the running training's, else the
        trainings' that ended, else the box's on a box as crowded as now (CROWDED)."""
        if kind == "training" and self.live is not None:
            return self.live
        if kind == "training" and self.prior["training"] <= 0:
            return self.of("box") * (1.0 + CROWDED * self.crowd)
        return (self.observed[kind] + 1.0) / (self.prior[kind] + 1.0)


@dataclass
class StepClock:
    """A step after the corpus: its forecast (seconds from `at`, of which training), its epochs as they come."""

    seconds: float
    training_s: float
    at: float
    started_at: float | None = None
    trained_s: float = 0.0  # seconds of the trainings that ended
    points: list[tuple[float, float]] = field(default_factory=list)  # the running training's (time, fraction done)

    def forecast(self, seconds: float, training_s: float, now: float) -> None:
        self.seconds, self.training_s, self.at, self.trained_s, self.points = seconds, training_s, now, 0.0, []

    def epoch(self, epoch: int, epochs: int, now: float) -> None:
        fraction = epoch / max(1, epochs)
        if self.points and fraction < self.points[-1][1]:  # a new training
            self.trained_s += self.points[-1][0] - self.points[0][0]
            self.points = []
        self.points.append((now, fraction))

    def _rate(self) -> float | None:
        """The running training's fraction a second, over its latest max(WINDOW_S, half its time) (a box growing
        busier or idler moves it); None before two epoch events."""
        if len(self.points) < 2:
            return None
        (t0, _), (t1, f1) = self.points[0], self.points[-1]
        start = t1 - max(WINDOW_S, (t1 - t0) / 2)
        tk, fk = next(((t, f) for t, f in reversed(self.points) if t <= start), self.points[0])
        return (f1 - fk) / (t1 - tk) if t1 > tk and f1 > fk else None

    def _observed(self) -> float:
        """The share of the running training's epochs measured (its first event's excluded)."""
        return self.points[-1][1] - self.points[0][1] if self.points else 0.0

    def training_left(self, now: float, pace: float) -> float:
        """The forecast's training left, blended towards the running training's measured rate."""
        prior_left = max(0.0, self.training_s * pace - self.trained_s - self._session_s(now))
        rate = self._rate()
        if not self.points:
            return prior_left
        t1, f1 = self.points[-1]
        if f1 >= 1.0:
            return 0.0 if self.trained_s == 0 else prior_left
        if rate is None:
            return prior_left
        measured = (1.0 - f1) / rate - (now - t1)
        weight = min(1.0, self._observed() / BLEND_FRACTION)
        return max(0.0, weight * measured + (1 - weight) * prior_left)

    def _session_s(self, now: float) -> float:
        """The running training's seconds so far; once it has reached its last epoch, its seconds in all (what
        follows it is the step's rest)."""
        if not self.points:
            return 0.0
        (t0, _), (t1, f1) = self.points[0], self.points[-1]
        return (t1 if f1 >= 1.0 else now) - t0

    def remaining(self, now: float, pace: Pace) -> float:
        box, train = pace.of("box"), pace.of("training")
        rest = (self.seconds - self.training_s) * box
        if self.started_at is None:
            return rest + self.training_s * train
        outside = now - max(self.at, self.started_at) - self.trained_s - self._session_s(now)
        return max(rest - max(0.0, outside), FLOOR * rest) + self.training_left(now, train)

    def live_pace(self) -> float | None:
        """The running training's seconds in all (those so far and the rest at its latest rate) against the
        forecast's; None until BLEND_FRACTION of its epochs are measured."""
        rate = self._rate()
        if rate is None or self.training_s <= 0 or self._observed() < BLEND_FRACTION:
            return None
        (t0, _), (t1, f1) = self.points[0], self.points[-1]
        return (self.trained_s + (t1 - t0) + (1.0 - f1) / rate) / self.training_s

    def measured_training(self) -> float:
        """Seconds the step's trainings took (those ended, and the running one's so far)."""
        return self.trained_s + (self.points[-1][0] - self.points[0][0] if self.points else 0.0)


@dataclass(frozen=True)
class Estimate:
    seconds_left: float
    steps_left: dict[str, float]
    step: str
    measured: bool


class RunClock:
    """The whole run's time left: the corpus's clock, each later step's, the run's pace. `feed` every event."""

    def __init__(self) -> None:
        self.steps: list[str] = []
        self.ended: set[str] = set()
        self.current = ""
        self.corpus = CorpusClock()
        self.corpus_planned = False
        self.later: dict[str, StepClock] = {}
        self.pace = Pace()
        self.measured = False

    def feed(self, e: ev.Event, now: float) -> bool:
        """Takes in one event; True when it changes the estimate at once (a plan, a forecast, a step's start or
        end): the renderer then says it without waiting for ETA_EVERY_S."""
        handler = getattr(self, f"_on_{e.kind}", None)
        return bool(handler(e, now)) if handler is not None else False

    def _on_run_started(self, e: ev.RunStarted, now: float) -> bool:
        self.steps = list(e.steps)
        return False

    def _on_step_started(self, e: ev.StepStarted, now: float) -> bool:
        self.current = e.step
        if e.step == "verdict" and e.step not in self.later:
            self.later[e.step] = StepClock(VERDICT_S, 0.0, now)
        if e.step in self.later:
            self.later[e.step].started_at = now
        return True

    def _on_step_skipped(self, e: ev.StepSkipped, now: float) -> bool:
        self.ended.add(e.step)
        return True

    def _on_step_finished(self, e: ev.StepFinished, now: float) -> bool:
        self.ended.add(e.step)
        clock = self.later.get(e.step)
        if clock is not None and clock.started_at is not None:  # what it took outside training, against the forecast
            trained = clock.measured_training()
            self.pace.add("box", now - max(clock.at, clock.started_at) - trained, clock.seconds - clock.training_s)
            self.pace.add("training", trained, clock.training_s)
        return True

    def _on_step_failed(self, e: ev.StepFailed, now: float) -> bool:
        self.ended.add(e.step)
        return True

    def _on_jobs_planned(self, e: ev.JobsPlanned, now: float) -> bool:
        self.corpus = CorpusClock()
        self.corpus.plan(e, now)
        self.corpus_planned = True
        return True

    def _on_forecast(self, e: ev.Forecast, now: float) -> bool:
        clock = self.later.get(e.step)
        if clock is None:  # the step running forecasts itself (a run whose corpus step made no forecast)
            self.later[e.step] = StepClock(e.seconds, e.training_s, now, now if e.step == self.current else None)
            return True
        if clock.started_at is not None:  # a step's own forecast of its rest: what it took so far, against the part
            before = (clock.seconds - clock.training_s) - (e.seconds - e.training_s)  # ... the earlier one foresaw
            self.pace.add("box", now - max(clock.at, clock.started_at) - clock.measured_training(), before)
        clock.forecast(e.seconds, e.training_s, now)
        return True

    def crowded(self, load_per_core: float | None) -> None:
        """The box's 1-minute load average per core now (None: unknown, taken as idle): see CROWDED."""
        self.pace.crowded(load_per_core)

    def _on_job_started(self, e: ev.JobStarted, now: float) -> bool:
        key = (e.encoder, e.src) if e.work > 0 else ("", "")  # an older emitter's jobs: each counts one
        self.corpus.start(e.job_id, *key, e.work if e.work > 0 else 1.0, e.frames)
        return False

    def _on_job_progress(self, e: ev.JobProgress, now: float) -> bool:
        self.corpus.progress(e.job_id, e.phase, e.frames_done)
        self.measured = True
        return False

    def _on_job_done(self, e: ev.JobDone, now: float) -> bool:
        if e.reused:
            return False
        running = self.corpus.running.get(e.job_id)
        key = self.corpus.finish(e.job_id, e.enc_time_ms, e.score_time_ms, now)
        if key is not None and running is not None:  # libvmaf is content-blind: its pace is the box's
            self.pace.add("box", e.score_time_ms / 1000, self.corpus.prior_score_of(key, running.work))
        self.measured = True
        return False

    def _on_job_failed(self, e: ev.JobFailed, now: float) -> bool:
        self.corpus.fail(e.job_id)
        return False

    def _on_epoch(self, e: ev.Epoch, now: float) -> bool:
        clock = self.later.get(e.step)
        if clock is not None and clock.started_at is not None:
            clock.epoch(e.epoch, e.epochs, now)
            self.measured = True
        return False

    def _on_verdict(self, e: ev.VerdictReached, now: float) -> bool:
        bundle = self.later.get("bundle")
        if bundle is not None and e.verdict != "PROMOTE":  # no refit
            bundle.forecast(bundle.seconds - bundle.training_s, 0.0, bundle.at)
        return True

    def left(self, now: float) -> Estimate | None:
        """The estimate; None while a step still to run has no prior (its plan or forecast not yet made), and when
        none is left to run but prereqs (whose time is never estimated)."""
        if not set(self.steps) - self.ended:  # no run started, or every step has ended
            return None
        parts: dict[str, float] = {}
        running = self.later.get(self.current)
        self.pace.live = running.live_pace() if running is not None and self.current not in self.ended else None
        for step in self.steps:
            if step in self.ended:
                continue
            if step == "prereqs":
                parts[step] = 0.0  # over before any plan: its time is in the elapsed, never in an estimate
            elif step == "corpus":
                left = self.corpus.remaining_s(now) if self.corpus_planned else None
                if left is None:
                    return None
                parts[step] = left
            elif step in self.later:
                parts[step] = self.later[step].remaining(now, self.pace)
            elif step == "verdict":
                parts[step] = VERDICT_S * self.pace.of("box")
            else:
                return None
        if set(parts) <= {"prereqs"}:  # prereqs alone left (`run --only prereqs`): nothing to estimate, no "0 s"
            return None
        return Estimate(sum(parts.values()), parts, self.current, self.measured)
