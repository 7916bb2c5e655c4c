"""Kill -9 at random instants, Ctrl-C, and resume: nothing lost, nothing duplicated.

The harness kills the real pipeline's whole process group at random instants
spread over a whole run (corpus, LOSO, bundle), checks that none of its ffmpeg
children (which lead groups of their own, ended by the kit's reaper) lives on,
reruns it, and checks the final rows, verdict and ONNX files equal those of an
uninterrupted run. SIGINT, SIGTERM and SIGHUP are sent the same way: each ends
the run with 128 + N and the resume line. The suite runs every test here at
TESTS_KILL_COUNT=1 instant by default; `nox -s release` (and `nox -s kill`) at 6;
set TESTS_KILL_COUNT=20 (or more) for a longer hunt (noxfile.py says which test runs
where). The instants are drawn anew in each session, so that CI's one
instant falls anywhere over the runs of many sessions; a failure names its
TESTS_KILL_SEED, and setting it draws the same instants again.

`merge` is killed the same way (random instants), and at the exact instants of its
commit through KIT_KILL_AT (kit.infra.faults): mid-extraction, mid-write, after the
commit is written down, and between its two renames.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from kit.corpus.commit import commit_journal, recover_output
from kit.infra.faults import KILL_ENV
from kit.infra.files import sha256_file
from kit.infra.tree import Tree
from kit.rundir import manifest_path
from tests import pace
from tests.conftest import FAST, KIT, LENIENT, ROOT, STOP_KEPT, processes_naming, run_kit
from tests.kitfiles import results_tarball, shard_table, write_shard

pytestmark = pytest.mark.slow  # whole runs of the pipeline

KILL_COUNT = int(os.environ.get("TESTS_KILL_COUNT", "1"))
KILL_SEED = int(os.environ.get("TESTS_KILL_SEED") or random.SystemRandom().randrange(2**32))
DRAWN = f"TESTS_KILL_SEED={KILL_SEED}"  # printed by each test: pytest shows it beside a failure
KEY = ["src_sha256", "encoder", "preset", "enc_pix_fmt", "cq", "frame_index", "device"]


def start(args: list[str | Path]) -> subprocess.Popen[str]:
    """The kit as the leader of its own process group, as a terminal would start it."""
    return subprocess.Popen([*KIT, *map(str, args)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def outcome(out: Path) -> tuple[pd.DataFrame, dict, dict[str, bytes]]:
    rows = pd.read_parquet(out / "02_corpus" / "shard.parquet").drop(columns=["enc_time_ms"])
    (verdict_path,) = [p for p in (out / "04_verdict").glob("*.json") if p.stem in ("PROMOTE", "HOLD")]
    verdict = json.loads(verdict_path.read_text())
    for volatile in ("generated_at_utc", "corpus", "provenance"):
        verdict.pop(volatile)
    # whole files: their metadata's corpus_sha256 hashes content, not the measured enc_time_ms
    models = {p.name: p.read_bytes() for p in sorted((out / "05_bundle" / "exports").glob("*.onnx"))}
    return rows, verdict, models


# the flags of the session's x264_run (tests/conftest.py): the uninterrupted run every resumed one must equal
X264_FLAGS: list[str | Path] = ["--box-id", "boxa", "--encoders", "libx264", *FAST, *LENIENT]


@pytest.fixture(scope="module")
def reference(tiny_refs: Path, x264_run: Path) -> tuple[list[str | Path], float, tuple]:
    """The flags, how long a whole run of them takes, and its outcome: the session's x264_run, made once and shared
    with the Ray, Slurm and merge tests (read only)."""
    args: list[str | Path] = ["run", "--ref-dir", tiny_refs, *X264_FLAGS]
    made = json.loads((x264_run / "run.json").read_text())["argv"][1:]
    assert made == [*map(str, args), "--out-dir", str(x264_run)], made  # the same flags: the same outcome
    # its span, from the first file it made (.lock) to the last it wrote, plus a kit process's start and closing
    # summary, which the span lacks: as long as `kit status` of it takes
    span = max(p.stat().st_mtime for p in x264_run.rglob("*")) - (x264_run / ".lock").stat().st_mtime
    begin = time.monotonic()
    status = run_kit("status", x264_run)
    assert status.returncode == 0, status.stdout + status.stderr
    return args, span + (time.monotonic() - begin), outcome(x264_run)


def killed(args: list[str | Path], out: Path, delay: float) -> tuple[subprocess.Popen[str], float]:
    """The run started in `out` and its group sent SIGKILL `delay` s in. A run that ended sooner (the reference's
    time is a guess: the kit's cache may hold its encodes) checks nothing: it is started again in a fresh `out`
    with the instant drawn anew within the time it took, at most 4 times."""
    for _ in range(4):
        begin = time.time()
        proc = start([*args, "--out-dir", out])
        time.sleep(delay)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return proc, delay
        took = max(p.stat().st_mtime for p in out.rglob("*")) - begin  # to the last file it wrote
        delay = random.Random(delay).uniform(0.3, max(0.4, 0.9 * took))
        shutil.rmtree(out)
    pytest.fail(f"the run ended before each of 4 kill instants, the last {delay:.2f} s: none checks anything")


def test_kill_9_at_random_instants_then_resume(reference: tuple, tmp_path: Path) -> None:
    args, full_s, expected = reference
    print(DRAWN)  # shown with a failure
    rng = random.Random(KILL_SEED)
    instants = sorted(rng.uniform(0.3, full_s * 0.95) for _ in range(KILL_COUNT))
    for i, delay in enumerate(instants):
        out = tmp_path / f"run{i}"
        proc, delay = killed(args, out, delay)
        # each limit in the box's own time (tests/pace.py): a busy runner is not a broken kit
        assert pace.until(lambda pid=proc.pid: not group_alive(pid), 5), f"kill at {delay:.2f} s left processes behind"
        # the ffmpegs lead groups of their own: the kit's reaper ends them (kit/infra/proc.py)
        assert pace.until(lambda at=out: not processes_naming(at), 5), \
            f"kill at {delay:.2f} s left {processes_naming(out)} running"
        res = run_kit(*args, "--out-dir", out)
        assert res.returncode == 0, f"rerun after a kill at {delay:.2f} s failed:\n{res.stdout}\n{res.stderr}"
        rows, verdict, models = outcome(out)
        exp_rows, exp_verdict, exp_models = expected
        assert not rows.duplicated(KEY).any()
        pd.testing.assert_frame_equal(rows, exp_rows)
        assert verdict == exp_verdict, f"kill at {delay:.2f} s"
        assert models == exp_models, f"kill at {delay:.2f} s"
        leftovers = [p for p in out.rglob("*") if p.name.startswith(".tmp-")]
        assert not leftovers, leftovers
        work = out / "02_corpus" / "work"
        assert not work.exists() or not any(work.iterdir()), list(work.iterdir())


STOP_SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]  # Ctrl-C, a scheduler's stop, a dropped ssh session


def test_stop_signals_at_random_instants_exit_128_plus_n_then_resume(reference: tuple, tmp_path: Path) -> None:
    """Each signal at instants spread over a whole run: exit 128 + N with the same two lines, or, once the run
    has printed its outcome, that outcome; the rerun ends with the uninterrupted run's rows, verdict, models."""
    args, full_s, expected = reference
    print(DRAWN)  # shown with a failure
    rng = random.Random(KILL_SEED + 1)
    instants = sorted(rng.uniform(0.3, full_s * 1.05) for _ in range(KILL_COUNT))
    for i, delay in enumerate(instants):
        sig = STOP_SIGNALS[i % len(STOP_SIGNALS)]
        out = tmp_path / f"run{i}"
        proc = start([*args, "--out-dir", out])
        time.sleep(delay)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)  # the kit's group, as a terminal or a scheduler sends it
        stdout, stderr = pace.communicate(proc, 120)
        label = f"{sig.name} at {delay:.2f} s"
        if proc.returncode == 0:  # the run had decided its outcome (PROMOTE) before the signal
            assert "check it here with" in stdout and "interrupted" not in stderr, label
        else:
            assert proc.returncode == 128 + sig, f"{label}: exit {proc.returncode}\n{stderr}"
            by = "" if sig == signal.SIGINT else f" by {sig.name}"
            assert re.search(rf"interrupted{by} \(\d+ running process\(es\) stopped\){STOP_KEPT}\.\n"
                             r"resume with: ", stderr), f"{label}\n{stderr}"
            assert "Traceback" not in stderr and "error:" not in stderr, f"{label}\n{stderr}"
        assert not processes_naming(out), label
        res = run_kit(*args, "--out-dir", out)
        assert res.returncode == 0, f"rerun after {label} failed:\n{res.stdout}\n{res.stderr}"
        rows, verdict, models = outcome(out)
        exp_rows, exp_verdict, exp_models = expected
        pd.testing.assert_frame_equal(rows, exp_rows)
        assert (verdict, models) == (exp_verdict, exp_models), label


