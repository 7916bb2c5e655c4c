#!/usr/bin/env python3
"""The README's set-up as a collaborator meets it: from the README's main command to the kit's first line, in an
untarred kit, with a fresh venv and a cold package cache. Wall and CPU (user + sys of the command and all it reaped,
from wait4) side by side, each round in a new folder; the rounds interleave the variants (this box is shared and
noisy). Target: <= 60 s of wall to the kit's first line.

    python bench/bench_setup.py [--rounds 2] [--baseline-kit PATH] [--uv] [--floor] [--work DIR]

* the kit: this checkout's tarball (make_tarball.py), untarred; the README's command run by bash as it is, until
  the kit prints `ensemble-kit X.Y.Z: steps …`, then the run is stopped (the figure is the set-up, not the demo).
* `--baseline-kit PATH`: another checkout's README command the same way (the set-up before a change).
* `--uv`: the same hashed files installed by uv instead of pip (pip installs uv first, as a set-up would
  have to), to decide between the two installers; uv does not read pip's settings, so PIP_FIND_LINKS is passed on
  (torch's wheel comes from there for both where PyTorch's index cannot be reached, as on this project's box; uv
  stops at an index it cannot reach, so its torch file is read without the index line).
* `--floor`: what downloading the same files alone takes (`pip download`, cold): no installer can go below it.

Cold: each command gets its own empty PIP_CACHE_DIR, UV_CACHE_DIR and XDG_CACHE_HOME. pip's other settings on this
box (pip.conf, PIP_FIND_LINKS: a folder that holds torch's CPU wheel where PyTorch's index cannot be reached) stay
as a collaborator's would. Each phase's start is taken from the lines the command prints.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from common import ROOT, load_average

TARGET_S = 60.0
FIRST_LINE = re.compile(r"^ensemble-kit \d+\.\d+\.\d+: ")
PHASE = re.compile(r"^set-up: (.*)$|^(Collecting|Successfully installed|Installing collected)\b")
TIMEOUT_S = 900.0


@dataclass(frozen=True)
class Setup:
    """One set-up: wall to the kit's first line, CPU of everything it ran until then, and its phases' starts."""

    label: str
    wall: float
    cpu: float
    reached: bool
    phases: tuple[tuple[float, str], ...]

    def row(self) -> str:
        mark = "" if self.reached else " (no first line: see its log)"
        return f"| {self.label} | {self.wall:.1f} s | {self.cpu:.1f} s |{mark}"


def readme_command(kit_root: Path) -> str:
    """The README's main command: its indented line that runs kit/run_full_pipeline.py."""
    for line in (kit_root / "README.md").read_text().splitlines():
        if line.startswith("    ") and "kit/run_full_pipeline.py" in line:
            return line.strip()
    raise SystemExit(f"{kit_root}/README.md has no indented command running kit/run_full_pipeline.py")


def untarred_kit(kit_root: Path, into: Path) -> Path:
    """The kit as a collaborator gets it: its tarball, built by its own make_tarball.py, untarred."""
    subprocess.run([sys.executable, str(kit_root / "make_tarball.py"), "--out-dir", str(into / "dist")],
                   check=True, capture_output=True)
    (tarball,) = (into / "dist").glob("ensemble-kit-*.tar.gz")
    with tarfile.open(tarball) as tar:
        tar.extractall(into, filter="data")
    (top,) = (p for p in into.iterdir() if p.name.startswith("ensemble-kit-"))
    return top


def cold_env(folder: Path) -> dict[str, str]:
    caches = {"PIP_CACHE_DIR": folder / "pip-cache", "UV_CACHE_DIR": folder / "uv-cache",
              "XDG_CACHE_HOME": folder / "cache", "KIT_CACHE_DIR": folder / "kit-cache"}
    for path in caches.values():
        path.mkdir(parents=True, exist_ok=True)
    return {**os.environ, **{key: str(path) for key, path in caches.items()}}


