"""The kinds of the values a results tarball's texts hold (issue 96): numbers, digests, stamps and versions of a fixed
form, the names of the kit's own lists (encoders, steps, verdicts, teachers), ffmpeg's lists (pixel formats, encoders,
hardware accelerations), the typed forms of what the system says of the box (kit.infra.typed), the names the tarball
is about (its clips, sources and boxes: kit.infra.kinds.Names) and a path as the lead may see it. kit.bundle.messages
builds the kit's messages from them, kit.bundle.catalogue declares with them what each sent field holds.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from pathlib import Path

from kit.bundle.commands import EXTRACTORS, Command, ffmpeg_word
from kit.corpus.columns import NO_BOX
from kit.corpus.jobs import job_slug
from kit.infra import ended, typed
from kit.infra.kinds import NO_NAMES, WITHHELD, Either, Exact, Joined, Kind, Match, Named, Names, Template, one_of
from kit.infra.rules import BOX_ID_FORM
from kit.infra.shown import ELSEWHERE, PROGRAMS, Root
from kit.infra.variables import FFMPEG as FFMPEG_VARIABLE
from kit.media.containers import DIRECT_EXTS, INTERMEDIATE_EXTS, intermediate_path
from kit.media.ffmpeg import FFMPEG_DEMUXERS, FFMPEG_ENCODERS, FFMPEG_VIDEO_CODECS
from kit.media.ladder import SCALERS
from kit.media.libvmaf import BUILTIN_TEACHERS, INPUT_SET_NAMES, TABLE, TEACHER_FEATURES
from kit.media.pixfmt import FFMPEG_PIX_FMTS
from kit.model.consumer import VMAFTUNE_VOCAB
from kit.model.contract import CODEC_VOCAB
from kit.model.pooling import POOLS
from kit.platforms.encoders import ENCODER_NAMES, SPECS
from kit.rundir import STEP_NAMES, VERDICTS

# ---------------------------------------------------------------------------------------------------------- numbers
COUNT = Match("a count", r"\d{1,15}|\d{1,3}(?:,\d{3}){1,4}")
NUMBER = Match("a number", r"[-+]?(?:\d{1,3}(?:,\d{3}){1,4}|\d{1,20})(?:\.\d{1,20})?(?:[eE][-+]?\d{1,3})?"
                           r"|[-+]?\.\d{1,20}|[-+]?(?:nan|NaN|inf|Infinity)")
PERCENT = Template("a share", "{n}%", n=NUMBER)
SIZE = Match("a picture size", r"\d{1,5}x\d{1,5}")
RATE = Match("a frame rate", r"\d{1,9}(?:/\d{1,9})?(?:\.\d{1,9})?")
SECONDS = Template("seconds", "{n} s", n=NUMBER)
SHA256 = Match("a sha256", r"[0-9a-f]{64}")
STAMP = Match("a time", r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)?|\d{8}T\d{6}Z")
CLOCK = Match("a time of day", r"\d\d:\d\d:\d\d")
KIT_VERSION = Match("a kit version", r"\d{1,6}\.\d{1,6}(?:\.\d{1,6})?(?:(?:a|b|rc|\.dev|\.post)\d{1,6})?")
VERSION = Match("a version (its numbers, then a digest of its whole text)", typed.VERSION_PATTERN)
PLAIN_VERSION = Match("a version's numbers", r"\d{1,9}(?:\.\d{1,9}){0,2}(?:(?:a|b|rc|\.dev|\.post)\d{1,6})?"
                                             r"(?:\+(?:cpu|cu\d{2,4}|rocm\d{1,2}(?:\.\d{1,2}){0,2}))?")
PYTHON = Match("a Python version", r"3\.\d{1,3}\.\d{1,3}(?:(?:a|b|rc)\d{1,3})?\+?")
GIT_ID = Match("a commit or a version of libvmaf", f"{typed.BUILD_ID_PATTERN}|{typed.VERSION_PATTERN}")
DEVICE = Match("a device (a family of a known list and its model number, or other; a digest of its name), or \"\"",
               typed.DEVICE_PATTERN + "|")
SYSTEM = Match("a system and its release's numbers", typed.SYSTEM_PATTERN)
BOX = Match("a box id", BOX_ID_FORM)  # the --box-id rule's form, whole (kit.infra.rules)
NOTHING = Exact("nothing", [""])


# the figures the kit writes by name in an object of its own (not a record's field): the verdict's and a card's
FIGURE_NAMES = ("encodes_within", "held_out_encodes", "params", "student_encodes_within")


@functools.cache
def _identifiers() -> Exact:
    from kit.infra.records import Record

    found, todo = set(FIGURE_NAMES), [Record]
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if dataclasses.is_dataclass(cls):
            found |= {f.name for f in dataclasses.fields(cls)}
    return Exact("a name", found)


class _Identifier(Kind):
    """A name of the kit's own, a key of its objects: a field of one of its records (kit.infra.records.Record, each
    class loaded: kit.bundle.catalogue loads every one a tarball holds) or one of FIGURE_NAMES."""

    name = "a name of the kit's records or figures"

    def pattern(self, names: Names) -> str:
        return _identifiers().pattern(names)


IDENTIFIER = _Identifier()
NUM = Exact("a number, a boolean or null", [])  # a value that is no text: any text there is refused

# ------------------------------------------------------------------------------------------------- the kit's words
ENCODER = Exact("an encoder the kit knows", [*ENCODER_NAMES, *CODEC_VOCAB, *VMAFTUNE_VOCAB])
ENCODERS_AUTO = Exact("an encoder the kit knows, or auto", [*ENCODER_NAMES, "auto"])
STEP = Exact("a step", STEP_NAMES)
VERDICT = Exact("a verdict", VERDICTS)
TEACHER = one_of("a teacher", Exact("a libvmaf built-in model", BUILTIN_TEACHERS),
                 Match("a model file, by its digest", r"model_[0-9a-f]{12}"))
FEATURE = Exact("a libvmaf feature", [*(f.name for f in TABLE), *TEACHER_FEATURES, "vmaf"])
INPUT_SET = Exact("an input set", INPUT_SET_NAMES)
SCALER = Exact("a scaler", SCALERS)
POOL = Exact("a pooling", POOLS)
PRESET = Exact("an encoder's preset", sorted({s.preset_name for s in SPECS.values()}))
FAILURE = Match("how a child ended", ended.pattern())
# an encoder's quality flags, by the template each spec makes of its number (kit.platforms.encoders.quality_args)
_SENTINEL = 987654321
# as a corpus row records them (kit.corpus.jobs: the rate control, then the encoder's fixed flags), or without those
# (a corpus made before them)
QUALITY_ARGS = Either("an encoder's quality flags", *(
    Template(f"{name}'s quality flags", " ".join(args).replace(str(_SENTINEL), "{q}"), q=COUNT)
    for name, spec in SPECS.items()
    for args in {(*spec.quality_args(_SENTINEL), *spec.extra), tuple(spec.quality_args(_SENTINEL))}))

# ffmpeg's own lists (kit.media.pixfmt.FFMPEG_PIX_FMTS, kit.media.ffmpeg.FFMPEG_ENCODERS)
PIX_FMT = Exact("a pixel format of ffmpeg's", [*FFMPEG_PIX_FMTS, "other", ""])
HWACCELS = ("cuda", "vaapi", "qsv", "drm", "opencl", "vulkan", "amf", "videotoolbox", "d3d11va", "d3d12va", "dxva2",
            "vdpau", "mediacodec", "ohcodec", "other")
HWACCEL = Exact("a hardware acceleration of ffmpeg's", HWACCELS)
FFMPEG_ENCODER = Exact("an encoder of ffmpeg's", [*FFMPEG_ENCODERS, "other"])
DEMUXER = Exact("a demuxer of ffmpeg's", FFMPEG_DEMUXERS)
VIDEO_CODEC = Exact("a video codec of ffmpeg's", FFMPEG_VIDEO_CODECS)
KERNEL_DRIVERS = ("i915", "xe", "amdgpu", "radeon", "nvidia", "nvidia-drm", "nouveau", "virtio_gpu", "vmwgfx",
                  "qxl", "bochs-drm", "simpledrm", "mgag200", "ast", "panfrost", "lima", "msm", "vc4", "v3d", "other")
VA_DRIVERS = ("iHD", "i965", "radeonsi", "r600", "nouveau", "nvidia", "vdpau", "d3d12", "virtio_gpu", "other")
PACKAGES = ("click", "rich", "torch", "onnx", "onnxruntime", "numpy", "pandas", "pyarrow", "scipy", "platformdirs",
            "imageio-ffmpeg", "matplotlib", "ray", "cryptography")
PACKAGE = Exact("a package the kit runs on", PACKAGES)
FFMPEG_SOURCES = Exact("where the kit found its ffmpeg", ("imageio-ffmpeg", "--ffmpeg", FFMPEG_VARIABLE.name,
                                                          "binaries/", "PATH", "bundled", "the kit's binaries"))

# -------------------------------------------------------------------------------------------------- names and paths
CLIP = Named("a clip of this tarball, by its file name", "clips")
SOURCE_NAMED = Named("a source of this tarball", "sources")
SOURCE = Template("a source's name", "{name}{suffix}", name=SOURCE_NAMED,
                  suffix=Either("its digest where names clash", NOTHING, Match("~digest", r"~[0-9a-f]{6,64}")))
BOX_NAMED = Named("a box of this tarball", "boxes")
# a row's box: one of this tarball's, or none recorded (null in the corpus, or no box column: kit.corpus.columns)
A_BOX = Either("a box", BOX_NAMED, Exact("no box", (NO_BOX,)))


class _MadeName(Kind):
    """A name the kit makes of the tarball's names (`which` of _Known: a clip's stem, a job's folder name), looked up
    as a name is (kit.infra.kinds.Named)."""

    looked_up = True

    def __init__(self, name: str, which: str) -> None:
        self.name, self.which = name, which

    def pattern(self, names: Names) -> None:
        return None

    def admits(self, text: str, names: Names = NO_NAMES) -> bool:
        return text == WITHHELD or text in getattr(_known(names), self.which)

    def longest(self, names: Names) -> int:
        return max(map(len, getattr(_known(names), self.which)), default=0)


# a clip of this tarball by its file name without its extension (a job's folder of a clip left out before it had
# rows: kit.corpus.jobs.Job.job_id)
CLIP_STEM = _MadeName("a clip of this tarball, without its extension", "stems")
# a source (or a clip left out before it had rows) as a job's id begins with it (kit.corpus.jobs.job_slug)
JOB_SLUG = _MadeName("a source, as its jobs are named", "jobs")
# a clip's file name where it is first named (a shard manifest's sources and left-out clips, skipped.json): the name
# the user gave the file, sent by the documented rule (docs/reference/files.md, "Names"); never a hidden file's
_CLIP_EXTS = sorted({e.lstrip(".") for e in (*DIRECT_EXTS, *INTERMEDIATE_EXTS, ".y4m", ".yuv")}, key=len, reverse=True)
CLIP_FILE = Match("a clip's file name", r"[^/\x00.][^/\x00]{0,250}\.(?i:" + "|".join(_CLIP_EXTS) + ")")
SOURCE_FILE = Match("a source's name, made from its clip's", r"[^/\x00]{1,255}")
# the names the kit makes in its out-dir and its cache, each part of a path whole (a job's: its source, a digest of
# the clip, its encoder and quality step, its rung), `{src}` a source of the tarball
LAYOUT_FILES = ("baselines.json", "calibration.json", "clip_pooling.parquet", "clips.parquet",
                "consumer_encodes.parquet", "done.txt", "encodes.parquet", "floor.parquet", "folds.parquet",
                "incumbent.json", "intervals.parquet", "ledger.json", "plan.json", "predictions.parquet",
                "prereqs.json", "redo.json",
                "report.html", "run.json", "samples.parquet", "samplings.parquet", "shard.parquet",
                "shard.manifest.json", "skipped.json", "training.json", "status.json", "ensemble.json",
                "sha256.json", "manifest.json")
_JOB = r"(?:{src})-[0-9a-f]{{10}}__[a-z0-9_-]{{2,24}}__cq\d{{3}}(?:__\d{{1,5}}x\d{{1,5}})?"
_MADE = (r"0[1-5]_(?:prereqs|corpus|loso|verdict|bundle)", "logs", r"sent(?:-v\d)?", "work", "decoded", "jobs",
         "probe", "encoders", "detected", "teacher-check", "members", "exports", "vmaftune", "previous", "incumbent",
         "probes", "ffmpeg-answers", "digests", "teacher-answers", r"[0-9a-f]{{16,64}}\.json", "intermediates",
         r"(?:{slugs})-[0-9a-f]{{16}}\.nut",
         r"\d{{8}}T\d{{6}}Z", _JOB, r"(?:{src})-[0-9a-f]{{10}}", _JOB + r"\.(?:parquet|json|h264|hevc|ivf|mkv|nut)",
         r"(?:enc|ref|vmaf|oracle|check|sample\d{{0,3}})\.(?:h264|hevc|ivf|mkv|nut|y4m|json)",
         r"probe(?:_[a-z0-9_]{{2,24}})?\.(?:y4m|h264|hevc|ivf|mkv)", r"(?:probe|teacher) vmaf\.json",
         r"teacher-(?:probe|ref)\.(?:y4m|h264)", _JOB + "__samples",
         r"(?:first|centre|spread-1s|spread-0\.5s)-w\d{{2,4}}\.(?:h264|hevc|ivf|mkv|json|y4m|nut)",
         # a temporary the kit writes a file of its own through (kit.infra.files.temp_name)
         r"\.tmp-(?:ref\.nut|enc\.(?:h264|hevc|ivf|mkv)|(?:vmaf|oracle|check)\.json|shard\.parquet)\.\d{{1,10}}"
         r"\.[0-9a-f]{{8}}\.[0-9a-z_]{{8}}",
         "(?:" + "|".join(map(re.escape, LAYOUT_FILES)) + ")", r"(?:prereqs|corpus|loso|verdict|bundle)\.log",
         r"train-task\d{{1,4}}of\d{{1,4}}\.log", r"loso_seed\d{{1,6}}\.json", r"(?:PROMOTE|HOLD)\.json",
         r"holdout_(?:encoder|box|rung)\.parquet", r"demo-v\d{{1,3}}-\d{{1,5}}x\d{{1,5}}-\d{{1,4}}s-kit[0-9a-f]{{12}}",
         r"(?:{clips})", r"fr_regressor_v2[a-z0-9_]{{0,64}}\.(?:onnx|json)", r"registry-rows\.json",
         r"results-[A-Za-z0-9._-]{{1,128}}-\d{{8}}T\d{{6}}Z\.tar\.gz")
OWN_FILES = (r"\.venv/bin/(?:python3?(?:\.\d{1,2})?|ensemble-kit)(?:\.exe)?",
             r"\.venv/Scripts/(?:python|ensemble-kit)\.exe",
             r"\.venv/lib/python3\.\d{1,2}/site-packages/imageio_ffmpeg/binaries/ffmpeg-(?:linux|macos|osx|win)(?:64|32)?"
             r"(?:-(?:x86_64|aarch64|arm64|amd64|x86))?-v\d{1,3}(?:\.\d{1,3}){0,3}(?:\.exe)?",
             r"binaries/(?:linux|darwin|windows)-(?:x86_64|arm64)/ffmpeg(?:\.exe)?",
             r"kit(?:/(?:[a-z_0-9]{1,40}))?(?:/[a-z_0-9]{1,40}\.py)?")


def _alternation(texts: frozenset[str]) -> str:
    return "|".join(re.escape(t) for t in sorted(texts, key=len, reverse=True)) or "(?!)"


@dataclasses.dataclass(frozen=True)
class _Known:
    """The names a path's parts may hold, as sets (kit.infra.kinds.Named's reason: an alternation of 50,000 names,
    compiled into every pattern holding it, was most of the bundle's 21 GiB): the clips, their stems, the slugs of
    their lossless copies, and the jobs' folder names (a source's, or a clip's stem where it had no rows); `made`:
    each of those texts, the clips and sources it comes from (`mentioned`)."""

    clips: frozenset[str]
    stems: frozenset[str]
    slugs: frozenset[str]
    jobs: frozenset[str]
    made: dict[str, tuple[frozenset[str], frozenset[str]]]
    sizes: tuple[int, ...]  # the lengths `made`'s texts have

    @classmethod
    def of(cls, names: Names) -> _Known:
        # a job's folder names its source, or (a clip left out before it had rows) the clip's name without its
        # extension, as a file name anywhere holds it (kit.corpus.jobs.job_slug)
        made: dict[str, tuple[set[str], set[str]]] = {}
        stems, slugs, jobs = set(), set(), set()
        for clip in names.clips:
            stem = clip.rsplit(".", 1)[0]
            slug = intermediate_path(Path("/"), Path(clip), "").stem[:-17]
            stems.add(stem)
            slugs.add(slug)
            jobs.add(job_slug(stem))
            for text in (clip, stem, job_slug(stem), slug):
                made.setdefault(text, (set(), set()))[0].add(clip)
        for source in names.sources:
            jobs.add(job_slug(source))
            for text in (source, job_slug(source)):
                made.setdefault(text, (set(), set()))[1].add(source)
        return cls(names.clips, frozenset(stems), frozenset(slugs), frozenset(jobs),
                   {k: (frozenset(c), frozenset(s)) for k, (c, s) in made.items()}, tuple(sorted(set(map(len, made)))))

    def __hash__(self) -> int:
        return id(self)


_known = functools.lru_cache(maxsize=8)(_Known.of)
# each part a path's root holds: a form of no name, a clip's name whole, or a name before `-` and a form after it
_NAME_MARK = re.compile(r"^\(\?:\{(src|slugs|clips)\}\)")
_PLAIN_PARTS = re.compile("|".join(m.format() for m in _MADE if "{src}" not in m and "{slugs}" not in m
                                   and "{clips}" not in m), re.DOTALL)
_AFTER_NAME = {which: re.compile("|".join(m[len(f"(?:{{{which}}})"):].format() for m in _MADE
                                          if (n := _NAME_MARK.match(m)) and n.group(1) == which) or "(?!)", re.DOTALL)
               for which in ("src", "slugs")}
_OWN = re.compile("|".join(OWN_FILES))
_PROGRAMS = frozenset(PROGRAMS)


def _made_part(part: str, known: _Known) -> bool:
    """Whether `part` is a name the kit makes below the out-dir or the cache (_MADE), by the names of `known`."""
    if _PLAIN_PARTS.fullmatch(part) or part in known.clips:
        return True
    return any(part[k] == "-" and ((part[:k] in known.jobs and _AFTER_NAME["src"].fullmatch(part, k) is not None)
                                   or (part[:k] in known.slugs and _AFTER_NAME["slugs"].fullmatch(part, k) is not None))
               for k in range(1, len(part)))


class _Path(Kind):
    """A path as the lead may see it (kit.infra.shown): a root's tag and the parts the kit makes below it, a clip of
    --ref-dir by its name (and the copies a fix names beside it), a program elsewhere by a name of PROGRAMS, anything
    else elsewhere as the mark alone. Checked part by part, each name looked up (`pattern`: none); `regex` is the
    same as one expression, for a kind that holds a path among other words (SETTING_VALUE)."""

    name = "a path as the lead may see it (a root's tag and the parts the kit makes below it)"
    looked_up = True

    def pattern(self, names: Names) -> None:
        return None

    def admits(self, text: str, names: Names = NO_NAMES) -> bool:
        if text == WITHHELD:
            return True
        head, slash, rest = text.partition("/")
        known = _known(names)
        if head in (Root.OUT_DIR.value, Root.CACHE.value):
            return not slash or all(_made_part(part, known) for part in rest.split("/"))
        if head == Root.REF_DIR.value:
            stem = rest.removesuffix(".mkv") if rest.endswith(".mkv") else None
            return not slash or rest in known.clips or (stem is not None and (
                stem in known.stems or (stem.endswith("_even") and stem.removesuffix("_even") in known.stems)))
        if head == Root.KIT.value:
            return not slash or _OWN.fullmatch(rest) is not None
        return head == ELSEWHERE and (not slash or rest in _PROGRAMS)

    def regex(self, names: Names) -> str:
        """The paths `admits` admits, as one regular expression (of every name of `names`: give it the few a text
        holds, `mentioned`)."""
        known = _known(names)
        clips, stems, slugs, jobs = (_alternation(t) for t in (known.clips, known.stems, known.slugs, known.jobs))
        made = "|".join(_MADE).format(src=jobs, clips=clips, slugs=slugs)
        tag = {root: re.escape(root.value) for root in Root}
        return "|".join((
            rf"{tag[Root.OUT_DIR]}(?:/(?:{made}))*", rf"{tag[Root.CACHE]}(?:/(?:{made}))*",
            rf"{tag[Root.REF_DIR]}(?:/(?:{clips}|(?:{stems})(?:_even)?\.mkv))?",
            rf"{tag[Root.KIT]}(?:/(?:{'|'.join(OWN_FILES)}))?",
            rf"{re.escape(ELSEWHERE)}(?:/(?:{'|'.join(map(re.escape, PROGRAMS))}))?"))


def mentioned(names: Names, text: str) -> Names:
    """The names of `names` a text can hold: each a part of it (a clip by its name, its stem, its copy's slug or its
    jobs' folder name; a source by its jobs' folder name or whole; a box whole). A kind whose expression holds names
    compiles it of these alone: the same texts admitted, never an expression of every name of a union. Each part of
    a name's length is looked up (no set of every part of the text is made)."""
    known = _known(names)
    found = [known.made[part] for size in known.sizes for i in range(len(text) - size + 1)
             if (part := text[i:i + size]) in known.made]
    boxes = {b for b in names.boxes if b in text}
    return Names(frozenset().union(*(c for c, _ in found)), frozenset().union(*(s for _, s in found)),
                 frozenset(boxes))


