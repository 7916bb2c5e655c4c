"""What each member of a results tarball may say (issue 96): the one place that declares, for every text of every
member the box sends, its kind (kit.bundle.values; the kit's messages: kit.bundle.messages). The box checks each text
against it as it builds the tarball (kit.bundle.texts: a text no kind admits is withheld, WITHHELD in its place), and
`verify` and `merge` refuse a tarball holding one, naming the member and the field.

The notation of a member's or a field's shape: a Kind (a text of that kind, or a number), NUM (a number, a boolean or
null: no text), a dict (an object: each literal key's shape, or a Kind as a key for the keys of that kind and their
shape), a one-item list (a list of that shape) or a Record class (its FIELDS, its record fields by their own). A
field of a record that holds no text (a number, a boolean, a record) needs no entry in FIELDS; every text field does
(tests/unit/test_catalogue.py fails on one that does not).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from kit.bundle import messages as m
from kit.bundle import values
from kit.bundle.cards import EnsembleManifest
from kit.bundle.conformal import CalibrationCard, Confidence, SplitConformal
from kit.bundle.values import (
    ARGV_WORD,
    BOX,
    CLI_COMMAND,
    CLI_WORD,
    CLIP_FILE,
    COUNT,
    DEVICE,
    ENCODER,
    ENCODERS_AUTO,
    FEATURE,
    FFMPEG_ENCODER,
    FFMPEG_SOURCES,
    FLAG_VALUE,
    GIT_ID,
    HWACCEL,
    IDENTIFIER,
    INPUT_SET,
    KERNEL_DRIVERS,
    KIT_VERSION,
    LICENSE,
    LICENSE_URL,
    NOTHING,
    NUM,
    PACKAGE,
    PATH,
    PIX_FMT,
    PLAIN_VERSION,
    PRESET,
    PYTHON,
    QUALITY_ARGS,
    RATE,
    SCALER,
    SHA256,
    SOURCE,
    SOURCE_FILE,
    STAMP,
    SYSTEM,
    TEACHER,
    VA_DRIVERS,
    VERDICT,
    VERSION,
)
from kit.corpus.manifests import (
    ClipEntry,
    ContentGroup,
    FFmpegRef,
    GroupMember,
    LeftOut,
    ShardManifest,
    ShardRecord,
    SourceRows,
    TwinEntry,
)
from kit.corpus.oracle import IndependentCheck, OracleCheck
from kit.corpus.schema import NO_DEVICE
from kit.corpus.split import ShardSpec
from kit.corpus.summary import CorpusSummary, SourceInfo, TeacherRange
from kit.infra.archive import FileSum, ResultsManifest
from kit.infra.ended import MOMENTS
from kit.infra.ended import Kind as Ended
from kit.infra.invocation import RunProvenance
from kit.infra.keys import Signer
from kit.infra.kinds import NO_NAMES, WITHHELD, Either, Exact, Joined, Kind, Match, Names, Template
from kit.infra.variables import TRAIN_THREADS
from kit.media.discovery import SkippedClips, Unusable
from kit.media.ffmpeg import FFmpegInfo
from kit.media.fingerprint import FrameTimes, Repeats
from kit.media.libvmaf import TABLE, TEACHER_FEATURES, Teacher
from kit.model.incumbent import NOTE as INCUMBENT_NOTE
from kit.model.realrows import STATUSES as REAL_STATUSES
from kit.model.realrows import content_names
from kit.model.recipe import TrainConfig
from kit.model.results import (
    BaselineResult,
    Baselines,
    CorpusRef,
    EnsembleMember,
    FoldResult,
    FoldScheme,
    GroupResult,
    RealEvidence,
    SeedReport,
)
from kit.model.teacher_fn import TeacherFunction
from kit.model.threads import ThreadChoice
from kit.platforms.detect import HostFamily
from kit.platforms.encoders import HwArgs
from kit.platforms.grids import CqGrid
from kit.platforms.prereqs import HostReport, OutDirReport, Prereqs
from kit.platforms.probe import ProbeResult
from kit.platforms.signals import HostSignals, NvidiaGpu, RenderNode, VideoController
from kit.verdict.ceiling import ConsumerJudged, ConsumerTally
from kit.verdict.document import (
    ClipPooling,
    ClipUse,
    Completeness,
    ConsumerFit,
    ConsumerGroup,
    ConsumerSampling,
    ExportedInterval,
    GroupErrors,
    HoldoutBlock,
    IntervalLevel,
    Intervals,
    LimitGate,
    PoolError,
    SampledShare,
    UntrainedSlot,
    Verdict,
    VerdictProvenance,
    WorstFold,
)
from kit.verdict.gates import GATES
from kit.verdict.lift import ChallengerGate, Lift, LiftGate
from kit.verdict.plausibility import TeacherSuspect
from kit.verdict.regimes import FrameRegime
from kit.verdict.thresholds import EvidenceGate, FoldGate, GateResult, GateThresholds

Shape = Any  # a Kind, NUM, a dict, a one-item list or a Record class (the module's docstring)
REF_ENTRY = Match("an entry of --ref-dir, by its name", r"\[ref-dir\]/[^/\x00.][^/\x00]{0,254}")
THRESHOLD = Exact("a gate's threshold", [f.name for f in dataclasses.fields(GateThresholds)])


class _Member(Kind):
    """A member of the tarball, by its path below the tarball's folder: one of the out-dir's the kit makes (PATH)."""

    name = "a member of the tarball"

    def pattern(self, names: Names) -> None:
        return None

    def admits(self, text: str, names: Names = NO_NAMES) -> bool:
        return text == WITHHELD or PATH.admits(f"[out-dir]/{text}", names)


MEMBER = _Member()

SIGNATURE = Match("a picture signature the kit computed (zlib, base64)", r"t\d{1,2}:[A-Za-z0-9+/=]{4,200000}")
TICKS = Match("frame times the kit read (zlib, base64)", r"d\d{1,2}:[A-Za-z0-9+/=]{4,200000}")
FIRST_FRAMES = Match("frames new (n) or repeated (r)", r"[nr]{0,256}")
REF_DECODES = Exact("how a clip was decoded for scoring", ("the clip's file", "the shared decode",
                                                          "the clip's file and the shared decode",
                                                          "the shared decode and the clip's file", ""))
STAT = Exact("a pooling", ("mean", "harmonic_mean", "p1", "min"))
GROUPING = Exact("a grouping", ("encoder", "box", "resolution", "rung", "quality", "source", "crf_band", "content",
                                "all"))
RESOLUTION = Match("a resolution class", r"<=\d{3,4}p|>1080p|unknown")
QUALITY_KEY = Template("a quality setting", "{e} cq{cq}", e=ENCODER, cq=COUNT)
GROUP_NAME = Either("a group's name", ENCODER, m.BOX_NAMED, RESOLUTION, m.RUNG, QUALITY_KEY, SOURCE, m.CRF_BAND,
                    m.SOURCES, Exact("all", ["all held-out encodes"]))
_GATE_MEASURE = Exact("a gate's measure", [g.measure for g in GATES])
MEASURE = Either("a gate's measure", _GATE_MEASURE, Template("a keyed gate's measure", "{g}:{k}", g=_GATE_MEASURE,
                                                              k=STAT))
SEED_KEY = Match("a seed", r"\d{1,6}")
LEVEL_KEY = Match("a level", r"\d{1,3}(?:\.\d{1,6})?")
SAMPLING = Exact("a sampling", ("first", "centre", "spread-1s", "spread-0.5s"))
SAMPLED_HOW = Exact("how a window was taken", ("cut", "encoded"))
ARCH = Exact("an architecture", ("fr_regressor_v2", "mlp_small", "linear", "ridge", "teacher_fn"))
BASELINE = Exact("a baseline", ("ridge", "linear", "mlp_small", "teacher_fn", "incumbent"))
RECIPE = Exact("a recipe", ("teacher", "frames"))
OPTIMIZER = Exact("an optimizer", ("adam", "adamw", "sgd"))
LOSS = Exact("a loss", ("mse", "huber", "l1"))
TARGET = Exact("a target", ("vmaf",))

# the settings as run.json holds them (RunSettings; a cluster's settings.json, as its tasks read it)
RUN_SETTINGS: Shape = {
    "out_dir": PATH, "ref_dir": PATH, "width": NUM, "height": NUM, "fps": RATE, "encoders": [ENCODERS_AUTO],
    "cqs": CqGrid, "scales": [FLAG_VALUE], "downscaler": SCALER, "upscaler": SCALER,
    "teacher": Either("a teacher, or its file", TEACHER, PATH), "seeds": [NUM],
    "folds": Match("--folds", r"loso|auto|\d{1,6}"), "corpus": PATH, "jobs": NUM, "ffmpeg": PATH, "box_id": BOX,
    "gate": GateThresholds, "train": TrainConfig, "demo_clips": NUM, "demo_seconds": NUM, "incumbent": PATH,
    "shard": ShardSpec, "consumer_window": NUM, "consumer_samplings": SAMPLED_HOW, "vmaftune_crf_range": [NUM],
    "model_license": LICENSE, "model_license_url": LICENSE_URL, "encode_depth": Exact("a depth", ("8bit", "source")),
    "content_groups": PATH, "interval_level": NUM, "holdout": [Exact("a holdout", ("encoder", "box", "rung"))],
    "train_tasks": NUM, "group_shared": NUM, "strict": NUM, "keep_paths": NUM}
values.SETTING_KEY.known = (*(k for k in RUN_SETTINGS if isinstance(k, str)), *values.FACT_NAMES)
TRAIN_CONFIG: Shape = {"arch": ARCH, "inputs": INPUT_SET, "recipe": RECIPE, "optimizer": OPTIMIZER, "loss": LOSS,
                       "target": TARGET,
                       Exact("a training setting", ["seed", *(f.name for f in dataclasses.fields(TrainConfig))]): NUM}

FIELDS: dict[type, dict[Any, Shape]] = {
    # tarball manifest.json: the box's signature (kit.infra.keys) in typed values: a key, a signature, a part, the
    # run it follows
    ResultsManifest: {"kind": Exact("a results tarball", ("ensemble-kit-results",)), "kit_version": KIT_VERSION,
                      "meta": {"box_id": BOX, "verdict": VERDICT, "created_utc": STAMP, "corpus_sha256": SHA256,
                               "contents": Exact("contents", ("corpus",)), "catalogue": NUM},
                      "files": {MEMBER: FileSum},
                      "signature": Match("an Ed25519 signature", r"[0-9a-f]{128}")},
    Signer: {"public_key": Match("an Ed25519 public key", r"[0-9a-f]{64}"),
             "part": Match("a part of a reference set", r"(?:\d{1,6}/\d{1,6})?"),
             "follows": Either("the run it follows", SHA256, NOTHING)},
    FileSum: {"sha256": SHA256},
    # run.json
    RunProvenance: {"python": PYTHON, "executable": PATH, "kit_root": PATH, "platform": SYSTEM, "cwd": PATH},
    ThreadChoice: {"chosen_by": Exact("who chose", ("kit", TRAIN_THREADS.name)),
                   "omp_wait_policy": Exact("a policy", ("PASSIVE", "ACTIVE", ""))},
    CqGrid: {"every": [NUM], "named": {ENCODER: [NUM]}},
    ShardSpec: {"how": Exact("how a shard was given", ("auto", "given", "")),
                Exact("a shard's figure", [f.name for f in dataclasses.fields(ShardSpec)]): NUM},
    GateThresholds: {"max_clip_error": {STAT: NUM}},
    TrainConfig: {"arch": ARCH, "inputs": INPUT_SET, "recipe": RECIPE, "optimizer": OPTIMIZER, "loss": LOSS,
                  "target": TARGET},
    # prereqs.json (as sent: kit.bundle.sent.sent_prereqs types what the system said)
    Prereqs: {"kit_version": KIT_VERSION, "libvmaf_version": GIT_ID, "requested_encoders": [ENCODERS_AUTO],
              "resolved_encoders": [ENCODER], "encoders": {ENCODER: ProbeResult},
              "encoders_10bit": {ENCODER: ProbeResult},
              "python_packages": {PACKAGE: Either("a version", PLAIN_VERSION, VERSION)},
              "encode_depth": Exact("a depth", ("8bit", "source")), "left_out": [ENCODER], "untested": [ENCODER]},
    FFmpegInfo: {"path": PATH, "source": FFMPEG_SOURCES, "version": VERSION, "build": VERSION,
                 "encoders": [FFMPEG_ENCODER]},
    ProbeResult: {"name": ENCODER, "reason": m.PROBE_REASON, "device": DEVICE, "hint": m.PROBE_FIX,
                  "retest": Either("a command", CLI_COMMAND, NOTHING), "tested": m.PROBE_TESTED,
                  "ended": Exact("how a child ended", tuple(Ended.__members__))},
    HwArgs: {"init": [FLAG_VALUE], "filter": m.HW_FILTER},
    HostFamily: {"key": Exact("a family", ("nvidia", "intel", "amd", "macos", "cpu")), "label": m.FAMILY_LABEL,
                 "evidence": m.FAMILY_EVIDENCE, "defaults": [ENCODER], "opt_in": [ENCODER]},
    HostReport: {"platform": m.PLATFORM, "os": SYSTEM, "cpu": DEVICE, "python": PYTHON},
    HostSignals: {"system": Exact("a system", ("linux", "darwin", "windows", "other")),
                  "machine": Exact("a machine", ("x86_64", "arm64", "other")), "cpu": DEVICE,
                  "nvidia_smi": m.NVIDIA_SMI, "libva_driver_name": Exact("a VA-API driver", (*VA_DRIVERS, "")),
                  "encoders": [FFMPEG_ENCODER], "hwaccels": [HWACCEL],
                  "amf_runtime": Either("the AMF runtime", PATH, NOTHING)},
    NvidiaGpu: {"name": DEVICE, "driver": m.DRIVER_VERSION},
    RenderNode: {"path": Match("a render node", r"/dev/dri/renderD\d{1,4}"),
                 "vendor": Match("a PCI vendor", r"0x[0-9a-f]{4}|"),
                 "driver": Exact("a kernel driver", (*KERNEL_DRIVERS, "")),
                 "va_driver": Either("a VA-API driver's version", VERSION, NOTHING)},
    VideoController: {"name": DEVICE, "vendor": Match("a PCI vendor", r"0x[0-9a-f]{4}|"),
                      "maker": Exact("a maker", ("Advanced Micro Devices, Inc.", "NVIDIA", "Intel Corporation",
                                                 "other", "")),
                      "driver": Either("a version", m.DRIVER_VERSION, NOTHING)},
    OutDirReport: {"path": PATH},
    Teacher: {"name": TEACHER, "path": Either("a model file", PATH, NOTHING), "sha256": Either("its sha256", SHA256,
                                                                                              NOTHING)},
    # the shard's manifest
    ShardManifest: {"kind": Exact("a manifest", ("shard", "merged")), "file": Exact("a corpus file",
                                                                                  ("shard.parquet",)),
                    "sha256": SHA256, "box_id": BOX, "platform": m.PLATFORM, "device": DEVICE,
                    "devices": {ENCODER: DEVICE},
                    "libvmaf_version": GIT_ID, "teacher_model": TEACHER, "teacher_sha256": Either("", SHA256, NOTHING),
                    "encoders": [ENCODER], "grid": {ENCODER: [NUM]}, "scales": [FLAG_VALUE], "scaler_down": SCALER,
                    "scaler_up": SCALER, "encode_depth": Exact("a depth", ("8bit", "source", "")),
                    "kit_version": KIT_VERSION, "created_at_utc": STAMP, "overrides": [m.CONTENT_OVERRIDE],
                    "apart": [[SHA256]], "warnings": [m.SHARD_WARNING], "corpus_sha256": SHA256},
    FFmpegRef: {"path": PATH, "version": VERSION, "build": VERSION},
    ShardRecord: {"label": Match("a shard", r"\d{1,6}/\d{1,6}"), "set_sha256": SHA256, "sources": [SHA256]},
    ClipEntry: {"src": SOURCE_FILE, "src_sha256": SHA256, "fps": RATE, "pix_fmt": PIX_FMT, "enc_pix_fmt": PIX_FMT,
                "content": SHA256, "pixels_sha256": Either("", SHA256, NOTHING), "signature": Either("", SIGNATURE,
                                                                                                   NOTHING),
                "file": CLIP_FILE, "decode": REF_DECODES, "scored_in": PIX_FMT, "scoring": m.SCORING_NOTE},
    OracleCheck: {"job_id": m.JOB_ID, "argv": [ARGV_WORD], "failure": m.ORACLE_FAILURE, "sent_argv": [ARGV_WORD]},
    Repeats: {"first": FIRST_FRAMES},
    FrameTimes: {"time_base": RATE, "ticks": TICKS},
    TwinEntry: {"file": Either("a twin's file", REF_ENTRY, PATH), "src": SOURCE_FILE, "src_sha256": SHA256,
                "same_as": SHA256, "same_as_file": PATH},
    ContentGroup: {"content": SHA256, "why": [m.CONTENT_RULING]},
    GroupMember: {"src": SOURCE, "src_sha256": SHA256, "box_id": Either("", m.BOX_NAMED, NOTHING),
                  "file": Either("", m.CLIP, NOTHING)},
    LeftOut: {"file": m.CLIP, "why": m.LEFT_OUT_WHY, "box_id": Either("", m.BOX_NAMED, NOTHING),
              "input": NOTHING},
    SourceRows: {"src": SOURCE, "src_sha256": SHA256, "content": SHA256, "pixels_sha256": Either("", SHA256, NOTHING),
                 "signature": Either("", SIGNATURE, NOTHING), "file": Either("", m.CLIP, NOTHING)},
    # 02_corpus/skipped.json (its sent twin)
    Unusable: {"path": PATH, "reason": m.SKIPPED_REASON, "fix": m.SKIPPED_FIX,
               "moment": Exact("a moment", MOMENTS)},
    SkippedClips: {},
    # LOSO
    SeedReport: {"train_config": TRAIN_CONFIG, "folds_without_correlation": [SOURCE], "recipe": RECIPE},
    FoldResult: {"src": SOURCE, "src_sha256": SHA256},
    GroupResult: {"content": SHA256, "name": m.SOURCES},
    CorpusRef: {"path": PATH, "sha256": SHA256},
    FoldScheme: {"scheme": Exact("a scheme", ("loso", "kfold")), "asked": m.FOLDS_ASKED, "why": m.FOLD_WHY},
    TeacherFunction: {"teacher": TEACHER, "worst": m.WORST_FRAME, "model_sha256": SHA256, "reason": m.TEACHER_FN_REASON,
                      "own_features": m.OWN_FEATURES},
    Baselines: {"corpus_sha256": SHA256, "models": {BASELINE: BaselineResult}},
    BaselineResult: {"model": Either("a model", BASELINE, ARCH),
                     "details": {"inputs": m.BASELINE_INPUTS, "recipe": m.BASELINE_RECIPE, "teacher": TEACHER,
                                 "path": PATH, "copied_from": PATH, "members": [m.MODEL_FILE],
                                 "sha256": {m.MODEL_FILE: SHA256}, "note": Exact("the incumbent's note", (
                                     INCUMBENT_NOTE,)),
                                 IDENTIFIER: NUM}},
    # the verdict
    Verdict: {"verdict": VERDICT, "generated_at_utc": STAMP, "recommendation": m.RECOMMENDATION,
              "baselines": {BASELINE: BaselineResult}, "teacher_model": Either("teachers", TEACHER, m.MIXED_TEACHERS),
              "plcc_measures": m.PLCC_MEASURES, "folds_without_correlation": m.NO_CORRELATION,
              "teacher_models": [TEACHER], "figure_kinds": {m.FIGURE_KEY: m.FIGURE_KIND},
              "confounding": [m.CONFOUNDING], "teacher_sha256": SHA256, "recipe": RECIPE,
              "reasons": [m.HOLD_REASON]},
    GateResult: {"per_seed_plccs": {SEED_KEY: NUM}, "not_judged": m.UNJUDGED_WHY, "seeds_not_judged": m.UNJUDGED_WHY},
    LiftGate: {"not_judged": m.UNJUDGED_WHY},
    RealEvidence: {"status": Exact("what the public encodes were", REAL_STATUSES),
                   "sha256": Either("", SHA256, NOTHING)},
    EvidenceGate: {"statement": m.EVIDENCE_STATEMENT},
    FoldGate: {"measure": MEASURE, "worst_src": SOURCE, "failing_sources": [SOURCE], "not_judged": m.NOT_JUDGED},
    LimitGate: {"measure": MEASURE, "worst": m.GATE_WORST, "failing": [m.GATE_WORST],
                "statement": m.LIMIT_STATEMENT_OR_NOT, "not_judged": m.NOT_JUDGED},
    Lift: {"statement": m.LIFT_STATEMENT},
    ChallengerGate: {"statement": m.CHALLENGER_STATEMENT, "not_judged": m.UNJUDGED_WHY},
    WorstFold: {"src": SOURCE, "src_sha256": SHA256, "reason": m.WORST_REASON},
    VerdictProvenance: {"kit_version": KIT_VERSION, "python": PYTHON, "train_config": TRAIN_CONFIG,
                        "thresholds": {"max_clip_error": {STAT: NUM}, THRESHOLD: NUM}},
    CorpusSummary: {"path": PATH, "sha256": SHA256, "sources": [SOURCE], "boxes": [BOX],
                    "devices": [Either("a device", DEVICE, Exact("no device", (NO_DEVICE,)))],
                    "platforms": [m.PLATFORM], "encoders": [ENCODER],
                    "corpus_kind": Exact("a corpus's kind", ("shard", "merged", "jsonl", "unknown", "demo")),
                    "shard": Either("a shard", Match("K/N", r"\d{1,6}/\d{1,6}"), NOTHING),
                    "merged_from": [m.MERGED_FROM],
                    "teacher_models": [TEACHER], "teacher_sha256": SHA256, "rungs": [m.RUNG],
                    "warnings": [m.CORPUS_WARNING]},
    SourceInfo: {"src": SOURCE, "src_sha256": SHA256, "content": SHA256, "pix_fmt": PIX_FMT},
    TeacherRange: {"encoder": ENCODER, "rungs": [m.RUNG], "warning": m.TEACHER_RANGE_WARNING},
    Intervals: {"method": m.INTERVAL_WORDS, "formula": m.INTERVAL_WORDS, "score": Exact("a score", ("normalised",
                                                                                                  "absolute")),
                "unit": m.INTERVAL_WORDS, "q_reason": m.Q_REASON, "warning": m.COVERAGE_WARNING},
    IntervalLevel: {"reason": m.LEVEL_REASON},
    ClipUse: {"note": m.CLIP_USE_NOTE, "coverage_by_level": {LEVEL_KEY: NUM}},
    ExportedInterval: {"method": Exact("a method", ("ensemble", "ensemble+conformal")), "recipe": m.INTERVAL_WORDS,
                       "group_coverage": {SHA256: NUM}, "reason": m.EXPORTED_REASON},
    GroupErrors: {"by": GROUPING, "group": GROUP_NAME, "coverage_by_level": {LEVEL_KEY: NUM},
                  "width_by_level": {LEVEL_KEY: NUM}, "coverage_reason": m.COVERAGE_REASON, "note": m.GROUP_NOTE},
    HoldoutBlock: {"kind": Exact("a holdout", ("encoder", "box", "rung")), "scheme": m.HOLDOUT_SCHEME,
                   "left_out": m.HOLDOUT_LEFT_OUT},
    Completeness: {"missing": [SOURCE]},
    ClipPooling: {"how": m.INTERVAL_WORDS},
    PoolError: {"stat": STAT, "worst_clip": Either("", m.ENCODE, NOTHING), "encoder": ENCODER},
    TeacherSuspect: {"src": SOURCE, "src_sha256": SHA256, "encoder": ENCODER, "why": [Exact("why", ("low", "flat"))]},
    ConsumerFit: {"how": m.CONSUMER_WORDS, "worst_encode": Either("", m.ENCODE, NOTHING), "train_hint": m.TRAINS_SLOTS,
                  "not_counted": m.NOT_COUNTED, "unmeasured_bands": [m.CRF_BAND], "codec_note": m.CONSUMER_WORDS,
                  "no_ceiling": m.NO_CEILING_WHY},
    ConsumerGroup: {"by": GROUPING, "group": GROUP_NAME, "worst_encode": Either("", m.ENCODE, NOTHING)},
    UntrainedSlot: {"encoder": ENCODER, "why": m.UNTRAINED_WHY, "trains_it": m.TRAINS_IT},
    SampledShare: {"sampling": SAMPLING, "words": m.SAMPLING_WORDS, "how": SAMPLED_HOW,
                   "worst_encode": Either("", m.ENCODE, NOTHING)},
    ConsumerSampling: {"how": m.SAMPLING_HOW, "best": m.BEST_SAMPLING, "warnings": [m.CONTENT_WARNING],
                       "not_measured": m.NOT_MEASURED, "placed": m.PLACED},
    ConsumerJudged: {"how": m.JUDGED_HOW, "pool": m.JUDGED_POOL,
                     "file": Exact("its file", ("04_verdict/consumer_encodes.parquet",)),
                     "worst_encode": Either("", m.ENCODE, NOTHING)},
    ConsumerTally: {"by": GROUPING, "group": GROUP_NAME},
    FrameRegime: {"src": SOURCE, "src_sha256": SHA256, "content": Either("a content", SHA256, m.SOURCES),
                  "first": FIRST_FRAMES},
    IndependentCheck: {"worst": Either("", m.WORST_FRAME, NOTHING), "refused": [m.REFUSED_LINE], "unchecked": [m.CLIP],
                       "from_copy": [m.CLIP]},
    # the exports
    EnsembleManifest: {"name": m.MODEL_NAME, "kind": Exact("an ensemble", ("fr_ensemble",)), "kit_version": KIT_VERSION,
                       "combine": m.COMBINE, "codec_vocab": [ENCODER], "corpus_sha256": SHA256, "verdict": VERDICT,
                       "teacher_model": TEACHER, "teacher_sha256": SHA256},
    EnsembleMember: {"onnx": m.MODEL_FILE, "sidecar": m.MODEL_FILE, "sha256": SHA256},
    Confidence: {"method": Exact("a method", ("ensemble", "ensemble+conformal")), "reason": m.EXPORTED_REASON},
    SplitConformal: {"method": Exact("a method", ("split-conformal",)), "reason": m.CALIBRATION_REASON,
                     "calibrates": m.INTERVAL_WORDS, "model_id": m.MODEL_NAME, "models": {m.MODEL_FILE: SHA256}},
    CalibrationCard: {"file": m.MODEL_FILE, "sha256": SHA256, "method": Exact("a method", ("split-conformal",)),
                      "unit": m.CALIBRATION_UNIT, "note": m.CALIBRATION_NOTE, "model_id": m.MODEL_NAME,
                      "models": {m.MODEL_FILE: SHA256}},
}

# ------------------------------------------------------------------------------------- the names a tarball is about
# the fields that name a clip, a source or a box first (their kinds a form, not a list): what Names is made of
ROOTS: dict[Kind, str] = {CLIP_FILE: "clips", REF_ENTRY: "clips", SOURCE_FILE: "sources", BOX: "boxes"}


def root_name(kind: Kind, text: str) -> str:
    """The name a root field's text gives (an entry of --ref-dir: its name after the tag)."""
    return text.split("/", 1)[1] if kind is REF_ENTRY else text