def time_to_first_line(label: str, command: str, cwd: Path, env: dict[str, str], log: Path) -> Setup:
    """Run `command` with bash until the kit's first line, then stop it; wall, CPU (wait4) and phase starts."""
    start = time.perf_counter()
    proc = subprocess.Popen(["bash", "-c", command], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                            start_new_session=True)
    phases: list[tuple[float, str]] = []
    reached = False
    assert proc.stdout is not None
    with open(log, "w") as out:
        for line in proc.stdout:
            now = time.perf_counter() - start
            out.write(f"{now:7.2f} {line}")
            if PHASE.match(line) and (not phases or phases[-1][1] != line.split()[0]):
                phases.append((now, line.strip()[:70]))
            if FIRST_LINE.match(line):
                reached = True
                break
            if now > TIMEOUT_S:
                break
    wall = time.perf_counter() - start
    os.killpg(proc.pid, signal.SIGTERM)
    _, _, usage = os.wait4(proc.pid, 0)
    return Setup(label, wall, usage.ru_utime + usage.ru_stime, reached, tuple(phases))


def uv_command(readme: str) -> str:
    """The same files installed by uv: pip installs uv into the venv first (a set-up would have to)."""
    links = " ".join(f"--find-links {folder}" for folder in os.environ.get("PIP_FIND_LINKS", "").split())
    uv = ".venv/bin/uv pip install --python .venv/bin/python --require-hashes --no-deps --only-binary :all:"
    return (f"python3 -m venv .venv && .venv/bin/pip install -q uv && "
            f"{uv} -r requirements-frozen.txt -r requirements-train.txt && "
            f"sed /^--extra-index-url/d requirements-torch.txt > torch-here.txt && {uv} {links} -r torch-here.txt && "
            f".venv/bin/uv pip install --python .venv/bin/python --no-deps --no-build-isolation -e . && "
            f"{readme.split(' && ')[-1]}")


def floor(kit: Path, folder: Path) -> tuple[float, float, int]:
    """Downloading the main set alone, cold (wall, CPU, bytes): the part no installer removes."""
    dest = folder / "wheels"
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--require-hashes",
                             "--only-binary=:all:", "-d", str(dest), "-r", "requirements-frozen.txt",
                             "-r", "requirements-train.txt"], cwd=kit, env=cold_env(folder))
    _, _, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    size = sum(p.stat().st_size for p in dest.glob("*"))
    return wall, usage.ru_utime + usage.ru_stime, size


def one_round(variants: list[tuple[str, Path, bool]], work: Path, n: int) -> list[Setup]:
    done = []
    for label, kit_root, with_uv in variants:
        folder = Path(tempfile.mkdtemp(prefix=f"setup-{n}-", dir=work))
        kit = untarred_kit(kit_root, folder)
        readme = readme_command(kit_root)
        command = uv_command(readme) if with_uv else readme
        result = time_to_first_line(label, command, kit, cold_env(folder), work / f"{folder.name}.log")
        print(result.row(), f"(load {load_average()})", flush=True)
        for at, what in result.phases:
            print(f"    {at:6.1f} s  {what}")
        done.append(result)
        shutil.rmtree(folder, ignore_errors=True)
    return done


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--baseline-kit", type=Path, help="another checkout: its README's set-up, the same way")
    ap.add_argument("--uv", action="store_true", help="also the same files installed by uv")
    ap.add_argument("--floor", action="store_true", help="also the download of the same files alone")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "bench-setup")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    variants = [("this kit (README)", ROOT, False)]
    if args.baseline_kit:
        variants.insert(0, (f"baseline {args.baseline_kit.name} (README)", args.baseline_kit.resolve(), False))
    if args.uv:
        variants.append(("this kit, uv instead of pip", ROOT, True))
    print(f"README command: {readme_command(ROOT)}")
    print("| set-up | wall to the first line | CPU (user + sys) |\n|---|---|---|")
    results = [r for n in range(args.rounds) for r in one_round(variants, args.work, n)]
    if args.floor:
        folder = Path(tempfile.mkdtemp(prefix="setup-floor-", dir=args.work))
        wall, cpu, size = floor(untarred_kit(ROOT, folder), folder)
        print(f"floor: downloading the {size / 2**20:.0f} MiB of wheels alone took {wall:.1f} s (CPU {cpu:.1f} s)")
        shutil.rmtree(folder, ignore_errors=True)
    ours = [r for r in results if r.label == "this kit (README)"]
    worst = max(r.wall for r in ours)
    print(f"{'PASS' if worst <= TARGET_S and all(r.reached for r in ours) else 'FAIL'}: slowest {worst:.1f} s "
          f"(target <= {TARGET_S:.0f} s)")


if __name__ == "__main__":
    main()
