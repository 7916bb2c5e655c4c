"""The flags of `run` and `step` (and through them `slurm`, `ray`), each declared in its setting's field
(kit.infra.changes.setting), or here (OWN) for the few that set none; and the RunSettings they make (`build_settings`).
A setting comes from, first match wins: a flag given; the `--settings FILE` record; the flag's KIT_ variable (never
with --settings); the default. The flags that place a command (TASK_FLAGS) never come from the file.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.core import ParameterSource

from kit.cli.params import KitParam, SwitchOption
from kit.corpus.split import SHARD_FIELD
from kit.errors import InputError, KitError
from kit.infra.changes import flags_of
from kit.infra.flags import AbsPath, Choice, Flag
from kit.infra.host import safe_box_id
from kit.infra.invocation import kit_command
from kit.infra.outside import label
from kit.infra.rules import OFF, OneOf
from kit.infra.shown import Spelled, spelled_path
from kit.infra.variables import PREFIX
from kit.media.libvmaf import BUILTIN_TEACHERS
from kit.rundir import STEP_NAMES, default_out_dir
from kit.steps.parsers import AUTO_TASKS
from kit.steps.settings import TASK_FLAGS, RunSettings, read_settings, refused_settings

if TYPE_CHECKING:
    from kit.corpus.split import ShardSpec
    from kit.infra.changes import Broken

Command = TypeVar("Command", bound=Callable[..., object])

UNION_BOX_ID = "union"  # the box id of a run on a given corpus (--corpus: the lead's union), not the lead's host

# the flags that set no setting; those without a variable are choices of one invocation: a forgotten variable must
# not redo work, nor replace every setting
OWN = (
    Flag("--settings", AbsPath(), "Run with the settings of this run.json (an out-dir's) or of the settings.json a "
         "cluster command wrote; a flag given here overrides its setting, no KIT_ variable of a run flag is read, and "
         "--out-dir, --box-id, --shard and --corpus are this command's own.", metavar="FILE", rank=10, env=False),
    Flag("--from", Choice(STEP_NAMES), "Rerun from this step on.", dest="from_step", rank=250, env=False),
    Flag("--only", Choice(STEP_NAMES), "Run only this step.", rank=260, env=False),
    Flag("--force", None, "Rerun the selected steps even if up to date (redoes corpus jobs).", rank=270, env=False),
    Flag("--json", None, "NDJSON events on stdout; human output on stderr.", dest="json_mode", rank=550),
)
FOUND = sorted([*flags_of(RunSettings), *(((), flag, ()) for flag in OWN)], key=lambda found: found[1].rank)
FLAGS = tuple(flag for _, flag, _ in FOUND)  # in `run --help`'s order
BY_NAME = {f.name: f for f in FLAGS}
AT = {flag.name: at for at, flag, _ in FOUND if at}  # the field names that lead to a flag's setting in RunSettings
RULES = {flag.name: rules for _, flag, rules in FOUND}  # the rules a flag's value alone can break
DEFAULTS = RunSettings(out_dir=Path("runs"))  # every setting's default; the out-dir's is worked out at run time


def default(flag: Flag) -> object:
    """The option's default: its setting's (None if worked out at run time, or of no setting); a switch is off."""
    if flag.parse is None:
        return False
    at = AT.get(flag.name)
    return functools.reduce(getattr, at, DEFAULTS) if at and not flag.computed else None


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
    """A run flag's option: its help shows the default as the flag is typed (`shown`)."""

    def get_help_extra(self, ctx: click.Context) -> Any:
        extra = super().get_help_extra(ctx)
        if self.show_default:
            extra["default"] = shown(self.default)
        return extra


def _option(flag: Flag) -> Callable[[Command], Command]:
    if (variable := flag.switch) is not None:  # its variable read by the switches' one rule
        return click.option(flag.opt, flag.name, cls=SwitchOption, variable=variable, default=False,
                            help=flag.help, show_envvar=True)
    value = default(flag)
    flag_help = f"{flag.help} Default: {flag.computed}." if flag.computed not in ("", "demo", "found") else flag.help
    parser, rules = flag.parse, RULES[flag.name]
    show = parser is not None and (value is not None or parser.takes_off)
    kind: click.ParamType | None = None  # a switch
    if isinstance(parser, Choice):  # its choices, or its setting's OneOf rule's
        kind = click.Choice(parser.choices or next(r.choices for r in rules if isinstance(r, OneOf)))
    elif parser is not None:  # flags parse, the settings validate: the setting's rules once the text is parsed
        kind = KitParam(parser, rules)
    return click.option(flag.opt, flag.name, cls=_Option, type=kind, default=value, is_flag=parser is None,
                        help=flag_help, metavar=flag.metavar, envvar=flag.envvar, show_envvar=flag.envvar is not None,
                        show_default=show)


