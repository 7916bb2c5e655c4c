"""`ensemble-kit ray`: the corpus as one Ray task per shard, then LOSO, verdict and bundle on the union
(kit/cluster/ray.py runs the tasks)."""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from typing import Any

import click

from kit.cli.cluster import cluster_options, make_plan
from kit.cli.guard import guard
from kit.cli.params import KitParam
from kit.infra.flags import Float
from kit.infra.invocation import kit_command, shell_join
from kit.infra.variables import ARRAY_TASK


@click.command("ray")
@click.option("--address", envvar="RAY_ADDRESS", show_envvar=True,
              help="The Ray cluster to run on (ray://HOST:10001 or HOST:6379). Default: the cluster `ray start` "
                   "made on this machine (named in ray/ray_current_cluster in RAY_TMPDIR, else TMPDIR on Linux, "
                   "else /tmp: one of `ray start --temp-dir` needs --address) where it answers, else a local one "
                   "started for this command; `auto`: that `ray start` cluster or exit 2. Another command's local "
                   "cluster is never joined.")
@click.option("--cpus-per-task", type=KitParam(Float(0.1, 4096)), default=1.0, show_default=True,
              help="CPUs Ray reserves for each task; without --jobs, each task's kit runs that many encodes at once "
                   "(rounded up).")
@cluster_options("Print the commands every task would run; connect to no cluster, write and run nothing.")
@click.pass_context
@functools.partial(guard, retry=True)
def ray_cmd(ctx: click.Context, address: str | None, cpus_per_task: float, shards: int, dry_run: bool,
            **values: Any) -> int:
    """Run the corpus on a Ray cluster as one task per shard, then train on the union.

    Each task K runs prereqs and corpus for shard K/N (--shard auto; the task carries
    KIT_ARRAY_TASK=K/N) into OUT_DIR/shards/shard<K>of<N>; once every shard succeeded,
    one task merges them into OUT_DIR/union.parquet and runs LOSO, verdict and bundle
    in OUT_DIR/union. This command drives the tasks and waits for them; its exit code is
    the union's verdict (0 PROMOTE, 1 HOLD; 2 bad input or a failed task). OUT_DIR
    (default runs/ray), --ref-dir and the kit with its Python must be on storage every
    node shares. Run the same command again to resume: finished shards and steps are
    skipped. Needs the optional extra: pip install 'ensemble-kit[ray]'.

    \b
    Examples:
      ensemble-kit ray --shards 8 --ref-dir /shared/clips --out-dir /shared/runs/x264 --dry-run
      ensemble-kit ray --shards 8 --ref-dir /shared/clips --out-dir /shared/runs/x264 --address ray://head:10001
    """
    plan = make_plan(ctx, "ray", shards, values)
    if not plan.settings.jobs:  # the kit would run as many encodes as the node has cores
        plan = dataclasses.replace(plan, settings=dataclasses.replace(plan.settings, jobs=math.ceil(cpus_per_task)))
    if dry_run:
        click.echo("\n".join([f"# the settings every task reads ({plan.layout.settings}):",
                              *(f"#   {line}" for line in plan.settings_json().splitlines()),
                              f"# every shard task K of 1..{shards} runs, with {ARRAY_TASK.name}=K/{shards}:",
                              *map(shell_join, plan.shard_commands()),
                              "# then, once every shard succeeded, the union task runs:",
                              *map(shell_join, plan.union_commands())]))
        click.echo("dry run: nothing written or run", err=True)
        return 0
    from kit.cluster.ray import run_plan

    code = run_plan(plan, address, cpus_per_task, lambda line: click.echo(line, err=True))
    lay = plan.layout
    if values["json_mode"]:
        click.echo(json.dumps({"exit_code": code, "shards": shards, "union_out": str(lay.union_out),
                               "logs": str(lay.logs)}))
    else:
        click.echo(f"union: {lay.union_out} (its summary is in the union task's log, {lay.logs / 'union.log'}); "
                   f"{kit_command('status', lay.union_out)}")
    return code