FIELDS[Unusable]["path"] = REF_ENTRY
FIELDS[LeftOut]["file"] = CLIP_FILE
FIELDS[CorpusSummary]["sources"] = [SOURCE_FILE]
FIELDS[ClipEntry]["src"] = SOURCE_FILE

# ----------------------------------------------------------------------------------------------- run.json, as sent
RUN_JSON: Shape = {"schema_version": NUM, "kit_version": KIT_VERSION, "invoked_at_utc": STAMP, "argv": [CLI_WORD],
                   "settings": RUN_SETTINGS, "provenance": RunProvenance, "threads": ThreadChoice,
                   "argv_paths": [[NUM]]}
CALIBRATION: Shape = SplitConformal

# ------------------------------------------------------------------------------------------- the models' documents
TEACHER_CARD: Shape = {"model": TEACHER, "builtin": NUM, "sha256": SHA256,
                       "inputs": Exact("what a teacher's inputs are", (
                           "the canonical six libvmaf features, whatever the teacher: the proxy learns this teacher's "
                           "score from them (docs/teachers.md has how well each teacher distils)",)),
                       "vmaf_tune_verifies_with": TEACHER, "vmaf_tune_note": m.VERIFIER_NOTE}
JUDGED_CARD: Shape = {"how": m.JUDGED_HOW, "pool": m.JUDGED_POOL, "n_encodes": NUM, "n_pool": NUM,
                      "within_on_pool": NUM, "share_on_pool": NUM,
                      "file": Exact("its file", ("04_verdict/consumer_encodes.parquet",))}
