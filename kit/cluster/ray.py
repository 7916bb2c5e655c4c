"""The pipeline on a Ray cluster (kit.cluster.plan; docs/cluster.md, "Ray"): `ensemble-kit ray` is the driver, each
shard, the union, each training task, the gather a Ray task running the plan's commands, logs in <root>/ray/logs."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit.cluster.plan import ClusterPlan, task_env
from kit.corpus.split import ShardSpec
from kit.errors import PrereqError, ToolError
from kit.infra import interrupts, outside, perms, scratch
from kit.infra.arrays import KIT_ARRAY_TASK
from kit.infra.host import group_shared_from_env
from kit.infra.invocation import shell_join
from kit.infra.tree import Rules, Tree

TASK_TIMEOUT_S = 7 * 86400.0  # a shard of thousands of clips takes hours; a hung task still ends
CONNECT_TIMEOUT_S = 30  # a wrong address fails after this instead of Ray's own minutes of retries
RETRIES = 2  # a task whose worker or node died runs again (the kit's commands resume); a failed command does not
INSTALL_HINT = "install the optional extra: pip install 'ensemble-kit[ray]' (or pip install ray==2.60.0)"


@dataclass(frozen=True)
class TaskResult:
    name: str
    codes: tuple[int, ...]
    failed: tuple[str, ...] = ()  # the command that failed; () when all succeeded
    tail: str = ""
    node: str = ""


def run_commands(name: str, commands: Sequence[Sequence[str]], env: dict[str, str], log: str,
                 ok_codes: Sequence[tuple[int, ...]]) -> TaskResult:
    """A Ray task's body: the commands in order into `log`, up to the first whose exit code is not in its `ok_codes`."""
    import platform

    from kit.infra.proc import run_process, tail_lines

    codes: list[int] = []
    path = Path(log)
    with Tree.open(path.parent, Rules(group_shared=group_shared_from_env()), make=False,
                   label="the cluster's log folder") as tree:
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
                return TaskResult(name, tuple(codes), tuple(argv), tail_lines(tail, 8), platform.node())
    return TaskResult(name, tuple(codes), node=platform.node())


def connect(ray: Any, address: str | None) -> str:
    """Join the cluster at `address` (or RAY_ADDRESS), else the one `ray start` made on this machine where it answers,
    else start a local one for this command: a line saying which; exit 2 naming one that cannot be joined (`auto`:
    where no `ray start` cluster answers). Never another command's local cluster (Ray's own "auto" joins any
    running on the machine, and it ends with its command), nor one `ray start` left word of that no longer answers
    (Ray would retry it for minutes). The kit's signal handlers outlive ray.init's; a SIGTERM that came while Ray's
    stood (sys.exit(15)) is the kit's stop, and any stop before the tasks are submitted shuts Ray down."""
    try:
        said = _join(ray, address or os.environ.get("RAY_ADDRESS") or "")
        interrupts.install()
        interrupts.check()  # a stop that came while Ray started: before any task is submitted
        return said
    except SystemExit as exc:  # a SIGTERM during ray.init, which Ray's handler (set there) made sys.exit(15)
        _shut(ray)
        interrupts.caught_for_us(exc)
    except BaseException:
        _shut(ray)
        raise


def _shut(ray: Any) -> None:
    """Ray shut down after a stop or a failure while it started (its processes also end with the kit's: they share
    its fate), under the kit's handlers."""
    interrupts.install()
    with contextlib.suppress(Exception):
        ray.shutdown()


def _join(ray: Any, given: str) -> str:
    """ray.init for connect(): the cluster `given`, else `ray start`'s, else a local one; the line saying which."""
    joining, asked = given or "on this machine", False
    try:
        if given and given != "auto":
            if not given.startswith("ray://"):
                answers(given)
            asked = True
            ray.init(address=given, log_to_driver=False)
            return f"connected to the Ray cluster at {given}"
        # Ray's folder as Ray chooses it for this user (RAY_TMPDIR, else TMPDIR on Linux, else /tmp), not the
        # command's private one (kit.infra.scratch): where `ray start` wrote, and short enough for the sockets of a
        # session (107 characters)
        folder = ray_folder()
        os.environ["RAY_TMPDIR"] = str(folder)
        left, unused = ray_start_address(folder)
        if left:
            try:
                answers(left)
            except (OSError, ValueError) as exc:
                unused = f"`ray start`'s cluster at {left} does not answer ({exc}; `ray stop` forgets it)"
            else:
                joining = f"`ray start` made at {left}"
                found_by_ray()
                ray.init(address=left, log_to_driver=False)  # the address read, not the file again: it may change
                return f"connected to the Ray cluster `ray start` made on this machine, at {left}"
        if given == "auto":
            raise PrereqError(f"RAY_ADDRESS or --address is auto, and no Ray cluster `ray start` made on this machine "
                              f"answers{': ' + unused if unused else ''}",
                              hint="start one (`ray start --head`), give its address (--address HOST:6379; "
                                   f"{TOKEN}), or unset RAY_ADDRESS to let the command start its own")
        ray.init(address="local", include_dashboard=False, log_to_driver=False)
        return "started a local Ray cluster on this machine for this command" + (f" ({unused})" if unused else "")
    except (OSError, ValueError, RuntimeError, ray.exceptions.RayError) as exc:
        # Ray sends its token to a cluster it found itself, never to an address given
        token = f"; {TOKEN}" if asked and not given.startswith("ray://") and not os.environ.get("RAY_AUTH_MODE") else ""
        raise PrereqError(f"cannot join the Ray cluster {joining}: {exc}",
                          hint="check the address (ray://HEAD:10001 for a remote head, HOST:6379 on a cluster "
                               "node; `ray status` on the head tells both) and that this machine reaches it; "
                               "for ray:// the extra must be installed whole: pip install 'ensemble-kit[ray]'"
                               + token) from None


