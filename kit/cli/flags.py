"""The flags of `run` and `step` (and through them `slurm`, `ray`), each defined once.

A RunFlag names the setting it sets (a dotted path into kit.steps.settings.RunSettings: `cqs`,
`gate.max_abs_bias`, `train.epochs`), its type (kit.cli.params: parsed at the flag, handed over typed) and its
help. Its default is the setting's own default in the settings, gate and recipe records, and its rules the
setting's rules there (the type is bound to them: checked as the flag is read, from the command line or its
variable, as a --settings file's are), never spelled here. From this one table come the click options and the
RunSettings a command runs with (`build_settings`).

Where a setting comes from, first match wins: a flag on the command line; the `--settings FILE` record (a
run.json, or a cluster's settings.json); the flag's KIT_<FLAG> variable; the settings' default. With --settings
no run flag's variable is used (the file holds every setting: a variable left in a shell, or inherited by a
cluster task, cannot change it), and the flags that place a command (steps.settings.TASK_FLAGS: --out-dir,
--box-id, --shard, --corpus) are never taken from the file.

Light to import (click only): the settings load when a command runs or its help is built.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.core import ParameterSource

from kit.cli.params import (
    AUTO_TASKS,
    OFF,
    AbsPath,
    ClipErrorLimits,
    CqGrids,
    Encoders,
    Float,
    Folds,
    Fps,
    Holdouts,
    Int,
    IntList,
    KitType,
    Limit,
    Range,
    RegistryField,
    Scales,
    Shard,
    TeacherModel,
    TrainTasks,
)
from kit.errors import InputError
from kit.media.ladder import SCALERS
from kit.media.pixfmt import ENCODE_DEPTHS
from kit.media.refs import CLIP_EXTS
from kit.model.contract import INPUT_SETS
from kit.model.recipe import RECIPES
from kit.rundir import STEP_NAMES

if TYPE_CHECKING:
    from kit.corpus.split import ShardSpec
    from kit.infra.rules import Broken
    from kit.steps.settings import RunSettings

Command = TypeVar("Command", bound=Callable[..., object])

# choices of one invocation: a forgotten variable must not redo work, nor replace every setting
NO_ENV = ("from_step", "only", "force", "settings")
ENV_PREFIX = "KIT_"
UNION_BOX_ID = "union"  # the box id of a run on a given corpus (--corpus: the lead's union), not the lead's host


@dataclass(frozen=True)
class RunFlag:
    opt: str  # --cqs
    path: str  # the RunSettings field it sets ("gate.max_abs_bias"); "" for a flag that is no setting
    type: KitType[Any] | click.ParamType | type  # a kit type (text to a typed value), a click type, a Python type
    help: str
    metavar: str | None = None
    is_flag: bool = False
    dest: str = ""  # the click parameter name when it is not the option's own (--from -> from_step)
    computed: str = ""  # a default worked out at run time, said in the help instead of a value

    @property
    def name(self) -> str:
        return self.dest or self.opt[2:].replace("-", "_")

    @property
    def envvar(self) -> str | None:
        return None if self.name in NO_ENV else ENV_PREFIX + ("JSON" if self.name == "json_mode" else self.name.upper())

    def default(self) -> object:
        if self.is_flag:
            return False
        # the setting at its dotted path in the default settings
        return functools.reduce(getattr, self.path.split("."), defaults()) if self.path and not self.computed else None


@functools.cache
def defaults() -> RunSettings:
    from kit.steps.settings import RunSettings

    return RunSettings(out_dir=Path("runs"))


FLAGS: tuple[RunFlag, ...] = (
    RunFlag("--settings", "", AbsPath(), "Run with the settings of this run.json (an out-dir's) or of the "
            "settings.json a cluster command wrote; a flag given here overrides its setting, no KIT_ variable of a "
            "run flag is read, and --out-dir, --box-id, --shard and --corpus are this command's own.",
            metavar="FILE"),
    RunFlag("--ref-dir", "ref_dir", AbsPath(), f"Folder of reference clips ({', '.join(CLIP_EXTS)}). "
            "Default: the embedded demo set.", computed="demo"),
    RunFlag("--content-groups", "content_groups", AbsPath(), "A JSON file overriding which sources hold one "
            'content, both ways: {"same": [["a", "b"]], "different": [["c", "d"]]} (names, file names, name~<hex> '
            "or src_sha256 prefixes); recorded in the shard manifest."),
    RunFlag("--width", "width", Int(),
            "Width of .yuv clips whose name has no size (Netflix-style Name_25fps.yuv: 1920)."),
    RunFlag("--height", "height", Int(),
            "Height of .yuv clips whose name has no size (Netflix-style Name_25fps.yuv: 1080)."),
    RunFlag("--fps", "fps", Fps(), "Frame rate of .yuv clips whose name has none, e.g. 25 or 30000/1001."),
    RunFlag("--encoders", "encoders", Encoders(), "Comma-separated encoders, or auto: each detected family's "
            "defaults that pass a test encode, plus libx264 (the detect command lists them)."),
    RunFlag("--encode-depth", "encode_depth", click.Choice(ENCODE_DEPTHS),
            "Bit depth of the encodes (all 4:2:0): 8bit for every reference, or source: references deeper than "
            "8 bit are encoded at 10 bit (exit 2 if an encoder cannot; 8-bit stay 8-bit)."),
    RunFlag("--cqs", "cqs", CqGrids(), "Quality grid, in each encoder's own scale (the value the encoder receives): "
            "auto (each family's measured default grid), a list for every encoder (19,25,31,37), NAME:LIST for one "
            "encoder or family (libsvtav1:20,32,44,56), or entries joined by ';'. See docs/quality-and-ladder.md.",
            metavar="auto|LIST|NAME:LIST[;...]"),
    RunFlag("--scales", "scales", Scales(), "Resolution ladder: native, heights in lines (720,540,360) or fractions "
            "of each clip's height (0.5). A rung is encoded from a downscaled copy and scored upscaled to the "
            "reference's size, against the full-size reference; rungs at or above a clip's height are left out "
            "for it."),
    RunFlag("--downscaler", "downscaler", click.Choice(SCALERS), "Scaler that makes a rung's downscaled copy."),
    RunFlag("--upscaler", "upscaler", click.Choice(SCALERS), "Scaler that brings a rung's encode back to the "
            "reference's size for scoring (bicubic, as VMAF's training set was made)."),
    RunFlag("--teacher", "teacher", TeacherModel(), "The libvmaf model the proxy learns: vmaf_v0.6.1, "
            "vmaf_v0.6.1neg (no enhancement gain), vmaf_4k_v0.6.1 (what vmaf-tune scores 2160 lines and more with), or "
            "the path of a libvmaf model JSON file (a VMAF v1 model, say); checked by libvmaf before any encode. The "
            "proxy's inputs stay the canonical six (docs/teachers.md).", metavar="NAME|FILE"),
    RunFlag("--inputs", "train.inputs", click.Choice(tuple(INPUT_SETS)), "The proxy's input set: canonical6 (what "
            "vmaf-tune feeds; the default), or canonical6+v1 (its own model contract: the six and VMAF v1's cambi, "
            "speed_chroma_uv, adm3 and motion3, scored by the corpus step; for a v1 --teacher, which the six cannot "
            "carry; no vmaf-tune export; docs/teachers.md)."),
    RunFlag("--recipe", "train.recipe", click.Choice(RECIPES), "How the ensemble learns its teacher: teacher (the "
            "default: the teacher's own function, proven on every corpus row, distilled over where encodes lie, then "
            "each member tuned on its contents' encodes; where the teacher cannot be reproduced from the six "
            "features, frames) or frames (the corpus's per-frame scores, as kits before 2.1; docs/teachers.md)."),
    RunFlag("--seeds", "seeds", IntList("0,1,2,3,4"), "Training seeds, honoured exactly as given."),
    RunFlag("--folds", "folds", Folds(), "Validation folds: loso (one per content group), K (grouped K-fold: whole "
            "content groups dealt into K folds balanced by rows), or auto (LOSO up to 50 content groups, 10-fold "
            "above). Figures are per source either way.", metavar="loso|K|auto"),
    RunFlag("--train-tasks", "train_tasks", TrainTasks(), "LOSO's members are trained by N separate tasks "
            "(`step loso --train-task K/N`; `slurm` submits them as an array, auto: one per shard): LOSO gathers "
            "them and refuses, naming them, any that is missing. off (or 0): LOSO trains what is missing itself.",
            metavar="N|auto|off"),
    RunFlag("--out-dir", "out_dir", AbsPath(), "Run directory.", computed="runs/<box-id>"),
    RunFlag("--corpus", "corpus", AbsPath(), "Train on this corpus (a shard or merged corpus) and skip the "
            "corpus step."),
    RunFlag("--box-id", "box_id", str, "Name of this box in shards and tarballs.",
            computed="host name; union with --corpus"),
    RunFlag("--shard", "shard", Shard(), "Encode only shard K of N (1-based) of the reference set, split by content "
            "hash; run K=1..N on N boxes, then merge their tarballs or shard.parquet files (the merge command). "
            "auto: K and N from the array task this runs in (1/1 outside one); {shard} in --out-dir and --box-id "
            "becomes shard<K>of<N>.", metavar="K/N|auto"),
    RunFlag("--jobs", "jobs", Int(), "Parallel corpus jobs (0 = cores)."),
    RunFlag("--ffmpeg", "ffmpeg", AbsPath(), "ffmpeg binary with libvmaf to use.", computed="found"),
    RunFlag("--from", "", click.Choice(STEP_NAMES), "Rerun from this step on.", dest="from_step"),
    RunFlag("--only", "", click.Choice(STEP_NAMES), "Run only this step."),
    RunFlag("--force", "", bool, "Rerun the selected steps even if up to date (redoes corpus jobs).", is_flag=True),
    RunFlag("--min-mean-plcc", "gate.mean_plcc_min", Float(), "Gate: mean over seeds of per-seed mean LOSO PLCC."),
    RunFlag("--max-plcc-spread", "gate.plcc_spread_max", Float(), "Gate: max - min of the per-seed mean PLCCs."),
    RunFlag("--min-seed-plcc", "gate.per_seed_plcc_min", Float(), "Gate: every seed's mean PLCC."),
    RunFlag("--incumbent", "incumbent", AbsPath(), "A previous bundle (out-dir or its 05_bundle/exports): promote "
            "only if this run beats its models by more than the seed spread."),
    RunFlag("--min-rmse-lift", "gate.min_rmse_lift", Limit(), "Gate: ensemble RMSE <= X * the RMSE of the ridge "
            "baseline trained beside it, both means over content groups (1: no worse than ridge; 0.7 for a clear "
            "lift); off to drop it.", metavar="X|off"),
    RunFlag("--min-content-groups", "gate.min_content_groups", Int(), "Gate: PROMOTE needs "
            "at least N held-out content groups (5 by default: see the README's minimum evidence); lower it to "
            "promote on fewer."),
    RunFlag("--max-abs-bias", "gate.max_abs_bias", Limit(), "Gate: no held-out source may be off by more than X "
            "VMAF points on average (mean of prediction - teacher, over seeds); off to drop it.", metavar="X|off"),
    RunFlag("--max-fold-rmse", "gate.max_fold_rmse", Limit(), "Optional gate: every held-out source's RMSE (mean "
            "over seeds) at most X.", metavar="X|off"),
    RunFlag("--max-clip-error", "gate.max_clip_error", ClipErrorLimits(), "Optional gate: every held-out clip's "
            "pooled prediction within X VMAF points of its teacher pooled the same way, for each STAT given: mean, "
            "harmonic_mean, p1 (the 1st percentile, Av1an's default) or min (docs/pooling.md).",
            metavar="STAT:X[,STAT:X]|off"),
    RunFlag("--interval-level", "interval_level", Float(), "Nominal coverage of the "
            "prediction intervals (hierarchical split conformal over content groups: a new frame of a new source "
            "lies inside with at least this probability); figures at 50/80/90/95 % are given either way."),
    RunFlag("--min-coverage", "gate.min_coverage", Float(), "Optional gate: the held-out coverage "
            "of the intervals at --interval-level, pooled, at least X (e.g. 0.9); an unbounded interval fails it."),
    RunFlag("--max-out-of-range", "gate.max_out_of_range", Float(), "Optional gate: no source's "
            "share of held-out predictions outside [0, 100] above X (e.g. 0.05)."),
    RunFlag("--holdout", "holdout", Holdouts(), "Also validate on unseen encoders (encoder), boxes (box) or ladder "
            "rungs (rung): each left out in turn, crossed with grouped folds over contents; a separate block of the "
            "verdict.", metavar="encoder|box|rung[,...]|none"),
    RunFlag("--holdout-min-plcc", "gate.holdout_min_plcc", Float(), "Optional gate: with "
            "--holdout, every held-out encoder's (box's) PLCC at least X."),
    RunFlag("--consumer-tolerance", "gate.consumer_tolerance", Float(), "How close, in VMAF points, a held-out "
            "encode's prediction as vmaf-tune makes it (mean features, its crf_norm) must be to the teacher's mean "
            "to count as within (vmaf-tune's DEFAULT_PROXY_TOLERANCE: its verify encode accepts the proxy so close)."),
    RunFlag("--min-consumer-share", "gate.min_consumer_share", Limit(), "Gate: at least X of the held-out encodes "
            "within --consumer-tolerance as vmaf-tune predicts them, all together, in every CRF band (10-20, 21-35, "
            "36-51) and for every encoder; off to drop it.", metavar="X|off"),
    RunFlag("--min-consumer-content-share", "gate.min_consumer_content_share", Limit(), "Gate: at least X of each "
            "content group's held-out encodes within --consumer-tolerance as vmaf-tune predicts them; off to drop "
            "it.", metavar="X|off"),
    RunFlag("--epochs", "train.epochs", Int(), "Training epochs (advanced)."),
    RunFlag("--batch-size", "train.batch_size", Int(), "Training batch size per model "
            "(advanced)."),
    RunFlag("--demo-clips", "demo_clips", Int(), "Use only the first N demo clips (0 = all)."),
    RunFlag("--demo-seconds", "demo_seconds", Float(), "Length of each demo clip in seconds "
            "(0 = the default 3)."),
    RunFlag("--vmaftune-crf-range", "vmaftune_crf_range", Range("10,51"), "The CRF range vmaf-tune "
            "normalises crf_norm over, for the vmaf-tune export profile written on PROMOTE (its default search range "
            "is 10..51).", metavar="MIN,MAX"),
    RunFlag("--model-license", "model_license", RegistryField("spdx"),
            "SPDX license of the exported models, written into the vmaf-tune registry rows (the kit's own license "
            "unless set)."),
    RunFlag("--model-license-url", "model_license_url",
            RegistryField("url"),
            "Address of that license's text, written into the vmaf-tune registry rows."),
    RunFlag("--group-shared", "group_shared", bool, "A project folder shared on purpose: the folders the kit makes "
            "are group-writable with the sticky bit (nobody but a file's owner renames or deletes it), and folders "
            "others can write are accepted if sticky. Files stay writable by you alone, and the kit trusts only "
            "the ones you made.", is_flag=True),
    RunFlag("--strict", "strict", bool, "Refuse the run when a reference clip cannot be used (an odd size, a "
            "damaged file). Without it such a clip is left out with its reason and fix, recorded in "
            "02_corpus/skipped.json and said in the summary, as long as enough sources are left.", is_flag=True),
    RunFlag("--keep-paths", "keep_paths", bool, "Send the box's folders in the results tarball: without it, every "
            "path under --ref-dir, the out-dir and your home folder in the files it holds is written from there on as "
            "[ref-dir]/NAME, [out-dir]/... and ~/... (the clips named by file name and sha256); the out-dir's own "
            "files keep them either way.", is_flag=True),
    RunFlag("--json", "", bool, "NDJSON events on stdout; human output on stderr.", is_flag=True, dest="json_mode"),
)
BY_NAME = {f.name: f for f in FLAGS}


def shown(value: object) -> str:
    """A default as the help shows it: `0,1,2,3,4`, `off`, `0.95`, a grid's own text."""
    if value is None or value == {}:
        return OFF
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "none"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(getattr(value, "text", value))


