"""What a results tarball holds of each file the kit reads again with the box's paths in it: its record, each path
shown as the lead may see it (kit.infra.shown; private by construction: ARCHITECTURE.md, "What leaves the box") and
each field of free text (kit.infra.records.SAID: a probe's failure in ffmpeg's words) through the one door of such
text (kit.infra.known), never the file's text scrubbed afterwards. The out-dir keeps its own copy as the kit needs it
(prereqs.json's ffmpeg, the verdict's corpus); the rest of the tarball is written for sending where it is made (a
step's log and skipped.json beside a twin, RunDir.sent; the shard manifest and the report with their paths shown), or
names no path. docs/reference/files.md says which file is which. --keep-paths sends each file as it is.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from pathlib import Path

from kit.corpus.manifests import ShardManifest
from kit.infra.records import said_record, shown_json
from kit.infra.shown import Places
from kit.infra.tree import Tree
from kit.media.libvmaf import Teacher
from kit.model.results import BaselineResult, SeedReport
from kit.platforms.prereqs import Prereqs, read_prereqs
from kit.rundir import LAYOUT, SEED_FILE, VERDICTS, RunDir
from kit.verdict.document import Verdict, read_verdict

Document = Mapping[str, object]


def json_bytes(doc: Document) -> bytes:
    """A document as the kit writes a JSON file (kit.infra.tree.Tree.write_json): a member reads as its file does."""
    return (json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n").encode()


def schema_first(doc: Document) -> dict[str, object]:
    """A document with `schema_version` first, as prereqs.json and run.json are written."""
    rest = dict(doc)
    return {"schema_version": rest.pop("schema_version"), **rest}


def shown_teacher(teacher: Teacher, places: Places) -> Teacher:
    """A --teacher model file by its place (a built-in names none)."""
    return dataclasses.replace(teacher, path=places.show(teacher.path)) if teacher.path else teacher


def shown_prereqs(prereqs: Prereqs, places: Places) -> Prereqs:
    """prereqs.json as sent: the ffmpeg the kit ran, the out-dir it measured, a teacher file and the AMF runtime
    found, shown; its free text (the probes' words, what nvidia-smi said) through the door (said_record)."""
    ffmpeg = dataclasses.replace(prereqs.ffmpeg, path=places.show(prereqs.ffmpeg.path))
    out_dir = dataclasses.replace(prereqs.out_dir, path=places.show(prereqs.out_dir.path))
    signals = prereqs.host.signals
    if signals.amf_runtime:
        host = dataclasses.replace(prereqs.host, signals=dataclasses.replace(
            signals, amf_runtime=places.show(signals.amf_runtime)))
        prereqs = dataclasses.replace(prereqs, host=host)
    return said_record(dataclasses.replace(prereqs, ffmpeg=ffmpeg, out_dir=out_dir,
                                           teacher=shown_teacher(prereqs.teacher, places)), places.known)


def shown_seed(report: SeedReport, run: RunDir, places: Places) -> SeedReport:
    """A LOSO report as sent: the corpus it was trained on, shown (a relative path is the out-dir's)."""
    if report.corpus is None:
        return said_record(report, places.known)
    return said_record(dataclasses.replace(report, corpus=dataclasses.replace(
        report.corpus, path=places.show(run.root / report.corpus.path))), places.known)


# the keys of an --incumbent's result that name a folder (kit.model.incumbent.incumbent_loso): the models scored, and
# the original an in-out-dir one was copied from; relative to the out-dir, or absolute (one elsewhere)
INCUMBENT_PATHS = ("path", "copied_from")


def shown_incumbent(incumbent: BaselineResult, run: RunDir, places: Places) -> BaselineResult:
    """An --incumbent's result as sent: the folders it names shown (a relative one is the out-dir's)."""
    return dataclasses.replace(incumbent, details={
        k: places.show(run.root / v) if k in INCUMBENT_PATHS and isinstance(v, str) else v
        for k, v in incumbent.details.items()})


def shown_verdict(verdict: Verdict, run: RunDir, places: Places) -> Verdict:
    """The verdict as sent (and as the report shows it): the corpus it was reached on and an --incumbent's folders,
    shown."""
    incumbent = shown_incumbent(verdict.incumbent, run, places) if verdict.incumbent is not None else None
    return said_record(dataclasses.replace(verdict, corpus=dataclasses.replace(
        verdict.corpus, path=places.show(run.root / verdict.corpus.path)), incumbent=incumbent), places.known)


def sent_records(tree: Tree, run: RunDir, files: Mapping[str, Path], places: Places,
                 more: Mapping[str, Callable[[Path], Document | None]] | None = None) -> dict[str, bytes]:
    """The members of `files` (archive path -> file) sent as their record with the box's folders shown: archive path
    -> bytes. `more`: the layers above's own (run.json: kit.steps.records.sent_run). A file that does not read as its
    record is not sent (each was checked against its step's record before)."""
    def prereqs(path: Path) -> Document | None:
        record, _ = read_prereqs(tree, path)
        return schema_first(shown_json(shown_prereqs(record, places), places.show)) if record is not None else None

    def verdict(path: Path) -> Document:
        return shown_json(shown_verdict(read_verdict(tree, path), run, places), places.show)

    def seed(path: Path) -> Document:
        return shown_json(shown_seed(SeedReport.from_json(tree.read_json(path), str(path)), run, places), places.show)

    def shard_manifest(path: Path) -> Document:
        """As its record: what a kit before 2.5 wrote of the host (`machine`) is no field of it, so never sent."""
        return ShardManifest.from_json(tree.read_json(path), str(path)).to_json()

    def reader(arc: str) -> Callable[[Path], Document | None] | None:
        name, folder = Path(arc).name, Path(arc).parent
        if more and arc in more:
            return more[arc]
        if arc == LAYOUT.rel(LAYOUT.prereqs_json):
            return prereqs
        if arc == LAYOUT.rel(LAYOUT.shard_manifest):
            return shard_manifest
        if folder == LAYOUT.step("verdict") and Path(name).stem in VERDICTS:
            return verdict
        if folder == LAYOUT.step("loso") and SEED_FILE.fullmatch(name):
            return seed
        return None

    built = {arc: read(path) for arc, path in files.items() if (read := reader(arc)) is not None}
    return {arc: json_bytes(doc) for arc, doc in built.items() if doc is not None}
