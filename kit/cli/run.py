"""`ensemble-kit run` and `ensemble-kit step NAME`: the flags, the settings they make, the run.

Importing this module stays light (click only): the steps load when a command runs.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from kit.cli.guard import failure_events, guarded
from kit.errors import InputError
from kit.infra.invocation import retry_command
from kit.media.pixfmt import DEPTH_8BIT, ENCODE_DEPTHS
from kit.rundir import STEP_NAMES

STEP_CHOICES = STEP_NAMES


def parse_int_list(text: str, flag: str, lo: int, hi: int) -> tuple[int, ...]:
    try:
        values = tuple(int(v.strip()) for v in text.split(",") if v.strip())
    except ValueError:
        raise InputError(f"{flag} {text!r} is not a comma-separated list of whole numbers",
                         hint=f"e.g. {flag} 19,25,31,37" if flag == "--cqs" else f"e.g. {flag} 0,1,2,3,4") from None
    if not values:
        raise InputError(f"{flag} {text!r} is empty", hint=f"give at least one value to {flag}")
    if len(set(values)) != len(values):
        raise InputError(f"{flag} {text!r} repeats a value", hint="list each value once")
    bad = [v for v in values if not lo <= v <= hi]
    if bad:
        raise InputError(f"{flag} value {bad[0]} is outside {lo}..{hi}", hint=f"use values from {lo} to {hi}")
    return values


def parse_limit(text: str, flag: str) -> float | None:
    """A gate's threshold: a positive number, or `off` (None)."""
    if text.strip().lower() in ("off", "none"):
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value > 0 and value < float("inf")):
        raise InputError(f"{flag} {text!r} is neither a positive number nor off", hint=f"e.g. {flag} 5, or {flag} off")
    return value


def parse_crf_range(text: str) -> tuple[int, int]:
    values = parse_int_list(text, "--vmaftune-crf-range", 0, 255)
    if len(values) != 2 or values[0] >= values[1]:
        raise InputError(f"--vmaftune-crf-range {text!r} is not MIN,MAX with MIN < MAX",
                         hint="e.g. --vmaftune-crf-range 10,51 (vmaf-tune's default search range)")
    return values[0], values[1]


def parse_fps_flag(text: str | None) -> str | None:
    if text is None:
        return None
    from kit.media.refs import parse_fps

    try:
        return parse_fps(text)
    except (ValueError, ZeroDivisionError):
        raise InputError(f"--fps {text!r} is not a frame rate", hint="e.g. --fps 25 or --fps 30000/1001") from None


def run_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    return _with_options(fn, selection=True)


def step_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`run`'s flags without --from and --only: `step NAME` is the selection."""
    return _with_options(fn, selection=False)


