"""The pipeline on a Ray cluster: one Ray task per shard, then one for the union (kit.cluster.plan).

`ensemble-kit ray` is the driver: it connects to a Ray cluster (`--address`, else RAY_ADDRESS or the cluster
`ray start` made on this machine, else a local one it starts for the command), runs every shard task, waits,
then runs the union task, and exits with the union run's code (0 PROMOTE, 1 HOLD). A shard task runs the
plan's two commands with KIT_ARRAY_TASK=K/N set, which is how `--shard auto` finds its place
(kit/infra/arrays.py); each command goes through the kit's one process wrapper, with the task's output
kept in <root>/ray/logs/. Run the same command again to resume: finished shards and steps are skipped.

Ray is an optional extra (`pip install 'ensemble-kit[ray]'`): a collaborator's box never needs it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit.cluster.plan import ClusterPlan, task_env
from kit.errors import PrereqError, ToolError
from kit.infra.arrays import KIT_ARRAY_TASK
from kit.infra.files import write_json
from kit.infra.invocation import shell_join
from kit.infra.nofollow import make_folder, open_in_place, own_tree

TASK_TIMEOUT_S = 7 * 86400.0  # a shard of thousands of clips takes hours; a hung task still ends
INSTALL_HINT = "install the optional extra: pip install 'ensemble-kit[ray]' (or pip install ray==2.60.0)"


@dataclass(frozen=True)
class TaskResult:
    """What one Ray task did: every command's exit code, and the failing one's tail."""

    name: str
    codes: tuple[int, ...]
    failed: tuple[str, ...] = ()  # the command that failed; () when all succeeded
    tail: str = ""
    node: str = ""

    @property
    def ok(self) -> bool:
        return not self.failed


def run_commands(name: str, commands: Sequence[Sequence[str]], env: dict[str, str], log: str,
                 ok_codes: tuple[int, ...] = (0,)) -> TaskResult:
    """The body of a Ray task, run on a worker: the commands in order through the kit's process wrapper, their
    output appended to `log`; stops at the first whose exit code is not in `ok_codes`."""
    import platform

    from kit.infra.proc import quote_argv, run_process, tail_lines

    codes: list[int] = []
    for argv in commands:
        res = run_process(argv, timeout_s=TASK_TIMEOUT_S, env=env, capture_stdout=True, capped=False)
        with open_in_place(Path(log), "a", encoding="utf-8") as fh:
            fh.write(f"$ {quote_argv(argv)}\n{res.stdout.decode('utf-8', 'replace')}{res.stderr}\n"
                     f"(exit {res.returncode})\n")
        codes.append(res.returncode)
        if res.returncode not in ok_codes:
            return TaskResult(name, tuple(codes), tuple(argv), tail_lines(res.stderr, 8), platform.node())
    return TaskResult(name, tuple(codes), node=platform.node())


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise PrereqError("Ray is not installed in this Python", hint=INSTALL_HINT) from None
    return ray


def connect(ray: Any, address: str | None) -> str:
    """Join the cluster at `address` (or RAY_ADDRESS, or this machine's `ray start` cluster), else start a local
    one; returns a line saying which."""
    if address or os.environ.get("RAY_ADDRESS"):
        ray.init(address=address or None, log_to_driver=False)
        return f"connected to the Ray cluster at {address or os.environ['RAY_ADDRESS']}"
    try:
        ray.init(address="auto", log_to_driver=False)
        return "connected to the Ray cluster started on this machine (ray start)"
    except ConnectionError:
        ray.init(include_dashboard=False, log_to_driver=False)
        return "started a local Ray cluster on this machine for this command"


def run_plan(plan: ClusterPlan, address: str | None, cpus_per_task: float, say: Callable[[str], None]) -> int:
    """Every shard task, then the union task, on Ray; the union run's exit code (0 PROMOTE, 1 HOLD)."""
    ray = import_ray()
    lay = plan.layout
    own_tree(lay.root)
    make_folder(lay.logs)
    write_json(lay.own / "plan.json", {"shards": plan.shards, "shard_commands": plan.shard_commands(),
                                       "union_commands": plan.union_commands(), "env": dict(plan.env)})
    say(connect(ray, address))
    task = ray.remote(num_cpus=cpus_per_task, max_retries=0)(run_commands)
    refs: dict[Any, str] = {}
    try:
        for k in range(1, plan.shards + 1):
            env = {**task_env(plan), KIT_ARRAY_TASK: f"{k}/{plan.shards}"}
            name = f"shard {k}/{plan.shards}"
            refs[task.remote(name, plan.shard_commands(), env, str(lay.logs / f"shard{k}of{plan.shards}.log"))] = name
        say(f"submitted {plan.shards} shard task(s); each runs prereqs and corpus into {lay.shards}/")
        failed = _wait_all(ray, refs, say, len(plan.kit))
        if failed:  # every other shard has finished its work: a rerun redoes only these
            more = f" ({len(failed) - 1} more shard(s) failed too)" if len(failed) > 1 else ""
            _check(failed[0], more)
        refs = {task.remote("union", plan.union_commands(), task_env(plan), str(lay.logs / "union.log"),
                            ok_codes=(0, 1)): "union"}
        say(f"every shard is done; the union task merges them and trains in {lay.union_out}")
        result: TaskResult = ray.get(next(iter(refs)))
        _check(result)
        verdict = "PROMOTE" if result.codes[-1] == 0 else "HOLD"
        say(f"union done on {result.node}: exit {result.codes[-1]} ({verdict})")
        return result.codes[-1]
    except KeyboardInterrupt:
        stopped = _cancel(ray, list(refs))
        say(f"interrupted: {stopped} running task(s) stopped, each ending the kit command it ran (finished shards "
            "and steps are kept)")
        raise
    finally:
        ray.shutdown()


def _wait_all(ray: Any, refs: dict[Any, str], say: Callable[[str], None], kit_words: int) -> list[TaskResult]:
    """Wait for every task, saying each one's end; the ones that failed."""
    pending, started, failed = list(refs), time.monotonic(), []
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        result: TaskResult = ray.get(done[0])
        what = " ".join(result.failed[kit_words:kit_words + 2])  # "step prereqs", "merge"
        state = "done" if result.ok else f"FAILED in {what} (exit {result.codes[-1]})"
        say(f"{result.name} {state} on {result.node} after {time.monotonic() - started:.0f} s "
            f"({len(refs) - len(pending)} of {len(refs)})")
        if not result.ok:
            failed.append(result)
    return failed


def _cancel(ray: Any, refs: list[Any], grace_s: float = 30.0) -> int:
    """An interrupt: each running task is interrupted (not killed, so the kit it runs stops its own children
    and keeps its finished work), and given a moment to end; how many were."""
    pending = ray.wait(refs, num_returns=len(refs), timeout=0)[1] if refs else []
    for ref in pending:
        ray.cancel(ref, force=False)
    if pending:
        ray.wait(pending, num_returns=len(pending), timeout=grace_s)
    return len(pending)


def _check(result: TaskResult, more: str = "") -> None:
    if not result.ok:
        raise ToolError(f"{result.name} failed on {result.node}: {shell_join(result.failed)} (exit "
                        f"{result.codes[-1]}){more}",
                        hint="see its log under the ray/logs/ folder and the step log it names; fix the cause and "
                             "run the same command again: finished shards and steps are skipped",
                        stderr_tail=result.tail)
