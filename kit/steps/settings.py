"""What a run is asked to do: the RunSettings record, built by the CLI from its flags (or read from a
`--settings` file), written into run.json, read back typed by `status` and handed to every step (each picks what
it depends on).

The record is the one carrier of a run's settings between processes: a cluster task, a training task and every
command the kit prints for a run read it from a file (`--settings FILE`: a run.json, or the settings.json a cluster
command writes). What places one command (TASK_FLAGS: --out-dir, --box-id, --shard, --corpus) stays a flag of
that command and is never taken from the file.

Every value keeps its rule, whatever door it came through: each setting is declared once, its default and its rules
in its field (kit.infra.rules.setting: RunSettings here, GateThresholds, TrainConfig; the grid's rule in
kit.platforms.grids). A flag's value and its KIT_ variable are checked with its setting's rules as the flag is read
(kit.cli.params: `KitType.bound`); a settings document (a `--settings` file, a run.json read back by `status`, a
resume or a cluster task) as it is read (`RunSettings.from_json`): its keys at every depth, then every rule. A
breach is refused (exit 2) naming the key, the value, the file and the rule, before any step runs.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass
from pathlib import Path

from kit.bundle import registry
from kit.corpus.split import ShardSpec
from kit.errors import InputError
from kit.infra.arrays import MAX_TASKS
from kit.infra.host import safe_box_id
from kit.infra.invocation import kit_command
from kit.infra.outside import JsonRefused, read_json
from kit.infra.perms import require_trusted
from kit.infra.records import Record, RecordError, Refused, UnknownKey, check_keys
from kit.infra.rules import Absolute, Across, Check, Distinct, Off, OneOf, Ordered, Real, Whole, broken, setting
from kit.media.ladder import (
    DOWN_DEFAULT,
    MIN_HEIGHT,
    NATIVE,
    SCALERS,
    UP_DEFAULT,
    clip_rungs,
    parse_rung,
    rung_size,
)
from kit.media.libvmaf import BUILTIN_TEACHERS, EXTRA_FEATURES, MODEL_SEPARATOR, TEACHER_MODEL
from kit.media.pixfmt import ENCODE_DEPTHS
from kit.media.refs import MAX_DIMENSION
from kit.model.contract import input_features
from kit.model.recipe import AUTO, FOLDS, FoldsAsked, TrainConfig, checked_folds
from kit.platforms.grids import CqGrid, grid_problem, range_problem
from kit.verdict.gate import GateThresholds

HOLDOUTS = ("encoder", "box", "rung")  # --holdout's kinds, in the kit's order


def scales_problem(rungs: object) -> str | None:
    """--scales's rule: at least one rung, each once, each a rung of kit.media.ladder that can give a picture: a
    fraction whose share of the tallest reference the kit reads is below MIN_HEIGHT gives none, whatever the clip."""
    if not isinstance(rungs, tuple) or not rungs:
        return "is empty"
    canonical = []
    for rung in rungs:
        try:
            canonical.append(parse_rung(rung))
        except ValueError as exc:
            return f"holds {rung!r}: {exc}"
        if canonical[-1] != NATIVE and rung_size(canonical[-1], MAX_DIMENSION, MAX_DIMENSION)[1] < MIN_HEIGHT:
            return (f"holds {rung}, which gives no picture: {rung} of the tallest reference the kit reads "
                    f"({MAX_DIMENSION} lines) is below {MIN_HEIGHT} lines")
    return "repeats a rung" if len(set(canonical)) != len(canonical) else None


def check_ladder(rungs: tuple[str, ...], sizes: list[tuple[int, int]]) -> None:
    """--scales against the clips it is asked of (the corpus step, before any encode): a rung below MIN_HEIGHT
    lines for every clip, or a ladder that gives no clip an encode, is refused naming --scales; never an empty
    corpus that LOSO then blames."""
    if not sizes:
        return
    tallest = max(h for _, h in sizes)
    hint = f"give rungs of at least {MIN_HEIGHT} lines for some clip and below its height, or native " \
           f"(e.g. --scales native,0.5)"
    for rung in rungs:
        if rung != NATIVE and all(rung_size(rung, w, h)[1] < MIN_HEIGHT for w, h in sizes):
            raise InputError(f"--scales {rung} gives no clip a picture of {MIN_HEIGHT} lines or more (the tallest "
                             f"clip, {tallest} lines, would be encoded at {rung_size(rung, tallest, tallest)[1]})",
                             hint=hint)
    if not any(clip_rungs(rungs, w, h) for w, h in sizes):
        raise InputError(f"--scales {','.join(rungs)} gives no clip an encode: each rung is at or above the height "
                         f"of every clip (the tallest is {tallest} lines), and the kit never upscales a reference",
                         hint=hint)


def encoders_problem(names: object) -> str | None:
    """--encoders's rule: auto, or names the kit knows, each once (kit.platforms.encoders.parse_encoder_list)."""
    from kit.platforms.encoders import parse_encoder_list

    if not isinstance(names, tuple) or not all(isinstance(n, str) and n.strip() == n and n for n in names):
        return "is not a list of encoder names"
    try:
        parsed = parse_encoder_list(",".join(names))
    except InputError as exc:
        return f"is refused: {exc.message}"
    return "repeats an encoder" if len(set(parsed)) != len(parsed) else None


