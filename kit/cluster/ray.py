"""The pipeline on a Ray cluster (kit.cluster.plan; docs/cluster.md, "Ray"): `ensemble-kit ray` is the driver, each
shard, the union, each training task, the gather a Ray task running the plan's commands, logs in <root>/ray/logs."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit.cluster.plan import GATHERED, ClusterPlan, task_env
from kit.corpus.split import ShardSpec
from kit.errors import PrereqError, ResourceLimit, ToolError
from kit.infra import interrupts, scratch
from kit.infra.arrays import KIT_ARRAY_TASK
from kit.infra.clock import utc_iso
from kit.infra.files import host_name
from kit.infra.host import group_shared_from_env
from kit.infra.invocation import shell_join
from kit.infra.tree import Rules, Tree

TASK_TIMEOUT_S = 7 * 86400.0  # a shard of thousands of clips takes hours; a hung task still ends
CONNECT_TIMEOUT_S = 30  # an address where no Ray cluster answers fails after this, not Ray's minutes of retries
RETRIES = 2  # a task whose worker or node died runs again (the kit's commands resume); a failed command does not
INSTALL_HINT = "install the optional extra: pip install 'ensemble-kit[ray]' (or pip install ray==2.60.0)"


@dataclass(frozen=True)
class TaskResult:
    name: str
    codes: tuple[int, ...]
    failed: tuple[str, ...] = ()  # the command that failed; () when all succeeded
    tail: str = ""
    node: str = ""
    attempt: int = 1  # Ray runs a task again when its worker or node was lost (RETRIES): the 2nd, 3rd run


def run_commands(name: str, commands: Sequence[Sequence[str]], env: dict[str, str], log: str,
                 ok_codes: Sequence[tuple[int, ...]], driver: str = "") -> TaskResult:
    """A Ray task's body: the commands in order into `log`, up to the first whose exit code is not in its `ok_codes`;
    each run of it for the `driver` marked there first, so that the one Ray ran again (its worker lost) says so."""
    import platform

    from kit.infra.proc import run_process, tail_lines

    codes: list[int] = []
    path = Path(log)
    with Tree.open(path.parent, Rules(group_shared=group_shared_from_env()), make=False,
                   label="the cluster's log folder") as tree:
        mark = f"# {name}, run by the driver {driver}\n"
        with tree.open_append(path) as fh:
            fh.write(mark)
        with tree.open_read(path) as fh:
            attempt = sum(1 for line in fh if line.decode("utf-8", "replace") == mark)
        for argv, ok in zip(commands, ok_codes, strict=True):
            with tree.open_append(path) as fh:
                fh.write(f"$ {shell_join(argv)}\n")
                fh.flush()
                res = run_process(argv, timeout_s=TASK_TIMEOUT_S, env=env, capped=False, output=fh)
                fh.write(f"(exit {res.returncode})\n")
            codes.append(res.returncode)
            if res.returncode not in ok:
                with tree.open_read(path) as fh:  # the end of the log: what the failed command said last
                    fh.seek(max(0, os.fstat(fh.fileno()).st_size - 16384))
                    tail = fh.read().decode("utf-8", "replace")
                return TaskResult(name, tuple(codes), tuple(argv), tail_lines(tail, 8), platform.node(), attempt)
    return TaskResult(name, tuple(codes), node=platform.node(), attempt=attempt)


def connect(ray: Any, address: str | None) -> str:
    """Join the cluster at `address` (--address, or RAY_ADDRESS: ray://HEAD:10001, HOST:6379, or Ray's own `auto`), else
    start a local one for this command; the line saying which. Ray's own error is said with the kit's hint, exit 2 (a
    local cluster that did not start in Ray's own time with `retry:`); an address where no Ray cluster answers within
    CONNECT_TIMEOUT_S is exit 2 then (Ray itself would retry it for minutes, or for ever). The kit's signal handlers
    outlive ray.init's; a SIGTERM that came while Ray's stood (sys.exit(15)) is the kit's stop, and any stop before the
    tasks are submitted shuts Ray down."""
    try:
        line = _join(ray, address) if address else _start(ray)
        interrupts.install()
        interrupts.check()  # a stop that came while Ray started: before any task is submitted
        return line
    except SystemExit as exc:  # a SIGTERM during ray.init, which Ray's handler (set there) made sys.exit(15)
        _shut(ray)
        interrupts.caught_for_us(exc)
    except NoAnswer:  # ray.init still waits on its thread: nothing joined to shut down
        raise
    except BaseException:
        _shut(ray)
        raise


def _shut(ray: Any) -> None:
    """Ray shut down after a stop or a failure while it started (its processes also end with the kit's: they share
    its fate), under the kit's handlers."""
    interrupts.install()
    with contextlib.suppress(Exception):
        ray.shutdown()


class NoAnswer(PrereqError):
    """No Ray cluster answered at the address within CONNECT_TIMEOUT_S."""


HINT = ("check the address (ray://HEAD:10001 for a remote head, HOST:6379 on a cluster node, auto for the cluster "
        "`ray start` made on this machine; `ray status` on the head tells them) and that this machine reaches it; for "
        "ray:// the extra must be installed whole: pip install 'ensemble-kit[ray]'")
TOKEN = ("a cluster that asks for a token (`ray start` makes one where ~/.ray/auth_token exists) is joined by its "
         "address with RAY_AUTH_MODE=token exported")


def _join(ray: Any, address: str) -> str:
    """ray.init(address) on a thread of its own, waited on in slices under the kit's handlers for at most
    CONNECT_TIMEOUT_S (Ray sets no signal handler there); Ray's error, or no answer, the kit's exit 2."""
    outcome: list[BaseException] = []

    def init() -> None:
        try:
            ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
        except BaseException as exc:  # Ray's own failure, said on the driver's thread
            outcome.append(exc)

    thread = threading.Thread(target=init, name="ray-connect", daemon=True)
    thread.start()
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while thread.is_alive() and time.monotonic() < deadline:
        thread.join(interrupts.MAIN_WAIT_S)
        interrupts.check()
    if thread.is_alive():
        raise NoAnswer(f"no Ray cluster answered at {address} within {CONNECT_TIMEOUT_S} s", hint=HINT)
    if outcome:
        # Ray sends its token to a cluster it finds itself (auto), never to an address given
        token = f"; {TOKEN}" if address != "auto" and not address.startswith("ray://") \
            and not os.environ.get("RAY_AUTH_MODE") else ""
        raise PrereqError(f"cannot join the Ray cluster at {address}: {said(outcome[0])}", hint=HINT + token) from None
    return f"connected to the Ray cluster at {address}"


def _start(ray: Any) -> str:
    """A local cluster for this command (ray.init on the main thread: its processes share its fate), in the temporary
    folder the user started the kit with (Ray's own rule reads it; the command's private one would make its socket
    paths too long). Any failure of Ray's start is the kit's line: a node that did not register in Ray's own time on
    a loaded box (Ray raises a bare Exception) may start on the next try."""
    try:
        with scratch.as_started("TMPDIR"):
            ray.init(address="local", include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    except Exception as exc:  # whatever ray.init raises is Ray's start failing, never the kit's bug
        raise ToolError(f"Ray's local cluster did not start on this machine: {said(exc)}",
                        hint="on a busy box Ray's node may take longer than Ray waits for it: run the same command "
                             "again, or start a cluster (`ray start --head`) and give it with --address auto") from None
    return "started a local Ray cluster on this machine for this command"


def said(exc: BaseException) -> str:
    """Ray's error as one line: its type (when it is not a bare Exception) and its first line."""
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    kind = "" if type(exc) is Exception else type(exc).__name__
    return f"{kind}: {first}" if kind and first else kind or first or "(no message)"


def run_plan(plan: ClusterPlan, address: str | None, cpus_per_task: float, say: Callable[[str], None]) -> int:
    """Every shard task, then the union task (or the union given), its training tasks and the gather, on Ray; the
    union run's exit code (0 PROMOTE, 1 HOLD)."""
    try:
        import ray
    except ImportError:
        raise PrereqError("Ray is not installed in this Python", hint=INSTALL_HINT) from None
    lay = plan.layout
    split = {"train_tasks": plan.train_tasks, "train_command": plan.train_command("auto"),
             "gather_commands": plan.gather_commands()} if plan.train_tasks else {}
    with Tree.open(lay.root, Rules(group_shared=group_shared_from_env()), label="the cluster's folder") as tree:
        tree.make_folder(lay.logs)
        tree.write_text(lay.settings, plan.settings_json())
        tree.write_json(lay.own / "plan.json", {"shards": plan.shards, "inputs": [str(p) for p in plan.inputs],
                                                "shard_commands": plan.shard_commands(),
                                                "union_commands": plan.union_commands(), **split,
                                                "env": dict(plan.env)})
    say(connect(ray, address))
    driver = Driver(ray, plan, ray.remote(num_cpus=cpus_per_task, max_retries=RETRIES)(run_commands), say)
    try:
        return driver.run()
    except KeyboardInterrupt:  # each task queued or running cancelled (its kit command killed), given 30 s to end
        driver.cancel()
        raise
    finally:
        ray.shutdown()


class Driver:
    """The tasks of one plan on Ray, waited on in slices (a stop ends a wait), each end said; what Ray ran again."""

    def __init__(self, ray: Any, plan: ClusterPlan, task: Any, say: Callable[[str], None]) -> None:
        self.ray, self.plan, self.task, self.say = ray, plan, task, say
        self.refs: dict[Any, str] = {}  # the tasks waited on now
        self.again: list[str] = []  # the tasks Ray ran again after losing their worker or node
        self.id = f"pid {os.getpid()} on {host_name()} at {utc_iso()}"  # marks each run of a task in its log

    def run(self) -> int:
        plan, lay, say = self.plan, self.plan.layout, self.say
        if plan.shards:
            self.array("shard", plan.shards, plan.shard_commands(), lambda k: ShardSpec(k, plan.shards).tag)
            say(f"submitted {plan.shards} shard task(s); each runs prereqs and corpus into {lay.shards}/")
            self.wait_all("shard")  # a rerun redoes only the failed shards: the others have finished
        result = None
        if union := plan.union_commands():  # the merge must succeed; the run ends 0 (PROMOTE) or 1 (HOLD): a verdict
            result = self.single("union", union, plan.ok_codes(union), union_said(plan),
                                 None if plan.merges or plan.train_tasks else self.memory("union task", GATHERED))
        if t := plan.train_tasks:  # both said, and refused where no node offers them, before any training starts
            from kit.model.cost import TRAINING_TASK

            need, gathered = self.memory("training task", (TRAINING_TASK,)), self.memory("gather task", GATHERED)
            self.array("training task", t, [plan.train_command("auto")], lambda k: f"train-task{k}of{t}", need)
            say(f"submitted {t} training task(s) on the union; task K trains share K/{t} of LOSO's members into "
                f"{lay.union_out}")
            self.wait_all("training task")  # the others' members are kept: a rerun trains the rest
            gather = plan.gather_commands()
            result = self.single("gather", gather, plan.ok_codes(gather),
                                 f"every training task is done; the gather task runs LOSO, verdict and bundle in "
                                 f"{lay.union_out}, each step in a process of its own", gathered)
        assert result is not None  # a union task, a gather, or both
        verdict = "PROMOTE" if result.codes[-1] == 0 else "HOLD"
        again = f"; Ray ran {len(self.again)} task(s) again after losing its worker or node ({', '.join(self.again)})" \
                ", each resuming from what its first run finished: the same result" if self.again else ""
        say(f"{result.name} done on {result.node}: exit {result.codes[-1]} ({verdict}){again}")
        return result.codes[-1]

    def submit(self, name: str, commands: list[list[str]], env: dict[str, str], log: str,
               ok_codes: list[tuple[int, ...]], memory: int | None = None) -> Any:
        """A task; `memory` (bytes) reserved for it where known, so Ray places it on a node that has it free."""
        task = self.task if memory is None else self.task.options(memory=memory)
        return task.remote(name, commands, env, str(self.plan.layout.logs / f"{log}.log"), ok_codes, self.id)

    def array(self, what: str, n: int, commands: list[list[str]], log: Callable[[int], str],
              memory: int | None = None) -> None:
        """`n` tasks that each run `commands`, task K placed by KIT_ARRAY_TASK=K/N, its log <logs>/<log(K)>.log."""
        self.refs = {self.submit(f"{what} {k}/{n}", commands, {**task_env(self.plan), KIT_ARRAY_TASK: f"{k}/{n}"},
                                 log(k), [(0,)] * len(commands), memory): f"{what} {k}/{n}" for k in range(1, n + 1)}

    def memory(self, task: str, steps: Sequence[str]) -> int | None:
        """The largest peak of `steps` on the union (kit.model.cost, from the rows its footer declares), said, and
        reserved by each `task` that runs them in turn; refused before any training task starts where no node of the
        cluster offers it (not an out-of-memory kill hours in). None where the union is not there yet (merged by the
        task that trains too, whose LOSO checks its node's memory at its start)."""
        from kit.infra.parquet import parquet_rows
        from kit.infra.resources import size_text
        from kit.model.cost import largest_peak, step_label

        if not (corpus := self.plan.union_corpus).is_file():
            return None
        rows = parquet_rows(corpus)
        step, need = largest_peak(steps, rows)
        what = step_label(step, first=True)
        largest = f", the largest of its {len(steps)} steps" if len(steps) > 1 else ""
        said = f"{what} on the union's {rows:,} rows needs about {size_text(need)} of memory in each {task}{largest}"
        offered = largest_offer(self.ray.nodes())
        if offered is not None and need > offered:
            raise ResourceLimit(f"{said}; the largest node of this Ray cluster offers its tasks {size_text(offered)}",
                                hint="add a node with more memory to the cluster (`ray start --address HEAD:6379` on "
                                     "it), or train on fewer rows (merge fewer boxes' corpora); no training task was "
                                     "submitted, and what ran before (the shards, the union) is kept")
        self.say(f"{said}; each reserves it{f' (the largest node offers {size_text(offered)})' if offered else ''}")
        return need

    def single(self, name: str, commands: list[list[str]], ok_codes: list[tuple[int, ...]], said: str,
               memory: int | None = None) -> TaskResult:
        """One task (the union, the gather), its log <logs>/<name>.log; its failure is the error."""
        self.refs = {self.submit(name, commands, task_env(self.plan), name, ok_codes, memory): name}
        self.say(said)
        ref = next(iter(self.refs))
        while not _slice(self.ray, [ref])[0]:  # hours of training: a stop ends the wait
            pass
        result = self.result(ref)
        _check(result)
        return result

    def wait_all(self, what: str) -> None:
        """Wait for every task of an array, saying each one's end; then the first that failed is the error."""
        pending, started, failed = list(self.refs), time.monotonic(), []
        while pending:
            done, pending = _slice(self.ray, pending)
            if not done:
                continue
            result = self.result(done[0])
            what_failed = " ".join(result.failed[len(self.plan.kit):][:2]) or " ".join(result.failed)  # step prereqs
            state = f"FAILED in {what_failed} (exit {result.codes[-1]})" if result.failed else "done"
            self.say(f"{result.name} {state} on {result.node} after {time.monotonic() - started:.0f} s "
                     f"({len(self.refs) - len(pending)} of {len(self.refs)})")
            if result.failed:
                failed.append(result)
        if failed:
            _check(failed[0], f" ({len(failed) - 1} more {what}(s) failed too)" if len(failed) > 1 else "")

    def result(self, ref: Any) -> TaskResult:
        """A task's result, a run of it Ray made again noted; a task Ray itself lost (its node died, the kit not
        importable there) a failed one naming why."""
        name = self.refs[ref]
        try:
            result: TaskResult = self.ray.get(ref, timeout=0)  # a task ray.wait found done
        except self.ray.exceptions.RayError as exc:
            return TaskResult(name, (-1,), ("(the task itself)",), f"{type(exc).__name__}: {exc}"[-2000:],
                              "(unknown node)")
        if result.attempt > 1:
            self.again.append(name)
            self.say(f"{name}: Ray ran it {result.attempt} times, its worker or node lost before (Ray's own retry); "
                     "the last run resumed from what the earlier finished")
        return result

    def cancel(self) -> None:
        """Each task queued or running cancelled (Ray stops its worker's kit command), given 30 s to end; said in the
        stop's one sentence."""
        ray, refs = self.ray, list(self.refs)
        pending = ray.wait(refs, num_returns=len(refs), timeout=0)[1] if refs else []
        for ref in pending:
            ray.cancel(ref, force=False)
        if pending:
            ray.wait(pending, num_returns=len(pending), timeout=30.0)
        interrupts.stopped_elsewhere(f"{len(pending)} Ray task(s) stopped, queued or running, each with the kit "
                                     "command it ran")


def largest_offer(nodes: list[dict[str, Any]]) -> int | None:
    """The most memory one live node of the cluster offers its tasks (Ray's `memory` resource, in bytes); None where
    none says."""
    offers = [int(node.get("Resources", {}).get("memory", 0)) for node in nodes if node.get("Alive")]
    return max(offers) if any(offers) else None


def union_said(plan: ClusterPlan) -> str:
    """What the union task does, as the driver says it when it submits it."""
    lay, inputs = plan.layout, plan.inputs
    then = f"into {lay.union_corpus}" if plan.train_tasks else f"and trains in {lay.union_out}"
    if not inputs:
        return f"every shard is done; the union task merges them {then}"
    if plan.merges:
        return f"the union task merges the {len(inputs)} input(s) given {then}"
    return f"the union task trains on {plan.union_corpus} in {lay.union_out}"


def _slice(ray: Any, pending: list[Any]) -> tuple[list[Any], list[Any]]:
    """One slice of a wait for the first of `pending` to end (done, still pending), under the kit's handlers (Ray's
    SIGTERM one, sys.exit(15), came back once mid-run); a stop signal is raised after it."""
    interrupts.install()
    done, pending = ray.wait(pending, num_returns=1, timeout=interrupts.MAIN_WAIT_S)
    interrupts.check()
    return done, pending


def _check(result: TaskResult, more: str = "") -> None:
    if result.failed:
        raise ToolError(f"{result.name} failed on {result.node}: {shell_join(result.failed)} (exit "
                        f"{result.codes[-1]}){more}",
                        hint="see its log under the ray/logs/ folder and the step log it names; fix the cause and "
                             "run the same command again: finished shards and steps are skipped",
                        stderr_tail=result.tail)
