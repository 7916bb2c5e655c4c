"""Resume bookkeeping, step selection, the out-dir lock, the CLI surface."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from kit.errors import InputError
from kit.infra.shown import Places
from kit.infra.tree import Tree
from kit.rundir import RunDir
from kit.steps import STEPS
from kit.steps.base import Plan
from kit.steps.runner import StepLog, out_dir_lock, select_steps, stale_reason, start_line, write_status
from kit.steps.settings import RunSettings
from tests.conftest import ROOT


def test_stale_reasons_say_why(tmp_path: Path, tree: Tree) -> None:
    step = STEPS[2]
    step_dir = tmp_path / step.dirname
    step_dir.mkdir()
    plan = Plan({"seeds": [0, 1]}, {"corpus": "aaa"})
    assert stale_reason(tree, RunDir(tmp_path), step.name, plan) == "not run yet in this out-dir"
    # every run opens the step's log before deciding
    log = StepLog(tree, RunDir(tmp_path).log(step.name), Places.of(tmp_path))
    log("planning")
    assert stale_reason(tree, RunDir(tmp_path), step.name, plan) == "not run yet in this out-dir"
    log(start_line(step.name, "not run yet in this out-dir"))  # LOSO writes nothing else until it ends
    log.close()
    assert stale_reason(tree, RunDir(tmp_path), step.name, plan) == \
        "started in this out-dir but did not complete (interrupted or failed)"
    RunDir(tmp_path).log(step.name).unlink()
    out = step_dir / "x.json"
    out.write_text("{}")  # what a step interrupted before its status.json leaves
    assert stale_reason(tree, RunDir(tmp_path), step.name, plan) == \
        "started in this out-dir but did not complete (interrupted or failed)"
    write_status(tree, step, RunDir(tmp_path), plan, [out], 0, "2026-11-27T00:00:00Z", 1.0, {})
    assert stale_reason(tree, RunDir(tmp_path), step.name, plan) is None
    assert stale_reason(tree, RunDir(tmp_path), step.name, Plan({"seeds": [0, 1, 2]}, {"corpus": "aaa"})) == \
        "setting seeds: [0, 1] -> [0, 1, 2]"
    assert stale_reason(tree, RunDir(tmp_path), step.name, Plan({"seeds": [0, 1]}, {"corpus": "bbb"})) == \
        "input corpus changed"
    out.write_text('{"edited": true}')
    assert stale_reason(tree, RunDir(tmp_path), step.name, plan) == "output 03_loso/x.json was modified"
    out.unlink()
    assert stale_reason(tree, RunDir(tmp_path), step.name, plan) == "output 03_loso/x.json is missing"


def test_a_new_kit_reruns_only_the_steps_whose_format_it_bumped(tmp_path: Path, tree: Tree,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A step's fingerprint holds its settings, inputs and the format versions of it and the steps before it: a
    new kit version alone reruns nothing; a bumped format reruns that step and the later ones, each saying which
    format changed (the steps before it stay up to date)."""
    from kit import __version__
    from kit.steps import runner

    run = RunDir(tmp_path)
    plans = {step.name: Plan({"seeds": [0, 1]}, {"corpus": "aaa"}) for step in STEPS}
    plans["corpus"] = Plan({}, {"clips": "c"}, formats={"corpus_job_rows": 4})
    for step in STEPS:
        run.step(step.name).mkdir()
        write_status(tree, step, run, plans[step.name], [], 0, "2026-11-27T00:00:00Z", 1.0, {})
    formats = {step.name: step.format_version for step in STEPS}
    through_loso = {k: formats[k] for k in ("prereqs", "corpus", "loso")}
    assert json.loads(run.status("loso").read_text())["formats"] == through_loso
    assert json.loads(run.status("corpus").read_text())["formats"] == {"prereqs": formats["prereqs"],
                                                                        "corpus": formats["corpus"],
                                                                        "corpus_job_rows": 4}
    monkeypatch.setattr(runner, "__version__", "9.9.9")  # a release that bumps no format
    assert [stale_reason(tree, run, s.name, plans[s.name]) for s in STEPS] == [None] * 5
    was = STEPS[3].format_version  # the verdict's
    monkeypatch.setattr(STEPS[3], "format_version", was + 1)
    assert [stale_reason(tree, run, s.name, plans[s.name]) for s in STEPS] == [
        None, None, None, f"format of step verdict: {was} -> {was + 1} (kit {__version__} -> 9.9.9)",
        f"format of step verdict: {was} -> {was + 1} (kit {__version__} -> 9.9.9)"]
    corpus = Plan({}, {"clips": "c"}, formats={"corpus_job_rows": 5})  # the jobs' rows: redone, so the step reruns
    assert stale_reason(tree, run, "corpus", corpus) == \
        f"format of corpus job rows: 4 -> 5 (kit {__version__} -> 9.9.9)"
    # a record of a kit before 2.0: its fingerprint held a hash of the kit's source, so the step reruns, once
    old = {k: v for k, v in json.loads(run.status("loso").read_text()).items() if k != "formats"}
    run.status("loso").write_text(json.dumps({**old, "fingerprint": "0" * 64, "kit_build": "3c1f5122db77ae07",
                                              "schema_version": 2, "kit_version": "1.0.5"}))
    assert stale_reason(tree, run, "loso", plans["loso"]) == \
        "recorded by kit 1.0.5, before fingerprints held format versions (a step so recorded reruns once)"


