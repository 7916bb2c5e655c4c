"""LOSO's training seconds, counted over every attempt and every training task, so that `train_seconds` in
`loso_seed<N>.json` is all the training its figures took, not the last process's.

An interrupted LOSO resumes from the members the earlier attempts wrote (kit.steps.members); with --train-tasks N
the members are trained by N tasks and the loso step only gathers them. Each of those processes keeps a clock
record (LosoAttempts) of its training seconds so far: the gather's in `03_loso/attempts.json`, a task's beside the
members it writes (`RunDir.task_clock`, one file per task, so that tasks on other nodes never write the same
file). A record is written at most once a second while training and when its process
stops; a damaged one counts as absent. The gather adds the tasks' records of its members' folder to its own, and
once LOSO completes every record is removed with the members (its reports hold the totals).

Not a step: the loso step (s03_loso) and the runner's training task use it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

from kit.infra.files import read_json_object, remove_output, write_json
from kit.infra.records import Record, RecordError
from kit.steps.base import Timer

SAVE_EVERY_S = 1.0  # how often a clock record is brought up to date while training


@dataclass(frozen=True)
class LosoAttempts(Record):
    """A clock record: the training seconds of one LOSO's attempts so far (a task's: of that task's attempts)."""

    fingerprint: str  # what was trained: attempts of another LOSO (or members of another) do not count
    seconds: float
    attempts: int


class TrainingClock:
    """Training seconds over every attempt of one process's work, kept in the record at `path` under `key`: an
    earlier record under the same key is added to, one under another key starts again."""

    def __init__(self, path: Path, key: str) -> None:
        self.path, self.key = path, key
        earlier = read_attempts(path)
        same = earlier is not None and earlier.fingerprint == key
        self.earlier, self.attempts = (earlier.seconds, earlier.attempts + 1) if earlier and same else (0.0, 1)
        self.timer, self.saved_at = Timer(), 0.0
        self.save()

    @property
    def seconds(self) -> float:
        return round(self.earlier + self.timer.seconds, 3)

    def save(self) -> None:
        write_json(self.path, LosoAttempts(self.key, self.seconds, self.attempts).to_json())
        self.saved_at = time.monotonic()

    def tick(self) -> None:
        if time.monotonic() - self.saved_at >= SAVE_EVERY_S:
            self.save()

    def done(self) -> None:
        remove_output(self.path)


def read_attempts(path: Path) -> LosoAttempts | None:
    """The attempts so far; None when there are none, or the record is damaged (then they do not count)."""
    data, _ = read_json_object(path)
    try:
        record = LosoAttempts.from_json(data, path.name) if data is not None else None
    except RecordError:
        return None
    ok = record is not None and math.isfinite(record.seconds) and record.seconds >= 0 and record.attempts >= 1
    return record if ok else None


def tasks_seconds(records: list[Path], key: str) -> float:
    """The training seconds of the tasks' `records` (RunDir.task_clocks) kept under `key`, the members'
    fingerprint, whatever their number N. Each task trained only members that were missing. The fingerprint
    leaves the seeds out, so when --seeds changed between the tasks and the gather, this counts the training of
    members of seeds the gather does not report too."""
    found = (read_attempts(p) for p in records)
    return round(sum(r.seconds for r in found if r is not None and r.fingerprint == key), 3)
