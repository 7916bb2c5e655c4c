"""Results tarballs: written with a sha256 manifest, verified where received (kit.infra.archive extracts and checks)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import BinaryIO

from kit import __version__
from kit.bundle.conformal import CALIBRATION_SUFFIX, model_problems
from kit.errors import InputError
from kit.infra.archive import FileSum, ResultsCheck, ResultsManifest, check_results, extraction_dir
from kit.infra.interrupts import check
from kit.infra.invocation import kit_command
from kit.infra.outside import read_json_object
from kit.infra.tree import Tree
from kit.rundir import LAYOUT, RESULTS_MANIFEST
from kit.verdict.recheck import contradiction


def free_text_hint(source: Path) -> str:
    """What to do with a tarball holding a text no kind of the catalogue admits."""
    return ("the kit that made it checks every text it sends against its catalogue: this one was edited after, or made "
            "by a kit that says more than this one knows (upgrade the lead); ask the sender for the tarball their "
            f"bundle step wrote ({kit_command('verify', '--show-sent', source)} names each text and its kind)")
# manifest.json's mark of a tarball whose every text the box checked by the catalogue (kit.bundle.catalogue): its
# version, raised when a text the catalogue admitted is no longer admitted (a reader refuses what it cannot check)
CATALOGUE_KEY, CATALOGUE = "catalogue", 1
VERDICT_FILES = tuple(f"{LAYOUT.step('verdict').as_posix()}/{name}.json" for name in ("PROMOTE", "HOLD"))


class _Hashing:
    """A file object hashing what passes through it, read (a file as shipped) or written (the tarball)."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh, self.sha = fh, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        check()  # a corpus of gigabytes, gzipped: a stop signal between two reads (kit/infra/interrupts.py)
        data = self.fh.read(size)
        self.sha.update(data)
        return data

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        return self.fh.write(data)

    def flush(self) -> None:
        self.fh.flush()

    def tell(self) -> int:
        return self.fh.tell()

    def seek(self, pos: int) -> int:
        raise OSError("the tarball is written in one pass")

    def close(self) -> None:
        """The tree's temporary is sealed and closed by Tree.atomic (gzip never closes a file it is given)."""


