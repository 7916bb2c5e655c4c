"""The memory the steps after the corpus need on it, checked against the box before a step reads it: each step's
peak (kit.model.cost.peak_bytes of the rows the corpus's footer declares), and of it and the steps that read its
outputs after it the largest, so LOSO is refused at its start where its verdict or bundle could not finish (never an
out-of-memory kill hours in), whether they run in its command or in the next (`step verdict`, a cluster's gather).
KIT_MEMORY_CHECK=off runs it anyway, said."""

from __future__ import annotations

from pathlib import Path

from kit.errors import ResourceLimit
from kit.events import Info
from kit.infra.shown import Spelled
from kit.infra.variables import MEMORY_CHECK
from kit.steps.base import Context


def steps_ahead(ctx: Context) -> list[str]:
    """The step this context runs and those after it, which read its outputs (all with a memory line); a training
    task's own line alone (TRAINING_TASK: its gather checks the rest, on the node it runs on)."""
    from kit.model.cost import STEP_PEAKS, TRAINING_TASK

    ahead = list(STEP_PEAKS)
    return [TRAINING_TASK] if ctx.train_task else [ctx.step] if ctx.step not in ahead else ahead[ahead.index(ctx.step):]


def check_memory(ctx: Context, corpus: Path) -> None:
    """The largest peak of this step and the steps after it on the corpus (steps_ahead; kit.model.cost.largest_peak
    of the rows its footer declares) against the box's memory, before anything is read: refused where the box has
    less in all (exit 2; KIT_MEMORY_CHECK=off runs it anyway, said), said where less is free now."""
    from kit.infra.parquet import parquet_rows
    from kit.infra.resources import memory_short, size_text
    from kit.model.cost import TRAINING_TASK, largest_peak, step_label

    rows = parquet_rows(corpus)
    step, need = largest_peak(steps_ahead(ctx), rows)
    what = step_label(step, first=True)
    said = f"{what} on {rows:,} rows needs about {size_text(need)} of memory at its peak"
    if (short := memory_short(need)) is None:
        return
    if short.refused:
        after = "" if step in (ctx.step, TRAINING_TASK) else f" (which reads {step_label(ctx.step)}'s outputs)"
        raise ResourceLimit(Spelled(f"{what}{after} on the corpus ", corpus,
                                    f" ({rows:,} rows) needs about {size_text(need)} of memory at its peak, "
                                    f"{short.why}"),
                            hint=(f"run it where a process may have more than {size_text(need)}: a bigger box, or a "
                                  "Ray cluster whose nodes have it (docs/cluster.md, \"The union the boxes made\"), or "
                                  "on fewer rows (merge fewer boxes' corpora); or, where this box can give more (its "
                                  f"swap, memory freed), {MEMORY_CHECK.name}=off runs it anyway; the corpus and every "
                                  "finished step are kept"))
    ctx.emit(Info(ctx.step, f"{said}, {short.why}: run anyway ({MEMORY_CHECK.name} is off)" if short.in_all else
                  f"{said}, and {short.why}: if other programs keep theirs it may run out of memory (free some, or "
                  "run it on a box with more)"))
