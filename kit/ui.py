"""Rendering events: rich progress on a terminal, plain lines otherwise,
NDJSON on stdout with --json (humans then read stderr)."""

from __future__ import annotations

import json
import sys
from typing import IO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from kit import events as ev
from kit.metrics import json_safe

STEP_NUMBERS = {"prereqs": 1, "corpus": 2, "loso": 3, "verdict": 4, "bundle": 5}


def tag(step: str) -> str:
    return f"[{STEP_NUMBERS.get(step, 0):02d} {step}]"


class Renderer:
    """Turns events into output; one instance per invocation."""

    def __init__(self, json_mode: bool = False, stream: IO[str] | None = None, force_plain: bool = False) -> None:
        self.json_mode = json_mode
        human = sys.stderr if json_mode else (stream or sys.stdout)
        self.console = Console(file=human, highlight=False, soft_wrap=True)
        self.live = self.console.is_terminal and not force_plain
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.current_step = ""
        self._last_epoch_print = 0

    # -- plumbing ---------------------------------------------------------------------------
    def __call__(self, event: ev.Event) -> None:
        if self.json_mode:
            sys.stdout.write(json.dumps(json_safe(event.to_json()), default=str) + "\n")
            sys.stdout.flush()
        handler = getattr(self, f"on_{event.kind}", None)
        if handler is not None:
            handler(event)

    def say(self, text: str, style: str = "") -> None:
        self.console.print(text, style=style or None, markup=False)

    def _bar(self, description: str, total: int) -> None:
        self._stop_bar()
        if not self.live:
            return
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[info]}"), TimeRemainingColumn(), console=self.console,
                                 transient=True)
        self.progress.start()
        self.task = self.progress.add_task(description, total=total, info="")

    def _advance(self, completed: int, info: str) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, completed=completed, info=info)

    def _stop_bar(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
            self.task = None

    def close(self) -> None:
        self._stop_bar()

    # -- events -----------------------------------------------------------------------------
    def on_run_started(self, e: ev.RunStarted) -> None:
        self.say(f"ensemble-kit {e.kit_version}: steps {', '.join(e.steps)} in {e.out_dir}", "bold")

    def on_step_started(self, e: ev.StepStarted) -> None:
        self._stop_bar()
        self.current_step = e.step
        self.say(f"{tag(e.step)} runs: {e.reason}", "bold cyan")

    def on_step_skipped(self, e: ev.StepSkipped) -> None:
        self.say(f"{tag(e.step)} skipped: {e.reason}", "dim")

    def on_step_finished(self, e: ev.StepFinished) -> None:
        self._stop_bar()
        brief = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in e.summary.items()
                          if not isinstance(v, list | dict))
        self.say(f"{tag(e.step)} done in {e.seconds:.1f} s" + (f": {brief}" if brief else ""), "green")

    def on_info(self, e: ev.Info) -> None:
        self.say(f"{tag(e.step)} {e.message}")

    def on_warning(self, e: ev.Warning_) -> None:
        self.say(f"{tag(e.step)} warning: {e.message}", "yellow")

    def on_checks(self, e: ev.CheckTable) -> None:
        if self.live:
            from rich.table import Table

            table = Table(show_header=True, header_style="bold")
            for col in ("check", "result", "detail"):
                table.add_column(col)
            for row in e.rows:
                table.add_row(*row, style="green" if row[1] == "ok" else "yellow")
            self.console.print(table)
            return
        width = max(len(r[0]) for r in e.rows)
        for check, result, detail in e.rows:
            self.say(f"{tag(e.step)} {check:<{width}}  {result:<4}  {detail}")

    def on_jobs_planned(self, e: ev.JobsPlanned) -> None:
        self.say(f"{tag('corpus')} {e.total} jobs (clip x encoder x cq), {e.reused} already done and reused")
        self._bar("corpus jobs", e.total)

    def on_job_done(self, e: ev.JobDone) -> None:
        info = "reused" if e.reused else f"vmaf {e.vmaf_mean:.1f}"
        if self.live:
            self._advance(e.done, f"{e.job_id[-28:]} {info}")
        else:
            self.say(f"{tag('corpus')} job {e.done}/{e.total} {e.job_id}: {e.rows} frames, {info}"
                     + ("" if e.reused else f", encode {e.enc_time_ms:.0f} ms"))

    def on_job_failed(self, e: ev.JobFailed) -> None:
        self.say(f"{tag('corpus')} FAILED {e.job_id}: {e.message}", "bold red")
        for line in e.stderr_tail.splitlines()[-6:]:
            self.say(f"    {line}", "red")

    def on_epoch(self, e: ev.Epoch) -> None:
        if e.epoch == 1:
            self._bar(f"training {e.members} models", e.epochs)
        if self.live:
            self._advance(e.epoch, f"loss {e.loss:.2f}")
        elif e.epoch == e.epochs or e.epoch - self._last_epoch_print >= max(1, e.epochs // 5):
            self._last_epoch_print = e.epoch
            self.say(f"{tag(e.step)} epoch {e.epoch}/{e.epochs}, {e.members} models, mean train loss {e.loss:.3f}")
        if e.epoch == e.epochs:
            self._last_epoch_print = 0

    def on_verdict(self, e: ev.VerdictReached) -> None:
        style = "bold green" if e.verdict == "PROMOTE" else "bold yellow"
        self.say(f"{tag('verdict')} {e.verdict}: mean PLCC {e.mean_plcc:.4f}, seed spread {e.plcc_spread:.4f}",
                 style)

    def on_bundle_written(self, e: ev.BundleWritten) -> None:
        self.say(f"{tag('bundle')} results tarball: {e.path} ({e.files} files)")
