"""The manifests beside a corpus file as `<stem>.manifest.json`: a shard's (`kind: shard`, the corpus step's) or a
merged corpus's (`kind: merged`), each describing exactly the bytes of its parquet file (`sha256`). One damaged, of
another kind or of a newer schema reads as absent: the corpus is always checked, its manifest only adds provenance.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kit.corpus.oracle import IndependentCheck, OracleCheck
from kit.errors import InputError
from kit.infra.files import sha256_file
from kit.infra.keyring import BoxKeys
from kit.infra.keys import DIGEST, FOLLOWS, PUBLIC_KEY
from kit.infra.outside import read_json
from kit.infra.records import NAMES_FILE, Record, RecordError, keep, omit_none
from kit.infra.rules import BOX_ID, COUNT, KIT_VERSION, STAMP_OR_NONE, Check, Each, Real, Whole
from kit.infra.versions import refuse_newer
from kit.media.fingerprint import FrameTimes, Repeats
from kit.rundir import manifest_path

PUBLIC_KEY_OR_NONE = Check(lambda v: None if v == "" else PUBLIC_KEY.problem(v), f"{PUBLIC_KEY.words}, or \"\"")
DIGEST_OR_NONE = Check(lambda v: None if v == "" else DIGEST.problem(v), f"{DIGEST.words}, or \"\"")
# the parquet schema's and these manifests' version: docs/reference/files.md (`shard.parquet`) says each one's
SCHEMA_VERSION = 6
CQ = Whole(0, 1000)  # a quality step of an encoder's grid (the widest, AV1's qindex, runs to 255)


@dataclass(frozen=True)
class ShardRecord(Record):
    """`--shard K/N`: which part of which reference set a box encoded."""

    k: int = field(metadata=keep(COUNT))
    n: int = field(metadata=keep(COUNT))
    label: str
    set_size: int = field(metadata=keep(COUNT))
    set_sha256: str
    sources: list[str]


@dataclass(frozen=True)
class FFmpegRef(Record):
    path: str
    version: str
    build: str


@dataclass(frozen=True)
class ClipEntry(Record):
    LENIENT = True

    src: str
    src_sha256: str
    width: int = field(metadata=keep(COUNT))
    height: int = field(metadata=keep(COUNT))
    fps: str
    pix_fmt: str
    frames: int = field(metadata=keep(COUNT))
    enc_pix_fmt: str = ""
    content: str = ""
    pixels_sha256: str = ""  # its fingerprint (kit.media.identity): "" in an older manifest (not compared)
    signature: str = ""
    file: str = field(default="", metadata=NAMES_FILE)  # the clip's file name: what --content-groups may name it by
    decode: str = ""  # kit.corpus.jobs.REF_SHARED, REF_OWN, or both joined by " and "
    oracle: OracleCheck | None = omit_none()
    # the format libvmaf scored it in (kit.media.pixfmt.score_pix_fmt) and, where that is not its own, how and why
    # (kit.media.pixfmt.scoring_note): "" in an older manifest
    scored_in: str = ""
    scoring: str = ""
    # which decoded pictures repeat the one before, bit for bit (kit.media.fingerprint.Repeats): absent in an older
    # manifest (not measured), which the verdict's warning of repeated pictures (kit.verdict.regimes) then leaves out
    repeats: Repeats | None = omit_none()
    # each decoded frame's time as ffmpeg plays the clip (kit.media.fingerprint.FrameTimes): where a consumer's window
    # falls (kit.corpus.samplings); absent in an older manifest, whose windows are then placed by the header's rate
    times: FrameTimes | None = omit_none()


@dataclass(frozen=True)
class TwinEntry(Record):
    """A file of the reference set whose decoded pictures are those of a kept source."""

    file: str = field(metadata=NAMES_FILE)
    src: str
    src_sha256: str
    same_as: str  # the kept source's src_sha256
    same_as_file: str = field(metadata=NAMES_FILE)


@dataclass(frozen=True)
class GroupMember(Record):
    src: str
    src_sha256: str
    box_id: str = field(default="", metadata=keep(BOX_ID))
    file: str = field(default="", metadata=NAMES_FILE)


@dataclass(frozen=True)
class ContentGroup(Record):
    content: str  # the group's id: its lowest member src_sha256
    members: tuple[GroupMember, ...]
    why: list[str]  # one line per link that made the group


@dataclass(frozen=True)
class LeftOut(Record):
    """A clip of a box's reference set that its corpus step left out (its 02_corpus/skipped.json), by file name."""

    LENIENT = True

    file: str = field(metadata=NAMES_FILE)
    why: str = field(metadata=NAMES_FILE)
    box_id: str = field(default="", metadata=keep(BOX_ID))
    by_check: bool = False  # the independent check refuted its scores (kit.corpus.oracle)
    # the merge input that brought it (its file name; kept through later merges; "" in a shard's own manifest and in
    # a merge of kits before 2.3): two boxes of one box id each keep their clips, told apart by it
    input: str = field(default="", metadata=NAMES_FILE)

    @property
    def line(self) -> str:
        """Its line in `merge`'s output."""
        brought = f" (input {self.input})" if self.input else ""
        return f"  left out on box {self.box_id or '?'}{brought}: {self.file}: {self.why}"