def run_options(fn: Command, selection: bool = True) -> Command:
    """`run`'s flags; without `selection`, no --from and --only (`step NAME` is the selection)."""
    for flag in reversed(FLAGS):
        if selection or flag.name not in ("from_step", "only"):
            fn = _option(flag)(fn)
    return fn


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


def typed_argv(argv: Sequence[str], command: click.Command) -> list[str]:
    """The command line as typed, the program and each value of a flag that names a file or folder (`--ref-dir X`,
    `--ref-dir=X`, a `--teacher` model file) a path (kit.infra.shown.Spelled): run.json keeps where each is
    (RunRecord.argv_paths), so that what the lead is sent shows them as the lead may see them. Read by the
    command's own options, the way click reads the line: a word after a path flag is its value."""
    paths = {opt for p in command.params if isinstance(p, click.Option) and _names_a_path(p) for opt in p.opts}
    typed: list[str] = [spelled_path(argv[0])] if argv else []
    words = iter(argv[1:])
    for word in words:
        name, eq, value = word.partition("=")
        if word in paths:
            typed.append(word)
            value = next(words, "")
            typed += [_path_value(name, value)] if value else []
        else:
            typed.append(Spelled(f"{name}=", _path_value(name, value)) if eq and name in paths and value else word)
    return typed


def _names_a_path(param: click.Option) -> bool:
    return isinstance(param.type, KitParam) and (isinstance(param.type.parser, AbsPath) or param.name == "teacher")


def _path_value(flag: str, value: str) -> str:
    """A path flag's value as a path (a --teacher's only when it names no built-in model)."""
    return value if flag == "--teacher" and value in BUILTIN_TEACHERS else spelled_path(value)


def from_variable(name: str, given: Collection[str]) -> str:
    """` (from KIT_BOX_ID)` where run flag `name` took its value from its variable, not this command line: a refusal
    names the door the user used, as click's refusals do (kit.cli.usage)."""
    flag = BY_NAME[name]
    return f" (from {flag.envvar})" if name not in given and flag.envvar and os.environ.get(flag.envvar) else ""


def name_the_variable(exc: KitError, ctx: click.Context) -> None:
    """A refusal that names a run flag (`--ref-dir X does not exist`, found where the steps read it) whose value came
    from its variable says so (` (from KIT_REF_DIR)`), as the flag's own refusals do (kit.cli.usage): every door
    names what the user set. The exception is told in place: its message is what every reporter prints."""
    if f"(from {PREFIX}" in exc.message:
        return
    for flag in FLAGS:
        if flag.envvar and flag.name in ctx.params and ctx.get_parameter_source(flag.name) == \
                ParameterSource.ENVIRONMENT and re.search(rf"(?<![\w-]){re.escape(flag.opt)}(?![\w-])", exc.message):
            told = f" (from {flag.envvar})"
            exc.message = Spelled(exc.message, told) if isinstance(exc.message, Spelled) else exc.message + told
            exc.args = (exc.message,)
            return


def check_box_id(box_id: str, source: str = "") -> None:
    """A --box-id a file name cannot hold is refused (exit 2) with the safe name offered, never changed silently;
    `source`: where it came from (from_variable)."""
    if box_id != safe_box_id(box_id):
        raise InputError(f"--box-id {box_id!r} {box_id_problem(box_id)}: it names the shard's rows and the results "
                         f"tarball{source}", hint=f"use letters, digits, '-', '_' and '.' only, at most 64, starting "
                         f"and ending with a letter or digit, e.g. --box-id {safe_box_id(box_id)}")


