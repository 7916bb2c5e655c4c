"""Staging an ffmpeg and its manifest.json into binaries/<os>-<arch>/ for the kit tarball (used after --ffmpeg and
KIT_FFMPEG), and the ffmpeg a command runs: each held to the trust rule before it runs at all."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from kit import KIT_ROOT, __version__
from kit.errors import PrereqError
from kit.infra.clock import utc_iso
from kit.infra.files import expanded
from kit.infra.host import platform_tag
from kit.infra.perms import require_trusted
from kit.infra.tree import Rules, Tree
from kit.infra.variables import FFMPEG
from kit.media.ffmpeg import FFmpegInfo, check_ffmpeg, describe, imageio_binary, path_ffmpeg, staged_binary
from kit.platforms.encoders import ENCODER_NAMES

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class StagedBinary:
    path: Path
    manifest_path: Path
    info: FFmpegInfo
    sha256: str
    source: str


def check_named(info: FFmpegInfo) -> FFmpegInfo:
    """An ffmpeg the prereqs step chose, held to the trust rule again when it came from where resolve_ffmpeg checks."""
    staged = info.source.startswith("binaries/")
    if staged or info.source in ("--ffmpeg", FFMPEG.name):
        require_trusted(Path(info.path), "the kit's ffmpeg" if staged else info.source)
    return info


def choose_source(from_path: Path | None) -> tuple[Path, str]:
    """The ffmpeg to stage: the given one, else PATH's if it has libvmaf, else imageio-ffmpeg's."""
    if from_path is not None:
        return expanded(from_path, "--from"), "--from"
    if (info := path_ffmpeg()) is not None:
        return Path(info.path), "PATH"
    if (wheel := imageio_binary()) is not None:
        return wheel, "imageio-ffmpeg"
    raise PrereqError("no ffmpeg with libvmaf to stage (PATH has none and imageio-ffmpeg is not installed)",
                      hint="pass one with --from PATH, or run the set-up, install.py in the kit's folder (it "
                           "installs imageio-ffmpeg)")


def stage_ffmpeg(src: Path, source: str, root: Path = KIT_ROOT) -> StagedBinary:
    """Check `src` is an ffmpeg with libvmaf, copy it to binaries/<os>-<arch>/ and prove the copy runs."""
    if not src.is_file():
        raise PrereqError(f"no ffmpeg to stage at {src} (from {source})", hint="pass an ffmpeg binary with --from PATH")
    if source == "--from":  # run, then shipped in the kit: the user's program, which nobody else could change
        require_trusted(src.absolute(), "binaries stage --from")
    src = src.resolve()
    info = check_ffmpeg(src, source)
    dest = staged_binary(root)
    # binaries/<os>-<arch>/ is a folder of the kit's the user unpacked: held while written, not checked as the kit's
    with Tree.open(dest.parent, Rules(checked_root=False), label="the binaries folder") as tree:
        if not (dest.exists() and dest.samefile(src)):
            # atomic: a kill leaves no half binary; src is the user's own binary, a link to it followed
            with tree.atomic(dest, executable=True) as fh, open(src, "rb") as original:
                shutil.copyfileobj(original, fh)
        staged = describe(dest, f"binaries/{platform_tag()}")
        if staged.build != info.build:
            raise PrereqError(f"the staged copy {dest} reports build {staged.build}, not {info.build}",
                              hint=f"{src} may depend on files beside it; stage a static build with --from PATH")
        digest = tree.sha256(dest)
        manifest_path = dest.parent / MANIFEST
        tree.write_json(manifest_path, {
            "schema_version": 1, "platform": platform_tag(), "file": dest.name,
            "version": staged.version, "build": staged.build, "has_libvmaf": staged.has_libvmaf,
            "sha256": digest, "size_bytes": dest.stat().st_size, "source": source, "source_path": str(src),
            "kit_encoders": [e for e in ENCODER_NAMES if e in staged.encoders],
            "staged_at_utc": utc_iso(), "kit_version": __version__,
        })
    return StagedBinary(dest, manifest_path, staged, digest, source)
