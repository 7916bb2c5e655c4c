"""The numbered steps, in order. An explicit registry, no folder scanning.

Each entry names its module; the module is imported only when the step plans or
runs, so `--only corpus` (and the CLI's --help) never pays for torch or onnx.

Each entry also holds the step's format version, bumped by hand in the change that makes the step write other
files or other numbers for the same settings and inputs: another file layout or key, training code that trains
other weights, a gate or a figure computed otherwise, a report that shows something else. A step's fingerprint
holds its own format and those of every step before it (`formats_through`), so a bump reruns that step and the
steps after it in every existing out-dir, and says so (`format of step loso: 1 -> 2`); a change that does neither
(a comment, a refactor, a faster path to the same bytes) reruns nothing. The release's CHANGELOG entry names the
steps it bumped.
"""

from __future__ import annotations

import importlib
from functools import cached_property

from kit.rundir import STEP_NAMES, step_dirname, step_number
from kit.steps.base import Context, Outcome, Plan, StepCode


class LazyStep:
    """A registry entry: number, name and folder now; the step's code on first use."""

    def __init__(self, name: str, module: str, cls: str, format_version: int) -> None:
        self.number, self.name, self.dirname = step_number(name), name, step_dirname(name)
        self._module, self._cls, self.format_version = module, cls, format_version

    @cached_property
    def impl(self) -> StepCode:
        return getattr(importlib.import_module(f"kit.steps.{self._module}"), self._cls)()

    def plan(self, ctx: Context) -> Plan:
        return self.impl.plan(ctx)

    def run(self, ctx: Context, plan: Plan) -> Outcome:
        return self.impl.run(ctx, plan)

    def __repr__(self) -> str:
        return f"<step {self.dirname}>"


# the format versions of 2.0.0, the first kit whose fingerprints hold them (before, a hash of the kit's source);
# the corpus's job rows have a version of their own (JOB_ROWS_VERSION, declared in the corpus step's plan)
STEPS: tuple[LazyStep, ...] = (
    LazyStep("prereqs", "s01_prereqs", "PrereqsStep", format_version=1),
    LazyStep("corpus", "s02_corpus", "CorpusStep", format_version=1),
    LazyStep("loso", "s03_loso", "LosoStep", format_version=2),  # 2: the teacher recipe
    LazyStep("verdict", "s04_verdict", "VerdictStep", format_version=2),  # 2: the ceiling, recipe, independent_check
    LazyStep("bundle", "s05_bundle", "BundleStep", format_version=2),  # 2: keep_paths
)
assert tuple(s.name for s in STEPS) == STEP_NAMES  # the run directory's order is the run order


def formats_through(name: str) -> dict[str, int]:
    """The format versions step `name`'s fingerprint holds: its own and those of the steps before it, whose files
    it reads (directly, or through what the steps between made of them)."""
    names = [s.name for s in STEPS]
    return {s.name: s.format_version for s in STEPS[:names.index(name) + 1]}


def formats_of(name: str, plan: Plan) -> dict[str, int]:
    """Everything of this kit's making that step `name`'s results depend on, by version: the steps' formats
    (formats_through) and those of the parts the step declares in its plan (the corpus's job rows)."""
    return {**formats_through(name), **plan.formats}


def get_step(name: str) -> LazyStep:
    for step in STEPS:
        if name in (step.name, f"{step.number:02d}", str(step.number), step.dirname):
            return step
    raise KeyError(name)
