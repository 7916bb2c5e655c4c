"""Commands going at once on shared files (issue 24 G): real processes, really concurrent.

- Two merges into one -o: the second is refused (exit 2, naming the first's pid) while the first runs;
  merges started together never crash and never leave a parquet its manifest does not describe.
- Runs sharing one cache: `sha256.json` keeps every run's entries, and a demo clip another run found whole
  is never rendered over (which made that run fail with a false "clip changed while the run was going").

The instants that matter are pinned with SIGSTOP/SIGCONT on the real processes, not left to timing.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from kit.errors import InputError
from kit.infra.files import sha256_file
from kit.infra.tree import Tree
from kit.media.cache import Sha256Cache
from kit.media.demo import DEMO_CLIPS, demo_folder, render
from kit.rundir import manifest_path
from tests import pace
from tests.conftest import ROOT, assert_clean_failure, run_here, run_kit
from tests.kitfiles import results_tarball, shard_table, write_shard

POLL_S = 0.005


def start(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """The kit in a child process, leader of its own process group (so a stop reaches its ffmpeg too)."""
    return subprocess.Popen([sys.executable, "-m", "kit", *map(str, args)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def wait_for(proc: subprocess.Popen[str], seen: Callable[[], bool], what: str, timeout_s: float = 120) -> None:
    limit = pace.Deadline(timeout_s)  # the box's own time (tests/pace.py)
    while not seen():
        assert proc.poll() is None, f"ended before {what}: {proc.communicate()}"
        assert not limit.expired(), f"never saw {what}"
        time.sleep(POLL_S)


def stop(proc: subprocess.Popen[str]) -> None:
    os.killpg(proc.pid, signal.SIGSTOP)


def resume(proc: subprocess.Popen[str]) -> None:
    os.killpg(proc.pid, signal.SIGCONT)


# --- merge ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_inputs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A shard and a results tarball of 24,000 rows each: a merge of both lasts about a second."""
    root = tmp_path_factory.mktemp("merge-inputs")
    a = write_shard(root / "a.parquet", shard_table(n_src=6, rows_per_src=4000, box="boxa"))
    b = write_shard(root / "b" / "shard.parquet", shard_table(n_src=6, rows_per_src=4000, box="boxb", seed=1))
    return [a, results_tarball(root / "results-boxb.tar.gz", b, box="boxb")]


def consistent_pair(out: Path) -> int:
    """The parquet is the one its manifest describes; returns its rows."""
    manifest = json.loads(manifest_path(out).read_text())
    assert manifest["sha256"] == sha256_file(out), "the manifest describes another parquet"
    assert manifest["rows"] == pq.ParquetFile(out).metadata.num_rows
    return int(manifest["rows"])


@pytest.mark.usefixtures("own_lead")
def test_a_second_merge_into_one_output_is_refused_while_the_first_runs(big_inputs: list[Path],
                                                                        tmp_path: Path) -> None:
    out, scratch = tmp_path / "out" / "m.parquet", tmp_path / "tmp"
    out.parent.mkdir()
    scratch.mkdir()
    env = {"TMPDIR": str(scratch)}
    first = start("merge", *big_inputs, "-o", out, env=env)

    def merging() -> bool:  # the first merge's lock (once it names its holder), temporaries or extraction
        lock = out.with_name(f".{out.name}.merge-lock")
        return (lock.is_file() and lock.stat().st_size > 0) or any(out.parent.glob(f".tmp-{out.name}.*")) or \
            any(scratch.glob(".tmp-kit-merge.*"))

    wait_for(first, merging, "the first merge at work")
    stop(first)  # held in the middle of its merge for as long as the second one takes
    try:
        second = run_kit("merge", big_inputs[0], "-o", out, env=env, timeout=120)
    finally:
        resume(first)
    stdout, stderr = pace.communicate(first, 120)
    assert_clean_failure(second, f"another merge (pid {first.pid} on ", f"is writing {out} right now")
    assert "wait for it to finish, or merge into another -o" in second.stderr
    assert first.returncode == 0, stdout + stderr
    assert consistent_pair(out) == 48_000  # the first merge's rows, whole
    assert sorted(p.name for p in out.parent.iterdir()) == ["m.manifest.json", "m.parquet"]  # no lock left
    assert list(scratch.iterdir()) == []
    again = run_kit("merge", big_inputs[0], "-o", out, env=env, timeout=120)  # once it is done, -o is free
    assert again.returncode == 0, again.stderr
    assert consistent_pair(out) == 24_000


