"""Results tarballs: writing one with a sha256 manifest, verifying one on the receiving side.

Extraction and the check against the manifest (kit.infra.archive) are the ones `merge` uses.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import BinaryIO

from kit import __version__
from kit.bundle.conformal import CALIBRATION_SUFFIX, model_problems
from kit.infra.archive import FileSum, ResultsCheck, ResultsManifest, check_results, extraction_dir
from kit.infra.tree import Tree
from kit.rundir import LAYOUT, RESULTS_MANIFEST

__all__ = ["verify_tarball", "write_results_tarball"]


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


class _Hashing:
    """A reader that hashes what passes through it: a file's sha256 comes from the bytes that were shipped."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh, self.sha = fh, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.sha.update(data)
        return data


def write_results_tarball(tree: Tree, dest: Path, top: str, files: dict[str, Path],
                          meta: dict[str, object]) -> ResultsManifest:
    """Write dest (.tar.gz) holding files under top/ plus top/manifest.json of their sha256s.

    Each file is opened through the out-dir's Tree, without following a link (a link planted in the out-dir must
    not ship what it points to), and hashed as it is copied, so the manifest describes exactly the bytes in the
    tarball.
    """
    sums: dict[str, FileSum] = {}
    with tree.atomic(dest) as out, tarfile.open(fileobj=out, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for arc, path in sorted(files.items()):
            with tree.open_read(path, trusted=False) as fh:
                info = tar.gettarinfo(arcname=f"{top}/{arc}", fileobj=fh)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mode = 0o644
                reader = _Hashing(fh)
                tar.addfile(info, reader)  # tarfile reads with .read(n) only
                sums[arc] = FileSum(reader.sha.hexdigest(), info.size)
        manifest = ResultsManifest("ensemble-kit-results", __version__, meta, sums)
        _add_bytes(tar, f"{top}/{RESULTS_MANIFEST}", json.dumps(manifest.to_json(), indent=2).encode())
    return manifest


def verify_tarball(source: Path) -> ResultsCheck:
    """Recompute every file's sha256 against the tarball's manifest.json (the check `merge` applies too), and
    check that each shipped calibration sidecar names the models it calibrates as they are in the tarball."""
    with extraction_dir("kit-verify") as tmp:
        report = check_results(source, tmp)
        if report.top is not None and report.manifest is not None:
            for arc in sorted(report.manifest.files):
                if arc.startswith(f"{LAYOUT.exports.as_posix()}/") and arc.endswith(CALIBRATION_SUFFIX) \
                        and (report.top / arc).is_file():
                    report.problems += model_problems(report.top / arc)
            report.ok = not report.problems
        return report
