"""The inputs a setting names, changed where a user changes them (issue 78, item 1): a file's content
(--content-groups), the ffmpeg chosen (--ffmpeg: its path, build, size and time), a version of the rows (the corpus's
job rows): each changes exactly the plans of the steps that read it at plan time, planned as `status` and a resume
plan them, on a copy of a finished run; and every setting off the run's value, through the steps' real plans: exactly
the steps its field declares change, and no other (a step it reaches through its inputs may change or not: an upstream
output changes once its step reruns). Each setting's settings fingerprint byte for byte, with stand-ins:
tests/unit/test_fingerprint_declared.py; a --teacher model file edited and each format version raised: the same file."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from kit.errors import KitError
from kit.infra.changes import Through, changes_of
from kit.infra.tree import read_out_dir
from kit.steps import STEPS
from kit.steps.base import Context
from kit.steps.records import read_run_record
from kit.steps.runner import fingerprint
from kit.steps.settings import RunSettings
from kit.steps.view import reaches, value_at
from tests.fingerprints import leaves, off_default, replaced
from tests.pipeline.test_pipeline import copy_of

pytestmark = pytest.mark.slow  # plans only, of the session's json_run or a copy of it


def planned(out: Path, settings: RunSettings) -> dict[str, str]:
    """Each step's fingerprint as a resume plans it, with `settings` (a plan refused: the refusal, which a run says
    before it reruns anything: a step that needs an earlier one rerun first, a file that is not there)."""
    found = {}
    with read_out_dir(out) as tree:
        ctx = Context(settings, lambda event: None, lambda line: None, tree)
        for step in STEPS:
            try:
                found[step.name] = fingerprint(step.name, step.impl.plan(ctx.for_step(step.name)))
            except KitError as exc:
                found[step.name] = f"refused: {exc.message}"
    return found


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

    # --corpus: the bundle sends the corpus step's records for this box's own shard alone, as its plan holds them
    own = planned(out, dataclasses.replace(settings, corpus=out / "02_corpus" / "shard.parquet"))
    assert own["bundle"] == steps["bundle"]
    assert planned(out, dataclasses.replace(settings, corpus=tmp_path / "u.parquet"))["bundle"] != steps["bundle"]

    # the box's key: the bundle signs with it, so a new key (the box's cache wiped, or its key moved away after a fork)
    # is a bundle to make again, its tarball signed by the new key; before, the bundle was up to date and the tarball
    # the lead had refused stayed the box's only one
    import os

    from kit.infra.keys import KEY_FOLDER, box_key
    from kit.infra.tree import Tree

    shutil.copytree(os.environ["KIT_CACHE_DIR"], tmp_path / "new-cache", ignore=shutil.ignore_patterns(KEY_FOLDER))
    with Tree.open(tmp_path / "new-cache") as new_cache:
        box_key(new_cache)
    with monkeypatch.context() as patched:
        patched.setenv("KIT_CACHE_DIR", str(tmp_path / "new-cache"))
        assert changed(steps, planned(out, settings)) == {"bundle"}

    # the corpus's job rows: a version of the corpus step's plan alone (LOSO reads the shard, whose sha256 follows)
    from kit.steps import s02_corpus

    monkeypatch.setattr(s02_corpus, "JOB_ROWS_VERSION", s02_corpus.JOB_ROWS_VERSION + 1)
    assert changed(steps, planned(out, settings)) == {"corpus"}


# 70 settings planned through five steps (about 4 s of CPU on an idle box, 51 s of wall at a load of 20); the fast
# tier holds every setting with stand-ins instead (tests/unit/test_fingerprint_declared.py)
def test_each_setting_off_the_run_s_value_changes_exactly_the_steps_it_declares(
        json_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    """Every setting, generated from the declarations (tests/fingerprints.py makes a value its rules take, or the
    default where that is the run's own): the steps whose plan changes are among those its field declares, and take
    in every one of them it does not reach through that step's inputs (Through). Read-only: plans alone."""
    out = json_run[0]
    settings, steps = recorded(out)
    assert planned(out, settings) == steps
    through_only = {}
    for dotted, f in leaves():
        value = off_default(dotted, f)
        if value == value_at(settings, dotted):  # the run's own value: its default is off it
            value = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if dotted == "out_dir":
            continue  # where the run is: another out-dir is another run
        declared = changes_of(f)
        assert declared is not None
        asked = replaced(settings, dotted, value)
        moved = changed(steps, planned(out, asked))
        assert moved <= set(declared.steps), (dotted, value, sorted(moved))
        own = {step for step in declared.steps if not isinstance(declared.entries.get(step), Through)
               and reaches(asked, f, step)}  # a condition it declares for the step (When) holding
        assert own <= moved, (dotted, value, sorted(moved))
        through_only[dotted] = sorted({step for step in declared.steps if reaches(asked, f, step)} - moved)
    # what waits for an upstream step: --teacher's LOSO and bundle (the corpus's rows, the verdict), --corpus's corpus
    # step (which does not run); the demo's settings change nothing where --ref-dir gives the clips
    assert {k: v for k, v in through_only.items() if v} == {
        "teacher": ["bundle", "loso"], "corpus": ["corpus"], "demo_clips": ["corpus"], "demo_seconds": ["corpus"]}
