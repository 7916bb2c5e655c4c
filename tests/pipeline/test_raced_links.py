"""A link raced in at any instant (issue 40): while a real run writes, a neighbour keeps planting links where its
outputs go, over and over. The run ends with a verdict (0, 1) or refuses, naming a path it found a link at (2):
never an internal error (70, which the status writer's Path.resolve() gave every time), and nothing is ever
written through a link."""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import select
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kit.rundir import RunDir
from tests import pace
from tests.conftest import FAST, LENIENT, ROOT
from tests.kitfiles import shard_table, write_shard

pytestmark = pytest.mark.slow  # real runs with a racer beside them


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()}


LIBC = ctypes.CDLL(None, use_errno=True)
IN_MOVED_TO, IN_CREATE, IN_NONBLOCK = 0x80, 0x100, 0o4000  # <sys/inotify.h>


def race(out: Path, victim: Path, stop: threading.Event, planted: list[Path]) -> None:
    """Replace each output of the run, the moment it appears, by a link: in the window between the step writing it
    and the step recording it in its status.json (where Path.resolve() followed the link out of the out-dir).

    The racer looks again each time anything is made or renamed into the out-dir or a step's folder (inotify wakes
    it at once), rather than in a busy loop, which cost a core's time for the whole run."""
    run = RunDir(out)
    targets = [run.loso_seed(0), run.loso_seed(1), run.baselines, run.folds, run.predictions, run.clips,
               run.verdict_file("HOLD"), run.verdict_file("PROMOTE"), run.intervals, run.report]
    folders = [out.parent, out, *dict.fromkeys(path.parent for path in targets)]  # where each output appears
    events = LIBC.inotify_init1(IN_NONBLOCK)
    assert events >= 0, os.strerror(ctypes.get_errno())
    watched: set[Path] = set()
    n = 0
    try:
        while not stop.is_set() and targets:
            # a folder is watched from when it exists; what was made in it before is found by the look below
            watched.update(f for f in folders if f not in watched
                           and LIBC.inotify_add_watch(events, os.fsencode(f), IN_CREATE | IN_MOVED_TO) >= 0)
            for path in list(targets):
                with contextlib.suppress(OSError):
                    if path.is_file() and not path.is_symlink():
                        path.rename(path.with_name(f"aside-{n}-{path.name}"))
                        path.symlink_to(victim / "secret")
                        planted.append(path)
                        targets.remove(path)  # once each: the run then meets it, or has recorded it already
                n += 1
            select.select([events], [], [], 0.05)  # until a watched folder changes (or to check `stop`)
            with contextlib.suppress(BlockingIOError):
                while os.read(events, 1 << 16):
                    pass
    finally:
        os.close(events)


def test_links_raced_in_during_a_run_end_in_a_verdict_or_exit_2_never_70(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "secret").write_text("keep\n")
    before = digest(victim)
    corpus = write_shard(tmp_path / "corpus.parquet", shard_table(n_src=4, rows_per_src=40))
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "kit", "run", "--corpus", str(corpus), "--out-dir", str(out),
                             *FAST, *LENIENT, "--recipe", "frames"], cwd=ROOT, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    stop, planted = threading.Event(), []
    racer = threading.Thread(target=race, args=(out, victim, stop, planted))
    racer.start()
    try:
        stdout, stderr = pace.communicate(proc, 600)
    finally:
        stop.set()
        racer.join()
    assert planted, "the racer planted nothing"
    assert proc.returncode in (0, 1, 2), stdout[-2000:] + stderr[-4000:]
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr[-4000:]
    if proc.returncode == 2:
        (error,) = [ln for ln in stderr.splitlines() if ln.startswith("error: ")]
        assert " is a symbolic link to " in error and str(out) in error, error
    assert digest(victim) == before and sorted(p.name for p in victim.iterdir()) == ["secret"]
