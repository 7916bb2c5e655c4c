#!/usr/bin/env python3
"""Build dist/ensemble-kit-<version>.tar.gz: the kit a collaborator untars.

It holds kit/, binaries/ (with any ffmpeg staged there), pyproject.toml, install.py, install_steps.py (the set-up it
runs) and the requirement files it installs (requirements-frozen.txt, -train.txt, -torch.txt) and README.md under
one top folder, with docs/ and the
pages its links reach (CHANGELOG.md, ARCHITECTURE.md, CONTRIBUTING.md, bench/README.md). The archive is
reproducible: the same tree gives the same sha256 (sorted entries, fixed
timestamps, owners and modes, gzip header without a date).

    python make_tarball.py [--out-dir dist]
    .venv/bin/python make_tarball.py --wheels [--platform linux-x86_64] [--python 3.12] [--out-dir dist]

--wheels makes the tarball for one platform and Python that needs no network to set up: beside the kit it carries,
in `wheels/`, the wheel of every pin install.py installs there (requirements-frozen.txt, -train.txt and -torch.txt,
torch's CPU build included), fetched by `pip download --only-binary=:all: --platform ...` and checked against the
pins' sha256; install.py then installs from that folder alone (--no-index), the hashes checked again. The platform
is a key of tools/pins.py's table (docs/collaborator.md#platforms), this box's by default; the wheels are kept in
`<out-dir>/wheels-<platform>-py<version>/` so a second build fetches nothing. It needs the venv's Python (pip and
packaging), and names the tarball `ensemble-kit-<version>-<platform>-py<version>.tar.gz`.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import platform
import re
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
WHEEL_FILES = ("requirements-frozen.txt", "requirements-train.txt", "requirements-torch.txt")  # install.py's
INCLUDE = ("kit", "binaries", "pyproject.toml", "install.py", "install_python.py", "install_steps.py",
           "requirements-frozen.txt", "requirements-train.txt", "requirements-torch.txt", "README.md")
# shipped when present: the pages the README and docs/ link to, and the pins that build them as a site
OPTIONAL = ("docs", "CHANGELOG.md", "ARCHITECTURE.md", "CONTRIBUTING.md", "bench/README.md", "requirements-docs.txt")
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


def build(out_dir: Path, root: Path = ROOT, wheels: Path | None = None, suffix: str = "") -> Path:
    """The tarball in `out_dir`; with `wheels`, that folder's wheels under `wheels/` (the name then ends `suffix`)."""
    version = kit_version(root)
    top = f"ensemble-kit-{version}"
    out_dir.mkdir(parents=True, exist_ok=True)
    dest = out_dir / f"{top}{suffix}.tar.gz"
    tmp = dest.with_name(f".tmp-{dest.name}")
    shipped = [(path, path.relative_to(root).as_posix()) for path in collect(root)]
    if wheels is not None:
        shipped += [(path, f"wheels/{path.name}") for path in sorted(wheels.glob("*.whl"))]
    # a wheel is compressed already: gzip at its fastest level (level 9 spends a minute of CPU on them for 0.1 %)
    with (open(tmp, "wb") as raw,
          gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=1 if wheels else 9) as gz,
          tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar):
        for path, rel in shipped:
            data = path.read_bytes()
            tar.addfile(_info(f"{top}/{rel}", len(data), os.access(path, os.X_OK)), io.BytesIO(data))
    os.replace(tmp, dest)
    return dest


def this_platform() -> str:
    """This box's key in tools/pins.py's table (`linux-x86_64`)."""
    system = {"linux": "linux", "darwin": "macos", "win32": "windows"}.get(sys.platform, sys.platform)
    machine = {"amd64": "x86_64", "arm64": "arm64", "aarch64": "aarch64"}.get(platform.machine().lower(),
                                                                              platform.machine().lower())
    return f"{system}-{machine}"


def download_wheels(key: str, python: str, folder: Path, root: Path = ROOT) -> list[Path]:
    """Every wheel install.py installs on platform `key` with CPython `python` (`3.12`), into `folder` (a wheel there
    already is kept): each file's pins that apply there, fetched by pip download for that platform's tags, every
    file checked against the pins' sha256 (--require-hashes). The wheels."""
    sys.path.insert(0, str(root / "tools"))
    import pins  # the table and the pin files' reader (packaging: the venv's)

    found = [p for p in pins.PLATFORMS if p.key == key]
    if not found:
        raise SystemExit(f"error: --platform {key} is not one of {', '.join(p.key for p in pins.PLATFORMS)}")
    row, env = found[0], found[0].environment(python)
    folder.mkdir(parents=True, exist_ok=True)
    tags = [arg for tag in row.tags(row.os_versions[1]) for arg in ("--platform", tag)]
    abi = f"cp{python.replace('.', '')}"
    for name in WHEEL_FILES:
        pin_file = pins.read(root / name)
        lines = [*pin_file.options, *(" ".join([f"{pin.requirement.name}=={pin.version}",
                                                *(f"--hash=sha256:{h}" for h in pin.hashes)])
                                      for pin in pin_file.pins if pin.applies(env))]
        if len(lines) == len(pin_file.options):
            continue  # none of its pins is for this platform
        pinned = folder / f".{name}"
        pinned.write_text("\n".join(lines) + "\n")
        argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--require-hashes",
                "--disable-pip-version-check", "--python-version", python, "--implementation", "cp", "--abi", abi,
                "--abi", "abi3", "--abi", "none", *tags, "-d", str(folder), "-r", str(pinned)]
        print(f"make_tarball: {name}'s wheels for {key}, Python {python}", flush=True)
        if subprocess.run(argv, check=False).returncode != 0:
            raise SystemExit(f"error: pip could not download {name}'s wheels for {key} (its message is above)")
        pinned.unlink()
    return sorted(folder.glob("*.whl"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "dist", help="where to write the tarball")
    parser.add_argument("--wheels", action="store_true", help="carry every pin's wheel for one platform: a set-up "
                        "with no network")
    parser.add_argument("--platform", default=this_platform(), help="with --wheels: a key of tools/pins.py's "
                        "table (default: this box's, %(default)s)")
    parser.add_argument("--python", default=f"{sys.version_info[0]}.{sys.version_info[1]}",
                        help="with --wheels: the Python the set-up will run (default: this one, %(default)s)")
    args = parser.parse_args(argv)
    if args.wheels:
        key = f"{args.platform}-py{args.python}"
        wheels = args.out_dir / f"wheels-{key}"
        found = download_wheels(args.platform, args.python, wheels)
        print(f"make_tarball: {len(found)} wheels, {sum(p.stat().st_size for p in found) / 2**20:.1f} MiB")
        dest = build(args.out_dir, wheels=wheels, suffix=f"-{key}")
    else:
        dest = build(args.out_dir)
    digest = hashlib.sha256(dest.read_bytes()).hexdigest()
    print(f"{dest}  {dest.stat().st_size / 2**20:.1f} MiB  sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