DISTILLATION: Shape = {
    "recipe": RECIPE, "method": m.RECIPE_WORDS, "teacher_function": TeacherFunction,
    "correction": {"said": m.CORRECTION, IDENTIFIER: NUM},
    "as_vmaftune_uses_it": {"worst_encode": Either("", m.ENCODE, NOTHING), "note": m.CARD_NOTE,
                            "as_sampled": JUDGED_CARD, IDENTIFIER: NUM}}
TRAINING_RECIPE: Shape = {**TRAIN_CONFIG, "fit": Exact("a fit", ("full corpus",))}
SIDECAR: Shape = {
    "schema_version": NUM, "name": m.MODEL_NAME, "seed": NUM, "onnx": m.MODEL_FILE, "onnx_sha256": SHA256,
    "onnx_opset": NUM,
    "inputs": {"features": {"shape": [m.BATCH], "order": [FEATURE], "input_set": INPUT_SET, "input_version": NUM,
                            "note": m.CARD_NOTE},
               "codec": {"shape": [m.BATCH], "order": [Either("a slot", ENCODER, Exact("cq_norm", ("cq_norm",)))],
                         "note": m.CARD_NOTE}},
    "output": {"name": Exact("vmaf", ("vmaf",)), "shape": [m.BATCH], "range_hint": [NUM], "clipped": NUM,
               "note": m.CARD_NOTE, "out_of_range_share": NUM},
    "normalisation": {"features": {"mean": [NUM], "std": [NUM]}, "log1p": [FEATURE], "cq_ranges": {ENCODER: [NUM]},
                      "cq_norm": m.CARD_NOTE},
    "resolution": {"rungs": [m.RUNG], "scale_input": NUM, "note": m.CARD_NOTE},
    "encoder_vocab": [ENCODER], "training_recipe": TRAINING_RECIPE, "distillation": DISTILLATION,
    "corpus": {"sha256": SHA256, "rows": NUM, "sources": NUM, "boxes": [BOX], "encoders": [ENCODER]},
    "loso": {IDENTIFIER: NUM}, "teacher_model": TEACHER, "teacher": TEACHER_CARD,
    "parity_max_abs_diff": NUM, "kit_version": KIT_VERSION,
    "confidence": {"method": Exact("a method", ("ensemble", "ensemble+conformal")), "reason": m.EXPORTED_REASON,
                   "applies_to": m.CARD_NOTE, IDENTIFIER: NUM}}
