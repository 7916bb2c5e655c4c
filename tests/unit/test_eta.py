"""The run's ETA (kit.report.eta) on simulated runs: jobs of unequal work on several workers, encoders tens of times
apart, priors off by a factor, training slower or faster than forecast; each estimate checked against the
simulation's own truth. The real run's estimates are checked in tests/pipeline/test_eta_run.py."""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import pytest

from kit import events as ev
from kit.report.eta import CorpusClock, RunClock

STEPS = ["prereqs", "corpus", "loso", "verdict", "bundle"]


@dataclass(frozen=True)
class SimJob:
    job_id: str
    encoder: str
    work: float  # pixel-frames
    seconds: float  # what it takes on one worker
    frames: int = 75
    src: str = "clip"


def planned(jobs: list[SimJob], prior_bias: float | None, workers: int) -> ev.JobsPlanned:
    """The plan of `jobs`; a prior `prior_bias` times their true seconds (None: an emitter that gives none)."""
    work: dict[str, dict[str, float]] = {}
    prior: dict[str, dict[str, float]] = {}
    for j in jobs:
        work.setdefault(j.encoder, {})[j.src] = work.get(j.encoder, {}).get(j.src, 0.0) + j.work
        prior.setdefault(j.encoder, {})[j.src] = prior.get(j.encoder, {}).get(j.src, 0.0) + j.seconds * (
            prior_bias or 0.0)
    if prior_bias is None:
        return ev.JobsPlanned(len(jobs), 0, work, workers=workers)
    scoring = {enc: {src: s / 2 for src, s in per.items()} for enc, per in prior.items()}
    return ev.JobsPlanned(len(jobs), 0, work, prior, scoring, workers)


def job_events(jobs: list[SimJob], workers: int, start: float = 0.0) -> list[tuple[float, ev.Event]]:
    """The events of the jobs run in order on `workers` workers from `start`, with progress at each tenth of each
    phase (half the time encoding, half scoring)."""
    timeline: list[tuple[float, int, ev.Event]] = []
    free = [start] * workers
    for order, j in enumerate(jobs):
        begin = heapq.heappop(free)
        timeline.append((begin, order, ev.JobStarted(j.job_id, j.src, j.encoder, 25, j.frames, "", j.work)))
        for tenth in range(1, 11):
            done = j.frames * tenth // 10
            timeline.append((begin + j.seconds * tenth / 20, order, ev.JobProgress(j.job_id, "encode", done, j.frames,
                                                                                   1.0)))
            timeline.append((begin + j.seconds * (10 + tenth) / 20 - 1e-9, order,
                             ev.JobProgress(j.job_id, "score", done, j.frames, 1.0)))
        timeline.append((begin + j.seconds, order, ev.JobDone(j.job_id, order + 1, len(jobs), False, j.frames,
                                                              j.seconds * 500, 1.0, j.seconds * 500)))
        heapq.heappush(free, begin + j.seconds)
    return [(t, e) for t, _, e in sorted(timeline, key=lambda x: (x[0], x[1]))]


def corpus_estimates(jobs: list[SimJob], workers: int,
                     prior_bias: float | None) -> list[tuple[int, float, float | None]]:
    """Feeds a corpus clock the plan and the jobs' events. Returns, at each finished job: how many are finished, the
    true time left, the estimate."""
    clock = CorpusClock()
    clock.plan(planned(jobs, prior_bias, workers), 0.0)
    events = job_events(jobs, workers)
    end = events[-1][0]
    seen: list[tuple[int, float, float | None]] = []
    for t, e in events:
        if isinstance(e, ev.JobStarted):
            clock.start(e.job_id, e.encoder, e.src, e.work, e.frames)
        elif isinstance(e, ev.JobProgress):
            clock.progress(e.job_id, e.phase, e.frames_done)
        elif isinstance(e, ev.JobDone):
            clock.finish(e.job_id, e.enc_time_ms, e.score_time_ms)
            seen.append((len(seen) + 1, end - t, clock.remaining_s(t)))
    return seen