@dataclass(frozen=True)
class ShardManifest(Record):
    """`shard.manifest.json`: one box's corpus and how it was made (read leniently)."""

    LENIENT = True
    SCHEMA_VERSION = SCHEMA_VERSION

    schema_version: int = field(default=SCHEMA_VERSION, metadata=keep(COUNT))
    kind: str = ""  # "shard"; a hand-made manifest may leave it out
    file: str = ""
    sha256: str = ""
    rows: int = field(default=0, metadata=keep(COUNT))
    box_id: str = field(default="", metadata=keep(BOX_ID))  # another box's: one a kit writes, or refused
    platform: str = ""
    device: str = ""
    devices: dict[str, str] = field(default_factory=dict)  # encoder -> the hardware that encoded its rows
    ffmpeg: FFmpegRef = field(default_factory=lambda: FFmpegRef("", "", ""))
    libvmaf_version: str = ""
    teacher_model: str = ""
    teacher_sha256: str = ""  # of the --teacher model file; "" for a built-in
    encoders: list[str] = field(default_factory=list)
    # encoder -> its cq values (schema 1-3: {"cq": [...]})
    grid: dict[str, list[int]] = field(default_factory=dict, metadata=keep(Each(Each(CQ))))
    scales: list[str] = field(default_factory=list)
    scaler_down: str = ""
    scaler_up: str = ""
    encode_depth: str = ""  # "" in a schema-1 manifest, whose encodes were 8-bit
    demo_corpus: bool = False
    sources: tuple[ClipEntry, ...] = ()
    kit_version: str = field(default="", metadata=keep(KIT_VERSION))  # where it names one: `v2.4.0` none
    # when the rows were made: `merge --prefer newest` ranks inputs by it
    created_at_utc: str = field(default="", metadata=keep(STAMP_OR_NONE))
    jobs: int = field(default=0, metadata=keep(COUNT))
    reused_jobs: int = field(default=0, metadata=keep(COUNT))
    shard: ShardRecord | None = omit_none()
    twins: tuple[TwinEntry, ...] = ()
    groups: tuple[ContentGroup, ...] = ()  # of more than one source
    overrides: list[str] = field(default_factory=list)  # the --content-groups lines applied
    apart: list[list[str]] = field(default_factory=list)  # src_sha256 pairs --content-groups said are different
    left_out: tuple[LeftOut, ...] = ()
    warnings: list[str] = field(default_factory=list)
    # the rows' content identity (kit.corpus.schema.corpus_sha256), read from here while `sha256` is the file's, so
    # planning (`status`) needs no pass over the rows
    corpus_sha256: str = ""
    # (kit 2.4 wrote `machine`, a hash of the host's machine id and name, read as nothing now: a box is its key, which
    # signs its results tarball, kit.infra.keys)