class _Option(click.Option):
    """A run flag's option: its help shows the typed default as the flag is typed (`0,1,2,3,4`, `off`)."""

    def get_help_extra(self, ctx: click.Context) -> Any:
        extra = super().get_help_extra(ctx)
        if self.show_default:
            extra["default"] = shown(self.default)
        return extra


def _option(flag: RunFlag) -> Callable[[Command], Command]:
    default = flag.default()
    flag_help = f"{flag.help} Default: {flag.computed}." if flag.computed not in ("", "demo", "found") else flag.help
    show = (default is not None or isinstance(flag.type, Limit)) and not flag.is_flag
    # flags parse, the settings validate: a kit type checks its setting's rules once it has parsed the text
    kind = flag.type.bound(flag.path) if isinstance(flag.type, KitType) and flag.path else flag.type
    return click.option(flag.opt, flag.name, cls=_Option, type=None if flag.is_flag else kind, default=default,
                        is_flag=flag.is_flag, help=flag_help, metavar=flag.metavar, envvar=flag.envvar,
                        show_envvar=flag.envvar is not None, show_default=show)


def run_options(fn: Command, selection: bool = True) -> Command:
    for flag in reversed(FLAGS):
        if selection or flag.name not in ("from_step", "only"):
            fn = _option(flag)(fn)
    return fn