INTERVAL_CARD: Shape = {"confidence": Confidence, "ensemble_rule": m.ENSEMBLE_RULE, "calibration": CalibrationCard,
                        "applies_to": m.CARD_NOTE, "unbounded": NUM}
PROFILE: Shape = {
    "schema_version": NUM, "id": m.MODEL_NAME, "kind": Exact("fr", ("fr",)), "onnx": m.MODEL_FILE, "sha256": SHA256,
    "onnx_opset": NUM, "input_names": [Exact("input", ("input",))], "output_names": [Exact("vmaf", ("vmaf",))],
    "seed": NUM,
    "gate": {"passed": NUM, "verdict": VERDICT, "mean_plcc": NUM, "plcc_spread": NUM, "seed_mean_plcc": NUM,
             "seed_mean_rmse": NUM, "thresholds": {"max_clip_error": {STAT: NUM},
                                                   THRESHOLD: NUM},
             "measures": m.GATE_MEASURES},
    "feature_order": [FEATURE], "feature_mean": [NUM], "feature_std": [NUM], "normalisation": m.CARD_NOTE,
    "encoder_vocab": [ENCODER],
    "layout": {"shape": [m.BATCH], "columns": {Match("columns", r"\d{1,2}(?:-\d{1,2})?"): m.LAYOUT_COLUMN}},
    "crf_range": [NUM], "crf_norm": m.CRF_NORM, "preset_norm": m.CARD_NOTE, "unseen_encoders": {ENCODER: m.UNSEEN},
    "crf_coverage": {ENCODER: {"trained_crf": [NUM], "queried_crf": [NUM], "unmeasured_crf": [m.CRF_BAND],
                               "note": m.CRF_COVERAGE_NOTE}},
    "resolution": {"rungs": [m.RUNG], "scale_input": NUM, "note": m.CARD_NOTE},
    "output": {"name": Exact("vmaf", ("vmaf",)), "clipped": NUM, "range": [NUM], "out_of_range_share": NUM,
               "note": m.CARD_NOTE},
    "recipe": TRAINING_RECIPE,
    "corpus": {"sha256": SHA256, "rows": NUM, "sources": NUM, "boxes": [BOX], "encoders": [ENCODER],
               "teacher_model": TEACHER, "teacher_sha256": SHA256},
    "teacher": TEACHER_CARD, "distillation": DISTILLATION, "parity_max_abs_diff": NUM, "kit_version": KIT_VERSION,
    "chosen_member": m.CHOSEN_MEMBER, "intervals": INTERVAL_CARD}
