"""The environment variables the kit reads that are no option's. The kit's own are declared with their rules in
kit.infra.variables, and every command checks each as it starts (kit.cli.guard: check_variables), the numeric ones
(NUMBERS) too; Slurm's are read where `--shard auto` or `--train-task auto` asks (kit.infra.arrays). Every KIT_* or
SLURM_* name in the source is here or an option's."""

from __future__ import annotations

from kit.infra.variables import ARRAY_TASK, NUMBERS, OF_FLAGS, VARIABLES

# read during a run (checked with every Number as every command starts)
AT_START = tuple(name for name in NUMBERS if name != ARRAY_TASK.name)
# read as `--shard auto` (and `step loso --train-task auto`) is converted (kit.infra.arrays)
ARRAY = (ARRAY_TASK.name, "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX",
         "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_STEP")
NUMERIC = (*AT_START, *ARRAY)
# the others, and what they hold: no number. The kit's are declared with their rules in kit.infra.variables (every
# command checks them as it starts: kit.cli.guard), but for those that are an option's too (OF_FLAGS)
TEXT = {**{name: v.holds for name, v in VARIABLES.items() if name not in OF_FLAGS},
        "SLURM_ARRAY_JOB_ID": "only whether it is set"}

