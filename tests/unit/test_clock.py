"""LOSO's training clock (kit.steps.clock): records under one key add up over attempts, a record under another
key or a damaged one starts again, and the gather counts only its own members' task records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit.rundir import RunDir
from kit.steps.clock import LosoAttempts, TrainingClock, read_attempts, tasks_seconds


def clock_record(path: Path) -> LosoAttempts:
    record = read_attempts(path)
    assert record is not None, path.read_text()
    return record


def test_attempts_under_one_key_add_up_and_another_key_starts_again(tmp_path: Path) -> None:
    path = tmp_path / "attempts.json"
    path.write_text(json.dumps({"fingerprint": "a", "seconds": 12.5, "attempts": 2}))
    clock = TrainingClock(path, "a")
    assert (clock.attempts, clock.earlier) == (3, 12.5) and clock.seconds >= 12.5
    assert clock_record(path).attempts == 3 and clock_record(path).seconds >= 12.5
    other = TrainingClock(path, "b")  # another LOSO's record: its seconds are not this one's
    assert (other.attempts, other.earlier) == (1, 0.0)
    other.done()
    assert not path.exists()


@pytest.mark.parametrize("text", ["{", "[]", '{"fingerprint": "a", "seconds": -1, "attempts": 1}',
                                  '{"fingerprint": "a", "seconds": NaN, "attempts": 1}',
                                  '{"fingerprint": "a", "seconds": 3, "attempts": 0}', '{"seconds": 3}'])
def test_a_damaged_record_counts_as_absent(text: str, tmp_path: Path) -> None:
    path = tmp_path / "attempts.json"
    path.write_text(text)
    assert read_attempts(path) is None
    clock = TrainingClock(path, "a")  # the first attempt: it saves its record anew
    assert (clock.attempts, clock.earlier) == (1, 0.0)
    assert read_attempts(path) == clock_record(path) and clock_record(path).attempts == 1


def test_the_gather_counts_the_task_records_of_its_members(tmp_path: Path) -> None:
    run, key = RunDir(tmp_path), "f" * 64
    for (k, n), seconds in {(1, 2): 4.25, (2, 2): 3.5, (1, 3): 1.0}.items():
        run.task_clock(key, k, n).parent.mkdir(parents=True, exist_ok=True)
        run.task_clock(key, k, n).write_text(json.dumps({"fingerprint": key, "seconds": seconds, "attempts": 1}))
    (run.members_of(key) / "task3of3.seconds.json").write_text('{"fingerprint": "other", "seconds": 99, '
                                                               '"attempts": 1}')  # another LOSO's: not counted
    (run.members_of(key) / "task4of3.seconds.json.tmp").write_text("{}")  # not a record's name
    (run.members_of(key) / "lin.seed0.fold1.npy").write_bytes(b"")
    assert [p.name for p in run.task_clocks(key)] == ["task1of2.seconds.json", "task1of3.seconds.json",
                                                      "task2of2.seconds.json", "task3of3.seconds.json"]
    assert tasks_seconds(run.task_clocks(key), key) == 8.75
    assert run.task_clocks("0" * 64) == [] and tasks_seconds([], key) == 0.0
