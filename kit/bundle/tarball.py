"""Results tarballs: writing one with a sha256 manifest, verifying one on the receiving side.

Extraction (kit.infra.archive.safe_extract) refuses anything that could escape.
"""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from kit import __version__
from kit.errors import InputError
from kit.infra.archive import FileSum, ResultsManifest, safe_extract
from kit.infra.files import atomic_path, sha256_file
from kit.infra.records import RecordError
from kit.rundir import RESULTS_MANIFEST


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def write_results_tarball(dest: Path, top: str, files: dict[str, Path], meta: dict[str, object]) -> ResultsManifest:
    """Write dest (.tar.gz) holding files under top/ plus top/manifest.json of their sha256s."""
    manifest = ResultsManifest("ensemble-kit-results", __version__, meta, {
        arc: FileSum(sha256_file(p), p.stat().st_size) for arc, p in sorted(files.items())})
    with atomic_path(dest) as tmp, tarfile.open(tmp, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for arc, path in sorted(files.items()):
            info = tar.gettarinfo(str(path), arcname=f"{top}/{arc}")
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = 0o644
            with open(path, "rb") as fh:
                tar.addfile(info, fh)
        _add_bytes(tar, f"{top}/{RESULTS_MANIFEST}", json.dumps(manifest.to_json(), indent=2).encode())
    return manifest


@dataclass
class VerifyReport:
    path: str
    ok: bool
    files: int = 0
    problems: list[str] = field(default_factory=list)
    manifest: ResultsManifest | None = None


def verify_tarball(source: Path) -> VerifyReport:
    """Recompute every file's sha256 against the tarball's manifest.json."""
    if not source.is_file():
        raise InputError(f"{source} does not exist", hint="pass the results-<box>-<utc>.tar.gz file")
    with tempfile.TemporaryDirectory(prefix="kit-verify-") as tmp:
        written = safe_extract(source, Path(tmp))
        manifests = [p for p in written if p.name == RESULTS_MANIFEST and p.parent.parent == Path(tmp).resolve()]
        if len(manifests) != 1:
            return VerifyReport(str(source), False, problems=[f"no top-level {RESULTS_MANIFEST} in the tarball"])
        top = manifests[0].parent
        try:
            manifest = ResultsManifest.from_json(json.loads(manifests[0].read_text()))
        except (ValueError, RecordError):
            return VerifyReport(str(source), False, problems=[f"{RESULTS_MANIFEST} is not valid"])
        report = VerifyReport(str(source), True, len(manifest.files), manifest=manifest)
        present = {str(p.relative_to(top)) for p in written if p != manifests[0]}
        for arc, entry in sorted(manifest.files.items()):
            path = top / arc
            if arc not in present:
                report.problems.append(f"{arc}: listed in the manifest but missing")
            elif sha256_file(path) != entry.sha256:
                report.problems.append(f"{arc}: sha256 mismatch (manifest {entry.sha256[:12]}…, "
                                       f"file {sha256_file(path)[:12]}…)")
        for extra in sorted(present - set(manifest.files)):
            report.problems.append(f"{extra}: in the tarball but not in the manifest")
        report.ok = not report.problems
        return report
