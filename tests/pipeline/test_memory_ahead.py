"""A run is refused at LOSO's start for the verdict it would reach later, where this box holds LOSO and not the
verdict (issue 100: never an out-of-memory kill after hours of training), the real command on the real box's memory:
a corpus whose footer declares rows between the two steps' peaks (kit.model.cost) on this box. `step loso` alone is
not refused for it; KIT_MEMORY_CHECK=off runs on, said."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kit.infra.resources import box_memory, size_text
from kit.model.cost import peak_bytes
from tests.conftest import assert_clean_failure, run_kit


def rows_between() -> int:
    """Rows whose LOSO this box holds and whose verdict it does not (the verdict grows faster with the rows)."""
    total, _ = box_memory()
    if total is None:
        pytest.skip("this system does not say its memory (no /proc/meminfo)")
    low, high = 1, 10**12
    while low < high:  # the fewest rows whose verdict is more than the box
        mid = (low + high) // 2
        low, high = (mid + 1, high) if peak_bytes("verdict", mid) <= total else (low, mid)
    assert peak_bytes("loso", low) < total < peak_bytes("verdict", low)
    return low


def test_a_run_is_refused_at_loso_s_start_for_its_verdict_and_step_loso_is_not(tmp_path: Path) -> None:
    rows = rows_between()
    corpus = tmp_path / "union.parquet"
    pq.write_table(pa.table({"src": pa.nulls(rows, pa.string())}), corpus)  # a footer's rows: nothing else is read
    out = tmp_path / "out"
    res = run_kit("run", "--corpus", corpus, "--out-dir", out, "--box-id", "memtest")
    need = size_text(peak_bytes("verdict", rows))
    assert_clean_failure(res, f"The verdict (after LOSO, in this command) on the corpus {corpus} ({rows:,} rows) "
                              f"needs about {need} of memory at its peak, more than the")
    assert "KIT_MEMORY_CHECK=off runs it anyway" in res.stderr
    assert not (out / "03_loso" / "predictions.parquet").exists() and corpus.stat().st_size < 2**20  # kept as given

    alone = run_kit("step", "loso", "--corpus", corpus, "--out-dir", out, "--box-id", "memtest")
    assert "needs about" not in alone.stderr  # LOSO alone fits: it goes on to read the corpus (no corpus: refused)
    assert_clean_failure(alone)

    anyway = run_kit("run", "--corpus", corpus, "--out-dir", out, "--box-id", "memtest",
                     env={"KIT_MEMORY_CHECK": "off"})
    assert f"The verdict on {rows:,} rows needs about {need} of memory at its peak, more than the" in anyway.stdout
    assert ": run anyway (KIT_MEMORY_CHECK is off)" in anyway.stdout
    assert "needs about" not in "".join(ln for ln in anyway.stderr.splitlines() if ln.startswith("error: "))
