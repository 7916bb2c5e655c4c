"""The numbered steps, in order: an explicit registry, each step's module imported only when it plans or runs (--help
never pays for torch). Each entry holds the step's format version, bumped by hand when the step writes other files or
numbers for the same settings and inputs; a step's fingerprint holds its own and those of the steps before it
(`formats_through`), so a bump reruns it and the steps after it.

A step imports torch, pandas and onnx inside its `run`: `status` plans every step and stays as light as `--help`, as do
`verify` and a run refused before its first step (what kit.report.summary and the tarball's check import computes no
figure with pandas)."""

from __future__ import annotations

import importlib
from functools import cached_property

from kit.rundir import STEP_NAMES, step_dirname, step_number
from kit.steps.base import Plan, StepCode


class LazyStep:
    """A registry entry: number, name and folder now; the step's code on first use."""

    def __init__(self, name: str, module: str, cls: str, format_version: int) -> None:
        self.number, self.name, self.dirname = step_number(name), name, step_dirname(name)
        self._module, self._cls, self.format_version = module, cls, format_version

    @cached_property
    def impl(self) -> StepCode:
        return getattr(importlib.import_module(f"kit.steps.{self._module}"), self._cls)()

    def __repr__(self) -> str:
        return f"<step {self.dirname}>"


# the corpus's job rows have a version of their own (JOB_ROWS_VERSION, declared in the corpus step's plan)
STEPS: tuple[LazyStep, ...] = (
    LazyStep("prereqs", "s01_prereqs", "PrereqsStep", format_version=1),
    # 2: the teacher's own six (corpus schema 6; the jobs of a teacher without them are kept), and the manifest's
    # paths shown (its ffmpeg, the oracle's command, a left-out clip's why); sent/skipped.json; samples.parquet;
    # 3: no folder below home or the current folder in the manifest (`[elsewhere]/ffmpeg`), the twins in sent-v2/;
    # 4: what a child said reaches the sent twins, skipped.json and the manifest only through 2.4's door of words
    # (a 2.3 out-dir's sent logs hold its children's words), the manifest's machine, skipped.json's `again`;
    # 5: the shard's and its manifest's device, ffmpeg version and pixel formats typed (kit.infra.typed), what a child
    # said never in the sent twins (sent-v4/: kit.infra.shown.Heard)
    LazyStep("corpus", "s02_corpus", "CorpusStep", format_version=5),
    # 2: the teacher recipe; 3: the corpus's own teacher proven (not vmaf_v0.6.1's), teacher_function.own_features;
    # samplings.parquet; 4: the teacher recipe's student is the teacher's function plus a correction, scaled per fold
    # (kit.model.floor: correction in the reports), the teacher_fn baseline; 5: its clip an expectation under a spread
    # (kit.model.spread) fitted beside the public encodes the kit carries (kit.model.realrows), each fold's held-out
    # counts at its own factors, floor.parquet's raw, spread and real columns; 6: the spread's terms level (1 - level)
    # and the codec block's one-hot (a 2.5.0 record holds four coefficients), its factor capped at the widest spread
    # fitted, floor.parquet's most_spread
    LazyStep("loso", "s03_loso", "LosoStep", format_version=6),
    # 2: the ceiling, recipe, independent_check; 3: the consumer gates judged against the ceiling, frame_regimes; the
    # consumer as it samples; 4: frame_regimes by the pictures' md5 (the manifest's repeats), never by motion2; a
    # content whose input cannot carry a consumer gate named and judged by the ceiling's gate alone (consumer.carried),
    # a gate with nothing to judge said so (not_judged), figures at a gate's threshold rounded to 12 places, the one
    # figure as vmaf-tune samples; 5: the consumer gates counts over a pool the encodes fix, as vmaf-tune samples
    # (consumer.judged, consumer_encodes.parquet; consumer.carried gone), the held-out blocks' gates at the thresholds
    LazyStep("verdict", "s04_verdict", "VerdictStep", format_version=5),
    # 2: keep_paths; 3: the report and cards say where the models beat the ceiling, the report the repeated pictures;
    # its members built from their records and the logs' twins, the report's paths shown; the samplings' files;
    # 4: the tarball signed by the box's key (kit.infra.keys), the shard manifest sent as its record (no `machine`);
    # every text of the tarball checked by the catalogue (kit.bundle.catalogue), the report no longer sent
    LazyStep("bundle", "s05_bundle", "BundleStep", format_version=4),
)
assert tuple(s.name for s in STEPS) == STEP_NAMES  # the run directory's order is the run order


def formats_through(name: str) -> dict[str, int]:
    return {s.name: s.format_version for s in STEPS[:STEP_NAMES.index(name) + 1]}


def formats_of(name: str, plan: Plan) -> dict[str, int]:
    """The versions step `name`'s results depend on: the steps' formats and those its plan declares (the job rows)."""
    return {**formats_through(name), **plan.formats}


def get_step(name: str) -> LazyStep:
    for step in STEPS:
        if name in (step.name, f"{step.number:02d}", str(step.number), step.dirname):
            return step
    raise KeyError(name)
