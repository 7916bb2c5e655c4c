"""`ensemble-kit run` and `ensemble-kit step NAME`: the run with the settings the flags make (kit/cli/flags.py)."""

from __future__ import annotations

import contextlib
import functools
import sys
import time
from typing import TYPE_CHECKING, Any

import click

from kit.cli.flags import build_settings, given_here, name_the_variable, run_options, typed_argv
from kit.cli.guard import failure_events, guarded
from kit.cli.params import KitParam, TrainTask
from kit.errors import KitError
from kit.infra.invocation import retry_command
from kit.infra.variables import ARRAY_TASK
from kit.rundir import STEP_NAMES

if TYPE_CHECKING:
    from kit.infra.arrays import ArrayPosition


def execute(values: dict[str, Any], only: str | None, task: ArrayPosition | None = None) -> int:
    """The run (or a training task) with the settings of these flags, in their command's click context."""
    from kit.platforms.prereqs import corpus_only_reason
    from kit.report.summary import finished_event, print_corpus_only, print_summary
    from kit.report.terminal import Renderer
    from kit.steps.runner import corpus_only_of, run_steps, run_train_task, select_steps

    renderer = Renderer(json_mode=bool(values["json_mode"]))
    started = time.monotonic()
    try:
        settings = build_settings(values, given_here(click.get_current_context()))
        selection = select_steps(only or values.get("only"), values.get("from_step"), bool(values.get("force")),
                                 settings.corpus is not None, corpus_only_reason())
        try:  # a training task's selection is `step loso`: no summary follows it
            code = run_train_task(settings, task.k, task.n, renderer) if task is not None else \
                run_steps(settings, selection, renderer, typed_argv(sys.argv, click.get_current_context().command))
        finally:
            renderer.close()
    except BaseException as exc:  # `error` and `run_finished` events, then `guarded` reports it
        if isinstance(exc, KitError):
            name_the_variable(exc, click.get_current_context())
        with contextlib.suppress(OSError):  # a reader or a terminal gone: saying so must not hide what happened
            for event in failure_events(exc, retry_command(), time.monotonic() - started):
                renderer(event)
        raise
    closing = any(s.name in ("verdict", "bundle") for s in selection.steps)
    verdict = None
    # a box that cannot train, found before the run or as it ran (its corpus too small for LOSO): its corpus, to send
    if closing and (why := selection.corpus_only or corpus_only_of(settings)) is not None:
        print_corpus_only(settings.out_dir, renderer.console, why)
    elif closing:
        verdict = print_summary(settings.out_dir, renderer.console)
    renderer(finished_event(settings.out_dir, code, time.monotonic() - started, closing, verdict))
    return code


@click.command("run")
@run_options
def run_cmd(**kw: Any) -> None:
    """Run the five steps: prereqs, corpus, loso, verdict, bundle.

    Exit 0 PROMOTE, 1 HOLD (or too few contents to train: the corpus
    bundled), 2 bad input or missing prerequisite, 130 interrupted
    (143 by SIGTERM, 129 by SIGHUP).
    A step whose settings and inputs are unchanged is skipped; a rerun resumes.

    \b
    Examples:
      ensemble-kit run
      ensemble-kit run --ref-dir clips --encoders libx264 --cqs 22,28,34 --seeds 0,1,2
      ensemble-kit run --corpus merged.parquet --out-dir runs/union
      ensemble-kit run --from loso --seeds 0,1,2,3,4,5,6
    """
    guarded(lambda: execute(kw, None))


@click.command("step")
@click.argument("name", type=click.Choice(STEP_NAMES))
@click.option("--train-task", type=KitParam(TrainTask()), metavar="K/N|auto",
              help="With `step loso`: train only the members of LOSO's share K of N that are not on disk yet, and "
                   "stop; a run with --train-tasks N gathers them. auto: K and N of the array task this runs in "
                   f"({ARRAY_TASK.name}=K/N, or Slurm's).")
@functools.partial(run_options, selection=False)
def step_cmd(name: str, train_task: ArrayPosition | None, **kw: Any) -> None:
    """Run one step alone (the flags of `run`), e.g. to retry it.

    It reads what the steps before it wrote in the out-dir, so it follows a run
    (or those steps) there; on a fresh out-dir start with `step prereqs` or `run`.

    \b
    Examples:
      ensemble-kit step prereqs --out-dir runs/mybox --encoders libx264
      ensemble-kit step verdict --out-dir runs/mybox --min-mean-plcc 0.97
      ensemble-kit step loso --train-task 2/4 --corpus union.parquet --out-dir runs/union
    """
    if train_task is not None and name != "loso":
        raise click.UsageError(f"--train-task trains LOSO's members: it goes with `step loso`, not `step {name}`")
    guarded(lambda: execute(kw, name, train_task))