def test_step_selection() -> None:
    assert [s.name for s in select_steps(None, None, False, False).steps] == \
        ["prereqs", "corpus", "loso", "verdict", "bundle"]
    sel = select_steps(None, "loso", False, False)
    assert [s.name for s in sel.steps] == ["loso", "verdict", "bundle"] and sel.forced == {"loso"}
    assert [s.name for s in select_steps("verdict", None, False, False).steps] == ["verdict"]
    assert [s.name for s in select_steps(None, None, False, True).steps] == ["prereqs", "loso", "verdict", "bundle"]
    assert select_steps(None, None, True, False).forced == {s.name for s in STEPS}
    with pytest.raises(InputError):
        select_steps("loso", "corpus", False, False)


def test_step_selection_on_a_box_that_cannot_train() -> None:
    """No torch (or onnx): prereqs, corpus and the corpus's bundle; a step or run that must train is refused."""
    why = "torch cannot be imported"
    assert [s.name for s in select_steps(None, None, False, False, why).steps] == ["prereqs", "corpus", "bundle"]
    assert [s.name for s in select_steps(None, "corpus", False, False, why).steps] == ["corpus", "bundle"]
    assert [s.name for s in select_steps("bundle", None, False, False, why).steps] == ["bundle"]
    assert [s.name for s in select_steps("prereqs", None, False, True, why).steps] == ["prereqs"]
    for only, start, corpus in (("loso", None, False), ("verdict", None, False), (None, "loso", False),
                                (None, None, True)):
        with pytest.raises(InputError, match="trains, and this box cannot"):
            select_steps(only, start, False, corpus, why)


def test_second_run_on_one_out_dir_is_refused(tmp_path: Path) -> None:
    code = ("from pathlib import Path; from kit.steps.runner import out_dir_lock\n"
            "from kit.steps.settings import RunSettings\n"
            f"with out_dir_lock(RunSettings(out_dir=Path({str(tmp_path)!r}))): pass\n")
    with out_dir_lock(RunSettings(out_dir=tmp_path)):
        res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode != 0 and "in use by another run" in res.stderr
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr  # released: the next run gets it


EVERY_COMMAND = [["run"], ["step"], ["verify"], ["detect"], ["binaries"], ["binaries", "stage"], ["merge"],
                 ["corpus"], ["corpus", "info"], ["corpus", "export"], ["status"], ["slurm"], ["ray"], ["ffmpeg"]]


