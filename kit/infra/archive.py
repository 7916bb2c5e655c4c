"""Reading archives someone else made: regular files only, nothing that escapes.

Used for results tarballs (`verify`, `merge`): a member with an absolute path,
`..`, a link or a device is refused, as are archives over the size limits.
"""

from __future__ import annotations

import errno
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from kit.errors import InputError
from kit.infra.files import read_json
from kit.infra.records import Record, RecordError, flatten

MAX_MEMBER_BYTES = 8 << 30
MAX_TOTAL_BYTES = 32 << 30
MAX_MEMBERS = 100_000


def _check_member(m: tarfile.TarInfo, source: Path) -> None:
    name = m.name
    parts = Path(name).parts
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
        raise InputError(f"{source}: unsafe member path {name!r} (absolute or with ..)",
                         hint="the tarball was not made by the kit; do not use it")
    if m.issym() or m.islnk():
        raise InputError(f"{source}: member {name!r} is a link", hint="the tarball was not made by the kit")
    if not (m.isfile() or m.isdir()):
        raise InputError(f"{source}: member {name!r} is a device or special file",
                         hint="the tarball was not made by the kit")
    if m.size > MAX_MEMBER_BYTES:
        raise InputError(f"{source}: member {name!r} is {m.size} bytes, over the {MAX_MEMBER_BYTES} limit",
                         hint="the tarball is not a results tarball")


def safe_extract(source: Path, dest: Path) -> list[Path]:
    """Extract regular files only, refusing anything that could escape dest.

    A damaged archive (bad gzip CRC, truncated member) is an InputError, not a crash.
    """
    try:
        with tarfile.open(source, "r:*") as tar:
            return _extract_members(tar, source, dest)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise  # our disk is full: not the tarball's fault
        raise InputError(f"{source}: damaged or not a tarball ({exc})",
                         hint="copy it again from the sender; its sha256 should match what they sent") from exc


def _extract_members(tar: tarfile.TarFile, source: Path, dest: Path) -> list[Path]:
    members = tar.getmembers()
    if len(members) > MAX_MEMBERS or sum(m.size for m in members) > MAX_TOTAL_BYTES:
        raise InputError(f"{source}: too many or too large members", hint="not a results tarball")
    for m in members:
        _check_member(m, source)
    root = dest.resolve()
    written = []
    for m in members:
        target = (root / m.name).resolve()
        if root not in target.parents and target != root:
            raise InputError(f"{source}: member {m.name!r} escapes the target", hint="not a kit tarball")
        if m.isdir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        fh = tar.extractfile(m)
        assert fh is not None
        with fh, open(target, "wb") as out:
            while block := fh.read(1 << 20):
                out.write(block)
        written.append(target)
    return written


@dataclass(frozen=True)
class FileSum(Record):
    LENIENT = True  # `verify` needs only the sha256

    sha256: str
    bytes: int = 0


@dataclass(frozen=True)
class ResultsManifest(Record):
    """`manifest.json` at the top of a results tarball: who sent it, and the sha256 of every file."""

    LENIENT = True  # only `files` is needed to verify

    kind: str = "ensemble-kit-results"
    kit_version: str = ""
    meta: dict[str, object] = flatten()  # box_id, verdict, created_utc, corpus_sha256
    files: dict[str, FileSum] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: object, where: str = "") -> ResultsManifest:
        if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
            raise RecordError(f"{where or 'results manifest'}: no `files` object")
        return super().from_json(data, where or "results manifest")

    def get(self, key: str) -> object:
        return self.meta.get(key)


def read_results_manifest(path: Path) -> ResultsManifest | None:
    """The manifest at `path`, or None when it is missing or not a results manifest."""
    try:
        return ResultsManifest.from_json(read_json(path), str(path)) if path.is_file() else None
    except (OSError, ValueError):
        return None
