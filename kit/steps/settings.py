"""What a run is asked to do: RunSettings, made from the flags or a `--settings` file (a run.json, a cluster's
settings.json), written into run.json and handed to every step. Each setting is declared once in its field
(kit.infra.changes.setting: default, rules, flag, and the steps whose outputs it changes) and checked wherever it is
read; a breach is refused (exit 2) naming the key, the value, the file and the rule. A field's `changes` also says how
the fingerprints of kit 2.1.0 held it in each step (`entries`: an Entry under 2.1.0's name and form, Through the
step's inputs, InRecord of its record), which every later fingerprint keeps, so an out-dir of 2.1.0 resumes as it was.

A step sees the settings through a View, and its fingerprint is made from these declarations alone
(kit.steps.view.settings_fingerprint), so a step cannot read a setting that its fingerprint misses. The rules that know
the layers below are kit.steps.checks; the flags' parsers kit.steps.parsers."""

from __future__ import annotations

from dataclasses import MISSING, dataclass
from pathlib import Path

from kit.bundle import registry
from kit.corpus.samplings import CUT, ENCODED, SAMPLINGS_HOW, VMAFTUNE_WINDOW_S
from kit.corpus.split import ShardSpec, parse_shard
from kit.errors import InputError
from kit.infra.arrays import MAX_TASKS
from kit.infra.changes import Broken, Entry, Through, When, broken, changes, changes_nothing, flag_of, setting
from kit.infra.flags import AbsPath, Choice, Flag, Float, Int, IntList, Text
from kit.infra.host import safe_box_id
from kit.infra.invocation import kit_command
from kit.infra.outside import JsonRefused, read_json
from kit.infra.perms import require_trusted
from kit.infra.records import Record, RecordError, Refused, UnknownKey
from kit.infra.rules import Absolute, Check, Distinct, Off, OneOf, Real, Whole, item_breach, text_check
from kit.media.ladder import DOWN_DEFAULT, MIN_HEIGHT, SCALERS, UP_DEFAULT
from kit.media.libvmaf import EXTRA_FEATURES, TEACHER_MODEL
from kit.media.pixfmt import ENCODE_DEPTHS
from kit.media.refs import CLIP_EXTS, MAX_DIMENSION
from kit.media.teachers import setting_text
from kit.model.consumer import CRF_RANGE
from kit.model.contract import input_features
from kit.model.recipe import AUTO, FOLDS, FoldsAsked, TrainConfig, checked_folds
from kit.platforms.encoders import AUTO as AUTO_ENCODERS
from kit.platforms.encoders import parse_encoder_list
from kit.platforms.grids import CqGrid, grid_problem, range_problem
from kit.platforms.teacher import trusted_teacher
from kit.rundir import STEP_NAMES, RunDir
from kit.steps.checks import (
    encoders_problem,
    fps_problem,
    holdout_problem,
    scales_problem,
    shard_problem,
    teacher_problem,
)
from kit.steps.parsers import BoxName, CqGrids, Folds, Fps, Holdouts, Numbers, Reading, Scales, TrainTasks
from kit.verdict.thresholds import GateThresholds

CRF = Whole(0, 255)