def build_settings(values: Mapping[str, Any], given: Collection[str] = ()) -> RunSettings:
    """RunSettings from the flags' typed values (over the --settings file's record, only the flags in `given`),
    then what depends on several flags, then the rules over the whole (RunSettings.breach)."""
    from kit.infra.host import default_box_id  # late: tests stand in a host name for it

    file = values.get("settings")
    if file is not None:  # the file's settings, and this command's own flags only (never a variable)
        values = {k: v for k, v in values.items() if k in given or (k in BY_NAME and k not in AT)}
    shard, corpus = values.get("shard"), values.get("corpus")
    check_corpus_flags(values)
    settings = read_settings(file) if file is not None else DEFAULTS
    for name, at in AT.items():  # None is a value too (--max-abs-bias off); the flags that place it are set below
        if name in values and name not in TASK_FLAGS:
            settings = with_setting(settings, at, values[name])
    if box := values.get("box_id"):
        source = from_variable("box_id", given)
        box_id = with_shard(box, shard, "--box-id", source)
        check_box_id(box_id, source)
    elif shard is not None and shard.how:  # --shard auto: `<host>-shard<K>of<N>`, so array tasks never collide
        box_id = f"{default_box_id()[:63 - len(str(shard.tag))]}-{shard.tag}"
    else:
        box_id = UNION_BOX_ID if corpus is not None else default_box_id()
    settings = dataclasses.replace(settings, box_id=box_id, shard=shard, corpus=corpus)  # the box id sanitised
    out = values.get("out_dir")
    out_dir = Path(with_shard(str(out), shard, "--out-dir", from_variable("out_dir", given))) if out \
        else default_out_dir(settings.box_id).absolute()
    settings = dataclasses.replace(settings, out_dir=out_dir)
    if settings.train_tasks == AUTO_TASKS:
        raise InputError("--train-tasks auto is for `slurm` (one training task per shard)",
                         hint="give the number of tasks that train LOSO's members (--train-tasks N), or off")
    if (found := settings.breach()) is not None:
        raise refusal(found, given, file)
    return settings


def refusal(found: Broken, given: Collection[str], file: Path | None) -> InputError:
    """A rule the settings break as a whole, said of where its value came from: the flag, its variable or the file."""
    flag = found.flag
    if file is not None and (flag is None or flag.name not in given):
        return refused_settings(file, found.refused())
    name = found.key if flag is None else flag.opt
    source = "" if flag is None or flag.name in given or flag.envvar is None else f" (from {flag.envvar})"
    return InputError(f"{label(name, shown(found.value))} {found.problem}{source}", hint=f"give {name} {found.words}")


def check_corpus_flags(values: Mapping[str, Any]) -> None:
    """--corpus skips the corpus step: a flag of that step given to this command is refused, not ignored."""
    corpus, teacher, groups = values.get("corpus"), values.get("teacher"), values.get("content_groups")
    if corpus is None:
        return
    if values.get("shard") is not None:
        raise InputError("--shard and --corpus cannot be combined (--corpus skips the corpus step)",
                         hint="drop --shard, or drop --corpus to encode this box's shard")
    if teacher is not None and teacher != DEFAULTS.teacher:
        raise InputError(f"--teacher {teacher} and --corpus cannot be combined: a corpus's rows carry the teacher they "
                         "were scored with (--corpus skips the corpus step)",
                         hint="drop --teacher: the run trains on the corpus's own teacher (corpus info names it)")
    if groups is not None:
        raise InputError(f"--content-groups has no effect with --corpus: {corpus}'s rows already name their content "
                         "groups", hint=kit_command("merge", corpus, "--content-groups", groups, "-o",
                                                    "regrouped.parquet") + ", then --corpus regrouped.parquet")


def with_setting(settings: Any, at: tuple[str, ...], value: Any) -> Any:
    """`settings` with the field the names `at` lead to set to `value` (nested records replaced, never changed)."""
    head, *rest = at
    new = with_setting(getattr(settings, head), tuple(rest), value) if rest else value
    return dataclasses.replace(settings, **{head: new})


def with_shard(text: str, shard: ShardSpec | None, flag: str, source: str = "") -> str:
    """`{shard}` in --out-dir or --box-id becomes the shard's tag (`shard2of3`); refused without --shard (`source`:
    where the text came from, from_variable)."""
    if SHARD_FIELD not in text:
        return text
    if shard is None:
        raise InputError(f"{flag} {text!r} holds {SHARD_FIELD} but no --shard is given{source}",
                         hint=f"add --shard K/N (or --shard auto in an array job), or drop {SHARD_FIELD}")
    return text.replace(SHARD_FIELD, str(shard.tag))


def env_default(name: str) -> str | None:
    """The value a run flag takes from its KIT_ variable when not given on the command line."""
    flag = BY_NAME[name]
    return os.environ.get(flag.envvar) if flag.envvar else None