def test_help_is_fast_and_does_not_import_heavy_modules() -> None:
    """Every command's --help has examples and loads neither torch, onnx, pyarrow, pandas nor matplotlib."""
    code = ("import sys, json; from click.testing import CliRunner; from kit.cli.main import cli\n"
            f"for words in {EVERY_COMMAND!r} + [[]]:\n"
            "    r = CliRunner().invoke(cli, [*words, '--help']); assert r.exit_code == 0, (words, r.output)\n"
            "    assert 'Example' in r.output, words\n"
            "heavy = [m for m in ('torch', 'onnx', 'pyarrow', 'pandas', 'onnxruntime', 'matplotlib', 'scipy')\n"
            "         if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_status_of_an_out_dir_loads_no_training_or_table_library(tmp_path: Path) -> None:
    """`status` stays as light as --help: it plans the steps, and planning imports no torch, pyarrow or pandas.

    (An out-dir with a run's settings, where every step module is planned: tests/real/test_printed_commands.py.)"""
    (tmp_path / "out").mkdir()
    code = ("import sys; from click.testing import CliRunner; from kit.cli.main import cli\n"
            f"r = CliRunner().invoke(cli, ['status', {str(tmp_path / 'out')!r}]); assert r.exit_code == 0, r.output\n"
            "assert 'pending' in r.output, r.output\n"
            "heavy = [m for m in ('torch', 'onnx', 'pyarrow', 'pandas', 'onnxruntime', 'matplotlib', 'scipy',\n"
            "                     'numpy') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_the_verdict_step_loads_no_torch() -> None:
    """A run again with another gate flag redoes the verdict (and the bundle) alone: the verdict step and what it
    decides with import no torch (2 to 3 s of a verdict-only run: its correlation rule lived in kit.model.loso)."""
    code = ("import sys\nimport kit.steps.s04_verdict\nfrom kit.verdict.decide import undefined_correlation\n"
            "assert undefined_correlation([]) is None\n"
            "assert 'torch' not in sys.modules, [m for m in sys.modules if m.startswith('kit.model')]\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_every_command_is_covered_by_the_help_test() -> None:
    from kit.cli.main import cli

    def walk(group: click.Group, prefix: list[str]) -> list[list[str]]:
        found = []
        for name, cmd in group.commands.items():
            found.append([*prefix, name])
            if isinstance(cmd, click.Group):
                found += walk(cmd, [*prefix, name])
        return found

    assert sorted(walk(cli, [])) == sorted(EVERY_COMMAND)


def test_run_flags_have_kit_environment_twins(monkeypatch: pytest.MonkeyPatch) -> None:
    from kit.cli.flags import OWN
    from kit.cli.main import cli
    from kit.corpus.split import ShardSpec

    NO_ENV = tuple(f.name for f in OWN if f.envvar is None)  # one invocation's choices: never from a variable

    env = {"KIT_JOBS": "3", "KIT_SEEDS": "4,5", "KIT_CORPUS": "/c.parquet", "KIT_EPOCHS": "7", "KIT_JSON": "1",
           "KIT_MIN_MEAN_PLCC": "0.9", "KIT_DEMO_CLIPS": "2", "KIT_SHARD": "1/2", "KIT_WIDTH": "1280"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    run = cli.commands["run"]
    ctx = run.make_context("run", [])
    assert (ctx.params["jobs"], ctx.params["seeds"], str(ctx.params["corpus"]), ctx.params["epochs"]) == \
        (3, (4, 5), "/c.parquet", 7)
    assert ctx.params["json_mode"] is True and ctx.params["min_mean_plcc"] == 0.9
    assert ctx.params["shard"] == ShardSpec(1, 2)
    assert run.make_context("run", ["--jobs", "5"]).params["jobs"] == 5  # a flag beats its variable
    options = [p for p in run.params if isinstance(p, click.Option) and p.name not in ("help",)]
    missing = [p.name for p in options if p.name not in NO_ENV and not p.envvar]
    assert not missing, missing
    assert all(not p.envvar for p in options if p.name in NO_ENV)  # --from/--only/--force: never from the env


def test_shell_completion_works_as_documented() -> None:
    env = {**os.environ, "_ENSEMBLE_KIT_COMPLETE": "bash_source"}
    res = subprocess.run([sys.executable, "-m", "kit"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert res.returncode == 0 and "complete -o nosort -F _ensemble_kit_completion ensemble-kit" in res.stdout
    env = {**os.environ, "_ENSEMBLE_KIT_COMPLETE": "bash_complete", "COMP_WORDS": "ensemble-kit st", "COMP_CWORD": "1"}
    res = subprocess.run([sys.executable, "-m", "kit"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert res.stdout.split() == ["plain,status", "plain,step"]


def test_version_flag() -> None:
    res = subprocess.run([sys.executable, "-m", "kit", "--version"], cwd=ROOT, capture_output=True, text=True)
    from kit import __version__

    assert res.returncode == 0 and __version__ in res.stdout


@pytest.mark.parametrize("entry", [["-m", "kit.run_full_pipeline"], ["kit/run_full_pipeline.py"], ["-m", "kit", "run"]])
def test_every_entry_point_is_the_one_command(entry: list[str]) -> None:
    res = subprocess.run([sys.executable, *entry, "--help"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "--ref-dir" in res.stdout and "--min-mean-plcc" in res.stdout


def test_a_changed_dict_setting_names_only_the_changed_key(tmp_path: Path, tree: Tree) -> None:
    step = STEPS[3]
    step_dir = tmp_path / step.dirname
    step_dir.mkdir()
    old = Plan({"gate": {"mean_plcc_min": 0.95, "plcc_spread_max": 0.005}}, {})
    write_status(tree, step, RunDir(tmp_path), old, [], 0, "2026-11-27T00:00:00Z", 1.0, {})
    new = Plan({"gate": {"mean_plcc_min": 0.97, "plcc_spread_max": 0.005}}, {})
    assert stale_reason(tree, RunDir(tmp_path), step.name, new) == "setting gate.mean_plcc_min: 0.95 -> 0.97"


def test_the_printed_retry_command_is_the_one_that_was_run(tmp_path: Path) -> None:
    """Printed when the same command can end otherwise (the out-dir held by another run), as it was run."""
    for entry, shown in ((["-m", "kit", "run"], "-m kit run"),
                         (["kit/run_full_pipeline.py"], "kit/run_full_pipeline.py")):
        with out_dir_lock(RunSettings(out_dir=tmp_path)):
            res = subprocess.run([sys.executable, *entry, "--out-dir", str(tmp_path), "--ref-dir", "nope"],
                                 cwd=ROOT, capture_output=True, text=True)
        assert res.returncode == 2 and "in use by another run" in res.stderr, res.stderr
        python = Path(sys.executable)
        if python.is_relative_to(ROOT):  # inside the folder it ran from: shown as typed, e.g. .venv/bin/python
            python = python.relative_to(ROOT)
        assert f"retry: {python} {shown} --out-dir {tmp_path} --ref-dir nope" in res.stderr, res.stderr


@pytest.mark.parametrize("bad", [["--ref-dir", "nope"], ["--cqs", "60"], ["--box-id", "boîte-1"]])
def test_no_retry_is_printed_when_the_same_command_fails_the_same_way(bad: list[str], tmp_path: Path) -> None:
    """Bad input: the hint says what to change; the same command again could not succeed."""
    res = subprocess.run([sys.executable, "-m", "kit", "run", "--out-dir", str(tmp_path), *bad], cwd=ROOT,
                         capture_output=True, text=True)
    assert res.returncode == 2 and "error: " in res.stderr and "hint: " in res.stderr, res.stderr
    assert "retry:" not in res.stderr, res.stderr


def test_a_run_json_cut_short_by_a_kill_is_removed_by_the_next_run(tmp_path: Path) -> None:
    """kill -9 while run.json was being written leaves its temporary beside it; the next run removes it."""
    from kit.infra.files import host_tag
    from kit.steps.runner import Selection, run_steps
    from kit.steps.settings import RunSettings

    out = tmp_path / "out"
    (out / "02_corpus").mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / f".tmp-run.json.{dead.pid}.{host_tag()}.abcd1234").write_text('{"half": ')
    (out / "02_corpus" / f".tmp-shard.parquet.{dead.pid}.{host_tag()}.abcd1234").write_text("half")  # the step's
    (out / ".tmp-run.json.abc123").write_text("the user's")  # a name the kit does not give: never removed
    (out / ".tmp-backup").mkdir()
    assert run_steps(RunSettings(out_dir=out), Selection((), frozenset()), lambda e: None, ["kit"]) == 0
    assert (out / "run.json").is_file()
    assert sorted(p.name for p in out.glob(".tmp-*")) == [".tmp-backup", ".tmp-run.json.abc123"]
    assert len(list((out / "02_corpus").glob(".tmp-shard.parquet.*"))) == 1  # left for that step


def test_a_status_json_that_is_a_link_or_a_fifo_is_said_as_what_it_is(tmp_path: Path, tree: Tree) -> None:
    """Not "started in this out-dir but did not complete": something put it there, and a run refuses it."""
    run, plan = RunDir(tmp_path), Plan({}, {})
    run.step("verdict").mkdir()
    run.status("verdict").symlink_to("/etc/passwd")
    assert stale_reason(tree, run, "verdict", plan) == (
        "its status.json is a symbolic link to /etc/passwd, not the record the kit writes: nothing was read through "
        "it, and a run refuses it until it is removed")
    run.status("verdict").unlink()
    os.mkfifo(run.status("verdict"))
    assert (stale_reason(tree, run, "verdict", plan) or "").startswith("its status.json is a named pipe (FIFO), ")