def crf_range_problem(value: object) -> str | None:
    """MIN,MAX: two CRFs, MIN below MAX (--vmaftune-crf-range)."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        return "is not MIN,MAX with MIN < MAX"
    return item_breach(value, CRF) or (None if value[0] < value[1] else "is not MIN,MAX with MIN < MAX")


CRF_PAIR = Check(crf_range_problem, f"MIN,MAX with MIN < MAX, each {CRF.words}")
A_PATH = Off(Absolute())
PREREQS, CORPUS, LOSO, VERDICT, BUNDLE = STEP_NAMES
# how a .yuv clip whose name lacks them is read: its frames, hence the corpus's rows (2.1.0: one entry of the three)
YUV = changes(CORPUS, entries={CORPUS: Entry("yuv_defaults", lambda s: [s.width, s.height, s.fps])})
SCALERS_USED = changes(CORPUS, entries={CORPUS: Entry("scalers", lambda s: [s.downscaler, s.upscaler])})
ENCODER_LIST = Reading("encoders", parse_encoder_list, items="libx264,libx265")  # `libx264,h264_nvenc` or `auto`
TEACHER_NAME = Reading("teacher", setting_text)  # a built-in model's name, or a model file's path (made absolute)
SHARD_SPEC = Numbers("shard", parse_shard)  # `K/N`, or `auto`: those of the array task this runs in (1/1 outside one)
DEMO = changes(CORPUS, entries={CORPUS: Through("the clips the demo set makes")})
# the consumer's window and CRF range change the corpus step's outputs only where it encodes the samplings on their own
# (under the default, cut, it encodes none: a rerun with another window redoes no encode)
SAMPLES_ENCODED = When("consumer_samplings", (ENCODED,))
MODELS_BUNDLED = changes(BUNDLE, entries={BUNDLE: Entry(models=True)})  # written into the exports' registry rows
KNOWN_ENCODERS = Check(encoders_problem, "auto, or encoder names the kit knows (the detect command lists them), each "
                                         "once")
GRID = Check(grid_problem, "a list of values, each once, for every encoder or for encoder and family names, each "
                           "within the range of every encoder it sets")
RUNGS = Check(scales_problem, f"native, heights in lines ({MIN_HEIGHT}..8640) or fractions of the height that give a "
                              "picture, each once")
A_TEACHER = Check(teacher_problem, "a built-in model's name or a model file's absolute path")
LICENSE = text_check(registry.license_problem, f"an SPDX license expression of at most {registry.MAX_LICENSE} "
                                               "printable ASCII characters")
LICENSE_URL = text_check(registry.license_url_problem, f"an absolute http(s) address of at most "
                                                       f"{registry.MAX_LICENSE_URL} characters, percent-encoded")


@dataclass(frozen=True)
class RunSettings(Record):
    """Everything the user can set for a run (run.json holds it); each field declares the steps it changes."""

    LENIENT = True  # run.json of an older kit lacks the later settings: they take their defaults
    CLOSED = True  # a misspelt setting is refused, never ignored

    # each setting's default, rules, flag (its help, and its rank: its place in `run --help`) and the steps whose
    # outputs it changes (kit.infra.changes.setting, kit.infra.changes.Changes)
    out_dir: Path = setting(MISSING, Absolute(), flag=Flag(
        "--out-dir", AbsPath(), computed="runs/<box-id>", rank=190,
        help="Run directory."),
                            changes=changes_nothing("where the run's files are, not what they hold: an out-dir moved "
                                                    "or copied resumes as it was"))
    ref_dir: Path | None = setting(None, A_PATH, flag=Flag(
        "--ref-dir", AbsPath(), f"Folder of reference clips ({', '.join(CLIP_EXTS)}). Default: the embedded demo set.",
        computed="demo", rank=20), changes=changes(CORPUS, reads={BUNDLE: (
            "the tarball names its clips [ref-dir]/NAME, wherever the folder lies (--keep-paths: the paths as they "
            "are)")}, entries={CORPUS: Entry(form=lambda s: str(s.ref_dir) if s.ref_dir else "(demo set)")}))
    width: int | None = setting(None, Off(Whole(16, MAX_DIMENSION)), changes=YUV, flag=Flag(
        "--width", Int(), rank=40,
        help="Width of .yuv clips whose name has no size (Netflix-style Name_25fps.yuv: 1920)."))
    height: int | None = setting(None, Off(Whole(16, MAX_DIMENSION)), changes=YUV,
                                 flag=Flag(
                                     "--height", Int(), rank=50,
                                     help="Height of .yuv clips whose name has no size (Netflix-style Name_25fps.yuv: "
                                          "1080)."))
    fps: str | None = setting(None, Off(Check(fps_problem, "a frame rate such as 25 or 30000/1001")), changes=YUV,
                              flag=Flag(
                                  "--fps", Fps(), rank=60,
                                  help="Frame rate of .yuv clips whose name has none, e.g. 25 or 30000/1001."))
    # what prereqs test-encodes, and the corpus step encodes with (auto: those prereqs found)
    encoders: tuple[str, ...] = setting(("auto",), KNOWN_ENCODERS, flag=Flag(
        "--encoders", ENCODER_LIST, rank=70,
        help="Comma-separated encoders, or auto: each detected family's defaults that pass a test encode, plus libx264 "
             "(the detect command lists them)."),
                                        changes=changes(PREREQS, CORPUS, entries=dict.fromkeys((PREREQS, CORPUS),
                                                                                               Entry())))
    cqs: CqGrid = setting(CqGrid, GRID, flag=Flag(
        "--cqs", CqGrids(), metavar="auto|LIST|NAME:LIST[;...]", rank=90,
        help="Quality grid, in each encoder's own scale (the value the encoder receives): auto (each family's measured "
             "default grid), a list for every encoder (19,25,31,37), NAME:LIST for one encoder or family "
             "(libsvtav1:20,32,44,56), or entries joined by ';'. See docs/quality-and-ladder.md."),
                          changes=changes(PREREQS, CORPUS, entries={
                              PREREQS: Entry("cq_probe", lambda s: s.cqs.probe_text),
                              CORPUS: Entry("grid", lambda s: s.cqs.by_encoder(s.encoders))}))
    scales: tuple[str, ...] = setting(("native", "0.5"), RUNGS, flag=Flag(
        "--scales", Scales(), rank=100,
        help="Resolution ladder: native, heights in lines (720,540,360) or fractions of each clip's height (0.5). A "
             "rung is encoded from a downscaled copy and scored upscaled to the reference's size, against the "
             "full-size reference; rungs at or above a clip's height are left out for it."),
                                      changes=changes(CORPUS, entries={CORPUS: Entry()}))
    downscaler: str = setting(DOWN_DEFAULT, OneOf(SCALERS), changes=SCALERS_USED,
                              flag=Flag(
                                  "--downscaler", Choice(), rank=110,
                                  help="Scaler that makes a rung's downscaled copy."))
    upscaler: str = setting(UP_DEFAULT, OneOf(SCALERS), changes=SCALERS_USED,
                            flag=Flag(
                                "--upscaler", Choice(), rank=120,
                                help="Scaler that brings a rung's encode back to the reference's size for scoring "
                                     "(bicubic, as VMAF's training set was made)."))
    # prereqs checks it, the corpus is scored with it, LOSO and the bundle's refit read its function
    teacher: str = setting(TEACHER_MODEL, A_TEACHER, flag=Flag(
        "--teacher", TEACHER_NAME, metavar="NAME|FILE", rank=130,
        help="The libvmaf model the proxy learns: vmaf_v0.6.1, vmaf_v0.6.1neg (no enhancement gain), vmaf_4k_v0.6.1 "
             "(what vmaf-tune scores 2160 lines and more with), or the path of a libvmaf model JSON file (a VMAF v1 "
             "model, say); checked by libvmaf before any encode. The proxy's inputs stay the canonical six "
             "(docs/teachers.md)."),
                           changes=changes(PREREQS, CORPUS, LOSO, BUNDLE, entries={
                               # a model file is read and hashed: an edited one is checked again
                               PREREQS: Entry(form=lambda s: trusted_teacher(s.teacher).to_json()),
                               CORPUS: Through("the teacher's name and its model's sha256"),
                               LOSO: Through("the corpus's identity, whose rows name their teacher"),
                               BUNDLE: Through("the verdict, whose models learnt it")}))
    seeds: tuple[int, ...] = setting((0, 1, 2, 3, 4), Distinct(Whole(0, 2**31 - 1)),
                                     flag=Flag(
                                         "--seeds", IntList("0,1,2,3,4"), rank=160,
                                         help="Training seeds, honoured exactly as given."),
                                     changes=changes(LOSO, VERDICT, entries=dict.fromkeys((LOSO, VERDICT), Entry())))
    folds: FoldsAsked = setting(AUTO, FOLDS, flag=Flag(
        "--folds", Folds(), metavar="loso|K|auto", rank=170,
        help="Validation folds: loso (one per content group), K (grouped K-fold: whole content groups dealt into K "
             "folds balanced by rows), or auto (LOSO up to 50 content groups, 10-fold above). Figures are per source "
             "either way."),
                                changes=changes(LOSO, entries={  # 2.1.0: absent at its default
                                    LOSO: Entry(form=lambda s: str(s.folds), always=False)}))
    # prereqs then needs no encoder, the corpus step does not run, LOSO and the verdict read it; the bundle sends the
    # corpus step's records only for this box's own shard, and finds the corpus the verdict names where the out-dir
    # is now (kit.steps.base.recorded_corpus: a 2.1.0 verdict named this out-dir's shard by its absolute path)
    corpus: Path | None = setting(None, A_PATH, flag=Flag(
        "--corpus", AbsPath(), rank=200,
        help="Train on this corpus (a shard or merged corpus) and skip the corpus step."), changes=changes(
        PREREQS, CORPUS, LOSO, VERDICT, BUNDLE, entries={
            PREREQS: Entry("needs_ffmpeg", lambda s: s.corpus is None),
            CORPUS: Through("no corpus step runs"), LOSO: Through("the corpus's sha256"),
            VERDICT: Through("LOSO's files and the corpus's contents"),
            BUNDLE: Through("the verdict, which names its corpus and sha256, and the corpus step's records")}))
    jobs: int = setting(0, Whole(0, 256), flag=Flag(
        "--jobs", Int(), rank=230,
        help="Parallel corpus jobs (0 = cores)."), changes=changes_nothing(
        "how many corpus jobs run at once: each encode has one thread (kit.corpus.jobs), so no row depends on it"))
    # the ffmpeg chosen is prereqs' input (its path, build, size and time) and in prereqs.json, which the others read
    ffmpeg: Path | None = setting(None, A_PATH, flag=Flag(
        "--ffmpeg", AbsPath(), computed="found", rank=240,
        help="ffmpeg binary with libvmaf to use."),
                                  changes=changes(PREREQS, reads=dict.fromkeys((LOSO, BUNDLE), (
                                      "the teacher's function is read from the ffmpeg prereqs.json names; from this "
                                      "one only where there is no prereqs.json")), entries={
                                      PREREQS: Through("the chosen binary's path, build, size and time")}))
    # no rule: made safe for a file name (__post_init__), and a command's own flag
    box_id: str = setting("", flag=Flag(
        "--box-id", BoxName(), computed="host name; union with --corpus", rank=210,
        help="Name of this box in shards and tarballs."),
                          changes=changes(CORPUS, BUNDLE, entries=dict.fromkeys((CORPUS, BUNDLE), Entry())))
    gate: GateThresholds = setting(GateThresholds)  # its fields declare what each changes
    train: TrainConfig = setting(TrainConfig)
    demo_clips: int = setting(0, Whole(0, 64), changes=DEMO, flag=Flag(
        "--demo-clips", Int(), rank=470,
        help="Use only the first N demo clips (0 = all)."))
    demo_seconds: float = setting(0.0, Real(0, 60), changes=DEMO, flag=Flag(
        "--demo-seconds", Float(), rank=480,
        help="Length of each demo clip in seconds (0 = the default 3)."))
    # named relative to the out-dir where it lies in it, so a moved out-dir's LOSO stays up to date
    incumbent: Path | None = setting(None, A_PATH, flag=Flag(
        "--incumbent", AbsPath(), rank=310,
        help="A previous bundle (out-dir or its 05_bundle/exports): promote only if this run beats its models by more "
             "than the seed spread."), changes=changes(
        LOSO, VERDICT, entries={
            LOSO: Entry(form=lambda s: RunDir(s.out_dir).recorded(s.incumbent) if s.incumbent else None),
            VERDICT: Through("LOSO's files, its incumbent.json")}))
    # the corpus step's: its deal of the clips (kit.corpus.split.shard_record), absent outside a shard
    shard: ShardSpec | None = setting(None, Off(Check(shard_problem, "K/N with 1 <= K <= N")),
                                      flag=Flag(
                                          "--shard", SHARD_SPEC, metavar="K/N|auto", rank=220,
                                          help="Encode only shard K of N (1-based) of the reference set, split by "
                                               "content hash; run K=1..N on N boxes, then merge their tarballs or "
                                               "shard.parquet files (the merge command). Each box reads every clip and "
                                               "leaves out what one box would, each clip left out named (reason and "
                                               "fix) by one shard; a shard refuses only what one box refuses "
                                               "(--strict), or when the deal leaves it no usable clip (fewer shards). "
                                               "auto: K and N from the array task this runs in (1/1 outside one); "
                                               "{shard} in --out-dir and --box-id becomes shard<K>of<N>."),
                                      changes=changes(CORPUS, entries={CORPUS: Entry(always=False)}))
    # the corpus step encodes the windows of each sampling on their own (kit.corpus.samples; under encoded alone), LOSO
    # places them in each held-out encode and the verdict says the window's share
    consumer_window: float = setting(VMAFTUNE_WINDOW_S, Real(0, 3600, lo_open=True),
                                     flag=Flag(
                                         "--consumer-window", Float(), metavar="SECONDS", rank=444,
                                         help="Seconds of a clip the consumer's trials sample: vmaf-tune's fast path "
                                              "encodes and scores the first 5 s of the source per trial (its "
                                              "SAMPLE_CHUNK_SECONDS), so the verdict also gives each held-out encode's "
                                              "prediction from the features of that window against the whole clip's "
                                              "score, and the samplings measured beside it (docs/vmaf-tune.md)."),
                                     changes=changes(CORPUS, LOSO, VERDICT, entries={CORPUS: SAMPLES_ENCODED}))
    # read by the corpus step alone: LOSO and the verdict read what it made (samples.parquet, in LOSO's inputs); 2.2.0's
    # default was `encoded`, which its fingerprints left out: `cut` is written in them (a 2.2.0 out-dir at its default
    # redoes the corpus step from its kept jobs, and LOSO on: docs/vmaf-tune.md)
    consumer_samplings: str = setting(CUT, OneOf(SAMPLINGS_HOW), flag=Flag(
        "--consumer-samplings", Choice(), rank=446,
        help="cut: the consumer's samplings (the first and centre --consumer-window, and windows of 1 s and 0.5 s "
             "spread over the clip) as frames cut from the whole encodes, which every consumer figure of the verdict "
             "reads (no encode more). encoded, a study's opt-in: the corpus step also encodes each sampling's windows "
             "on their own, as a consumer encodes them, for clips longer than the window at the encoders and CRFs "
             "vmaf-tune queries, and the verdict adds one table of them: on a box of six real clips that was 1.2 times "
             "the corpus jobs' own pixel-frames; the run says their pixel-frames and CPU before it starts them."),
                                      changes=changes(CORPUS), unwritten=ENCODED)
    # the corpus step encodes the consumer's samplings at the CRFs in it (kit.steps.corpus_samples.sample_jobs), under
    # --consumer-samplings encoded alone
    vmaftune_crf_range: tuple[int, int] = setting(
        CRF_RANGE, CRF_PAIR, flag=Flag(
            "--vmaftune-crf-range", IntList("10,51", "range"), metavar="MIN,MAX", rank=490,
            help="The CRF range vmaf-tune normalises crf_norm over, for the vmaf-tune export profile written on "
                 "PROMOTE (its default search range is 10..51); also the CRFs at which the corpus step encodes the "
                 "consumer's samplings and the range of LOSO's and "
                 "the verdict's figures as vmaf-tune uses the models."),
        changes=changes(CORPUS, LOSO, VERDICT, BUNDLE, entries={CORPUS: SAMPLES_ENCODED, BUNDLE: Entry(models=True)}))
    model_license: str = setting("BSD-3-Clause", LICENSE, changes=MODELS_BUNDLED,
                                 flag=Flag(
                                     "--model-license", Text("spdx"), rank=500,
                                     help="SPDX license of the exported models, written into the vmaf-tune registry "
                                          "rows (the kit's own license unless set)."))
    model_license_url: str = setting("https://spdx.org/licenses/BSD-3-Clause.html", LICENSE_URL,
                                     changes=MODELS_BUNDLED, flag=Flag(
                                         "--model-license-url", Text("url"), rank=510,
                                         help="Address of that license's text, written into the vmaf-tune registry "
                                              "rows."))
    encode_depth: str = setting("8bit", OneOf(ENCODE_DEPTHS), flag=Flag(
        "--encode-depth", Choice(), rank=80,
        help="Bit depth of the encodes (all 4:2:0): 8bit for every reference, or source: references deeper than 8 bit "
             "are encoded at 10 bit (exit 2 if an encoder cannot; 8-bit stay 8-bit)."),
                                changes=changes(PREREQS, CORPUS, entries=dict.fromkeys((PREREQS, CORPUS), Entry())))
    content_groups: Path | None = setting(None, A_PATH, flag=Flag(
        "--content-groups", AbsPath(), rank=30,
        help="A JSON file overriding which sources hold one content, both ways: {\"same\": [[\"a\", \"b\"]], "
             "\"different\": [[\"c\", \"d\"]]} (names, file names, name~<hex> or src_sha256 prefixes); recorded in the "
             "shard manifest."),
                                          changes=changes(CORPUS, entries={CORPUS: Through(
                                              "the contents: the groups and twins, the overrides' lines")}))
    interval_level: float = setting(0.95, Real(0.5, 0.999), flag=Flag(
        "--interval-level", Float(), rank=370,
        help="Nominal coverage of the prediction intervals (hierarchical split conformal over content groups: a new "
             "frame of a new source lies inside with at least this probability); figures at 50/80/90/95 % are given "
             "either way."),
                                    changes=changes(VERDICT, entries={VERDICT: Entry()}))
    holdout: tuple[str, ...] = setting((), Check(holdout_problem, "any of encoder, box and rung, each once"),
                                       changes=changes(LOSO, VERDICT, entries={VERDICT: Entry()}), flag=Flag(
                                           "--holdout", Holdouts(), metavar="encoder|box|rung[,...]|none", rank=400,
                                           help="Also validate on unseen encoders (encoder), boxes (box) or ladder "
                                                "rungs (rung): each left out in turn, crossed with grouped folds over "
                                                "contents; a separate block of the verdict."))
    train_tasks: int = setting(0, Whole(0, MAX_TASKS), flag=Flag(
        "--train-tasks", TrainTasks(), metavar="N|auto|off", rank=180,
        help="LOSO's members are trained by N separate tasks (`step loso --train-task K/N`; `slurm` submits them as an "
             "array, auto: one per shard): LOSO gathers them and refuses, naming them, any that is missing. off (or "
             "0): LOSO trains what is missing itself."),
                               changes=changes_nothing("who trains LOSO's members (N tasks, or LOSO itself): the same "
                                                       "members either way"))
    group_shared: bool = setting(False, flag=Flag(
        "--group-shared", None, rank=520,
        help="A project folder shared on purpose: the folders the kit makes are group-writable with the sticky bit "
             "(nobody but a file's owner renames or deletes it), and folders others can write are accepted if sticky. "
             "Files stay writable by you alone, and the kit trusts only the ones you made."), changes=changes_nothing(
        "the modes of the folders the kit makes, not what its files hold"))
    strict: bool = setting(False, flag=Flag(
        "--strict", None, rank=530,
        help="Refuse the run when a reference clip cannot be used (an odd size, a damaged file). Without it such a "
             "clip is left out with its reason and fix, recorded in 02_corpus/skipped.json and said in the summary, as "
             "long as enough sources are left."),
                           changes=changes(CORPUS, entries={CORPUS: Entry()}))
    keep_paths: bool = setting(False, flag=Flag(
        "--keep-paths", None, rank=540,
        help="Send the box's folders in the results tarball: without it, every path in the files it holds is made as "
             "[ref-dir]/NAME, [out-dir]/..., [cache]/... or [kit]/..., a file under none of those by its name alone, "
             "as [elsewhere]/NAME (the clips named by file name and sha256); the out-dir's own files keep them either "
             "way."),
                               changes=changes(BUNDLE, entries={BUNDLE: Entry()}))

    def read_back(self) -> RunSettings:
        """The settings of a document, checked as every door checks them: no unknown key, the types, every rule."""
        if (found := self.breach()) is not None:
            raise found.refused()
        return self

    def breach(self) -> Broken | None:
        """The first rule these settings break: a field's (kit.infra.changes.broken), then the grid against the run's
        encoders (libx264's range for auto, checked again once auto is resolved), said of --cqs."""
        if (found := broken(self)) is not None:
            return found
        encoders = ("libx264",) if self.encoders == (AUTO_ENCODERS,) else self.encoders
        if (why := range_problem(encoders, self.cqs)) is not None:
            return Broken("cqs", self.cqs, why, "values within the range of each of the run's encoders",
                          flag_of(RunSettings, "cqs"))
        return None

    @property
    def extra_features(self) -> bool:
        """Whether the corpus step measures the opt-in features (kit.media.libvmaf.OPT_IN): --inputs trains on them, and
        no --corpus is given."""
        return self.corpus is None and any(f in EXTRA_FEATURES for f in input_features(self.train.inputs))

    def __post_init__(self) -> None:
        # the box id names files and folders: sanitised here, once, whoever builds the settings
        object.__setattr__(self, "box_id", safe_box_id(self.box_id))
        object.__setattr__(self, "folds", checked_folds(self.folds))


# where one command runs: its own flags, never taken from a --settings file
TASK_FLAGS = ("out_dir", "box_id", "shard", "corpus")


def read_settings(path: Path) -> RunSettings:
    """`--settings FILE`: a run.json's `settings` or a cluster's settings.json, held to the trust rule."""
    try:
        require_trusted(path, "--settings")
        doc = read_json(path)
        run_json = isinstance(doc, dict) and "settings" in doc  # a run.json: its settings; else the record itself
        return RunSettings.from_json(doc["settings"] if run_json else doc, "settings" if run_json else "")
    except Refused as exc:
        raise refused_settings(path, exc) from None
    except (OSError, JsonRefused, RecordError, TypeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InputError(f"--settings {path} cannot be read as a run's settings: {why}",
                         hint="give the run.json of an out-dir, or the settings.json a cluster command wrote") from None


def refused_settings(path: Path, exc: Refused, flag: str = "--settings ") -> InputError:
    """A settings document's breach as the kit says it: the file, the key, the value, the rule (exit 2)."""
    fix = f"remove {exc.key} from it" if isinstance(exc, UnknownKey) else f"give {exc.key} {exc.words} in it"
    return InputError(f"{flag}{path}: {exc}", hint=f"{fix}, or run with the flags you mean instead "
                                                  f"({kit_command('run', '--help')} lists them)")


def task_flags(settings: RunSettings) -> list[str | Path]:
    """The flags that place a command run with these settings (TASK_FLAGS, those set)."""
    return [word for name in TASK_FLAGS if (value := getattr(settings, name)) is not None
            for word in (flag_of(RunSettings, name).opt, value.label if isinstance(value, ShardSpec) else value)]


def settings_command(settings: RunSettings, run_json: Path | None, *words: str | Path) -> str:
    """A kit command with a run's settings: its words, `--settings` the run.json, task_flags, then the flags given."""
    cut = next((i for i, w in enumerate(words) if str(w).startswith("-")), len(words))
    given: list[str | Path] = ["--settings", run_json] if run_json is not None else []
    return kit_command(*words[:cut], *given, *task_flags(settings), *words[cut:])
