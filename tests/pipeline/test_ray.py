"""`ensemble-kit ray` on a real Ray cluster: a local one the command starts (no network), two shard tasks and the
union task on the tiny clips, or (`--corpus`) the union given, a box's results tarball, its training task's worker
killed mid-task; the union's verdict, figures and models equal one local run on the same clips; the same command
again redoes nothing; a failing shard is named, exit 2; an address where no Ray cluster answers, and a node that does
not register in Ray's own time, are the kit's one line, exit 2."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from kit.verdict.document import NOTHING_TO_SEND, SEND_BACK
from tests import pace
from tests.conftest import FAST, KIT, LENIENT, ROOT, alive, all_gone, assert_same_predictions, cannot_run_here, run_kit

pytestmark = pytest.mark.slow
if importlib.util.find_spec("ray") is None:
    cannot_run_here("Ray is an optional extra (pip install 'ensemble-kit[ray]'); `.ci/run` and `nox -s release` "
                    "install it", module=True)

FLAGS = ["--encoders", "libx264", *FAST, *LENIENT]


@contextlib.contextmanager
def ray_folder() -> Iterator[str]:
    """A Ray folder (RAY_TMPDIR) of the test's own, where no `ray start` wrote: short, since a session's socket paths
    must stay under 107 characters."""
    with tempfile.TemporaryDirectory(prefix="kr", dir="/tmp", ignore_cleanup_errors=True) as folder:
        yield folder


@pytest.fixture(scope="module")
def own_ray() -> Iterator[dict[str, str]]:
    """The environment of a driver that must start its own local cluster: no address, a Ray folder no `ray start`
    wrote in (one on this box would be joined)."""
    with ray_folder() as folder:
        yield {"RAY_ADDRESS": "", "RAY_TMPDIR": folder}


@pytest.fixture(scope="module")
def ray_run(tiny_refs: Path, x264_run: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """The union on Ray, and the session's one local run of the same flags (x264_run) it must equal; made while
    another command's local Ray cluster runs on the machine, with word of a `ray start` cluster in Ray's file (a port
    bound, not listening): without --address the command starts its own and joins neither."""
    root = tmp_path_factory.mktemp("ray") / "shared"
    with ray_folder() as own, ray_folder() as other, socket.socket() as gone:
        gone.bind(("127.0.0.1", 0))  # refused for as long as the run lasts, and no one else's meanwhile
        (Path(own) / "ray").mkdir()
        (Path(own) / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{gone.getsockname()[1]}")
        bystander = subprocess.Popen([sys.executable, "-c", "import ray, sys; ray.init(address='local', "
                                      "include_dashboard=False); print('up', flush=True); sys.stdin.read()"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, env={**os.environ, "RAY_TMPDIR": other, "RAY_ADDRESS": ""})
        try:
            assert bystander.stdout is not None and bystander.stdout.readline() == "up\n"
            res = run_kit("ray", "--shards", "2", "--train-tasks", "2", "--ref-dir", tiny_refs, "--out-dir", root,
                          "--box-id", "raybox", *FLAGS, env={"RAY_ADDRESS": "", "RAY_TMPDIR": own})
        finally:
            try:
                pace.communicate(bystander, 120)  # its stdin closed: it shuts its cluster down
            except subprocess.TimeoutExpired:
                bystander.kill()
                bystander.communicate()
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return root, x264_run, res.stderr


LOSO = ["--epochs", "3", "--batch-size", "64", "--seeds", "0,1", *LENIENT]  # FAST's that no corpus step reads


@pytest.fixture(scope="module")
def union_run(x264_run: Path, own_ray: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`ray --corpus` on box A's results tarball (the union task merges it), two training tasks, the worker of the
    first killed while its kit command trains (that command stopped first: it cannot finish before the kill)."""
    tarball = next((x264_run / "05_bundle").glob("results-*.tar.gz"))
    root = tmp_path_factory.mktemp("ray-union") / "shared"
    proc = subprocess.Popen([sys.executable, "-m", "kit", "ray", "--corpus", str(tarball), "--train-tasks", "2",
                             "--out-dir", str(root), "--box-id", "raybox", *LOSO], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **own_ray})
    log, command = root / "ray" / "logs" / "train-task1of2.log", 0
    while proc.poll() is None and not command:  # the task's kit command has read the union and starts its share
        if log.is_file() and "task 1/2: " in log.read_text(errors="replace"):
            command = next((pid for pid, argv, env in kit_commands() if "--train-task" in argv
                            and "KIT_ARRAY_TASK=1/2" in env), 0)
        time.sleep(0.05)
    if command:
        os.kill(command, signal.SIGSTOP)
        os.kill(parent(command), signal.SIGKILL)  # the Ray worker running the task
    _, err = pace.communicate(proc, 1800)
    assert command and proc.returncode == 0, err[-3000:]
    return root, err


