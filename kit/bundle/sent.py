"""What a results tarball holds of each file the kit reads again with the box's paths in it: its record, each path
shown as the lead may see it (kit.infra.shown; private by construction: ARCHITECTURE.md, "What leaves the box") and
what the system said of the box in its typed form (kit.infra.typed: a device's family, a version's numbers and digest),
never the file's text scrubbed afterwards. Every text of every member is then checked by its kind (kit.bundle.texts,
kit.bundle.catalogue): one no kind admits is withheld. The out-dir keeps its own copy as the kit needs it
(prereqs.json's ffmpeg, the verdict's corpus); the rest of the tarball is written for sending where it is made (a
step's log and skipped.json beside a twin, RunDir.sent; the shard manifest with its paths shown and its facts
typed), or names no path. docs/reference/files.md says which file is which. --keep-paths sends each file as it is.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from kit.bundle.values import HWACCELS, KERNEL_DRIVERS, PACKAGE, PLAIN_VERSION, VA_DRIVERS
from kit.corpus.manifests import ShardManifest
from kit.infra import typed
from kit.infra.kinds import WITHHELD, Kind
from kit.infra.records import shown_json
from kit.infra.shown import Places
from kit.infra.tree import Tree
from kit.media.ffmpeg import FFMPEG_ENCODERS
from kit.media.libvmaf import Teacher
from kit.model.results import BaselineResult, SeedReport
from kit.platforms.detect import detect_families
from kit.platforms.prereqs import Prereqs, read_prereqs
from kit.platforms.probe import ProbeResult
from kit.platforms.signals import HostSignals
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
    found, shown; what the system said of the box (its CPU, GPUs, drivers, versions) in its typed forms."""
    ffmpeg = dataclasses.replace(prereqs.ffmpeg, path=places.show(prereqs.ffmpeg.path),
                                 version=typed.version(prereqs.ffmpeg.version),
                                 build=typed.version(prereqs.ffmpeg.build),
                                 encoders=tuple(e for e in prereqs.ffmpeg.encoders if e in FFMPEG_ENCODERS))
    out_dir = dataclasses.replace(prereqs.out_dir, path=places.show(prereqs.out_dir.path))
    signals = typed_signals(prereqs.host.signals, places)
    host = dataclasses.replace(prereqs.host, os=typed.system(prereqs.host.os), cpu=typed.device(prereqs.host.cpu),
                               signals=signals)
    families = [dataclasses.replace(f, evidence=next((d.evidence for d in detect_families(signals) if d.key == f.key),
                                                     typed.device(f.evidence)))
                for f in prereqs.families]
    return dataclasses.replace(
        prereqs, ffmpeg=ffmpeg, out_dir=out_dir, host=host, families=families,
        libvmaf_version=typed.build_id(prereqs.libvmaf_version),
        encoders={k: typed_probe(r) for k, r in prereqs.encoders.items()},
        encoders_10bit={k: typed_probe(r) for k, r in prereqs.encoders_10bit.items()},
        python_packages={k: typed.numbers_or_version(v) if not PLAIN_VERSION.admits(v) else v
                         for k, v in prereqs.python_packages.items() if PACKAGE.admits(k)},
        teacher=shown_teacher(prereqs.teacher, places))


def typed_probe(result: ProbeResult) -> ProbeResult:
    """A test encode's result as sent: its device typed, its reason the kit's words before what ffmpeg said
    (`test encode failed: exit code 1`: admitted_prefix)."""
    from kit.bundle.messages import PROBE_REASON

    return dataclasses.replace(result, device=typed.device(result.device) if result.device else "",
                               reason=admitted_prefix(result.reason, PROBE_REASON))


def admitted_prefix(text: str, kind: Kind) -> str:
    """`text` where `kind` admits it, else its longest start, cut before a `: `, that `kind` admits (a message of the
    kit's followed by what a program said: the message alone), else WITHHELD."""
    if kind.admits(text):
        return text
    cuts = [i for i in range(len(text)) if text.startswith(": ", i)]
    return next((text[:i] for i in reversed(cuts) if kind.admits(text[:i])), WITHHELD)


def typed_signals(sig: HostSignals, places: Places) -> HostSignals:
    """The host's signals as sent: every name and version the system gave, typed; nvidia-smi's words as whether it
    answered; a driver, an acceleration or a maker of no list as `other`."""
    return dataclasses.replace(
        sig, cpu=typed.device(sig.cpu),
        gpus=tuple(dataclasses.replace(g, name=typed.device(g.name), driver=typed.numbers_or_version(g.driver))
                   for g in sig.gpus),
        nvidia_smi=sig.nvidia_smi if sig.nvidia_smi in ("", "ok") else "failed",
        libva_driver_name=_listed(sig.libva_driver_name, VA_DRIVERS),
        render_nodes=tuple(dataclasses.replace(
            n, vendor=n.vendor if re.fullmatch(r"0x[0-9a-f]{4}", n.vendor) else "",
            driver=_listed(n.driver, KERNEL_DRIVERS), va_driver=typed.version(n.va_driver) if n.va_driver else "")
            for n in sig.render_nodes if re.fullmatch(r"/dev/dri/renderD\d{1,4}", n.path)),
        encoders=tuple(e for e in sig.encoders if e in FFMPEG_ENCODERS),
        hwaccels=tuple(dict.fromkeys(_listed(h, HWACCELS) for h in sig.hwaccels)),
        video_controllers=tuple(dataclasses.replace(
            c, name=typed.device(c.name), vendor=c.vendor if re.fullmatch(r"0x[0-9a-f]{4}", c.vendor) else "",
            maker=_listed(c.maker, MAKERS), driver=typed.numbers_or_version(c.driver) if c.driver else "")
            for c in sig.video_controllers),
        amf_runtime=places.show(sig.amf_runtime) if sig.amf_runtime else "")


def _listed(value: str, known: tuple[str, ...]) -> str:
    """`value` where `known` lists it (or it is ""), else `other`."""
    return value if not value or value in known else "other"


def shown_seed(report: SeedReport, run: RunDir, places: Places) -> SeedReport:
    """A LOSO report as sent: the corpus it was trained on, shown (a relative path is the out-dir's)."""
    if report.corpus is None:
        return report
    return dataclasses.replace(report, corpus=dataclasses.replace(
        report.corpus, path=places.show(run.root / report.corpus.path)))


MAKERS = ("Advanced Micro Devices, Inc.", "NVIDIA", "Intel Corporation")  # a graphics adapter's, as Windows names it

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
    return dataclasses.replace(verdict, corpus=dataclasses.replace(
        verdict.corpus, path=places.show(run.root / verdict.corpus.path)), incumbent=incumbent)


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