PROFILE_MANIFEST: Shape = {
    "schema_version": NUM, "id": m.MODEL_NAME, "name": m.MODEL_NAME, "kind": Exact("an ensemble", ("fr_ensemble",)),
    "ensemble_size": NUM,
    "members": [{"id": m.MODEL_NAME, "name": m.MODEL_NAME, "onnx": m.MODEL_FILE, "seed": NUM, "sha256": SHA256}],
    "feature_order": [FEATURE], "feature_mean": [NUM], "feature_std": [NUM], "codec_vocab": [ENCODER],
    "codec_vocab_version": NUM, "model_codec_vocab_version": NUM, "confidence": Confidence, "smoke": NUM,
    "combine": m.COMBINE, "crf_range": [NUM], "kit_version": KIT_VERSION, "corpus_sha256": SHA256,
    "calibration": CalibrationCard}
REGISTRY_ROWS: Shape = [{"id": m.MODEL_NAME, "kind": Exact("fr", ("fr",)), "onnx": m.MODEL_FILE, "sha256": SHA256,
                         "license": LICENSE, "license_url": LICENSE_URL, "sigstore_bundle": m.SIGSTORE_FILE,
                         "opset": NUM, "smoke": NUM, "notes": m.REGISTRY_NOTES}]
_MODEL = r"fr_regressor_v2(?:_[a-z0-9_]{1,40})?"