def demo_like(n_clips: int = 9) -> list[SimJob]:
    """Each clip at 640x360, three cqs at its own size and three at a 320x180 rung (scored back at 640x360);
    clips of unequal complexity (a clip's time per pixel-frame from 1x to 3x)."""
    full, rung = 75 * 2 * 640 * 360, 75 * (320 * 180 + 640 * 360)
    jobs = []
    for c in range(n_clips):
        slow = 1 + 2 * ((c * 7) % n_clips) / n_clips
        jobs += [SimJob(f"c{c}-{q}", "libx264", full, full * slow * 1e-7, src=f"c{c}") for q in range(3)]
        jobs += [SimJob(f"c{c}-{q}-r", "libx264", rung, rung * slow * 1e-7, src=f"c{c}") for q in range(3)]
    return jobs


def within(estimate: float | None, truth: float, factor: float = 2.0, slack: float = 0.0) -> bool:
    return estimate is not None and truth / factor - slack <= estimate <= truth * factor + slack


def test_without_a_prior_nothing_is_estimated_before_a_job_has_finished() -> None:
    """An emitter that gives no prior (an older one): the first estimate waits for the first measured job."""
    clock = CorpusClock()
    clock.plan(ev.JobsPlanned(1, 0, {"libx264": {"a": 10.0}}), 0.0)
    clock.start("a", "libx264", "a", 10.0, 75)
    clock.progress("a", "encode", 75)
    assert clock.remaining_s(5.0) is None