# the real ffmpeg; while the test holds the file `slow`, a corpus job's ffmpeg is held back for a minute first
# (the wrapper says so in `slow.held`), so the one the test finds running is still running when the kit handles
# the Ctrl-C, however loaded the box (ffmpeg's own -re left a window of 0.32 s, missed on a busy CI machine)
SLOW_WRAPPER = """#!/bin/sh
case "$*" in *02_corpus*) if [ -e "{slow}" ]; then touch "{slow}.held"; sleep 60; fi ;; esac
exec "{ffmpeg}" "$@"
"""


def test_ctrl_c_stops_fast_kills_children_and_prints_the_resume_command(
        ffmpeg: str, tiny_refs: Path, tmp_path: Path) -> None:
    out, slow, wrapper = tmp_path / "out", tmp_path / "slow", tmp_path / "ffmpeg-wrapper.sh"
    wrapper.write_text(SLOW_WRAPPER.format(slow=slow, ffmpeg=ffmpeg))
    wrapper.chmod(0o755)
    args: list[str | Path] = ["run", "--ref-dir", tiny_refs, "--out-dir", out, "--ffmpeg", wrapper, *FAST,
                              "--cqs", "14,18,22,26,30,34,38,42", "--jobs", "1"]
    # the corpus step alone is interrupted and resumed: the steps after it add nothing to what is checked here (a
    # whole run resumed: the random instants above), and the printed resume command is this argv again either way
    prereqs = run_kit(*args, "--only", "prereqs")
    assert prereqs.returncode == 0, prereqs.stderr
    args += ["--only", "corpus"]
    proc = start(args)
    jobs = out / "02_corpus" / "jobs"
    try:
        # a finished job's ledger first, at full speed; then the ffmpegs started from now on are held back
        assert pace.until(lambda: jobs.is_dir() and list(jobs.glob("*.json")), 60), \
            "the corpus step never finished a job"
        slow.touch()
        held = slow.with_name("slow.held")
        assert pace.until(held.exists, 60) and processes_naming(out), "no corpus ffmpeg was held back"
    except BaseException:  # a run left behind would hold each ffmpeg back a minute
        slow.unlink(missing_ok=True)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    with pace.ticking() as clock:  # the stop's time as a quiet box counts it: a busy runner is not a slow kit
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C at a terminal does
        proc_out, stderr = pace.communicate(proc, 30)
        took, wall = clock.seconds(), clock.wall()
    assert proc.returncode == 130, stderr
    assert took <= 2.0, f"stopping took {took:.2f} s of the box's own time ({wall:.2f} s of wall time)"
    assert not group_alive(proc.pid), "ffmpeg children outlived the interrupt"
    assert not processes_naming(out), "ffmpeg children outlived the interrupt"
    assert "Traceback" not in stderr
    # the running ffmpeg (it leads a group of its own: the terminal's SIGINT reaches the kit, which stops it)
    stopped = re.search(r"interrupted \((\d+) running process\(es\) stopped\): (\d+) of (\d+) corpus jobs are finished "
                        r"and kept; the rerun does the other (\d+)\.\nresume with: ", stderr)
    assert stopped and int(stopped.group(1)) >= 1, stderr
    slow.unlink()  # the resumed run goes at full speed
    done = len(list(jobs.glob("*.json")))
    assert "interrupted" not in proc_out, proc_out  # one stop, one sentence (issue 98, item 6): the one above
    assert int(stopped.group(2)) == done, stderr
    (resume,) = [ln.removeprefix("resume with: ") for ln in stderr.splitlines() if ln.startswith("resume with: ")]
    # pasted as printed, in the same folder, with nothing else set up (no PYTHONPATH)
    res = pace.run(shlex.split(resume), cwd=ROOT, capture_output=True, text=True, timeout=600,
                   env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert res.returncode in (0, 1), res.stderr
    assert f"{done} already done" in res.stdout, res.stdout


# ---- merge: a kill at any instant leaves the old output pair or the new one, and the next run tidies up ----

# each instant and what a kill there leaves for the next run to remove: in the temp dir, the killed process's own
# folder (kit.infra.scratch) and what it holds, its extraction folder (`.tmp-kit.*/.tmp-kit-merge.`); beside -o
OWN = ".tmp-kit.*/"
BOTH_TEMPS = (".tmp-m.parquet.", ".tmp-m.manifest.json.")
# extracting: the texts' check's folder (kit.bundle.texts) or the merge's, whichever extracts first
MERGE_POINTS = {"extracting": (f"{OWN}.tmp-kit-",), "merge-writing": BOTH_TEMPS, "merge-committed": BOTH_TEMPS,
                "merge-renamed": (".tmp-m.manifest.json.",)}
# all a kill may leave beside -o: the pair, the merge's lock and commit journal, its temporaries
BESIDE_OUT = ("m.parquet", "m.manifest.json", ".m.parquet.merge-lock", ".m.parquet.merge-commit.json")


def _left(work: Path, out: Path) -> list[str]:
    """What a killed merge left: the temp dir's entries, those of each process's own folder in it (`.tmp-kit.*/`
    then the name), and those beside -o."""
    tmp = work / "tmp"
    own = [f"{OWN}{p.name}" for folder in tmp.glob(OWN.rstrip("/")) for p in folder.iterdir()]
    return [*(p.name for p in tmp.iterdir()), *own, *(p.name for p in out.parent.iterdir())]


def _pair(out: Path) -> tuple[str, str]:
    """(sha256 of the parquet, the sha256 its manifest records)."""
    return sha256_file(out), json.loads(manifest_path(out).read_text())["sha256"]


@pytest.fixture(scope="module")
def merge_inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An old output pair to replace, and inputs big enough (tens of thousands of rows) to kill mid-way; and how
    long the whole merge of a+b took (`seconds`), over which the random kills are spread."""
    root = tmp_path_factory.mktemp("merge-kill")
    a = write_shard(root / "a.parquet", shard_table(n_src=6, rows_per_src=4000, box="boxa"))
    b = results_tarball(root / "results-boxb.tar.gz",
                        write_shard(root / "b" / "shard.parquet", shard_table(n_src=6, rows_per_src=4000, box="boxb",
                                                                              seed=1)), box="boxb")
    old = root / "old" / "m.parquet"
    new = root / "new" / "m.parquet"
    for out, inputs in ((old, [a]), (new, [a, b])):
        begin = time.monotonic()
        res = run_kit("merge", *inputs, "-o", out)
        assert res.returncode == 0, res.stderr
    return {"a": a, "b": b, "old": old, "new": new, "seconds": time.monotonic() - begin}


def _kill_merge(inputs: dict[str, Path], work: Path, point: str | None, delay: float = 0.0) -> Path:
    """A merge of a+b over a copy of the old pair, killed at `point` (or after `delay` s); returns -o."""
    out = work / "out" / "m.parquet"
    out.parent.mkdir(parents=True)
    shutil.copy(inputs["old"], out)
    shutil.copy(manifest_path(inputs["old"]), manifest_path(out))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(work / "tmp")}
    (work / "tmp").mkdir()
    if point is not None:
        env[KILL_ENV] = point
    proc = subprocess.Popen([*KIT, "merge", str(inputs["a"]), str(inputs["b"]), "-o", str(out)],
                            cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, env=env)
    if point is None:
        time.sleep(delay)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    pace.communicate(proc, 120)
    if point is not None:
        assert proc.returncode == -signal.SIGKILL, f"{point}: the kill point was never reached"
    return out


def _check_rerun(inputs: dict[str, Path], work: Path, out: Path, label: str) -> None:
    """The next merge completes or redoes the work, and leaves nothing of the killed one behind."""
    res = pace.run([*KIT, "merge", str(inputs["a"]), str(inputs["b"]), "-o", str(out)],
                   cwd=ROOT, text=True, capture_output=True, timeout=120,
                   env={**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(work / "tmp")})
    assert res.returncode == 0, f"{label}: {res.stderr}"
    assert _pair(out) == _pair(inputs["new"]), label
    assert sorted(p.name for p in out.parent.iterdir()) == ["m.manifest.json", "m.parquet"], label
    assert list((work / "tmp").iterdir()) == [], f"{label}: extraction folders left in the temp dir"


# merge-renamed's check, without a kill: tests/unit/test_hostile_inputs.py::
# test_an_interrupted_commit_is_completed_before_anything_else (the state a kill between the two renames leaves,
# completed from the journal)
@pytest.mark.parametrize("point", MERGE_POINTS)
def test_kill_9_during_merge_at_each_commit_instant(merge_inputs: dict[str, Path], tmp_path: Path, point: str) -> None:
    out = _kill_merge(merge_inputs, tmp_path, point)
    left = _left(tmp_path, out)
    for prefix in MERGE_POINTS[point]:  # the harness really leaves what the next run must tidy
        assert any(n.startswith(prefix) for n in left), (point, left)
    beside = [p.name for p in out.parent.iterdir()]  # the kit's own temporaries never land in the user's folder
    assert [n for n in beside if n not in BESIDE_OUT and not n.startswith(BOTH_TEMPS)] == [], (point, beside)
    old, new = _pair(merge_inputs["old"]), _pair(merge_inputs["new"])
    journal = commit_journal(out)
    if journal.exists():  # killed inside the commit: the renames left are written down
        assert point in ("merge-committed", "merge-renamed")
        with Tree.open(out.parent) as tree:
            assert recover_output(tree, out)[0].startswith("completed the interrupted merge")
        assert _pair(out) == new, point
    else:
        assert _pair(out) == old, point  # killed before the commit: the old pair, untouched
    _check_rerun(merge_inputs, tmp_path, out, point)


def test_kill_9_during_merge_at_random_instants(merge_inputs: dict[str, Any], tmp_path: Path) -> None:
    full_s = float(merge_inputs["seconds"])  # the fixture's merge of a+b into a new -o: the one killed here
    print(DRAWN)  # shown with a failure
    rng = random.Random(KILL_SEED + 2)
    for i, delay in enumerate(sorted(rng.uniform(0.2, full_s) for _ in range(KILL_COUNT))):
        work = tmp_path / f"k{i}"
        out = _kill_merge(merge_inputs, work, None, delay)
        pair = _pair(out)
        if commit_journal(out).exists():  # the one window between renames: the journal completes it
            with Tree.open(out.parent) as tree:
                recover_output(tree, out)
            pair = _pair(out)
        assert pair in (_pair(merge_inputs["old"]), _pair(merge_inputs["new"])), f"kill at {delay:.2f} s"
        _check_rerun(merge_inputs, work, out, f"kill at {delay:.2f} s")


# --- prereqs' probes: a signal that ends a test encode proves nothing -----------------------------


def children_of(parent: int) -> list[int]:
    """`parent`'s children: read from each of its threads' children list (a few bytes, so a short-lived child is
    seen on a loaded box too), or from every process's stat where the kernel keeps no such list."""
    tasks = list(Path(f"/proc/{parent}/task").glob("*/children"))
    if tasks:
        found = []
        for task in tasks:
            try:
                found += [int(pid) for pid in task.read_text().split()]
            except OSError:
                continue
        return found
    kids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                kids.append(int(entry.name))
        except OSError:
            continue
    return kids


def child_running(parent: int, marker: str, timeout_s: float = 60) -> int:
    """The pid of `parent`'s child whose command line holds `marker`, polled as it appears."""
    limit = pace.Deadline(timeout_s)
    while not limit.expired() and Path(f"/proc/{parent}").exists():
        for pid in children_of(parent):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            if marker in cmdline and "-f null" not in cmdline:
                return pid
        time.sleep(0.001)
    raise AssertionError(f"no child with {marker!r} appeared")


@pytest.mark.parametrize(("marker", "sig"), [
    pytest.param("probe_libx264.", signal.SIGKILL, id="encoder-probe-kill-9"),
    pytest.param("probe_libvmaf.", signal.SIGINT, id="libvmaf-check-sigint-to-ffmpeg-alone"),
    pytest.param("probe_libx264.", signal.SIGINT, id="encoder-probe-sigint-to-ffmpeg-alone"),
    pytest.param("probe_libvmaf.", signal.SIGKILL, id="libvmaf-check-kill-9")])
def test_a_probe_ended_by_a_signal_is_not_cached_and_the_rerun_succeeds(
        sig: signal.Signals, marker: str, tmp_path: Path) -> None:
    cache, out = tmp_path / "cache", tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KIT_CACHE_DIR": str(cache)}
    args = [*KIT, "run", "--only", "prereqs", "--out-dir", str(out), *FAST]
    if marker == "probe_libvmaf.":  # its encode ends within the poll on a busy box: held 1 s before ffmpeg starts
        import imageio_ffmpeg

        held = tmp_path / "ffmpeg-held"
        held.write_text(f'#!/bin/sh\ncase "$*" in *{marker}*) sleep 1 & wait $!;; esac\n'
                        f'exec {shlex.quote(imageio_ffmpeg.get_ffmpeg_exe())} "$@"\n')
        held.chmod(0o755)
        args += ["--ffmpeg", str(held)]
    proc = subprocess.Popen(args, cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, env=env)
    try:
        pid = child_running(proc.pid, marker)
        if sig == signal.SIGINT and marker == "probe_libx264.":  # the libvmaf check's encode is too short
            time.sleep(0.05)  # let ffmpeg install its handler: it then stops "normally" with a valid file
        os.kill(pid, sig)  # the ffmpeg alone: the kit itself gets no signal
        _, stderr = pace.communicate(proc, 60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    how = "killed by signal 9 (SIGKILL)" if sig == signal.SIGKILL else "by signal 2 (SIGINT)"
    assert proc.returncode == 2, stderr
    assert how in stderr and "proved nothing" in stderr and "Traceback" not in stderr, stderr
    assert "does not work" not in stderr and "drop libx264" not in stderr, stderr
    cached = [e for f in (cache / "probes").glob("*.json") for e in json.loads(f.read_text()).values()]
    assert not [e for e in cached if not e["available"]], cached
    again = pace.run(args, cwd=ROOT, text=True, capture_output=True, env=env, timeout=300)
    assert again.returncode == 0, again.stderr
    other = pace.run([*args[:args.index("--out-dir")], "--out-dir", str(tmp_path / "other"),
                      *args[args.index("--out-dir") + 2:]], cwd=ROOT,
                     text=True, capture_output=True, env=env, timeout=300)
    assert other.returncode == 0, other.stderr  # another out-dir, the same cache: nothing poisoned


def test_an_interrupted_forced_corpus_run_keeps_what_it_had_not_redone(tiny_refs: Path, x264_run: Path,
                                                                        tmp_path: Path) -> None:
    out = tmp_path / "out"
    args: list[str | Path] = ["--ref-dir", tiny_refs, "--out-dir", out, *X264_FLAGS]
    shutil.copytree(x264_run, out)  # a finished run of these flags: its corpus complete, every job's ledger kept
    jobs = out / "02_corpus" / "jobs"
    before = {p.name: p.read_bytes() for p in jobs.glob("*.json")}
    assert len(before) >= 4

    def redone() -> list[str]:
        found = []
        for p in jobs.glob("*.json"):
            try:
                if "generation" in json.loads(p.read_text()):
                    found.append(p.name)
            except ValueError:
                pass
        return found

    proc = start(["run", "--from", "corpus", "--jobs", "1", *args])
    pace.until(redone, 120, poll_s=0.02)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the kit says what it keeps
    said = "".join(pace.communicate(proc, 60))
    fresh = redone()
    assert 1 <= len(fresh) < len(before), fresh
    # the old ledgers left in place are redone, not kept: only this forced run's own count as kept
    assert f"stopped): {len(fresh)} of {len(before)} corpus jobs are finished and kept" in said, said
    assert sorted(p.name for p in jobs.glob("*.json")) == sorted(before)  # nothing lost
    untouched = [n for n in before if n not in fresh]
    assert all((jobs / n).read_bytes() == before[n] for n in untouched)
    assert (out / "02_corpus" / "redo.json").is_file()
    res = run_kit("run", "--only", "corpus", *args)  # a plain rerun still redoes the rest
    assert res.returncode == 0, res.stderr
    assert "interrupted forced run" in res.stdout + res.stderr
    assert f"{len(fresh)} already done" in res.stdout, res.stdout
    assert sorted(redone()) == sorted(before)
    assert not (out / "02_corpus" / "redo.json").exists()
    again = run_kit("run", "--only", "corpus", *args)
    assert again.returncode == 0 and "up to date" in again.stdout, again.stdout