PATH = _Path()


# ------------------------------------------------------------------------------------------------------ commands
EXTRACTOR = Exact("an extractor of libvmaf's", EXTRACTORS)
FFMPEG_VOCABULARY = Either("a name of ffmpeg's lists or the kit's", FFMPEG_ENCODER, PIX_FMT, TEACHER, SCALER,
                           EXTRACTOR, Exact("a log format of libvmaf's", ("json",)), PRESET)
FFMPEG_COMMAND = Command(ffmpeg_word(PATH, FFMPEG_VOCABULARY))
# the kit's command words and options (the CLI's: tests/unit/test_catalogue.py holds them to it)
CLI_WORDS = ("run", "step", "verify", "merge", "corpus", "status", "detect", "binaries", "export", "slurm", "ray",
                "ffmpeg", "info", "stage", *STEP_NAMES)
CLI_OPTIONS = tuple(["--accept-key", "--address", "--batch-size", "--box-id", "--consumer-samplings",
                     "--consumer-tolerance", "--consumer-window", "--content-groups", "--corpus", "--cpus-per-task",
                     "--cqs", "--demo-clips", "--demo-seconds", "--downscaler", "--dry-run", "--encode-depth",
                     "--encoders", "--epochs", "--ffmpeg", "--folds", "--force", "--format", "--fps", "--from",
                     "--group-shared", "--height", "--holdout", "--holdout-min-plcc", "--incumbent", "--inputs",
                     "--interval-level", "--job-name", "--jobs", "--json", "--keep-paths", "--max-abs-bias",
                     "--max-clip-error", "--max-consumer-ceiling-gap", "--max-fold-rmse", "--max-out-of-range",
                     "--max-plcc-spread", "--mem", "--min-consumer-content-share", "--min-consumer-share",
                     "--min-content-groups", "--min-coverage", "--min-mean-plcc", "--min-rmse-lift", "--min-seed-plcc",
                     "--model-license", "--model-license-url", "--only", "--out", "--out-dir", "--partition",
                     "--prefer", "--recipe", "--ref-dir", "--refresh", "--root", "--sbatch-arg", "--scales", "--seeds",
                     "--settings", "--shard", "--shards", "--show-sent", "--strict", "--teacher", "--time",
                     "--train-task", "--train-tasks", "--upscaler", "--version", "--vmaftune-crf-range", "--width",
                     "-o", "--help"])
