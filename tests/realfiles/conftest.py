"""The realfiles tier's run, made once per session behind a file lock (tests/conftest.made_once), whichever pytest-xdist
worker asks first.

A run is the kit's one command on a --ref-dir the tier fills (tests/realfiles/refsets.py), started as a user starts
it (conftest.run_kit), under limits the fixture enforces: a run that hangs is killed at the limit (the kit's reaper
ends its ffmpegs) and the tests fail saying so, never wait. The limits are on the run's CPU (work that loops) and on
the box's own time (a run that waits for ever: tests/pace.py), never on wall time: the same run took 407 s of CPU and
over 1,800 s of wall time beside other work at a load of 35. Its wall time and CPU time (this process's
children, from getrusage: the kit and every process it waited for) are kept and printed in the session's summary.
"""

from __future__ import annotations

import dataclasses
import resource
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import made_once, run_kit
from tests.publicclips import fetched_or_skip, load_manifest
from tests.realfiles.refsets import Expect, fill

# 35 files and a hidden one (2.3 adds gem-doc's homer.avi and anim-1.mov, 37 files), libx264 at one cq on the default
# ladder (a job per file and rung: the check by hand takes one of each file, native and the half rung in turn), one
# seed: the tests read the corpus and that a verdict is reached, so a second cq or seed bought no check (2.3's two of
# each: 406 s of CPU). Each file is used or named: box.mp4 is read as ffmpeg plays it, the name that is not UTF-8 kept
FLAGS = ("--encoders", "libx264", "--cqs", "34", "--seeds", "0")
LIMIT_S = 1800  # the time the run must end within, in the box's own time
CPU_LIMIT_S = 1800  # the CPU it may spend, the kit's and its children's (about 300 to 410 s: bench/README.md)
WHAT = "the whole tier: every public clip, those made from them, the synthetic cases"
NAME = "whole"  # its box id's (realwhole) and its session folder's (once-realfiles-whole)


@dataclass(frozen=True)
class RealRun:
    """One run of the tier, as its tests read it."""

    refs: Path
    out: Path
    code: int | None  # None: killed at the time limit
    stdout: str
    stderr: str
    wall_s: float
    cpu_s: float  # user + system of the kit and the processes it waited for
    files: tuple[Expect, ...]

    def said(self) -> str:
        """How the run ended, for a failure's message: its exit (or the time limit) and its last lines."""
        how = f"killed at its limit ({LIMIT_S:.0f} s of the box's own time or {CPU_LIMIT_S:.0f} s of CPU)" \
            if self.code is None else f"exit {self.code}"
        lines = [*self.stdout.splitlines()[-12:], *self.stderr.splitlines()[-12:]]  # its progress, then its errors
        return f"{NAME} run, {how} after {self.wall_s:.0f} s; its last lines:\n" + "\n".join(lines)


def children_cpu_s() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def run_tier(folder: Path, ffmpeg: str) -> dict[str, object]:
    """Fill the tier's --ref-dir and run the kit on it within its limit: what the tests read, as JSON."""
    manifest = load_manifest()
    clips = [c for c in manifest.clips if c.tier]
    paths = fetched_or_skip(clips, manifest)
    files = fill(ffmpeg, folder / "refs", clips, paths)
    cpu, start = children_cpu_s(), time.monotonic()
    try:
        res = run_kit("run", "--ref-dir", folder / "refs", "--out-dir", folder / "out", "--box-id", f"real{NAME}",
                      *FLAGS, timeout=LIMIT_S, cpu_limit_s=CPU_LIMIT_S)
        code, stdout, stderr = res.returncode, res.stdout, res.stderr
    except subprocess.TimeoutExpired as hung:  # killed (SIGKILL); the kit's reaper ends its process groups
        code = None
        stdout, stderr = (b.decode(errors="replace") if isinstance(b, bytes) else (b or "")
                          for b in (hung.stdout, hung.stderr))
    return {"code": code, "stdout": stdout, "stderr": stderr, "wall_s": time.monotonic() - start,
            "cpu_s": children_cpu_s() - cpu, "files": [dataclasses.asdict(f) for f in files]}


@pytest.fixture(scope="session")
def realrun(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> RealRun:
    """The tier's run, made once per session."""
    folder, kept = made_once(tmp_path_factory, f"realfiles-{NAME}", lambda f: run_tier(f, ffmpeg))
    files = tuple(Expect(**{**f, "plain_size": tuple(f["plain_size"])}) for f in kept["files"])
    return RealRun(folder / "refs", folder / "out", kept["code"], kept["stdout"], kept["stderr"],
                   kept["wall_s"], kept["cpu_s"], files)
