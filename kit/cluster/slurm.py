"""The Slurm adapter of the cluster plan (kit.cluster.plan; docs/cluster.md, "Slurm"): batch scripts in <root>/slurm/,
each submitted with sbatch afterok on the one before."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from kit import __version__
from kit.cluster.plan import ClusterLayout, ClusterPlan
from kit.errors import InputError, KitError, PrereqError, ToolError
from kit.infra.clock import utc_iso
from kit.infra.host import group_shared_from_env
from kit.infra.invocation import shell_join
from kit.infra.slurm import sbatch
from kit.infra.tree import Rules, Tree
from kit.infra.variables import TRAIN_RETRY

UNSAFE_IN_SBATCH = ('"', "\n", "\r", "\\")


def script_path(layout: ClusterLayout, job: str) -> Path:
    return layout.own / f"{job}.sh"


def retrain_hint(layout: ClusterLayout, tasks: str) -> str:
    """How to train tasks again after a failure, then gather: the command the gather's refusal prints."""
    return (f"sbatch --array={tasks} {shell_join([script_path(layout, 'train')])}, then "
            f"sbatch --dependency=afterok:<its job id> {shell_join([script_path(layout, 'gather')])}")


@dataclass(frozen=True)
class SbatchOptions:
    """What the user asked of Slurm; written as `#SBATCH` lines into every script."""

    job_name: str = "ensemble-kit"
    partition: str | None = None
    time: str | None = None
    cpus_per_task: int | None = None
    mem: str | None = None
    extra: tuple[str, ...] = ()  # --sbatch-arg, each one `--option=value` or `--flag`


def check_sbatch_safe(value: str, what: str) -> None:
    """An `#SBATCH` line is parsed by sbatch, not a shell: a few characters cannot be written in it."""
    if bad := [c for c in UNSAFE_IN_SBATCH if c in value]:
        raise InputError(f"{what} {value!r} holds {bad[0]!r}, which an #SBATCH line cannot carry",
                         hint="choose a path or value without quotes, backslashes or line breaks")


def sbatch_value(value: str) -> str:
    """A value in an `#SBATCH --opt=VALUE` line: double-quoted when it holds a space (sbatch honours that)."""
    return f'"{value}"' if any(c.isspace() for c in value) or not value else value


def _script(plan: ClusterPlan, opts: SbatchOptions, about: list[str], sbatch_name: str, output: str,
            body: list[str], array: str | None = None) -> str:
    """A batch script: its kit and time, `about`, job `<--job-name>-<sbatch_name>`'s `#SBATCH` lines (`output`: a
    Slurm %-pattern in the log folder), then `body`; every path absolute."""
    logs = str(plan.layout.logs).replace("%", "%%")  # a literal % in the folder, as Slurm reads it
    pairs: list[tuple[str, object]] = [
        ("--job-name", f"{opts.job_name}-{sbatch_name}"), ("--output", f"{logs}/{output}"), ("--array", array),
        ("--partition", opts.partition), ("--time", opts.time), ("--cpus-per-task", opts.cpus_per_task),
        ("--mem", opts.mem)]
    return "\n".join([
        "#!/bin/bash", f"# ensemble-kit {__version__}, written by `ensemble-kit slurm` at {utc_iso()}.", *about,
        *(f"#SBATCH {flag}={sbatch_value(str(value))}" for flag, value in pairs if value is not None),
        *(f"#SBATCH {flag}={sbatch_value(value)}" if eq else f"#SBATCH {flag}"
          for flag, eq, value in (arg.partition("=") for arg in opts.extra)),
        "",
        "set -euo pipefail", *(f"export {name}={shlex.quote(value)}" for name, value in plan.env),
        *body,
        "",
    ])


