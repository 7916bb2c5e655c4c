"""`ensemble-kit slurm` on a real single-node Slurm started by the test: a 3-task array job of shards, the union
job (the merge), a 2-task array training LOSO's members (--train-tasks 2) and the gather job, end with the corpus,
verdict and figures of one local run on the same clips, its folds, predictions and ONNX models byte for byte. Then
a requeued array task and the jobs after it, submitted again, redo nothing.

Needs Debian's slurm-wlm and munge (`.ci/run` installs them) and root (munged runs as the munge user,
slurmd as root); skips and says why where either is missing or the daemons do not come up, and fails instead in CI
(tests/conftest.cannot_run_here), which can run them. The daemons run in the foreground under the test, with a key,
socket, state and ports of their own, in a folder the munge user can enter whatever TMPDIR is (a private 0700 one
kept munged out, and the tests skipped), and are stopped by pid at the end; nothing under /etc is touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import onnx as onnx_model
import pandas as pd
import pytest

from kit.verdict.document import NOTHING_TO_SEND, SEND_BACK
from tests import pace
from tests.conftest import FAST, LENIENT, TINY_SOURCES, assert_same_predictions, cannot_run_here, run_kit

pytestmark = pytest.mark.slow

PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "sinfo", "runuser")
JOB_TIMEOUT_S = 420.0
# what differs between two runs of the same rows: a measurement, and who encoded them
NOT_CONTENT = ("enc_time_ms", "box_id")
KEY = ["src_sha256", "encoder", "preset", "cq", "frame_index", "device"]
FLAGS = ["--encoders", "libx264", *FAST, *LENIENT]


@dataclass
class Cluster:
    folder: Path
    env: dict[str, str]
    procs: list[subprocess.Popen[bytes]]

    def cmd(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return pace.run(list(args), env=self.env, capture_output=True, text=True, timeout=timeout)

    def job_state(self, job: str) -> str:
        res = self.cmd("scontrol", "show", "job", job)
        states = re.findall(r"JobState=(\S+)", res.stdout)
        return ",".join(sorted(set(states))) or f"unknown ({res.stderr.strip()})"

    def wait(self, *jobs: str, timeout: float = JOB_TIMEOUT_S) -> None:
        """Until none of `jobs` (array tasks included) is pending or running."""
        def done() -> bool:
            res = self.cmd("squeue", "-h", "-j", ",".join(jobs), "-o", "%i %T")
            return res.returncode == 0 and not res.stdout.strip()

        if not pace.until(done, timeout, poll_s=1):  # in the box's own time (tests/pace.py)
            pytest.fail(f"Slurm jobs {jobs} still queued after {timeout:.0f} s of the box's own time:\n"
                        + self.cmd("squeue").stdout + self.logs())

    def logs(self) -> str:
        return "\n".join(f"--- {p}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(self.folder.glob("*.log")))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(check: Callable[[], object], timeout: float, what: str, cluster: Cluster) -> None:
    """Until `check()` holds, in the box's own time; a daemon that ended or never answers cannot run here (a skip,
    or in CI a failure: cannot_run_here)."""
    if not pace.until(lambda: check() or any(p.poll() is not None for p in cluster.procs), timeout, poll_s=0.5) \
            or not check():
        cannot_run_here(f"a single-node Slurm could not be started here ({what}):\n{cluster.logs()}")


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in reversed(procs):  # slurmd, slurmctld, then munged: each by its own pid
        if proc.poll() is None:
            proc.terminate()
            try:
                pace.wait(proc, 20)
            except subprocess.TimeoutExpired:
                proc.kill()
                pace.wait(proc, 10)


@pytest.fixture(scope="module")
def slurm() -> Iterator[Cluster]:
    with single_node_slurm() as cluster:
        yield cluster


@contextlib.contextmanager
def single_node_slurm() -> Iterator[Cluster]:
    """munged, slurmctld and slurmd started, each in the foreground and stopped by pid at the end (the module's
    docstring); the folder removed."""
    missing = [p for p in PROGRAMS if shutil.which(p) is None]
    if missing:
        cannot_run_here(f"Slurm is not installed ({', '.join(missing)} not found): apt-get install -y slurm-wlm munge "
                    "(.ci/run does it)")
    if os.geteuid() != 0:
        cannot_run_here("starting munged (as the munge user) and slurmd needs root")
    # where munged, running as the munge user, can reach its key and socket: never under a TMPDIR it cannot enter
    # (a private 0700 one, as the kit's own hint tells a user to make), nor under pytest's 0700 tmp folder
    folder = Path(tempfile.mkdtemp(prefix="kit-slurm-", dir=reachable_folder(pwd.getpwnam("munge").pw_uid)))
    folder.chmod(0o755)
    key_dir, sock_dir = folder / "munge", folder / "run"
    for sub, mode in ((key_dir, 0o700), (sock_dir, 0o755)):
        sub.mkdir(mode=mode)
        shutil.chown(sub, "munge", "munge")
    key = key_dir / "munge.key"
    key.write_bytes(secrets.token_bytes(1024))
    shutil.chown(key, "munge", "munge")
    key.chmod(0o400)
    for sub in ("state", "spool"):
        (folder / sub).mkdir()
    host = socket.gethostname().split(".")[0]
    sock = sock_dir / "munge.socket"
    conf = folder / "slurm.conf"
    conf.write_text("\n".join([
        "ClusterName=kittest", f"SlurmctldHost={host}", "SlurmUser=root",
        f"SlurmctldPort={_free_port()}", f"SlurmdPort={_free_port()}",
        "AuthType=auth/munge", f"AuthInfo=socket={sock}", "CredType=cred/munge",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none", "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core", "MpiDefault=none", "ReturnToService=2",
        f"StateSaveLocation={folder / 'state'}", f"SlurmdSpoolDir={folder / 'spool'}",
        f"SlurmctldPidFile={folder / 'slurmctld.pid'}", f"SlurmdPidFile={folder / 'slurmd.pid'}",
        f"SlurmctldLogFile={folder / 'slurmctld.log'}", f"SlurmdLogFile={folder / 'slurmd.log'}",
        f"NodeName={host} CPUs={os.cpu_count() or 1} State=UNKNOWN",
        f"PartitionName=kit Nodes={host} Default=YES MaxTime=INFINITE State=UP", ""]))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    cluster = Cluster(folder, env, [])

    def start(argv: list[str], log: str) -> None:
        with open(folder / log, "wb") as fh:
            cluster.procs.append(subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=fh,
                                                  stderr=subprocess.STDOUT))

    try:
        start(["runuser", "-u", "munge", "--", "munged", "--foreground", f"--socket={sock}", f"--key-file={key}",
               f"--pid-file={sock_dir / 'munged.pid'}", f"--log-file={key_dir / 'munged.log'}",
               f"--seed-file={key_dir / 'munged.seed'}"], "munged.log")
        _wait_for(sock.exists, 20, "munged made no socket", cluster)
        start(["slurmctld", "-D", "-i"], "slurmctld.out.log")
        _wait_for(lambda: cluster.cmd("scontrol", "ping").returncode == 0, 30, "slurmctld does not answer", cluster)
        start(["slurmd", "-D"], "slurmd.out.log")
        _wait_for(lambda: cluster.cmd("sinfo", "-h", "-o", "%T").stdout.strip() == "idle", 60,
                  "the node never became idle", cluster)
        yield cluster
    finally:
        _stop(cluster.procs)
        shutil.rmtree(folder, ignore_errors=True)


def reachable_folder(uid: int) -> Path:
    """The first of the temporary folder, /var/tmp, /tmp and /run whose every folder from the root the user `uid` can
    enter (its own, or searchable by others): where another user's daemon may keep its files."""
    candidates = [Path(tempfile.gettempdir()), Path("/var/tmp"), Path("/tmp"), Path("/run")]

    def enterable(folder: Path) -> bool:
        for part in [folder.resolve(), *folder.resolve().parents]:
            st = part.stat()
            if not ((st.st_uid == uid and st.st_mode & 0o100) or st.st_mode & 0o001):
                return False
        return True

    found = next((c for c in candidates if c.is_dir() and enterable(c)), None)
    if found is None:
        cannot_run_here(f"no folder the munge user can enter among {', '.join(map(str, candidates))}")
    return found