CLI_CHOICES = ("auto", "loso", "native", "8bit", "source", "cut", "encoded", "teacher", "frames", "encoder", "box",
               "rung", "newest", "oldest", "first", "parquet", "jsonl", "csv", "json", "canonical6", "canonical6+v1",
               "public", "off", "--")
_LICENSES = ("BSD-3-Clause", "BSD-2-Clause", "MIT", "Apache-2.0", "CC-BY-4.0", "CC-BY-SA-4.0", "CC0-1.0",
             "CC-BY-NC-4.0", "GPL-2.0-only", "GPL-3.0-only", "LGPL-2.1-only", "LGPL-3.0-only", "MPL-2.0", "ISC",
             "Unlicense", "Zlib", "BSL-1.0", "AGPL-3.0-only", "GPL-2.0-or-later", "GPL-3.0-or-later",
             "LGPL-2.1-or-later", "LGPL-3.0-or-later", "proprietary")
LICENSE = Exact("a licence of the SPDX list", _LICENSES)
LICENSE_URL = Either("a licence's address", *(Exact("its SPDX page", [f"https://spdx.org/licenses/{lic}.html"
                                                                       for lic in _LICENSES]),))
_ENCODER_NAME = "(?:" + "|".join(re.escape(e) for e in sorted(ENCODER_NAMES, key=len, reverse=True)) + ")"
_GRID_PART = rf"(?:{_ENCODER_NAME}:)?\d{{1,4}}(?:,\d{{1,4}}){{0,63}}"
_GRID = rf"{_GRID_PART}(?:;{_GRID_PART}){{0,32}}"
FLAG_VALUE = Either(
    "a value of a kit flag", NUMBER,
    Match("numbers", r"[-+]?\d{1,12}(?:\.\d{1,12})?(?:,[-+]?\d{1,12}(?:\.\d{1,12})?)+"),
    Match("a quality grid", _GRID), Match("K/N", r"\d{1,6}/\d{1,6}"), Exact("a choice", CLI_CHOICES), ENCODERS_AUTO,
    Joined("encoders", ENCODERS_AUTO, ","), TEACHER, SCALER, PATH, LICENSE, LICENSE_URL,
    Match("a frame rate", r"\d{1,6}(?:/\d{1,6})?(?:\.\d{1,6})?"),
    Match("scales", r"(?:native|\d{1,5}|0?\.\d{1,4})(?:,(?:native|\d{1,5}|0?\.\d{1,4}))*"),
    Match("a threshold", r"(?:mean|harmonic_mean|p1|min):\d{1,4}(?:\.\d{1,6})?"))


