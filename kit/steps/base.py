"""The contract every numbered step shares.

A step has a number and a name, declares the settings and upstream inputs it
depends on (`plan`, pure apart from hashing files), and `run`s, emitting
events and returning its outputs. Steps never import each other: they meet
only through files in the run directory.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kit.corpus.split import ShardSpec
from kit.errors import InputError
from kit.events import Emit
from kit.infra.files import read_json_object, sha256_file
from kit.infra.invocation import kit_command
from kit.model.recipe import TrainConfig
from kit.rundir import RunDir
from kit.verdict.gate import GateThresholds


@dataclass(frozen=True)
class RunSettings:
    """Everything the user can set for a run; each step picks what it depends on."""

    out_dir: Path
    ref_dir: Path | None = None
    width: int | None = None  # geometry .yuv names leave out (refs.YuvDefaults)
    height: int | None = None
    fps: str | None = None
    encoders: tuple[str, ...] = ("libx264",)
    cqs: tuple[int, ...] = (19, 25, 31, 37)
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    corpus: Path | None = None
    jobs: int = 0  # 0 = from the core count
    ffmpeg: str | None = None
    box_id: str = ""
    gate: GateThresholds = field(default_factory=GateThresholds)
    train: TrainConfig = field(default_factory=TrainConfig)
    demo_clips: int = 0  # 0 = the whole demo set
    demo_seconds: float = 0.0  # 0 = the demo default
    incumbent: Path | None = None  # a previous bundle whose models the challenger must beat
    shard: ShardSpec | None = None  # --shard K/N: this box encodes only shard K of the reference set
    vmaftune_crf_range: tuple[int, int] = (10, 51)  # the CRF range vmaf-tune's crf_norm is taken over
    encode_depth: str = "8bit"  # --encode-depth: 8bit, or source (10-bit references keep 10 bit)

    def to_json(self) -> dict[str, object]:
        d = asdict(self)
        for k in ("out_dir", "ref_dir", "corpus", "incumbent"):
            d[k] = None if d[k] is None else str(d[k])
        d["encoders"], d["cqs"], d["seeds"] = list(self.encoders), list(self.cqs), list(self.seeds)
        d["vmaftune_crf_range"] = list(self.vmaftune_crf_range)
        return d


@dataclass
class Context:
    settings: RunSettings
    emit: Emit
    log: Callable[[str], None]
    forced: bool = False  # --force / --from: redo the step's work, not only its bookkeeping

    @property
    def out_dir(self) -> Path:
        return self.settings.out_dir

    @property
    def run(self) -> RunDir:
        return RunDir(self.settings.out_dir)


@dataclass(frozen=True)
class Plan:
    """What a step depends on: its settings and digests of its upstream inputs.

    `prepared` is what planning found and running needs again (the corpus step's clips),
    handed to `run` so nothing is discovered or hashed twice; it is not fingerprinted.
    """

    settings: dict[str, object]
    inputs: dict[str, str]
    prepared: object = None


@dataclass
class Outcome:
    outputs: list[Path]
    summary: dict[str, object] = field(default_factory=dict)
    exit_code: int = 0


class StepCode(Protocol):
    """What a step module's class provides: a pure-ish plan, and a run that emits events."""

    name: str

    def plan(self, ctx: Context) -> Plan: ...

    def run(self, ctx: Context, plan: Plan) -> Outcome: ...


class Step(StepCode, Protocol):
    """A registered step: its code plus its place in the run (kit.steps.STEPS)."""

    number: int
    dirname: str


def require_output(ctx: Context, path: Path, producer: str) -> Path:
    """An upstream output this step reads, exactly as step `producer` wrote it.

    Missing, left by an interrupted run (no status.json), or edited since (sha256
    differs from the producer's record): each is a clear error, never silently used.
    """
    status = ctx.run.status(producer)
    rerun = kit_command("step", producer, "--out-dir", ctx.out_dir)
    if not path.is_file() or not status.is_file():
        raise InputError(f"{path} is missing: step '{producer}' has not completed in {ctx.out_dir}",
                         hint=f"run it first: {rerun}")
    record = read_status(status)
    if record is None:
        raise InputError(f"{path} cannot be trusted: the status.json of step '{producer}' is damaged",
                         hint=f"rerun that step (it rebuilds its record): {rerun} --force")
    recorded = record["outputs"].get(ctx.run.rel(path))
    if recorded is not None and recorded != cached_sha256(path):
        raise InputError(f"{path} was changed after step '{producer}' wrote it (its sha256 differs)",
                         hint=f"restore it, or rerun that step: {rerun} --force")
    return path


_sha_memo: dict[tuple[str, int, int], str] = {}


def cached_sha256(path: Path) -> str:
    """sha256 of a file, remembered for this process by (path, size, mtime)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _sha_memo:
        _sha_memo[key] = sha256_file(path)
    return _sha_memo[key]


def read_prereqs(ctx: Context) -> dict[str, object]:
    path = require_output(ctx, ctx.run.prereqs_json, "prereqs")
    data, why = read_json_object(path)
    ffmpeg, host = (data or {}).get("ffmpeg"), (data or {}).get("host")
    if data is None or not isinstance(ffmpeg, dict) or not isinstance(host, dict):
        raise InputError(f"{path} is {why or 'damaged (fields missing or of the wrong type)'}",
                         hint="rerun the prereqs step, which rebuilds it: "
                              + kit_command("step", "prereqs", "--out-dir", ctx.out_dir, "--force"))
    return data


# a status.json's fields and their types: one that lacks any, or holds another type, is damaged
STATUS_FIELDS: dict[str, type] = {"step": str, "fingerprint": str, "settings": dict, "inputs": dict,
                                  "outputs": dict}


def read_status(path: Path) -> dict[str, Any] | None:
    """A step's status.json, checked, not trusted: None when missing, unreadable or of the wrong shape."""
    data, _ = read_json_object(path)
    if data is None or any(not isinstance(data.get(k), t) for k, t in STATUS_FIELDS.items()):
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in data["outputs"].items()):
        return None
    return data


class Timer:
    def __init__(self) -> None:
        self.start = time.monotonic()

    @property
    def seconds(self) -> float:
        return round(time.monotonic() - self.start, 3)
