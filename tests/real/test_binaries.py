"""`ensemble-kit binaries stage`: the copy, its manifest, the tarball shipping it, and the
pipeline picking it in the DESIGN §4 order (proved in a temporary kit root)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
from pathlib import Path

import pytest

import make_tarball
from kit.infra.host import platform_tag
from kit.media.ffmpeg import describe, imageio_binary, resolve_ffmpeg, staged_binary
from kit.platforms.binaries import choose_source, stage_ffmpeg
from tests.conftest import ROOT, assert_clean_failure, run_kit


def make_kit_root(dest: Path) -> Path:
    """A copy of the kit as make_tarball.py would see it, without any staged binary."""
    for src in (ROOT / "kit").rglob("*.py"):
        target = dest / src.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    for name in ("pyproject.toml", "install.py", "install_python.py", "install_steps.py", "requirements-frozen.txt",
                 "requirements-train.txt", "requirements-torch.txt", "README.md", "binaries/README.md"):
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest / name)
    return dest


def wrapper_ffmpeg(path: Path, ffmpeg: str) -> Path:
    """A small stand-in for an ffmpeg build: it runs the real one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\nexec '{ffmpeg}' \"$@\"\n")
    path.chmod(0o755)
    return path


@pytest.fixture()
def staged_root(tmp_path: Path, ffmpeg: str) -> tuple[Path, Path]:
    root = make_kit_root(tmp_path / "kit root")
    src = wrapper_ffmpeg(tmp_path / "builds" / "ffmpeg-vmaf", ffmpeg)
    res = run_kit("binaries", "stage", "--from", src, "--root", root)
    assert res.returncode == 0, res.stderr
    assert f"staged {staged_binary(root)}" in res.stdout and "libvmaf yes" in res.stdout
    return root, src


def test_stage_copies_the_binary_and_writes_its_manifest(staged_root: tuple[Path, Path]) -> None:
    root, src = staged_root
    staged = root / "binaries" / platform_tag() / "ffmpeg"
    assert staged.read_bytes() == src.read_bytes() and os.access(staged, os.X_OK)
    manifest = json.loads((staged.parent / "manifest.json").read_text())
    assert manifest["sha256"] == hashlib.sha256(staged.read_bytes()).hexdigest()
    assert manifest["build"] == describe(src, "x").build and manifest["has_libvmaf"] is True
    assert manifest["source"] == "--from" and manifest["source_path"] == str(src)
    assert manifest["platform"] == platform_tag() and "libx264" in manifest["kit_encoders"]


def test_resolution_prefers_the_staged_binary_after_explicit_choices(
        staged_root: tuple[Path, Path], ffmpeg: str, monkeypatch: pytest.MonkeyPatch) -> None:
    root, _ = staged_root
    info = resolve_ffmpeg(None, root)
    assert info.source == f"binaries/{platform_tag()}" and info.path == str(staged_binary(root))
    assert resolve_ffmpeg(ffmpeg, root).source == "--ffmpeg"
    monkeypatch.setenv("KIT_FFMPEG", ffmpeg)
    assert resolve_ffmpeg(None, root).source == "KIT_FFMPEG"


def test_the_tarball_ships_the_staged_binary_and_manifest(staged_root: tuple[Path, Path], tmp_path: Path) -> None:
    root, _ = staged_root
    archive = make_tarball.build(tmp_path / "dist", root)
    top = archive.name.removesuffix(".tar.gz")
    with tarfile.open(archive) as tar:
        members = {m.name: m for m in tar.getmembers()}
    binary = members[f"{top}/binaries/{platform_tag()}/ffmpeg"]
    assert binary.mode == 0o755
    assert f"{top}/binaries/{platform_tag()}/manifest.json" in members


def test_the_pipeline_uses_the_staged_binary(staged_root: tuple[Path, Path], tmp_path: Path) -> None:
    root, _ = staged_root
    out = tmp_path / "out"
    res = run_kit("step", "prereqs", "--out-dir", out, "--encoders", "libx264", cwd=root,
                  env={"PYTHONPATH": str(root), "KIT_CACHE_DIR": str(tmp_path / "cache")})
    assert res.returncode == 0, res.stdout + res.stderr
    ff = json.loads((out / "01_prereqs" / "prereqs.json").read_text())["ffmpeg"]
    assert ff["source"] == f"binaries/{platform_tag()}" and ff["path"] == str(staged_binary(root))


def test_default_source_is_path_ffmpeg_with_libvmaf_else_imageio(
        tmp_path: Path, ffmpeg: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    assert choose_source(None) == (imageio_binary(), "imageio-ffmpeg")
    on_path = wrapper_ffmpeg(tmp_path / "bin" / "ffmpeg", ffmpeg)
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert choose_source(None) == (on_path, "PATH")


def test_staging_the_real_bundled_binary(tmp_path: Path) -> None:
    src, source = choose_source(Path(str(imageio_binary())))
    staged = stage_ffmpeg(src, source, tmp_path)
    assert staged.path == staged_binary(tmp_path) and staged.info.has_libvmaf
    assert staged.path.stat().st_size == src.stat().st_size and os.access(staged.path, os.X_OK)
    assert not list(staged.path.parent.glob(".tmp-*"))


def test_stage_refuses_a_missing_binary_or_one_without_libvmaf(tmp_path: Path) -> None:
    res = run_kit("binaries", "stage", "--from", tmp_path / "nope", "--root", tmp_path / "root")
    assert_clean_failure(res, "no ffmpeg to stage at", "nope")
    fake = tmp_path / "ffmpeg-novmaf"
    fake.write_text("#!/bin/sh\n[ \"$2\" = -version ] && echo 'ffmpeg version 6.0-fake' && echo 'configuration: x'\n"
                    "exit 0\n")
    fake.chmod(0o755)
    res = run_kit("binaries", "stage", "--from", fake, "--root", tmp_path / "root")
    assert_clean_failure(res, "has no libvmaf filter")
    assert not (tmp_path / "root" / "binaries").exists()
