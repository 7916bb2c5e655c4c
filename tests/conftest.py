"""Shared fixtures: the real ffmpeg (imageio-ffmpeg's, with libvmaf) and tiny clips."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kit.ffmpeg import imageio_binary

ROOT = Path(__file__).resolve().parent.parent
TINY = "176x144"
TINY_FRAMES = 8
TINY_SOURCES = {
    "alpha": "testsrc2=s=176x144:r=25",
    "beta": "mandelbrot=s=176x144:r=25",
    "gamma": "life=s=176x144:r=25:mold=10:ratio=0.1",
    "delta": "gradients=s=176x144:r=25:speed=0.05",
}
# a quick training recipe and a gate every run passes, for tests that need the PROMOTE path
FAST = ["--epochs", "3", "--batch-size", "64", "--seeds", "0,1", "--cqs", "25,37"]
LENIENT = ["--min-mean-plcc", "-1", "--max-plcc-spread", "2", "--min-seed-plcc", "-1"]


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    path = imageio_binary()
    assert path is not None, "imageio-ffmpeg is not installed"
    return str(path)


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("kit-cache")
    os.environ["KIT_CACHE_DIR"] = str(cache)
    os.environ.pop("KIT_FFMPEG", None)
    return cache


def render(ffmpeg: str, lavfi: str, dest: Path, frames: int = TINY_FRAMES, pix_fmt: str = "yuv420p",
           fmt: str = "yuv4mpegpipe", extra: tuple[str, ...] = ()) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", lavfi,
                    "-frames:v", str(frames), "-pix_fmt", pix_fmt, *extra, "-f", fmt, str(dest)], check=True)
    return dest


@pytest.fixture(scope="session")
def tiny_refs(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("refs")
    for name, lavfi in TINY_SOURCES.items():
        render(ffmpeg, lavfi, folder / f"{name}.y4m")
    return folder


def run_kit(*args: str | Path, cwd: Path | None = None, entry: list[str] | None = None,
            env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a child process, as a user would."""
    cmd = [*(entry or [sys.executable, "-m", "kit"]), *map(str, args)]
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(cmd, cwd=cwd or ROOT, env=full_env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def json_run(tiny_refs: Path,
             tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """One real `run --json` on the tiny clips (PROMOTE), shared by the events, report and status tests.

    Read-only for its users: a test that changes the out-dir works on a copy.
    """
    out = tmp_path_factory.mktemp("json-run") / "out"
    res = run_kit("run", "--json", "--ref-dir", tiny_refs, "--out-dir", out, "--box-id", "jsonbox", *FAST, *LENIENT)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    return out, res
