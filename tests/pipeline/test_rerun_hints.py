"""A hint that reruns part of a run carries the run's settings (`--settings` its run.json, and the flags that place
it), so following it on a union out-dir (a run on a given corpus, `--corpus`) reruns that union, as printed.

Before, the hints rebuilt `--out-dir` and a flag or two by hand: the bundle's `run --from loso --out-dir union`
dropped --corpus, the seeds and the gate; following it ran LOSO with the defaults, overwrote run.json, and then
failed on the missing shard, whose own hint would have encoded the demo set there.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from kit.steps.settings import read_settings
from tests import pace
from tests.conftest import FAST, LENIENT, ROOT

pytestmark = pytest.mark.slow  # a whole run on the union, then the rerun its hint prints

SEEDS = ["--seeds", "0,1"]  # not the default seeds: a hint that drops the settings trains five


def kit_here(cwd: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """The kit as a user runs it in `cwd`, with paths relative to it."""
    return pace.run([sys.executable, "-m", "kit", *map(str, args)], cwd=cwd, capture_output=True, text=True,
                    timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})


def hint_command(stderr: str, after: str) -> list[str]:
    """The kit command a hint prints after `after`, as a person copies it."""
    hint = next(line for line in stderr.splitlines() if line.startswith("hint: "))
    assert after in hint, hint
    return shlex.split(hint.split(after, 1)[1])


def test_the_bundles_rerun_hint_on_a_union_reruns_that_union(x264_run: Path, tmp_path: Path) -> None:
    shutil.copyfile(x264_run / "02_corpus" / "shard.parquet", tmp_path / "merged.parquet")
    first = kit_here(tmp_path, "run", "--corpus", "merged.parquet", "--out-dir", "union", "--box-id", "union",
                     *FAST, *SEEDS, *LENIENT)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-3000:]  # PROMOTE: the bundle exports
    union = tmp_path / "union"
    # the corpus changes after the verdict (rows dropped): the bundle refuses to refit and says to rerun from LOSO
    rows = pd.read_parquet(tmp_path / "merged.parquet")
    rows.iloc[3:].to_parquet(tmp_path / "merged.parquet", index=False)
    refused = kit_here(tmp_path, "step", "bundle", "--corpus", "merged.parquet", "--out-dir", "union",
                       "--box-id", "union", *SEEDS, *LENIENT)
    assert refused.returncode == 2, refused.stdout[-2000:] + refused.stderr[-3000:]
    assert "changed since the verdict was reached" in refused.stderr, refused.stderr[-3000:]
    argv = hint_command(refused.stderr, "rerun from LOSO: ")
    # as printed, in the folder it was printed in (the kit spells itself, and the out-dir, relative to it)
    again = pace.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=600,
                     env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-3000:]
    settings = read_settings(union / "run.json")
    assert settings.corpus is not None and settings.corpus.resolve() == (tmp_path / "merged.parquet").resolve()
    assert settings.seeds == (0, 1) and settings.box_id == "union" and settings.gate.mean_plcc_min == -1
    assert argv[:2] == [sys.executable, str(ROOT / "kit" / "__main__.py")], argv  # as started there
    assert "--settings" in argv and argv[-2:] == ["--from", "loso"], argv  # the run's settings, then the hint's
    assert not (union / "02_corpus" / "shard.parquet").exists()  # nothing encoded: the union's corpus is given
    (verdict_file,) = [p for name in ("PROMOTE.json", "HOLD.json") if (p := union / "04_verdict" / name).is_file()]
    verdict = json.loads(verdict_file.read_text())
    assert verdict["corpus"]["rows"] == len(rows) - 3  # LOSO and the verdict reran on the corpus as it is now