def content(corpus: Path) -> pd.DataFrame:
    df = pd.read_parquet(corpus).drop(columns=list(NOT_CONTENT))
    return df.sort_values(KEY).reset_index(drop=True)


def loso_figures(out: Path, seed: int) -> dict[str, object]:
    report = json.loads((out / "03_loso" / f"loso_seed{seed}.json").read_text())
    return {k: v for k, v in report.items() if k != "corpus" and "seconds" not in k and "time" not in k}


def completed(out: Path, step: str) -> str:
    return str(json.loads((out / f"{step}" / "status.json").read_text())["completed_at_utc"])


@dataclass
class Submitted:
    """What `ensemble-kit slurm` submitted, all of it finished: its root folder, the array, union, training array
    and gather jobs, and what the command printed."""

    root: Path
    a: str
    u: str
    t: str
    g: str
    stdout: str


@pytest.fixture(scope="module")
def submitted(slurm: Cluster, tiny_refs: Path, tmp_path_factory: pytest.TempPathFactory) -> Submitted:
    started = time.monotonic()
    root = tmp_path_factory.mktemp("slurm") / "shared folder"  # a space: the scripts must quote every path
    res = run_kit("slurm", "--shards", "3", "--train-tasks", "2", "--ref-dir", tiny_refs, "--out-dir", root,
                  "--box-id", "cluster", "--job-name", "kit-test", *FLAGS, env=slurm.env)
    assert res.returncode == 0, res.stdout + res.stderr
    jobs = [re.search(rf"submitted {what} job (\d+)", res.stdout) for what in ("array", "union", "training array",
                                                                              "gather")]
    assert all(jobs), res.stdout
    a, u, t, g = (job[1] for job in jobs if job is not None)
    slurm.wait(a, u, t, g)
    print(f"array job and union job done {time.monotonic() - started:.0f} s after submission")
    return Submitted(root, a, u, t, g, res.stdout)


