"""The numbered steps, in order. An explicit registry: no folder scanning."""

from __future__ import annotations

from kit.steps.base import Step
from kit.steps.s01_prereqs import PrereqsStep
from kit.steps.s02_corpus import CorpusStep
from kit.steps.s03_loso import LosoStep
from kit.steps.s04_verdict import VerdictStep
from kit.steps.s05_bundle import BundleStep

STEPS: tuple[Step, ...] = (PrereqsStep(), CorpusStep(), LosoStep(), VerdictStep(), BundleStep())
STEP_NAMES: tuple[str, ...] = tuple(s.name for s in STEPS)


def get_step(name: str) -> Step:
    for step in STEPS:
        if name in (step.name, f"{step.number:02d}", str(step.number), step.dirname):
            return step
    raise KeyError(name)
