"""Rendering events (docs/events.md): on a terminal rich bars sharing the Console with the log lines, else plain lines
bounded per step with a heartbeat; NDJSON on stdout with --json (humans then read stderr)."""

from __future__ import annotations

import errno
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import IO, Any

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskID, TextColumn
from rich.table import Column, Table
from rich.text import Text

from kit import events as ev
from kit.infra.clock import WATCH
from kit.infra.records import dump
from kit.infra.visible import utf8_document, visible
from kit.report.eta import ETA_EVERY_S, OVERDUE_SAID_S, Estimate, RunClock, left_words, rough
from kit.report.gatelines import outcome_of
from kit.rundir import STEP_NAMES, step_number
from kit.verdict.kinds import GROUPS

PLAIN_JOB_LINES = 20  # plain mode prints about this many corpus job lines per step, plus failures
PLAIN_EPOCH_LINES = 5  # ... and this many training lines per training run
HEARTBEAT_S = 25.0  # plain lines: a line saying what is being done once the last is this old (checked each second)


class KitConsole(Console):
    """rich's Console with no emoji codes (`-map 0:v:0` printed as spelled), and a reader gone away (`| head -1`) a
    BrokenPipeError, which the guard turns into a quiet 141 (rich's SystemExit(1) would read as HOLD)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("emoji", False)
        super().__init__(*args, **kwargs)

    def on_broken_pipe(self) -> None:
        self.quiet = True  # nothing more is written: the reader is gone
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


def tag(step: str) -> str:
    return f"[{step_number(step) if step in STEP_NAMES else 0:02d} {step}]"


def duration(seconds: float) -> str:
    """42 s, 3m05s, 1h02m."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class _TimeColumn(ProgressColumn):
    """`eta 1m20s`: kit.report.eta's on the steps and corpus bars, counted down on the kit's own clock from the last
    `eta` event (the running step's part of it first); `late 2 min, then 4 min` once the running step is past its
    estimate; rich's on the others."""

    def render(self, task: Task) -> Text:
        remaining = task.fields.get("left", task.time_remaining)
        late = 0.0
        if remaining is not None and "left_at" in task.fields:
            since = max(0.0, task.fields.get("clock", time.monotonic)() - task.fields["left_at"])
            part = task.fields.get("step_left", remaining)  # the running step's part of `left`
            late = task.fields.get("over", 0.0) + max(0.0, since - part)
            remaining = max(0.0, remaining - min(since, part))
        if late >= OVERDUE_SAID_S and remaining is not None:
            then = f", then {rough(remaining)}" if remaining >= OVERDUE_SAID_S else ""
            return Text(f"late {rough(late)}{then}", style="progress.remaining")
        return Text("eta " + rough(remaining) if remaining is not None else "estimating", style="progress.remaining")


def check_table(rows: list[list[str]], columns: tuple[str, ...] = ("check", "result", "detail"), ok_at: int = 1
                ) -> Table:
    """Check rows as a table of Text cells, the last without its hint, green where the cell at `ok_at` says so."""
    table = Table(show_header=True, header_style="bold")
    for col in columns:  # the last column folds a word longer than it (a list of encoders) rather than cut it
        table.add_column(col, overflow="fold" if col == columns[-1] else "ellipsis")
    for row in rows:
        cells = [*row[:-1], ev.split_hint(row[-1])[0]]
        style = "green" if row[ok_at] in ("ok", "yes") else "yellow"
        table.add_row(*(Text(visible(cell)) for cell in cells), style=style)
    return table


