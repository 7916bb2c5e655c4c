"""The run's ETA (kit.report.eta) on simulated runs: a corpus, then LOSO's training, on a box whose pace changes
threefold mid-run, stalls for seconds, or trains slowly at first; each estimate checked against the simulation's own
truth. The simulated box's work outside training is stated here, not read from kit.model.cost, so a constant of the
clock that drifts from it fails a test. The real run's estimates are checked in tests/pipeline/test_eta_run.py,
measured on a busy box by bench/bench_eta.py and replayed from its saved events by bench/replay_eta.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from kit import events as ev
from kit.report.eta import MEASURED_SHARE, MEMORY_S, PRIOR_S, RunClock

STEPS = ["prereqs", "corpus", "loso", "verdict", "bundle"]
FRAMES = 100
JOB_WORK = 1e8  # a job's pixel-frames
TRAINING = 4e9  # LOSO's training, in the same unit
Pace = Callable[[float], float]  # the box's work a second at a time
# each step's work outside training on the simulated box: LOSO's 16 s (kit.model.cost's until 2.6.0 made it 5), the
# verdict's 1.2 s and the bundle's 8 s at the 2.6e7 a second bench/bench_eta.py measured (bench/README.md#eta)
REST = {"loso": 4.16e8, "verdict": 3.12e7, "bundle": 2.08e8}
LOSO_SETUP = 0.6  # the share of LOSO's rest done before its first epoch (torch and the corpus loaded)


def simulate(pace: Pace, jobs: int = 60, workers: int = 2, train_slower: float = 1.0,
             train_pace: Pace | None = None, loso: tuple[float, float] | None = None,
             said: tuple[float, float] | None = None) -> list[tuple[float, ev.Event]]:
    """The events of a run at `pace` (work a second, by the time): the corpus's jobs `workers` at a time with
    progress each second, LOSO's training (`train_slower` times slower, or at `train_pace` by the seconds since it
    began) with an epoch every second, the verdict and the bundle. `loso`: LOSO's rest before and after its training
    (a large corpus's: its read and windows, its figures), else its fixed rest; `said`: what its forecast says of
    them (None: the truth, as Forecast.setup; given: its work in all, no setup)."""
    before, after = loso or (REST["loso"] * LOSO_SETUP, REST["loso"] * (1 - LOSO_SETUP))
    forecast = ev.Forecast("loso", TRAINING + before + after, TRAINING, before if loso is not None else 0.0) \
        if said is None else ev.Forecast("loso", TRAINING + sum(said), TRAINING)
    out: list[tuple[float, ev.Event]] = [
        (0.0, ev.RunStarted("/out", STEPS, "2.1.0")), (0.0, ev.StepSkipped("prereqs", "up to date")),
        (0.0, ev.StepStarted("corpus", "not run yet")),
        (5.0, ev.JobsPlanned(jobs, 0, {"libx264": {"clip": jobs * JOB_WORK}}, workers)),
        (5.0, forecast),
        (5.0, ev.Forecast("verdict", REST["verdict"])), (5.0, ev.Forecast("bundle", REST["bundle"]))]
    t, done, started = 5.0, [0.0] * workers, 0  # each worker's job: the share of it done
    ids = list(range(workers))
    for w in range(workers):
        out.append((t, ev.JobStarted(f"job{w}", "clip", "libx264", 25, FRAMES, "", JOB_WORK)))
    started = workers
    while any(i is not None for i in ids):
        t += 1.0
        for w, job in enumerate(ids):
            if job is None:
                continue
            done[w] = min(1.0, done[w] + pace(t) / workers / JOB_WORK)
            phase, frames = ("encode", 2 * done[w]) if done[w] < 0.5 else ("score", 2 * done[w] - 1)
            out.append((t, ev.JobProgress(f"job{job}", phase, round(frames * FRAMES), FRAMES, 1.0)))
            if done[w] >= 1.0:
                out.append((t, ev.JobDone(f"job{job}", job + 1, jobs, False, FRAMES, 1.0, 90.0)))
                ids[w], done[w] = (started, 0.0) if started < jobs else (None, 0.0)
                if started < jobs:
                    out.append((t, ev.JobStarted(f"job{started}", "clip", "libx264", 25, FRAMES, "", JOB_WORK)))
                    started += 1
    out += [(t, ev.StepFinished("corpus", t, {})), (t, ev.StepStarted("loso", "not run yet"))]
    t += before / pace(t)  # torch loaded, the folds cut (a large corpus: read, proved, windowed)
    trained, began = 0.0, t
    while trained < TRAINING:
        t += 1.0
        trained = min(TRAINING, trained + (train_pace(t - began) if train_pace else pace(t) / train_slower))
        out.append((t, ev.Epoch("loso", round(100 * trained / TRAINING), 100, 10, 1.0, trained)))
    t += after / pace(t)
    for step in ("loso", "verdict", "bundle"):
        if step != "loso":
            out.append((t, ev.StepStarted(step, "not run yet")))
            t += REST[step] / pace(t)
        out.append((t, ev.StepFinished(step, 1.0, {})))
    return out


def estimates(events: list[tuple[float, ev.Event]]) -> list[tuple[float, float | None, float, float]]:
    """(time, estimate, truth, the share of the work done) after each event, as the renderer asks."""
    clock, end, seen = RunClock(), events[-1][0], []
    for t, e in events:
        clock.feed(e, t)
        found = clock.left(t)
        if found is not None:
            seen.append((t, found.seconds_left, end - t, found.done))
    return seen


def ramp(before: float, after: float, at: float, over: float) -> Pace:
    """A pace that moves from `before` to `after` over `over` seconds from `at`, as a box's load moves when the
    neighbours' jobs start or end."""
    return lambda t: before + (after - before) * min(1.0, max(0.0, (t - at) / over))


def off(seen: list[tuple[float, float | None, float, float]], factor: float, since: float = 0.0,
        until: float = float("inf")) -> list[tuple[float, float | None, int]]:
    """(time, estimate, truth) of the estimates made after a tenth of the work (and between `since` and `until`)
    further than `factor` from the truth, or without a figure; the last seconds' (the bundle's) left out."""
    return [(t, left, round(truth)) for t, left, truth, done in seen
            if done >= MEASURED_SHARE and since <= t < until and truth > 5
            and (left is None or not truth / factor <= left <= truth * factor)]


@pytest.mark.parametrize("change", [1 / 3, 3.0])
def test_a_box_three_times_busier_or_idler_from_the_start_is_measured_by_a_tenth_of_the_work(change: float) -> None:
    """The box's pace changes threefold in the run's first seconds (neighbours' jobs start or end, as step 01's
    libvmaf timing read 100 fps and then 30 on one box): after a tenth of the work every estimate is within twice
    the truth; before it, none gives a figure."""
    seen = estimates(simulate(ramp(2e7, 2e7 * change, at=10.0, over=20.0)))
    early = [left for _, left, _, done in seen if done < MEASURED_SHARE]
    assert early and all(left is None for left in early)
    assert not off(seen, 2.0), off(seen, 2.0)[:5]


@pytest.mark.parametrize("change", [1 / 3, 3.0])
def test_a_pace_that_changes_threefold_mid_run_is_followed(change: float) -> None:
    """The pace changes threefold over two minutes mid-corpus. What no estimate can know (a change still to come)
    leaves those made before it off by at most the change itself; from MEMORY_S after the change has ended, every
    estimate is within twice the truth again, and those during it never worse than the change."""
    start, over = 150.0, 120.0
    seen = estimates(simulate(ramp(2e7, 2e7 * change, at=start, over=over)))
    assert not off(seen, 3.0), off(seen, 3.0)[:5]
    assert not off(seen, 2.0, since=start + over + MEMORY_S), off(seen, 2.0, since=start + over + MEMORY_S)[:5]


@pytest.mark.parametrize("rows", [3_000_000, 10_000_000])
def test_a_large_corpus_s_loso_rest_before_and_after_training_keeps_every_estimate_within_2x(rows: int) -> None:
    """At 10,000 contents LOSO spends minutes outside training (reading, proving and windowing the corpus before it;
    every model's figures after it): its forecast says both parts (kit.model.cost.loso_rest, Forecast.setup) and
    every estimate after a tenth of the work is within twice the truth. Said as a fixed rest (the box's 16 s before, its
    share before training taken as done at the first epoch), the last minutes read as one, and the test sees it."""
    from kit.model.cost import loso_rest
    from kit.model.recipe import TrainConfig

    before, after = loso_rest(rows, 5, TrainConfig())
    assert before > 5 * REST["loso"] * LOSO_SETUP and after > 5 * REST["loso"]  # minutes, against 16 s in all
    pace = 2.6e7
    seen = estimates(simulate(lambda t: pace, loso=(before, after)))
    assert not off(seen, 2.0), off(seen, 2.0)[:5]
    fixed = estimates(simulate(lambda t: pace, loso=(before, after), said=(REST["loso"] * LOSO_SETUP,
                                                                             REST["loso"] * (1 - LOSO_SETUP))))
    assert off(fixed, 2.0)


def test_a_stall_of_seconds_moves_the_estimate_little() -> None:
    """The box stalls for 20 s mid-corpus (a neighbour's burst: a fifth of the pace), then goes on as before: every
    estimate stays within 1.5 times the truth. The kit before this one measured the pace over its latest 45 s, and
    doubled its estimate for the next half minute."""
    seen = estimates(simulate(lambda t: 4e6 if 150 <= t < 170 else 2e7))
    assert not off(seen, 1.5), off(seen, 1.5)[:5]


def test_a_training_slow_in_its_first_seconds_is_not_taken_for_its_pace() -> None:
    """LOSO's training goes 4 times slower in its first 20 s (threads starting, the neighbours' load falling), then
    at the corpus's pace: its pace starts from PRIOR_S seconds at the corpus's, so every estimate stays within twice
    the truth. The kit before this one measured training's first seconds alone and said 4 times the truth."""
    seen = estimates(simulate(lambda t: 2e7, train_pace=lambda s: 5e6 if s < 20 else 2e7))
    assert not off(seen, 2.0), off(seen, 2.0)[:5]


@pytest.mark.parametrize("slower", [3.0, 1 / 3])
def test_training_that_goes_slower_than_the_corpus_said_is_measured_apart(slower: float) -> None:
    """A crowded box slows two training threads several times more, or less, than the corpus's processes
    (bench/README.md): from PRIOR_S into LOSO's training its own pace counts its rest, while the steps' other work
    (the bundle's exports and report) keeps the pace of the run's other work, never the training's."""
    events = simulate(lambda t: 2e7, train_slower=slower)
    first_epoch = next(t for t, e in events if isinstance(e, ev.Epoch))
    seen = estimates(events)
    assert not off(seen, 2.0, since=first_epoch + PRIOR_S), off(seen, 2.0, since=first_epoch + PRIOR_S)[:5]


def test_on_a_steady_box_every_estimate_after_a_tenth_is_near_the_truth() -> None:
    seen = estimates(simulate(lambda t: 2e7))
    assert not off(seen, 1.25), off(seen, 1.25)[:5]


def test_the_training_is_counted_in_the_same_work_as_the_corpus() -> None:
    """On a steady box the estimate made during the corpus holds through LOSO's training: the training's work is
    counted by its parameter-steps in the corpus's unit, so the pace measured on the corpus foretells it."""
    seen = estimates(simulate(lambda t: 2e7))
    corpus_end = next(t for t, e in simulate(lambda t: 2e7) if isinstance(e, ev.StepFinished) and e.step == "corpus")
    during = [(left, truth) for t, left, truth, done in seen if left is not None and t < corpus_end - 30]
    assert during and all(0.8 <= left / truth <= 1.25 for left, truth in during), during[:3]


def test_a_new_training_in_the_step_adds_to_the_work_done() -> None:
    """A step trains more than once (LOSO, then each --holdout kind): each training's work counts from its own
    zero, and what the earlier ones did stays done."""
    clock = RunClock()
    for t, e in enumerate([ev.RunStarted("/out", ["loso"], "2.1.0"), ev.StepStarted("loso", "not run yet"),
                           ev.Forecast("loso", 1000.0 + 4.16e8, 1000.0),
                           ev.Epoch("loso", 5, 10, 4, 1.0, 300.0), ev.Epoch("loso", 10, 10, 4, 1.0, 600.0),
                           ev.Epoch("loso", 1, 10, 4, 1.0, 100.0)]):
        clock.feed(e, float(t))
    # torch and the corpus loaded, counted at the first epoch: 60 % of LOSO's 4.16e8 outside training
    setup = 2.496e8
    assert clock.done["loso", "training"] == 700.0 and clock.done["loso", "rest"] == pytest.approx(setup)
    found = clock.left(6.0)
    assert found is not None and found.done == pytest.approx((setup + 700) / (4.16e8 + 1000))


def test_a_skipped_step_has_no_work_and_an_ended_one_has_done_all_of_it() -> None:
    clock = RunClock()
    events = [ev.RunStarted("/out", STEPS, "2.1.0"), ev.StepSkipped("prereqs", "up to date"),
              ev.StepSkipped("corpus", "up to date"), ev.StepStarted("loso", "x"), ev.Forecast("loso", 500.0),
              ev.Forecast("bundle", 300.0), ev.StepFinished("loso", 1.0, {})]
    for t, e in enumerate(events):
        clock.feed(e, float(t))
    assert ("corpus", "jobs") not in clock.planned and clock.done["loso", "rest"] == 500.0
    found = clock.left(7.0)
    # the verdict forecast nothing: the clock plans its 1.2 s at 2.6e7 a second (3.12e7) itself
    assert found is not None and found.step == "loso" and found.done == pytest.approx(500 / (800 + 3.12e7))


def batched_corpus(batches: int, size: int, pace: float) -> list[tuple[float, ev.Event]]:
    """A corpus of shared decodes (kit.corpus.shared) on one worker: each batch's first job encodes all `size` of
    its jobs' encodes in one ffmpeg (`encodes`), then each job of it scores; work at `pace` a second. A batch is one
    clip's rung, its jobs of two encoders (as a rung's batch of 16 or a grid not a multiple of 4 makes them)."""
    jobs = batches * size
    out: list[tuple[float, ev.Event]] = [
        (0.0, ev.RunStarted("/out", ["corpus"], "2.1.0")), (0.0, ev.StepStarted("corpus", "not run yet")),
        (0.0, ev.JobsPlanned(jobs, 0, {"libx264": {"clip": jobs * JOB_WORK}}, 1))]
    t, n = 0.0, 0
    for _ in range(batches):
        for k in range(size):
            job = f"job{n}"
            encoder = "libx264" if k < size // 2 else "libx265"
            out.append((t, ev.JobStarted(job, "clip", encoder, 20 + k, FRAMES, "", JOB_WORK)))
            for phase, encodes in ([("encode", size)] if k == 0 else []) + [("score", 1)]:
                seconds = encodes * JOB_WORK / 2 / pace
                for s in range(1, round(seconds) + 1):
                    frames = round(FRAMES * min(1.0, s / seconds))
                    out.append((t + s, ev.JobProgress(job, phase, frames, FRAMES, 1.0, encodes)))
                t += seconds
            n += 1
            out.append((t, ev.JobDone(job, n, jobs, False, FRAMES, 1.0, 90.0)))
    return [*out, (t, ev.StepFinished("corpus", t, {}))]


def test_a_shared_decode_counts_every_encode_it_makes() -> None:
    """A shared decode's first job encodes its batch's four encodes (`encodes` 4), which then only score: the work
    done counts all four as it goes, so on a steady box the estimate holds from the first tenth of the work, during
    a batch's encode too. Counted as one job's encode (before `encodes`), the work done crawled at a fifth of its pace
    through each batch's encode and leapt as its other jobs scored: the real clips' first figures said twice the
    time left (bench/README.md)."""
    seen = estimates(batched_corpus(batches=6, size=4, pace=1e7))
    assert not off(seen, 1.2), off(seen, 1.2)[:5]
    clock = RunClock()
    for t, e in batched_corpus(batches=6, size=4, pace=1e7):
        clock.feed(e, t)
    assert clock.done["corpus", "jobs"] == 24 * JOB_WORK and not any(clock.encoded.values())  # each counted once


def test_each_step_trains_at_its_own_pace() -> None:
    """The bundle's refit goes twice as slow per counted step as LOSO's training did (1.8 on real clips: fewer
    members at once, a crowd arriving): its own pace counts from PRIOR_S into it, where a pace of all training, two
    minutes of it LOSO's, said under 0.6 of the time left."""
    pace, events = 1e7, [(0.0, ev.RunStarted("/out", ["loso", "bundle"], "2.1.0")),
                         (0.0, ev.StepStarted("loso", "x")), (0.0, ev.Forecast("loso", 120e7, 120e7)),
                         (0.0, ev.Forecast("bundle", 60e7, 60e7))]
    events += [(float(s), ev.Epoch("loso", s, 120, 10, 1.0, s * pace)) for s in range(1, 121)]
    events += [(120.0, ev.StepFinished("loso", 120.0, {})), (120.0, ev.StepStarted("bundle", "x"))]
    events += [(120.0 + s, ev.Epoch("bundle", s, 120, 5, 1.0, s * pace / 2)) for s in range(1, 121)]
    events += [(240.0, ev.StepFinished("bundle", 120.0, {}))]
    seen = estimates(events)
    assert not off(seen, 1.5, since=120 + PRIOR_S), off(seen, 1.5, since=120 + PRIOR_S)[:5]


def test_status_s_time_left_is_the_work_not_done_at_the_pace_of_this_run_s_jobs() -> None:
    """`status` tells a corpus's time left from its files (kit.steps.status.jobs_progress): the jobs reused count as
    done but gave no pace; until this run has done three times as many jobs as run at once, no figure."""
    from kit.report.eta import jobs_left

    work = {"a": 1e8, "b": 1e8, "c": 2e8, "d": 2e8, "old": 5e8}
    assert jobs_left(work, {"old": 0.0}, {"old"}, 30.0, 1) is None  # only a reused job done: no pace yet
    assert jobs_left(work, {"old": 0.0, "a": 10.0, "b": 20.0}, {"old"}, 25.0, 1) is None  # 3 x the workers wanted
    # a, b and c (4e8) by 40 s: d (2e8) ends 20 s after that, 15 s from now
    assert jobs_left(work, {"old": 0.0, "a": 10.0, "b": 20.0, "c": 40.0}, {"old"}, 45.0, 1) == pytest.approx(15.0)
    assert jobs_left(work, {"old": 0.0, "a": 10.0, "b": 20.0, "c": 40.0}, {"old"}, 45.0, 2) is None  # two at once
    assert jobs_left(work, {"old": 0.0, "a": 10.0, "b": 20.0, "c": 40.0, "d": 60.0}, {"old"}, 61.0, 1) == 0.0


SHAPES = {"equal": lambda i, n: 1.0, "rungs": lambda i, n: 1.0 if i % 2 == 0 else 0.3,
          "rising": lambda i, n: 1 + i / n, "falling": lambda i, n: 2 - i / n,
          "random": lambda i, n: 0.2 + (i * 7919 % 97) / 97 * 1.8}


@pytest.mark.parametrize("workers", [1, 2, 3, 4])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_status_s_time_left_is_within_2x_of_the_truth_from_its_first_figure(workers: int, shape: str) -> None:
    """The class of corpus runs `status` watches: 4 to 64 jobs run `workers` at a time in their order (each on the
    first worker free), of equal work, a clip's native and half-height rungs (1 and 0.3), rising, falling or mixed
    work, 10 s a unit; every half second, whenever jobs_left gives a figure it is within 2x of the time truly left
    (both taken as at least 10 s: `status` says a time left to 5 s). Before issue 77 the pace was the work done over
    the seconds since the plan, from the first job on: 126 s said for 62 s left on eight equal jobs one at a time,
    the jobs running beside the first ones uncounted."""
    from kit.report.eta import jobs_left

    for n in (4, 8, 24, 64):
        sizes = [SHAPES[shape](i, n) for i in range(n)]
        ends, free = [], [0.0] * workers
        for size in sizes:
            k = free.index(min(free))
            free[k] += size * 10.0
            ends.append(free[k])
        work = {f"j{i}": size * 1e8 for i, size in enumerate(sizes)}
        finish = max(ends)
        for t in (x * 0.5 for x in range(1, int(finish * 2))):
            done = {f"j{i}": end for i, end in enumerate(ends) if end <= t}
            left = jobs_left(work, done, set(), t, workers)
            if left is not None and len(done) < n:
                assert 0.5 <= max(left, 10.0) / max(finish - t, 10.0) <= 2.0, (n, t, left, finish - t)


def test_a_utc_stamp_the_kit_wrote_reads_back_as_seconds() -> None:
    from kit.infra.clock import seconds_since_utc

    assert seconds_since_utc("2026-11-27T08:00:00Z", now=1795766400.0 + 90) == 90.0  # 08:00:00 UTC, 90 s later
    assert seconds_since_utc("20261127T080000Z") is None and seconds_since_utc("") is None


def test_status_counts_a_ledger_by_what_is_at_its_name_whatever_it_is(tmp_path: Path) -> None:
    """`status` reads the jobs folder once (Tree.file_names) and a ledger only where a regular file is at its name:
    the same count as asking is_file of each ledger's path, for every kind of entry at a ledger's name. Done: a
    ledger of this run. Not done, not damaged: none, a folder, a link (to a ledger of this run: never followed), a
    named pipe, a ledger of before the plan, one of another redo generation. Damaged (redone): JSON of another shape,
    no JSON, a field broken. And a jobs folder that is missing."""
    import json
    import os

    from kit.corpus.jobs import JobLedger
    from kit.corpus.progress import JobsPlan, planned_jobs_done
    from kit.infra.tree import read_out_dir

    out = tmp_path / "out"
    jobs = out / "02_corpus" / "jobs"
    jobs.mkdir(parents=True)
    started = "2026-11-28T10:00:00Z"

    def ledger(job_id: str, at: str = "2026-11-28T10:05:00Z", generation: str | None = None) -> str:
        return json.dumps(JobLedger(job_id, "f" * 64, "a" * 64, 100, 12.5, completed_at_utc=at,
                                    generation=generation).to_json())

    kinds = {"done": ledger("done"), "before": ledger("before", "2026-11-28T09:00:00Z"),
             "other-generation": ledger("other-generation", generation="g2"), "not-an-object": "[1, 2]",
             "no-json": "{", "broken-field": ledger("broken-field").replace('"rows": 100', '"rows": -3')}
    for name, text in kinds.items():
        (jobs / f"{name}.json").write_text(text)
    (jobs / "folder.json").mkdir()
    (jobs / "elsewhere.json").write_text(ledger("link"))
    (jobs / "link.json").symlink_to(jobs / "elsewhere.json")
    os.mkfifo(jobs / "pipe.json")
    planned = [*kinds, "folder", "link", "pipe", "missing", "reused"]
    plan = JobsPlan(started, {j: 1.0 for j in planned}, ["reused"])
    with read_out_dir(out) as tree:
        done, damaged = planned_jobs_done(tree, jobs, plan)
        assert done == {"reused": "", "done": "2026-11-28T10:05:00Z"}
        assert sorted(d.split(" ")[0] for d in damaged) == ["broken-field.json", "no-json.json", "not-an-object.json"]
        # the folder read once finds what is_file of each path found (the code before)
        assert tree.file_names(jobs) == {n for n in os.listdir(jobs) if tree.is_file(jobs / n)} == \
            {f"{j}.json" for j in kinds} | {"elsewhere.json"}
        for entry in jobs.iterdir():
            entry.rmdir() if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        jobs.rmdir()
        assert planned_jobs_done(tree, jobs, plan) == ({"reused": ""}, [])


def test_status_counts_the_jobs_this_run_listed_without_reading_their_ledgers(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A running step of thousands of jobs: `status` read each ledger (0.2 ms a ledger, a step of 2,000 jobs half
    done took it past 0.5 s). The run now lists each job it finishes (02_corpus/done.txt, jobs.DoneList), and
    `status` reads the ledger only of a job it does not list. The class, generated: 300 plans of random jobs, with a
    redo generation or none, each job reused, listed (its ledger this run's), ended but not yet listed, of a ledger
    from before the plan or of another generation, damaged or not run, with lines of an older plan, of no planned
    job, cut short or no date beside them: the count is the count of every ledger read, the same jobs, ends and
    damage, and no listed job's ledger is read."""
    import json
    import random

    import kit.corpus.progress as progress_module
    from kit.corpus.jobs import JobLedger, JobResult
    from kit.corpus.progress import DoneList, JobsPlan, listed_done, planned_jobs_done
    from kit.infra.tree import read_out_dir

    rng = random.Random(77)
    started = "2026-11-28T10:00:00Z"
    reads: list[Path] = []
    read_record = progress_module.read_record
    monkeypatch.setattr(progress_module, "read_record", lambda cls, tree, path: reads.append(path) or
                        read_record(cls, tree, path))
    for n in range(300):
        out = tmp_path / f"out{n}"
        jobs = out / "02_corpus" / "jobs"
        jobs.mkdir(parents=True)
        done_list = out / "02_corpus" / "done.txt"
        kinds = {f"j{i}": rng.choice(["reused", "listed", "unlisted", "before", "damaged", "not run", "other"])
                 for i in range(rng.randint(0, 12))}  # other: a ledger of another redo generation, after the plan
        generation = rng.choice(["", "g7"])
        lines = [f"j{rng.randint(0, 20)}\t2026-11-28T09:00:00Z", "nojob\t2026-11-28T10:30:00Z", "j1\tno date",
                 "j2"]  # an older plan's, no planned job's, no date, cut short
        with read_out_dir(out.parent) as tree:
            for job_id, kind in kinds.items():
                at = "2026-11-28T09:30:00Z" if kind == "before" else f"2026-11-28T10:{rng.randint(1, 59):02d}:00Z"
                made_in = ("g2" if generation == "" else None) if kind == "other" else generation or None
                text = json.dumps(JobLedger(job_id, "f" * 64, "a" * 64, 9, 1.0, completed_at_utc=at,
                                            generation=made_in).to_json())
                if kind != "not run":
                    (jobs / f"{job_id}.json").write_text(text if kind != "damaged" else text[:40])
                if kind == "listed":
                    lines.append(f"{job_id}\t{at}")
            rng.shuffle(lines)
            done_list.write_text("\n".join(lines) + "\n")
            plan = JobsPlan(started, dict.fromkeys(kinds, 1.0), [j for j, k in kinds.items() if k == "reused"],
                            generation)
            listed = listed_done(tree, done_list, plan)
            assert set(listed) == {j for j, k in kinds.items() if k == "listed"}
            reads.clear()
            counted = planned_jobs_done(tree, jobs, plan, listed)
            assert not {p.stem for p in reads} & set(listed)
            assert counted == planned_jobs_done(tree, jobs, plan)  # every ledger read: the same count and damage
    with read_out_dir(tmp_path) as tree:  # as the run writes it: begun anew, a line each, none without its end
        (tmp_path / "done.txt").write_text("j0\t2026-11-28T10:01:00Z\n")  # an older run's
        listed = DoneList(tree, tmp_path / "done.txt")
        listed.add(JobResult("j0", 9, 1.0, 1.0, False, 90.0, "2026-11-28T10:07:00Z"))
        listed.add(JobResult("j1", 9, 1.0, 1.0, False, 90.0))  # no end said: not listed
        listed.close()
        listed.add(JobResult("j2", 9, 1.0, 1.0, False, 90.0, "2026-11-28T10:08:00Z"))  # closed: nothing, no error
        plan = JobsPlan(started, {"j0": 1.0, "j1": 1.0, "j2": 1.0}, [])
        assert listed_done(tree, tmp_path / "done.txt", plan) == {"j0": "2026-11-28T10:07:00Z"}  # its ledger's end
        assert listed_done(tree, tmp_path / "missing.txt", plan) == {}
        (tmp_path / "done.txt").chmod(0o666)  # writable by others: passed by, its jobs' ledgers read
        assert listed_done(tree, tmp_path / "done.txt", plan) == {}


def test_a_stamp_is_read_by_its_digits_as_strptime_reads_it() -> None:
    """kit.infra.clock.utc_seconds reads the kit's own stamps by their digits (strptime cost ~20 us a stamp, and
    `status` of a running step reads one for each job done). The class, generated: every month 0 to 13 and day 0 to
    32 of thirteen years (0, leap and century years, 9999) at eight times of day (24 h, a 60th minute, leap seconds
    60 and 61, a 62nd), 100,000 random stamps of the shape, and texts of the shape strptime reads otherwise (a
    newline after it, digits of another script): the same seconds as strptime and timegm, or None alike."""
    import calendar
    import random
    import re
    import time

    from kit.infra.clock import ISO_UTC, utc_seconds

    shape = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")

    def by_strptime(stamp: object) -> int | None:
        if not isinstance(stamp, str) or not shape.match(stamp):
            return None
        try:
            return calendar.timegm(time.strptime(stamp, ISO_UTC))
        except ValueError:
            return None

    stamps: list[object] = [f"{y:04d}-{mo:02d}-{d:02d}T{t}Z" for y in (0, 1, 4, 100, 1600, 1900, 1969, 1970, 2000,
                            2024, 2026, 2100, 9999) for mo in range(14) for d in range(33)
                            for t in ("00:00:00", "23:59:59", "24:00:00", "00:60:00", "00:00:60", "00:00:61",
                                      "00:00:62", "12:34:56")]
    rng = random.Random(77)
    stamps += [f"{rng.randint(0, 9999):04d}-{rng.randint(0, 99):02d}-{rng.randint(0, 99):02d}T{rng.randint(0, 99):02d}:"
               f"{rng.randint(0, 99):02d}:{rng.randint(0, 99):02d}Z" for _ in range(100_000)]
    stamps += ["2026-11-28T10:00:00Z\n", "٢٠٢٦-11-28T10:00:00Z", "2026-11-28T1٠:00:00Z", "2026-11-28T10:00:00", "",
               None, 5]
    assert [utc_seconds(s) for s in stamps] == [by_strptime(s) for s in stamps]
    assert utc_seconds("2024-02-29T00:00:00Z") == 1709164800 and utc_seconds("2026-02-29T00:00:00Z") is None


def paused_run(pause_s: float, at_share: float, working: bool) -> list[tuple[float, float | None, float]]:
    """The renderer's `eta` events of a steady run (simulate) whose kit and children a stop of `pause_s` holds once
    `at_share` of the corpus's work is done (scontrol suspend, a lid: the kit's watch ticks every OWN_READ_S but in
    the stop, and the events after it come before its next tick); (time, estimate, truth) of each, in the run's
    working seconds. `working`: the renderer measures its pace on the kit's clock, its pauses left out (else on the
    wall clock, as 2.4 did)."""
    import io
    import json

    from rich.console import Console

    from kit.infra.clock import OWN_READ_S, Watch
    from kit.report.terminal import Renderer

    events = simulate(lambda t: 2e7)
    jobs = next(e for _, e in events if isinstance(e, ev.JobsPlanned)).total
    done = [t for t, e in events if isinstance(e, ev.JobDone)]
    at = done[round(at_share * jobs)]  # the stop comes as that job ends
    wall = [0.0]
    watch = Watch(lambda: wall[0], Path("/nonexistent-proc"), threaded=False)
    out = io.StringIO()
    renderer = Renderer(json_mode=True, json_stream=out, console=Console(file=io.StringIO()), clock=lambda: wall[0],
                        working=watch.kit_seconds if working else None)
    said: list[tuple[float, float | None, float]] = []
    end, ticked = events[-1][0], 0.0
    for t, e in events:
        wall[0] = t + (pause_s if t > at else 0.0)
        renderer(e)  # the events first, then the watch's tick: the worst order
        for line in out.getvalue().splitlines():
            found = json.loads(line)
            if found["event"] == "eta":
                said.append((t, found["seconds_left"], end - t))
        out.seek(0)
        out.truncate()
        while ticked + OWN_READ_S <= t:
            ticked += OWN_READ_S
            wall[0] = ticked + (pause_s if ticked > at else 0.0)
            watch.tick()
    return said


def test_the_time_left_after_a_pause_does_not_count_the_pause_as_work() -> None:
    """Issue 98, item 4: 2.4 said `about 2 min left (47 %)` just before a 200 s stop and `about 30 min left (51 %)`
    just after. The kit's own clock leaves its pauses out (kit.infra.clock.Watch), so every estimate after the stop is
    within 2x of what remains; the pace on the wall clock is not (this test's contrast: what 2.4 did)."""
    seen = paused_run(200.0, 0.47, working=True)
    after = [(t, left, truth) for t, left, truth in seen if left is not None and truth > 5]
    assert after and all(truth / 2 <= left <= truth * 2 for _, left, truth in after), after[:5]
    wall = [(t, left, truth) for t, left, truth in paused_run(200.0, 0.47, working=False)
            if left is not None and truth > 5 and not truth / 2 <= left <= truth * 2]
    assert wall, "the wall clock's pace after the stop was within 2x: the test cannot tell the fix"


def test_the_bundle_s_rest_grows_with_the_rows_it_checks_and_packs() -> None:
    """At 10,000 contents the bundle said "about 30 s left (97 %)" for its last six minutes: its forecast counted the
    refit and a fixed rest, not the tarball's members checked by the catalogue and packed, which grow with the rows
    (7.5 minutes in all at 3,000,000 rows and 50 s at 300,000 in 2.5: bench/README.md#scale-10000; since its names
    are looked up, 160 s at 3,000,000 for the report, the texts and the tarball, 2.6.2)."""
    from kit.model.cost import PACE, bundle_work
    from kit.steps.settings import RunSettings

    config = RunSettings(out_dir=Path("out")).train
    for rows, low, high in ((300_000, 15, 60), (3_000_000, 130, 250)):
        cost = bundle_work(rows, 5, config, 1, promoted=False)
        assert cost.training == 0 and low < cost.work / PACE < high, (rows, cost.work / PACE)


def test_a_promote_s_bundle_counts_its_profile_checked_on_every_row() -> None:
    """A PROMOTE's bundle at 10,000 contents took 12 minutes, 7 of them checking its vmaf-tune profile's six models on
    every row, which its forecast did not count ("bundle 6 min past its estimate"): its rest is a HOLD's and the
    profile's models, one a seed, each about 26 us a row; its parts, in the order the bundle says them, sum to it."""
    from kit.model.cost import FIXED_WORK, PACE, SETUP_SHARE, bundle_parts, bundle_work
    from kit.steps.settings import RunSettings

    config = RunSettings(out_dir=Path("out")).train
    held, promoted = bundle_work(3_000_000, 5, config, 1, promoted=False), bundle_work(3_000_000, 5, config, 1)
    assert 330 < (promoted.work - promoted.training - held.work) / PACE < 450  # 466 s for six models in 2.6.2
    for verdict, cost in ((False, held), (True, promoted)):
        parts = bundle_parts(3_000_000, 5, config, verdict)
        assert list(parts) == ["exports", "report", "texts", "tarball"]
        assert cost.setup == FIXED_WORK["bundle"] * SETUP_SHARE["bundle"]
        assert cost.work - cost.training == pytest.approx(cost.setup + sum(parts.values()))
    other = replace(config, inputs="canonical6+v1")  # no profile: vmaf-tune feeds the canonical six alone
    assert bundle_work(3_000_000, 5, other, 1).work - bundle_work(3_000_000, 5, other, 1).training == held.work


def test_a_bundle_s_first_epoch_counts_its_set_up_alone() -> None:
    """The bundle's forecast says its set-up (the corpus and torch loaded): its refit's first epoch counts that, not a
    tenth of all its rest, which on a PROMOTE at 10,000 contents holds minutes of its profile checked (56 units of
    PACE where 0.8 are its set-up); its exports then count from there."""
    from kit.model.cost import PACE, bundle_work
    from kit.steps.settings import RunSettings

    cost = bundle_work(3_000_000, 5, RunSettings(out_dir=Path("out")).train, 1)
    clock = RunClock()
    for t, e in [(0.0, ev.RunStarted("/out", ["bundle"], "2.7.0")), (0.0, ev.StepStarted("bundle", "not run yet")),
                 (1.0, ev.Forecast("bundle", cost.work, cost.training, cost.setup)),
                 (5.0, ev.Epoch("bundle", 1, 12, 5, 0.01, 1.0))]:
        clock.feed(e, t)
    assert clock.done["bundle", "rest"] == pytest.approx(cost.setup) and cost.setup < 1.0 * PACE
    clock.feed(ev.Doing("bundle", "checking the vmaf-tune profile's model 1 of 5 on every row", 0.5), 60.0)
    rest = cost.work - cost.training
    assert clock.done["bundle", "rest"] == pytest.approx(cost.setup + 0.5 * (rest - cost.setup))


def test_the_seconds_before_a_step_first_says_how_far_it_is_are_not_its_pace() -> None:
    """A cluster's gather reads the union for minutes, trains nothing, then evaluates: its first `doing` starts the
    evaluation's clock, so the reading's seconds do not make the evaluation's pace slow."""
    clock = RunClock()
    for t, e in [(0.0, ev.RunStarted("/out", ["loso"], "2.7.0")), (0.0, ev.StepStarted("loso", "not run yet")),
                 (300.0, ev.Forecast("loso", 1e8)), (300.0, ev.Doing("loso", "evaluating ridge", 0.0)),
                 (310.0, ev.Doing("loso", "evaluating the members", 0.1))]:
        clock.feed(e, t)
    pace = clock.paces["loso", "rest"]
    assert pace.work == pytest.approx(1e7) and pace.seconds == pytest.approx(10.0)


def test_the_verdict_s_work_grows_with_the_rows() -> None:
    """The verdict was a fixed 1.2 s of work: at 10,000 contents it ran 69 s (6.2 at 1,000; 20.7 at 3,000), so the
    time left said nothing of it on a large union; 0.67 of that since its groups' figures are taken from arrays
    (the seconds below: those x 0.67, the CPU ratio measured A B at 1,000 and 10,000 contents, projected).
    Its forecast is per row, from the corpus step, from LOSO and from the verdict step itself."""
    from kit.model.cost import PACE, forecast, verdict_work
    from kit.steps.settings import RunSettings

    for rows, seconds in ((300_000, 4.2), (900_000, 13.9), (3_000_000, 46.6)):
        assert 0.7 < verdict_work(rows).work / PACE / seconds < 1.4, rows
    config = RunSettings(out_dir=Path("out")).train
    said = {c.step: c for c in forecast(3_000_000, 10_000, 10_000, 5, "auto", config, 2)}
    assert said["verdict"] == verdict_work(3_000_000)


def loso_alone(gap_s: float, after_said: float) -> tuple[RunClock, float]:
    """`--only loso` on the 50,000-content union, as its run said it: its forecast (the verdict's and the bundle's
    too, which this run does not run), 60 s of set-up, 10 s of training, then `gap_s` seconds of evaluation that no
    event counts, of which the forecast said `after_said` of work; the clock and the time at the gap's end."""
    setup, training = 6e7, 1e7  # the set-up's in 60 s: the rest's pace 1e6 a second
    clock = RunClock()
    events = [(0.0, ev.RunStarted("/out", ["loso"], "2.6.0")), (0.0, ev.StepStarted("loso", "not run yet")),
              (1.0, ev.Forecast("loso", setup + training + after_said, training, setup)),
              (1.0, ev.Forecast("verdict", 3e8)), (1.0, ev.Forecast("bundle", 9e8, 4e8))]
    events += [(60.0 + k, ev.Epoch("loso", k, 10, 50, 0.01, training * k / 10)) for k in range(1, 11)]
    for t, e in events:
        clock.feed(e, t)
    return clock, 70.0 + gap_s


def test_a_step_s_minutes_without_an_event_count_down_then_say_they_are_past_it() -> None:
    """At 50,000 contents LOSO said "about 4 min left (40 %)" for its last six minutes: no event counts the work of
    its evaluation, so each estimate was the one made at its last epoch. The seconds since work was last counted now
    go to the running step: its estimate counts down, and past it the line says by how much."""
    from kit.report.eta import left_words

    clock, end = loso_alone(0.0, 2.4e8)  # 240 s of evaluation at the set-up's pace
    first = clock.left(end)
    assert first is not None and first.seconds_left == pytest.approx(240.0, rel=0.05) and first.overdue_s == 0
    later = clock.left(end + 100.0)
    assert later is not None and later.seconds_left == pytest.approx(first.seconds_left - 100.0, abs=1e-6)
    late = clock.left(end + 360.0)
    assert late is not None and late.seconds_left == 0 and late.overdue_s == pytest.approx(360.0 - first.seconds_left)
    assert left_words(late) == f"loso 2 min past its estimate ({100 * late.done:.0f} % of its work done)"
    assert left_words(later).startswith("about 2 min left")


def test_the_share_done_is_of_the_steps_the_run_runs() -> None:
    """`--only loso` said 19 % done as its LOSO ended: the share counted the verdict's and the bundle's forecasts,
    steps it never runs. It is now LOSO's own: its set-up and training of its work in all."""
    clock, end = loso_alone(0.0, 2.4e8)
    found = clock.left(end)
    assert found is not None and found.done == pytest.approx((6e7 + 1e7) / (6e7 + 1e7 + 2.4e8))


def test_loso_s_work_after_training_is_what_it_took() -> None:
    """LOSO's evaluation after training took 30 and 82 s at 900,000 and 3,000,000 rows, at a pace its set-up measured
    as 3.25 and 2.97 times kit.model.cost.PACE in the same run (bench/README.md#step-memory): its work per prediction
    says each within a fifth."""
    from kit.model.cost import PACE, loso_rest
    from kit.model.recipe import TrainConfig

    for rows, seconds, pace in ((900_000, 30.0, 3.25), (3_000_000, 82.0, 2.97)):
        _, after = loso_rest(rows, 5, TrainConfig())
        assert 0.8 < after / (pace * PACE) / seconds < 1.2, (rows, after / (pace * PACE))


@pytest.mark.parametrize(("left", "part", "ago", "over", "said"), [
    (100.0, 100.0, 40.0, 0.0, "eta 1 min"), (10.0, 10.0, 100.0, 0.0, "late 2 min"),
    (274.0, 30.0, 120.0, 0.0, "late 2 min, then 4 min"), (274.0, 30.0, 20.0, 0.0, "eta 4 min"),
    (60.0, 0.0, 0.0, 30.0, "late 30 s, then 1 min"), (0.0, 0.0, 10.0, 30.0, "late 40 s")])
def test_the_bar_counts_down_then_says_how_late(left: float, part: float, ago: float, over: float, said: str) -> None:
    """The steps bar counts the time left down on the kit's own clock between two `eta` events, the running step's
    part of it first (`part`); past that part, or with the step already past its estimate (`overdue_s`), it says how
    late, then what the steps after it take: LOSO's 30 s of a run's 274 s, after 120 s with no event, is 90 s late
    with 4 minutes to follow, not "eta 3 min"."""
    from rich.progress import Task, TaskID

    from kit.report.terminal import _TimeColumn

    now = [1000.0]
    task = Task(TaskID(0), "steps", None, 0, _get_time=lambda: now[0],
                fields={"left": left, "step_left": part, "left_at": now[0] - ago, "over": over,
                        "clock": lambda: now[0]})
    assert _TimeColumn().render(task).plain == said


def test_loso_s_evaluation_said_as_it_goes_keeps_every_estimate_near_the_truth() -> None:
    """LOSO's evaluation after training, said as it goes (`doing` with its share done every 5 s), runs half again as
    slow as its forecast said (360 s where the set-up's pace makes it 240): its estimates follow its own pace, each
    within 1.5 times the truth while more than 20 s are left, none past its estimate. Unsaid (2.6.2), the same
    seconds counted down from the forecast's 240 s and were past it for the last two minutes."""
    truth = 360.0

    def run(said: bool) -> list[tuple[float, float, float]]:
        clock, end = loso_alone(0.0, 2.4e8)
        seen = []
        for k in range(1, int(truth // 5) + 1):
            t = end + 5.0 * k
            if said:
                clock.feed(ev.Doing("loso", "evaluating", 5.0 * k / truth), t)
            found = clock.left(t)
            assert found is not None and found.seconds_left is not None
            seen.append((truth - 5.0 * k, found.seconds_left, found.overdue_s))
        return seen

    said = [(left, est, over) for left, est, over in run(True) if left > 20]
    assert all(left / 1.5 <= est <= left * 1.5 and over == 0 for left, est, over in said), said
    unsaid = run(False)
    assert any(over > 60 for _, _, over in unsaid), unsaid[-3:]


def test_a_step_s_work_after_training_is_counted_up_to_its_rest_and_never_back() -> None:
    """`doing`'s `done` moves the running step's rest from where it stood (its set-up, counted at its first epoch)
    to all of it: half of it, half the rest after training; a smaller share later counts nothing back; another
    step's, or a `doing` without a share, nothing at all."""
    clock, end = loso_alone(0.0, 2.4e8)
    before = clock.done["loso", "rest"]
    assert before == pytest.approx(6e7)
    for e in (ev.Doing("verdict", "other", 0.9), ev.Doing("loso", "reading", None)):
        clock.feed(e, end)
        assert clock.done["loso", "rest"] == before
    clock.feed(ev.Doing("loso", "evaluating", 0.5), end + 1)
    assert clock.done["loso", "rest"] == pytest.approx(6e7 + 1.2e8)
    clock.feed(ev.Doing("loso", "evaluating", 0.25), end + 2)
    assert clock.done["loso", "rest"] == pytest.approx(6e7 + 1.2e8)
    clock.feed(ev.Doing("loso", "writing", 1.0), end + 3)
    assert clock.done["loso", "rest"] == pytest.approx(clock.planned["loso", "rest"])


def test_a_gather_that_trains_nothing_counts_its_whole_rest_by_what_it_says() -> None:
    """A cluster's gather finds every member on disk: its forecast says the rest from then on (no set-up left) and no
    epoch comes until a --holdout trains; its evaluation's `doing` counts that rest from 0, and the --holdout's first
    epoch takes none of it as a set-up done."""
    clock = RunClock()
    for t, e in [(0.0, ev.RunStarted("/out", ["loso"], "2.6.3")), (0.0, ev.StepStarted("loso", "not run yet")),
                 (1.0, ev.Forecast("loso", 1e8 + 1e7, 1e7))]:
        clock.feed(e, t)
    clock.feed(ev.Doing("loso", "evaluating", 0.4), 20.0)
    assert clock.done["loso", "rest"] == pytest.approx(4e7)
    found = clock.left(20.0)
    assert found is not None and found.done == pytest.approx(4e7 / 1.1e8)
    clock.feed(ev.Epoch("loso", 1, 10, 5, 0.01, 1e6), 21.0)  # --holdout box's training
    assert clock.done["loso", "rest"] == pytest.approx(4e7) and clock.done["loso", "training"] == pytest.approx(1e6)
