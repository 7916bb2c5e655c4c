"""Step 01: which ffmpeg, does libvmaf really score, do the encoders really encode, is there room to write, are the
Python packages there."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sys
from dataclasses import replace
from pathlib import Path, PurePath
from typing import NamedTuple

from kit import __version__
from kit.bundle.values import FFMPEG_ENCODERS
from kit.errors import PrereqError
from kit.events import HINT_MARK, CheckTable
from kit.infra import typed
from kit.infra.files import sha256_json
from kit.infra.host import core_count, free_bytes, platform_tag
from kit.infra.shown import Spelled, Typed, Withheld
from kit.infra.tree import Tree
from kit.media.ffmpeg import FFmpegInfo, resolve_ffmpeg
from kit.media.pixfmt import DEPTH_SOURCE
from kit.model.contract import unslotted
from kit.platforms.detect import family_rows
from kit.platforms.encoders import AUTO
from kit.platforms.prereqs import (
    EXPORT_PACKAGES,
    TRAINING_PACKAGES,
    HostReport,
    OutDirReport,
    Prereqs,
    corpus_only_reason,
    importable,
    training_failures,
    write_prereqs,
)
from kit.platforms.probe import VMAF_CHECK_SIZE, Prober, ProbeResult, check_libvmaf, probe_row, probe_row_10bit
from kit.platforms.resolve import Survey, detect_command, opt_ins, resolve_encoders, survey_host
from kit.platforms.signals import gather_signals
from kit.platforms.teacher import check_teacher, trusted_teacher
from kit.steps.base import Context, Outcome, Plan
from kit.steps.settings import RunSettings

MIN_FREE_BYTES = 1 << 30
PYTHON_PACKAGES = ("numpy", "pandas", "pyarrow", "scipy", "click", "rich", "platformdirs", "matplotlib")


def dist_info_versions() -> dict[str, str]:
    """The versions the dist-info folders on sys.path name (`numpy-2.4.6.dist-info`: pip names them by the normalised
    name and the version its metadata gives), the first of a name winning as importlib.metadata's does: reading each
    package's METADATA instead took about a tenth of a second of CPU, which `status` pays as it plans this step."""
    found: dict[str, str] = {}
    for folder in sys.path:
        with contextlib.suppress(OSError):
            for entry in os.scandir(folder or "."):
                if entry.name.endswith(".dist-info"):
                    name, _, version = entry.name[:-len(".dist-info")].partition("-")
                    found.setdefault(dist_key(name), version)
    return found


def dist_key(name: str) -> str:
    """A distribution's name as its dist-info folder spells it, lower case (`typing_extensions`, `jinja2`)."""
    return name.lower().replace("-", "_").replace(".", "_")


def python_packages() -> dict[str, str]:
    """Each package's version: the corpus's are required; training's and export's listed where they import."""
    found, named = {}, dist_info_versions()
    # training's and export's looked for, not imported: `status` plans this step
    for name in (*PYTHON_PACKAGES, *filter(importable, (*TRAINING_PACKAGES, *EXPORT_PACKAGES))):
        if (version := named.get(dist_key(name)) or metadata_version(name)) is not None:
            found[name] = version
        elif name in PYTHON_PACKAGES:
            raise PrereqError(f"Python package {name} is not installed in {sys.executable}",
                              hint="run the kit from the venv install.py made (.venv/bin/python), or run "
                                   "install.py again to finish the set-up")
        else:
            found[name] = "unknown"  # importable, without its metadata (a source tree on the path)
    return found


def metadata_version(name: str) -> str | None:
    """The version importlib.metadata reads for `name` (None: no such distribution), for a package no dist-info folder
    names: imported here alone (~20 ms of CPU `status` pays for nothing where the folders name every package)."""
    import importlib.metadata

    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_out_dir(tree: Tree, out_dir: Path) -> int:
    try:
        tmp, fh = tree.new_temp(out_dir / "write-test")
        fh.close()
        tree.remove(tmp)
    except OSError as exc:
        raise PrereqError(f"--out-dir {out_dir} is not writable: {exc.strerror or exc}",
                          hint="choose a folder you can write to with --out-dir") from exc
    free = free_bytes(out_dir)
    if free < MIN_FREE_BYTES:
        raise PrereqError(f"only {free / 2**20:.0f} MiB free under {out_dir}; the kit needs at least 1 GiB",
                          hint="free some space or choose another --out-dir")
    return free