def test_array_and_union_jobs_match_a_local_run(slurm: Cluster, submitted: Submitted, x264_run: Path) -> None:
    root, a, u, t, g = submitted.root, submitted.a, submitted.u, submitted.t, submitted.g
    for name in ("array", "union", "train", "gather"):
        assert (root / "slurm" / f"{name}.sh").is_file()
    assert f"a failed training task K alone: sbatch --array=K {root / 'slurm' / 'train.sh'}" in " ".join(
        submitted.stdout.split()).replace("'", ""), submitted.stdout

    local = x264_run  # the session's one local run of the same flags on the same clips
    logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
                     for p in sorted((root / "slurm" / "logs").glob("*.out")))
    states = [slurm.job_state(job) for job in (f"{a}_1", u, f"{t}_1", f"{t}_2", g)]
    assert states == ["COMPLETED"] * 5, logs

    # each task encoded its own shard into its own folder, under its own box id
    shards = [root / "shards" / f"shard{k}of3" for k in (1, 2, 3)]
    union = root / "union"
    for k, shard in enumerate(shards, 1):
        manifest = json.loads((shard / "02_corpus" / "shard.manifest.json").read_text())
        assert manifest["shard"]["label"] == f"{k}/3", logs
        assert set(pd.read_parquet(shard / "02_corpus" / "shard.parquet")["box_id"]) == {f"cluster-shard{k}of3"}
    first = (root / "slurm" / "logs" / f"corpus-{a}_1.out").read_text()
    assert "--shard auto: Slurm array task 1 of 1..3, so shard 1/3: 2 of the reference set's 4 clips" in first, first
    # the union corpus holds exactly the local run's rows
    pd.testing.assert_frame_equal(content(root / "union.parquet"), content(local / "02_corpus" / "shard.parquet"))
    assert set(pd.read_parquet(root / "union.parquet")["src"]) == set(TINY_SOURCES)
    # the same verdict and the same figures, to the last bit: LOSO trains in the corpus's canonical row order
    # (kit.corpus.schema.ROW_ORDER), so a shard in its encode order and the union merged from three boxes
    # train the same models
    mine = json.loads((union / "04_verdict" / "PROMOTE.json").read_text())
    theirs = json.loads((local / "04_verdict" / "PROMOTE.json").read_text())
    assert mine["verdict"] == theirs["verdict"] == "PROMOTE"
    for key in ("gate", "per_fold", "worst_folds", "seeds", "baselines"):
        assert mine[key] == theirs[key], key
    # the same advice, but that the union's results are the lead's own: nothing to send
    kept = f"; {NOTHING_TO_SEND['lead']}"
    assert mine["recommendation"] == theirs["recommendation"].replace(f" and {SEND_BACK}", kept)
    for seed in (0, 1):
        assert loso_figures(union, seed) == loso_figures(local, seed)
    assert list((union / "05_bundle").glob("results-cluster-*.tar.gz"))
    # LOSO trained by two array tasks, gathered by a third job: the bytes of the one-node run
    for k in (1, 2):
        task_log = (root / "slurm" / "logs" / f"train-{t}_{k}.out").read_text()
        assert f"training task {k}/2 of LOSO's members" in task_log, task_log[-3000:]
    gathered = (root / "slurm" / "logs" / f"gather-{g}.out").read_text()
    assert re.search(r"members already trained \(of \d+: the ensemble.s \d+, the baselines. \d+\) in", gathered) and \
        "training the other" not in gathered, gathered[-3000:]
    onnx = sorted(p.relative_to(local) for p in (local / "05_bundle" / "exports").rglob("*.onnx"))
    assert onnx and onnx == sorted(p.relative_to(union) for p in (union / "05_bundle" / "exports").rglob("*.onnx"))
    rel = Path("03_loso/folds.parquet")
    assert (union / rel).read_bytes() == (local / rel).read_bytes(), rel
    assert_same_predictions(union / "03_loso/predictions.parquet", local / "03_loso/predictions.parquet")
    for rel in onnx:  # the graphs and weights; the metadata names each run's corpus (its rows' box ids differ)
        graphs = [onnx_model.load(str(run / rel)).graph.SerializeToString() for run in (union, local)]
        assert graphs[0] == graphs[1], rel


