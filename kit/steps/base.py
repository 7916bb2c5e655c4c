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
from typing import Protocol

from kit.errors import InputError
from kit.events import Emit
from kit.fsio import read_json
from kit.gate import GateThresholds
from kit.model import TrainConfig


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

    def to_json(self) -> dict[str, object]:
        d = asdict(self)
        for k in ("out_dir", "ref_dir", "corpus"):
            d[k] = None if d[k] is None else str(d[k])
        d["encoders"], d["cqs"], d["seeds"] = list(self.encoders), list(self.cqs), list(self.seeds)
        return d


@dataclass
class Context:
    settings: RunSettings
    emit: Emit
    step_dir: Path
    log: Callable[[str], None]

    @property
    def out_dir(self) -> Path:
        return self.settings.out_dir

    def path(self, step_dir_name: str, *parts: str) -> Path:
        return self.out_dir.joinpath(step_dir_name, *parts)


@dataclass(frozen=True)
class Plan:
    """What a step depends on: its settings and digests of its upstream inputs."""

    settings: dict[str, object]
    inputs: dict[str, str]


@dataclass
class Outcome:
    outputs: list[Path]
    summary: dict[str, object] = field(default_factory=dict)
    exit_code: int = 0


class Step(Protocol):
    number: int
    name: str

    @property
    def dirname(self) -> str: ...

    def plan(self, ctx: Context) -> Plan: ...

    def run(self, ctx: Context) -> Outcome: ...


def step_dirname(number: int, name: str) -> str:
    return f"{number:02d}_{name}"


def require_output(ctx: Context, step_dir_name: str, filename: str, producer: str) -> Path:
    """An upstream output this step reads; a clear error when it is not there."""
    path = ctx.path(step_dir_name, filename)
    if not path.is_file():
        raise InputError(f"{path} is missing: step '{producer}' has not completed in {ctx.out_dir}",
                         hint=f"run it first: ensemble-kit step {producer} --out-dir {ctx.out_dir}")
    return path


def read_prereqs(ctx: Context) -> dict[str, object]:
    return dict(read_json(require_output(ctx, "01_prereqs", "prereqs.json", "prereqs")))


class Timer:
    def __init__(self) -> None:
        self.start = time.monotonic()

    @property
    def seconds(self) -> float:
        return round(time.monotonic() - self.start, 3)