class Probed(NamedTuple):
    """What the test encodes found (left_out: the opt-in encoders --encoders auto left out, working and untested)."""

    libvmaf_version: str
    resolved: tuple[str, ...]
    results: list[ProbeResult]
    skipped: list[list[str]]
    ten_bit: list[ProbeResult]
    left_out: tuple[list[str], list[str]] = ([], [])


def left_out(settings: RunSettings, survey: Survey, work: Path, tree: Tree) -> tuple[list[str], list[str]]:
    """Under --encoders auto, the opt-in encoders the models can learn: those `detect` found working, those untested."""
    if settings.encoders != (AUTO,):
        return [], []
    working, untested = opt_ins(survey.families, settings.cqs, Prober(survey.info, survey.signals, tree, work))
    return ([n for n in working if n not in unslotted(working)], [n for n in untested if n not in unslotted(untested)])


def left_out_rows(prereqs: Prereqs) -> list[list[str]]:
    rows = []
    if working := prereqs.left_out:
        rows.append(["opt-in", "ok", f"{', '.join(working)} work here (detect tested them), and --encoders auto "
                                     f"leaves them out: add them with --encoders {prereqs.adding(working)}"])
    if untested := prereqs.untested:
        rows.append(["opt-in", "skip", f"{', '.join(untested)}: --encoders auto leaves them out, and no test encode "
                                       f"has tried them here yet{HINT_MARK}test them with "
                                       f"`{detect_command(untested, prereqs.ffmpeg)}`, then add those that work with "
                                       f"--encoders {prereqs.adding(untested)}"])
    return rows


def keeps(ctx: Context) -> bool:
    """Whether ffmpeg's answers are kept in the kit's cache (kit.media.ffmpeg.ask_binary): by a run, never by `status`
    (its out-dir opened to read), which writes nothing."""
    return not ctx.tree.rules.reading


