"""Every door of a file that decides the verdict or names a program holds it to the one trust rule (issue 52,
item 2: kit.infra.perms.untrusted): --settings, --corpus, --teacher, --content-groups, --incumbent, --ffmpeg and
KIT_FFMPEG, the ffmpeg in binaries/<os>-<arch>/, and the ffmpeg prereqs.json names. Each file here sits where it
was used before: a folder only its owner can write, but the owner another user (os.chown: the tests run as root in
CI), or a file of another user's in a sticky world-writable folder. The CLI runs in this process (run_here); each
refusal comes before any work, and a planted ffmpeg never runs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kit.errors import InputError
from kit.media.ffmpeg import FFmpegInfo
from tests.conftest import assert_clean_failure, run_here
from tests.kitfiles import shard_table, write_shard, write_tiny_model

NOBODY = 65534
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="giving files to another user needs root")
RULE = "the kit uses it only when nobody but you or root can change it or a folder above it"


def theirs(folder: Path) -> Path:
    """`folder`, made 0755 and given to another user: only she can write in it."""
    folder.mkdir(parents=True, mode=0o755)
    os.chown(folder, NOBODY, NOBODY)
    return folder


def planted_ffmpeg(path: Path) -> Path:
    """A script that leaves a mark when it runs: the planted ffmpeg must never run."""
    path.write_text(f"#!/bin/sh\ntouch {path.parent.parent / 'RAN'}\nexit 1\n")
    path.chmod(0o755)
    return path


def test_settings_in_another_users_folder_are_refused(tmp_path: Path) -> None:
    """A --settings file was trusted when its own folder was not group/other-writable, whoever owned the folder."""
    folder = tmp_path / "shared"
    folder.mkdir()
    settings = folder / "run.json"
    settings.write_text(json.dumps({"settings": {"out_dir": str(tmp_path / "o")}}))
    os.chown(folder, NOBODY, NOBODY)
    res = run_here("run", "--settings", settings, "--out-dir", tmp_path / "o")
    assert_clean_failure(res, f"--settings {settings} lies below {folder}, which belongs to user nobody")
    assert not (tmp_path / "o").exists()


def test_a_corpus_below_another_users_folder_is_refused(tmp_path: Path) -> None:
    corpus = write_shard(tmp_path / "theirs" / "union.parquet", shard_table(n_src=5, rows_per_src=40))
    os.chown(tmp_path / "theirs", NOBODY, NOBODY)  # 0755: only she can write there
    res = run_here("step", "loso", "--corpus", corpus, "--out-dir", tmp_path / "o", "--seeds", "0")
    assert_clean_failure(res, f"--corpus {corpus} lies below {tmp_path / 'theirs'}, which belongs to user nobody", RULE)
    assert not (tmp_path / "o" / "03_loso" / "status.json").exists()


def test_an_incumbent_of_another_user_in_a_world_writable_folder_is_refused(tmp_path: Path) -> None:
    corpus = write_shard(tmp_path / "mine" / "union.parquet", shard_table(n_src=5, rows_per_src=40))
    drop = tmp_path / "drop"
    drop.mkdir()
    drop.chmod(0o1777)
    (drop / "ensemble.json").write_text(json.dumps({"members": [
        {"seed": 0, "onnx": "m.onnx", "sidecar": "", "sha256": "", "parity_max_abs_diff": 0.0}]}))
    (drop / "m.onnx").write_bytes(b"not a model")
    for made in (drop / "ensemble.json", drop / "m.onnx"):
        os.chown(made, NOBODY, NOBODY)
    res = run_here("step", "loso", "--corpus", corpus, "--incumbent", drop, "--out-dir", tmp_path / "o",
                   "--seeds", "0")
    assert_clean_failure(res, f"--incumbent {drop / 'ensemble.json'} belongs to user nobody (-rw-r--r--)", RULE)


def test_a_teacher_model_of_another_user_in_a_world_writable_folder_is_refused(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    drop.chmod(0o1777)
    model = drop / "vmaf_v1.json"
    write_tiny_model(model)  # a model libvmaf loads: refused for whose it is alone
    os.chown(model, NOBODY, NOBODY)
    res = run_here("step", "prereqs", "--teacher", model, "--out-dir", tmp_path / "o", "--encoders", "libx264")
    assert_clean_failure(res, f"--teacher {model} belongs to user nobody (-rw-r--r--)", RULE)


def test_content_groups_of_another_user_are_refused_by_merge(tmp_path: Path) -> None:
    corpus = write_shard(tmp_path / "mine" / "shard.parquet", shard_table(n_src=3, rows_per_src=20))
    groups = theirs(tmp_path / "theirs") / "groups.json"
    groups.write_text(json.dumps({"same": [["s0", "s1"]]}))
    os.chown(groups, NOBODY, NOBODY)
    res = run_here("merge", corpus, "--content-groups", groups, "-o", tmp_path / "merged.parquet")
    assert_clean_failure(res, f"--content-groups {groups} lies below {tmp_path / 'theirs'}", RULE)
    assert not (tmp_path / "merged.parquet").exists()


@pytest.mark.parametrize("how", ["--ffmpeg", "KIT_FFMPEG"])
def test_a_planted_ffmpeg_never_runs(tmp_path: Path, how: str) -> None:
    ffmpeg = planted_ffmpeg(theirs(tmp_path / "theirs") / "ffmpeg")
    args: list[str | Path] = ["step", "prereqs", "--out-dir", tmp_path / "o"]
    res = run_here(*args, "--ffmpeg", ffmpeg) if how == "--ffmpeg" else run_here(*args, env={"KIT_FFMPEG": str(ffmpeg)})
    # issue 60: the door the user took is named (KIT_FFMPEG is --ffmpeg's variable, once said as the flag)
    assert_clean_failure(res, f"{how} {ffmpeg} lies below {tmp_path / 'theirs'}, which belongs to user nobody")
    assert how == "--ffmpeg" or "--ffmpeg" not in res.stderr.partition("hint:")[0], res.stderr
    assert not (tmp_path / "RAN").exists()
    res = run_here("ffmpeg", "-version", env={"KIT_FFMPEG": str(ffmpeg)})  # `ensemble-kit ffmpeg` too
    assert res.returncode == 2 and f"KIT_FFMPEG {ffmpeg} lies below" in res.stderr, res.stderr
    assert not (tmp_path / "RAN").exists()


def test_the_kits_own_ffmpeg_in_binaries_and_the_one_prereqs_json_names_are_held_to_the_rule(tmp_path: Path) -> None:
    from kit.infra.host import platform_tag
    from kit.media.ffmpeg import resolve_ffmpeg
    from kit.platforms.binaries import check_named

    staged = planted_ffmpeg(theirs(tmp_path / "kit" / "binaries" / platform_tag()) / "ffmpeg")
    with pytest.raises(InputError, match=f"the kit's ffmpeg {staged} lies below .*belongs to user nobody"):
        resolve_ffmpeg(None, root=tmp_path / "kit")
    assert not (tmp_path / "kit" / "binaries" / "RAN").exists()
    for source in ("--ffmpeg", f"binaries/{platform_tag()}"):
        with pytest.raises(InputError, match=r"lies below .*belongs to user nobody"):
            check_named(FFmpegInfo(str(staged), source, "7.1", "b", True, ()))
    on_path = FFmpegInfo(str(staged), "PATH", "7.1", "b", True, ())
    assert check_named(on_path) == on_path  # PATH's is the environment's, not a file someone named


def test_binaries_stage_never_runs_or_ships_a_planted_ffmpeg(tmp_path: Path) -> None:
    ffmpeg = planted_ffmpeg(theirs(tmp_path / "theirs") / "ffmpeg")
    res = run_here("binaries", "stage", "--from", ffmpeg, "--root", tmp_path / "kit")
    assert_clean_failure(res, f"binaries stage --from {ffmpeg} lies below {tmp_path / 'theirs'}", RULE)
    assert not (tmp_path / "RAN").exists() and not (tmp_path / "kit" / "binaries").exists()