TOKEN = ("a cluster that asks for a token (`ray start` does where ~/.ray/auth_token exists) is joined by its "
         "address with RAY_AUTH_MODE=token exported")


def found_by_ray() -> None:
    """Ray's token sent to the `ray start` cluster the kit found, as Ray sends it to a cluster it finds itself (its
    own rule for an address given is never)."""
    with contextlib.suppress(ImportError, AttributeError):
        from ray._private.authentication import authentication_token_setup as tokens

        tokens.maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


def answers(address: str) -> None:
    """A TCP connection to HOST:PORT ([V6]:PORT) within CONNECT_TIMEOUT_S, or the error (Ray would retry a dead one
    for minutes)."""
    host, _, port = address.rpartition(":")
    if not port.isdigit():
        raise ValueError(f"{address!r} is not HOST:PORT")
    socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=CONNECT_TIMEOUT_S).close()


def ray_folder() -> Path:
    """The folder Ray keeps its clusters' files in for this user, as Ray chooses it, from the variables as the user
    started the kit: RAY_TMPDIR, else TMPDIR on Linux, else /tmp (macOS's TMPDIR would make its socket paths too
    long), else the system's."""
    given = os.environ.get("RAY_TMPDIR") or (scratch.started_value("TMPDIR") if sys.platform == "linux" else None)
    if given:
        return Path(given)
    return Path("/tmp") if sys.platform in ("linux", "darwin") else scratch.user_temp_folder()


def ray_start_address(folder: Path) -> tuple[str, str]:
    """The address `ray start` wrote in `folder` (Ray's file ray/ray_current_cluster), "" where none; and why a file
    there is not taken: Ray's folder is open to every user, so only a regular file of this user's (or root's), of one
    name, that no one else may write is (kit.infra.perms.file_problem, the rule for a file the kit trusts)."""
    path = folder / "ray" / "ray_current_cluster"
    try:
        with outside.open_for_reading(path) as fh:  # judged and read through one descriptor
            st = os.fstat(fh.fileno())
            if os.name == "posix" and (why := perms.file_problem(st, st.st_uid if st.st_uid == 0 else perms.euid())):
                return "", f"{path} {why}: not taken (`chmod go-w` it if it is yours, or give --address)"
            return fh.read(256).decode("utf-8", errors="replace").strip(), ""
    except FileNotFoundError:
        return "", ""
    except OSError as exc:
        return "", f"{path} cannot be read ({exc}): not taken"