def step_options(fn: Command) -> Command:
    """`run`'s flags without --from and --only: `step NAME` is the selection."""
    return run_options(fn, selection=False)


def given_here(ctx: click.Context) -> set[str]:
    """The parameters of this command given on its command line (not by a variable, not a default)."""
    return {name for name in ctx.params if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE}


def box_id_problem(box_id: str) -> str:
    """What of a box id a file name may not hold (kit.infra.host.safe_box_id's rules), as a person reads it."""
    if re.search(r"[^A-Za-z0-9._-]", box_id):
        return "holds characters a file name may not"
    if len(box_id) > 64:
        return f"is {len(box_id)} characters long, over 64"
    return "starts or ends with '.' or '-'"


def check_box_id(box_id: str) -> None:
    """A --box-id a file name cannot hold is refused (exit 2) with the safe name offered, never changed silently."""
    from kit.infra.host import safe_box_id

    if box_id != safe_box_id(box_id):
        raise InputError(f"--box-id {box_id!r} {box_id_problem(box_id)}: it names the shard's rows and the results "
                         "tarball", hint=f"use letters, digits, '-', '_' and '.' only, at most 64, starting and ending "
                         f"with a letter or digit, e.g. --box-id {safe_box_id(box_id)}")


def build_settings(values: Mapping[str, Any], given: Collection[str] = ()) -> RunSettings:
    """RunSettings from the flags' typed values (and the --settings file's record, which only the flags in `given`
    override); then what depends on several flags ({shard}, the box id, the default out-dir), and the settings'
    rules over the whole (kit.infra.rules.broken: the grid against the encoders), said of the flag or the file
    that gave the value."""
    from kit.infra.host import default_box_id
    from kit.infra.rules import broken
    from kit.rundir import default_out_dir
    from kit.steps.settings import TASK_FLAGS, read_settings

    file = values.get("settings")
    if file is not None:  # the file's settings, and this command's own flags only (never a variable)
        values = {k: v for k, v in values.items() if k in given or (k in BY_NAME and not BY_NAME[k].path)}
    shard, corpus = values.get("shard"), values.get("corpus")
    check_corpus_flags(values)
    settings = read_settings(file) if file is not None else defaults()
    for flag in FLAGS:  # None is a value too (--max-abs-bias off); the flags that place it are set below
        if flag.path and flag.name in values and flag.name not in TASK_FLAGS:
            settings = with_setting(settings, flag.path, values[flag.name])
    box = values.get("box_id")
    box_id = with_shard(box, shard, "--box-id") if box else \
        shard_box_id(default_box_id(), shard) if shard is not None and shard.how else \
        UNION_BOX_ID if corpus is not None else default_box_id()
    if box:
        check_box_id(box_id)
    settings = dataclasses.replace(settings, box_id=box_id, shard=shard, corpus=corpus)  # the box id sanitised
    out = values.get("out_dir")
    out_dir = Path(with_shard(str(out), shard, "--out-dir")) if out else default_out_dir(settings.box_id).absolute()
    settings = dataclasses.replace(settings, out_dir=out_dir)
    if settings.train_tasks == AUTO_TASKS:
        raise InputError("--train-tasks auto is for `slurm` (one training task per shard)",
                         hint="give the number of tasks that train LOSO's members (--train-tasks N), or off")
    if (found := broken(settings)) is not None:
        raise refusal(found, given, file)
    return settings


