#!/usr/bin/env python3
"""The set-up's pinned requirement files and the platforms they are for: read them, and write each pin's hashes.

    .venv/bin/python tools/pins.py            # write every pin's sha256s, for every platform of the table
    .venv/bin/python tools/pins.py --check    # exit 1 where a file lacks a hash the indexes list for a platform

A pin's hashes are the sha256s its index lists for the wheels of that version that some platform of the table can
install (PLATFORMS below, with SUPPORTED_PYTHONS from install.py; docs/collaborator.md shows the table): every
OS version of each row, from its oldest to the newest, since pip takes the most specific wheel a box supports.
pip's hash-checking mode (install.py passes --require-hashes) then installs nothing but those files. The indexes
are read with their JSON API (PEP 691) or their HTML pages (PEP 503, the hash in each link's #sha256= fragment);
where one cannot be reached the pin keeps the hashes it has, and the run says so. A wheel found in a local folder
pip is told to look in (PIP_FIND_LINKS) is hashed too and must be one of them: a box's own copy of the file.

Names, versions, markers and comments are the files' own: this tool writes only the `--hash` options.
tools/platforms.py resolves each platform's pins with pip and checks the table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from install import SUPPORTED_PYTHONS  # noqa: E402  (the set-up's own range: one place says it)

# the files install.py installs, in its order; requirements-docs.txt is CI's (the documentation site)
FILES = ("requirements-frozen.txt", "requirements-train.txt", "requirements-torch.txt", "requirements-test.txt",
         "requirements-docs.txt")
PYPI = "https://pypi.org/simple"
TIMEOUT_S = 30
# the table's Pythons and one below: the check shows that the pins need SUPPORTED_PYTHONS' first
CHECKED_PYTHONS = (f"3.{SUPPORTED_PYTHONS[0][1] - 1}",
                   *(f"3.{minor}" for minor in range(SUPPORTED_PYTHONS[0][1], SUPPORTED_PYTHONS[1][1] + 1)))


@dataclass(frozen=True)
class Platform:
    """One row of the table: an OS and architecture, the marker variables pip sees there, and the OS versions it
    spans (glibc for Linux, macOS for a Mac: the oldest the row claims, and the newest there is)."""

    key: str
    label: str
    env: Mapping[str, str]
    os_versions: tuple[tuple[int, int], tuple[int, int]] = ((0, 0), (0, 0))

    def tags(self, os_version: tuple[int, int]) -> list[str]:
        """pip's --platform values for a box of this row at `os_version`: every platform tag such a box takes."""
        machine = self.env["platform_machine"]
        if self.env["sys_platform"] == "linux":
            return [*(f"manylinux_2_{minor}_{machine}" for minor in range(os_version[1], 16, -1)),
                    f"manylinux2014_{machine}", f"manylinux2010_{machine}", f"manylinux1_{machine}"]
        if self.env["sys_platform"] == "darwin":
            return list(mac_platforms(os_version, machine))
        return ["win_amd64"]

    def supported(self, python: str, os_version: tuple[int, int]) -> set[Tag]:
        """Every wheel tag a CPython `python` of this row installs, as pip computes it."""
        version = tuple(int(part) for part in python.split("."))
        interpreter = f"cp{version[0]}{version[1]}"
        platforms = self.tags(os_version)
        return {*cpython_tags(version, [interpreter, "abi3", "none"], platforms),
                *compatible_tags(version, interpreter, platforms)}

    def environment(self, python: str) -> dict[str, str]:
        """The marker environment of a CPython `python` on this row."""
        here = {key: str(value) for key, value in default_environment().items()}
        return {**here, "implementation_name": "cpython", "platform_python_implementation": "CPython",
                "python_version": python, "python_full_version": f"{python}.0", **self.env}


def _env(system: str, machine: str, release: str) -> dict[str, str]:
    sys_platform = {"Linux": "linux", "Darwin": "darwin", "Windows": "win32"}[system]
    return {"sys_platform": sys_platform, "platform_system": system, "platform_machine": machine,
            "platform_release": release, "os_name": "nt" if system == "Windows" else "posix"}