@dataclass(frozen=True)
class SourceRows(Record):
    LENIENT = True

    src: str
    src_sha256: str
    rows: int = field(metadata=keep(COUNT))
    content: str = ""
    pixels_sha256: str = ""  # carried on so that a merge of merges still compares it
    signature: str = ""
    frames: int = field(default=0, metadata=keep(COUNT))
    file: str = field(default="", metadata=NAMES_FILE)
    repeats: Repeats | None = omit_none()  # the box's ClipEntry's, carried on
    times: FrameTimes | None = omit_none()  # likewise


@dataclass(frozen=True)
class InputEntry(Record):
    name: str = field(metadata=NAMES_FILE)
    path: str = field(metadata=NAMES_FILE)
    kind: str  # parquet | tarball | jsonl
    sha256: str
    recorded_utc: str | None = field(metadata=keep(STAMP_OR_NONE))
    box_ids: list[str]
    manifest_kind: str | None
    shard: str | None
    demo_corpus: bool
    read: int = field(metadata=keep(COUNT))
    kept: int = field(metadata=keep(COUNT))
    duplicate: int = field(metadata=keep(COUNT))
    conflict: int = field(metadata=keep(COUNT))
    upgraded: str | None = omit_none()  # how an older schema's rows were brought to this one


@dataclass(frozen=True)
class RepeatedInput(Record):
    path: str = field(metadata=NAMES_FILE)
    same_bytes_as: str = field(metadata=NAMES_FILE)


@dataclass(frozen=True)
class RepeatedCorpus(Record):
    """An input that holds a corpus another input brought (two bundles of one shard, a shard beside its union): its
    box's evidence (left-out clips, independent check, warnings) is counted once, as its rows are."""

    input: str  # its file name
    same_as: str  # the input that brought it first (canonical order), or the merged input made of it
    box_id: str = field(default="", metadata=keep(BOX_ID))
    within: bool = False  # `same_as` is a merged corpus that holds it among its inputs

    @property
    def line(self) -> str:
        """Its line in `merge`'s output."""
        box = f" (box {self.box_id})" if self.box_id else ""
        among = " holds among its inputs" if self.within else ""
        return f"  {self.input}: the same corpus as {self.same_as}{box}{among}: its left-out clips, independent " \
               "check and warnings counted once"


@dataclass(frozen=True)
class SharedBoxId(Record):
    """One box id the rows of several merge inputs hold, none of them within another (the default box id is the host
    name: a cloned machine, containers): each input's evidence is kept and named by it, never one box's taken for
    the other's."""

    box_id: str = field(metadata=keep(BOX_ID))
    inputs: list[str] = field(metadata=NAMES_FILE)  # their file names, in canonical order
    # kit 2.5: each input's runs of the box are signed by the box's key (a merged input holds an earlier run of the box
    # whose later run is another input): one box that ran again, whose runs a merged input's rows cannot tell apart
    # (kit 2.4 wrote `one_machine`, read as nothing now: a machine's hash proved nothing)
    one_box: bool | None = omit_none()

    @property
    def line(self) -> str:
        """Its line in `merge`'s output (and the manifest's warnings)."""
        if self.one_box:
            return (f"box {self.box_id} ran more than once, and {', '.join(self.inputs)} each hold a run of it signed "
                    "by its key: a merged input's rows cannot be told apart by run, so each one's rows, left-out "
                    "clips, independent check and warnings are kept, named by its input; merge the box's own latest "
                    "tarball with the other boxes' to take its latest run alone")
        return (f"box id {self.box_id} is held by {len(self.inputs)} inputs that are different corpora "
                f"({', '.join(self.inputs)}): two boxes ran with one box id (the default is the host name: a "
                "cloned machine, a container), or a tarball of a kit before 2.5 (unsigned) is among them; each one's "
                "left-out clips, independent check and warnings are kept, named by its input; give each box its own "
                "--box-id")