def _cli_word(flag: str, text: str, names: Names) -> bool:
    """A word of a kit command: the program, a command, an option (`--opt=value` too), or a value of FLAG_VALUE (a box
    id after --box-id alone, one this tarball names)."""
    if text in ("ensemble-kit", *CLI_WORDS, *CLI_OPTIONS) or PATH.admits(text, names) or \
            (text == "-m" or (flag == "-m" and text == "kit")):  # `python -m kit`
        return True
    option, eq, value = text.partition("=")
    if eq and option in CLI_OPTIONS:
        flag, text = option, value
    if flag == "--box-id":
        return BOX_NAMED.admits(text, names)
    return FLAG_VALUE.admits(text, names)


def _any_command(flag: str, text: str, names: Names) -> bool:
    return FFMPEG_COMMAND.word(flag, text, names) or _cli_word(flag, text, names)


# the facts a step's fingerprint holds beside its settings (kit.steps.settings' entries, a plan's `facts`)
FACT_NAMES = ("yuv_defaults", "scalers", "cq_probe", "grid", "needs_ffmpeg", "contents", "models")


class _SettingKey(Kind):
    """A setting's name (run.json's settings: kit.bundle.catalogue.RUN_SETTINGS, which names them to this kind as it
    is made: `known`) or a fact's (FACT_NAMES)."""

    name = "a setting's or a fact's name"

    def __init__(self) -> None:
        self.known: tuple[str, ...] = FACT_NAMES

    def pattern(self, names: Names) -> str:
        return Exact(self.name, self.known).pattern(names)


