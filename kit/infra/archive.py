"""Reading archives someone else made: `check_results` judges a results tarball (one top folder whose `manifest.json`
lists every other file's sha256) for `verify`, `merge` and `corpus info`. Each member's header is checked as it is read,
and the whole stream read, before anything is extracted (docs/design/robustness.md, "What others send").
"""

from __future__ import annotations

import bz2
import contextlib
import errno
import gzip
import io
import lzma
import os
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kit.errors import InputError
from kit.infra.faults import kill_point
from kit.infra.files import TMP_MARK, host_tag, sha256_file
from kit.infra.interrupts import check
from kit.infra.keys import SIGNATURE_HEX, BadSignature, Signed, Signer, checked_signature
from kit.infra.limits import (
    MAX_HEADER_BYTES,
    MAX_MEMBER_BYTES,
    MAX_MEMBERS,
    MAX_RATIO,
    MAX_TOTAL_BYTES,
    MAX_TRAILER_BYTES,
    RATIO_FLOOR_BYTES,
    human_bytes,
)
from kit.infra.outside import read_json
from kit.infra.records import Record, RecordError, flatten, keep, omit_none
from kit.infra.rules import COUNT, KIT_VERSION
from kit.infra.tree import Rules, Tree
from kit.infra.versions import refuse_newer
from kit.infra.visible import reason_line
from kit.rundir import RESULTS_MANIFEST

NOT_KIT_HINT = "the tarball was not made by the kit; do not use it"
BOMB_HINT = ("a results tarball holds a few dozen files of a few MB; this one is not one (or was tampered with): "
             "ask the sender for it again")
DAMAGED_HINT = "copy it again from the sender; its sha256 should match what they sent"


# what a compressed tarball starts with, and its reader (anything else is read as a plain tar)
_COMPRESSED: tuple[tuple[bytes, Callable[[Path], io.BufferedIOBase]], ...] = (
    (b"\x1f\x8b", gzip.GzipFile), (b"BZh", bz2.BZ2File), (b"\xfd7zXZ\x00", lzma.LZMAFile))


def _decompressed(source: Path) -> io.BufferedIOBase:
    """The tar stream of `source`, decompressed as its first bytes say."""
    with open(source, "rb") as fh:
        magic = fh.read(6)
    reader = next((kind for start, kind in _COMPRESSED if magic.startswith(start)), None)
    return reader(source) if reader is not None else open(source, "rb")


def _tar(stream: io.BufferedIOBase, source: Path) -> tarfile.TarFile:
    """The tar archive in `stream`; InputError when its first header is none (not a tar, plain or compressed)."""
    try:
        return tarfile.open(fileobj=_HeaderReads(stream, source), mode="r:")
    except tarfile.ReadError as exc:
        raise InputError(f"{source}: damaged or not a tarball (not readable as a tar archive, plain or gzip, bzip2 "
                         "or xz compressed)", hint=DAMAGED_HINT) from exc


@dataclass(frozen=True)
class _HeaderReads:
    """The tar stream, any one read over MAX_HEADER_BYTES refused (tarfile reads an extended header whole at once)."""

    stream: io.BufferedIOBase
    source: Path

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0 or size > MAX_HEADER_BYTES:
            raise InputError(f"{self.source}: a member header declares {human_bytes(size)} of extended records, over "
                             f"the {human_bytes(MAX_HEADER_BYTES)} limit (nothing was extracted)", hint=BOMB_HINT)
        return self.stream.read(size)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self.stream.seek(offset, whence)

    def tell(self) -> int:
        return self.stream.tell()

    def write(self, data: bytes) -> int:
        raise io.UnsupportedOperation("a tarball is only read")

    def close(self) -> None:
        """The stream is its opener's to close."""


def _check_member(m: tarfile.TarInfo, source: Path) -> None:
    name = m.name
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in Path(name).parts:
        raise InputError(f"{source}: unsafe member path {name!r} (absolute or with ..)", hint=NOT_KIT_HINT)
    if "\\" in name:
        raise InputError(f"{source}: unsafe member path {name!r} (a backslash: a Windows path)", hint=NOT_KIT_HINT)
    if m.issym() or m.islnk():
        raise InputError(f"{source}: member {name!r} is a link", hint=NOT_KIT_HINT)
    if not (m.isfile() or m.isdir()):
        raise InputError(f"{source}: member {name!r} is a device or special file", hint=NOT_KIT_HINT)
    if m.size > MAX_MEMBER_BYTES:
        raise InputError(f"{source}: member {name!r} declares {human_bytes(m.size)}, over the "
                         f"{human_bytes(MAX_MEMBER_BYTES)} limit per member (nothing was extracted)", hint=BOMB_HINT)