def teacher_problem(text: object) -> str | None:
    """--teacher's rule, as a setting holds it: a built-in model's name, or a model file's absolute path (the file
    itself is checked where the teacher is read: kit.media.teachers, the prereqs step)."""
    if text in BUILTIN_TEACHERS or (isinstance(text, str) and Path(text).is_absolute() and MODEL_SEPARATOR not in text):
        return None
    return f"is neither one of {', '.join(BUILTIN_TEACHERS)} nor a model file's absolute path"


def fps_problem(text: object) -> str | None:
    """--fps's rule: a rate kit.media.decode.parse_fps reads (the one reader of a rate)."""
    from kit.media.decode import MAX_FPS, parse_fps

    try:
        return None if isinstance(text, str) and parse_fps(text) else "is not a frame rate"
    except ValueError:
        return f"is not a frame rate above 0 and at most {MAX_FPS}"


def holdout_problem(kinds: object) -> str | None:
    if not isinstance(kinds, tuple) or (bad := next((k for k in kinds if k not in HOLDOUTS), None)) is not None:
        return f"holds {bad!r}, which is neither encoder, box nor rung" if isinstance(kinds, tuple) else \
            "is not a list of encoder, box, rung"
    return "repeats a kind" if len(set(kinds)) != len(kinds) else None


def shard_problem(shard: object) -> str | None:
    from kit.corpus.split import MAX_SHARDS, ShardSpec

    ok = isinstance(shard, ShardSpec) and 1 <= shard.k <= shard.n <= MAX_SHARDS
    return None if ok else f"is not K/N with 1 <= K <= N <= {MAX_SHARDS}"


def registry_problem(rule: str, says: str) -> Check:
    """A vmaf-tune registry field's rule (kit.bundle.registry: its function named `rule`), as a setting's."""
    def problem(text: object) -> str | None:
        why = getattr(registry, rule)(text) if isinstance(text, str) else "it is not text"
        return f"is refused: {why}" if why is not None else None

    return Check(problem, says)


def grid_fits(settings: RunSettings) -> str | None:
    """The grid against the run's encoders: the list for every encoder too (libx264's range for auto, which the
    corpus step checks again once auto is resolved)."""
    from kit.platforms.encoders import AUTO as AUTO_ENCODERS

    return range_problem(("libx264",) if settings.encoders == (AUTO_ENCODERS,) else settings.encoders, settings.cqs)


A_PATH = Off(Absolute())
LICENSE = registry_problem("license_problem", f"an SPDX license expression of at most {registry.MAX_LICENSE} "
                                              "printable ASCII characters")
LICENSE_URL = registry_problem("license_url_problem", f"an absolute http(s) address of at most "
                                                      f"{registry.MAX_LICENSE_URL} characters, percent-encoded")