def run_plan(plan: ClusterPlan, address: str | None, cpus_per_task: float, say: Callable[[str], None]) -> int:
    """Every shard task, then the union task, on Ray; the union run's exit code (0 PROMOTE, 1 HOLD)."""
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
        tree.write_json(lay.own / "plan.json", {"shards": plan.shards, "shard_commands": plan.shard_commands(),
                                                "union_commands": plan.union_commands(), **split,
                                                "env": dict(plan.env)})
    say(connect(ray, address))
    task = ray.remote(num_cpus=cpus_per_task, max_retries=RETRIES)(run_commands)
    refs: dict[Any, str] = {}

    def single(name: str, commands: list[list[str]], ok_codes: list[tuple[int, ...]], said: str) -> TaskResult:
        """One task (the union, the gather), its log <logs>/<name>.log; its failure is the error."""
        nonlocal refs
        refs = {task.remote(name, commands, task_env(plan), str(lay.logs / f"{name}.log"), ok_codes): name}
        say(said)
        result = _result(ray, _wait_one(ray, next(iter(refs))), name)
        _check(result)
        return result

    try:
        refs = _array(task, plan, "shard", plan.shards, plan.shard_commands(), lambda k: ShardSpec(k, plan.shards).tag)
        say(f"submitted {plan.shards} shard task(s); each runs prereqs and corpus into {lay.shards}/")
        _wait_all(ray, refs, say, plan, "shard")  # a rerun redoes only the failed shards: the others have finished
        # the merge must succeed; the run ends 0 (PROMOTE) or 1 (HOLD), both a verdict
        then = f"into {lay.union_corpus}" if plan.train_tasks else f"and trains in {lay.union_out}"
        result = single("union", plan.union_commands(), [(0,), (0, 1)][:len(plan.union_commands())],
                        f"every shard is done; the union task merges them {then}")
        if plan.train_tasks:
            t = plan.train_tasks
            refs = _array(task, plan, "training task", t, [plan.train_command("auto")], lambda k: f"train-task{k}of{t}")
            say(f"submitted {t} training task(s); task K trains share K/{t} of LOSO's members into {lay.union_out}")
            _wait_all(ray, refs, say, plan, "training task")  # the others' members are kept: a rerun trains the rest
            result = single("gather", plan.gather_commands(), [(0, 1)],
                            f"every training task is done; the gather task runs LOSO, verdict and bundle in "
                            f"{lay.union_out}")
        verdict = "PROMOTE" if result.codes[-1] == 0 else "HOLD"
        say(f"{result.name} done on {result.node}: exit {result.codes[-1]} ({verdict})")
        return result.codes[-1]
    except KeyboardInterrupt:  # each task queued or running cancelled (its kit command killed), given 30 s to end
        pending = ray.wait(list(refs), num_returns=len(refs), timeout=0)[1] if refs else []
        for ref in pending:
            ray.cancel(ref, force=False)
        if pending:
            ray.wait(pending, num_returns=len(pending), timeout=30.0)
        say(f"interrupted: {len(pending)} task(s) stopped, queued or running, each ending the kit command it ran "
            "(finished shards and steps are kept)")
        raise
    finally:
        ray.shutdown()


def _array(task: Any, plan: ClusterPlan, what: str, n: int, commands: list[list[str]],
           log: Callable[[int], str]) -> dict[Any, str]:
    """`n` tasks that each run `commands`, task K placed by KIT_ARRAY_TASK=K/N, its output in <logs>/<log(K)>.log."""
    return {task.remote(f"{what} {k}/{n}", commands, {**task_env(plan), KIT_ARRAY_TASK: f"{k}/{n}"},
                        str(plan.layout.logs / f"{log(k)}.log"), [(0,)] * len(commands)): f"{what} {k}/{n}"
            for k in range(1, n + 1)}


def _wait_all(ray: Any, refs: dict[Any, str], say: Callable[[str], None], plan: ClusterPlan, what: str) -> None:
    """Wait for every task of an array, saying each one's end; then the first that failed is the error."""
    pending, started, failed = list(refs), time.monotonic(), []
    while pending:
        done, pending = _slice(ray, pending)
        if not done:
            continue
        result = _result(ray, done[0], refs[done[0]])
        what_failed = " ".join(result.failed[len(plan.kit):][:2]) or " ".join(result.failed)  # "step prereqs"
        state = f"FAILED in {what_failed} (exit {result.codes[-1]})" if result.failed else "done"
        say(f"{result.name} {state} on {result.node} after {time.monotonic() - started:.0f} s "
            f"({len(refs) - len(pending)} of {len(refs)})")
        if result.failed:
            failed.append(result)
    if failed:
        _check(failed[0], f" ({len(failed) - 1} more {what}(s) failed too)" if len(failed) > 1 else "")


def _wait_one(ray: Any, ref: Any) -> Any:
    """Wait for one task (the union, the gather: hours of training) in slices, as _wait_all does, so that a stop ends
    the wait; the task's ref, done."""
    while not _slice(ray, [ref])[0]:
        pass
    return ref


def _slice(ray: Any, pending: list[Any]) -> tuple[list[Any], list[Any]]:
    """One slice of a wait for the first of `pending` to end (done, still pending), under the kit's handlers (Ray's
    SIGTERM one, sys.exit(15), came back once mid-run); a stop signal is raised after it."""
    interrupts.install()
    done, pending = ray.wait(pending, num_returns=1, timeout=interrupts.MAIN_WAIT_S)
    interrupts.check()
    return done, pending


def _result(ray: Any, ref: Any, name: str) -> TaskResult:
    """A task's result; a task Ray itself lost (its node died, the kit not importable there) a failed one naming why."""
    try:
        return ray.get(ref, timeout=0)  # a task ray.wait found done
    except ray.exceptions.RayError as exc:
        return TaskResult(name, (-1,), ("(the task itself)",), f"{type(exc).__name__}: {exc}"[-2000:],
                          "(unknown node)")


def _check(result: TaskResult, more: str = "") -> None:
    if result.failed:
        raise ToolError(f"{result.name} failed on {result.node}: {shell_join(result.failed)} (exit "
                        f"{result.codes[-1]}){more}",
                        hint="see its log under the ray/logs/ folder and the step log it names; fix the cause and "
                             "run the same command again: finished shards and steps are skipped",
                        stderr_tail=result.tail)
