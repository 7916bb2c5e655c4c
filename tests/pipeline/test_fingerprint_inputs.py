"""The inputs a setting names, changed where a user changes them (issue 78, item 1): a file's content
(--content-groups), the ffmpeg chosen (--ffmpeg: its path, build, size and time), a version of the rows (the corpus's
job rows): each changes exactly the plans of the steps that read it at plan time, planned as `status` and a resume
plan them, on a copy of a finished run. Every setting's own value: tests/unit/test_fingerprint_declared.py; a
--teacher model file edited and each format version of the registry raised: the same file."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from kit.infra.tree import read_out_dir
from kit.steps import STEPS
from kit.steps.base import Context
from kit.steps.records import read_run_record
from kit.steps.runner import fingerprint
from kit.steps.settings import RunSettings
from tests.pipeline.test_pipeline import copy_of

pytestmark = [pytest.mark.slow, pytest.mark.ci]  # plans only, on a copy of the session's json_run


def planned(out: Path, settings: RunSettings) -> dict[str, str]:
    """Each step's fingerprint as a resume plans it, with `settings`."""
    with read_out_dir(out) as tree:
        ctx = Context(settings, lambda event: None, lambda line: None, tree)
        return {step.name: fingerprint(step.name, step.impl.plan(ctx.for_step(step.name))) for step in STEPS}


def recorded(out: Path) -> tuple[RunSettings, dict[str, str]]:
    """The run's settings (run.json) and each step's fingerprint as its status.json recorded it."""
    with read_out_dir(out) as tree:
        run, _ = read_run_record(tree, out / "run.json")
    assert run is not None
    steps = {s.name: json.loads((out / s.dirname / "status.json").read_text())["fingerprint"] for s in STEPS}
    return dataclasses.replace(run.settings, out_dir=out), steps


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {step for step in before if before[step] != after[step]}


def test_each_input_changes_exactly_the_plans_that_read_it(
        json_run: tuple[Path, subprocess.CompletedProcess[str]], ffmpeg: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    out = copy_of(json_run, tmp_path)
    settings, steps = recorded(out)
    assert planned(out, settings) == steps  # the copy resumes as it was: every plan as recorded

    # --content-groups: the corpus step reads the file (its contents, an input of its own), no other step
    groups = tmp_path / "groups.json"
    groups.write_text(json.dumps({"same": [["alpha", "beta"]]}))
    grouped = dataclasses.replace(settings, content_groups=groups)
    before = planned(out, grouped)
    assert changed(steps, before) == {"corpus"}  # the setting itself
    groups.write_text(json.dumps({"same": [["alpha", "gamma"]]}))
    assert changed(before, planned(out, grouped)) == {"corpus"}  # the file's content

    # --ffmpeg: prereqs' input (the binary's path, build, size and time); the others read what prereqs.json names
    copy = tmp_path / "bin" / "ffmpeg"
    copy.parent.mkdir()
    shutil.copy2(ffmpeg, copy)
    assert changed(steps, planned(out, dataclasses.replace(settings, ffmpeg=copy))) == {"prereqs"}

    # the corpus's job rows: a version of the corpus step's plan alone (LOSO reads the shard, whose sha256 follows)
    from kit.steps import s02_corpus

    monkeypatch.setattr(s02_corpus, "JOB_ROWS_VERSION", s02_corpus.JOB_ROWS_VERSION + 1)
    assert changed(steps, planned(out, settings)) == {"corpus"}
