#!/usr/bin/env python3
"""What the pins give each platform of the table, checked: resolved by pip without downloading a wheel, and the
table in docs/collaborator.md ("Platforms") made from the result.

    .venv/bin/python tools/platforms.py            # check every platform; exit 1 if the docs' table differs
    .venv/bin/python tools/platforms.py --write    # check, then write the table into docs/collaborator.md

For each row of tools/pins.py's PLATFORMS and each Python from one below install.py's range to its top, the
requirement files' lines whose markers hold there (evaluated for that platform, not for this box) are given to
`pip install --dry-run --report` with that platform's tags and Python version, --only-binary=:all:,
--require-hashes and --no-deps, reading only each wheel's metadata (--use-feature=fast-deps: HTTP range requests,
no wheel downloaded) from the public indexes alone (--isolated). Then:

* the file pip chose has one of the pin's hashes;
* every dependency its metadata declares there (markers evaluated for that platform) is pinned, at a version that
  satisfies it, in the files installed with it (install.py installs with --no-deps: nothing else comes);
* the kit's own dependencies (pyproject.toml) are pinned too, but the training's where the row makes a corpus only.

The row then runs the training where torch, onnx and onnxruntime resolve, the corpus only where the files leave them
out, and nothing where the kit's set does not resolve (the Python column). Where PyTorch's CPU index cannot be
reached, torch's CPU build is checked against the folders in PIP_FIND_LINKS if they hold it, else reported as not
checked here (the run says which). The encoders column reads each platform's pinned imageio-ffmpeg wheel (a
hash-checked download, about 100 MB for all): the names of the kit's encoders and of libvmaf compiled into its
ffmpeg. tests/real/test_platforms.py runs this where the network is.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pins
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from pins import FILES, PLATFORMS, ROOT, Pin, Platform

import install_steps
from kit.platforms.encoders import SPECS

DOCS = ROOT / "docs" / "collaborator.md"
TABLE_START = "<!-- platforms: tools/platforms.py writes this table -->"
TABLE_END = "<!-- end of platforms -->"
TRAINING = ("torch", "onnx", "onnxruntime")
# the sets install.py installs: a set's dependencies must be pinned in it or in the sets before it that installed
SETS = (("kit", FILES[:1]), ("train", FILES[1:2]), ("torch", FILES[2:3]), ("test", FILES[3:4]), ("docs", FILES[4:5]))
FAMILY_NAMES = {"x264": "libx264", "x265": "libx265", "svtav1": "libsvtav1", "nvenc": "NVENC", "qsv": "QSV",
                "vaapi": "VA-API", "videotoolbox": "VideoToolbox", "amf": "AMF"}
WORKERS = 4
DOCS_PYTHON = (3, 12)  # the site's pins need 3.11.5 (requirements-docs.txt); pip's --python-version 3.11 is 3.11.0


@dataclass
class Resolved:
    """One set on one platform and Python: what pip chose (name -> version, sha256, requires) or why it could not."""

    chosen: dict[str, tuple[str, str, list[str]]] = field(default_factory=dict)
    failure: str = ""
    unchecked: str = ""  # why this set could not be checked here (an index out of reach)


def applying(set_files: Iterable[str], env: Mapping[str, str]) -> list[tuple[pins.PinFile, Pin]]:
    return [(pin_file, pin) for pin_file in pins.read_all() if pin_file.path.name in set_files
            for pin in pin_file.pins if pin.applies(env)]


def pip_argv(platform: Platform, python: str, req_file: Path, report: Path, cache: Path) -> list[str]:
    tags = [arg for tag in platform.tags(platform.os_versions[0]) for arg in ("--platform", tag)]
    return [sys.executable, "-m", "pip", "install", "--isolated", "--dry-run", "--ignore-installed", "--no-deps",
            "--only-binary=:all:", "--require-hashes", "--use-feature=fast-deps", "--quiet", "--retries", "1",
            "--cache-dir", str(cache),
            "--target", str(report.parent / "target"), "--python-version", python, "--implementation", "cp", *tags,
            "--report", str(report), "-r", str(req_file)]


def resolve(platform: Platform, python: str, set_files: tuple[str, ...], work: Path) -> Resolved:
    """One pip dry run of the set's lines that hold on this platform and Python."""
    chosen = applying(set_files, platform.environment(python))
    if not chosen:
        return Resolved()
    folder = Path(tempfile.mkdtemp(dir=work))
    options = sorted({option for pin_file, _ in chosen for option in pin_file.options})
    links = [f"--find-links {d}" for d in os.environ.get("PIP_FIND_LINKS", "").split() if options]
    lines = [*options, *links, *(f"{pin.requirement.name}=={pin.version} "
                                 + " ".join(f"--hash=sha256:{digest}" for digest in pin.hashes) for _, pin in chosen)]
    (folder / "req.txt").write_text("\n".join(lines) + "\n")
    report = folder / "report.json"
    done = subprocess.run(pip_argv(platform, python, folder / "req.txt", report, work / "cache"),
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        said = [line for line in done.stderr.splitlines() if line.startswith("ERROR")] or done.stderr.splitlines()
        reason = said[-1].removeprefix("ERROR: ") if said else f"pip exit {done.returncode}"
        reach = re.search(r"Could not fetch URL|NewConnectionError|NameResolutionError|Failed to resolve", done.stderr)
        if reach and options:
            return Resolved(unchecked=f"{' '.join(options)} cannot be reached here")
        return Resolved(failure=reason)
    result = Resolved()
    for item in json.loads(report.read_text())["install"]:
        meta = item["metadata"]
        digest = item["download_info"].get("archive_info", {}).get("hashes", {}).get("sha256", "")
        result.chosen[canonicalize_name(meta["name"])] = (meta["version"], digest, meta.get("requires_dist") or [])
    return result


def problems(platform: Platform, python: str, sets: dict[str, Resolved]) -> list[str]:
    """Hashes not pinned, dependencies not pinned (or at a version that does not satisfy them), for one Python."""
    env = platform.environment(python)
    found: list[str] = []
    pinned: dict[str, Pin] = {}
    for name, set_files in SETS:
        set_pins = {pin.name: pin for _, pin in applying(set_files, env)}
        if sets[name].failure:
            continue  # not installed here (the training where no wheel exists): its pins count for nothing
        pinned.update(set_pins)
        for dist, (version, digest, requires) in sets[name].chosen.items():
            if digest not in set_pins[dist].hashes:
                found.append(f"{dist} {version}: pip chose a file whose sha256 {digest[:12]}… is not pinned")
            found += unmet(dist, requires, env, pinned)
    if sets["kit"].chosen:
        found += unmet("ensemble-kit", kit_requirements(training=claim(sets) == "training"), env, pinned)
    return [f"{platform.key} Python {python}: {what}" for what in found]


def unmet(dist: str, requires: list[str], env: Mapping[str, str], pinned: Mapping[str, Pin]) -> list[str]:
    missing = []
    for text in requires:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate({**env, "extra": ""}):
            continue
        pin = pinned.get(canonicalize_name(req.name))
        if pin is None or not req.specifier.contains(pin.version, prereleases=True):
            missing.append(f"{dist} needs {text.split(';')[0].strip()}: "
                           f"{'not pinned' if pin is None else f'pinned at {pin.version}'}")
    return missing


def kit_requirements(training: bool) -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    return [text for text in wanted if training or canonicalize_name(Requirement(text).name) not in TRAINING]


def claimed_corpus_only(train: Resolved) -> bool:
    """The training set has no wheel here: install.py goes on without it (a corpus-only box), no problem. pip's
    words for it are install.py's (pip 26 says ResolutionImpossible where a pin has no file)."""
    return any(words in train.failure for words in install_steps.NO_WHEEL)


def claim(sets: dict[str, Resolved]) -> str:
    """What a platform and Python runs: none where the kit's set does not resolve; training where torch, onnx and
    onnxruntime do (torch taken as the markers say where its index cannot be reached from here)."""
    if sets["kit"].failure:
        return "none"
    chosen = {**sets["kit"].chosen, **sets["train"].chosen, **sets["torch"].chosen}
    torch_unchecked = bool(sets["torch"].unchecked) and "onnx" in chosen
    trains = all(name in chosen for name in TRAINING) or torch_unchecked
    return "training" if trains else "corpus"


def encoders_in(binary: bytes) -> tuple[list[str], bool]:
    """The kit's encoders whose names an ffmpeg binary holds, and whether it holds libvmaf: a codec's or a filter's
    name is a NUL-ended string of its tables, so a name there is one compiled in (tests/real/test_platforms.py
    compares this with what `ffmpeg -encoders` and `-filters` list)."""
    names = [name for name in SPECS if b"\0" + name.encode() + b"\0" in binary]
    return names, b"\0libvmaf\0" in binary


def wheel_ffmpeg(wheel: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(wheel)) as whl:
        (binary,) = [n for n in whl.namelist() if "/binaries/ffmpeg" in n]
        return whl.read(binary)


def encoders_of(platform: Platform, work: Path) -> str:
    """The pinned imageio-ffmpeg of this platform, downloaded (hash-checked), and what its ffmpeg encodes with."""
    env = platform.environment(pins.CHECKED_PYTHONS[1])
    (pin,) = [pin for _, pin in applying(FILES[:1], env) if pin.name == "imageio-ffmpeg"]
    dest = Path(tempfile.mkdtemp(dir=work))
    (dest / "req.txt").write_text(f"imageio-ffmpeg=={pin.version} "
                                  + " ".join(f"--hash=sha256:{h}" for h in pin.hashes) + "\n")
    tags = [arg for tag in platform.tags(platform.os_versions[1]) for arg in ("--platform", tag)]
    subprocess.run([sys.executable, "-m", "pip", "download", "--isolated", "--quiet", "--no-deps", "--require-hashes",
                    "--only-binary=:all:", "--cache-dir", str(work / "cache"), *tags, "-d", str(dest),
                    "-r", str(dest / "req.txt")], check=True, capture_output=True)
    (wheel,) = dest.glob("*.whl")
    names, vmaf = encoders_in(wheel_ffmpeg(wheel.read_bytes()))
    families = list(dict.fromkeys(FAMILY_NAMES[SPECS[name].family] for name in names))
    return f"{pin.version}: {', '.join(families)}" + ("" if vmaf else "; no libvmaf")


def check(work: Path) -> tuple[dict[str, dict[str, str]], dict[str, str], list[str], list[str]]:
    """Every platform and Python: claims[key][python], encoders[key], problems, notes."""
    jobs = [(p, py, name, files) for p in PLATFORMS for py in pins.CHECKED_PYTHONS for name, files in SETS
            if name != "docs" or tuple(map(int, py.split("."))) >= DOCS_PYTHON]
    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(lambda job: resolve(job[0], job[1], job[3], work), jobs))
        read = pool.map(lambda p: encoders_of(p, work), PLATFORMS)
        encoders = {p.key: found for p, found in zip(PLATFORMS, read, strict=True)}
    by_combo: dict[tuple[str, str], dict[str, Resolved]] = {}
    for (platform, python, name, _), result in zip(jobs, results, strict=True):
        by_combo.setdefault((platform.key, python), {})[name] = result
    claims: dict[str, dict[str, str]] = {}
    found, notes = [], []
    for platform in PLATFORMS:
        for python in pins.CHECKED_PYTHONS:
            sets = {"docs": Resolved(), **by_combo[(platform.key, python)]}
            claims.setdefault(platform.key, {})[python] = claim(sets)
            if sets["kit"].failure:
                notes.append(f"{platform.key} Python {python}: no set-up: {sets['kit'].failure}")
                continue
            found += problems(platform, python, sets)
            found += [f"{platform.key} Python {python}: {name}: {r.failure}" for name, r in sets.items()
                      if r.failure and not (name == "train" and claimed_corpus_only(r))]
            if claimed_corpus_only(sets["train"]):
                notes.append(f"{platform.key} Python {python}: no training: {sets['train'].failure}")
            notes += [f"{platform.key} Python {python}: {name} not checked: {r.unchecked}"
                      for name, r in sets.items() if r.unchecked]
    return claims, encoders, found, notes