def bar_columns(width: int) -> tuple[ProgressColumn, ...]:
    """The bars' columns for a terminal `width` wide: on 80 columns every bar keeps its ETA."""
    describe, count, clock = min(26, max(16, width // 4)), 14 if width >= 100 else 12, 10
    rest = max(0, width - describe - count - clock - 4)  # the four spaces between the five columns
    bar = min(28, max(6, rest // 2))
    info = min(40, rest - bar - 1)
    columns: list[ProgressColumn] = [
        # markup off: a job's description and info hold clip names, whose brackets are not rich markup
        TextColumn("{task.description}", markup=False, table_column=Column(width=describe, no_wrap=True)),
        BarColumn(bar_width=bar),
        TextColumn("{task.fields[count]}", justify="right", markup=False,
                   table_column=Column(width=count, no_wrap=True)),
        _TimeColumn(table_column=Column(width=clock, no_wrap=True))]
    if info >= 6:
        columns.append(TextColumn("{task.fields[info]}", markup=False,
                                  table_column=Column(width=info, no_wrap=True, overflow="ellipsis")))
    return tuple(columns)


class FittedProgress(Progress):
    """rich's Progress with its columns fitted to the terminal's width at each refresh (it crops the ETA)."""

    def make_tasks_table(self, tasks: Iterable[Task]) -> Table:
        live = getattr(self, "live", None)  # None while rich's own __init__ draws the first table
        if live is not None and live.console.width != getattr(self, "_fitted_to", None):
            self.columns, self._fitted_to = bar_columns(live.console.width), live.console.width
        return super().make_tasks_table(tasks)


class LiveBars:
    """The bars of one run on a terminal; every method is called with the Renderer's lock held."""

    def __init__(self, console: Console, steps: list[str]) -> None:
        self.progress = FittedProgress(*bar_columns(console.width), console=console, transient=True,
                                       redirect_stdout=False, redirect_stderr=False)
        self.progress.start()
        self.corpus: TaskID | None = None
        self.jobs: dict[str, tuple[TaskID, dict[str, int]]] = {}  # job -> its bar, frames done per phase and "frames"
        self.steps_total, self.steps_done = len(steps), 0
        self.corpus_total, self.corpus_done = 0, 0.0
        self.training: tuple[tuple[str, int, int], TaskID] | None = None
        self.last_epoch = 0
        self.steps = self._add("steps", len(steps), f"0/{len(steps)}", left=None)  # "estimating" until an estimate

    def _add(self, description: str, total: float | None, count: str = "", info: str = "", completed: int = 0,
             **fields: Any) -> TaskID:
        return self.progress.add_task(description, total=total, completed=completed, count=count, info=info, **fields)

    def _drop(self, task: TaskID | None) -> None:
        if task is not None:
            self.progress.remove_task(task)

    def step_started(self, step: str) -> None:
        self.end_step()
        self.progress.update(self.steps, info=f"{tag(step)} running")

    def step_ended(self) -> None:
        self.end_step()
        self.steps_done += 1
        self.progress.update(self.steps, completed=self.steps_done, count=f"{self.steps_done}/{self.steps_total}",
                             info="")

    def end_step(self) -> None:
        for task, _ in self.jobs.values():
            self._drop(task)
        self.jobs.clear()
        self._drop(self.corpus)
        self.corpus = None
        self._drop(self.training[1] if self.training else None)
        self.training = None

    def jobs_planned(self, total: int, reused: int) -> None:
        self.corpus_total, self.corpus_done = total, float(reused)
        self.corpus = self._add("corpus jobs", total, f"{reused}/{total}", f"{reused} reused" if reused else "",
                                completed=reused, left=None)

    def jobs_dropped(self, total: int, reused: int) -> None:
        """The step's count is `total` from now on; `reused` of the jobs dropped had been counted done."""
        self.corpus_total, self.corpus_done = total, self.corpus_done - reused
        if self.corpus is not None:
            self.progress.update(self.corpus, total=total)
            self._update_corpus()

    def run_left(self, e: ev.Eta, now: float, clock: Callable[[], float]) -> None:
        """The whole run's time left on the steps bar, the corpus's on its bar, each counted down on `clock` (the
        kit's own, `now` its time) until the next, the running step's part first."""
        self.progress.update(self.steps, left=e.seconds_left, left_at=now, clock=clock, over=e.overdue_s,
                             step_left=e.steps_left.get(e.step, 0.0))
        if self.corpus is not None:
            self.progress.update(self.corpus, left=e.steps_left.get("corpus"), left_at=now, clock=clock,
                                 over=e.overdue_s if e.step == "corpus" else 0.0)

    def job_started(self, e: ev.JobStarted) -> None:
        label = f"  {visible(e.src)[:18]} {e.encoder} cq{e.cq}" + (f" {e.rung}" if e.rung else "")
        self.jobs[e.job_id] = (self._add(label, 2 * e.frames, f"encode 0/{e.frames}", ""),
                               {"encode": 0, "score": 0, "frames": max(1, e.frames)})

    def job_progress(self, e: ev.JobProgress) -> None:
        if e.job_id not in self.jobs:
            return
        task, frames = self.jobs[e.job_id]
        frames[e.phase] = e.frames_done
        done = frames["encode"] + frames["score"]
        self.progress.update(task, completed=done, count=f"{e.phase} {e.frames_done}/{e.frames}",
                             info=f"{e.fps:.0f} fps")
        self._update_corpus()

    def job_ended(self, job_id: str, counted: bool, info: str) -> None:
        """A job left the pool: `counted` unless it was reused (already counted when planned)."""
        self._drop(self.jobs.pop(job_id, (None, {}))[0])
        if counted:
            self.corpus_done += 1
            self._update_corpus(info)

    def _update_corpus(self, info: str | None = None) -> None:
        if self.corpus is None:
            return
        running = sum((f["encode"] + f["score"]) / (2 * f["frames"]) for _, f in self.jobs.values())
        said: dict[str, Any] = {} if info is None else {"info": info}  # no info: the bar keeps the last one
        self.progress.update(self.corpus, completed=self.corpus_done + running,
                             count=f"{self.corpus_done:.0f}/{self.corpus_total}", **said)

    def epoch(self, e: ev.Epoch) -> None:
        key = (e.step, e.members, e.epochs)
        if self.training is None or self.training[0] != key or e.epoch < self.last_epoch:  # a new training
            self._drop(self.training[1] if self.training else None)
            self.training = (key, self._add(f"training {e.members} models", e.epochs))
        self.last_epoch = e.epoch
        self.progress.update(self.training[1], completed=e.epoch, count=f"epoch {e.epoch}/{e.epochs}",
                             info=f"loss {e.loss:.3f}")


class Renderer:
    """Turns events into output; one instance per invocation. Safe to call from worker threads."""

    def __init__(self, json_mode: bool = False, stream: IO[str] | None = None, console: Console | None = None,
                 json_stream: IO[str] | None = None, clock: Callable[[], float] = time.monotonic,
                 working: Callable[[], float] | None = None) -> None:
        self.json_mode = json_mode
        self.json_out = json_stream or sys.stdout
        human = sys.stderr if json_mode else (stream or sys.stdout)
        self.console = console or KitConsole(file=human, highlight=False, soft_wrap=True)
        self.live = self.console.is_terminal
        self.bars: LiveBars | None = None
        self.fresh_total = 0  # plain lines: the corpus jobs to run and run, the epoch said last
        self.fresh_done = 0
        self.last_epoch_print = 0
        self.now = clock  # monotonic seconds (a test gives its own)
        # the kit's own clock, its pauses left out (the whole box or the kit stopped: kit.infra.clock.Watch), which the
        # time left's pace is measured on: a stop of 200 s is no work done slowly
        self.working = working or (WATCH.kit_seconds if clock is time.monotonic else clock)
        self.clock = RunClock()  # the run's time left, fed every event (kit.report.eta)
        self.started = self.now()
        self.eta_at: float | None = None  # when the last `eta` event was made
        self.eta_said = ""  # plain lines: the basis of the estimate said last ("", "estimating", "measured")
        self.labels: dict[str, str] = {}  # job id -> "src encoder cqN"
        self.step = ""  # the step running, and what it is doing (the latest `doing`, job or epoch)
        self.doing = ""
        self.said_at = self.started  # when the last line was printed
        self.beat: threading.Event | None = None  # set to stop the heartbeat thread (plain lines)
        self._lock = threading.RLock()

    def __call__(self, event: ev.Event) -> None:
        with self._lock:
            now = self.now()
            changed = self.clock.feed(event, self.working())
            if self.json_mode:
                self.json_out.write(json.dumps(utf8_document(dump(event.to_json())), default=str) + "\n")
                self.json_out.flush()
            handler = getattr(self, f"on_{event.kind}", None)
            if handler is not None:
                handler(event)
            if not isinstance(event, ev.Eta | ev.RunFinished | ev.RunError):
                self.tell_eta(now, changed)

    def tell_eta(self, now: float, changed: bool) -> None:
        """An `eta` event when the estimate changed at once or ETA_EVERY_S has passed since the last."""
        if not changed and self.eta_at is not None and now - self.eta_at < ETA_EVERY_S:
            return
        found = self.clock.left(self.working())
        if found is None:
            return
        self.eta_at = now
        seconds = round(found.seconds_left, 1) if found.seconds_left is not None else None
        self(ev.Eta(seconds, round(now - self.started, 1), found.step, round(found.done, 3),
                    {step: round(v, 1) for step, v in found.steps_left.items()},
                    "measured" if found.measured else "estimating", round(found.overdue_s, 1)))

    def job_line_due(self) -> bool:
        """Counts a fresh job; True for every job of a small corpus, else about every 1/20th and the last."""
        self.fresh_done += 1
        every = max(1, self.fresh_total // PLAIN_JOB_LINES)
        return self.fresh_done % every == 0 or self.fresh_done >= self.fresh_total

    def epoch_line_due(self, e: ev.Epoch) -> bool:
        if e.epoch < self.last_epoch_print:
            self.last_epoch_print = 0  # a new training run
        # several rounds of training can end in one epoch: each epoch is printed once at most
        due = e.epoch != self.last_epoch_print and (
            e.epoch == e.epochs or e.epoch - self.last_epoch_print >= max(1, e.epochs // PLAIN_EPOCH_LINES))
        if due:
            self.last_epoch_print = e.epoch
        return due

    def say(self, text: str, style: str = "") -> None:
        """One line for people: names, paths and messages in it are made visible (kit/infra/visible.py)."""
        self.said_at = self.now()
        self.console.print(visible(text), style=style or None, markup=False)

    def close(self) -> None:
        with self._lock:
            self.on_run_finished()
            if self.bars is not None:
                self.bars.progress.stop()
                self.bars = None

    def heartbeat(self) -> None:
        """Plain lines: what the running step is doing and how far, once the last line is HEARTBEAT_S old."""
        with self._lock:
            now = self.now()
            if self.bars is not None or self.beat is None or now - self.said_at < HEARTBEAT_S:
                return
            jobs = (f"{self.fresh_done}/{self.fresh_total} jobs run; " if self.step == "corpus" and self.fresh_total
                    else "")
            where = f"{tag(self.step)} " if self.step else ""
            found = self.clock.left(self.working())
            self.say(f"{where}{jobs}{self.doing or 'working'}; the run: {left_words(found)}")

    def _beat_every_second(self, stop: threading.Event) -> None:
        while not stop.wait(1.0):
            try:
                self.heartbeat()
            except (OSError, ValueError):  # the reader is gone, the stream closed: nothing more to say
                return

    def on_eta(self, e: ev.Eta) -> None:
        if self.bars:
            self.bars.run_left(e, self.working(), self.working)
        elif self.eta_said != e.basis:  # plain lines: when it is first estimating, and the first figure
            self.eta_said = e.basis
            found = Estimate(e.seconds_left, e.steps_left, e.step, e.done, e.overdue_s)
            self.say(f"{tag(e.step) if e.step else ''} the run: {left_words(found)}"
                     + (" at this run's own paces" if e.seconds_left is not None else ""))

    def on_doing(self, e: ev.Doing) -> None:
        self.step, self.doing = e.step, e.what

    def on_run_started(self, e: ev.RunStarted) -> None:
        self.say(f"ensemble-kit {e.kit_version}: steps {', '.join(e.steps)} in {e.out_dir}", "bold")
        if self.live and self.bars is None:
            self.bars = LiveBars(self.console, e.steps)
        elif not self.live and self.beat is None:
            self.beat = threading.Event()
            threading.Thread(target=self._beat_every_second, args=(self.beat,), daemon=True,
                             name="kit-heartbeat").start()

    def on_run_finished(self, e: ev.RunFinished | None = None) -> None:
        if self.beat is not None:
            self.beat.set()
            self.beat = None

    def on_step_started(self, e: ev.StepStarted) -> None:
        if self.bars:
            self.bars.step_started(e.step)
        self.step, self.doing = e.step, ""
        self.say(f"{tag(e.step)} runs: {e.reason}", "bold cyan")

    def _step_over(self, counted: bool = True) -> None:
        self.step, self.doing = "", "planning the next step"
        if self.bars:
            self.bars.step_ended() if counted else self.bars.end_step()

    def on_step_skipped(self, e: ev.StepSkipped) -> None:
        self._step_over()
        self.say(f"{tag(e.step)} skipped: {e.reason}", "dim")

    def on_step_finished(self, e: ev.StepFinished) -> None:
        self._step_over()
        brief = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in e.summary.items()
                          if not isinstance(v, list | dict))
        self.say(f"{tag(e.step)} done in {duration(e.seconds) if e.seconds >= 60 else f'{e.seconds:.1f} s'}"
                 + (f": {brief}" if brief else ""), "green")

    def on_step_failed(self, e: ev.StepFailed) -> None:
        self._step_over(counted=False)
        self.say(f"{tag(e.step)} failed (the error follows)", "bold red")

    def on_info(self, e: ev.Info) -> None:
        self.say(f"{tag(e.step)} {e.message}")

    def on_checks(self, e: ev.CheckTable) -> None:
        if self.live:
            self.console.print(check_table(e.rows))
            for check, _, detail in e.rows:  # a hint whole on its line: a table folds a command in its cell
                if hint := ev.split_hint(detail)[1]:
                    self.say(f"{tag(e.step)} {check}: hint: {hint}", "yellow")
            return
        width = max(len(r[0]) for r in e.rows)
        for check, result, detail in e.rows:
            self.say(f"{tag(e.step)} {check:<{width}}  {result:<4}  {detail}")

    def on_jobs_planned(self, e: ev.JobsPlanned) -> None:
        grid = "clip x rung x encoder x cq" if e.rungs else "clip x encoder x cq"  # what the count counts
        what = f"{e.total - e.samples} {grid}, {e.samples} sample jobs of the consumer's samplings" \
            if e.samples else grid
        self.say(f"{tag('corpus')} {e.total} jobs ({what}), {e.reused} already done and reused")
        self.fresh_total, self.fresh_done = e.total - e.reused, 0
        if self.bars:
            self.bars.jobs_planned(e.total, e.reused)

    def on_jobs_dropped(self, e: ev.JobsDropped) -> None:
        self.say(f"{tag('corpus')} the {e.dropped} sample jobs of the clips left out are not run: the step's jobs are "
                 f"{e.total} from now on ({e.samples} sample jobs)")
        self.fresh_total -= e.dropped - e.reused
        if self.bars:
            self.bars.jobs_dropped(e.total, e.reused)

    def on_job_started(self, e: ev.JobStarted) -> None:
        self.labels[e.job_id] = visible(f"{e.src} {e.encoder} cq{e.cq}" + (f" at {e.rung}" if e.rung else ""))
        self.doing = f"encode {self.labels[e.job_id]}: starting"
        if self.bars:
            self.bars.job_started(e)

    def on_job_progress(self, e: ev.JobProgress) -> None:
        self.doing = f"{e.phase} {self.labels.get(e.job_id, e.job_id)}: frame {e.frames_done}/{e.frames}"
        if self.bars:
            self.bars.job_progress(e)

    def on_job_done(self, e: ev.JobDone) -> None:
        label = self.labels.pop(e.job_id, e.job_id)
        if self.bars:
            self.bars.job_ended(e.job_id, not e.reused, f"last: {label}, vmaf {e.vmaf_mean:.1f}")
            return
        if e.reused or not self.job_line_due():
            return
        self.say(f"{tag('corpus')} {self.fresh_done}/{self.fresh_total} jobs run; {label}: "
                 f"{e.rows} frames, vmaf {e.vmaf_mean:.1f}, encode {e.enc_fps:.0f} fps, "
                 f"score {e.score_time_ms / 1000:.1f} s; the run: {left_words(self.clock.left(self.working()))}")

    def on_job_failed(self, e: ev.JobFailed) -> None:
        self.fresh_done += 1  # a job of the count that ended, as the bar counts it
        if self.bars:
            self.bars.job_ended(e.job_id, True, f"{e.job_id} FAILED")
        self.say(f"{tag('corpus')} FAILED {self.labels.pop(e.job_id, e.job_id)}: {e.message}", "bold red")
        for line in e.stderr_tail.splitlines()[-6:]:
            self.say(f"    {line}", "red")

    def on_epoch(self, e: ev.Epoch) -> None:
        self.doing = f"training {e.members} models: epoch {e.epoch}/{e.epochs}"
        if self.bars:
            self.bars.epoch(e)
        elif self.epoch_line_due(e):
            self.say(f"{tag(e.step)} epoch {e.epoch}/{e.epochs}, {e.members} models, mean train loss {e.loss:.3f}; "
                     f"the run: {left_words(self.clock.left(self.working()))}")

    def on_verdict(self, e: ev.VerdictReached) -> None:
        # the seeds one student: their spread is 0 by construction, said as the report says it (gatelines)
        spread = (f"seed spread {e.plcc_spread:.4f}" if e.seeds_not_judged is None
                  else f"seed spread {outcome_of(None, e.seeds_not_judged)}")
        said = (f"mean PLCC {e.mean_plcc:.4f} ({GROUPS}), {spread}" if e.not_judged is None
                else f"the per-frame gates judged nothing ({e.not_judged})")
        if e.consumer_not_judged is not None:
            said = f"the consumer gates judged nothing ({e.consumer_not_judged}); {said}"
        self.say(f"{tag('verdict')} {e.verdict}: {said}", "bold green" if e.verdict == "PROMOTE" else "bold yellow")

    def on_bundle_written(self, e: ev.BundleWritten) -> None:
        # counted as `verify` counts them: the files manifest.json lists, then the manifest itself
        self.say(f"{tag('bundle')} results tarball: {e.path} ({e.files - 1} files with their sha256 in its "
                 "manifest.json, which `verify` checks)")
