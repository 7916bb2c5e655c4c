"""Bad input: exit 2, one line of cause naming the file or flag, a hint, no traceback."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.conftest import FAST, TINY_SOURCES, render, run_kit


def assert_clean_failure(res, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1, res.stderr
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    assert any(ln.startswith("hint: ") for ln in res.stderr.splitlines()), res.stderr


def test_empty_ref_dir(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    res = run_kit("run", "--ref-dir", empty, "--out-dir", tmp_path / "out", *FAST)
    assert_clean_failure(res, "no reference clips", str(empty))
    assert "retry: " in res.stderr
    # prereqs had completed and is kept
    assert (tmp_path / "out" / "01_prereqs" / "prereqs.json").is_file()


def test_nonexistent_ref_dir(tmp_path: Path) -> None:
    res = run_kit("run", "--ref-dir", tmp_path / "nope", "--out-dir", tmp_path / "out", *FAST)
    assert_clean_failure(res, "does not exist")


def test_truncated_yuv(tmp_path: Path, ffmpeg: str, tiny_refs: Path) -> None:
    refs = tmp_path / "refs"
    refs.mkdir()
    for p in tiny_refs.iterdir():
        (refs / p.name).symlink_to(p)
    yuv = render(ffmpeg, "testsrc2=s=176x144:r=25", refs / "Cut_176x144_25fps.yuv", fmt="rawvideo")
    yuv.write_bytes(yuv.read_bytes()[:-1000])
    res = run_kit("run", "--ref-dir", refs, "--out-dir", tmp_path / "out", *FAST)
    assert_clean_failure(res, "Cut_176x144_25fps.yuv", "38016 bytes each")


def test_missing_ffmpeg(tmp_path: Path, tiny_refs: Path) -> None:
    res = run_kit("run", "--ref-dir", tiny_refs, "--out-dir", tmp_path / "out", "--ffmpeg", tmp_path / "no-ffmpeg")
    assert_clean_failure(res, "ffmpeg not found", "no-ffmpeg")


def test_ffmpeg_not_executable(tmp_path: Path, tiny_refs: Path) -> None:
    fake = tmp_path / "ffmpeg"
    fake.write_text("not a program")
    fake.chmod(stat.S_IRUSR | stat.S_IWUSR)
    res = run_kit("run", "--ref-dir", tiny_refs, "--out-dir", tmp_path / "out", "--ffmpeg", fake)
    assert_clean_failure(res, "is not executable")


def test_ffmpeg_without_libvmaf(tmp_path: Path, tiny_refs: Path) -> None:
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\n[ \"$2\" = -version ] && echo 'ffmpeg version 6.0-fake' && echo 'configuration: x'\n"
                    "exit 0\n")
    fake.chmod(0o755)
    res = run_kit("run", "--ref-dir", tiny_refs, "--out-dir", tmp_path / "out", "--ffmpeg", fake)
    assert_clean_failure(res, "has no libvmaf filter")


@pytest.mark.parametrize(("flag", "value", "needle"), [
    ("--cqs", "19,abc", "--cqs"),
    ("--cqs", "19,99", "outside libx264's range 0..51"),
    ("--seeds", "0,x", "--seeds"),
    ("--seeds", "1,1", "repeats"),
    ("--encoders", "libx264,foo_enc", "unknown encoder 'foo_enc'"),
])
def test_bad_flags(tmp_path: Path, flag: str, value: str, needle: str) -> None:
    res = run_kit("run", "--out-dir", tmp_path / "out", flag, value)
    assert_clean_failure(res, needle)
    assert not (tmp_path / "out").exists()  # refused before anything ran


def test_fewer_than_three_sources(tmp_path: Path, tiny_refs: Path) -> None:
    refs = tmp_path / "two"
    refs.mkdir()
    for name in list(TINY_SOURCES)[:2]:
        (refs / f"{name}.y4m").symlink_to(tiny_refs / f"{name}.y4m")
    res = run_kit("run", "--ref-dir", refs, "--out-dir", tmp_path / "out", *FAST)
    assert_clean_failure(res, "2 distinct source(s)", "at least 3")


def test_same_content_under_two_names(tmp_path: Path, tiny_refs: Path) -> None:
    refs = tmp_path / "dup"
    refs.mkdir()
    for p in tiny_refs.iterdir():
        (refs / p.name).symlink_to(p)
    (refs / "copy.y4m").write_bytes((tiny_refs / "alpha.y4m").read_bytes())
    res = run_kit("run", "--ref-dir", refs, "--out-dir", tmp_path / "out", *FAST)
    assert_clean_failure(res, "hold the same content")


def test_step_without_its_upstream(tmp_path: Path) -> None:
    res = run_kit("step", "loso", "--out-dir", tmp_path / "out")
    assert_clean_failure(res, "02_corpus/shard.parquet is missing")
    assert "ensemble-kit step corpus" in res.stderr