def _scan(tar: tarfile.TarFile, source: Path) -> list[tarfile.TarInfo]:
    """Every member's header, each checked as it is read, their running totals against the limits."""
    archive_bytes, total = source.stat().st_size, 0
    members: list[tarfile.TarInfo] = []
    seen: set[str] = set()
    while (m := tar.next()) is not None:
        _check_member(m, source)
        if len(members) >= MAX_MEMBERS:
            raise InputError(f"{source}: more than {MAX_MEMBERS} members, over the limit on members "
                             "(nothing was extracted)", hint=BOMB_HINT)
        total += m.size if m.isfile() else 0
        if total > MAX_TOTAL_BYTES:
            raise InputError(f"{source}: members add up to more than {human_bytes(MAX_TOTAL_BYTES)}, over the "
                             "limit on the total size (nothing was extracted)", hint=BOMB_HINT)
        if total > RATIO_FLOOR_BYTES and total > MAX_RATIO * archive_bytes:
            raise InputError(f"{source}: {human_bytes(archive_bytes)} would expand to more than "
                             f"{human_bytes(total)}, over the limit of {MAX_RATIO}x expansion "
                             "(nothing was extracted)", hint=BOMB_HINT)
        key = m.name.rstrip("/")
        if key in seen and not m.isdir():
            raise InputError(f"{source}: member {m.name!r} appears twice", hint=NOT_KIT_HINT)
        seen.add(key)
        members.append(m)
    return members


def _one_top(members: list[tarfile.TarInfo], source: Path) -> str:
    """The one top folder every member of a results tarball sits under."""
    if not members:
        raise InputError(f"{source}: an empty tarball (it holds no files; a results tarball holds one folder, "
                         "results-<box>-<utc>/)", hint=NOT_KIT_HINT)
    tops = {Path(m.name).parts[0] for m in members if Path(m.name).parts}
    stray = next((m.name for m in members if len(Path(m.name).parts) < 2 and not m.isdir()), None)
    if len(tops) != 1 or stray is not None:
        outside = stray or sorted(tops)[1]
        raise InputError(f"{source}: member {outside!r} is outside the top folder (a results tarball holds one "
                         "folder, results-<box>-<utc>/)", hint=NOT_KIT_HINT)
    return tops.pop()


def _open_checked(source: Path, dest: Path) -> tuple[list[Path], str]:
    """Every member checked, the stream read to its end, the members extracted into `dest`: (the files, the top)."""
    try:
        with _decompressed(source) as stream, _tar(stream, source) as tar:
            members = _scan(tar, source)
            _read_to_end(tar, source, isinstance(stream, (gzip.GzipFile, bz2.BZ2File, lzma.LZMAFile)))
            top = _one_top(members, source)
            return _extract_members(tar, members, source, dest), top
    except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError) as exc:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise  # our disk is full: not the tarball's fault
        raise InputError(f"{source}: damaged or not a tarball ({reason_line(exc)})", hint=DAMAGED_HINT) from exc


def _read_to_end(tar: tarfile.TarFile, source: Path, compressed: bool) -> None:
    """Read past the end-of-archive block, so that a compressed stream checks its trailer: only zero padding there."""
    stream = tar.fileobj
    assert stream is not None  # an open TarFile reads from one
    left = MAX_TRAILER_BYTES
    while block := stream.read(min(1 << 16, left + 1)):
        if block.strip(b"\0"):
            # a byte changed in a compressed stream decodes as other data, which ends the archive early: read on to
            # its end, where its check (gzip's CRC and length, xz's) names that damage, before calling it appended
            # (at most MAX_TOTAL_BYTES more: a large archive appended is said as appended all the same)
            read = 0
            while compressed and read <= MAX_TOTAL_BYTES and (more := stream.read(1 << 20)):
                read += len(more)
                check()  # a stop signal between two blocks (kit/infra/interrupts.py)
            raise InputError(f"{source}: damaged or not a tarball (data after the end-of-archive block, such as "
                             "a second archive appended; nothing was extracted)", hint=DAMAGED_HINT)
        left -= len(block)
        if left < 0:
            raise InputError(f"{source}: more than {human_bytes(MAX_TRAILER_BYTES)} of zeros after the end of the "
                             "archive (nothing was extracted)", hint=BOMB_HINT)


