"""The Slurm adapter of the cluster plan (kit.cluster.plan): an array job of shards, then one job that trains on
their union, as two batch scripts submitted with sbatch (README, "Running on a Slurm cluster").

```
<root>/slurm/array.sh  union.sh   the batch scripts, kept: read them, submit them again
<root>/slurm/logs/                corpus-<job>_<task>.out, union-<job>.out (Slurm's output files)
```

The array script runs the plan's shard commands in every array task (Slurm's SLURM_ARRAY_* variables place
it: kit/infra/slurm.py); the union script runs the plan's union commands, submitted with afterok on the array.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from kit import __version__
from kit.cluster.plan import ClusterLayout, ClusterPlan
from kit.errors import InputError, KitError, PrereqError, ToolError
from kit.infra.clock import utc_iso
from kit.infra.files import write_text
from kit.infra.invocation import shell_join
from kit.infra.nofollow import make_folder, own_tree
from kit.infra.slurm import sbatch

UNSAFE_IN_SBATCH = ('"', "\n", "\r", "\\")


def array_path(layout: ClusterLayout) -> Path:
    return layout.own / "array.sh"


def union_path(layout: ClusterLayout) -> Path:
    return layout.own / "union.sh"


@dataclass(frozen=True)
class SbatchOptions:
    """What the user asked of Slurm; written as `#SBATCH` lines into both scripts."""

    job_name: str = "ensemble-kit"
    partition: str | None = None
    time: str | None = None
    cpus_per_task: int | None = None
    mem: str | None = None
    extra: tuple[str, ...] = ()  # --sbatch-arg, each one `--option=value` or `--flag`


def check_sbatch_safe(value: str, what: str) -> None:
    """An `#SBATCH` line is parsed by sbatch, not a shell: a few characters cannot be written in it."""
    bad = [c for c in UNSAFE_IN_SBATCH if c in value]
    if bad:
        raise InputError(f"{what} {value!r} holds {bad[0]!r}, which an #SBATCH line cannot carry",
                         hint="choose a path or value without quotes, backslashes or line breaks")


def sbatch_value(value: str) -> str:
    """A value in an `#SBATCH --opt=VALUE` line: double-quoted when it holds a space (sbatch honours that)."""
    return f'"{value}"' if any(c.isspace() for c in value) or not value else value


def slurm_filename(folder: Path, pattern: str) -> str:
    """An --output file in `folder`, named by a Slurm %-pattern: a literal % in the folder is written %%."""
    return str(folder).replace("%", "%%") + "/" + pattern


def sbatch_lines(opts: SbatchOptions, job_name: str, output: str, array: str | None = None) -> list[str]:
    pairs: list[tuple[str, str | None]] = [("--job-name", job_name), ("--output", output), ("--array", array),
                                           ("--partition", opts.partition), ("--time", opts.time),
                                           ("--cpus-per-task", None if opts.cpus_per_task is None
                                            else str(opts.cpus_per_task)), ("--mem", opts.mem)]
    lines = [f"#SBATCH {flag}={sbatch_value(value)}" for flag, value in pairs if value is not None]
    for arg in opts.extra:
        flag, eq, value = arg.partition("=")
        lines.append(f"#SBATCH {flag}={sbatch_value(value)}" if eq else f"#SBATCH {arg}")
    return lines


def _prologue(plan: ClusterPlan) -> list[str]:
    """Every path in the scripts is absolute, so they run from any folder (a resubmission's, a node's)."""
    return ["set -euo pipefail", *(f"export {name}={shlex.quote(value)}" for name, value in plan.env)]


def array_script(plan: ClusterPlan, opts: SbatchOptions) -> str:
    """One array task per shard: the plan's shard commands, prereqs and corpus of shard K."""
    lay, n = plan.layout, plan.shards
    again = shlex.quote(str(array_path(lay)))
    return "\n".join([
        "#!/bin/bash",
        f"# ensemble-kit {__version__}, written by `ensemble-kit slurm` at {utc_iso()}.",
        f"# Array task K of 1..{n} runs prereqs and corpus for shard K/{n} into",
        f"# {lay.shards}/shard<K>of{n}; the union job ({union_path(lay).name}) trains on all of them.",
        "# Run the tasks again with: sbatch " + again + "   (finished shards end at once),",
        "# or one task with: scontrol requeue <array job id>_<task id>",
        *sbatch_lines(opts, f"{opts.job_name}-corpus", slurm_filename(lay.logs, "corpus-%A_%a.out"), array=f"1-{n}"),
        "",
        *_prologue(plan),
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
        "",
    ])


