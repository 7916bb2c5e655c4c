"""`ensemble-kit slurm`: the corpus as a Slurm array job, then LOSO, verdict and bundle on the union.

Light to import (click only); the scripts are written by kit/cluster/slurm.py.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from kit.cli.flags import BY_NAME, build_settings, run_options
from kit.cli.guard import guarded
from kit.errors import InputError
from kit.infra.invocation import kit_cli, kit_command

# run flags that make no sense here, and why
REFUSED = {
    "corpus": "the array job encodes the corpus; to train on a corpus you already have, use "
              "`{kit} run --corpus FILE` on one box",
    "shard": "each array task takes its own shard (--shard auto); set their number with --shards N",
    "from_step": "the array runs prereqs and corpus and the union job the rest; rerun a step on one folder "
                 "with `{kit} step NAME --out-dir FOLDER`",
    "only": "the array runs prereqs and corpus and the union job the rest; rerun a step on one folder "
            "with `{kit} step NAME --out-dir FOLDER`",
    "force": "the scripts are resubmitted to resume, and --force would redo every finished job each time; "
             "rerun a step on one folder with `{kit} step NAME --out-dir FOLDER --force`",
}
OWN = ("out_dir", "box_id")  # become the shared folder and the prefix of every task's box id
PATHS = ("ref_dir", "incumbent")  # made absolute: the jobs run on other nodes


def _run_param_names() -> list[str]:
    params = getattr(run_options(lambda **kw: None), "__click_params__", [])
    return [str(p.name) for p in params]


RUN_PARAMS = _run_param_names()


def _flag(param: click.Parameter) -> str:
    return max((o for o in param.opts if o.startswith("--")), key=len)


def passthrough(ctx: click.Context, kw: dict[str, Any]) -> list[str]:
    """The run flags the user gave (on the command line or as KIT_* variables), written out as flags,
    paths made absolute. Defaults are left out, so the jobs see exactly what the user asked for."""
    args: list[str] = []
    for param in ctx.command.params:
        name = str(param.name)
        if name not in RUN_PARAMS or ctx.get_parameter_source(name) not in (ParameterSource.COMMANDLINE,
                                                                            ParameterSource.ENVIRONMENT):
            continue
        flag, value = _flag(param), kw[name]
        if name in REFUSED:
            given = flag if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE else \
                f"{flag} (from {param.envvar})"
            raise InputError(f"{given} cannot be used with `slurm`", hint=REFUSED[name].replace("{kit}", kit_cli()))
        if name in OWN or (value is None and BY_NAME[name].default() is None):
            continue
        if isinstance(param, click.Option) and param.is_flag:
            args += [flag] if value else []
        elif name in PATHS or (name == "ffmpeg" and (os.sep in str(value) or Path(value).exists())):
            args += [flag, str(Path(value).absolute())]
        else:
            args += [flag, BY_NAME[name].text(value)]
    return args


def count_clips(kw: dict[str, Any]) -> int:
    """How many clips the reference set has, from the folder listing alone (nothing is decoded or hashed)."""
    if kw["ref_dir"] is not None:
        from kit.media.discovery import find_clip_files

        return len(find_clip_files(Path(kw["ref_dir"])))
    from kit.media.demo import DEMO_CLIPS

    return min(kw["demo_clips"] or len(DEMO_CLIPS), len(DEMO_CLIPS))


def make_plan(ctx: click.Context, shards: int, sbatch_opts: Any, kw: dict[str, Any]) -> Any:
    from kit.cluster.slurm import SlurmLayout, SlurmPlan, pinned_env
    from kit.infra.host import default_box_id, safe_box_id
    from kit.infra.invocation import kit_argv_absolute
    from kit.model.recipe import MIN_SOURCES

    run_args = passthrough(ctx, kw)
    root = Path(kw["out_dir"] or Path("runs") / "slurm").absolute()
    from kit.corpus.split import SHARD_FIELD, ShardSpec

    if SHARD_FIELD in str(root):
        raise InputError(f"--out-dir {str(root)!r} holds {{shard}}; with `slurm` it is the one shared folder of "
                         "all shards", hint="give the shared folder; each shard gets <folder>/shards/shard<K>of<N>")
    box_id = safe_box_id(kw["box_id"] or default_box_id())
    layout = SlurmLayout(root)
    # every flag is checked here, before anything is written or submitted (as the first task will check it)
    build_settings({**kw, "shard": ShardSpec(1, shards), "corpus": None, "out_dir": layout.shard(1, shards),
                    "box_id": f"{box_id}-{ShardSpec(1, shards).tag}"})
    clips = count_clips(kw)
    where = kw["ref_dir"] or "the demo set"
    if clips < MIN_SOURCES:
        raise InputError(f"{where} holds {clips} clip(s); LOSO needs at least {MIN_SOURCES} sources",
                         hint="add reference clips to --ref-dir")
    if shards > clips:
        raise InputError(f"--shards {shards} but {where} holds only {clips} clip(s): some shards would be empty",
                         hint=f"use at most {clips} shards")
    run_envs = {str(p.envvar) for p in ctx.command.params if isinstance(p, click.Option) and p.envvar}
    return SlurmPlan(layout, shards, tuple(kit_argv_absolute()), Path.cwd().absolute(), tuple(run_args), box_id,
                     sbatch_opts, pinned_env(os.environ, run_envs))


@click.command("slurm")
@click.option("--shards", type=click.IntRange(1, 4096), required=True,
              help="Split the reference set into N shards: one array task each (--array=1-N).")
@click.option("--partition", help="sbatch --partition for both jobs.")
@click.option("--time", "time_limit", metavar="TIME", help="sbatch --time for each job, e.g. 2:00:00 or 1-00:00:00.")
@click.option("--cpus-per-task", type=click.IntRange(1, 4096), help="sbatch --cpus-per-task for each job.")
@click.option("--mem", metavar="SIZE", help="sbatch --mem for each job, e.g. 16G.")
@click.option("--sbatch-arg", "sbatch_args", multiple=True, metavar="--OPT[=VALUE]",
              help="Any other sbatch option for both jobs, written into the scripts as an #SBATCH line; "
                   "repeatable, e.g. --sbatch-arg=--account=myproject --sbatch-arg=--qos=normal.")
@click.option("--job-name", default="ensemble-kit", show_default=True,
              help="Job name prefix: NAME-corpus for the array, NAME-union for the union job.")
@click.option("--dry-run", is_flag=True,
              help="Print the two batch scripts; write and submit nothing. Without it, on a host with no sbatch, "
                   "the scripts are written and kept, and the error says how to submit them on the login node.")
@run_options
@click.pass_context
def slurm_cmd(ctx: click.Context, shards: int, partition: str | None, time_limit: str | None,
              cpus_per_task: int | None, mem: str | None, sbatch_args: tuple[str, ...], job_name: str,
              dry_run: bool, **kw: Any) -> None:
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

    \b
    Examples:
      ensemble-kit slurm --shards 8 --ref-dir /shared/clips --out-dir /shared/runs/x264 --dry-run
      ensemble-kit slurm --shards 8 --ref-dir /shared/clips --out-dir /shared/runs/x264 \\
          --partition cpu --time 4:00:00 --cpus-per-task 8 --mem 16G --sbatch-arg=--account=vq
      squeue --me; ensemble-kit status /shared/runs/x264/shards/shard1of8
    """
    def go() -> int:
        from kit.cluster.slurm import SbatchOptions, array_script, check_plan, submit, union_script, write_scripts

        opts = SbatchOptions(job_name, partition, time_limit, cpus_per_task, mem, tuple(sbatch_args))
        plan = make_plan(ctx, shards, opts, kw)
        lay = plan.layout
        if dry_run:
            check_plan(plan)
            for path, text in ((lay.array_script, array_script(plan)), (lay.union_script, union_script(plan))):
                click.echo(f"# ==> {path} <==")
                click.echo(text)
            click.echo("dry run: nothing written or submitted", err=True)
            return 0
        write_scripts(plan)
        jobs = submit(plan)
        if kw["json_mode"]:
            click.echo(json.dumps({"array_job": jobs.array_job, "union_job": jobs.union_job, "shards": shards,
                                   "array_script": str(lay.array_script), "union_script": str(lay.union_script),
                                   "shard_dirs": [str(lay.shard(k, shards)) for k in range(1, shards + 1)],
                                   "union_out": str(lay.union_out), "logs": str(lay.logs)}, indent=2))
            return 0
        q = shlex.quote
        click.echo(f"wrote {lay.array_script} and {lay.union_script}")
        click.echo(f"submitted array job {jobs.array_job}: {shards} task(s), shard K into "
                   f"{lay.shards}/shard<K>of{shards}")
        click.echo(f"submitted union job {jobs.union_job}: after every task succeeded, trains on the union in "
                   f"{lay.union_out}")
        click.echo(f"watch:  squeue -j {jobs.array_job},{jobs.union_job}   logs: {lay.logs}/")
        click.echo(f"        {kit_command('status', lay.shard(1, shards))}   (each shard folder; then "
                   f"{q(str(lay.union_out))})")
        click.echo("resume: run this command again; finished shards and steps are skipped")
        return 0

    guarded(go, retry=False)


HELP = {"out_dir": "The shared folder of this submission (scripts, shard folders, union). Default: runs/slurm.",
        "box_id": "Box id prefix: array task K is <box-id>-shard<K>of<N>, the union <box-id>. Default: host name."}
for _param in slurm_cmd.params:
    if isinstance(_param, click.Option) and _param.name in HELP:
        _param.help = HELP[_param.name]