def test_the_union_given_on_ray_is_the_run_on_one_box(union_run: tuple[Path, str], x264_run: Path) -> None:
    """Box A's tarball as the union (merged by the union task): the verdict, every gate's figure and the members equal
    box A's own run; the training task whose worker was killed ran again and says so, the result the same."""
    root, err = union_run
    assert "the union task merges the 1 input(s) given into" in err and "gather done" in err, err[-3000:]
    assert "training task 1/2: Ray ran it 2 times, its worker or node lost before" in err, err[-3000:]
    assert "exit 0 (PROMOTE); Ray ran 1 task(s) again after losing its worker or node (training task 1/2)" in err
    assert "shard" not in " ".join(ln for ln in err.splitlines() if ln.startswith("submitted"))
    union, alone = verdict(root / "union"), verdict(x264_run)
    for key in ("verdict", "gate", "per_fold", "worst_folds", "seeds", "baselines"):
        assert union[key] == alone[key], key
    rel = "03_loso/folds.parquet"
    assert (root / "union" / rel).read_bytes() == (x264_run / rel).read_bytes(), rel
    assert_same_predictions(root / "union" / "03_loso/predictions.parquet", x264_run / "03_loso/predictions.parquet")
    assert sorted(p.name for p in (root / "ray" / "logs").iterdir()) == ["gather.log", "train-task1of2.log",
                                                                         "train-task2of2.log", "union.log"]
    assert (root / "ray" / "logs" / "train-task1of2.log").read_text().count("# training task 1/2, run by") == 2


def kit_commands() -> list[tuple[int, str, str]]:
    """Every process: its pid, its command line and its environment (of this user's processes)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            env = (entry / "environ").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found.append((int(entry.name), argv, env))
    return found


def parent(pid: int) -> int:
    text = (Path("/proc") / str(pid) / "stat").read_text()
    return int(text[text.rindex(")") + 2 :].split()[1])


def content(corpus: Path) -> pd.DataFrame:
    """A corpus's rows without what differs between boxes making the same rows (a timing, the box id)."""
    df = pd.read_parquet(corpus).drop(columns=["enc_time_ms", "box_id"])
    return df.sort_values(["src_sha256", "encoder", "cq", "frame_index"]).reset_index(drop=True)


def verdict(out: Path) -> dict[str, object]:
    return json.loads(next((out / "04_verdict").glob("PROMOTE.json")).read_text())


def test_the_union_on_ray_is_the_run_on_one_box(ray_run: tuple[Path, Path, str]) -> None:
    root, local, stderr = ray_run
    assert "started a local Ray cluster" in stderr and "shard 1/2 done" in stderr and "shard 2/2 done" in stderr
    assert "ray start" not in stderr and "ran it 2 times" not in stderr  # Ray's file is Ray's own: never read
    assert "gather done" in stderr and "exit 0 (PROMOTE)" in stderr
    # --train-tasks 2: the union task merged, two training tasks trained LOSO's members, the gather used them
    assert "training task 1/2 done" in stderr and "training task 2/2 done" in stderr and "gather done" in stderr
    for k in (1, 2):  # each task placed itself by KIT_ARRAY_TASK: its own half of the clips
        manifest = json.loads((root / "shards" / f"shard{k}of2" / "02_corpus" / "shard.manifest.json").read_text())
        assert manifest["shard"]["label"] == f"{k}/2" and manifest["box_id"] == f"raybox-shard{k}of2"
    # the union holds exactly the local run's rows (but for who encoded them), and trains the same figures
    pd.testing.assert_frame_equal(content(root / "union.parquet"), content(local / "02_corpus" / "shard.parquet"))
    union, alone = verdict(root / "union"), verdict(local)
    for key in ("verdict", "gate", "per_fold", "worst_folds", "seeds", "baselines"):
        assert union[key] == alone[key], key
    # the same advice, but that the union's results are the lead's own: nothing to send
    kept = f"; {NOTHING_TO_SEND['lead']}"
    assert union["recommendation"] == alone["recommendation"].replace(f" and {SEND_BACK}", kept)
    rel = "03_loso/folds.parquet"  # trained in two tasks, to the bit
    assert (root / "union" / rel).read_bytes() == (local / rel).read_bytes(), rel
    assert_same_predictions(root / "union" / "03_loso/predictions.parquet", local / "03_loso/predictions.parquet")
    logs = sorted(p.name for p in (root / "ray" / "logs").iterdir())
    assert logs == ["gather.log", "shard1of2.log", "shard2of2.log", "train-task1of2.log", "train-task2of2.log",
                    "union.log"]
    assert json.loads((root / "ray" / "plan.json").read_text())["shards"] == 2
    # the gather ran each step in a process of its own; the last, `run`, found LOSO and the verdict done
    gathered = (root / "ray" / "logs" / "gather.log").read_text()
    ran = [line.split(" --settings ")[0].split("__main__.py ")[1] for line in gathered.splitlines()
           if line.startswith("$ ")]
    assert ran == ["step loso", "step verdict", "run"] and gathered.count("(exit 0)") == 3, gathered[-3000:]
    last = gathered[gathered.rindex("$ "):]
    assert re.search(r"loso\W+skipped: up to date", last) and re.search(r"verdict\W+skipped: up to date", last), last