def _extract_members(tar: tarfile.TarFile, members: list[tarfile.TarInfo], source: Path, dest: Path) -> list[Path]:
    root = dest.resolve()
    written = []
    for m in members:
        target = (root / m.name).resolve()
        if root not in target.parents and target != root:
            raise InputError(f"{source}: member {m.name!r} escapes the target", hint=NOT_KIT_HINT)
        if m.isdir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        fh = tar.extractfile(m)
        if fh is None:
            raise InputError(f"{source}: member {m.name!r} has no data", hint=NOT_KIT_HINT)
        try:
            with fh, open(target, "wb") as out:
                while block := fh.read(1 << 20):
                    out.write(block)
                    check()  # a stop signal between two blocks (kit/infra/interrupts.py)
        except OSError as exc:  # a full disk said of the file it was writing (the temporary folder's, TMPDIR's)
            if exc.filename is None and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise OSError(exc.errno, exc.strerror, str(target)) from exc
            raise
        written.append(target)
        kill_point("extracting")
    return written


@contextlib.contextmanager
def extraction_dir(prefix: str) -> Iterator[Path]:
    """A private temporary folder, named as temporaries are, removed after; those of killed commands removed first."""
    base = Path(tempfile.gettempdir())
    with Tree.open(base, Rules(checked_root=False), make=False) as tmp_tree:
        tmp_tree.remove_stale(base, names=[prefix])
    with tempfile.TemporaryDirectory(prefix=f"{TMP_MARK}{prefix}.{os.getpid()}.{host_tag()}.", dir=base) as tmp:
        yield Path(tmp)


@dataclass(frozen=True)
class FileSum(Record):
    LENIENT = True  # `verify` needs only the sha256

    sha256: str
    bytes: int = field(default=0, metadata=keep(COUNT))


@dataclass(frozen=True)
class ResultsManifest(Record):
    """`manifest.json` at the top of a results tarball: who sent it, and the sha256 of every file."""

    LENIENT = True  # only `files` is needed to verify

    kind: str = "ensemble-kit-results"
    kit_version: str = field(default="", metadata=keep(KIT_VERSION))  # where it names one: `v2.4.0` none
    meta: dict[str, object] = flatten()  # box_id, verdict, created_utc, corpus_sha256
    files: dict[str, FileSum] = field(default_factory=dict)
    # kit 2.5: the box's public key and which run of its chain this is, and the signature of all of it (kit.infra.keys)
    box_key: Signer | None = omit_none()
    signature: str | None = omit_none(SIGNATURE_HEX)

    @classmethod
    def from_json(cls, data: object, where: str = "") -> ResultsManifest:
        if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
            raise RecordError(f"{where or 'results manifest'}: no `files` object")
        return super().from_json(data, where or "results manifest")

    def get(self, key: str) -> object:
        return self.meta.get(key)


@dataclass
class ResultsCheck:
    """A results tarball checked against its manifest: ok when every file matches its sha256."""

    path: str
    ok: bool
    files: int = 0
    problems: list[str] = field(default_factory=list)
    manifest: ResultsManifest | None = None
    top: Path | None = None  # the extracted top folder
    signed: Signed | None = None  # its signature, checked (None: unsigned, a kit before 2.5's, or stripped)


def check_results(source: Path, dest: Path) -> ResultsCheck:
    """Extract a results tarball into dest and check it against its manifest: InputError when hostile or damaged."""
    if not source.is_file():
        raise InputError(f"{source} does not exist or is not a file", hint="pass the results-<box>-<utc>.tar.gz file")
    written, top_name = _open_checked(source, dest)
    top = dest.resolve() / top_name
    manifest_file = top / RESULTS_MANIFEST
    if manifest_file not in written:
        return ResultsCheck(str(source), False, problems=[f"no top-level {RESULTS_MANIFEST} in the tarball"], top=top)
    try:
        document = read_json(manifest_file)
        refuse_newer(f"{source} ({top_name}/{RESULTS_MANIFEST})", document)  # before anything is judged by this kit
        manifest = ResultsManifest.from_json(document, f"{top_name}/{RESULTS_MANIFEST}")
        signed = checked_signature(document)  # what it says of every member is the box's only when it checks
    except BadSignature as exc:
        return ResultsCheck(str(source), False, problems=[f"{RESULTS_MANIFEST} {exc}"], top=top)
    except (ValueError, RecordError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return ResultsCheck(str(source), False, problems=[f"{RESULTS_MANIFEST} is damaged ({exc})"], top=top)
    report = ResultsCheck(str(source), True, len(manifest.files), manifest=manifest, top=top, signed=signed)
    present = {p.relative_to(top).as_posix(): p for p in written if p != manifest_file}
    for arc, entry in sorted(manifest.files.items()):
        if arc not in present:
            report.problems.append(f"{arc}: listed in the manifest but missing")
        elif (digest := sha256_file(present[arc])) != entry.sha256:
            report.problems.append(f"{arc}: sha256 mismatch (manifest {entry.sha256[:12]}…, file {digest[:12]}…)")
    for extra in sorted(set(present) - set(manifest.files)):
        report.problems.append(f"{extra}: in the tarball but not in the manifest")
    report.ok = not report.problems
    return report
