"""`ensemble-kit status [OUT_DIR]`: which steps are done, stale or pending, and why."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kit.cli.guard import guard
from kit.cli.params import SwitchOption
from kit.errors import InputError
from kit.infra.invocation import kit_command
from kit.infra.variables import JSON, of_flag
from kit.infra.visible import visible

if TYPE_CHECKING:
    from kit.steps.status import RunStatus

STYLES = {"done": "green", "stale": "yellow", "pending": "cyan", "running": "magenta", "unused": "bright_black"}


def default_out_dir() -> Path:
    """As `run` chooses it: its --out-dir's variable, else runs/<box-id> (its --box-id's variable, or the host)."""
    from kit.cli.flags import env_default
    from kit.infra.flags import AbsPath
    from kit.infra.host import default_box_id, safe_box_id
    from kit.rundir import default_out_dir as layout_default

    if given := env_default("out_dir"):
        return AbsPath().parse(given, of_flag("--out-dir"))  # as `run` reads it (~ expanded)
    return layout_default(safe_box_id(env_default("box_id") or default_box_id()))


def status_lines(report: RunStatus, color: bool) -> list[str]:
    latest = f"settings of the latest run, {report.invoked_at_utc}" if report.invoked_at_utc else \
        f"the settings of the latest run are lost: {report.settings_lost}" if report.settings_lost else \
        "no run in this out-dir yet"
    lines = [visible(f"{report.out_dir} ({latest})")]
    for st in report.steps:
        state = click.style(f"{st.state:<8}", fg=STYLES.get(st.state)) if color else f"{st.state:<8}"
        when = f" (completed {st.completed_at_utc})" if st.completed_at_utc else ""
        lines.append(f"  {st.number:02d} {st.step:<8} {state} {visible(st.reason)}{when}")
    if report.verdict:
        lines.append(f"verdict on disk: {report.verdict}")
    if report.running:
        lines.append(f"a run is in progress in this out-dir ({visible(report.running)}): wait for it, "
                     f"then {kit_command('status', report.out_dir)} again")
    elif report.settings_lost:
        lines.append("next: the command that made this out-dir, with the same flags (they were in run.json, which "
                     f"{report.settings_lost.removeprefix('run.json ')}; a run without them would redo every step with "
                     "the defaults)")
    elif report.next_command:
        lines.append(f"next: {report.next_command}")
    else:
        lines.append("nothing to do: every step is up to date")
    return lines


def missing_out_dir(out_dir: Path) -> InputError:
    """`status /a/typo`: say so, and name the out-dirs that do exist beside it."""
    parent = out_dir.absolute().parent
    runs: list[str] = []
    with contextlib.suppress(OSError):
        runs = sorted(p.name for p in parent.iterdir() if (p / "run.json").is_file())
    there = f"; out-dirs in {parent}: {', '.join(runs[:8])}" if runs else \
        f", or start a run there: {kit_command('run', '--out-dir', out_dir)}"
    return InputError(f"{out_dir} does not exist: there is no run there to report on",
                      hint=f"check the path (the run's --out-dir){there}")


@click.command("status")
@click.argument("out_dir", required=False, type=click.Path(path_type=Path, file_okay=False))
@click.option("--json", "json_mode", cls=SwitchOption, variable=JSON, show_envvar=True,
              help="One JSON document on stdout instead of the lines.")
@guard
def status_cmd(out_dir: Path | None, json_mode: bool) -> None:
    """Show which steps of OUT_DIR are done, stale, pending or running, and why.

    Uses the settings of the out-dir's latest run (run.json) and the same checks a
    run uses to skip a step. It runs no step and changes nothing. OUT_DIR defaults
    to what `run` uses: --out-dir's variable, else runs/<box-id>.

    \b
    Examples:
      ensemble-kit status
      ensemble-kit status runs/mybox
      ensemble-kit status runs/mybox --json | jq '.steps[] | select(.state != "done")'
    """
    from kit.steps.status import run_status

    if out_dir is not None and not out_dir.is_dir():
        raise missing_out_dir(out_dir)
    report = run_status(out_dir or default_out_dir())
    if json_mode:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        click.echo("\n".join(status_lines(report, color=sys.stdout.isatty())))
