"""`01_prereqs/prereqs.json`: what step 01 found on this box, the one file the corpus step trusts for the ffmpeg, the
encoders and the encode depth. A file that does not fit reads as None with the reason; schema 1 still reads."""

from __future__ import annotations

import functools
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from kit.infra.records import Record, keep, read_record
from kit.infra.rules import COUNT, KIT_VERSION, Real
from kit.infra.tree import Tree
from kit.media.ffmpeg import FFmpegInfo
from kit.media.libvmaf import DEFAULT_TEACHER, Teacher
from kit.media.pixfmt import DEPTH_8BIT
from kit.platforms.detect import HostFamily
from kit.platforms.encoders import HwArgs
from kit.platforms.probe import ProbeResult
from kit.platforms.signals import HostSignals


@dataclass(frozen=True)
class HostReport(Record):
    platform: str  # linux-x86_64: names binaries/<os>-<arch>/ and the shard's platform
    os: str
    cpu: str
    cores: int = field(metadata=keep(COUNT))
    python: str
    signals: HostSignals  # what detection decided on (the ffmpeg's encoder list is in `ffmpeg`)


@dataclass(frozen=True)
class OutDirReport(Record):
    path: str
    free_gib: float = field(metadata=keep(Real(0)))


@dataclass(frozen=True)
class Prereqs(Record):
    SCHEMA_VERSION: ClassVar[int] = 2
    LENIENT = True  # schema 1 had no schema_version; an older one no encode_depth (8bit) or 10-bit probes

    kit_version: str = field(metadata=keep(KIT_VERSION))
    ffmpeg: FFmpegInfo
    libvmaf_version: str
    requested_encoders: list[str]
    resolved_encoders: list[str]
    encoders: dict[str, ProbeResult]
    families: list[HostFamily]
    host: HostReport
    python_packages: dict[str, str]
    out_dir: OutDirReport
    encode_depth: str = DEPTH_8BIT
    encoders_10bit: dict[str, ProbeResult] = field(default_factory=dict)  # --encode-depth source only
    schema_version: int = field(default=1, metadata=keep(COUNT))
    teacher: Teacher = DEFAULT_TEACHER  # the --teacher libvmaf scored a test pair with (kit.platforms.teacher)
    extra_features: bool = False  # ... and the opt-in features too (--inputs canonical6+v1)
    can_train: bool = True  # torch imports here: LOSO and the verdict can run (else: a corpus-only box)
    can_export: bool = True  # onnx and onnxruntime import here: a PROMOTE's models can be exported
    # opt-in encoders --encoders auto left out (kit.platforms.resolve.opt_ins): found working, and not tested yet
    left_out: list[str] = field(default_factory=list)
    untested: list[str] = field(default_factory=list)

    def adding(self, names: list[str]) -> str:
        """The --encoders value that adds `names` to the encoders the corpus used."""
        return ",".join([*self.resolved_encoders, *names])

    def hw_args(self) -> dict[str, HwArgs]:
        """The device arguments each probed encoder's corpus jobs use."""
        return {name: probe.hw for name, probe in self.encoders.items()}

    def devices(self) -> tuple[tuple[str, str], ...]:
        """(encoder, the hardware that encodes its rows: GPU, render node, VideoToolbox, CPU)."""
        return tuple((name, probe.device or self.host.cpu) for name, probe in sorted(self.encoders.items()))


TRAINING_PACKAGES = ("torch",)  # what LOSO trains with
EXPORT_PACKAGES = ("onnx", "onnxruntime")  # what the bundle exports a PROMOTE's models with


def importable(name: str) -> bool:
    """Whether `import name` finds the package in this Python (found, not yet imported: import_failure imports it)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


MAX_CAUSE = 200  # characters of an import's error said in the reason


def import_failure(name: str) -> str | None:
    """None when `import name` works; else "" where the package is not installed, or what its import raised."""
    if not importable(name):
        return ""
    try:
        importlib.import_module(name)
    except Exception as exc:  # whatever a broken install raises on import (OSError, ImportError, AttributeError, ...)
        said = str(exc).strip().splitlines()
        return f"{type(exc).__name__}: {said[0][:MAX_CAUSE]}" if said else type(exc).__name__
    return None


@functools.cache
def training_failures() -> dict[str, str]:
    """The packages of training and export this Python cannot import, each with why (import_failure)."""
    found = {name: import_failure(name) for name in (*TRAINING_PACKAGES, *EXPORT_PACKAGES)}
    return {name: why for name, why in found.items() if why is not None}


def corpus_only_reason(deep: bool = False) -> str | None:
    """None where this box can train and export, else why not; `deep`: the packages imported, else only looked for."""
    failures = training_failures() if deep else \
        {name: "" for name in (*TRAINING_PACKAGES, *EXPORT_PACKAGES) if not importable(name)}
    if not failures:
        return None
    absent = [name for name, why in failures.items() if not why]
    said = [f"{', '.join(absent)} cannot be imported in this Python ({sys.executable})"] if absent else []
    said += [f"{name} is installed in this Python ({sys.executable}) but does not import ({why})"
             for name, why in failures.items() if why]
    return f"{'; '.join(said)}: this box makes the corpus and bundles it; training happens at the lead"


def write_prereqs(tree: Tree, path: Path, prereqs: Prereqs) -> None:
    doc = prereqs.to_json()
    tree.write_json(path, {"schema_version": doc.pop("schema_version"), **doc})


def read_prereqs(tree: Tree, path: Path) -> tuple[Prereqs | None, str]:
    """(the record, "") or (None, why not)."""
    return read_record(Prereqs, tree, path)
