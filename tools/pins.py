#!/usr/bin/env python3
"""The set-up's pinned requirement files and the platforms they are for: read them, and have uv write each pin's
hashes.

    .venv/bin/python tools/pins.py            # write every pin's sha256s (uv, pinned in requirements-test.txt)
    .venv/bin/python tools/pins.py --check    # write nothing; exit 1 where a file's hashes are not uv's

Names, versions, markers and comments are the files' own: a version is changed by hand, then this is run again (after
a merge too: it rewrites only the `--hash` options). Each file's pins go to `uv pip compile --generate-hashes`
as they are (uv_argv: nothing resolved), and each pin takes the sha256 of every file its index lists for that
version, which covers every platform of the table (PLATFORMS below, docs/collaborator.md#platforms). pip's
hash-checking mode (install.py passes --require-hashes) then installs nothing but those files. Where a file's index
cannot be reached (PyTorch's, from some boxes), the file keeps the hashes it has, and the run says so.
tools/platforms.py resolves each platform's pins with pip and checks the table.

A package is pinned in the file of its set alone (no name in two files); pyproject.toml's ranges are for a plain `pip
install` only.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.tags import mac_platforms
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from install_python import SUPPORTED_PYTHONS  # noqa: E402  (the set-up's own range: one place says it)

# the files install.py installs, in its order; requirements-docs.txt is CI's (the documentation site)
FILES = ("requirements-frozen.txt", "requirements-train.txt", "requirements-torch.txt", "requirements-test.txt",
         "requirements-docs.txt")
UV = Path(sys.executable).parent / "uv"
TIMEOUT_S = 600
UNREACHABLE = "error sending request"  # uv's words for an index it cannot reach
# the table's Pythons and one below: the check shows that the pins need SUPPORTED_PYTHONS' first
CHECKED_PYTHONS = (f"3.{SUPPORTED_PYTHONS[0][1] - 1}",
                   *(f"3.{minor}" for minor in range(SUPPORTED_PYTHONS[0][1], SUPPORTED_PYTHONS[1][1] + 1)))
PYTHON_OF = {"requirements-docs.txt": "3.11.5"}  # the oldest Python a file's pins take, where it is not the table's


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


def key(requirement: Requirement) -> tuple[str, Version]:
    """A pin's name and version as uv spells them or not (`Jinja2` is `jinja2`)."""
    (spec,) = requirement.specifier
    return canonicalize_name(requirement.name), Version(spec.version)


def uv_argv(input_file: Path, python: str) -> list[str]:
    """uv's compile of a file's own pins, nothing resolved (--no-deps: tools/platforms.py checks the dependencies),
    their markers kept whatever this box is (--universal), each with the sha256 of every file its index lists for
    that version (--generate-hashes: every platform's wheels, the table's among them, and the sdist, which
    install.py's --only-binary never takes); a pin without a wheel fails (--only-binary)."""
    return [str(UV), "pip", "compile", "--no-config", "--universal", "--no-deps", "--generate-hashes",
            "--only-binary", ":all:", "--no-header", "--no-annotate", "--python-version", python, str(input_file)]


def uv_hashes(pin_file: PinFile, say: list[str]) -> dict[tuple[str, Version], list[str]] | None:
    """Each pin's sha256s as uv writes them ((canonical name, version) -> sorted hashes: a name may be pinned at two
    versions under two markers); None where an index of the file cannot be reached (the file keeps its hashes, and
    the run says so)."""
    if not UV.exists():
        raise SystemExit(f"{UV.relative_to(ROOT)} is missing: install.py --test installs it (requirements-test.txt)")
    with tempfile.TemporaryDirectory() as work:
        input_file = Path(work) / "pins.in"
        input_file.write_text("".join(f"{line}\n" for line in [*pin_file.options, *(p.spec() for p in pin_file.pins)]))
        python = PYTHON_OF.get(pin_file.path.name, CHECKED_PYTHONS[1])
        done = subprocess.run(uv_argv(input_file, python), capture_output=True, text=True, check=False,
                              timeout=TIMEOUT_S)
    if done.returncode != 0:
        if UNREACHABLE in done.stderr:
            say.append(f"{pin_file.path.name}: an index cannot be reached; its hashes are kept as they are")
            return None
        raise SystemExit(f"uv could not hash {pin_file.path.name}:\n{done.stderr.strip()}")
    found: dict[str, list[str]] = {}
    for line in logical_lines(done.stdout):
        head, *options = re.split(r"\s+(?=--hash=)", line.strip())
        if head:
            found[key(Requirement(head))] = sorted(o.split(":", 1)[1] for o in options)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file would change")
    args = parser.parse_args(argv)
    say: list[str] = []
    changed = []
    for pin_file in read_all():
        hashes = uv_hashes(pin_file, say)
        if hashes is None:
            continue
        before = pin_file.text()
        for pin in pin_file.pins:
            if key(pin.requirement) not in hashes:
                raise SystemExit(f"{pin_file.path.name}: uv wrote no hashes for {pin.spec()}")
            pin.hashes = hashes[key(pin.requirement)]
        if pin_file.text() != before:
            changed.append(pin_file.path.name)
            if not args.check:
                pin_file.path.write_text(pin_file.text())
    print("\n".join(say) or "every index answered")
    verb = "differ from what uv writes" if args.check else "written"
    print(f"{', '.join(changed)}: {verb}" if changed else "every pin's hashes are uv's")
    return 1 if args.check and changed else 0

if __name__ == "__main__":
    sys.exit(main())