def pythons(claimed: Mapping[str, str], wanted: str) -> str:
    versions = [py for py, what in claimed.items() if what == wanted]
    return "" if not versions else versions[0] if len(versions) == 1 else f"{versions[0]}–{versions[-1]}"


def table(claims: Mapping[str, Mapping[str, str]], encoders: Mapping[str, str]) -> str:
    rows = ["| OS and architecture | Python | what it runs | the kit's ffmpeg (imageio-ffmpeg): encoders |",
            "|---|---|---|---|"]
    for platform in PLATFORMS:
        claimed = claims[platform.key]
        for what, says in (("training", "corpus, training, export"),
                           ("corpus", "corpus only (training happens at the lead)")):
            if pythons(claimed, what):
                rows.append(f"| {platform.label} | {pythons(claimed, what)} | {says} | {encoders[platform.key]} |")
    refused = sorted({py for claimed in claims.values() for py, what in claimed.items() if what == "none"})
    note = f"\n\nPython {', '.join(refused)}: no platform (the pins need a newer Python)." if refused else ""
    return f"{TABLE_START}\n" + "\n".join(rows) + note + f"\n{TABLE_END}"


def docs_table(text: str) -> str:
    start, end = text.index(TABLE_START), text.index(TABLE_END) + len(TABLE_END)
    return text[start:end]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="write the table into docs/collaborator.md")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="platforms-") as tmp:
        claims, encoders, found, notes = check(Path(tmp))
    made = table(claims, encoders)
    print(made, *(f"note: {n}" for n in notes), *(f"PROBLEM: {p}" for p in found), sep="\n")
    text = DOCS.read_text()
    if args.write and not found:
        DOCS.write_text(text.replace(docs_table(text), made))
    elif docs_table(text) != made:
        print(f"{DOCS.relative_to(ROOT)}'s table differs from the check's (tools/platforms.py --write)")
        return 1
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