@dataclass(frozen=True)
class RunSettings(Record):
    """Everything the user can set for a run; each step picks what it depends on. run.json holds it (its JSON
    form is this record's), and `status` and the Slurm scripts read it back typed."""

    LENIENT = True  # run.json of an older kit lacks the later settings: they take their defaults

    # each setting's default and rules (kit.infra.rules.setting): its flag's, a --settings file's and a run.json's
    # (GateThresholds and TrainConfig hold their own); a path as the flags make it (absolute); Across: a rule over
    # several settings
    out_dir: Path = setting(MISSING, Absolute())
    ref_dir: Path | None = setting(None, A_PATH)
    width: int | None = setting(None, Off(Whole(16, MAX_DIMENSION)))  # geometry .yuv names leave out (refs.YuvDefaults)
    height: int | None = setting(None, Off(Whole(16, MAX_DIMENSION)))
    fps: str | None = setting(None, Off(Check(fps_problem, "a frame rate such as 25 or 30000/1001")))
    # each detected family's probed defaults, plus libx264
    encoders: tuple[str, ...] = setting(("auto",), Check(encoders_problem, "auto, or encoder names the kit knows (the "
                                                                         "detect command lists them), each once"))
    # --cqs: each encoder's own default grid unless overridden
    cqs: CqGrid = setting(CqGrid, Check(grid_problem, "a list of values, each once, for every encoder or for encoder "
                                                      "and family names, each within the range of every encoder it "
                                                      "sets"),
                          Across(grid_fits, "values within the range of each of the run's encoders"))
    # --scales: the resolution ladder's rungs (kit.media.ladder)
    scales: tuple[str, ...] = setting(("native", "0.5"), Check(scales_problem, f"native, heights in lines "
                                                                               f"({MIN_HEIGHT}..8640) or fractions of "
                                                                               "the height that give a picture, each "
                                                                               "once"))
    downscaler: str = setting(DOWN_DEFAULT, OneOf(SCALERS))  # --downscaler: the scaler a rung's copy is made with
    # --upscaler: the scaler a rung's encode is scored with, at the reference's size
    upscaler: str = setting(UP_DEFAULT, OneOf(SCALERS))
    # --teacher: a libvmaf built-in model's name, or a model file's absolute path (kit.media.teachers)
    teacher: str = setting(TEACHER_MODEL, Check(teacher_problem, "a built-in model's name or a model file's absolute "
                                                                 "path"))
    seeds: tuple[int, ...] = setting((0, 1, 2, 3, 4), Distinct(Whole(0, 2**31 - 1)))
    folds: FoldsAsked = setting(AUTO, FOLDS)  # --folds: loso, auto, or K grouped folds
    corpus: Path | None = setting(None, A_PATH)
    jobs: int = setting(0, Whole(0, 256))  # 0 = from the core count
    ffmpeg: Path | None = setting(None, A_PATH)  # --ffmpeg, made absolute where given
    box_id: str = ""  # no rule: made safe for a file name (__post_init__), and a command's own flag
    gate: GateThresholds = setting(GateThresholds)
    train: TrainConfig = setting(TrainConfig)
    demo_clips: int = setting(0, Whole(0, 64))  # 0 = the whole demo set
    demo_seconds: float = setting(0.0, Real(0, 60))  # 0 = the demo default
    incumbent: Path | None = setting(None, A_PATH)  # a previous bundle whose models the challenger must beat
    # --shard K/N: this box encodes only shard K of the reference set
    shard: ShardSpec | None = setting(None, Off(Check(shard_problem, "K/N with 1 <= K <= N")))
    # the CRF range vmaf-tune's crf_norm is taken over
    vmaftune_crf_range: tuple[int, int] = setting((10, 51), Ordered(Whole(0, 255)))
    # the license the vmaf-tune registry rows give the models (an SPDX id) and its text's address: the kit's own
    model_license: str = setting("BSD-3-Clause", LICENSE)
    model_license_url: str = setting("https://spdx.org/licenses/BSD-3-Clause.html", LICENSE_URL)
    # --encode-depth: 8bit, or source (10-bit references keep 10 bit)
    encode_depth: str = setting("8bit", OneOf(ENCODE_DEPTHS))
    # --content-groups: the user's word on which sources hold one content
    content_groups: Path | None = setting(None, A_PATH)
    # --interval-level: the intervals' nominal coverage (kit.model.conformal)
    interval_level: float = setting(0.95, Real(0.5, 0.999))
    # --holdout: encoder and/or box, validated as unseen (kit.model.holdout)
    holdout: tuple[str, ...] = setting((), Check(holdout_problem, "any of encoder, box and rung, each once"))
    # --train-tasks: LOSO's members come from N tasks (step loso --train-task K/N); 0: here
    train_tasks: int = setting(0, Whole(0, MAX_TASKS))
    group_shared: bool = False  # --group-shared: folders the group may add to (kit.infra.perms); files stay the user's
    strict: bool = False  # --strict: a reference clip the kit cannot use refuses the run (else it is left out, said)
    keep_paths: bool = False  # --keep-paths: the results tarball names the box's folders (else [ref-dir]/NAME)

    @classmethod
    def from_json(cls, data: object, where: str = "") -> RunSettings:
        """The settings of a document, checked as every door checks them: no key the settings lack (at any depth),
        then the types, then every rule. Refused (UnknownKey, or a rule's breach) names the key, the value and the
        rule; `where` is the key the document lies at (`settings` in a run.json)."""
        check_keys(cls, data, where)
        settings = super().from_json(data, where)
        if (found := broken(settings)) is not None:
            raise found.refused(where)
        return settings

    @property
    def extra_features(self) -> bool:
        """Whether the corpus step measures VMAF v1's features: the input set trains on them (--inputs), and the
        corpus is this run's to make (not --corpus)."""
        return self.corpus is None and any(f in EXTRA_FEATURES for f in input_features(self.train.inputs))

    def __post_init__(self) -> None:
        # the box id names files and folders: sanitised here, once, whoever builds the settings
        object.__setattr__(self, "box_id", safe_box_id(self.box_id))
        object.__setattr__(self, "folds", checked_folds(self.folds))


