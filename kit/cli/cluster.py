"""What the cluster commands (`slurm`, `ray`) share: their common flags, and the plan made from the run flags,
which a scheduler's command hands to its adapter (kit/cluster/)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from kit.cli.flags import BY_NAME, FLAGS, build_settings, check_box_id, from_variable, given_here, run_options
from kit.cli.params import KitParam
from kit.errors import InputError
from kit.infra.flags import Int
from kit.infra.invocation import kit_cli

if TYPE_CHECKING:
    from kit.cluster.plan import ClusterPlan
    from kit.steps.settings import RunSettings

ONE_FOLDER = ("the shard tasks run prereqs and corpus and the union task the rest; rerun a step on one folder with "
              "`{kit} step NAME --out-dir FOLDER`")
# run flags that make no sense on a cluster, and why
REFUSED = {
    "corpus": "the shard tasks encode the corpus; to train on a corpus you already have, use "
              "`{kit} run --corpus FILE` on one box",
    "shard": "each shard task takes its own shard (--shard auto); set their number with --shards N",
    "from_step": ONE_FOLDER,
    "only": ONE_FOLDER,
    "force": "the tasks are run again to resume, and --force would redo every finished job each time; rerun a "
             "step on one folder with `{kit} step NAME --out-dir FOLDER --force`",
}
HELP = {"out_dir": "The shared folder of this submission (shard folders, union, the scheduler's files). "
                   "Default: runs/<scheduler>.",
        "box_id": "Box id prefix: shard task K is <box-id>-shard<K>of<N>, the union <box-id>. Default: host name."}


def cluster_options(dry_run_help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--shards, --dry-run and every run flag (--out-dir and --box-id with their cluster meaning)."""
    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn = run_options(fn)
        fn = click.option("--dry-run", is_flag=True, help=dry_run_help)(fn)
        fn = click.option("--shards", type=KitParam(Int(1, 4096)), required=True,
                          help="Split the reference set into N shards: one task each.")(fn)
        for param in getattr(fn, "__click_params__", []):
            if isinstance(param, click.Option) and param.name in HELP:
                param.help = HELP[str(param.name)]
        return fn
    return decorate


def refuse_flags(ctx: click.Context, command: str) -> None:
    """A run flag that cannot apply on a cluster, given on the command line or by its variable, is refused."""
    for name, why in REFUSED.items():
        source = ctx.get_parameter_source(name)
        if source not in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT):
            continue
        flag = BY_NAME[name]
        given = flag.opt if source == ParameterSource.COMMANDLINE else f"{flag.opt} (from {flag.envvar})"
        raise InputError(f"{given} cannot be used with `{command}`", hint=why.replace("{kit}", kit_cli()))


def count_clips(settings: RunSettings) -> int:
    """How many clips the reference set has, from the folder listing alone (nothing is decoded or hashed)."""
    if settings.ref_dir is not None:
        from kit.media.discovery import find_clip_files

        return len(find_clip_files(settings.ref_dir)[0])
    from kit.media.demo import DEMO_CLIPS

    return min(settings.demo_clips or len(DEMO_CLIPS), len(DEMO_CLIPS))


def make_plan(ctx: click.Context, scheduler: str, shards: int, values: dict[str, Any]) -> ClusterPlan:
    """The plan every adapter runs, every flag checked first (as the first task will check it)."""
    from kit.cluster.plan import ClusterLayout, ClusterPlan, check_root, check_shards, pinned_env
    from kit.corpus.split import SHARD_FIELD, ShardSpec
    from kit.infra.host import default_box_id
    from kit.infra.invocation import kit_argv_absolute
    from kit.infra.tree import TREE_ENV
    from kit.model.contract import no_slot_message, unslotted
    from kit.rundir import default_out_dir
    from kit.steps.parsers import AUTO_TASKS
    from kit.steps.settings import TASK_FLAGS

    refuse_flags(ctx, scheduler)
    root = Path(values["out_dir"] or default_out_dir(scheduler)).absolute()
    check_root(root)
    source = from_variable("box_id", given_here(ctx))
    if SHARD_FIELD in (values["box_id"] or ""):
        raise InputError(f"--box-id {values['box_id']!r} holds {SHARD_FIELD}; on a cluster it is the prefix of "
                         f"every task's box id{source}",
                         hint="give the prefix alone: shard task K is <box-id>-shard<K>of<N>")
    if values["box_id"]:
        check_box_id(values["box_id"], source)  # refused as `run` refuses it, not cleaned silently
    # the prefix leaves room for the longest tag: every shard keeps a box id of its own within 64 characters
    box_id = (values["box_id"] or default_box_id())[:63 - len(ShardSpec(shards, shards).tag)]
    layout = ClusterLayout(root, scheduler)
    first = ShardSpec(1, shards)
    if values.get("train_tasks") == AUTO_TASKS:  # auto: one training task per shard
        values = {**values, "train_tasks": shards}
    # the settings of shard 1's task, as it will build them: the file's (placed by its flags) or the flags'
    settings = build_settings({**values, "shard": first, "corpus": None, "out_dir": layout.shard(1, shards),
                               "box_id": f"{box_id}-{first.tag}"}, given_here(ctx) | {*TASK_FLAGS})
    if settings.encoders != ("auto",) and (bad := unslotted(settings.encoders)):  # the union task trains
        raise InputError(f"--encoders: {no_slot_message(bad)}",
                         hint="leave them out of --encoders: the union task trains on every row the shards make")
    check_shards(shards, count_clips(settings), str(settings.ref_dir or "the demo set"))
    run_envs = {f.envvar for f in FLAGS if f.envvar}
    return ClusterPlan(layout, shards, tuple(kit_argv_absolute()), Path.cwd().absolute(), settings, box_id,
                       (*pinned_env(os.environ, run_envs), (TREE_ENV, str(root))), settings.train_tasks)
