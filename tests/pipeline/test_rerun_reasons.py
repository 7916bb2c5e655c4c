"""Every reason the runner can give a step's rerun, said (issue 74, item 5): each branch of
kit.steps.runner.stale_reason made on a copy of the session's finished run, and the words `status` says for it, as the
line that starts the step says them (the same function decides both). A branch added to stale_reason without its case
here fails test_every_branch_of_stale_reason_has_its_case. The corpus's jobs redone: tests/real/test_redo_reasons.py;
an output missing or changed, in every way a run can start: tests/pipeline/test_missing_outputs.py."""

from __future__ import annotations

import ast
import inspect
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from kit.rundir import RunDir
from kit.steps import runner
from tests.conftest import run_here

pytestmark = pytest.mark.slow  # copies of a whole out-dir


def edited(step: str, change: Callable[[dict], None]) -> Callable[[Path], None]:
    """A change to the step's status.json as another kit or another run would have written it (its fingerprint then
    not this plan's)."""
    def make(out: Path) -> None:
        path = RunDir(out).status(step)
        data = json.loads(path.read_text())
        change(data)
        data["fingerprint"] = "0" * 64
        path.write_text(json.dumps(data))
    return make


def retried(out: Path) -> None:
    """The corpus step's record as a run whose child was killed from outside wrote it: the clip a rerun tries again
    (its fingerprint kept: the step is otherwise up to date)."""
    path = RunDir(out).status("corpus")
    data = json.loads(path.read_text())
    data["summary"]["retry"] = ["alpha.y4m"]
    path.write_text(json.dumps(data))


def planted(out: Path) -> None:
    path = RunDir(out).status("loso")
    path.rename(path.with_name("elsewhere.json"))
    path.symlink_to(path.with_name("elsewhere.json"))


def first_output(step: str, how: Callable[[Path], None]) -> Callable[[Path], None]:
    def make(out: Path) -> None:
        rel = sorted(json.loads(RunDir(out).status(step).read_text())["outputs"])[0]
        how(out / rel)
    return make


# each reason: (the step, how the copy is made so, words its reason holds)
CASES: dict[str, tuple[str, Callable[[Path], None], str]] = {
    "not run": ("bundle", lambda out: shutil.rmtree(RunDir(out).step("bundle")), "not completed in this out-dir yet"),
    "unfinished": ("bundle", lambda out: RunDir(out).status("bundle").unlink(), runner.UNFINISHED),
    "planted": ("loso", planted, "its status.json is a symbolic link"),
    "damaged": ("verdict", lambda out: RunDir(out).status("verdict").write_text("{\"step\": "),
                "its status.json is damaged"),
    "setting": ("loso", edited("loso", lambda d: d["settings"].update(seeds=[0])), "setting seeds: [0] -> [0, 1]"),
    "input": ("verdict", edited("verdict", lambda d: d["inputs"].update(predictions="0" * 64)),
              "input predictions changed"),
    "format": ("loso", edited("loso", lambda d: d["formats"].update(loso=1)), "format of step loso: 1 -> "),
    "output missing": ("corpus", first_output("corpus", Path.unlink), " is missing"),
    "output modified": ("corpus", first_output("corpus", lambda p: p.write_bytes(p.read_bytes() + b"\n")),
                        " was modified"),
    "retry": ("corpus", retried, "it left out alpha.y4m for a cause a rerun can change"),
}


def test_every_branch_of_stale_reason_has_its_case() -> None:
    """stale_reason's returns that give a reason (all but the last, None), and the reasons each can give: a new
    return, or a new kind of change, is a new case here."""
    tree = ast.parse(inspect.getsource(runner.stale_reason).lstrip())
    returns = [n for n in ast.walk(tree) if isinstance(n, ast.Return)]
    # planted, NOT_RUN or UNFINISHED, damaged, the changes (setting, input, format), output missing, output modified,
    # a clip left out for a cause a rerun can change (summary.retry)
    assert len(returns) - 1 == 7
    assert len(CASES) == 10


@pytest.mark.parametrize("case", list(CASES))
def test_each_reason_is_said(case: str, json_run: tuple[Path, object], tmp_path: Path) -> None:
    step, make, words = CASES[case]
    out = tmp_path / "out"
    shutil.copytree(json_run[0], out, symlinks=True)
    make(out)
    report = json.loads(run_here("status", out, "--json").stdout)
    (mine,) = [s for s in report["steps"] if s["step"] == step]
    assert mine["state"] in ("stale", "pending") and words in mine["reason"], (case, mine)