@pytest.mark.usefixtures("own_lead")
def test_merges_started_together_never_crash_and_leave_a_described_pair(big_inputs: list[Path],
                                                                       tmp_path: Path) -> None:
    out = tmp_path / "m.parquet"
    for round_ in range(3):
        procs = [start("merge", *inputs, "-o", out) for inputs in (big_inputs, big_inputs[:1])]
        errs = [pace.communicate(p, 120)[1] for p in procs]
        for p, other, err in ((procs[0], procs[1], errs[0]), (procs[1], procs[0], errs[1])):
            assert p.returncode in (0, 2) and "Traceback" not in err, (round_, p.returncode, err)  # never 70
            if p.returncode == 2:
                assert f"error: another merge (pid {other.pid} on " in err and "right now" in err, err
        assert 0 in (procs[0].returncode, procs[1].returncode), errs
        assert consistent_pair(out) in (24_000, 48_000), round_
        assert sorted(p.name for p in tmp_path.iterdir()) == ["m.manifest.json", "m.parquet"], round_


# --- the cache's sha256.json ----------------------------------------------------------------------------

HASHER = """
import sys, time
from pathlib import Path
from kit.infra.tree import Tree
from kit.media.cache import Sha256Cache
# read before the others write: each starts from the same file
cache = Sha256Cache(Tree.open(Path(sys.argv[1]).parent), Path(sys.argv[1]))
Path(sys.argv[2]).touch()
while not Path(sys.argv[3]).exists():
    time.sleep(0.005)
for clip in sys.argv[4:]:
    cache.get(Path(clip))
"""