def write_results_tarball(tree: Tree, dest: Path, top: str, files: dict[str, Path], meta: dict[str, object],
                          before_place: Callable[[str], None] | None = None,
                          built: Mapping[str, bytes] | None = None,
                          sign: Callable[[dict[str, object]], dict[str, object]] | None = None,
                          said: Callable[[str, float], None] | None = None) -> ResultsManifest:
    """dest (.tar.gz): `files` under top/ with top/manifest.json; `before_place` gets its sha256 before it is put in
    place; `built`: the bytes a member holds in place of its file's (a record with the box's folders shown,
    kit.bundle.sent); `sign`: the manifest's JSON signed (kit.infra.keys.sign_manifest), once every member's sha256
    is in it; each member `said` (its name, the share of the files' bytes packed before it) as it is packed."""
    sums: dict[str, FileSum] = {}
    sizes = {arc: entry.st.st_size if (entry := tree.entry(path)) is not None else 0 for arc, path in files.items()}
    packed, total = 0, max(1, sum(sizes.values()))
    with tree.atomic(dest) as out:
        sink = _Hashing(out)
        with tarfile.open(fileobj=sink, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
            for arc, path in sorted(files.items()):
                if said is not None:
                    said(arc, packed / total)
                packed += sizes[arc]
                with tree.open_read(path, trusted=False) as fh:
                    info = tar.gettarinfo(arcname=f"{top}/{arc}", fileobj=fh)
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    info.mode = 0o644
                    source: BinaryIO = fh
                    if built and arc in built:  # a record's JSON, a few KiB: made whole
                        info.size, source = len(built[arc]), io.BytesIO(built[arc])
                    reader = _Hashing(source)
                    tar.addfile(info, reader)  # tarfile reads with .read(n) only
                    sums[arc] = FileSum(reader.sha.hexdigest(), info.size)
            manifest = ResultsManifest("ensemble-kit-results", __version__, meta, sums)
            document = manifest.to_json()
            if sign is not None:
                document = sign(document)
                manifest = ResultsManifest.from_json(document)  # with its signer
            data = json.dumps(document, indent=2).encode()
            info = tarfile.TarInfo(f"{top}/{RESULTS_MANIFEST}")
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
        if before_place is not None:
            before_place(sink.sha.hexdigest())  # the gzip stream is closed: every byte went through the sink
    return manifest


def verify_tarball(source: Path, read: Callable[[Path, list[str]], object] | None = None) -> ResultsCheck:
    """The files against manifest.json (as `merge` checks), its claims, its sidecars' models and its texts (the
    catalogue's kinds); `read`, where the files match their sha256s, is handed the extracted top folder and its
    members (manifest.json last) while they are there."""
    with extraction_dir("kit-verify") as tmp:
        report = check_results(source, tmp)
        if report.top is not None and report.manifest is not None:
            if report.ok:  # the files are the sender's: what the manifest says of them can be checked
                report.problems += claim_problems(report.top, report.manifest)
                report.problems += shard_problems(report.top, report.manifest)
                report.problems += text_problems(report.top, report.manifest)
            for arc in sorted(report.manifest.files):
                if arc.startswith(f"{LAYOUT.exports.as_posix()}/") and arc.endswith(CALIBRATION_SUFFIX) \
                        and (report.top / arc).is_file():
                    report.problems += model_problems(report.top / arc)
            sums_match = report.ok
            report.ok = not report.problems
            if sums_match and read is not None:  # the sender's files, whatever their texts: show-sent names them
                read(report.top, [*sorted(report.manifest.files), RESULTS_MANIFEST])
        return report


def text_problems(top: Path, manifest: ResultsManifest) -> list[str]:
    """Each text of the tarball no kind of the catalogue admits, naming its member and field (kit.bundle.texts); none
    for a tarball of a kit before the catalogue (catalogued: false), whose corpus alone a merge reads."""
    if not catalogued(manifest):
        return []
    from kit.bundle.texts import problems, sent_texts

    return problems(sent_texts(top, [*sorted(manifest.files), RESULTS_MANIFEST])[1])


def catalogued(manifest: ResultsManifest) -> bool:
    """Whether a tarball's texts were checked by the catalogue where it was made (its manifest says so: CATALOGUE);
    a kit before it (2.4) sent texts filtered by words, which no reader here takes but its corpus."""
    return manifest.get(CATALOGUE_KEY) == CATALOGUE


def refused_texts(source: Path) -> list[str]:
    """text_problems of a results tarball (`merge`'s check of an input, beside its sha256s)."""
    with extraction_dir("kit-texts") as tmp:
        report = check_results(source, tmp)
        return text_problems(report.top, report.manifest) if report.ok and report.top and report.manifest else []


def shard_problems(top: Path, manifest: ResultsManifest) -> list[str]:
    """The box's shard read as the lead's merge reads it (kit.corpus.inputs.read_parquet: its columns, keys and each
    score's plausible range): what the merge would refuse, said here first, naming the file, the row, the column and
    the value."""
    arc = LAYOUT.shard.as_posix()
    if arc not in manifest.files or not (top / arc).is_file():
        return []
    from kit.corpus.inputs import read_parquet

    try:
        read_parquet(top / arc, arc)
    except InputError as exc:
        return [f"{exc.message}: the lead's merge refuses this corpus"]
    return []


def claim_problems(top: Path, manifest: ResultsManifest) -> list[str]:
    """Where manifest.json's claims (verdict, corpus_sha256, box_id) differ from the verdict and run.json it ships."""
    verdicts = sorted(arc for arc in manifest.files if arc in VERDICT_FILES)
    claimed = manifest.get("verdict")
    if len(verdicts) > 1:
        return [f"the tarball holds {' and '.join(verdicts)}: a run has one verdict"]
    if not verdicts:
        return [f"manifest.json says verdict {claimed}, but the tarball holds no verdict file"] if claimed else []
    arc = verdicts[0]
    doc, why = read_json_object(top / arc)
    if doc is None:
        return [f"{arc} is {why}"]
    named = Path(arc).stem
    said = contradiction(doc)  # the verdict recomputed from its own gate rows
    corpus = doc.get("corpus")
    sha = manifest.get("corpus_sha256")
    shipped = corpus.get("sha256") if isinstance(corpus, dict) else None
    problems = [text for wrong, text in (
        (doc.get("verdict") != named, f"{arc} says verdict {doc.get('verdict')!s:.20}, not {named}"),
        (claimed is not None and claimed != named,
         f"manifest.json says verdict {claimed!s:.20}, but the tarball holds {arc}"),
        (said is not None, f"{arc} {said}"),
        (sha is not None and shipped is not None and sha != shipped,
         f"manifest.json says corpus_sha256 {str(sha)[:12]}…, but {arc} was reached on corpus {str(shipped)[:12]}…"),
    ) if wrong]
    settings = shipped_settings(top, manifest)  # a run names its box and --corpus in its settings
    if isinstance(corpus, dict):
        problems += corpus_problems(top, manifest, arc, corpus, bool(settings.get("corpus")))
    box = settings.get("box_id")
    if manifest.get("box_id") is not None and box is not None and box != manifest.get("box_id"):
        problems.append(f"manifest.json says box {str(manifest.get('box_id'))[:64]}, but run.json ran as box "
                        f"{str(box)[:64]}")
    return problems


def shipped_settings(top: Path, manifest: ResultsManifest) -> dict[str, object]:
    """The settings of the run.json a tarball ships, as sent (unchecked: only compared); {} without one."""
    run, _ = read_json_object(top / "run.json") if "run.json" in manifest.files else (None, "")
    settings = run.get("settings") if run is not None else None
    return settings if isinstance(settings, dict) else {}


def names_own_shard(corpus_path: str, corpus_given: bool) -> bool:
    """Whether a verdict whose corpus block names `corpus_path` was reached on its box's own shard, which its results
    tarball then holds: `02_corpus/shard.parquet`, relative to the out-dir (kit 2.2.0 on); `[out-dir]/02_corpus/...`
    (a 2.1.0 tarball's); or an absolute `.../02_corpus/shard.parquet` of a run given no --corpus (`corpus_given`: its
    run.json's settings name one). A corpus elsewhere (the lead's union) is not sent."""
    return LAYOUT.names_shard(corpus_path) and (not Path(corpus_path).is_absolute() or not corpus_given)


def corpus_problems(top: Path, manifest: ResultsManifest, arc: str, corpus: dict[str, object],
                    corpus_given: bool) -> list[str]:
    """A verdict reached on its box's own shard ships that shard, and the shard's manifest (when shipped) describes
    the bytes shipped and the corpus the verdict names (sha256s only: verify reads no parquet)."""
    named, shard = corpus.get("path"), LAYOUT.rel(LAYOUT.shard)
    if not isinstance(named, str) or not names_own_shard(named, corpus_given):
        return []
    if shard not in manifest.files:
        return [f"{arc} was reached on this box's corpus {shard}, which the tarball does not hold: the lead cannot "
                "merge it (a kit before 2.2.0 left it out of a bundle made in a moved or copied out-dir; bundle "
                "again with this kit)"]
    described = LAYOUT.rel(LAYOUT.shard_manifest)
    if described not in manifest.files:
        return []
    doc, why = read_json_object(top / described)
    if doc is None:
        return [f"{described} is {why}"]
    return [text for wrong, text in (
        (doc.get("sha256") != manifest.files[shard].sha256,
         f"{described} describes other bytes than the {shard} shipped beside it"),
        (doc.get("corpus_sha256") not in (None, "", corpus.get("sha256")),
         f"{arc} was reached on corpus {str(corpus.get('sha256'))[:12]}…, but the {shard} shipped is corpus "
         f"{str(doc.get('corpus_sha256'))[:12]}…"),
    ) if wrong]