# a member's shape, by its path (the first pattern that matches it whole)
DOCUMENTS: tuple[tuple[str, Shape], ...] = (
    ("manifest.json", ResultsManifest), ("run.json", RUN_JSON), ("01_prereqs/prereqs.json", Prereqs),
    ("02_corpus/shard.manifest.json", ShardManifest), ("02_corpus/skipped.json", SkippedClips),
    (r"03_loso/loso_seed\d{1,6}\.json", SeedReport), ("03_loso/baselines.json", Baselines),
    (r"04_verdict/(?:PROMOTE|HOLD)\.json", Verdict), ("04_verdict/calibration.json", CALIBRATION),
    ("05_bundle/exports/ensemble.json", EnsembleManifest),
    (rf"05_bundle/exports/{_MODEL}_seed\d{{1,6}}\.json", SIDECAR),
    (rf"05_bundle/exports/vmaftune/{_MODEL}_calibration\.json", CALIBRATION),
    (r"05_bundle/exports/vmaftune/registry-rows\.json", REGISTRY_ROWS),
    (rf"05_bundle/exports/vmaftune/{_MODEL}_seed\d{{1,6}}\.json", PROFILE),
    (r"05_bundle/exports/vmaftune/fr_regressor_v2_ensemble_v\d{1,3}(?:_[a-z0-9_]{1,40})?\.json", PROFILE_MANIFEST),
    (rf"05_bundle/exports/vmaftune/{_MODEL}\.json", PROFILE),
)


