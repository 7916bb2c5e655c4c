"""The environment variables the kit reads that are no option's; `run`, `step`, `slurm` and `ray` check the numeric
ones read during a run before any work (`check_environment`), every command the others (kit.infra.variables, as
kit.cli.guard starts it). Every KIT_* or SLURM_* name in the source is here or an option's."""

from __future__ import annotations

import os

from kit.infra.variables import (
    ARRAY_TASK,
    INCUMBENT_TIMEOUT_S,
    JOB_THREADS,
    OF_FLAGS,
    TIMEOUT_S,
    TRAIN_THREADS,
    VARIABLES,
)

# read during a run: checked by check_environment
AT_START = tuple(v.name for v in (TIMEOUT_S, JOB_THREADS, TRAIN_THREADS, INCUMBENT_TIMEOUT_S))
# read as `--shard auto` (and `step loso --train-task auto`) is converted (kit.infra.arrays)
ARRAY = (ARRAY_TASK.name, "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX",
         "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_STEP")
NUMERIC = (*AT_START, *ARRAY)
# the others, and what they hold: no number. The kit's are declared with their rules in kit.infra.variables (every
# command checks them as it starts: kit.cli.guard), but for those that are an option's too (OF_FLAGS)
TEXT = {**{name: v.holds for name, v in VARIABLES.items() if name not in OF_FLAGS},
        "SLURM_ARRAY_JOB_ID": "only whether it is set"}


def check_environment() -> None:
    """Read every variable of AT_START once: InputError (exit 2, naming it) for one that holds no valid value."""
    from kit.corpus.scheduler import fixed_threads
    from kit.infra.proc import timeout_limit
    from kit.model.incumbent import incumbent_timeout
    from kit.model.threads import choose_threads

    for read in (timeout_limit, fixed_threads, choose_threads, incumbent_timeout):  # AT_START's, in its order
        read(os.environ)
