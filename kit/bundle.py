"""Results tarballs: writing one with a sha256 manifest, extracting one safely,
verifying one on the receiving side."""

from __future__ import annotations

import errno
import io
import json
import tarfile
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from kit import __version__
from kit.errors import InputError
from kit.fsio import atomic_path, sha256_file

MANIFEST = "manifest.json"
MAX_MEMBER_BYTES = 8 << 30
MAX_TOTAL_BYTES = 32 << 30
MAX_MEMBERS = 100_000


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def write_results_tarball(dest: Path, top: str, files: dict[str, Path], meta: dict[str, object]) -> dict[str, object]:
    """Write dest (.tar.gz) holding files under top/ plus top/manifest.json of their sha256s."""
    entries = {arc: {"sha256": sha256_file(p), "bytes": p.stat().st_size} for arc, p in sorted(files.items())}
    manifest = {"kind": "ensemble-kit-results", "kit_version": __version__, **meta, "files": entries}
    with atomic_path(dest) as tmp, tarfile.open(tmp, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for arc, path in sorted(files.items()):
            info = tar.gettarinfo(str(path), arcname=f"{top}/{arc}")
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = 0o644
            with open(path, "rb") as fh:
                tar.addfile(info, fh)
        _add_bytes(tar, f"{top}/{MANIFEST}", json.dumps(manifest, indent=2).encode())
    return manifest


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


@dataclass
class VerifyReport:
    path: str
    ok: bool
    files: int = 0
    problems: list[str] = field(default_factory=list)
    manifest: dict[str, object] = field(default_factory=dict)


def verify_tarball(source: Path) -> VerifyReport:
    """Recompute every file's sha256 against the tarball's manifest.json."""
    if not source.is_file():
        raise InputError(f"{source} does not exist", hint="pass the results-<box>-<utc>.tar.gz file")
    with tempfile.TemporaryDirectory(prefix="kit-verify-") as tmp:
        written = safe_extract(source, Path(tmp))
        manifests = [p for p in written if p.name == MANIFEST and p.parent.parent == Path(tmp).resolve()]
        if len(manifests) != 1:
            return VerifyReport(str(source), False, problems=["no top-level manifest.json in the tarball"])
        top = manifests[0].parent
        try:
            manifest = json.loads(manifests[0].read_text())
            entries = dict(manifest["files"])
        except (ValueError, KeyError, TypeError):
            return VerifyReport(str(source), False, problems=["manifest.json is not valid"])
        report = VerifyReport(str(source), True, len(entries), manifest=manifest)
        present = {str(p.relative_to(top)) for p in written if p != manifests[0]}
        for arc, entry in sorted(entries.items()):
            path = top / arc
            if arc not in present:
                report.problems.append(f"{arc}: listed in the manifest but missing")
            elif sha256_file(path) != entry.get("sha256"):
                report.problems.append(f"{arc}: sha256 mismatch (manifest {str(entry.get('sha256'))[:12]}…, "
                                       f"file {sha256_file(path)[:12]}…)")
        for extra in sorted(present - set(entries)):
            report.problems.append(f"{extra}: in the tarball but not in the manifest")
        report.ok = not report.problems
        return report