# macOS's platform_release is Darwin's version: 21 is macOS 12, 23 is macOS 14
PLATFORMS = (
    Platform("linux-x86_64", "Linux x86_64 (glibc 2.28 or newer)", _env("Linux", "x86_64", "6.1.0"),
             ((2, 28), (2, 41))),
    Platform("linux-aarch64", "Linux aarch64 (glibc 2.28 or newer)", _env("Linux", "aarch64", "6.1.0"),
             ((2, 28), (2, 41))),
    Platform("macos-arm64", "macOS arm64 (Apple silicon), macOS 14 or newer", _env("Darwin", "arm64", "23.0.0"),
             ((14, 0), (26, 0))),
    Platform("macos-arm64-12", "macOS arm64 (Apple silicon), macOS 12 or 13", _env("Darwin", "arm64", "21.0.0"),
             ((12, 0), (13, 0))),
    Platform("macos-x86_64", "macOS x86_64 (Intel), macOS 12 or newer", _env("Darwin", "x86_64", "21.0.0"),
             ((12, 0), (26, 0))),
    Platform("windows-x86_64", "Windows x86_64", _env("Windows", "AMD64", "10")),
)


@dataclass
class Pin:
    """One requirement line of a file: `name==version ; marker` and its hashes."""

    requirement: Requirement
    hashes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return canonicalize_name(self.requirement.name)

    @property
    def version(self) -> str:
        (spec,) = self.requirement.specifier
        return spec.version

    def applies(self, env: Mapping[str, str]) -> bool:
        return self.requirement.marker is None or self.requirement.marker.evaluate(dict(env))

    def spec(self) -> str:
        """`name==version ; marker`: the line without its hashes."""
        marker = f" ; {self.requirement.marker}" if self.requirement.marker is not None else ""
        return f"{self.requirement.name}=={self.version}{marker}"

    def line(self) -> str:
        return " \\\n".join([self.spec(), *(f"    --hash=sha256:{digest}" for digest in self.hashes)])


@dataclass
class PinFile:
    """A requirement file as lines: comments and options as they are, each pin as a Pin."""

    path: Path
    parts: list[str | Pin]

    @property
    def pins(self) -> list[Pin]:
        return [part for part in self.parts if isinstance(part, Pin)]

    @property
    def options(self) -> list[str]:
        return [part for part in self.parts if isinstance(part, str) and part.startswith("-")]

    def index_urls(self) -> list[str]:
        """The indexes pip asks for this file's pins: PyPI, then any the file adds."""
        return [PYPI, *(option.split(None, 1)[1] for option in self.options if option.startswith("--extra-index-url"))]

    def text(self) -> str:
        return "".join(f"{part.line() if isinstance(part, Pin) else part}\n" for part in self.parts)


def logical_lines(text: str) -> Iterator[str]:
    """The file's lines with backslash continuations joined, as pip reads them."""
    pending = ""
    for raw in text.splitlines():
        if raw.endswith("\\"):
            pending += raw[:-1]
            continue
        yield pending + raw
        pending = ""
    if pending:
        yield pending


def read(path: Path) -> PinFile:
    parts: list[str | Pin] = []
    for line in logical_lines(path.read_text()):
        body = line.strip()
        if not body or body.startswith("#") or body.startswith("-"):
            parts.append(line.rstrip())
            continue
        head, *options = re.split(r"\s+(?=--)", body)
        requirement = Requirement(head)
        specs = list(requirement.specifier)
        if len(specs) != 1 or specs[0].operator != "==":
            raise SystemExit(f"{path.name}: {head!r} is not pinned with == (hash-checking mode needs exact pins)")
        hashes = [option.split(":", 1)[1] for option in options if option.startswith("--hash=sha256:")]
        if len(hashes) != len(options):
            raise SystemExit(f"{path.name}: {body!r}: an option other than --hash=sha256:…")
        parts.append(Pin(requirement, hashes))
    return PinFile(path, parts)


def read_all(root: Path = ROOT) -> list[PinFile]:
    return [read(root / name) for name in FILES]


# --- which files a pin must allow --------------------------------------------------------------------------------


