"""The commands the kit prints run as printed (executed here), and `status`, `verify` and a refused run are as light
as `--help`."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest

from kit.infra.tree import Tree
from kit.model.threads import choose_threads
from kit.steps.records import write_run_record
from kit.steps.settings import RunSettings
from tests import pace
from tests.conftest import ROOT
from tests.unit.test_invocation import entry_script

HEAVY = ("torch", "pandas", "onnx", "onnxruntime", "matplotlib", "scipy")
PROBE = """
import json, sys
sys.argv = ["ensemble-kit", *sys.argv[1:]]
from kit.cli.main import cli
try:
    cli(prog_name="ensemble-kit")
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def loaded(*args: str | Path, cwd: Path) -> tuple[int, set[str]]:
    """Run a kit command in a fresh interpreter; its exit code and every module it imported."""
    res = pace.run([sys.executable, "-c", PROBE, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    last = json.loads(res.stderr.strip().splitlines()[-1])
    return int(last["code"] or 0), set(last["modules"])


def test_status_help_detect_verify_and_a_refused_run_load_no_torch_pandas_or_onnx(tiny_refs: Path,
                                                                                tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    # settings as a run records them: status plans every step, which loads every step's module
    write_run_record(Tree.open(out), out / "run.json", RunSettings(out_dir=out, ref_dir=tiny_refs),
                     ["kit/run_full_pipeline.py"], choose_threads())
    code, modules = loaded("status", out, cwd=tmp_path)
    assert code == 0
    assert {f"kit.steps.s0{n}_{name}" for n, name in ((1, "prereqs"), (3, "loso"), (4, "verdict"),
                                                      (5, "bundle"))} <= modules
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))
    for args in (["--help"], ["status", "--help"], ["detect"], ["detect", "--help"]):
        code, modules = loaded(*args, cwd=tmp_path)
        assert code == 0 and not modules & {*HEAVY, "numpy", "pyarrow"}, (args, sorted(modules & set(HEAVY)))
    # a run refused before its first step and verify (which reads no parquet) load no heavy module either (pandas
    # alone is 0.5 s): the closing summary and the tarball check import nothing that computes the verdict's figures
    damaged = tmp_path / "results-x.tar.gz"
    damaged.write_bytes(b"not a tarball")
    for args in (["run", "--settings", tmp_path / "missing.json", "--out-dir", out], ["verify", damaged]):
        code, modules = loaded(*args, cwd=tmp_path)
        assert code == 2 and not modules & set(HEAVY), (args, code, sorted(modules & set(HEAVY)))


@pytest.mark.slow  # a whole run first
def test_status_next_and_the_summary_s_verify_run_as_printed(json_run: tuple[Path, object], tmp_path: Path) -> None:
    """From a venv that is not active, in another folder, on a 60-column log: copy, paste, it runs."""
    out = tmp_path / ("an-out-dir-whose-name-is-longer-than-a-narrow-terminal-" * 2) / "mybox"
    shutil.copytree(json_run[0], out)
    for step in ("04_verdict", "05_bundle"):  # as if the run had stopped after LOSO
        (out / step / "status.json").unlink()
    script = entry_script(tmp_path / "venv" / "bin")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "60"}
    status = pace.run([str(script), "status", str(out)], cwd=elsewhere, env=env, capture_output=True,
                      text=True, timeout=300)
    assert status.returncode == 0, status.stderr
    (next_line,) = [ln for ln in status.stdout.splitlines() if ln.startswith("next: ")]
    command = shlex.split(next_line.removeprefix("next: "))
    assert command[0] == str(script)  # not on PATH: the path, as it was typed
    again = pace.run(command, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    (tarball,) = (out / "05_bundle").glob("results-*.tar.gz")
    assert "--settings" in command and "--json" not in command  # the recorded settings, not the recorded --json
    lines = again.stdout.splitlines()  # so the summary is on stdout
    assert f"  {tarball}" in lines, again.stdout[-3000:]  # whole on its own line, though wider than the log
    verify = shlex.split(lines[lines.index("check it here with:") + 1])
    assert verify[0] == str(script) and verify[-1] == str(tarball)
    checked = pace.run(verify, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # the bundle line and verify count the same files (kit 0.1: "48 files" beside verify's 47)
    (bundled,) = re.findall(r"\[05 bundle\] results tarball: .* \((\d+) files", again.stdout)
    assert f"OK: {bundled} files match their sha256" in checked.stdout, (bundled, checked.stdout)
    # every text it sends, file by file (issue 89): each member named once, its manifest last
    show = shlex.split(lines[lines.index("read every text it sends, file by file, before you send it:") + 1])
    assert show[0] == str(script) and show[-2:] == ["--show-sent", str(tarball)]
    shown = pace.run(show, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0 and f"OK: {bundled} files match their sha256" in shown.stdout, shown.stderr
    members = [ln.split(" ", 2)[1] for ln in shown.stdout.splitlines() if ln.startswith("== ")]
    assert len(members) == int(bundled) + 1 and members[-1] == "manifest.json", members
    # the lead's box: the tarball saved in a folder of theirs, the kit installed as `ensemble-kit` on PATH
    # (their own script, nothing of the sender's), or untarred (its folder: here, this checkout)
    theirs = tmp_path / "lead" / "downloads"
    theirs.mkdir(parents=True)
    shutil.copy(tarball, theirs / tarball.name)
    installed = shlex.split(lines[lines.index("the lead checks it, in the folder they saved it in, with:") + 1])
    assert installed == ["ensemble-kit", "verify", tarball.name]
    lead_bin = entry_script(tmp_path / "lead" / "venv" / "bin").parent
    lead_env = {**env, "PATH": f"{lead_bin}{os.pathsep}{os.environ['PATH']}"}
    checked = pace.run(installed, cwd=theirs, env=lead_env, capture_output=True, text=True, timeout=300)
    assert checked.returncode == 0 and "OK: " in checked.stdout, checked.stdout + checked.stderr
    untarred = shlex.split(lines[lines.index("or, from the folder of an untarred kit (the tarball's path in place "
                                             "of its name):") + 1])
    assert untarred == ["python", "-m", "kit", "verify", tarball.name]
    checked = pace.run([sys.executable, *untarred[1:-1], str(theirs / tarball.name)], cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": ""}, capture_output=True, text=True, timeout=300)
    assert checked.returncode == 0 and "OK: " in checked.stdout, checked.stdout + checked.stderr


@pytest.mark.slow  # a whole run first: its corpus and bundle are the second run's --corpus and --incumbent
def test_status_of_a_run_with_an_incumbent_stays_light(json_run: tuple[Path, object], tmp_path: Path) -> None:
    done, _ = json_run
    out = tmp_path / "challenger"
    out.mkdir()
    settings = RunSettings(out_dir=out, corpus=done / "02_corpus" / "shard.parquet", incumbent=done)
    write_run_record(Tree.open(out), out / "run.json", settings, ["kit/run_full_pipeline.py"], choose_threads())
    code, modules = loaded("status", out, cwd=tmp_path)
    assert code == 0
    assert "kit.model.incumbent" in modules  # the LOSO step's plan found the incumbent's files
    # hashing the corpus's content builds arrays, and pyarrow imports pandas as it builds any (a look for
    # pandas objects): 0.3 s; what must not load is the training stack (torch, onnx, onnxruntime)
    heavy = set(HEAVY) - {"pandas"}
    assert not modules & heavy, sorted(modules & heavy)
