"""Does this kit resume the out-dirs an older kit made? Not a benchmark: each out-dir is made by the older kit (a git
revision of this repository, exported to bench/work/), then every step of it is planned by this kit, as `status`
and a resume plan it, and its fingerprint compared with the one the older kit recorded in the step's status.json.

    .venv/bin/python bench/resume_across.py [--old REV] [--ref-dir DIR]

REV: the kit to resume from (default e730f2e, the 2.1.0 kit before issue 71's declared fingerprints). DIR: reference
clips (default: the four tiny clips of tests/conftest.py, rendered here). Each variant is one command line of the
older kit: the defaults, and flags of every step off their defaults (a settings change the older kit fingerprinted by
name, by form, or through its inputs). Exit 0 when every step of every out-dir is planned with the fingerprint the
older kit recorded (a resume reruns nothing), 1 otherwise, each difference printed with the reason a resume gives.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = ROOT / "bench" / "work"

GATE_PASSES = ["--min-mean-plcc", "-1", "--max-plcc-spread", "2", "--min-seed-plcc", "-1", "--max-abs-bias", "off",
               "--min-content-groups", "3", "--min-rmse-lift", "off", "--min-consumer-share", "off",
               "--min-consumer-content-share", "off"]
QUICK = ["--epochs", "3", "--seeds", "0,1", "--cqs", "25,37", "--scales", "native"]
VARIANTS: dict[str, list[str]] = {
    "defaults": ["--epochs", "3", "--seeds", "0", "--min-content-groups", "3"],
    "promote": [*QUICK, *GATE_PASSES],
    "every-step-off-default": [
        "--epochs", "3", "--batch-size", "32", "--seeds", "0,1", "--cqs", "25,37", "--scales", "native,0.5",
        "--downscaler", "lanczos", "--folds", "3", "--holdout", "rung", "--vmaftune-crf-range", "12,50",
        "--interval-level", "0.9", "--model-license", "MIT", "--model-license-url",
        "https://spdx.org/licenses/MIT.html", "--keep-paths", "--strict", "--encode-depth", "source", *GATE_PASSES],
}


def export_kit(rev: str, dest: Path) -> Path:
    """The older kit's tree at `rev` (git archive), as a user would untar it."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def tiny_clips(dest: Path) -> Path:
    import imageio_ffmpeg

    from tests.conftest import TINY_SOURCES, render

    dest.mkdir(parents=True, exist_ok=True)
    for name, lavfi in TINY_SOURCES.items():
        if not (dest / f"{name}.y4m").exists():
            render(imageio_ffmpeg.get_ffmpeg_exe(), lavfi, dest / f"{name}.y4m")
    return dest


def run_old(kit: Path, out: Path, refs: Path, flags: list[str]) -> int:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("KIT_")}, "PYTHONPATH": str(kit),
           "KIT_CACHE_DIR": str(WORK / "resume-cache")}
    argv = [sys.executable, "-m", "kit", "run", "--ref-dir", str(refs), "--out-dir", str(out), "--box-id", out.name,
            *flags]
    res = subprocess.run(argv, cwd=kit, env=env, capture_output=True, text=True, timeout=1800)
    if res.returncode not in (0, 1):
        sys.exit(f"the older kit failed on {out.name} (exit {res.returncode}):\n{res.stdout[-2000:]}{res.stderr}")
    return res.returncode


def planned(out: Path) -> list[tuple[str, str, str]]:
    """Each step of `out` as this kit plans it: (step, state, reason)."""
    os.environ["KIT_CACHE_DIR"] = str(WORK / "resume-cache")
    from kit.steps.status import run_status

    return [(s.step, s.state, s.reason) for s in run_status(out).steps]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", default="e730f2e", help="the older kit's git revision")
    parser.add_argument("--ref-dir", type=Path, help="reference clips (default: the tests' four tiny clips)")
    args = parser.parse_args()
    kit = export_kit(args.old, WORK / "resume-kit")
    refs = args.ref_dir or tiny_clips(WORK / "resume-refs")
    different = 0
    for name, flags in VARIANTS.items():
        out = WORK / "resume" / name
        if out.exists():
            shutil.rmtree(out)
        code = run_old(kit, out, refs, flags)
        steps = planned(out)
        for step, state, reason in steps:
            same = state == "done"
            different += not same
            print(f"{name:24} {step:8} {'same' if same else 'DIFFERS'}  {reason}")
        print(f"{name:24} the older kit's exit {code}; {sum(s == 'done' for _, s, _ in steps)} of {len(steps)} steps "
              "resume as they were")
    return 1 if different else 0


if __name__ == "__main__":
    sys.exit(main())