def array_script(plan: ClusterPlan, opts: SbatchOptions) -> str:
    """One array task per shard: the plan's shard commands, prereqs and corpus of shard K."""
    lay, n = plan.layout, plan.shards
    again = shlex.quote(str(script_path(lay, "array")))
    return _script(plan, opts, [
        f"# Array task K of 1..{n} runs prereqs and corpus for shard K/{n} into",
        f"# {lay.shards}/shard<K>of{n}; the union job ({script_path(lay, 'union').name}) trains on all of them.",
        "# Run the tasks again with: sbatch " + again + "   (finished shards end at once),",
        "# or one task with: scontrol requeue <array job id>_<task id>",
    ], "corpus", "corpus-%A_%a.out", [
        "# --shard auto reads K and N from this array: it must be whole (a resubmitted --array=2 would be 1/1)",
        f'if [ "${{SLURM_ARRAY_TASK_COUNT:-0}}" != {n} ] || '
        f'[ $(( ${{SLURM_ARRAY_TASK_MAX:-0}} - ${{SLURM_ARRAY_TASK_MIN:-0}} + 1 )) != {n} ]; then',
        f'  echo "error: this script runs {n} shards, one per array task, but this array holds '
        f'${{SLURM_ARRAY_TASK_COUNT:-no}} task(s)" >&2',
        "  echo " + shlex.quote(f"hint: submit it whole (sbatch {again}): finished shards end at once; or "
                                "requeue one task: scontrol requeue <array job id>_<task id>") + " >&2",
        "  exit 2",
        "fi",
        *(shlex.join(argv) for argv in plan.shard_commands()),
    ], array=f"1-{n}")


def union_script(plan: ClusterPlan, opts: SbatchOptions) -> str:
    """The plan's union commands: the merge, then (without --train-tasks) LOSO, verdict and bundle."""
    lay, n = plan.layout, plan.shards
    then = (f"# the training array ({script_path(lay, 'train').name}) and the gather "
            f"({script_path(lay, 'gather').name}) follow it." if plan.train_tasks
            else f"# runs LOSO, verdict and bundle on the union in {lay.union_out}.")
    return _script(plan, opts, [
        f"# Merges the {n} shard folders under {lay.shards} into {lay.union_corpus.name}; then",
        then + " Submitted with --dependency=afterok on",
        "# the array job; run it again (once every shard is done) with: sbatch "
        + shlex.quote(str(script_path(lay, "union"))),
    ], "union", "union-%j.out", [
        "# merge refuses (exit 2) a shard folder that is missing or whose corpus step has not completed, naming it",
        *command_lines(plan, plan.union_commands()),
    ])


def train_script(plan: ClusterPlan, opts: SbatchOptions) -> str:
    """One array task per share of LOSO's members: task K of T trains share K (the ones not on disk yet)."""
    lay, t = plan.layout, plan.train_tasks
    command = plan.train_command("K")
    again = shlex.quote(str(script_path(lay, "train")))
    return _script(plan, opts, [
        f"# Array task K of 1..{t} trains share K/{t} of LOSO's members on {lay.union_corpus.name} and writes",
        f"# each into {lay.union_out}/03_loso/members/; the gather job ({script_path(lay, 'gather').name}) uses "
        "them all.",
        f"# A failed task K alone: sbatch --array=K {again}   (members already written are kept),",
        f"# then: sbatch --dependency=afterok:<its job id> {shlex.quote(str(script_path(lay, 'gather')))}",
    ], "train", "train-%A_%a.out", [
        f"# the task's place is its array index, out of {t}, whatever else the array holds (--array=K runs task K)",
        shlex.join(command[:-1]) + f' "${{SLURM_ARRAY_TASK_ID}}/{t}"',
    ], array=f"1-{t}")


def gather_script(plan: ClusterPlan, opts: SbatchOptions) -> str:
    """LOSO's gather (a missing member refused), verdict and bundle."""
    lay, t = plan.layout, plan.train_tasks
    return _script(plan, opts, [
        f"# Gathers the LOSO members the {t} training tasks wrote and runs LOSO, verdict and bundle on the union",
        f"# in {lay.union_out}. Submitted with --dependency=afterok on the training array; run it again with:",
        "# sbatch " + shlex.quote(str(script_path(lay, "gather"))),
    ], "gather", "gather-%j.out", [
        "# a missing member is refused (exit 2), naming it and this command to train its task again",
        f"export {TRAIN_RETRY.name}={shlex.quote(retrain_hint(lay, '{tasks}'))}",
        *command_lines(plan, plan.gather_commands()),
    ])