def table_tags(pin: Pin) -> set[Tag]:
    """Every wheel tag some box of the table installs for this pin: each row whose markers take it, each Python,
    every OS version from the row's oldest to its newest."""
    tags: set[Tag] = set()
    for platform in PLATFORMS:
        for python in CHECKED_PYTHONS[1:]:
            if pin.applies(platform.environment(python)):
                tags |= platform.supported(python, platform.os_versions[1])
    return tags


def wanted(pin: Pin, filename: str, tags: set[Tag]) -> bool:
    """Whether `filename` is a wheel of this pin's version that a box of the table may install."""
    try:
        name, version, _build, file_tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return False  # an sdist: --only-binary=:all: never takes one
    return name == pin.name and version == Version(pin.version) and bool(file_tags & tags)


# --- the indexes -------------------------------------------------------------------------------------------------


class _Links(HTMLParser):
    """A PEP 503 page's links: (file name, sha256 from the #sha256= fragment)."""

    def __init__(self) -> None:
        super().__init__()
        self.files: list[tuple[str, str]] = []
        self._href = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._href = dict(attrs).get("href") or "" if tag == "a" else ""

    def handle_data(self, data: str) -> None:
        if self._href and "#sha256=" in self._href:
            self.files.append((data.strip(), self._href.rsplit("#sha256=", 1)[1]))
        self._href = ""


def listing(index: str, name: str) -> list[tuple[str, str]]:
    """(file name, sha256) of every file the index lists for a project."""
    url = f"{index.rstrip('/')}/{name}/"
    request = urllib.request.Request(url, headers={"Accept": "application/vnd.pypi.simple.v1+json, text/html;q=0.1"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        body = response.read().decode()
        if "json" in response.headers.get("Content-Type", ""):
            return [(f["filename"], f["hashes"]["sha256"]) for f in json.loads(body)["files"]
                    if "sha256" in f.get("hashes", {})]
    parser = _Links()
    parser.feed(body)
    return parser.files


def local_copies(pin: Pin, tags: set[Tag]) -> list[tuple[str, str]]:
    """(file name, sha256) of this pin's wheels in the folders PIP_FIND_LINKS names, hashed here."""
    found = []
    for folder in os.environ.get("PIP_FIND_LINKS", "").split():
        for path in sorted(Path(folder).glob("*.whl")) if Path(folder).is_dir() else ():
            if wanted(pin, path.name, tags):
                found.append((path.name, hashlib.sha256(path.read_bytes()).hexdigest()))
    return found


def hashes_for(pin: Pin, indexes: Iterable[str], say: list[str]) -> list[str]:
    """The sorted sha256s of the table's wheels of this pin on its indexes, and the pin's own where one of them
    cannot be reached (kept, and said)."""
    tags = table_tags(pin)
    found: set[str] = set()
    for index in indexes:
        try:
            files = listing(index, pin.name)
        except urllib.error.HTTPError as err:
            if err.code != 404:
                raise
            continue
        except (urllib.error.URLError, TimeoutError) as err:
            say.append(f"{pin.name}=={pin.version}: {index} cannot be reached ({err}); its hashes are kept as they are")
            found.update(pin.hashes)
            continue
        found.update(digest for filename, digest in files if wanted(pin, filename, tags))
    for filename, digest in local_copies(pin, tags):
        if digest not in found:
            raise SystemExit(f"{filename} in PIP_FIND_LINKS is not a file the index lists (sha256 {digest})")
    if not found and tags:
        raise SystemExit(f"{pin.name}=={pin.version}: no wheel for any platform of the table on {list(indexes)}")
    return sorted(found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file would change")
    args = parser.parse_args(argv)
    say: list[str] = []
    changed = []
    for pin_file in read_all():
        indexes = pin_file.index_urls()
        before = pin_file.text()
        for pin in pin_file.pins:
            pin.hashes = hashes_for(pin, indexes, say)
        if pin_file.text() != before:
            changed.append(pin_file.path.name)
            if not args.check:
                pin_file.path.write_text(pin_file.text())
    print("\n".join(say) or "every index answered")
    verb = "differ from the indexes" if args.check else "written"
    print(f"{', '.join(changed)}: {verb}" if changed else "every pin's hashes are the indexes'")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