class PrereqsStep:
    name = "prereqs"

    def _ffmpeg(self, ctx: Context) -> FFmpegInfo:
        return resolve_ffmpeg(str(ctx.settings.ffmpeg) if ctx.settings.ffmpeg else None, kept=keeps(ctx))

    def plan(self, ctx: Context) -> Plan:
        info = self._ffmpeg(ctx)
        st = Path(info.path).stat()
        return Plan(
            settings=ctx.fingerprint(),  # --teacher's model file read and hashed there: an edited one checked again
            inputs={"ffmpeg": f"{info.path}|{info.build}|{st.st_size}|{st.st_mtime_ns}",
                    # a new driver, GPU or render node re-decides the encoders
                    "host": sha256_json(gather_signals(info, kept=keeps(ctx)).to_json()),
                    "python": sys.version.split()[0], "packages": repr(sorted(python_packages().items()))},
        )

    def _probe(self, ctx: Context, survey: Survey, work: Path) -> Probed:
        s = ctx.settings
        libvmaf_version = check_libvmaf(survey.info.path, work, ctx.log)
        if s.corpus is not None:
            return Probed(libvmaf_version, (), [], [["encoders", "skip", "not needed: --corpus given"]], [])
        prober = Prober(survey.info, survey.signals, ctx.tree, work / "encoders", log=ctx.log, grid=s.cqs)
        resolved, results, skipped = resolve_encoders(s.encoders, s.cqs, survey.families, prober)
        # whether a 10-bit reference keeps 10 bit is decided by the corpus step, which knows the clips
        ten_bit = [prober.probe_10bit(n) for n in resolved] if s.encode_depth == DEPTH_SOURCE else []
        return Probed(libvmaf_version, resolved, results, skipped, ten_bit,
                      left_out(s, survey, work / "detected", ctx.tree))

    def run(self, ctx: Context, plan: Plan) -> Outcome:
        s = ctx.settings
        packages = python_packages()
        free = check_out_dir(ctx.tree, s.out_dir)
        survey = survey_host(self._ffmpeg(ctx))
        info, sig, families = survey.info, survey.signals, survey.families
        # the ffmpeg's version and encoders as it lists them; the lead is sent their typed forms (kit.infra.typed:
        # the version's numbers and digest, the encoders of ffmpeg's list that the catalogue holds)
        ctx.log(Spelled("ffmpeg ", PurePath(info.path), f" (from {info.source}): ",
                        Typed(info.version, typed.version(info.version)),
                        f"; libvmaf filter: {'yes' if info.has_libvmaf else 'no'}; video encoders: ",
                        Typed(", ".join(info.encoders), ", ".join(e for e in info.encoders if e in FFMPEG_ENCODERS))))
        signals = {k: v for k, v in sig.to_json().items() if k != "encoders"}  # the line above lists them
        # the system's words, the box's: prereqs.json sends their typed forms
        ctx.log(Spelled("host signals", Withheld(f": {json.dumps(signals, sort_keys=True)}")))
        work = ctx.tree.fresh_folder(ctx.run.probe_work)
        teacher = trusted_teacher(s.teacher)
        try:
            extra = s.extra_features  # a teacher libvmaf cannot score stops here, before any encode
            checked = check_teacher(info.path, teacher, work, ctx.log, extra) if extra or not teacher.default else None
            probed = self._probe(ctx, survey, work)
        finally:
            ctx.tree.remove_folder(work)
        missing = set(training_failures())
        record = Prereqs(
            kit_version=__version__, ffmpeg=info, libvmaf_version=probed.libvmaf_version,
            requested_encoders=list(s.encoders), resolved_encoders=list(probed.resolved),
            encoders={r.name: r for r in probed.results}, families=list(families),
            host=HostReport(platform_tag(), platform.platform(), sig.cpu, core_count(), sys.version.split()[0],
                            replace(sig, encoders=())),  # the encoder list is ffmpeg's, recorded once
            python_packages=packages, out_dir=OutDirReport(str(s.out_dir.resolve()), round(free / 2**30, 1)),
            encode_depth=s.encode_depth, encoders_10bit={r.name: r for r in probed.ten_bit},
            schema_version=Prereqs.SCHEMA_VERSION, teacher=teacher, extra_features=s.extra_features,
            can_train=not set(TRAINING_PACKAGES) & missing, can_export=not set(EXPORT_PACKAGES) & missing,
            left_out=probed.left_out[0], untested=probed.left_out[1])
        rows = [
            ["ffmpeg", "ok", f"{info.version} from {info.source}: {info.path}"],
            ["libvmaf", "ok", f"{probed.libvmaf_version}: vmaf_v0.6.1 scored a {VMAF_CHECK_SIZE} test pair"],
            ["teacher", "ok", checked] if checked is not None else None,
            *family_rows(sig, families),
            *[probe_row(r) for r in probed.results], *probed.skipped,
            ["encoders", "ok", "corpus uses " + ", ".join(probed.resolved)] if probed.resolved else None,
            *left_out_rows(record),
            *[probe_row_10bit(r) for r in probed.ten_bit],
            ["out-dir", "ok", f"writable, {free / 2**30:.1f} GiB free: {s.out_dir}"],
            ["python", "ok", f"{sys.version.split()[0]}: " + ", ".join(
                f"{k} {packages[k]}" for k in ("torch", "onnxruntime", "numpy", "pyarrow") if k in packages)],
            ["training", "skip", f"{why} (corpus only: prereqs, corpus, bundle)"]
            if (why := corpus_only_reason(deep=True)) is not None else None,
            ["cores", "ok", f"{core_count()} ({sig.cpu})"],
        ]
        ctx.emit(CheckTable(self.name, [r for r in rows if r is not None]))
        write_prereqs(ctx.tree, ctx.run.prereqs_json, record)
        return Outcome([ctx.run.prereqs_json], {"ffmpeg": info.version, "source": info.source,
                                                "libvmaf": probed.libvmaf_version, "encoders": list(probed.resolved)})
