"""The numbered steps, in order. An explicit registry, no folder scanning.

Each entry names its module; the module is imported only when the step plans or
runs, so `--only corpus` (and the CLI's --help) never pays for torch or onnx.
"""

from __future__ import annotations

import importlib
from functools import cached_property

from kit.rundir import STEP_NAMES, step_dirname, step_number
from kit.steps.base import Context, Outcome, Plan, StepCode


class LazyStep:
    """A registry entry: number, name and folder now; the step's code on first use."""

    def __init__(self, name: str, module: str, cls: str) -> None:
        self.number, self.name, self.dirname = step_number(name), name, step_dirname(name)
        self._module, self._cls = module, cls

    @cached_property
    def impl(self) -> StepCode:
        return getattr(importlib.import_module(f"kit.steps.{self._module}"), self._cls)()

    def plan(self, ctx: Context) -> Plan:
        return self.impl.plan(ctx)

    def run(self, ctx: Context, plan: Plan) -> Outcome:
        return self.impl.run(ctx, plan)

    def __repr__(self) -> str:
        return f"<step {self.dirname}>"


STEPS: tuple[LazyStep, ...] = (
    LazyStep("prereqs", "s01_prereqs", "PrereqsStep"),
    LazyStep("corpus", "s02_corpus", "CorpusStep"),
    LazyStep("loso", "s03_loso", "LosoStep"),
    LazyStep("verdict", "s04_verdict", "VerdictStep"),
    LazyStep("bundle", "s05_bundle", "BundleStep"),
)
assert tuple(s.name for s in STEPS) == STEP_NAMES  # the run directory's order is the run order


def get_step(name: str) -> LazyStep:
    for step in STEPS:
        if name in (step.name, f"{step.number:02d}", str(step.number), step.dirname):
            return step
    raise KeyError(name)
