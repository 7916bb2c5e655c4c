"""predictions.parquet written a member at a time (kit.model.predictions.HeldPredictions.write) is the file the whole
table gives (`frame().to_parquet`): the same schema and pandas metadata, the same rows in the same order, for every
identity column present or absent (a hand-made corpus has few of them), a string column with a missing value, and
no member at all."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from kit.model.predictions import ROW_IDENTITY, HeldPredictions


def corpus(rows: int, columns: tuple[str, ...]) -> pd.DataFrame:
    rng = np.random.default_rng(rows)
    out: dict[str, object] = {}
    for c in columns:
        if c in ("corpus_row", "frame_index", "cq", "enc_width", "enc_height", "rung_height"):
            out[c] = rng.integers(0, 1000, rows).astype(np.int64)
        else:  # a text column, one value missing (an older shard's)
            values = pd.Series([f"{c}-{i % 7}" for i in range(rows)], dtype="str")
            values.iloc[rows // 2] = None
            out[c] = values
    return pd.DataFrame(out)


def written(held: HeldPredictions) -> bytes:
    fh = io.BytesIO()
    held.write(fh)
    return fh.getvalue()


@pytest.mark.parametrize("columns", [ROW_IDENTITY, ("corpus_row",), ("corpus_row", "src", "src_sha256", "cq"),
                                     tuple(c for c in ROW_IDENTITY if c != "content")])
def test_written_a_member_at_a_time_is_the_whole_table(columns: tuple[str, ...]) -> None:
    df = corpus(120, columns)
    target = np.linspace(20, 100, len(df))
    held = HeldPredictions.of(df, target)
    rng = np.random.default_rng(3)
    folds = np.array_split(np.arange(len(df)), 4)
    for seed in (0, 1):
        for k, rows in enumerate(folds):
            held.add(seed, k, rows, rng.normal(60, 10, len(rows)))
    whole = io.BytesIO()
    held.frame().to_parquet(whole, index=False)
    mine, theirs = pq.ParquetFile(io.BytesIO(written(held))), pq.ParquetFile(whole)
    assert mine.schema_arrow.equals(theirs.schema_arrow, check_metadata=True)
    assert mine.read().equals(theirs.read())
    assert mine.metadata.num_row_groups == 8  # a row group per member
    back = pd.read_parquet(io.BytesIO(written(held)))
    assert back.equals(held.frame()) and len(back) == len(held) == 2 * len(df)
    first = back.iloc[:30]
    assert (first["seed"] == 0).all() and (first["fold"] == 0).all()
    assert np.array_equal(first["vmaf"].to_numpy(), target[folds[0]])


def test_no_member_writes_an_empty_table() -> None:
    held = HeldPredictions.of(corpus(5, ("corpus_row", "src")), np.zeros(5))
    assert len(pd.read_parquet(io.BytesIO(written(held)))) == 0
