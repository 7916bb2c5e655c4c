"""The numbered steps, in order. An explicit registry, no folder scanning.

Each entry names its module; the module is imported only when the step plans or
runs, so `--only corpus` (and the CLI's --help) never pays for torch or onnx.
"""

from __future__ import annotations

import importlib
from functools import cached_property

from kit.steps.base import Context, Outcome, Plan, Step


class LazyStep:
    """A registry entry: number, name and folder now; the step's code on first use."""

    def __init__(self, number: int, name: str, module: str, cls: str) -> None:
        self.number, self.name = number, name
        self.dirname = f"{number:02d}_{name}"
        self._module, self._cls = module, cls

    @cached_property
    def impl(self) -> Step:
        return getattr(importlib.import_module(f"kit.steps.{self._module}"), self._cls)()

    def plan(self, ctx: Context) -> Plan:
        return self.impl.plan(ctx)

    def run(self, ctx: Context) -> Outcome:
        return self.impl.run(ctx)

    def __repr__(self) -> str:
        return f"<step {self.dirname}>"


STEPS: tuple[LazyStep, ...] = (
    LazyStep(1, "prereqs", "s01_prereqs", "PrereqsStep"),
    LazyStep(2, "corpus", "s02_corpus", "CorpusStep"),
    LazyStep(3, "loso", "s03_loso", "LosoStep"),
    LazyStep(4, "verdict", "s04_verdict", "VerdictStep"),
    LazyStep(5, "bundle", "s05_bundle", "BundleStep"),
)
STEP_NAMES: tuple[str, ...] = tuple(s.name for s in STEPS)


def get_step(name: str) -> LazyStep:
    for step in STEPS:
        if name in (step.name, f"{step.number:02d}", str(step.number), step.dirname):
            return step
    raise KeyError(name)
