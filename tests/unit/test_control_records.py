"""run.json, status.json and prereqs.json are records (issue 26 item 1): one writer, one typed reader each;
the files of the previous release read; damaged or newer ones read as absent with the reason."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kit.infra.invocation import RunProvenance
from kit.infra.tree import Tree
from kit.model.threads import choose_threads
from kit.platforms.grids import CqGrid
from kit.platforms.prereqs import Prereqs, read_prereqs, write_prereqs
from kit.steps.records import (
    RunRecord,
    StepRecord,
    read_run_record,
    read_step_record,
    write_run_record,
    write_step_record,
)
from kit.steps.settings import RunSettings
from tests.conftest import ROOT

RELEASE = ROOT / "tests" / "data" / "release_0_1_0"  # written by the release 0.1.0 (commit f41ef5e), tiny clips


@pytest.fixture()
def previous(tmp_path: Path) -> Iterator[tuple[Tree, Path]]:
    """The release's files, copied as the kit would find them in an out-dir of the user's (whatever the modes of the
    checkout), opened as the out-dir is."""
    folder = tmp_path / "release"
    folder.mkdir()
    for path in RELEASE.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    with Tree.open(folder) as opened:
        yield opened, folder


def test_the_previous_releases_files_still_read(previous: tuple[Tree, Path]) -> None:
    old, release = previous
    run, why = read_run_record(old, release / "run.json")
    assert why == "" and run is not None and run.schema_version == 1
    # its one grid was every encoder's
    assert run.settings.seeds == (0, 1) and run.settings.cqs == CqGrid((25, 37)) and run.settings.box_id == "oldbox"
    assert run.settings.gate.mean_plcc_min == -1 and run.settings.gate.max_abs_bias == 10.0  # 0.1.0 knew no bias gate
    assert run.settings.train.epochs == 3 and run.threads is None and run.provenance.cwd
    assert run.settings.encode_depth == "8bit" and run.settings.vmaftune_crf_range == (10, 51)  # later: defaults
    for path in sorted(release.glob("status_*.json")):
        status, why = read_step_record(old, path)
        assert why == "" and status is not None and status.schema_version == 1, path
        assert path.stem.endswith(status.step) and status.outputs and status.fingerprint
    prereqs, why = read_prereqs(old, release / "prereqs.json")
    assert why == "" and prereqs is not None and prereqs.schema_version == 1
    assert prereqs.resolved_encoders == ["libx264"] and prereqs.encoders["libx264"].available
    assert prereqs.host.signals.video_controllers == () and prereqs.encode_depth == "8bit"
    assert prereqs.devices() == (("libx264", prereqs.encoders["libx264"].device),)


def test_each_record_writes_and_reads_back_exactly(tmp_path: Path, tree: Tree,
                                                   previous: tuple[Tree, Path]) -> None:
    old, release = previous
    prev_run = read_run_record(old, release / "run.json")[0]
    assert prev_run is not None
    record = write_run_record(tree, tmp_path / "run.json", prev_run.settings, ["kit/__main__.py", "run"],
                              choose_threads())
    assert read_run_record(tree, tmp_path / "run.json") == (record, "") and record.schema_version == 2
    assert next(iter(json.loads((tmp_path / "run.json").read_text()))) == "schema_version"
    status = read_step_record(old, release / "status_03_loso.json")[0]
    assert status is not None
    from dataclasses import replace

    new = replace(status, schema_version=StepRecord.SCHEMA_VERSION)
    write_step_record(tree, tmp_path / "status.json", new)
    assert read_step_record(tree, tmp_path / "status.json") == (new, "")
    prereqs = read_prereqs(old, release / "prereqs.json")[0]
    assert prereqs is not None
    write_prereqs(tree, tmp_path / "prereqs.json", replace(prereqs, schema_version=Prereqs.SCHEMA_VERSION))
    again = read_prereqs(tree, tmp_path / "prereqs.json")[0]
    assert again is not None and again.schema_version == 2 and again.encoders == prereqs.encoders


@pytest.mark.parametrize(("name", "edit", "why"), [
    ("run.json", lambda d: d["settings"].update(seeds="0,1"), "damaged (run.json.settings.seeds: str where a list"),
    ("run.json", lambda d: d.pop("argv"), "damaged (run.json: lacks 'argv')"),
    ("run.json", lambda d: d.update(schema_version=9), "damaged (run.json: schema_version 9 is newer than this kit"),
    ("status_02_corpus.json", lambda d: d["outputs"].update({"x": 1}), "damaged (status_02_corpus.json.outputs.x: 1 "
                                                                       "is not a str)"),
    ("prereqs.json", lambda d: d["encoders"]["libx264"].update(available="yes"), "damaged (prereqs.json.encoders"
                                                                                  ".libx264.available: 'yes' is not"),
    ("prereqs.json", lambda d: d.__setitem__("host", []), "damaged (prereqs.json.host: list where an object"),
])
def test_a_damaged_or_newer_file_reads_as_absent_with_the_reason(tmp_path: Path, name: str, edit: object,
                                                                 why: str, tree: Tree) -> None:
    doc = json.loads((RELEASE / name).read_text())
    edit(doc)  # type: ignore[operator]
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    reader = read_run_record if name == "run.json" else read_prereqs if name == "prereqs.json" else read_step_record
    found, reason = reader(tree, path)
    assert found is None and reason.startswith(why), reason


def test_a_file_cut_short_or_missing_reads_as_absent(tmp_path: Path, tree: Tree) -> None:
    data = (RELEASE / "run.json").read_bytes()
    (tmp_path / "run.json").write_bytes(data[: len(data) // 2])
    assert read_run_record(tree, tmp_path / "run.json") == (None, "unreadable (JSONDecodeError)")
    assert read_step_record(tree, tmp_path / "nothing.json") == (None, "missing")


def test_the_run_records_provenance_is_where_it_ran() -> None:
    here = RunProvenance.here()
    assert here.cwd and here.python.count(".") == 2 and RunRecord.SCHEMA_VERSION == 2
    assert RunSettings.from_json(RunSettings(out_dir=Path("/o")).to_json()) == RunSettings(out_dir=Path("/o"))


def test_a_step_record_is_read_once_per_version_of_its_file(tmp_path: Path, tree: Tree,
                                                            previous: tuple[Tree, Path],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """read_step_record reads a status.json once per version of the file (issue 77: the verdict's plan checks
    LOSO's fourteen outputs against one record): read again, it is not parsed again; rewritten (the writer's
    rename), damaged in place or edited with its times put back, what the file holds now is read."""
    from dataclasses import replace

    from kit.steps import records

    old, release = previous
    first = read_step_record(old, release / "status_03_loso.json")[0]
    assert first is not None
    path, parsed = tmp_path / "status.json", []
    real = records.read_record
    monkeypatch.setattr(records, "read_record", lambda *a: parsed.append(a[-1]) or real(*a))
    write_step_record(tree, path, first)
    assert read_step_record(tree, path) == read_step_record(tree, path) == (first, "") and len(parsed) == 1
    second = replace(first, seconds=first.seconds + 1)
    write_step_record(tree, path, second)
    assert read_step_record(tree, path) == (second, "") and len(parsed) == 2
    st = path.stat()
    path.write_text(path.read_text().replace('"seconds"', '"secondz"'))  # in place, its times put back
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    found, why = read_step_record(tree, path)
    assert found is None and why.startswith("damaged"), why
