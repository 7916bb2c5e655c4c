"""A training task's set-up (`step loso --train-task K/N`) lets its rows' identity go before it makes the teacher
recipe's set beside its arrays, its peak (kit.steps.s03_loso.LosoStep.set_up): a real task, whose Distillation.of
counts the frames of the corpus's rows still alive when it is called; the gather's set-up keeps its own, which its
evaluation reads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FAST, LENIENT, run_kit

pytestmark = pytest.mark.slow  # two real set-ups on the tiny corpus

# the kit run in a child whose Distillation.of first counts the live frames as long as the rows it is given
SPY = """
import atexit, gc, json, runpy, sys
import pandas as pd
from kit.model import distil
made, counted = distil.Distillation.of.__func__, []
def of(cls, feats, *rest, **kw):
    gc.collect()
    counted.append(sum(1 for o in gc.get_objects() if isinstance(o, pd.DataFrame) and len(o) == len(feats)))
    return made(cls, feats, *rest, **kw)
distil.Distillation.of = classmethod(of)
out, sys.argv = sys.argv[1], ["kit", *sys.argv[2:]]
atexit.register(lambda: open(out, "w").write(json.dumps(counted)))
runpy.run_module("kit", run_name="__main__")
"""


def frames_alive(tmp_path: Path, name: str, *args: str | Path) -> list[int]:
    out = tmp_path / f"{name}.json"
    res = run_kit(*args, entry=[sys.executable, "-c", SPY, str(out)])
    assert res.returncode == 0, res.stdout + res.stderr
    return list(json.loads(out.read_text()))


def test_a_training_task_makes_the_teacher_s_set_with_no_frame_of_the_rows_alive(
        json_run: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    corpus = json_run[0] / "02_corpus" / "shard.parquet"
    flags = ["--corpus", corpus, "--box-id", "settask", *FAST, *LENIENT]
    task = frames_alive(tmp_path, "task", "step", "loso", "--train-task", "1/2", "--out-dir", tmp_path / "t", *flags)
    gather = frames_alive(tmp_path, "gather", "step", "loso", "--out-dir", tmp_path / "g", *flags)
    assert task and gather, (task, gather)  # the teacher recipe's set made: the spy saw its call
    assert task == [0] and gather[0] >= 1, (task, gather)  # the gather's frame, which its evaluation reads