def test_a_requeued_task_and_the_jobs_after_it_again_redo_nothing(slurm: Cluster, submitted: Submitted) -> None:
    """A finished task run again (requeued) and the union, a training task and the gather run again do nothing
    new, as a finished run on one box run again does (tests/pipeline/test_pipeline.py)."""
    root, a = submitted.root, submitted.a
    shards, union = [root / "shards" / f"shard{k}of3" for k in (1, 2, 3)], root / "union"
    before = {s: completed(s, "02_corpus") for s in shards} | {union: completed(union, "04_verdict")}
    requeue = slurm.cmd("scontrol", "requeue", f"{a}_2")
    assert requeue.returncode == 0, requeue.stderr
    slurm.cmd("scontrol", "update", f"JobId={a}_2", "StartTime=now")  # a requeued job is held back 2 minutes
    # the union, task 2 of the training array alone, the gather: each after the one before, the union after the
    # requeued task (while that task holds its shard, the union refuses to merge it: "in use by a run")
    again: list[str] = []
    for script, extra in (("union.sh", []), ("train.sh", ["--array=2"]), ("gather.sh", [])):
        after = [f"--dependency=afterok:{again[-1] if again else f'{a}_2'}", "--kill-on-invalid-dep=yes"]
        sub = slurm.cmd("sbatch", "--parsable", *after, *extra, str(root / "slurm" / script))
        assert sub.returncode == 0, sub.stderr
        again.append(sub.stdout.strip().split(";")[0])
    one, retrained, gather = again
    slurm.wait(a, one, retrained, gather)
    assert slurm.job_state(f"{a}_2") == "COMPLETED"
    # a training task submitted alone (--array=2) is task 2 of 2, and finds LOSO complete
    lone = (root / "slurm" / "logs" / f"train-{retrained}_2.out").read_text()
    assert "task 2/2: LOSO is up to date" in lone, lone[-3000:]
    after = {s: completed(s, "02_corpus") for s in shards} | {union: completed(union, "04_verdict")}
    assert after == before
    task_log = (root / "slurm" / "logs" / f"corpus-{a}_2.out").read_text()
    assert "skipped: up to date" in task_log, task_log[-3000:]



def test_slurm_s_daemons_failing_are_the_kit_s_one_line(tiny_refs: Path, tmp_path: Path) -> None:
    """On a cluster of its own, each daemon stopped in turn (issue 98, item 6): a job the controller refuses, munge
    down, the controller down. Each is one line naming the cause (none of sbatch's lines under it), exit 2, and
    `retry:` where the same command again submits once the daemon is back; never exit 70. The words of more ways
    sbatch fails, from fakes: tests/unit/test_slurm.py."""
    with single_node_slurm() as cluster:
        def submit(name: str, *extra: str) -> tuple[str, bool]:
            out = tmp_path / name
            res = run_kit("slurm", "--shards", "2", "--ref-dir", tiny_refs, "--out-dir", out, *FLAGS, *extra,
                          env=cluster.env)
            said = res.stderr.splitlines()
            errors = [line for line in said if line.startswith("error: ")]
            assert res.returncode == 2 and len(errors) == 1, res.stderr
            assert not any(line.startswith("    | ") for line in said) and "Traceback" not in res.stderr, res.stderr
            assert (out / "slurm" / "array.sh").is_file()  # the scripts are kept
            return errors[0], any(line.startswith("retry: ") for line in said)

        array = tmp_path / "{}" / "slurm" / "array.sh"
        assert submit("refused", "--sbatch-arg=--partition=nope") == (
            f"error: Slurm refused {str(array).format('refused')}: 'Invalid partition name specified'", False)
        munged, slurmctld, _ = cluster.procs
        munged.terminate()
        pace.wait(munged, 20)
        error, retry = submit("munge")
        assert error.startswith(f"error: sbatch could not submit {str(array).format('munge')}: munge, Slurm's "
                                "authentication, is not running on this host") and retry, error
        slurmctld.terminate()
        pace.wait(slurmctld, 20)
        error, retry = submit("controller")
        assert error.startswith(f"error: sbatch could not submit {str(array).format('controller')}: the Slurm "
                                "controller (slurmctld) does not answer") and retry, error
