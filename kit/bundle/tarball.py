"""Results tarballs: writing one with a sha256 manifest, verifying one on the receiving side.

Extraction and the check against the manifest (kit.infra.archive) are the ones `merge` uses.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from kit import __version__
from kit.infra.archive import FileSum, ResultsCheck, ResultsManifest, check_results, extraction_dir, safe_extract
from kit.infra.files import atomic_path, sha256_file
from kit.rundir import RESULTS_MANIFEST

__all__ = ["safe_extract", "verify_tarball", "write_results_tarball"]


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


def verify_tarball(source: Path) -> ResultsCheck:
    """Recompute every file's sha256 against the tarball's manifest.json (the check `merge` applies too)."""
    with extraction_dir("kit-verify-") as tmp:
        return check_results(source, tmp)