# after a command whose HOLD (exit 1) goes on under `set -e`: any other failure still ends the job, with its code
HOLD_GOES_ON = ' || { code=$?; [ "$code" -eq 1 ] || exit "$code"; }  # 1: HOLD, bundled all the same'


def command_lines(plan: ClusterPlan, commands: list[list[str]]) -> list[str]:
    """The script's lines for the plan's `commands` under `set -e`: a verdict's HOLD before the last goes on to the
    bundle; the last one's code is the job's (1: HOLD)."""
    lines = []
    for k, (argv, ok) in enumerate(zip(commands, plan.ok_codes(commands), strict=True)):
        lines.append(shlex.join(argv) + (HOLD_GOES_ON if 1 in ok and k < len(commands) - 1 else ""))
    return lines


def check_plan(plan: ClusterPlan, opts: SbatchOptions) -> None:
    check_sbatch_safe(str(plan.layout.root), "--out-dir")
    for value in (opts.job_name, opts.partition, opts.time, opts.mem, *opts.extra):
        if value is not None:
            check_sbatch_safe(value, "the sbatch option")
    if bad := [a for a in opts.extra if not a.startswith("-")]:
        raise InputError(f"--sbatch-arg {bad[0]!r} is not an sbatch option",
                         hint="give each one as --option=value, e.g. --sbatch-arg=--account=myproject")


def jobs_of(plan: ClusterPlan) -> list[str]:
    return ["array", "union", *(("train", "gather") if plan.train_tasks else ())]


def scripts(plan: ClusterPlan, opts: SbatchOptions) -> list[tuple[Path, str]]:
    write = {"array": array_script, "union": union_script, "train": train_script, "gather": gather_script}
    return [(script_path(plan.layout, job), write[job](plan, opts)) for job in jobs_of(plan)]


def write_scripts(plan: ClusterPlan, opts: SbatchOptions) -> list[Path]:
    """The scripts (executable), the settings they read and the log folder Slurm writes into."""
    check_plan(plan, opts)
    lay = plan.layout
    made = scripts(plan, opts)
    # shared storage: nothing a neighbour planted below the cluster's folder is written through
    with Tree.open(lay.root, Rules(group_shared=group_shared_from_env()), label="the cluster's folder") as tree:
        tree.make_folder(lay.logs)
        tree.write_text(lay.settings, plan.settings_json())
        for path, text in made:
            tree.write_text(path, text, executable=True)
    return [path for path, _ in made]


def after(job: str) -> list[str]:
    """sbatch's options for a job that starts once every task of `job` succeeded (cancelled when one fails)."""
    return [f"--dependency=afterok:{job}", "--kill-on-invalid-dep=yes"]


@dataclass(frozen=True)
class Submitted:
    array_job: str
    union_job: str
    train_job: str | None = None  # with --train-tasks: the training array, and the gather after it
    gather_job: str | None = None


def submit(plan: ClusterPlan) -> Submitted:
    first, *follow = [script_path(plan.layout, job) for job in jobs_of(plan)]
    try:
        jobs = [sbatch(first, cwd=plan.cwd)]
    except PrereqError as exc:  # no sbatch on this host: the scripts are written, say how to submit them
        chain = [shell_join(["sbatch", first]), *(shell_join(["sbatch", *after("N"), path]) for path in follow)]
        raise PrereqError(exc.message, hint=f"{exc.hint}: the scripts are written and kept, so run this command "
                                            f"again there, or submit them there yourself: {', then '.join(chain)} "
                                            + ("with each N the job id the one before printed" if plan.train_tasks
                                               else "with N the job id the first one printed")
                                            + " (--dry-run only prints the scripts)") from None
    for script in follow:
        options = after(jobs[-1])
        try:
            jobs.append(sbatch(script, options, cwd=plan.cwd))
        except KitError as exc:
            again = shell_join(["sbatch", *options, script])
            failure = ToolError(f"job(s) {', '.join(jobs)} are submitted, but {script.name} is not: {exc.message}",
                                hint=f"fix the cause, then: {again}" + (
                                    ", and submit the scripts after it the same way" if script != follow[-1] else ""),
                                stderr_tail=getattr(exc, "stderr_tail", ""))
            failure.retry_helps = False  # the same command would submit the jobs already submitted again
            raise failure from exc
    return Submitted(*jobs)