@dataclass(frozen=True)
class BoxRun(Record):
    """One run of one box, as a merge knows it: its box id, the part of a reference set it encoded (its shard label,
    "" for the whole), when its rows were made (the box's clock: said, never the order), its shard's sha256, and
    (kit 2.5, from its signed tarball: kit.infra.keys) the box's public key, its run's number in the box's chain, the
    digest of the run it follows and its own. A run of kit 2.4 has no key: it never supersedes (an unsigned tarball of
    a box known by its key is refused: kit.corpus.signers.refuse_unsigned)."""

    LENIENT = True  # kit 2.4's runs hold no key, number nor digest (and a `machine`, read as nothing)

    box_id: str = field(metadata=keep(BOX_ID))
    shard: str
    made: str = field(metadata=keep(STAMP_OR_NONE))
    sha256: str
    key: str = field(default="", metadata=keep(PUBLIC_KEY_OR_NONE))
    run: int = field(default=0, metadata=keep(COUNT))
    follows: str = field(default="", metadata=keep(FOLLOWS))
    digest: str = field(default="", metadata=keep(DIGEST_OR_NONE))

    @property
    def box(self) -> tuple[str, str]:
        """Which chain of runs it is: its box id, and the part of a set it encodes."""
        return self.box_id, self.shard

    @property
    def said(self) -> str:
        """`run 3`, as a line names it (a run of kit 2.4, or an unsigned tarball's, has no number)."""
        return f"run {self.run}" if self.run else "an unsigned run"


@dataclass(frozen=True)
class Superseded(Record):
    """A merge input of a box that ran again (a later run signed by the box's key): its later run (`by`, the input
    holding it) is the box's corpus, its rows and left-out clips; this one's are not taken. `only`: the clips this run
    held that the later does not (a clip taken out of the box's reference folder)."""

    input: str = field(metadata=NAMES_FILE)
    run: BoxRun
    by: str = field(metadata=NAMES_FILE)
    later: BoxRun
    only: list[str] = field(default_factory=list, metadata=NAMES_FILE)

    @property
    def line(self) -> str:
        """Its line in `merge`'s output."""
        gone = f"; the clips it held that the later run does not: {', '.join(self.only)}" if self.only else ""
        if not self.later.key:  # a union of kit 2.4's said it: its later run by the box's clock
            signed = "by its clock, as a kit before 2.5 said"
        elif self.later.key == self.run.key or not self.run.key:  # an unsigned one: a signed run of its box is later
            signed = "signed by its key"
        else:
            signed = "signed by the key the lead took for it after this one's"
        later = f"its {self.later.said}" if self.later.run else self.later.said
        return (f"  {self.input}: box {self.run.box_id} ran again ({self.by}: {later}, {signed}): the later run's rows "
                f"and left-out clips are taken, not these ({self.run.said}){gone}")


@dataclass(frozen=True)
class Conflicts(Record):
    keys: int = field(metadata=keep(COUNT))
    rows_dropped: int = field(metadata=keep(COUNT))
    examples: list[str]


@dataclass(frozen=True)
class BuildRows(Record):
    """One ffmpeg build a corpus was scored with and its rows ("" where no manifest says)."""

    ffmpeg_version: str
    ffmpeg_build: str
    libvmaf_version: str
    rows: int = field(metadata=keep(COUNT))

    @property
    def label(self) -> str:
        build = f" ({self.ffmpeg_build})" if self.ffmpeg_build else ""
        return (f"ffmpeg {self.ffmpeg_version or '(not recorded)'}{build}, "
                f"libvmaf {self.libvmaf_version or '(not recorded)'}")

    @property
    def line(self) -> str:
        """Its line in `merge`'s and `corpus info`'s output."""
        return f"  build: {self.label}: {self.rows} rows"