def test_runs_hashing_at_once_keep_every_entry_of_the_shared_cache(tmp_path: Path) -> None:
    cache, go = tmp_path / "cache" / "sha256.json", tmp_path / "go"
    cache.parent.mkdir()
    cache.write_text(json.dumps({}))
    clips = {run: [tmp_path / f"refs{run}" / f"c{i}.y4m" for i in range(4)] for run in range(3)}
    for run, paths in clips.items():
        paths[0].parent.mkdir()
        for i, p in enumerate(paths):
            p.write_bytes(f"run {run} clip {i}".encode() * 1000)
    procs = [subprocess.Popen([sys.executable, "-c", HASHER, str(cache), str(tmp_path / f"ready{run}"), str(go),
                               *map(str, paths)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                              stderr=subprocess.PIPE, text=True)
             for run, paths in clips.items()]
    limit = pace.Deadline(60)
    while not all((tmp_path / f"ready{run}").exists() for run in clips):
        assert not limit.expired() and all(p.poll() is None for p in procs), [p.poll() for p in procs]
        time.sleep(POLL_S)
    go.touch()  # all three hash and write at once
    for p in procs:
        assert pace.wait(p, 60) == 0, p.communicate()[1]
    kept = json.loads(cache.read_text())
    for run, paths in clips.items():
        for p in paths:
            entries = [v for k, v in kept.items() if k.startswith(f"{p.resolve()}|")]
            assert entries == [sha256_file(p)], f"run {run} lost the entry of {p.name}"
    assert sorted(p.name for p in cache.parent.iterdir()) == ["sha256.json"]  # no lock file left


# --- the demo clips in a shared cache -------------------------------------------------------------------

DEMO_RUN = ("--demo-clips", "3", "--demo-seconds", "0.4", "--encoders", "libx264", "--cqs", "30")


def test_a_demo_clip_found_whole_is_never_rendered_over_by_another_run(tmp_path: Path) -> None:
    """Run A is held mid-render of a demo clip; run B starts on the same fresh cache.

    Before the fix B rendered the clip too, found it, started its jobs; A's render then replaced the file
    and B failed with "changed while the run was going". Now B waits for A's render and uses it.
    """
    env = {"KIT_CACHE_DIR": str(tmp_path / "cache")}
    outs = {run: tmp_path / f"out{run}" for run in "AB"}
    done = run_here("run", "--out-dir", outs["A"], *DEMO_RUN, "--only", "prereqs", env=env)  # in this process
    assert done.returncode == 0, done.stdout + done.stderr
    shutil.copytree(outs["A"], outs["B"])  # B's prereqs: the same checks of the same box, up to date in its copy
    demo = demo_folder(tmp_path / "cache", seconds=0.4)
    a = start("run", "--out-dir", outs["A"], *DEMO_RUN, "--only", "corpus", env=env)
    wait_for(a, lambda: demo.is_dir() and any(demo.glob(".tmp-*.y4m.*")), "A rendering a demo clip")
    stop(a)
    b = start("run", "--out-dir", outs["B"], *DEMO_RUN, "--only", "corpus", env=env)
    log_b = outs["B"] / "02_corpus" / "logs" / "corpus.log"
    try:
        wait_for(b, lambda: (outs["B"] / "02_corpus" / "jobs").is_dir() or (
            log_b.is_file() and "is rendering it; waiting for it" in log_b.read_text()), "B past the render")
        b_at_work = (outs["B"] / "02_corpus" / "jobs").is_dir()  # B rendered the clip itself and uses it
        if b_at_work:
            stop(b)
    finally:
        resume(a)
    a_out, a_err = pace.communicate(a, 300)
    if b_at_work:
        resume(b)
    b_out, b_err = pace.communicate(b, 300)
    for name, code, text in (("A", a.returncode, a_out + a_err), ("B", b.returncode, b_out + b_err)):
        assert "changed while the run was going" not in text, f"run {name}: {text}"
        assert code == 0, f"run {name}: {text}"
    assert "is rendering it; waiting for it" in b_out and f": another run of this kit (pid {a.pid} on " in b_out, b_out
    assert sorted(p.name for p in demo.iterdir()) == ["life.y4m", "mandelbrot.y4m", "testpattern.y4m"]


RENDERER = """
import sys, time
from pathlib import Path
from kit.infra.tree import Tree
from kit.media.demo import ensure_demo_set
Path(sys.argv[3]).touch()
while not Path(sys.argv[4]).exists():
    time.sleep(0.005)
folder = ensure_demo_set(Tree.open(Path(sys.argv[1])), sys.argv[2], 2, 160, 96, 0.4)
print(sorted((p.name, p.stat().st_ino) for p in folder.glob("*.y4m")))
"""


def test_demo_renders_started_together_agree(ffmpeg: str, tmp_path: Path) -> None:
    """Three processes render one demo set at the same instant: each ends with the files that stay."""
    cache, go = tmp_path / "cache", tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", RENDERER, str(cache), ffmpeg, str(tmp_path / f"ready{i}"),
                               str(go)], cwd=ROOT, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(3)]
    limit = pace.Deadline(60)
    while not all((tmp_path / f"ready{i}").exists() for i in range(3)):
        assert not limit.expired() and all(p.poll() is None for p in procs), [p.poll() for p in procs]
        time.sleep(POLL_S)
    go.touch()
    seen = []
    for p in procs:
        out, err = pace.communicate(p, 120)
        assert p.returncode == 0, err
        seen.append(out.strip())
    folder = next(cache.glob("demo-*"))
    final = str(sorted((p.name, p.stat().st_ino) for p in folder.glob("*.y4m")))
    assert seen == [final] * 3  # no process's clip was renamed over after it had it
    assert sorted(p.name for p in folder.iterdir()) == ["mandelbrot.y4m", "testpattern.y4m"]


def test_a_link_planted_at_a_cache_lock_is_refused_and_nothing_is_written_through_it(ffmpeg: str,
                                                                                     tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    cache = tmp_path / "cache"
    (cache / "demo").mkdir(parents=True)
    clip = tmp_path / "c.y4m"
    clip.write_bytes(b"clip")
    (cache / ".sha256.json.lock").symlink_to(victim)
    with pytest.raises(InputError, match=r"\.sha256\.json\.lock is a symbolic link to"):
        Sha256Cache(Tree.open(cache), cache / "sha256.json").get(clip)
    (cache / "demo" / ".testpattern.y4m.lock").symlink_to(victim)
    with pytest.raises(InputError, match=r"\.testpattern\.y4m\.lock is a symbolic link to"):
        render(Tree.open(cache), DEMO_CLIPS[0], cache / "demo" / "testpattern.y4m", ffmpeg, 160, 96, 0.4)
    assert victim.read_text() == "keep\n"
    assert not (cache / "sha256.json").exists() and not (cache / "demo" / "testpattern.y4m").exists()
