#!/usr/bin/env python3
"""Build dist/ensemble-kit-<version>.tar.gz: the kit a collaborator untars.

It holds kit/, binaries/ (with any ffmpeg staged there), pyproject.toml, install.py, install_steps.py (the set-up it
runs) and the requirement files it installs (requirements-frozen.txt, -train.txt, -torch.txt) and README.md under
one top folder, with docs/ and the
pages its links reach (CHANGELOG.md, ARCHITECTURE.md, bench/README.md). The archive is
reproducible: the same tree gives the same sha256 (sorted entries, fixed
timestamps, owners and modes, gzip header without a date).

    python make_tarball.py [--out-dir dist]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import re
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
INCLUDE = ("kit", "binaries", "pyproject.toml", "install.py", "install_python.py", "install_steps.py",
           "requirements-frozen.txt", "requirements-train.txt", "requirements-torch.txt", "README.md")
# shipped when present: the pages the README and docs/ link to, and the pins that build them as a site
OPTIONAL = ("docs", "CHANGELOG.md", "ARCHITECTURE.md", "bench/README.md", "requirements-docs.txt")
SKIP_DIRS = {"__pycache__", ".pytest_cache", ".ruff_cache"}
SKIP_SUFFIXES = (".pyc", ".pyo")
# 2026-01-01T00:00:00Z, overridable the usual way for reproducible builds
MTIME = int(os.environ.get("SOURCE_DATE_EPOCH", "1767225600"))


def kit_version(root: Path = ROOT) -> str:
    text = (root / "kit" / "__init__.py").read_text()
    m = re.search(r'^__version__\s*=\s*"([^"]+)"', text, re.MULTILINE)
    if not m:
        raise SystemExit("error: kit/__init__.py has no __version__")
    return m.group(1)


def collect(root: Path = ROOT) -> list[Path]:
    files: list[Path] = []
    for name in (*INCLUDE, *(n for n in OPTIONAL if (root / n).exists())):
        path = root / name
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            for p in path.rglob("*"):
                rel = p.relative_to(root)
                if any(part in SKIP_DIRS or part.startswith(".tmp-") for part in rel.parts):
                    continue
                if p.is_file() and not p.is_symlink() and not p.name.endswith(SKIP_SUFFIXES):
                    files.append(p)
        else:
            raise SystemExit(f"error: {path} is missing; run make_tarball.py from a complete checkout")
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def _info(arcname: str, size: int, executable: bool) -> tarfile.TarInfo:
    info = tarfile.TarInfo(arcname)
    info.size = size
    info.mtime = MTIME
    info.mode = 0o755 if executable else 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def build(out_dir: Path, root: Path = ROOT) -> Path:
    version = kit_version(root)
    top = f"ensemble-kit-{version}"
    out_dir.mkdir(parents=True, exist_ok=True)
    dest = out_dir / f"{top}.tar.gz"
    tmp = dest.with_name(f".tmp-{dest.name}")
    with (open(tmp, "wb") as raw,
          gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
          tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar):
        for path in collect(root):
            arc = f"{top}/{path.relative_to(root).as_posix()}"
            data = path.read_bytes()
            tar.addfile(_info(arc, len(data), os.access(path, os.X_OK)), io.BytesIO(data))
    os.replace(tmp, dest)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "dist", help="where to write the tarball")
    args = parser.parse_args(argv)
    dest = build(args.out_dir)
    digest = hashlib.sha256(dest.read_bytes()).hexdigest()
    print(f"{dest}  {dest.stat().st_size / 2**20:.1f} MiB  sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
