"""The corpus on a Slurm cluster: an array job of shards, then one job that trains on their union.

`ensemble-kit slurm` writes two batch scripts into a folder on shared storage
and submits them with sbatch (README, "Running on a Slurm cluster"):

```
<root>/
  slurm/array.sh  slurm/union.sh   the batch scripts, kept: read them, submit them again
  slurm/logs/                       corpus-<job>_<task>.out, union-<job>.out (Slurm's output files)
  shards/shard<K>of<N>/             one run directory per array task: prereqs + corpus of shard K
  union.parquet  union.manifest.json   the merge of every shard
  union/                            the run directory of LOSO, verdict and bundle on the union
```

Each array task runs `step prereqs` and `step corpus` with `--shard auto`;
its out-dir and box id hold `{shard}`, so both follow from K/N alone and a
requeued or resubmitted task resumes its own folder whichever node it lands
on. The union job merges the N shard folders (merge refuses a folder whose
corpus step has not completed, naming it) and runs `run --corpus` on the
union. The user's run flags pass through unchanged to every kit call.
"""

from __future__ import annotations

import shlex
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kit import __version__
from kit.corpus.split import SHARD_FIELD, ShardSpec
from kit.errors import InputError, KitError, PrereqError, ToolError
from kit.infra.clock import utc_iso
from kit.infra.files import write_text
from kit.infra.invocation import shell_join
from kit.infra.nofollow import make_folder, own_tree
from kit.infra.slurm import sbatch

UNSAFE_IN_SBATCH = ('"', "\n", "\r", "\\")


@dataclass(frozen=True)
class SlurmLayout:
    """Every path under the shared folder of one Slurm submission."""

    root: Path

    @property
    def scripts(self) -> Path:
        return self.root / "slurm"

    @property
    def array_script(self) -> Path:
        return self.scripts / "array.sh"

    @property
    def union_script(self) -> Path:
        return self.scripts / "union.sh"

    @property
    def logs(self) -> Path:
        return self.scripts / "logs"

    @property
    def shards(self) -> Path:
        return self.root / "shards"

    def shard(self, k: int, n: int) -> Path:
        return self.shards / ShardSpec(k, n).tag

    @property
    def shard_pattern(self) -> Path:
        """The out-dir every array task is given: `{shard}` becomes its shard<K>of<N>."""
        return self.shards / SHARD_FIELD

    @property
    def union_corpus(self) -> Path:
        return self.root / "union.parquet"

    @property
    def union_out(self) -> Path:
        return self.root / "union"


@dataclass(frozen=True)
class SbatchOptions:
    """What the user asked of Slurm; written as `#SBATCH` lines into both scripts."""

    job_name: str = "ensemble-kit"
    partition: str | None = None
    time: str | None = None
    cpus_per_task: int | None = None
    mem: str | None = None
    extra: tuple[str, ...] = ()  # --sbatch-arg, each one `--option=value` or `--flag`


@dataclass(frozen=True)
class SlurmPlan:
    layout: SlurmLayout
    shards: int
    kit: tuple[str, ...]  # the kit's command, absolute (infra.invocation.kit_argv_absolute)
    cwd: Path  # where the user submitted from: sbatch runs there
    run_args: tuple[str, ...]  # the user's run flags, passed through unchanged
    box_id: str
    sbatch: SbatchOptions
    env: tuple[tuple[str, str], ...] = ()  # KIT_* settings that are no run flag (KIT_CACHE_DIR, ...), pinned

    @property
    def shard_box_id(self) -> str:
        return f"{self.box_id}-{SHARD_FIELD}"


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


def _prologue(plan: SlurmPlan) -> list[str]:
    """Every path in the scripts is absolute, so they run from any folder (a resubmission's, a node's)."""
    return ["set -euo pipefail", *(f"export {name}={shlex.quote(value)}" for name, value in plan.env)]


def array_script(plan: SlurmPlan) -> str:
    """One array task per shard: prereqs and corpus of shard K into shards/shard<K>of<N>."""
    lay, n = plan.layout, plan.shards
    kit_args = ["--shard", "auto", "--out-dir", str(lay.shard_pattern), "--box-id", plan.shard_box_id,
                *plan.run_args]
    again = shlex.quote(str(lay.array_script))
    return "\n".join([
        "#!/bin/bash",
        f"# ensemble-kit {__version__}, written by `ensemble-kit slurm` at {utc_iso()}.",
        f"# Array task K of 1..{n} runs prereqs and corpus for shard K/{n} into",
        f"# {lay.shards}/shard<K>of{n}; the union job ({lay.union_script.name}) trains on all of them.",
        "# Run the tasks again with: sbatch " + again + "   (finished shards end at once),",
        "# or one task with: scontrol requeue <array job id>_<task id>",
        *sbatch_lines(plan.sbatch, f"{plan.sbatch.job_name}-corpus", slurm_filename(lay.logs, "corpus-%A_%a.out"),
                      array=f"1-{n}"),
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
        shlex.join([*plan.kit, "step", "prereqs", *kit_args]),
        shlex.join([*plan.kit, "step", "corpus", *kit_args]),
        "",
    ])