SETTING_KEY = _SettingKey()
_SETTING_WORDS = ("None", "True", "False", "unset", "auto", "off", "native", "loso", "inf", "nan", *CLI_CHOICES)


class _SettingValue(Kind):
    """A setting's value as a step log says it changed (kit.steps.runner._setting_changes: its Python text, cut at 60
    characters with `...`): each word one of the kit's (an encoder, a choice, a scaler, a teacher, a preset, a
    setting's name, a box of this tarball), each path a path as the lead may see it (PATH), each other character a
    number's or a list's (a colon a dict's, with its space: an IPv6 address is no value)."""

    name = "a setting's value"
    looked_up = True

    def pattern(self, names: Names) -> None:
        return None  # its expression holds names: made of the names each text holds (`admits`)

    def admits(self, text: str, names: Names = NO_NAMES) -> bool:
        return self.admits_within(text, 0, len(text), names)

    def admits_within(self, text: str, start: int, end: int, names: Names = NO_NAMES) -> bool:
        """As the message's expression matched it: its lookaheads (a colon before a space, a number with no dot
        after it) see the message's words after the value."""
        value = text[start:end]
        expression = _setting_value(mentioned(names, value), text[end:])
        return value == WITHHELD or expression.fullmatch(text, start) is not None


@functools.lru_cache(maxsize=256)
def _setting_value(names: Names, after: str = "") -> re.Pattern[str]:
    """SETTING_VALUE's expression of `names` (the few one text holds: `mentioned`), then the words `after` it."""
    words = "|".join(k.slot(names) for k in (
        Exact("a word", _SETTING_WORDS), ENCODER, TEACHER, SCALER, PRESET, INPUT_SET, SETTING_KEY))
    words += "|" + _alternation(names.boxes)
    # a number whole (no dot after it: `10.1.2.3` is none), a sha256 whole or cut where the text is (`...`); a colon
    # a dict's, before a space: no `::1`
    number = r"-?\d{1,12}(?:\.\d{1,12})?(?:[eE][-+]?\d{1,3})?(?![.\d])"
    return re.compile(rf"(?:(?:{words})(?![A-Za-z0-9_])|(?:{PATH.regex(names)})|{number}"
                      r"|[0-9a-f]{64}(?![0-9a-f])|[0-9a-f]{1,63}(?=\.\.\.)"
                      r"|[-+,;/ \[\]{}()'\"<>=]|:(?= |$|\.\.\.$))*(?:\.\.\.)?" + re.escape(after), re.DOTALL)


SETTING_VALUE = _SettingValue()


class _CliWord(Kind):
    """A word of a kit command on its own (run.json's argv: a list of them), a box id one this tarball names."""

    name = "a word of a kit command"

    def pattern(self, names: Names) -> None:
        return None

    def admits(self, text: str, names: Names = NO_NAMES) -> bool:
        return text == WITHHELD or _cli_word("", text, names) or BOX_NAMED.admits(text, names)


CLI_WORD = _CliWord()


class _ArgvWord(Kind):
    """One word of an ffmpeg command the kit built, kept as its list of words (a shard manifest's oracle.argv)."""

    name = "a word of a command the kit built"

    def pattern(self, names: Names) -> None:
        return None

    def admits(self, text: str, names: Names = NO_NAMES) -> bool:
        return text == WITHHELD or FFMPEG_COMMAND.word("", text, names)


ARGV_WORD = _ArgvWord()
CLI_COMMAND = Command(_cli_word)
COMMAND = Command(_any_command)  # a command the kit prints (a fix, a hint): an ffmpeg's or the kit's own
