"""The run directory's control files as records: `run.json` (RunRecord) and each step's `status.json` (StepRecord);
one missing, damaged or of a newer schema reads as None with the reason."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from kit import __version__
from kit.infra import typed
from kit.infra.clock import utc_iso
from kit.infra.files import version_of
from kit.infra.invocation import RunProvenance
from kit.infra.records import Record, Refused, keep, read_record, shown_json
from kit.infra.rules import COUNT, INSIDE, KIT_VERSION, SECONDS, STAMP, Each, Keys, OneOf, Whole
from kit.infra.shown import Places, path_at
from kit.infra.tree import Tree
from kit.media.libvmaf import BUILTIN_TEACHERS
from kit.model.threads import ThreadChoice
from kit.rundir import STEP_NAMES
from kit.steps.settings import RunSettings, refused_settings


@dataclass(frozen=True)
class RunRecord(Record):
    """`run.json`: the settings and provenance of the out-dir's latest invocation."""

    SCHEMA_VERSION: ClassVar[int] = 2
    LENIENT = True  # schema 1 (the previous release) had no schema_version key

    kit_version: str = field(metadata=keep(KIT_VERSION))
    invoked_at_utc: str = field(metadata=keep(STAMP))
    argv: list[str]
    settings: RunSettings
    provenance: RunProvenance
    threads: ThreadChoice | None = None  # the release 0.1.0 wrote no threads
    schema_version: int = field(default=1, metadata=keep(COUNT))
    # where argv holds a path: [item, the character it starts at] (the program, a path flag's value; a kit before
    # 2.2.0 wrote none), so that the results tarball shows each as the lead may see it (kit.bundle.sent)
    argv_paths: list[list[int]] = field(default_factory=list, metadata=keep(Each(Each(COUNT))))


@dataclass(frozen=True)
class StepRecord(Record):
    """A step's `status.json`: its fingerprint and what it holds, who ran it and when, and each output's sha256."""

    # 3: `formats` (kit.steps.formats_of), where schemas 1 and 2 held `kit_build`, a hash of the kit's source
    SCHEMA_VERSION: ClassVar[int] = 3
    LENIENT = True  # schema 1 had no schema_version key, schemas 1 and 2 no formats

    step: str = field(metadata=keep(OneOf(STEP_NAMES)))
    number: int = field(metadata=keep(Whole(1, len(STEP_NAMES))))
    fingerprint: str
    settings: dict[str, Any]
    inputs: dict[str, str]
    kit_version: str = field(metadata=keep(KIT_VERSION))
    started_at_utc: str = field(metadata=keep(STAMP))
    completed_at_utc: str = field(metadata=keep(STAMP))
    seconds: float = field(metadata=keep(SECONDS))
    exit_code: int = field(metadata=keep(Whole(0, 255)))
    outputs: dict[str, str] = field(metadata=keep(Keys(INSIDE)))  # by its path in the out-dir: none outside it
    summary: dict[str, Any]
    formats: dict[str, int] = field(default_factory=dict, metadata=keep(Each(COUNT)))
    schema_version: int = field(default=1, metadata=keep(COUNT))


def write_run_record(tree: Tree, path: Path, settings: RunSettings, argv: Sequence[str],
                     threads: ThreadChoice) -> RunRecord:
    paths = [[i, at] for i, a in enumerate(argv) if (at := path_at(a)) is not None]  # typed by the CLI (typed_argv)
    record = RunRecord(__version__, utc_iso(), [str(a) for a in argv], settings, RunProvenance.here(), threads,
                       RunRecord.SCHEMA_VERSION, paths)
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


# each step record read, by the tree that read it (its root and rules: what it trusts) and the file's version (device,
# inode, size, mtime, ctime: a record rewritten is another file, renamed into place): a step's status.json is read
# once however many of its outputs later steps check (the verdict's plan checks LOSO's fourteen: `status` read it 14
# times)
_records_read: dict[tuple[object, ...], StepRecord] = {}


def read_step_record(tree: Tree, path: Path) -> tuple[StepRecord | None, str]:
    """A step's status.json, checked, not trusted (read_record), once per version of the file in this process."""
    found = tree.entry(path)
    st = found.st if found is not None and found.planted is None else None
    key = (tree.root, tree.rules, str(path), *version_of(st)) if st is not None else None
    if key is not None and (known := _records_read.get(key)) is not None:
        return known, ""
    record, why = read_record(StepRecord, tree, path)
    if record is not None and key is not None:
        _records_read[key] = record
    return record, why


def shown_run(record: RunRecord, places: Places) -> RunRecord:
    """run.json's invocation as the lead may see it (the report's too): each path of argv (argv_paths: the program, a
    path flag's value, a relative one from where it ran) and of where it ran, shown; the settings as they are."""
    cwd = Path(record.provenance.cwd)
    argv = list(record.argv)
    for i, at in record.argv_paths:
        if 0 <= i < len(argv) and 0 <= at < len(argv[i]):
            argv[i] = argv[i][:at] + places.show(cwd / argv[i][at:])
    where = record.provenance
    return replace(record, argv=argv, provenance=replace(
        where, executable=places.show(where.executable), kit_root=places.show(where.kit_root), cwd=places.show(cwd)))


def sent_run(record: RunRecord, places: Places) -> dict[str, object]:
    """run.json as the results tarball sends it (kit.bundle.sent): shown_run, and the settings' paths shown."""
    doc = shown_json(shown_run(record, places), places.show)  # the settings' paths (Path fields) shown
    provenance = doc["provenance"]
    if isinstance(provenance, dict):  # the system's words typed (kit.infra.typed): its name and release's numbers
        provenance["platform"] = typed.system(record.provenance.platform)
    settings = doc["settings"]
    if isinstance(settings, dict) and record.settings.teacher not in BUILTIN_TEACHERS:  # a model file's path
        settings["teacher"] = places.show(record.settings.teacher)
    return {"schema_version": doc.pop("schema_version"), **doc}


def _schema_first(record: Record) -> dict[str, object]:
    """The record's JSON with `schema_version` as its first key, as every file of the kit opens."""
    doc = record.to_json()
    return {"schema_version": doc.pop("schema_version"), **doc}