def union_script(plan: SlurmPlan) -> str:
    """Merge every shard folder (refused while one is not complete) and run LOSO, verdict, bundle on the union."""
    lay, n = plan.layout, plan.shards
    shards = [str(lay.shard(k, n)) for k in range(1, n + 1)]
    return "\n".join([
        "#!/bin/bash",
        f"# ensemble-kit {__version__}, written by `ensemble-kit slurm` at {utc_iso()}.",
        f"# Merges the {n} shard folders under {lay.shards} into {lay.union_corpus.name} and runs",
        f"# LOSO, verdict and bundle on the union in {lay.union_out}. Submitted with --dependency=afterok on",
        "# the array job; run it again (once every shard is done) with: sbatch " + shlex.quote(str(lay.union_script)),
        *sbatch_lines(plan.sbatch, f"{plan.sbatch.job_name}-union", slurm_filename(lay.logs, "union-%j.out")),
        "",
        *_prologue(plan),
        "# merge refuses (exit 2) a shard folder that is missing or whose corpus step has not completed, naming it",
        shlex.join([*plan.kit, "merge", *shards, "-o", str(lay.union_corpus)]),
        shlex.join([*plan.kit, "run", "--corpus", str(lay.union_corpus), "--out-dir", str(lay.union_out),
                    "--box-id", plan.box_id, *plan.run_args]),
        "",
    ])


def check_plan(plan: SlurmPlan) -> None:
    check_sbatch_safe(str(plan.layout.root), "--out-dir")
    for value in (plan.sbatch.job_name, plan.sbatch.partition, plan.sbatch.time, plan.sbatch.mem, *plan.sbatch.extra):
        if value is not None:
            check_sbatch_safe(value, "the sbatch option")
    bad = [a for a in plan.sbatch.extra if not a.startswith("-")]
    if bad:
        raise InputError(f"--sbatch-arg {bad[0]!r} is not an sbatch option",
                         hint="give each one as --option=value, e.g. --sbatch-arg=--account=myproject")


def write_scripts(plan: SlurmPlan) -> tuple[Path, Path]:
    """array.sh and union.sh into <root>/slurm/ (executable), and the log folder Slurm writes into."""
    check_plan(plan)
    lay = plan.layout
    own_tree(lay.root)  # shared storage: nothing a neighbour planted below it is written through
    make_folder(lay.logs)
    for path, text in ((lay.array_script, array_script(plan)), (lay.union_script, union_script(plan))):
        write_text(path, text)
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return lay.array_script, lay.union_script


def union_after(array_job: str) -> list[str]:
    """sbatch's options for the union job: it starts once every task of the array succeeded, and Slurm
    cancels it when one fails."""
    return [f"--dependency=afterok:{array_job}", "--kill-on-invalid-dep=yes"]


@dataclass(frozen=True)
class Submitted:
    array_job: str
    union_job: str


def submit(plan: SlurmPlan) -> Submitted:
    """Submit the array, then the union after it (afterok; Slurm cancels the union when a task fails)."""
    lay = plan.layout
    try:
        array_job = sbatch(lay.array_script, cwd=plan.cwd)
    except PrereqError as exc:  # no sbatch on this host: the scripts are written, say how to submit them
        first = shell_join(["sbatch", lay.array_script])
        second = shell_join(["sbatch", *union_after("N"), lay.union_script])
        raise PrereqError(exc.message, hint=f"{exc.hint}: the scripts are written and kept, so run this command "
                                            f"again there, or submit them there yourself: {first}, then {second} "
                                            "with N the job id the first one printed (--dry-run only prints the "
                                            "scripts)") from None
    after = union_after(array_job)
    try:
        union_job = sbatch(lay.union_script, after, cwd=plan.cwd)
    except KitError as exc:
        again = shell_join(["sbatch", *after, lay.union_script])
        raise ToolError(f"array job {array_job} is submitted, but the union job is not: {exc.message}",
                        hint=f"fix the cause, then: {again}",
                        stderr_tail=getattr(exc, "stderr_tail", "")) from exc
    return Submitted(array_job, union_job)


PATH_VARS = ("KIT_CACHE_DIR",)


def pinned_env(environ: Mapping[str, str], run_env_names: set[str]) -> tuple[tuple[str, str], ...]:
    """KIT_* variables set now that are no run flag (KIT_CACHE_DIR, KIT_TIMEOUT_S, ...): the scripts export
    them (a folder made absolute), so a resubmission from another shell or folder behaves the same. Run
    flags are written out as flags instead."""
    return tuple(sorted((k, str(Path(v).absolute()) if k in PATH_VARS and v else v) for k, v in environ.items()
                        if k.startswith("KIT_") and k not in run_env_names and "\n" not in v))
