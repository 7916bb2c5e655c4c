"""LOSO is refused at its start for the verdict that reads its outputs, where this box holds LOSO and not the verdict
(issue 100: never an out-of-memory kill after hours of training), the real command on the real box's memory: a
corpus whose footer declares rows between the two steps' peaks (kit.model.cost) on this box; `run` and `step loso`
alike (a cluster's gather runs its steps in processes of their own). KIT_MEMORY_CHECK=off runs on, said."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kit.infra.resources import box_memory, size_text
from kit.model.cost import STEP_LABELS, largest_peak, peak_bytes
from tests.conftest import assert_clean_failure, run_kit

AFTER = ("verdict", "bundle")  # the steps that read what LOSO makes


def rows_between() -> int:
    """Rows whose LOSO this box holds and whose verdict or bundle it does not (they grow faster with the rows)."""
    total, _ = box_memory()
    if total is None:
        pytest.skip("this system does not say its memory (no /proc/meminfo)")
    low, high = 1, 10**12
    while low < high:  # the fewest rows whose verdict or bundle is more than the box
        mid = (low + high) // 2
        low, high = (mid + 1, high) if largest_peak(AFTER, mid)[1] <= total else (low, mid)
    assert peak_bytes("loso", low) < total < largest_peak(AFTER, low)[1]
    return low


def test_a_run_and_step_loso_are_refused_at_loso_s_start_for_the_verdict_after_it(tmp_path: Path) -> None:
    rows = rows_between()
    corpus = tmp_path / "union.parquet"
    pq.write_table(pa.table({"src": pa.nulls(rows, pa.string())}), corpus)  # a footer's rows: nothing else is read
    out = tmp_path / "out"
    step, need = largest_peak(AFTER, rows)
    what = STEP_LABELS[step][:1].upper() + STEP_LABELS[step][1:]
    for command in ("run",), ("step", "loso"):
        res = run_kit(*command, "--corpus", corpus, "--out-dir", out, "--box-id", "memtest")
        assert_clean_failure(res, f"{what} (which reads LOSO's outputs) on the corpus {corpus} ({rows:,} rows) "
                                  f"needs about {size_text(need)} of memory at its peak, more than the")
        assert "KIT_MEMORY_CHECK=off runs it anyway" in res.stderr
    assert not (out / "03_loso" / "predictions.parquet").exists() and corpus.stat().st_size < 2**20  # kept as given

    anyway = run_kit("run", "--corpus", corpus, "--out-dir", out, "--box-id", "memtest",
                     env={"KIT_MEMORY_CHECK": "off"})
    said = f"{what} on {rows:,} rows needs about {size_text(need)} of memory at its peak, more than the"
    assert said in anyway.stdout
    assert ": run anyway (KIT_MEMORY_CHECK is off)" in anyway.stdout
    assert "needs about" not in "".join(ln for ln in anyway.stderr.splitlines() if ln.startswith("error: "))
