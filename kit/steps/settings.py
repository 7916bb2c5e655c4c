"""What a run is asked to do: the RunSettings record, built by the CLI from its flags (or read from a
`--settings` file), written into run.json, read back typed by `status` and handed to every step (each picks what
it depends on).

The record is the one carrier of a run's settings between processes: a cluster task, a training task and every
command the kit prints for a run read it from a file (`--settings FILE`: a run.json, or the settings.json a cluster
command writes). What places one command (TASK_FLAGS: --out-dir, --box-id, --shard, --corpus) stays a flag of
that command and is never taken from the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kit.corpus.split import ShardSpec
from kit.errors import InputError
from kit.infra.host import safe_box_id
from kit.infra.invocation import kit_command
from kit.infra.outside import JsonRefused, read_json
from kit.infra.perms import given_file_problem
from kit.infra.records import Record, RecordError
from kit.media.ladder import DOWN_DEFAULT, UP_DEFAULT
from kit.media.libvmaf import EXTRA_FEATURES, TEACHER_MODEL
from kit.model.contract import input_features
from kit.model.recipe import AUTO, FoldsAsked, TrainConfig, checked_folds
from kit.platforms.grids import CqGrid
from kit.verdict.gate import GateThresholds


@dataclass(frozen=True)
class RunSettings(Record):
    """Everything the user can set for a run; each step picks what it depends on. run.json holds it (its JSON
    form is this record's), and `status` and the Slurm scripts read it back typed."""

    LENIENT = True  # run.json of an older kit lacks the later settings: they take their defaults

    out_dir: Path
    ref_dir: Path | None = None
    width: int | None = None  # geometry .yuv names leave out (refs.YuvDefaults)
    height: int | None = None
    fps: str | None = None
    encoders: tuple[str, ...] = ("auto",)  # each detected family's probed defaults, plus libx264
    cqs: CqGrid = field(default_factory=CqGrid)  # --cqs: each encoder's own default grid unless overridden
    scales: tuple[str, ...] = ("native", "0.5")  # --scales: the resolution ladder's rungs (kit.media.ladder)
    downscaler: str = DOWN_DEFAULT  # --downscaler: the scaler a rung's copy is made with
    upscaler: str = UP_DEFAULT  # --upscaler: the scaler a rung's encode is scored with, at the reference's size
    # --teacher: a libvmaf built-in model's name, or a model file's absolute path (kit.media.teachers)
    teacher: str = TEACHER_MODEL
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    folds: FoldsAsked = AUTO  # --folds: loso, auto, or K grouped folds
    corpus: Path | None = None
    jobs: int = 0  # 0 = from the core count
    ffmpeg: Path | None = None  # --ffmpeg, made absolute where given
    box_id: str = ""
    gate: GateThresholds = field(default_factory=GateThresholds)
    train: TrainConfig = field(default_factory=TrainConfig)
    demo_clips: int = 0  # 0 = the whole demo set
    demo_seconds: float = 0.0  # 0 = the demo default
    incumbent: Path | None = None  # a previous bundle whose models the challenger must beat
    shard: ShardSpec | None = None  # --shard K/N: this box encodes only shard K of the reference set
    vmaftune_crf_range: tuple[int, int] = (10, 51)  # the CRF range vmaf-tune's crf_norm is taken over
    # the license the vmaf-tune registry rows give the models (an SPDX id) and its text's address: the kit's own
    model_license: str = "BSD-3-Clause"
    model_license_url: str = "https://spdx.org/licenses/BSD-3-Clause.html"
    encode_depth: str = "8bit"  # --encode-depth: 8bit, or source (10-bit references keep 10 bit)
    content_groups: Path | None = None  # --content-groups: the user's word on which sources hold one content
    interval_level: float = 0.95  # --interval-level: the intervals' nominal coverage (kit.model.conformal)
    holdout: tuple[str, ...] = ()  # --holdout: encoder and/or box, validated as unseen (kit.model.holdout)
    train_tasks: int = 0  # --train-tasks: LOSO's members come from N tasks (step loso --train-task K/N); 0: here
    group_shared: bool = False  # --group-shared: folders the group may add to (kit.infra.perms); files stay the user's
    strict: bool = False  # --strict: a reference clip the kit cannot use refuses the run (else it is left out, said)

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
    itself). A file others could have put in place (in a folder they can write, not the user's own) is refused:
    the settings name binaries the kit runs (--ffmpeg)."""
    try:
        if (problem := given_file_problem(path)) is not None:
            raise InputError(f"--settings {path} {problem}: anyone who can write there could have made it",
                             hint="copy it into a folder of yours and pass the copy")
        doc = read_json(path)
        settings = RunSettings.from_json(doc.get("settings", doc) if isinstance(doc, dict) else doc, path.name)
    except (OSError, JsonRefused, RecordError, TypeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InputError(f"--settings {path} cannot be read as a run's settings: {why}",
                         hint="give the run.json of an out-dir, or the settings.json a cluster command wrote") from None
    return settings


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
