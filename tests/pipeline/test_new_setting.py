"""A setting declares the steps it changes (issue 71, item 1): a copy of the kit given a new setting that changes the
bundle alone, declared in one kit file (its field in kit/steps/settings.py: default, flag with its help, and
`changes`) and used where it acts (one line of the bundle step), reruns nothing at its default, only the
bundle off it, and a step that reads it without declaring it fails as a bug, naming the step and the setting. Nothing
else is edited: the flag, its help, its KIT_ variable, the fingerprints and the views come from the field."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_kit
from tests.pipeline.test_new_gate import edit
from tests.pipeline.test_pipeline import args_of, copy_of

pytestmark = pytest.mark.slow  # reruns of a whole run's steps

# the setting: a line for the lead in the results tarball's manifest, which changes the bundle's tarball alone
FIELD = '''    lead_note: str = setting("", changes=changes(BUNDLE), flag=Flag(
        "--lead-note", Text(), "A line for the lead, written into the results tarball's manifest.json.", rank=545))
'''
USE = ''', "lead_note": ctx.settings.lead_note'''  # into the tarball manifest's keys (ResultsManifest.meta)
UNDECLARED = '''        assert ctx.settings.lead_note is not None  # a read the field does not declare: a bug
'''


def add_the_setting(kit: Path) -> list[Path]:
    """The kit file a new setting is declared in (its field), and the bundle's line that uses it."""
    settings, bundle = kit / "steps" / "settings.py", kit / "steps" / "s05_bundle.py"
    edit(settings, "\n    def read_back(self) -> RunSettings:", FIELD, before=True)
    edit(bundle, '"corpus_sha256": verdict.corpus.sha256', USE)
    return [settings, bundle]


def stepped(said: str) -> dict[str, str]:
    """Each step's line of a plain run: `skipped: …` or `runs: …`."""
    return dict(re.findall(r"\[\d\d (\w+)\] ((?:skipped|runs): [^\n]*)", said))


def manifest_of(out: Path) -> dict[str, object]:
    (tarball,) = sorted((out / "05_bundle").glob("results-*.tar.gz"))
    with tarfile.open(tarball) as tar:
        (member,) = [m for m in tar.getmembers() if m.name.endswith("/manifest.json")]
        handle = tar.extractfile(member)
        assert handle is not None
        return dict(json.load(handle))


def test_a_bundle_setting_declared_in_one_file_reruns_the_bundle_alone(
        json_run: tuple[Path, subprocess.CompletedProcess[str]], tiny_refs: Path, tmp_path: Path) -> None:
    out = copy_of(json_run, tmp_path)
    kit = tmp_path / "kit copy"
    shutil.copytree(ROOT / "kit", kit / "kit", ignore=shutil.ignore_patterns("__pycache__"))
    declared_in, used_in = add_the_setting(kit / "kit")
    assert declared_in.name == "settings.py" and used_in.name == "s05_bundle.py"
    entry = [sys.executable, str(kit / "kit" / "run_full_pipeline.py")]

    # its help is the one its field's flag gives
    res = run_kit("--help", entry=entry, env={"PYTHONPATH": ""}, cwd=tmp_path)
    assert "A line for the lead, written into the results tarball's manifest.json." in " ".join(res.stdout.split())

    # at its default: every fingerprint is as it was, nothing reruns
    res = run_kit(*args_of(out, tiny_refs), entry=entry, env={"PYTHONPATH": ""}, cwd=tmp_path)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert set(stepped(res.stdout).values()) == {"skipped: up to date (settings and inputs unchanged)"}, res.stdout

    # off it: the bundle alone reruns, saying why, and its tarball carries the note
    res = run_kit(*args_of(out, tiny_refs), "--lead-note", "from the walk", entry=entry, env={"PYTHONPATH": ""},
                  cwd=tmp_path)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    lines = stepped(res.stdout)
    assert lines.pop("bundle") == "runs: setting lead_note: (unset) -> from the walk", res.stdout
    assert set(lines) == {"prereqs", "corpus", "loso", "verdict"}
    assert all(v.startswith("skipped") for v in lines.values()), lines
    assert manifest_of(out)["lead_note"] == "from the walk"
    status = json.loads((out / "05_bundle" / "status.json").read_text())
    assert status["settings"]["lead_note"] == "from the walk"
    assert "lead_note" not in json.loads((out / "04_verdict" / "status.json").read_text())["settings"]

    # a step that reads it without declaring it: a bug, said where it is read (exit 70), never a stale resume
    edit(kit / "kit" / "steps" / "s04_verdict.py", "        inputs = {p.stem: cached_sha256(ctx.tree, p)", UNDECLARED,
         before=True)
    res = run_kit(*args_of(out, tiny_refs), "--lead-note", "from the walk", "--from", "verdict", entry=entry,
                  env={"PYTHONPATH": ""}, cwd=tmp_path)
    assert res.returncode == 70, res.stdout[-3000:] + res.stderr[-3000:]
    assert "step verdict read the setting lead_note, whose field does not name it" in res.stdout + res.stderr
