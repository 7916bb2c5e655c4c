"""A shared out-dir is a security boundary (issue 24 A): a link, pipe or folder planted at any path the kit writes
in a run, a merge or its cache is refused with exit 2 naming the path, and no target changes."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kit.cli.main import cli
from kit.corpus.jobs import JobRunner, Provenance, plan_jobs
from kit.corpus.shared import SharedDecodes
from kit.errors import InputError
from kit.infra.tree import Tree
from kit.media.cache import Sha256Cache
from kit.media.discovery import discover
from kit.rundir import RunDir
from kit.steps import runner
from tests.conftest import FAST, LENIENT, TINY_SOURCES, render, run_kit

pytestmark = pytest.mark.slow  # one whole run (shared), then one refused run per planted path


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def run_args(out: Path, refs: Path) -> list[str | Path]:
    return ["run", "--ref-dir", refs, "--out-dir", out, "--box-id", "jsonbox", *FAST, *LENIENT]


def fingerprint(tree: Path) -> dict[str, str]:
    """Every file below `tree` with its sha256 and mode: what a write through a link would change."""
    found = {}
    for path in sorted(tree.rglob("*")):
        if path.is_file():
            st = path.stat()
            found[path.relative_to(tree).as_posix()] = f"{hashlib.sha256(path.read_bytes()).hexdigest()} {st.st_mode}"
    return found


@pytest.fixture()
def victims(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A file and a folder a neighbour would like the kit to write into; checked unchanged after each case."""
    folder = tmp_path / "victims"
    (folder / "dir").mkdir(parents=True)
    (folder / "dir" / "canary").write_text("canary\n")
    (folder / "passwd").write_text("root:x:0:0\n")
    before = fingerprint(folder)
    yield folder / "passwd", folder / "dir"
    assert fingerprint(folder) == before
    assert sorted(p.name for p in (folder / "dir").iterdir()) == ["canary"]