def _with_options(fn: Callable[..., Any], selection: bool) -> Callable[..., Any]:
    options = [
        click.option("--ref-dir", type=click.Path(path_type=Path), envvar="KIT_REF_DIR",
                     help="Folder of reference clips (.y4m, .yuv, .mp4/.mkv/.mov). Default: the embedded demo set."),
        click.option("--width", type=click.IntRange(16, 16384),
                     help="Width of .yuv clips whose name has no size (Netflix-style Name_25fps.yuv: 1920)."),
        click.option("--height", type=click.IntRange(16, 16384),
                     help="Height of .yuv clips whose name has no size (Netflix-style Name_25fps.yuv: 1080)."),
        click.option("--fps", help="Frame rate of .yuv clips whose name has none, e.g. 25 or 30000/1001."),
        click.option("--encoders", default="auto", show_default=True, envvar="KIT_ENCODERS",
                     help="Comma-separated encoders, or auto: each detected family's defaults that pass a test "
                          "encode, plus libx264 (see `ensemble-kit detect`)."),
        click.option("--encode-depth", type=click.Choice(ENCODE_DEPTHS), default=DEPTH_8BIT, show_default=True,
                     help="Bit depth of the encodes (all 4:2:0): 8bit for every reference, or source: references "
                          "deeper than 8 bit are encoded at 10 bit (exit 2 if an encoder cannot; 8-bit stay 8-bit)."),
        click.option("--cqs", default="19,25,31,37", show_default=True, envvar="KIT_CQS",
                     help="Quality grid (the cq knob, mapped per encoder family)."),
        click.option("--seeds", default="0,1,2,3,4", show_default=True, envvar="KIT_SEEDS",
                     help="Training seeds, honoured exactly as given."),
        click.option("--out-dir", type=click.Path(path_type=Path), envvar="KIT_OUT_DIR",
                     help="Run directory. Default: ./runs/<box-id>."),
        click.option("--corpus", type=click.Path(path_type=Path),
                     help="Train on this corpus (a shard or merged corpus) and skip the corpus step."),
        click.option("--box-id", envvar="KIT_BOX_ID",
                     help="Name of this box in shards and tarballs. Default: host name."),
        click.option("--shard", metavar="K/N|auto",
                     help="Encode only shard K of N (1-based) of the reference set, split by content hash; "
                          "run K=1..N on N boxes, then `ensemble-kit merge` their tarballs or shard.parquet files. "
                          "auto: K and N from the Slurm array task (1/1 outside one); {shard} in --out-dir and "
                          "--box-id becomes shard<K>of<N>."),
        click.option("--jobs", type=click.IntRange(0, 256), default=0, help="Parallel corpus jobs (0 = cores)."),
        click.option("--ffmpeg", envvar="KIT_FFMPEG", help="ffmpeg binary with libvmaf to use."),
        *([click.option("--from", "from_step", type=click.Choice(STEP_CHOICES), help="Rerun from this step on."),
           click.option("--only", type=click.Choice(STEP_CHOICES), help="Run only this step.")] if selection else []),
        click.option("--force", is_flag=True, help="Rerun the selected steps even if up to date (redoes corpus jobs)."),
        click.option("--min-mean-plcc", type=float, default=0.95, show_default=True,
                     help="Gate: mean over seeds of per-seed mean LOSO PLCC."),
        click.option("--max-plcc-spread", type=float, default=0.005, show_default=True,
                     help="Gate: max - min of the per-seed mean PLCCs."),
        click.option("--min-seed-plcc", type=float, default=0.95, show_default=True,
                     help="Gate: every seed's mean PLCC."),
        click.option("--incumbent", type=click.Path(path_type=Path), envvar="KIT_INCUMBENT",
                     help="A previous bundle (out-dir or its 05_bundle/exports): promote only if this run "
                          "beats its models by more than the seed spread."),
        click.option("--min-rmse-lift", type=click.FloatRange(0, 10), default=None,
                     help="Optional gate: ensemble RMSE <= X * ridge-baseline RMSE (e.g. 0.7)."),
        click.option("--max-abs-bias", default="10", show_default=True, metavar="X|off",
                     help="Gate: no held-out source may be off by more than X VMAF points on average "
                          "(mean of prediction - teacher, over seeds); off to drop it."),
        click.option("--max-fold-rmse", default="off", show_default=True, metavar="X|off",
                     help="Optional gate: every held-out source's RMSE (mean over seeds) at most X."),
        click.option("--epochs", type=click.IntRange(1, 10_000), default=None, help="Training epochs (advanced)."),
        click.option("--batch-size", type=click.IntRange(1, 1 << 20), default=None,
                     help="Training batch size per model (advanced)."),
        click.option("--demo-clips", type=click.IntRange(0, 64), default=0,
                     help="Use only the first N demo clips (0 = all)."),
        click.option("--demo-seconds", type=click.FloatRange(0, 60), default=0.0,
                     help="Length of each demo clip in seconds (0 = the default 3)."),
        click.option("--vmaftune-crf-range", default="10,51", show_default=True, metavar="MIN,MAX",
                     help="The CRF range vmaf-tune normalises crf_norm over, for the vmaf-tune export profile "
                          "written on PROMOTE (its default search range is 10..51)."),
        click.option("--json", "json_mode", is_flag=True, help="NDJSON events on stdout; human output on stderr."),
    ]
    for opt in reversed(options):
        fn = opt(fn)
    return with_env_vars(fn)


NO_ENV = ("from_step", "only", "force")  # choices of one invocation: a forgotten variable must not redo work
ENV_NAMES = {"json_mode": "KIT_JSON"}


