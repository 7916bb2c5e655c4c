"""`ensemble-kit slurm`: the corpus as a Slurm array job, then LOSO, verdict and bundle on the union
(kit/cluster/slurm.py writes the scripts)."""

from __future__ import annotations

import functools
import json
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from kit.cli.cluster import cluster_options, make_plan
from kit.cli.guard import guard
from kit.cli.params import KitParam
from kit.infra.flags import Int
from kit.infra.invocation import kit_command

if TYPE_CHECKING:
    from kit.cluster.plan import ClusterPlan
    from kit.cluster.slurm import Submitted


@click.command("slurm")
@click.option("--partition", help="sbatch --partition for both jobs.")
@click.option("--time", "time_limit", metavar="TIME", help="sbatch --time for each job, e.g. 2:00:00 or 1-00:00:00.")
@click.option("--cpus-per-task", type=KitParam(Int(1, 4096)), help="sbatch --cpus-per-task for each job.")
@click.option("--mem", metavar="SIZE", help="sbatch --mem for each job, e.g. 16G.")
@click.option("--sbatch-arg", "sbatch_args", multiple=True, metavar="--OPT[=VALUE]",
              help="Any other sbatch option for both jobs, written into the scripts as an #SBATCH line; "
                   "repeatable, e.g. --sbatch-arg=--account=myproject --sbatch-arg=--qos=normal.")
@click.option("--job-name", default="ensemble-kit", show_default=True,
              help="Job name prefix: NAME-corpus for the array, NAME-union for the union job.")
@cluster_options("Print the batch scripts; write and submit nothing. Without it, on a host with no sbatch, "
                 "the scripts are written and kept, and the error says how to submit them on the login node.")
@click.pass_context
@functools.partial(guard, retry=True)  # where nothing is submitted, the same command again (sbatch's failures)
def slurm_cmd(ctx: click.Context, shards: int, partition: str | None, time_limit: str | None,
              cpus_per_task: int | None, mem: str | None, sbatch_args: tuple[str, ...], job_name: str,
              dry_run: bool, **values: Any) -> int:
    """Run the corpus on a Slurm cluster as an array job, then train on the union.

    Writes two batch scripts into OUT_DIR/slurm/ and submits them with sbatch: an
    array job whose task K encodes shard K/N (prereqs and corpus, --shard auto) into
    OUT_DIR/shards/shard<K>of<N>, and a job that starts once every task succeeded
    (--dependency=afterok), merges the shards into OUT_DIR/union.parquet and runs
    LOSO, verdict and bundle on the union in OUT_DIR/union. OUT_DIR (default
    runs/slurm) must be on storage every node shares, as must --ref-dir and the kit
    with its Python. The run flags (--ref-dir, --encoders, --cqs, --seeds, the gates,
    ...) pass through unchanged. To resume, run the same command again (or sbatch
    the kept scripts): finished work is skipped. Exit 0 submitted, 2 bad input.

    With --train-tasks T (or auto: one per shard) LOSO's training is an array
    too: the union job only merges, training task K (train.sh) trains share K/T
    of LOSO's members into OUT_DIR/union/03_loso/members/, and a gather job
    (gather.sh, afterok on them) runs LOSO, verdict and bundle with the members.
    A failed task K alone: sbatch --array=K OUT_DIR/slurm/train.sh, then sbatch
    gather.sh; members already written are kept.

    \b
    Examples:
      ensemble-kit slurm --shards 8 --ref-dir /shared/clips --out-dir /shared/runs/x264 --dry-run
      ensemble-kit slurm --shards 8 --ref-dir /shared/clips --out-dir /shared/runs/x264 \\
          --partition cpu --time 4:00:00 --cpus-per-task 8 --mem 16G --sbatch-arg=--account=vq
      ensemble-kit slurm --shards 8 --train-tasks 16 --ref-dir /shared/clips --out-dir /shared/runs/big
      squeue --me; ensemble-kit status /shared/runs/x264/shards/shard1of8
    """
    from kit.cluster.slurm import SbatchOptions, check_plan, scripts, submit, write_scripts

    opts = SbatchOptions(job_name, partition, time_limit, cpus_per_task, mem, tuple(sbatch_args))
    plan = make_plan(ctx, "slurm", shards, values)
    if dry_run:
        check_plan(plan, opts)
        for path, text in [(plan.layout.settings, plan.settings_json()), *scripts(plan, opts)]:
            click.echo(f"# ==> {path} <==\n{text}")
        click.echo("dry run: nothing written or submitted", err=True)
        return 0
    written = write_scripts(plan, opts)
    jobs = submit(plan)
    if values["json_mode"]:
        click.echo(json.dumps(submitted_json(plan, jobs), indent=2))
    else:
        click.echo("\n".join(submitted_lines(plan, written, jobs)))
    return 0


def submitted_json(plan: ClusterPlan, jobs: Submitted) -> dict[str, object]:
    from kit.cluster.slurm import script_path

    lay, t, shards = plan.layout, plan.train_tasks, plan.shards
    split = {"train_job": jobs.train_job, "gather_job": jobs.gather_job, "train_tasks": t,
             "train_script": str(script_path(lay, "train")),
             "gather_script": str(script_path(lay, "gather"))} if t else {}
    return {"array_job": jobs.array_job, "union_job": jobs.union_job, "shards": shards,
            "array_script": str(script_path(lay, "array")), "union_script": str(script_path(lay, "union")), **split,
            "shard_dirs": [str(lay.shard(k, shards)) for k in range(1, shards + 1)],
            "union_out": str(lay.union_out), "logs": str(lay.logs)}


def submitted_lines(plan: ClusterPlan, written: list[Path], jobs: Submitted) -> list[str]:
    from kit.cluster.slurm import retrain_hint

    lay, t, shards = plan.layout, plan.train_tasks, plan.shards
    lines = [f"wrote {', '.join(map(str, written[:-1]))} and {written[-1]}",
             f"submitted array job {jobs.array_job}: {shards} task(s), shard K into {lay.shards}/shard<K>of{shards}",
             f"submitted union job {jobs.union_job}: after every task succeeded, "
             + (f"merges the shards into {lay.union_corpus}" if t else f"trains on the union in {lay.union_out}")]
    if t:
        lines += [f"submitted training array job {jobs.train_job}: {t} task(s), task K trains share K/{t} of "
                  f"LOSO's members into {lay.union_out}/03_loso/members/",
                  f"submitted gather job {jobs.gather_job}: after every training task succeeded, LOSO, verdict "
                  f"and bundle on the union in {lay.union_out}",
                  f"a failed training task K alone: {retrain_hint(lay, 'K')}"]
    listed = ",".join(j for j in (jobs.array_job, jobs.union_job, jobs.train_job, jobs.gather_job) if j)
    return [*lines, f"watch:  squeue -j {listed}   logs: {lay.logs}/",
            f"        {kit_command('status', lay.shard(1, shards))}   (each shard folder; then "
            f"{shlex.quote(str(lay.union_out))})",
            "resume: run this command again; finished shards and steps are skipped"]