@dataclass(frozen=True)
class MergeManifest(Record):
    """`<stem>.manifest.json` of a merged corpus: every input, the rule, the counts, what the union holds."""

    LENIENT = True
    SCHEMA_VERSION = SCHEMA_VERSION

    schema_version: int = field(default=SCHEMA_VERSION, metadata=keep(COUNT))
    kind: str = "merged"
    file: str = ""
    sha256: str = ""
    rows: int = field(default=0, metadata=keep(COUNT))
    key: list[str] = field(default_factory=list)
    sort_order: list[str] = field(default_factory=list)
    scored_columns: list[str] = field(default_factory=list)
    prefer: str | None = None
    conflicts: Conflicts = field(default_factory=lambda: Conflicts(0, 0, []))
    duplicates_dropped: int = field(default=0, metadata=keep(COUNT))
    inputs: tuple[InputEntry, ...] = ()
    repeated_inputs: tuple[RepeatedInput, ...] = ()
    repeated_corpora: tuple[RepeatedCorpus, ...] = ()  # kit 2.2: inputs whose corpus another input brought
    demo_corpus: bool = False
    jsonl_identity: str = ""
    warnings: list[str] = field(default_factory=list)
    recorded_utc: str | None = field(default=None, metadata=keep(STAMP_OR_NONE))
    merged_at_utc: str = field(default="", metadata=keep(STAMP_OR_NONE))
    kit_version: str = field(default="", metadata=keep(KIT_VERSION))  # where it names one: `v2.4.0` none
    n_sources: int = field(default=0, metadata=keep(COUNT))
    sources: tuple[SourceRows, ...] = ()
    encoders: list[str] = field(default_factory=list)
    boxes: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)
    platforms: list[str] = field(default_factory=list)
    cq_grid: list[int] = field(default_factory=list, metadata=keep(Each(CQ)))
    vmaf_range: list[float] = field(default_factory=list, metadata=keep(Each(Real())))
    teacher_models: list[str] = field(default_factory=list)
    enc_pix_fmts: list[str] = field(default_factory=list)
    grids: dict[str, list[int]] = field(default_factory=dict, metadata=keep(Each(Each(CQ))))
    rungs: list[str] = field(default_factory=list)
    n_contents: int = field(default=0, metadata=keep(COUNT))
    groups: tuple[ContentGroup, ...] = ()
    unchecked_inputs: list[str] = field(default_factory=list)  # inputs whose sources could not be compared
    overrides: list[str] = field(default_factory=list)
    apart: list[list[str]] = field(default_factory=list)  # every input's, and -o's own
    twins: tuple[TwinEntry, ...] = ()
    builds: tuple[BuildRows, ...] = ()
    teacher_sha256: str = ""
    left_out: tuple[LeftOut, ...] = ()
    check: IndependentCheck | None = omit_none()
    shared_box_ids: tuple[SharedBoxId, ...] = ()  # kit 2.3: box ids several inputs' rows hold (`SharedBoxId`)
    # kit 2.4: the box runs the union holds (each input's, those of a merged input carried on), the runs a later run of
    # the same box superseded (`Superseded`), and the sources whose independent check passed (by src_sha256: each
    # clip counted once however many inputs checked it)
    runs: tuple[BoxRun, ...] = ()
    superseded: tuple[Superseded, ...] = ()
    checked: list[str] = field(default_factory=list)
    # kit 2.5: each box id's keys the union's signed runs were taken under, as the lead knew them (kit.infra.keyring):
    # a union merged again keeps them
    box_keys: tuple[BoxKeys, ...] = ()


CorpusManifest = ShardManifest | MergeManifest