def refusal(found: Broken, given: Collection[str], file: Path | None) -> InputError:
    """A rule the settings break as a whole, said of where its value came from: the flag on the command line, its
    variable (no --settings), or the --settings file."""
    from kit.infra.outside import label
    from kit.steps.settings import refused_settings

    flag = next((f for f in FLAGS if f.path == found.key), None)
    if file is not None and (flag is None or flag.name not in given):
        return refused_settings(file, found.refused())
    name = found.key if flag is None else flag.opt
    source = "" if flag is None or flag.name in given or flag.envvar is None else f" (from {flag.envvar})"
    return InputError(f"{label(name, shown(found.value))} {found.problem}{source}", hint=f"give {name} {found.words}")


def check_corpus_flags(values: Mapping[str, Any]) -> None:
    """--corpus skips the corpus step: a flag asked of that step by this command is refused, not ignored (a
    --settings file's values for it are those of the file's run, unused under --corpus)."""
    from kit.infra.invocation import kit_command

    corpus, teacher, groups = values.get("corpus"), values.get("teacher"), values.get("content_groups")
    if corpus is None:
        return
    if values.get("shard") is not None:
        raise InputError("--shard and --corpus cannot be combined (--corpus skips the corpus step)",
                         hint="drop --shard, or drop --corpus to encode this box's shard")
    if teacher is not None and teacher != defaults().teacher:
        raise InputError(f"--teacher {teacher} and --corpus cannot be combined: a corpus's rows carry the teacher they "
                         "were scored with (--corpus skips the corpus step)",
                         hint="drop --teacher: the run trains on the corpus's own teacher (corpus info names it)")
    if groups is not None:
        raise InputError(f"--content-groups has no effect with --corpus: {corpus}'s rows already name their content "
                         "groups", hint=kit_command("merge", corpus, "--content-groups", groups, "-o",
                                                    "regrouped.parquet") + ", then --corpus regrouped.parquet")


