"""Ordinary path problems are the user's to fix: exit 2, the path named, a fix, never a traceback.

Real conditions where the box allows them: a read-only tmpfs mount (this suite runs as root, which
ignores permission bits), a regular file where a folder belongs, a 300-character name, stdout closed.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kit.cli.guard import as_user_error, exit_code_for
from kit.errors import EXIT_BAD_INPUT, EXIT_INTERNAL
from tests.conftest import ROOT, assert_clean_failure, run_here, run_kit


@pytest.fixture(scope="module")
def read_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A read-only file system (tmpfs mounted ro): a real EROFS for every write below it."""
    where = tmp_path_factory.mktemp("ro")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(where)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], capture_output=True)


def out_dirs(tmp: Path, ro: Path) -> dict[str, tuple[Path, str]]:
    (tmp / "a-file").write_text("x")
    return {
        "out-dir is a regular file": (tmp / "a-file", "is a file, not a folder"),
        "out-dir below a regular file": (tmp / "a-file" / "out", "a part of the path is a file"),
        "out-dir on a read-only file system": (ro / "out", "read-only"),
        "out-dir under a folder that cannot be written": (ro / "deep" / "er", "read-only"),
        "out-dir with a 300-character name": (tmp / ("n" * 300), "too long"),
    }


@pytest.mark.parametrize("case", ["out-dir is a regular file", "out-dir below a regular file",
                                  "out-dir on a read-only file system", "out-dir under a folder that cannot be written",
                                  "out-dir with a 300-character name"])
def test_an_unusable_out_dir_is_bad_input_naming_it(case: str, read_only: Path, tmp_path: Path) -> None:
    out, needle = out_dirs(tmp_path, read_only)[case]
    res = run_kit("run", "--out-dir", out, "--cqs", "25,37")
    assert_clean_failure(res, needle, str(out.parent))  # the folder it could not make or write is named


@pytest.mark.parametrize("target", ["ro", "below-file"])
def test_merge_into_a_folder_it_cannot_write_is_bad_input(target: str, read_only: Path, tmp_path: Path,
                                                          json_run: tuple[Path, object]) -> None:
    out = read_only / "m.parquet" if target == "ro" else tmp_path / "a-file" / "m.parquet"
    (tmp_path / "a-file").write_text("x")
    res = run_kit("merge", json_run[0] / "02_corpus" / "shard.parquet", "-o", out)
    assert_clean_failure(res, str(out.parent if target == "ro" else tmp_path / "a-file"))


def test_a_read_only_cache_with_the_demo_set_says_set_kit_cache_dir(read_only: Path, tmp_path: Path) -> None:
    res = run_kit("run", "--out-dir", tmp_path / "out", "--cqs", "25,37", "--demo-clips", "4",
                  env={"KIT_CACHE_DIR": str(read_only / "cache")})
    assert_clean_failure(res, "the kit's cache", str(read_only))
    assert "KIT_CACHE_DIR" in res.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user needs root")
@pytest.mark.parametrize("mode", [0o755, 0o777])
def test_a_kit_cache_dir_of_another_user_names_the_variable_and_a_folder_of_ones_own(tmp_path: Path,
                                                                                    mode: int) -> None:
    """Issue 60: a KIT_CACHE_DIR of another user's (or one anyone can write) was refused with an out-dir's hint
    ("choose another out-dir"), though the user chose the folder through KIT_CACHE_DIR."""
    cache = tmp_path / "cache"
    cache.mkdir(mode=mode)
    cache.chmod(mode)
    os.chown(cache, 65534 if mode == 0o755 else 0, 65534 if mode == 0o755 else 0)
    res = run_here("step", "prereqs", "--out-dir", tmp_path / "out", env={"KIT_CACHE_DIR": str(cache)})
    assert_clean_failure(res, f"error: KIT_CACHE_DIR {cache} ", "a folder of your own")
    hint = res.stderr.partition("hint: ")[2]
    assert "set it to a folder of your own" in hint and "out-dir" not in hint, res.stderr


def test_a_run_without_home_still_finds_a_cache_or_says_how(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("HOME", "KIT_CACHE_DIR")}
    code = "from kit.infra.host import cache_dir; print(cache_dir())"
    res = subprocess.run([sys.executable, "-c", code], env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True,
                         text=True, cwd=ROOT)
    if res.returncode == 0:
        assert Path(res.stdout.strip()).is_absolute(), res.stdout  # from the password database
    else:
        assert "KIT_CACHE_DIR" in res.stderr and "Traceback" not in res.stderr


def test_detect_with_stdout_closed_is_bad_input_not_a_bug(tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "kit", "detect"], cwd=ROOT, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         preexec_fn=lambda: os.close(1))
    assert res.returncode == 2, res.stderr
    assert "standard output" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize(("err", "path", "user"), [
    (errno.EACCES, "/srv/out/x.json", True), (errno.EPERM, "/srv/out", True), (errno.EROFS, "/mnt/ro/x", True),
    (errno.ENAMETOOLONG, "/tmp/" + "n" * 300, True), (errno.ENOTDIR, "/tmp/file/out", True),
    (errno.EISDIR, "/tmp/dir", True), (errno.EEXIST, "/tmp/file", True), (errno.ELOOP, "/tmp/loop", True),
    (errno.EIO, "/mnt/nfs/x", True),
    # the kit made or checked these paths itself, or no path is named: a bug, traceback kept
    (errno.ENOENT, "/tmp/out/02_corpus/jobs/x.json", False), (errno.EINVAL, "/tmp/x", False),
    (errno.EACCES, None, False),
])
def test_the_oserror_rule(err: int, path: str | None, user: bool) -> None:
    exc = OSError(err, os.strerror(err), path) if path else OSError(err, os.strerror(err))
    assert exit_code_for(exc) == (EXIT_BAD_INPUT if user else EXIT_INTERNAL)
    found = as_user_error(exc)
    assert (found is not None) == user
    if found is not None:
        assert (path or "")[:30] in found.message and found.hint


def test_a_cache_path_error_points_at_kit_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIT_CACHE_DIR", str(tmp_path / "cache"))
    found = as_user_error(OSError(errno.EACCES, "Permission denied", str(tmp_path / "cache" / "probes" / "a.json")))
    assert found is not None and "KIT_CACHE_DIR" in found.hint and "(the kit's cache)" in found.message
    # its fixes: the folder's permissions mended (the same command then ends otherwise: retry:), or KIT_CACHE_DIR
    assert found.retry_helps and "fix its permissions" in found.hint


@pytest.mark.parametrize("code", sorted(errno.errorcode[c] for c in (errno.EROFS, errno.EACCES, errno.EPERM)))
def test_a_path_error_s_fix_is_one_that_can_work(tmp_path: Path, code: str) -> None:
    """A read-only file system is no question of permissions (a hostile tester's hint said "fix its permissions" of
    a read-only mount): each errno's hint names a fix that can work for it."""
    found = as_user_error(OSError(getattr(errno, code), os.strerror(getattr(errno, code)), str(tmp_path / "out")))
    assert found is not None
    assert ("remount it read-write" in found.hint and "permissions" not in found.hint) if code == "EROFS" else \
        "fix its permissions" in found.hint