def source_repeats(manifest: CorpusManifest | None) -> dict[str, Repeats]:
    """Each source's repeated pictures as the manifest records them, by src_sha256 (those measured)."""
    sources: tuple[ClipEntry | SourceRows, ...] = manifest.sources if manifest is not None else ()
    return {s.src_sha256: s.repeats for s in sources if s.repeats is not None}


def source_times(manifest: CorpusManifest | None) -> dict[str, FrameTimes]:
    """Each source's frames' times as the manifest records them, by src_sha256 (those measured)."""
    sources: tuple[ClipEntry | SourceRows, ...] = manifest.sources if manifest is not None else ()
    return {s.src_sha256: s.times for s in sources if s.times is not None}


def read_manifest(corpus: Path) -> CorpusManifest | None:
    """The manifest beside `corpus`, or None when there is none or it cannot be read."""
    return manifest_or_why(corpus)[0]


def manifest_or_why(corpus: Path) -> tuple[CorpusManifest | None, str]:
    """The manifest beside `corpus` (a merge's for kind `merged`, else a shard's): (it, ""); (None, "") when there is
    none; (None, why) when it is unreadable or damaged; NewerKit (exit 2) when a kit newer than this one wrote it."""
    path = manifest_path(corpus)
    if not os.path.lexists(path):
        return None, ""
    try:
        data = read_json(path)
    except OSError as exc:
        return None, f"unreadable: {exc.strerror or exc}"
    except ValueError as exc:
        return None, f"not JSON the kit reads: {exc}"
    if not isinstance(data, dict):
        return None, "damaged: not a shard or merge manifest (no JSON object)"
    refuse_newer(str(path), data)  # a newer kit's manifest is said to be one, before this kit judges anything of it
    try:
        return (MergeManifest if data.get("kind") == "merged" else ShardManifest).from_json(data, path.name), ""
    except RecordError as exc:  # its dotted key and what is wrong with it
        return None, f"damaged: {exc}"


def given_manifest(corpus: Path, label: str, box: str = "") -> CorpusManifest | None:
    """The manifest beside a corpus someone gave (merge's input, --corpus), read as it is: None where there is none;
    one that does not read as a kit writes it refused (exit 2) naming its key and the box (`box`, else the box id it
    holds), never taken for an older kit's (which wrote none) nor dropped without a word."""
    manifest, why = manifest_or_why(corpus)
    if not why:
        return manifest
    with contextlib.suppress(OSError, ValueError):
        said = read_json(manifest_path(corpus))
        named = said.get("box_id") if isinstance(said, dict) else None
        # the box named where its id is one (a box id no kit writes is what the error says, once, shortened)
        box = box or (named if isinstance(named, str) and BOX_ID.problem(named) is None else "")
    newer = "is newer than this kit reads" in why
    raise InputError(f"{label}: the manifest of {f'box {box}' if box else 'its box'}'s corpus, "
                     f"{manifest_path(corpus).name}, is {why}: nothing was read from it",
                     hint="update this kit to the sender's version (see its kit_version)" if newer else
                     f"ask {f'box {box}' if box else 'its box'} for its results tarball again, made by a kit of this "
                     "release, or leave it out")


def corpus_identity(corpus: Path, file_sha256: Callable[[Path], str] = sha256_file) -> str:
    """The corpus's content identity: its shard manifest's, while that describes the file's bytes (`file_sha256`, a
    step's own shard's kept per version of the file: kit.steps.base.cached_sha256; no pyarrow)."""
    manifest = read_manifest(corpus)
    if isinstance(manifest, ShardManifest) and manifest.corpus_sha256 and manifest.sha256 == file_sha256(corpus):
        return manifest.corpus_sha256
    return corpus_sha256(corpus)


def corpus_sha256(corpus: Path) -> str:
    """kit.corpus.schema.corpus_sha256, loaded when called (pyarrow: a pass over the rows)."""
    from kit.corpus.schema import corpus_sha256 as computed

    return computed(corpus)