def with_setting(settings: Any, path: str, value: Any) -> Any:
    """`settings` with the field at dotted `path` set to `value` (nested records replaced, never changed)."""
    head, _, rest = path.partition(".")
    new = with_setting(getattr(settings, head), rest, value) if rest else value
    return dataclasses.replace(settings, **{head: new})


def with_shard(text: str, shard: ShardSpec | None, flag: str) -> str:
    """`{shard}` in --out-dir or --box-id becomes the shard's tag (`shard2of3`); refused without --shard."""
    from kit.corpus.split import SHARD_FIELD

    if SHARD_FIELD not in text:
        return text
    if shard is None:
        raise InputError(f"{flag} {text!r} holds {SHARD_FIELD} but no --shard is given",
                         hint=f"add --shard K/N (or --shard auto in an array job), or drop {SHARD_FIELD}")
    return text.replace(SHARD_FIELD, str(shard.tag))


def shard_box_id(host: str, shard: ShardSpec) -> str:
    """`<host>-shard<K>of<N>`: the default box id under --shard auto, so array tasks never collide."""
    tag = str(shard.tag)
    return f"{host[:63 - len(tag)]}-{tag}"


def env_default(name: str) -> str | None:
    """The value a run flag takes from its KIT_ variable when not given on the command line."""
    flag = BY_NAME[name]
    return os.environ.get(flag.envvar) if flag.envvar else None
