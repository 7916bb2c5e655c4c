"""The run directory's control files as records: `run.json` (RunRecord) and each step's `status.json` (StepRecord);
one missing, damaged or of a newer schema reads as None with the reason."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from kit import __version__
from kit.infra.clock import utc_iso
from kit.infra.invocation import RunProvenance
from kit.infra.records import Record, Refused, read_record
from kit.infra.tree import Tree
from kit.model.threads import ThreadChoice
from kit.steps.settings import RunSettings, refused_settings


@dataclass(frozen=True)
class RunRecord(Record):
    """`run.json`: the settings and provenance of the out-dir's latest invocation."""

    SCHEMA_VERSION: ClassVar[int] = 2
    LENIENT = True  # schema 1 (the previous release) had no schema_version key

    kit_version: str
    invoked_at_utc: str
    argv: list[str]
    settings: RunSettings
    provenance: RunProvenance
    threads: ThreadChoice | None = None  # the release 0.1.0 wrote no threads
    schema_version: int = 1


@dataclass(frozen=True)
class StepRecord(Record):
    """A step's `status.json`: its fingerprint and what it holds, who ran it and when, and each output's sha256."""

    # 3: `formats` (kit.steps.formats_of), where schemas 1 and 2 held `kit_build`, a hash of the kit's source
    SCHEMA_VERSION: ClassVar[int] = 3
    LENIENT = True  # schema 1 had no schema_version key, schemas 1 and 2 no formats

    step: str
    number: int
    fingerprint: str
    settings: dict[str, Any]
    inputs: dict[str, str]
    kit_version: str
    started_at_utc: str
    completed_at_utc: str
    seconds: float
    exit_code: int
    outputs: dict[str, str]
    summary: dict[str, Any]
    formats: dict[str, int] = field(default_factory=dict)
    schema_version: int = 1


def write_run_record(tree: Tree, path: Path, settings: RunSettings, argv: Sequence[str],
                     threads: ThreadChoice) -> RunRecord:
    record = RunRecord(__version__, utc_iso(), [str(a) for a in argv], settings, RunProvenance.here(), threads,
                       RunRecord.SCHEMA_VERSION)
    tree.write_json(path, _schema_first(record))
    return record


def read_run_record(tree: Tree, path: Path) -> tuple[RunRecord | None, str]:
    """(the record, "") or (None, why not); settings that break a rule, or an unknown key, are refused."""
    try:
        return read_record(RunRecord, tree, path)
    except Refused as exc:
        key = exc.key.removeprefix(f"{path.name}.")  # settings.train.epochs, as the file holds it
        raise refused_settings(path, type(exc)(key, exc.value, exc.problem, exc.words), flag="") from None


def write_step_record(tree: Tree, path: Path, record: StepRecord) -> None:
    tree.write_json(path, _schema_first(record))


def read_step_record(tree: Tree, path: Path) -> tuple[StepRecord | None, str]:
    return read_record(StepRecord, tree, path)


def _schema_first(record: Record) -> dict[str, object]:
    """The record's JSON with `schema_version` as its first key, as every file of the kit opens."""
    doc = record.to_json()
    return {"schema_version": doc.pop("schema_version"), **doc}