def shape_of(arc: str) -> Shape | None:
    """The shape of JSON member `arc` (None: no JSON member the catalogue knows)."""
    for pattern, shape in DOCUMENTS:
        if re.fullmatch(pattern, arc):
            # the vmaf-tune profile's member and ensemble manifests share a stem: the manifest first
            return shape
    return None


def is_log(arc: str) -> bool:
    """A step log's sent twin (its lines: LOG_LINE)."""
    return bool(re.fullmatch(r"0[1-5]_(?:prereqs|corpus|loso|verdict|bundle)/logs/[a-z0-9_-]{1,40}\.log", arc))


# ------------------------------------------------------------------------------------------------------ the tables
PARQUET_WRITER = Match("the library that wrote a table", r"parquet-cpp-arrow version \d{1,4}\.\d{1,4}\.\d{1,4}"
                                                         r"(?:-SNAPSHOT)?")
METADATA_KEY = Exact("a table's metadata", ("pandas",))
PARQUET_METADATA: dict[str, Any] = {"pandas": "pandas"}
NO_KIND = Exact("no kind", [])
# the text columns of the kit's tables (the corpus's and LOSO's and the verdict's), each's kind
TEXT_COLUMNS: dict[str, Kind] = {
    "src": SOURCE, "src_sha256": SHA256, "encoder": ENCODER,
    "content": Either("a content", SHA256, m.SOURCES, Exact("a public content the kit carries", content_names())),
    "preset": Either("a preset", PRESET, NOTHING), "quality_args": Either("quality flags", QUALITY_ARGS, NOTHING),
    "pix_fmt": PIX_FMT, "enc_pix_fmt": PIX_FMT, "scaler_down": Either("a scaler", SCALER, NOTHING),
    "scaler_up": Either("a scaler", SCALER, NOTHING),
    "box_id": m.A_BOX, "platform": m.PLATFORM,
    # a corpus row's device as typed, NO_DEVICE where none was recorded; a prediction's, torch's that computed it
    "device": Either("a device", DEVICE, Exact("no device, or torch's", (NO_DEVICE, "cpu", "cuda", "mps"))),
    "ffmpeg_version": Either("a version", VERSION, NOTHING), "teacher_model": TEACHER,
    "teacher_sha256": Either("", SHA256, NOTHING), "content_group": m.SOURCES, "rung": m.RUNG, "crf_band": m.CRF_BAND,
    "window_placed": Exact("how a window was placed", ("times", "rate")), "sampling": SAMPLING, "how": SAMPLED_HOW,
    "placed": Exact("how a window was placed", ("times", "rate")), "unbounded": Either("", m.UNBOUNDED_ROWS, NOTHING),
    "stat": STAT, "scheme": Either("a holdout", Exact("a holdout", ("encoder", "box", "rung")), m.HOLDOUT_SCHEME),
    "heldout": Either("a held-out group", ENCODER, m.A_BOX, m.RUNG)}
# the numeric columns (their names: the kit's, whatever the table; a level's interval: lo_95, hi_95)
NUMERIC_COLUMNS = frozenset(["seed", "fold", "corpus_row", "pred", "std", "lo", "hi", "vmaf", "frame_index",
                             "n_frames", "teacher", "predicted", "ceiling", "counted", "queried", "encoder_trained",
                             "crf", "window_predicted", "window_teacher", "window_ceiling", "window_gap", "longer",
                             "enc_width", "enc_height", "width", "height", "cq", "plcc", "srocc", "krocc", "rmse",
                             "bias", "max_abs_error", "share_out_of_range", "share_vmaf_100", "windows", "frames",
                             "enc_seconds", "score_seconds", "gap", "sampled_predicted", "within", "ceiling_within",
                             "in_pool", "vmaf_mean", "pred_from_mean_features", "fps", "bitrate_kbps", "enc_bytes",
                             "enc_time_ms", "pred_mean", "pred_harmonic_mean", "pred_p1", "pred_min",
                             "vmaf_harmonic_mean", "vmaf_p1", "vmaf_min", "n_clips", "correction", "miss",
                             "ceiling_miss", "window_miss", "window_ceiling_miss", "window_frames", "n_seeds",
                             "pred_mean_of_frames", "pred_vmaftune", "pool", "sampled_miss", "sampled_within",
                             "sampled_ceiling", "sampled_ceiling_miss", "sampled_ceiling_within", "teacher_constant",
                             "window", "raw", "spread", "most_spread", "real"]) | frozenset(f.name for f in TABLE) | \
    frozenset(TEACHER_FEATURES)
COLUMN_NAME = Either("a column of the kit's tables", Exact("a column", [*TEXT_COLUMNS, *NUMERIC_COLUMNS]),
                     Match("a level's interval", r"(?:lo|hi)_\d{1,3}(?:_\d{1,6})?"))


def columns_of(arc: str) -> dict[str, Kind | None]:
    """Each text column a table member may hold, and its kind."""
    return dict(TEXT_COLUMNS)


