"""The memory the steps after the corpus need on it, checked against the box before a step reads it: each step's
peak (kit.model.cost.peak_bytes of the rows the corpus's footer declares), and of this command's steps from it on the
largest, so a run is refused at LOSO's start where its verdict or bundle could not finish (never an out-of-memory
kill hours in). KIT_MEMORY_CHECK=off runs it anyway, said."""

from __future__ import annotations

from pathlib import Path

from kit.errors import ResourceLimit
from kit.events import Info
from kit.infra.shown import Spelled
from kit.infra.variables import MEMORY_CHECK
from kit.steps.base import Context


def steps_ahead(ctx: Context) -> list[str]:
    """The step this context runs and the ones this command runs after it (those with a memory line)."""
    from kit.model.cost import STEP_PEAKS

    runs = ctx.runs if ctx.step in ctx.runs else (ctx.step,)
    return [step for step in runs[runs.index(ctx.step):] if step in STEP_PEAKS]


def check_memory(ctx: Context, corpus: Path) -> None:
    """The largest peak of this step and the command's steps after it on the corpus (kit.model.cost.largest_peak of
    the rows its footer declares) against the box's memory, before anything is read: refused where the box has less
    in all (exit 2; KIT_MEMORY_CHECK=off runs it anyway, said), said where less is free now."""
    from kit.infra.parquet import parquet_rows
    from kit.infra.resources import memory_checked, memory_short, size_text
    from kit.model.cost import STEP_LABELS, largest_peak

    rows = parquet_rows(corpus)
    step, need = largest_peak(steps_ahead(ctx), rows)
    what = STEP_LABELS[step][:1].upper() + STEP_LABELS[step][1:]  # said first in its sentence
    said = f"{what} on {rows:,} rows needs about {size_text(need)} of memory at its peak"
    more, now = memory_short(need)
    if more is not None and not memory_checked():
        ctx.emit(Info(ctx.step, f"{said}, {more}: run anyway ({MEMORY_CHECK.name} is off)"))
    elif more is not None:
        after = "" if step == ctx.step else f" (after {STEP_LABELS[ctx.step]}, in this command)"
        raise ResourceLimit(Spelled(f"{what}{after} on the corpus ", corpus,
                                    f" ({rows:,} rows) needs about {size_text(need)} of memory at its peak, {more}"),
                            hint=(f"run it where a process may have more than {size_text(need)}: a bigger box, or a "
                                  "Ray cluster whose nodes have it (docs/cluster.md, \"The union the boxes made\"), or "
                                  "on fewer rows (merge fewer boxes' corpora); or, where this box can give more (its "
                                  f"swap, memory freed), {MEMORY_CHECK.name}=off runs it anyway; the corpus and every "
                                  "finished step are kept"))
    elif now is not None:
        ctx.emit(Info(ctx.step, f"{said}, and {now}: if other programs keep theirs it may run out of memory (free "
                                "some, or run it on a box with more)"))