@pytest.mark.parametrize("bias", [0.55, 1.0, 1.8])
def test_with_a_prior_the_estimate_is_within_twice_the_truth_from_the_plan_on(bias: float) -> None:
    """The prior, off by `bias`, is the estimate at the plan; the jobs' measured times take over as they finish."""
    jobs = demo_like()
    clock = CorpusClock()
    clock.plan(planned(jobs, bias, 2), 0.0)
    truth = job_events(jobs, 2)[-1][0]
    assert within(clock.remaining_s(0.0), truth)
    seen = corpus_estimates(jobs, 2, bias)
    for finished, left, estimate in seen[:-1]:
        assert within(estimate, left, slack=1.0), (finished, left, estimate)
    for finished, left, estimate in seen[len(seen) // 2:-3]:  # by then measured: close
        assert within(estimate, left, 1.4, slack=0.5), (finished, left, estimate)


def test_the_estimate_is_within_twice_the_truth_after_the_first_jobs_on_a_demo_like_corpus() -> None:
    """Two workers, no prior (the first ETA of kit 0.1 counted finished jobs and read 8-10x too long here)."""
    seen = corpus_estimates(demo_like(), 2, None)
    for finished, truth, estimate in seen[3:-1]:
        assert within(estimate, truth), (finished, truth, estimate)


def test_jobs_side_by_side_are_counted_through_their_frames_not_only_once_finished() -> None:
    """Eight equal jobs on eight workers, all but one just short of done when the first finishes: the time left
    is a sliver, not seven jobs' worth."""
    jobs = [SimJob(f"j{i}", "libx264", 1.0, 10.0 + i * 0.1) for i in range(8)]
    for bias in (None, 1.0):
        finished, truth, estimate = corpus_estimates(jobs, 8, bias)[0]
        assert finished == 1 and estimate is not None and estimate <= 2 * truth + 0.5, (bias, truth, estimate)


def test_each_encoder_costs_what_its_own_jobs_measured() -> None:
    """A fast hardware encoder's jobs first, then x265's, 30x slower per pixel-frame: once both have a finished
    job, the estimate is within twice the truth (one cost for all would read many times too short); with a prior
    that knows x265 is slower, from the start."""
    fast = [SimJob(f"n{i}", "hevc_nvenc", 1e6, 1e6 * 1e-7) for i in range(20)]
    slow = [SimJob(f"x{i}", "libx265", 1e6, 1e6 * 3e-6) for i in range(10)]
    seen = corpus_estimates(fast + slow, 2, None)
    both = next(i for i, (finished, *_) in enumerate(seen) if finished > 20)
    for finished, truth, estimate in seen[both:-1]:
        assert within(estimate, truth), (finished, truth, estimate)
    for finished, truth, estimate in corpus_estimates(fast + slow, 2, 1.5)[:-1]:
        assert within(estimate, truth, slack=0.5), (finished, truth, estimate)


def test_a_failed_job_no_longer_counts_as_work_to_do() -> None:
    clock = CorpusClock()
    clock.plan(ev.JobsPlanned(3, 0, {"libx264": {"clip": 30.0}}), 0.0)
    for job in ("a", "b", "c"):
        clock.start(job, "libx264", "clip", 10.0, 75)
    clock.finish("a", 5_000, 5_000)
    clock.fail("b")
    clock.progress("c", "encode", 75)
    clock.progress("c", "score", 74)  # c is all but done
    left = clock.remaining_s(10.0)
    assert left is not None and left < 1.0, left


def test_a_source_costs_what_its_own_jobs_measured_and_an_unseen_one_the_geometric_mean() -> None:
    """Three sources of one encoder at 1x, 16x and 4x the cost per pixel-frame (a cartoon, a noisy 720p clip, a
    zoom): a measured source costs its own; an unseen one the geometric mean of those measured (4x here), where
    one cost per encoder (pooled over its work) read the last source at twice its cost and more."""
    costs = {"cells": 1e-7, "street": 16e-7, "zoom": 4e-7}
    jobs = [SimJob(f"{src}-{q}", "libx264", 1e6, 1e6 * cost, src=src) for src, cost in costs.items()
            for q in range(6)]
    seen = corpus_estimates(jobs, 2, None)
    for finished, truth, estimate in seen[6:-2]:  # from the second source's first jobs
        assert within(estimate, truth), (finished, truth, estimate)
    finished, truth, estimate = seen[11]  # the noisy clip done: the zoom costs the mean of 1x and 16x in logs
    assert estimate is not None and abs(estimate / truth - 1) < 0.1, (finished, truth, estimate)


# -- the whole run ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Later:
    """A step after the corpus as simulated: what it is forecast to take, and what it takes."""

    step: str
    forecast_s: float
    training_s: float  # of the forecast
    slower: float  # what it really takes, against the forecast


def run_events(jobs: list[SimJob], prior_bias: float, later: list[Later], skipped: tuple[str, ...] = (),
               verdict: str = "PROMOTE") -> list[tuple[float, ev.Event]]:
    """A whole run's events as the kit emits them, with a corpus of `jobs` on two workers (none when the corpus is
    skipped: a resumed run) and the steps after it, each taking `slower` times its forecast."""
    t = 1.0
    out: list[tuple[float, ev.Event]] = [(0.0, ev.RunStarted("/out", STEPS, "2")), (0.0, ev.StepStarted("prereqs", "")),
                                         (t, ev.StepFinished("prereqs", t))]
    if "corpus" in skipped:
        out.append((t, ev.StepSkipped("corpus", "up to date")))
    else:
        out += [(t, ev.StepStarted("corpus", "")), (t, planned(jobs, prior_bias, 2)),
                *((t, ev.Forecast(s.step, s.forecast_s, s.training_s)) for s in later)]
        out += job_events(jobs, 2, t)
        t = out[-1][0]
        out.append((t, ev.StepFinished("corpus", t - 1.0)))
    for s in later:
        out.append((t, ev.StepStarted(s.step, "")))
        if s.training_s:
            setup = 0.3 * (s.forecast_s - s.training_s) * s.slower
            t += setup
            out.append((t, ev.Forecast(s.step, s.forecast_s - 0.3 * (s.forecast_s - s.training_s), s.training_s)))
            epochs = 60
            for e in range(1, epochs + 1):
                out.append((t + s.training_s * s.slower * e / epochs, ev.Epoch(s.step, e, epochs, 10, 1.0)))
            t += s.training_s * s.slower
            t += 0.7 * (s.forecast_s - s.training_s) * s.slower
        else:
            t += s.forecast_s * s.slower
        if s.step == "verdict":
            out.append((t, ev.VerdictReached(verdict, 0.99, 0.001, "/out/04_verdict")))
        out.append((t, ev.StepFinished(s.step, 1.0)))
    return out


def estimates(events: list[tuple[float, ev.Event]], every_s: float = 0.5) -> list[tuple[float, float, float | None]]:
    """(time, true time left, estimate) after each event, and every `every_s` between two (a step's quiet
    stretches: loading, its evaluation after the last epoch, the exports)."""
    clock, end, seen = RunClock(), events[-1][0], []
    for (t, e), after in zip(events, [*(t for t, _ in events[1:]), events[-1][0]], strict=True):
        clock.feed(e, t)
        if isinstance(e, ev.JobProgress):  # fed, not sampled: the ticks and the other events are enough
            continue
        for at in (t, *(t + k * every_s for k in range(1, int((after - t) / every_s) + 1) if t + k * every_s < after)):
            found = clock.left(at)
            seen.append((at, end - at, found.seconds_left if found is not None else None))
    return seen


LATER = [Later("loso", 40.0, 20.0, 1.0), Later("verdict", 0.3, 0.0, 1.0), Later("bundle", 12.0, 4.0, 1.0)]


@pytest.mark.parametrize(("bias", "slower"), [(1.0, 1.0), (0.6, 1.6), (1.6, 0.6), (1.0, 1.5), (1.0, 0.6),
                                              (0.75, 0.8), (1.3, 1.3)])
def test_the_whole_runs_estimate_is_within_twice_the_truth_from_the_plan_to_the_end(bias: float,
                                                                                    slower: float) -> None:
    """The corpus's prior off by `bias` (libvmaf scores 1/bias times slower than step 01 measured), the steps after
    it `slower` than forecast: from the corpus's plan on every estimate is within twice the truth (a second of
    slack at the very end). The run's pace carries the box's from the scorings to the steps after: a box that
    turns busier after the corpus while its scorings ran faster than measured (or the other way) is beyond any
    prior, and the estimate is right again once the training measures itself."""
    later = [Later(s.step, s.forecast_s, s.training_s, slower) for s in LATER]
    events = run_events(demo_like(), bias, later)
    seen = estimates(events)
    planned_at = next(t for t, e in events if isinstance(e, ev.JobsPlanned))
    assert all(estimate is None for t, _, estimate in seen if t < planned_at)
    for t, truth, estimate in seen:
        if t > planned_at and truth > 0:  # once the steps after the corpus are forecast
            assert within(estimate, truth, slack=1.0), (t, truth, estimate)


def test_a_resumed_run_counts_only_what_is_left() -> None:
    """The corpus up to date (skipped): the estimate is LOSO's, the verdict's and the bundle's, from LOSO's own
    forecast on; and a plan that reuses jobs gives the work of the others only (kit.corpus.scheduler)."""
    seen = estimates(run_events([], 1.0, LATER, skipped=("corpus",)))
    first = next((t, truth, est) for t, truth, est in seen if est is not None)
    assert within(first[2], first[1], 1.2), first
    clock = RunClock()
    for e in (ev.RunStarted("/out", STEPS, "2"), ev.StepSkipped("prereqs", ""), ev.StepStarted("corpus", ""),
              ev.JobsPlanned(10, 8, {"libx264": {"a": 2.0}}, {"libx264": {"a": 4.0}}, {"libx264": {"a": 2.0}}, 2),
              *(ev.Forecast(s.step, s.forecast_s, s.training_s) for s in LATER)):
        clock.feed(e, 0.0)
    found = clock.left(0.0)
    assert found is not None and found.steps_left["corpus"] == pytest.approx(2.0)  # 4 s of jobs on 2 workers
    assert found.seconds_left == pytest.approx(2.0 + sum(s.forecast_s for s in LATER))
    clock.feed(ev.JobsPlanned(10, 10, {}, {}, {}, 2), 0.0)  # every job reused: nothing left of the corpus
    found = clock.left(0.0)
    assert found is not None and found.steps_left["corpus"] == 0.0


def test_a_hold_drops_the_refit_from_the_bundles_time() -> None:
    clock = RunClock()
    for e in (ev.RunStarted("/out", ["verdict", "bundle"], "2"), ev.Forecast("bundle", 6.0, 3.0),
              ev.StepStarted("verdict", "")):
        clock.feed(e, 0.0)
    before = clock.left(0.0)
    clock.feed(ev.VerdictReached("HOLD", 0.9, 0.01, "/out/HOLD.json"), 0.1)
    after = clock.left(0.1)
    assert before is not None and after is not None
    assert before.steps_left["bundle"] == pytest.approx(6.0) and after.steps_left["bundle"] == pytest.approx(3.0)


def test_a_step_with_no_forecast_yet_leaves_the_run_without_an_estimate() -> None:
    """A run on a given corpus before LOSO has counted its members: no figure rather than a made-up one."""
    clock = RunClock()
    for e in (ev.RunStarted("/out", ["prereqs", "loso", "verdict", "bundle"], "2"), ev.StepSkipped("prereqs", ""),
              ev.StepStarted("loso", "")):
        clock.feed(e, 0.0)
    assert clock.left(1.0) is None
    clock.feed(ev.Forecast("loso", 20.0, 15.0), 2.0)
    clock.feed(ev.Forecast("bundle", 6.0, 3.0), 2.0)
    found = clock.left(2.0)
    assert found is not None and set(found.steps_left) == {"loso", "verdict", "bundle"}


# -- the priors ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n_src", "seeds", "folds"), [(4, 2, "auto"), (9, 5, "auto"), (12, 3, 4)])
def test_the_forecast_reckons_loso_as_the_trainer_plans_it(n_src: int, seeds: int, folds: object) -> None:
    """kit.model.cost's LOSO (torch-free, before the corpus exists) costs the parameter-steps the trainer plans for
    the same corpus's jobs (kit.model.train.planned_cost), so the training forecast is the trainer's own plan."""
    from kit.model.baselines import loso_jobs
    from kit.model.cost import SECONDS_PER_UNIT, loso_shapes, training_seconds
    from kit.model.loso import LosoInputs
    from kit.model.recipe import TrainConfig
    from kit.model.train import planned_cost
    from tests.conftest import synthetic_corpus

    df = synthetic_corpus(n_src, 60)
    inputs = LosoInputs.of(df, folds)  # type: ignore[arg-type]
    config, workers = TrainConfig(), 2
    trainer = planned_cost(loso_jobs(inputs, list(range(seeds)), config), config, workers)
    shapes = loso_shapes(len(df), inputs.scheme.folds, seeds, config)
    assert training_seconds(shapes, config, workers, 1.0) == pytest.approx(
        trainer * SECONDS_PER_UNIT / workers, rel=0.02)  # K-fold's folds differ in size by a few rows


def test_a_jobs_prior_is_its_processes_start_up_and_its_pixels_at_the_measured_speeds() -> None:
    """kit.platforms.speed: an encoder probed when libvmaf ran at 90 fps, now 45 fps, encodes at half its probe's
    speed now; a job's prior is two start-ups, its encode pixels at that and its scoring pixels at libvmaf's."""
    from kit.platforms.probe import PROBE_FRAMES, ProbeResult
    from kit.platforms.speed import BoxSpeed, encode_px_s, job_seconds, pixels

    now = BoxSpeed(score_fps=45.0, startup_s=0.05)
    probe = ProbeResult("libx264", True, "ok", fps=PROBE_FRAMES / (0.05 + 0.25), score_fps=90.0)
    rate = encode_px_s(probe, now)
    assert rate == pytest.approx(PROBE_FRAMES * pixels("640x360") / 0.25 / 2)
    assert encode_px_s(None, now) == now.score_px_s  # no probe figure: libvmaf's speed stands in
    encode, score = job_seconds(75, 320 * 180, 640 * 360, rate, now, score_threads=1)
    assert encode == pytest.approx(0.05 + 75 * 320 * 180 / rate)
    assert score == pytest.approx(0.05 + 75 / 45.0)
    assert now.slowness == pytest.approx(180.0 / 45.0) and BoxSpeed().slowness == 1.0


def test_scorings_slower_than_step_01_measured_slow_the_steps_still_to_come() -> None:
    """libvmaf's time does not depend on the content: scorings twice as slow as their prior say the box is busier
    than step 01 saw, and the steps after the corpus are forecast that much longer (shrunk while little is measured)."""
    clock = RunClock()
    jobs = [SimJob(f"j{i}", "libx264", 1.0, 4.0, src="a") for i in range(10)]
    for e in (ev.RunStarted("/out", STEPS, "2"), ev.StepSkipped("prereqs", ""), ev.StepStarted("corpus", ""),
              planned(jobs, 1.0, 1), *(ev.Forecast(s.step, s.forecast_s, s.training_s) for s in LATER)):
        clock.feed(e, 0.0)
    before = clock.left(0.0)
    for i, job in enumerate(jobs):  # each scoring 4 s where its prior is 2 s
        clock.feed(ev.JobStarted(job.job_id, "a", "libx264", 25, 75, "", 1.0), 8.0 * i)
        clock.feed(ev.JobDone(job.job_id, i + 1, 10, False, 75, 4000.0, 1.0, 4000.0), 8.0 * i + 8.0)
    after = clock.left(80.0)
    assert before is not None and after is not None
    assert 1.7 < after.steps_left["loso"] / before.steps_left["loso"] < 2.0, (before, after)


def test_a_crowded_box_lengthens_a_training_forecast_until_the_training_measures_itself() -> None:
    """At 6 processes per core (the load average), LOSO's training is forecast 1 + 5 x CROWDED times longer, its
    rest as it was; once its epochs run, their rate alone counts."""
    from kit.report.eta import CROWDED

    clock = RunClock()
    for e in (ev.RunStarted("/out", ["loso", "verdict", "bundle"], "2"), ev.StepStarted("loso", ""),
              ev.Forecast("loso", 40.0, 20.0), ev.Forecast("bundle", 12.0, 4.0)):
        clock.feed(e, 0.0)
    clock.crowded(6.0)
    found = clock.left(0.0)
    assert found is not None and found.steps_left["loso"] == pytest.approx(20.0 + 20.0 * (1 + 5 * CROWDED))
    for epoch in range(1, 31):  # half the epochs in 10 s: 10 s left, whatever the load says
        clock.feed(ev.Epoch("loso", epoch, 60, 10, 1.0), epoch / 3)
    found = clock.left(10.0)
    assert found is not None
    # the rest: its 20 s less the third of a second before the first epoch; the training: 10 s more at its rate
    assert found.steps_left["loso"] == pytest.approx(20.0 - 1 / 3 + 10.0, rel=0.02)


def test_a_shard_of_one_content_or_no_rows_is_forecast_without_a_fault() -> None:
    """A cluster's shard may hold one content group (LOSO, which refuses it, runs only on the union): its corpus step
    forecasts the steps after it all the same (a division by its single fold ended such shards in exit 70)."""
    from kit.model.cost import forecast
    from kit.model.recipe import TrainConfig

    for rows, groups in ((300, 1), (0, 3)):
        costs = forecast(rows, groups, groups, 5, "auto", TrainConfig(), 2, 1.0)
        assert [c.step for c in costs] == ["loso", "verdict", "bundle"] and all(c.seconds > 0 for c in costs)