def test_the_same_command_again_redoes_nothing(ray_run: tuple[Path, Path, str], tiny_refs: Path,
                                               own_ray: dict[str, str]) -> None:
    root = ray_run[0]
    status = [root / "shards" / f"shard{k}of2" / "02_corpus" / "status.json" for k in (1, 2)]
    status.append(root / "union" / "04_verdict" / "status.json")
    before = {p: p.read_bytes() for p in status}
    res = run_kit("ray", "--shards", "2", "--train-tasks", "2", "--ref-dir", tiny_refs, "--out-dir", root, "--box-id",
                  "raybox", *FLAGS, env=own_ray)
    assert res.returncode == 0, res.stderr[-3000:]
    assert {p: p.read_bytes() for p in status} == before  # no step completed again
    log = (root / "ray" / "logs" / "shard1of2.log").read_text()
    assert log.count("skipped: up to date") == 2, log[-3000:]  # prereqs and corpus, the second time
    trained = (root / "ray" / "logs" / "train-task1of2.log").read_text()
    assert "task 1/2: LOSO is up to date" in trained, trained[-3000:]  # nothing trained again


def test_a_failing_shard_is_named_and_nothing_runs_after_it(tiny_refs: Path, tmp_path: Path,
                                                            own_ray: dict[str, str]) -> None:
    broken = tmp_path / "ffmpeg"
    broken.write_text("#!/bin/sh\necho 'this ffmpeg is broken' >&2\nexit 1\n")
    broken.chmod(broken.stat().st_mode | stat.S_IXUSR)
    res = run_kit("ray", "--shards", "2", "--ref-dir", tiny_refs, "--out-dir", tmp_path / "o", "--ffmpeg", broken,
                  *FLAGS, env={**own_ray, "PATH": os.environ["PATH"]})
    assert res.returncode == 2, res.stderr[-3000:]
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and "failed on" in errors[0] and "step prereqs" in errors[0], res.stderr[-3000:]
    assert "run the same command again" in res.stderr
    assert not (tmp_path / "o" / "union.parquet").exists() and not (tmp_path / "o" / "union").exists()


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stop_signal_stops_every_task_and_what_it_runs(tiny_refs: Path, tmp_path: Path, ffmpeg: str, signum: int,
                                                         code: int, own_ray: dict[str, str]) -> None:
    """Ctrl-C or SIGTERM to the driver interrupts each running task (Ray's own SIGTERM handler, which would just
    exit, is replaced by the kit's); the kit command a task runs ends with its ffmpegs; 128 + the signal."""
    slow = tmp_path / "slow-ffmpeg"  # encodes wait 60 s, so the tasks are caught in the middle
    slow.write_text(f"#!/bin/sh\ncase \"$*\" in *-version*|*-filters*|*-encoders*|*-hwaccels*|*testsrc2*|*' null '*) "
                    f"exec {ffmpeg} \"$@\";; esac\nsleep 60\nexec {ffmpeg} \"$@\"\n")
    slow.chmod(slow.stat().st_mode | stat.S_IXUSR)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "kit", "ray", "--shards", "2", "--ref-dir", str(tiny_refs),
                             "--out-dir", str(out), "--ffmpeg", str(slow), *FLAGS], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **own_ray})
    # a local Ray cluster starts, then each task's kit command: on a loaded box (the other worker in the kill
    # harness, dealt out at the same time) that took over 120 s once; each wait in the box's own time (tests/pace.py)
    assert pace.until(lambda: len(waiting(out)) >= 2, 300, poll_s=0.5), running(out)  # both inside a slow encode
    proc.send_signal(signum)
    _, err = pace.communicate(proc, 90)
    assert proc.returncode == code, err[-3000:]
    assert "\ninterrupted" in err and "(2 Ray task(s) stopped, queued or running, each with the kit command it ran)" \
        in err and "running process(es)" not in err and "resume with:" in err, err[-3000:]  # one stop, one sentence
    assert pace.until(lambda: running(out) == [], 2), running(out)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_stop_signal_while_ray_starts_is_the_kit_s_stop(tiny_refs: Path, tmp_path: Path, own_ray: dict[str, str],
                                                          signum: int, code: int) -> None:
    """Each stop signal while ray.init starts the local cluster (SIGTERM meets Ray's own handler there, which would
    end the command by sys.exit(15)): the kit's stop, 128 + the signal and its lines, before any task is submitted,
    and nothing of the cluster left running."""
    # KIT: a suite started under nohup would hand the kit an ignored SIGHUP, which it rightly keeps ignoring
    proc = subprocess.Popen([*KIT, "ray", "--shards", "2", "--ref-dir", str(tiny_refs),
                             "--out-dir", str(tmp_path / "out"), *FLAGS], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **own_ray})
    # Ray's first process: ray.init has begun, and runs for seconds more (raylet, the node)
    pace.until(lambda: "gcs_server" in children(proc.pid).values(), 120)
    started = children(proc.pid)
    if "gcs_server" not in started.values():
        proc.kill()
        pytest.fail(f"no Ray process started: {started}; {proc.communicate()[1][-3000:]}")
    proc.send_signal(signum)
    _, err = pace.communicate(proc, 90)
    assert "started a local Ray cluster" not in err, err[-2000:]  # the signal came while ray.init ran
    assert proc.returncode == code, err[-3000:]
    assert "\ninterrupted" in err and "resume with:" in err and "submitted" not in err
    # Ray's processes end with the driver (they share its fate), each in its time
    assert all_gone(started, within_s=30), [pid for pid in started if alive(pid)]