@pytest.fixture()
def finished(json_run: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(json_run[0], out, symlinks=True)
    return out


def plant(path: Path, victims: tuple[Path, Path], kind: str) -> None:
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to(victims[1] if kind == "dirlink" else victims[0])


def assert_refused(res: Result, path: Path) -> None:
    assert res.exit_code == 2, res.output
    errors = [ln for ln in res.output.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and str(path) in errors[0], res.output
    assert "Traceback" not in res.output


def test_a_link_at_any_path_of_a_finished_run_is_refused_before_any_work(
        finished: Path, tiny_refs: Path, victims: tuple[Path, Path], tmp_path: Path) -> None:
    paths = sorted(finished.rglob("*"), key=lambda p: (len(p.parts), p.as_posix()))
    assert len(paths) > 40 and (finished / ".lock").is_file()
    aside = tmp_path / "aside"
    for path in paths:
        kinds = ["dirlink"] if path.is_dir() else ["link", "fifo"] if path.parent == finished / "03_loso" else ["link"]
        for kind in kinds:
            path.rename(aside)
            plant(path, victims, kind)
            try:
                assert_refused(invoke(*run_args(finished, tiny_refs)), path)
            finally:
                path.unlink()
                aside.rename(path)


def test_each_step_refuses_a_link_at_the_file_it_writes_even_past_the_first_check(
        json_run: tuple[Path, subprocess.CompletedProcess[str]], tiny_refs: Path, victims: tuple[Path, Path],
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Planted after the run's first scan (here: with the scan switched off), each write still checks its path.

    Each case on a fresh copy of the finished run: a refused step is not complete, and the next would say so."""
    monkeypatch.setattr(runner, "check_planted", lambda tree, run, selection: None)
    layout = RunDir(Path())
    cases = [(layout.prereqs_json, "prereqs"), (layout.shard_manifest, "corpus"), (layout.loso_seed(1), "loso"),
             (layout.log("loso"), "loso"), (layout.verdict_file("PROMOTE"), "verdict"), (layout.report, "bundle"),
             (layout.exports, "bundle"), (layout.members, "loso")]  # members/: where LOSO keeps each member
    for n, (rel, step) in enumerate(cases):
        out = tmp_path / f"case{n}"
        shutil.copytree(json_run[0], out, symlinks=True)
        path = out / rel
        if path.exists():
            (shutil.rmtree if path.is_dir() else Path.unlink)(path)
        path.symlink_to(victims[1] if rel in (layout.exports, layout.members) else victims[0])
        assert_refused(invoke(*run_args(out, tiny_refs), "--only", step, "--force"), path)


def test_the_issues_two_cases_in_a_real_process(finished: Path, tiny_refs: Path, victims: tuple[Path, Path]) -> None:
    """`ln -s /etc/passwd OUT/.lock`, `ln -s ~/victim OUT/03_loso/logs/loso.log`: as the issue ran them."""
    lock, log = finished / ".lock", RunDir(finished).log("loso")
    for path, extra in ((lock, []), (log, ["--from", "loso"])):
        path.unlink()
        path.symlink_to(victims[0])
        res = run_kit(*run_args(finished, tiny_refs), *extra)
        assert res.returncode == 2 and f"error: {path} is a symbolic link to {victims[0]}" in res.stderr, res.stderr
        path.unlink()


def test_a_link_in_the_cache_is_refused(tiny_refs: Path, victims: tuple[Path, Path], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("KIT_CACHE_DIR", str(cache))
    (cache / "sha256.json").symlink_to(victims[0])
    out = tmp_path / "out"
    res = invoke(*run_args(out, tiny_refs), "--only", "prereqs")
    assert res.exit_code == 0, res.output
    assert_refused(invoke(*run_args(out, tiny_refs), "--only", "corpus"), cache / "sha256.json")
    (cache / "sha256.json").unlink()
    probes = next(cache.glob("probes/*.json"))
    probes.unlink()
    probes.symlink_to(victims[0])
    assert_refused(invoke(*run_args(out, tiny_refs), "--only", "prereqs", "--force"), probes)
    shutil.rmtree(cache / "probes")
    (cache / "probes").symlink_to(victims[1])
    assert_refused(invoke(*run_args(out, tiny_refs), "--only", "prereqs", "--force"), cache / "probes")


@pytest.mark.parametrize("planted", ["out", "manifest", "journal", "lock"])
def test_merge_refuses_a_link_at_what_it_writes(finished: Path, victims: tuple[Path, Path], tmp_path: Path,
                                               planted: str) -> None:
    out = tmp_path / "merged" / "union.parquet"
    out.parent.mkdir()
    path = {"out": out, "manifest": out.with_name("union.manifest.json"),
            "journal": out.with_name(".union.parquet.merge-commit.json"),
            "lock": out.with_name(".union.parquet.merge-lock")}[planted]
    path.symlink_to(victims[0])
    res = invoke("merge", RunDir(finished).shard, "-o", out)
    assert_refused(res, path)
    assert sorted(p.name for p in out.parent.iterdir()) == [path.name]


def test_a_link_where_a_master_is_decoded_for_its_jobs_is_refused(
        ffmpeg: str, victims: tuple[Path, Path], tmp_path: Path) -> None:
    """02_corpus/work/decoded/<clip>/ (kit.corpus.shared) is made after the run's first scan: a link planted at
    it, or at the clip's folder, mid-run is refused naming it, and no job writes through it."""
    refs = tmp_path / "refs"
    render(ffmpeg, TINY_SOURCES["alpha"], refs / "alpha.mp4", fmt="mp4", extra=("-c:v", "libx264"))
    (clip,) = discover(refs, ffmpeg, Sha256Cache(None))
    prov = Provenance("box", "linux-x86_64", "cpu", ffmpeg, "9", "9+x", "3.0")
    for n, planted_at in enumerate(("decoded", "clip")):
        out = tmp_path / f"out{n}"
        tree = Tree.open(out)
        run = RunDir(out)
        jobs = plan_jobs([clip], {"libx264": [25, 37]})
        shared = SharedDecodes(tree, jobs, run.decoded_refs, lambda line: None)
        path = run.decoded_refs if planted_at == "decoded" else shared.clips[clip.path].folder
        path.parent.mkdir(parents=True)
        path.symlink_to(victims[1])
        runner = JobRunner(ffmpeg=ffmpeg, prov=prov, tree=tree, jobs_dir=run.jobs, work_dir=run.corpus_work,
                           vmaf_threads=1,
                           encoder_threads=1, sessions={}, log=lambda line: None, shared=shared)
        for job in jobs:  # the second job of the batch is refused too, not run on its own
            with pytest.raises(InputError, match=re.escape(str(path))):
                runner.run(job)
        assert not list(run.jobs.glob("*.parquet"))