def pandas_shape(columns: list[str]) -> Shape:
    """The `pandas` metadata pyarrow writes with a table made from a DataFrame: its columns by their names (the
    table's own) and their dtypes, and the versions that wrote it."""
    column = Exact("a column of this table", columns)
    dtype = Match("a dtype", r"(?:[Uu]?[Ii]nt|[Ff]loat)(?:8|16|32|64)|bool|boolean|object|str|unicode|bytes|"
                             r"datetime64\[ns\]|categorical|empty|mixed|string|large_string|date|decimal|category")
    return {"index_columns": [column], "column_indexes": [{"name": NUM, "field_name": NUM, "pandas_type": dtype,
                                                            "numpy_type": dtype, "metadata": NUM}],
            "columns": [{"name": column, "field_name": column, "pandas_type": dtype, "numpy_type": dtype,
                         "metadata": {"num_categories": NUM, "ordered": NUM}}],
            "creator": {"library": Exact("a library", ("pyarrow",)), "version": PLAIN_VERSION},
            "pandas_version": PLAIN_VERSION, "attributes": {}}


# ------------------------------------------------------------------------------------------------------ the models
ONNX_PRODUCER = Exact("the model's maker", ("ensemble-kit", "pytorch"))
ONNX_VERSION = Either("its version", KIT_VERSION, PLAIN_VERSION)
ONNX_GRAPH = Match("the graph's name", _MODEL + r"(?:_vmaftune)?")
ONNX_NODE_NAME = Exact("a node's name (the kit's graphs name none)", ("",))
ONNX_OP = Exact("an ONNX op", ("Add", "Sub", "Mul", "Div", "Relu", "Log", "Exp", "Erf", "Concat", "Gemm", "MatMul",
                               "Squeeze", "Unsqueeze", "Gather", "Cast", "ReduceSum", "Clip", "Slice", "Sqrt",
                               "Tanh", "Sigmoid", "Max", "Min", "Pow", "Neg", "Abs", "Identity", "Reshape",
                               "Constant", "Shape", "Where", "Less", "Greater", "Equal", "Not", "And"))
ONNX_ATTRIBUTE = Exact("an ONNX attribute", ("axis", "axes", "transB", "transA", "to", "keepdims", "value",
                                              "alpha", "beta", "min", "max", "noop_with_empty_axes"))
# the tensors the kit's graphs name (kit.model.export, teacher_term, kit.bundle.vmaftune): a layer's by its number
# the spread's expected clipped score (kit.model.teacher_term.expected_nodes), each tensor it names
SPREAD_TENSORS = (
    "s_Fa", "s_Fb", "s_a", "s_a_arg", "s_a_e", "s_a_e1", "s_a_e32", "s_a_g", "s_a_r", "s_a_r32", "s_a_sq", "s_above",
    "s_above_hi", "s_b", "s_b_arg", "s_b_e", "s_b_e1", "s_b_e32", "s_b_g", "s_b_r", "s_b_r32", "s_b_sq", "s_between",
    "s_block", "s_bounded", "s_c0", "s_c1", "s_c2", "s_c3", "s_c4", "s_c_block", "s_clipped", "s_cq", "s_cq32",
    "s_cq_at", "s_da", "s_db", "s_dd", "s_dhi", "s_dlo", "s_expected", "s_factor", "s_half", "s_hi", "s_inv_sqrt_2pi",
    "s_l1", "s_l2", "s_l3", "s_l4", "s_level", "s_lo", "s_log", "s_logm", "s_m", "s_m1", "s_m32", "s_middle",
    "s_most_motion", "s_most_spread", "s_motion", "s_motion_at", "s_mp", "s_neg_half", "s_one", "s_p1", "s_p2", "s_p3",
    "s_p4", "s_q1", "s_q2", "s_rest", "s_scaled", "s_sigma", "s_sqrt2", "s_t1", "s_t2", "s_t3", "s_t4", "s_t5",
    "s_unit", "s_width", "s_zero")
ONNX_TENSOR = Either("a tensor the kit's graphs name", Exact("a tensor", (
    "centred", "codec", "columns", "correction", "correction_raw", "correction_scale", "cq_norm", "cq_offset",
    "cq_scaled", "cq_slope", "crf_end", "crf_norm", "crf_start", "feat_end", "feat_start", "features", "half", "input",
    "kept", "logged", "motion", "motion_1p", "motion_log", "motion_pos", "one", "onehot_end", "onehot_kit",
    "onehot_start", "onehot_v2", "plain", "row_offset", "row_slope", "scaler_mean", "scaler_std", "spaced", "sqrt2",
    "squeeze_axes", "t_arg", "t_axis1", "t_axis2", "t_centred", "t_clip_hi", "t_clip_lo", "t_clipped", "t_coefs",
    "t_diff", "t_dist", "t_dot", "t_intercepts", "t_kernel", "t_neg_gamma", "t_order", "t_out_intercept",
    "t_out_slope", "t_raw", "t_rho", "t_score", "t_slopes", "t_sq", "t_support", "t_x", "t_x3", "t_x32", "t_xr", "t_xs",
    "teacher_score", "v2_to_kit_onehot", "vmaf", "vmaf_max", "vmaf_min", "vmaf_raw", "x", "z", *SPREAD_TENSORS)),
    Match("a layer's tensor", r"[wblh]\d{1,2}(?:_[adem])?"))
ONNX_DIM = Exact("a dimension", ("batch",))
ONNX_METADATA_KEY = Exact("a metadata key", ("corpus_sha256", "features", "input_version", "kit_version", "seed",
                                             "teacher_model", "teacher_sha256", "crf_range", "layout"))
ONNX_METADATA: dict[str, Kind] = {
    "corpus_sha256": SHA256, "features": Joined("features", FEATURE, ","), "input_version": COUNT,
    "kit_version": KIT_VERSION, "seed": COUNT, "teacher_model": TEACHER, "teacher_sha256": SHA256,
    "crf_range": Match("a CRF range", r"\d{1,3},\d{1,3}"), "layout": Exact("a layout", ("vmaftune-v2-20",))}

# ------------------------------------------------------------------------------------------------------- the logs
LOG_LINE = m.LOG_LINE