def union_script(plan: ClusterPlan, opts: SbatchOptions) -> str:
    """The plan's union commands: merge every shard folder (refused while one is not complete), then LOSO,
    verdict and bundle on the union."""
    lay, n = plan.layout, plan.shards
    return "\n".join([
        "#!/bin/bash",
        f"# ensemble-kit {__version__}, written by `ensemble-kit slurm` at {utc_iso()}.",
        f"# Merges the {n} shard folders under {lay.shards} into {lay.union_corpus.name} and runs",
        f"# LOSO, verdict and bundle on the union in {lay.union_out}. Submitted with --dependency=afterok on",
        "# the array job; run it again (once every shard is done) with: sbatch " + shlex.quote(str(union_path(lay))),
        *sbatch_lines(opts, f"{opts.job_name}-union", slurm_filename(lay.logs, "union-%j.out")),
        "",
        *_prologue(plan),
        "# merge refuses (exit 2) a shard folder that is missing or whose corpus step has not completed, naming it",
        *(shlex.join(argv) for argv in plan.union_commands()),
        "",
    ])


def check_plan(plan: ClusterPlan, opts: SbatchOptions) -> None:
    check_sbatch_safe(str(plan.layout.root), "--out-dir")
    for value in (opts.job_name, opts.partition, opts.time, opts.mem, *opts.extra):
        if value is not None:
            check_sbatch_safe(value, "the sbatch option")
    bad = [a for a in opts.extra if not a.startswith("-")]
    if bad:
        raise InputError(f"--sbatch-arg {bad[0]!r} is not an sbatch option",
                         hint="give each one as --option=value, e.g. --sbatch-arg=--account=myproject")


def write_scripts(plan: ClusterPlan, opts: SbatchOptions) -> tuple[Path, Path]:
    """array.sh and union.sh into <root>/slurm/ (executable), and the log folder Slurm writes into."""
    check_plan(plan, opts)
    lay = plan.layout
    own_tree(lay.root)  # shared storage: nothing a neighbour planted below it is written through
    make_folder(lay.logs)
    for path, text in ((array_path(lay), array_script(plan, opts)), (union_path(lay), union_script(plan, opts))):
        write_text(path, text, mode=0o777)  # executable, as the umask allows
    return array_path(lay), union_path(lay)


def union_after(array_job: str) -> list[str]:
    """sbatch's options for the union job: it starts once every task of the array succeeded, and Slurm
    cancels it when one fails."""
    return [f"--dependency=afterok:{array_job}", "--kill-on-invalid-dep=yes"]


@dataclass(frozen=True)
class Submitted:
    array_job: str
    union_job: str


def submit(plan: ClusterPlan) -> Submitted:
    """Submit the array, then the union after it (afterok; Slurm cancels the union when a task fails)."""
    lay = plan.layout
    try:
        array_job = sbatch(array_path(lay), cwd=plan.cwd)
    except PrereqError as exc:  # no sbatch on this host: the scripts are written, say how to submit them
        first = shell_join(["sbatch", array_path(lay)])
        second = shell_join(["sbatch", *union_after("N"), union_path(lay)])
        raise PrereqError(exc.message, hint=f"{exc.hint}: the scripts are written and kept, so run this command "
                                            f"again there, or submit them there yourself: {first}, then {second} "
                                            "with N the job id the first one printed (--dry-run only prints the "
                                            "scripts)") from None
    after = union_after(array_job)
    try:
        union_job = sbatch(union_path(lay), after, cwd=plan.cwd)
    except KitError as exc:
        again = shell_join(["sbatch", *after, union_path(lay)])
        raise ToolError(f"array job {array_job} is submitted, but the union job is not: {exc.message}",
                        hint=f"fix the cause, then: {again}",
                        stderr_tail=getattr(exc, "stderr_tail", "")) from exc
    return Submitted(array_job, union_job)