def with_env_vars(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Every run option but NO_ENV also reads KIT_<NAME> (KIT_JOBS, KIT_SEEDS, ...); --help shows which."""
    for param in getattr(fn, "__click_params__", []):
        if isinstance(param, click.Option) and param.name not in NO_ENV:
            param.envvar = param.envvar or ENV_NAMES.get(str(param.name), f"KIT_{str(param.name).upper()}")
            param.show_envvar = True
    return fn


def build_settings(kw: dict[str, Any]) -> Any:
    from kit.corpus.split import is_auto
    from kit.infra.host import default_box_id, safe_box_id
    from kit.model.recipe import TrainConfig
    from kit.platforms.encoders import get_spec, parse_encoder_list
    from kit.steps.base import RunSettings
    from kit.verdict.gate import GateThresholds

    encoders = parse_encoder_list(kw["encoders"])
    cqs = parse_int_list(kw["cqs"], "--cqs", 0, 255)
    for enc in ("libx264",) if encoders == ("auto",) else encoders:  # auto always holds libx264
        for cq in cqs:
            get_spec(enc).check_cq(cq)
    seeds = parse_int_list(kw["seeds"], "--seeds", 0, 2**31 - 1)
    shard = parse_shard_flag(kw["shard"], kw["corpus"])
    box_id = safe_box_id(with_shard(kw["box_id"], shard, "--box-id") if kw["box_id"] else
                         shard_box_id(default_box_id(), shard) if is_auto(kw["shard"]) else default_box_id())
    train = TrainConfig()
    if kw["epochs"] or kw["batch_size"]:
        from dataclasses import replace

        train = replace(train, epochs=kw["epochs"] or train.epochs, batch_size=kw["batch_size"] or train.batch_size)
    out_dir = Path(with_shard(str(kw["out_dir"]), shard, "--out-dir")) if kw["out_dir"] else Path("runs") / box_id
    return RunSettings(
        out_dir=Path(out_dir).absolute(),
        ref_dir=Path(kw["ref_dir"]).absolute() if kw["ref_dir"] else None,
        width=kw["width"], height=kw["height"], fps=parse_fps_flag(kw["fps"]), encoders=encoders, cqs=cqs, seeds=seeds,
        corpus=Path(kw["corpus"]).absolute() if kw["corpus"] else None, jobs=kw["jobs"], ffmpeg=kw["ffmpeg"],
        box_id=box_id,
        gate=GateThresholds(kw["min_mean_plcc"], kw["max_plcc_spread"], kw["min_seed_plcc"], kw["min_rmse_lift"],
                            parse_limit(kw["max_abs_bias"], "--max-abs-bias"),
                            parse_limit(kw["max_fold_rmse"], "--max-fold-rmse")),
        incumbent=Path(kw["incumbent"]).absolute() if kw["incumbent"] else None,
        train=train, demo_clips=kw["demo_clips"], demo_seconds=kw["demo_seconds"],
        shard=shard,
        vmaftune_crf_range=parse_crf_range(kw["vmaftune_crf_range"]),
        encode_depth=kw["encode_depth"],
    )


def with_shard(text: str, shard: Any, flag: str) -> str:
    """`{shard}` in --out-dir or --box-id becomes the shard's tag (`shard2of3`); refused without --shard."""
    from kit.corpus.split import SHARD_FIELD

    if SHARD_FIELD not in text:
        return text
    if shard is None:
        raise InputError(f"{flag} {text!r} holds {SHARD_FIELD} but no --shard is given",
                         hint=f"add --shard K/N (or --shard auto in a Slurm array job), or drop {SHARD_FIELD}")
    return text.replace(SHARD_FIELD, str(shard.tag))


def shard_box_id(host: str, shard: Any) -> str:
    """`<host>-shard<K>of<N>`: the default box id under --shard auto, so array tasks never collide."""
    tag = str(shard.tag)
    return f"{host[:63 - len(tag)]}-{tag}"


def parse_shard_flag(text: str | None, corpus: Path | None) -> Any:
    from kit.corpus.split import parse_shard

    if text is not None and corpus is not None:
        raise InputError("--shard and --corpus cannot be combined (--corpus skips the corpus step)",
                         hint="drop --shard, or drop --corpus to encode this box's shard")
    return parse_shard(text)


def execute(kw: dict[str, Any], only: str | None) -> int:
    from kit.report.summary import finished_event, print_summary
    from kit.report.terminal import Renderer
    from kit.steps.runner import run_steps, select_steps

    renderer = Renderer(json_mode=kw["json_mode"])
    started = time.monotonic()
    try:
        settings = build_settings(kw)
        selection = select_steps(only or kw["only"], kw["from_step"], kw["force"], settings.corpus is not None)
        try:
            code = run_steps(settings, selection, renderer, sys.argv)
        finally:
            renderer.close()
    except BaseException as exc:  # `error` and `run_finished` events, then `guarded` reports it
        with contextlib.suppress(OSError):  # a reader or a terminal gone: saying so must not hide what happened
            for event in failure_events(exc, retry_command(), time.monotonic() - started):
                renderer(event)
        raise
    closing = any(s.name in ("verdict", "bundle") for s in selection.steps)
    if closing:
        print_summary(settings.out_dir, renderer.console)
    renderer(finished_event(settings.out_dir, code, time.monotonic() - started, closing))
    return code


@click.command("run")
@run_options
def run_cmd(**kw: Any) -> None:
    """Run the five steps: prereqs, corpus, loso, verdict, bundle.

    Exit 0 PROMOTE, 1 HOLD, 2 bad input or missing prerequisite, 130 interrupted
    (143 by SIGTERM, 129 by SIGHUP).
    A step whose settings and inputs are unchanged is skipped; a rerun resumes.

    \b
    Examples:
      ensemble-kit run
      ensemble-kit run --ref-dir clips --encoders libx264 --cqs 22,28,34 --seeds 0,1,2
      ensemble-kit run --corpus merged.parquet --out-dir runs/union
      ensemble-kit run --from loso --seeds 0,1,2,3,4,5,6
    """
    guarded(lambda: execute(kw, None))


@click.command("step")
@click.argument("name", type=click.Choice(STEP_CHOICES))
@step_options
def step_cmd(name: str, **kw: Any) -> None:
    """Run one step alone (the flags of `run`), e.g. to retry it.

    It reads what the steps before it wrote in the out-dir, so it follows a run
    (or those steps) there; on a fresh out-dir start with `step prereqs` or `run`.

    \b
    Examples:
      ensemble-kit step prereqs --out-dir runs/mybox --encoders libx264
      ensemble-kit step verdict --out-dir runs/mybox --min-mean-plcc 0.97
    """
    kw["only"] = kw["from_step"] = None
    guarded(lambda: execute(kw, name))


