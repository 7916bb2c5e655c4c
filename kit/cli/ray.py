"""`ensemble-kit ray`: the corpus as one Ray task per shard, then LOSO, verdict and bundle on the union
(kit/cluster/ray.py runs the tasks)."""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from typing import TYPE_CHECKING, Any

import click

from kit.cli.cluster import cluster_options, make_plan
from kit.cli.guard import guard
from kit.cli.params import KitParam
from kit.infra.flags import Float
from kit.infra.invocation import kit_command, shell_join
from kit.infra.variables import ARRAY_TASK

if TYPE_CHECKING:
    from kit.cluster.plan import ClusterPlan


@click.command("ray")
@click.option("--address", envvar="RAY_ADDRESS", show_envvar=True,
              help="The Ray cluster to run on: ray://HEAD:10001, HOST:6379 on a cluster node, or auto (Ray's own "
                   "word: the cluster `ray start` made on this machine). Default: a local cluster started for this "
                   "command, ended with it. An address where no Ray cluster answers within 30 s is exit 2.")
@click.option("--cpus-per-task", type=KitParam(Float(0.1, 4096)), default=1.0, show_default=True,
              help="CPUs Ray reserves for each task; without --jobs, each task's kit runs that many encodes at once "
                   "(rounded up).")
@cluster_options("Print the commands every task would run; connect to no cluster, write and run nothing.",
                 takes=("corpus",))
@click.pass_context
@functools.partial(guard, retry=True)
def ray_cmd(ctx: click.Context, address: str | None, cpus_per_task: float, shards: int | None, dry_run: bool,
            **values: Any) -> int:
    """Run the corpus on a Ray cluster as one task per shard, then train on the union; or train on a union given.

    Each task K runs prereqs and corpus for shard K/N (--shard auto; the task carries
    KIT_ARRAY_TASK=K/N) into OUT_DIR/shards/shard<K>of<N>; once every shard succeeded,
    one task merges them into OUT_DIR/union.parquet and runs LOSO, verdict and bundle
    in OUT_DIR/union. With --corpus in place of --shards no shard runs: the union task
    trains on the corpus given (merging the boxes' results tarballs first). This command
    drives the tasks and waits for them; its exit code is the union's verdict (0 PROMOTE,
    1 HOLD; 2 bad input or a failed task). OUT_DIR (default runs/ray), --ref-dir or
    --corpus, and the kit with its Python must be on storage every node shares. Run the
    same command again to resume: finished shards and steps are skipped. Needs the
    optional extra: pip install 'ensemble-kit[ray]'.

    \b
    Examples:
      ensemble-kit ray --shards 8 --ref-dir /shared/clips --out-dir /shared/runs/x264 --dry-run
      ensemble-kit ray --shards 8 --ref-dir /shared/clips --out-dir /shared/runs/x264 --address ray://head:10001
      ensemble-kit ray --corpus /shared/union.parquet --train-tasks 10 --out-dir /shared/runs/union --address auto
      ensemble-kit ray --corpus /shared/in/results-box1-20261121T101500Z.tar.gz --corpus /shared/in/results-box2-...
    """
    plan = make_plan(ctx, "ray", shards, values, takes=("corpus",))
    if not plan.settings.jobs:  # the kit would run as many encodes as the node has cores
        plan = dataclasses.replace(plan, settings=dataclasses.replace(plan.settings, jobs=math.ceil(cpus_per_task)))
    if dry_run:
        click.echo("\n".join(dry_run_lines(plan)))
        click.echo("dry run: nothing written or run", err=True)
        return 0
    from kit.cluster.ray import run_plan

    code = run_plan(plan, address, cpus_per_task, lambda line: click.echo(line, err=True))
    lay = plan.layout
    log = lay.logs / ("gather.log" if plan.train_tasks else "union.log")
    if values["json_mode"]:
        click.echo(json.dumps({"exit_code": code, "shards": plan.shards, "union_out": str(lay.union_out),
                               "logs": str(lay.logs)}))
    else:
        click.echo(f"union: {lay.union_out} (its summary is in the {log.stem} task's log, {log}); "
                   f"{kit_command('status', lay.union_out)}")
    return code


def dry_run_lines(plan: ClusterPlan) -> list[str]:
    """What `--dry-run` prints: the settings file, then each kind of task and the commands it runs, in order."""
    n, t = plan.shards, plan.train_tasks
    union = plan.union_commands()
    return [f"# the settings every task reads ({plan.layout.settings}):",
            *(f"#   {line}" for line in plan.settings_json().splitlines()),
            *([f"# every shard task K of 1..{n} runs, with {ARRAY_TASK.name}=K/{n}:",
               *map(shell_join, plan.shard_commands())] if n else []),
            *([f"# then{', once every shard succeeded,' if n else ''} the union task runs:",
               *map(shell_join, union)] if union else []),
            *([f"# then each training task K of 1..{t} runs:", shell_join(plan.train_command(f"K/{t}")),
               "# then, once every training task succeeded, the gather task runs:",
               *map(shell_join, plan.gather_commands())] if t else [])]