JOIN = "import ray, sys; from kit.cluster.ray import connect; print(connect(ray, sys.argv[1])); ray.shutdown()"


def test_the_cluster_ray_start_made_is_joined_by_auto_or_its_address(tiny_refs: Path, tmp_path: Path) -> None:
    """A cluster `ray start` made on this machine, asking for a token, is joined by Ray's own `auto` (Ray finds it and
    sends the token), by its address only with RAY_AUTH_MODE=token: without it, Ray's own error and the kit's hint
    saying so, exit 2; and never without --address (the command starts its own)."""
    home = tmp_path / "home"  # a token of the test's own, not the user's ~/.ray/auth_token
    home.mkdir()
    ray_cli = str(Path(sys.executable).parent / "ray")
    with ray_folder() as folder, socket.socket() as free:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_TMPDIR": folder, "RAY_ADDRESS": "", "HOME": str(home)}
        env.pop("RAY_AUTH_MODE", None)
        pace.run([ray_cli, "get-auth-token", "--generate"], env=env, capture_output=True, check=True, timeout=60)
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
        free.close()
        head = subprocess.Popen([ray_cli, "start", "--head", f"--port={port}", "--include-dashboard=false",
                                 "--num-cpus=1", "--block"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        try:
            word = Path(folder) / "ray" / "ray_current_cluster"
            pace.until(lambda: word.exists() or head.poll() is not None, 120, poll_s=0.2)
            assert word.exists(), head.stderr.read() if head.poll() is not None and head.stderr else "no word"
            address = word.read_text().strip()
            res = pace.run([sys.executable, "-c", JOIN, "auto"], cwd=ROOT, capture_output=True, text=True, env=env,
                           timeout=180)
            assert "connected to the Ray cluster at auto" in res.stdout, res.stdout + res.stderr[-3000:]
            res = pace.run([sys.executable, "-c", JOIN, ""], cwd=ROOT, capture_output=True, text=True, env=env,
                           timeout=180)  # no address: a cluster of the command's own, not the `ray start` one
            assert "started a local Ray cluster on this machine for this command" in res.stdout, res.stderr[-3000:]
            # by its address Ray sends no token (its rule): exit 2 saying how, then joined as said
            res = run_kit("ray", "--shards", "2", "--ref-dir", tiny_refs, "--out-dir", tmp_path / "o", *FLAGS,
                          "--address", address, env={"RAY_TMPDIR": folder, "RAY_ADDRESS": "", "HOME": str(home)})
            assert res.returncode == 2 and f"error: cannot join the Ray cluster at {address}: " in res.stderr \
                and "joined by its address with RAY_AUTH_MODE=token exported" in res.stderr, res.stderr[-3000:]
            res = pace.run([sys.executable, "-c", JOIN, address], cwd=ROOT, capture_output=True, text=True,
                           env={**env, "RAY_AUTH_MODE": "token"}, timeout=180)
            assert f"connected to the Ray cluster at {address}" in res.stdout, res.stderr[-3000:]
        finally:
            os.killpg(head.pid, signal.SIGTERM)  # `ray start --block` stops its node as it ends
            try:
                pace.communicate(head, 60)
            except subprocess.TimeoutExpired:
                os.killpg(head.pid, signal.SIGKILL)
                head.communicate()


def test_an_address_where_no_ray_cluster_answers_is_exit_2(x264_run: Path, tmp_path: Path) -> None:
    """A plain TCP listener (it answers, and is not Ray) and a port nothing listens on: each command ends with exit 2
    naming the address, at the 30 s docs/cluster.md gives (Ray itself retried the listener for 615 s, still waiting,
    before). Both run at once: one wait of it."""
    corpus = x264_run / "02_corpus" / "shard.parquet"
    with socket.socket() as listener, socket.socket() as silent:
        listener.bind(("127.0.0.1", 0))
        listener.listen()  # the handshake made by the kernel; nothing is ever said back
        silent.bind(("127.0.0.1", 0))  # bound, not listening: refused
        runs = {port: subprocess.Popen([sys.executable, "-m", "kit", "ray", "--corpus", str(corpus), "--out-dir",
                                        str(tmp_path / str(port)), "--address", f"127.0.0.1:{port}"], cwd=ROOT,
                                       text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       env={**os.environ, "PYTHONPATH": str(ROOT)})
                for port in (listener.getsockname()[1], silent.getsockname()[1])}
        ended = {port: pace.communicate(proc, 600) for port, proc in runs.items()}  # a hang's guard, not a bound
    for port, proc in runs.items():
        err = ended[port][1]
        assert proc.returncode == 2, err[-3000:]
        errors = [line for line in err.splitlines() if line.startswith("error: ")]
        assert errors == [f"error: no Ray cluster answered at 127.0.0.1:{port} within 30 s"], err[-3000:]
        assert "hint: check the address" in err and "Traceback" not in err


def test_a_ray_node_that_does_not_register_in_time_is_the_kit_s_line(x264_run: Path, tmp_path: Path,
                                                                   own_ray: dict[str, str]) -> None:
    """The local cluster's raylet stopped as soon as it starts (a box too loaded for it to register in Ray's own 30 s:
    Ray raises a bare Exception): the kit's one line and `retry:`, exit 2, never `internal error` (exit 70, before)."""
    proc = subprocess.Popen([sys.executable, "-m", "kit", "ray", "--corpus", str(x264_run / "02_corpus" /
                             "shard.parquet"), "--out-dir", str(tmp_path / "o")], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **own_ray})
    raylets: list[int] = []
    while proc.poll() is None and not raylets:
        raylets = [pid for pid, name in children(proc.pid).items() if name == "raylet"]
    for pid in raylets:
        os.kill(pid, signal.SIGSTOP)
    try:
        _, err = pace.communicate(proc, 600)
    finally:
        for pid in raylets:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert raylets, err[-3000:]
    assert proc.returncode == 2, err[-3000:]
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert errors == ["error: Ray's local cluster did not start on this machine: The current node timed out during "
                      "startup. This could happen because some of the raylet failed to startup or the GCS has become "
                      "overloaded."], err[-3000:]
    assert "\nretry: " in err and "internal error" not in err and "Traceback" not in err


def children(pid: int) -> dict[int, str]:
    """The processes whose parent is `pid`, by their names."""
    found = {}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat_file.read_text()
        except OSError:
            continue
        name, fields = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            found[int(stat_file.parent.name)] = name
    return found


def waiting(out: Path) -> list[str]:
    """The slow encodes waiting (each task's ffmpeg wrapper, not the driver or a task's kit command, which name the
    out-dir and the wrapper too)."""
    return [text for text in running(out) if text.split(" ", 1)[0] in ("/bin/sh", "sh")]


def running(out: Path) -> list[str]:
    """Every process whose command line names the out-dir (the kit commands and their encodes)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(out) in text and "slow-ffmpeg" in text:
            found.append(text)
    return found