# where and as what one command runs: its own flags (each setting's), never taken from a --settings file
TASK_FLAGS = {"out_dir": "--out-dir", "box_id": "--box-id", "shard": "--shard", "corpus": "--corpus"}


def read_settings(path: Path) -> RunSettings:
    """`--settings FILE`: the settings of a run.json (its `settings`) or of a cluster's settings.json (the record
    itself). A file others could have put in place or changed is refused (the trust rule of every file that decides
    the verdict or names a program: the settings name binaries the kit runs, --ffmpeg)."""
    try:
        require_trusted(path, "--settings")  # the trust rule (kit.infra.perms.untrusted): it names binaries to run
        doc = read_json(path)
        run_json = isinstance(doc, dict) and "settings" in doc  # a run.json: its settings; else the record itself
        settings = RunSettings.from_json(doc["settings"] if run_json else doc, "settings" if run_json else "")
    except Refused as exc:
        raise refused_settings(path, exc) from None
    except (OSError, JsonRefused, RecordError, TypeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InputError(f"--settings {path} cannot be read as a run's settings: {why}",
                         hint="give the run.json of an out-dir, or the settings.json a cluster command wrote") from None
    return settings


def refused_settings(path: Path, exc: Refused, flag: str = "--settings ") -> InputError:
    """A settings document's breach as the kit says it: the file, the key, the value, the rule (exit 2)."""
    fix = f"remove {exc.key} from it" if isinstance(exc, UnknownKey) else f"give {exc.key} {exc.words} in it"
    return InputError(f"{flag}{path}: {exc}", hint=f"{fix}, or run with the flags you mean instead "
                                                  f"({kit_command('run', '--help')} lists them)")


def task_flags(settings: RunSettings) -> list[str | Path]:
    """The flags that place a command run with these settings (TASK_FLAGS: its out-dir and box id, its shard and
    corpus where it has them)."""
    values = {name: getattr(settings, name) for name in TASK_FLAGS}
    return [word for name, value in values.items() if value is not None
            for word in (TASK_FLAGS[name], value.label if isinstance(value, ShardSpec) else value)]


def settings_command(settings: RunSettings, run_json: Path | None, *words: str | Path) -> str:
    """A kit command run with a run's settings, runnable as printed: the command's words (those before the first
    flag: `run`, `step loso`), `--settings` the run's run.json and the flags that place it (task_flags), then the
    rest of `words`, the hint's own flags, which the command line lets override the file (a setting the hint
    changes, e.g. `--seeds`). Never settings rebuilt as flags: the file carries them all (no file, `run_json`
    None: the placing flags alone, for a caller to say what is missing)."""
    cut = next((i for i, w in enumerate(words) if str(w).startswith("-")), len(words))
    given: list[str | Path] = ["--settings", run_json] if run_json is not None else []
    return kit_command(*words[:cut], *given, *task_flags(settings), *words[cut:])
