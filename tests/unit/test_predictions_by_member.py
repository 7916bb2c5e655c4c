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


def before(held: HeldPredictions) -> pd.DataFrame:
    """The table as the kit made it before it kept rows: each member's frame built from the identity columns'
    values (to_numpy), then all of them concatenated."""
    columns = {c: held.identity[c].to_numpy() for c in held.identity.columns}
    return pd.concat([pd.DataFrame({"seed": np.int32(m.seed), "fold": np.int32(m.fold),
                                    **{c: col[m.rows] for c, col in columns.items()}, "vmaf": held.target[m.rows],
                                    "pred": m.pred}) for m in held.members], ignore_index=True)


def written(held: HeldPredictions) -> bytes:
    fh = io.BytesIO()
    held.write(fh)
    return fh.getvalue()


@pytest.mark.parametrize("columns", [ROW_IDENTITY, ("corpus_row",), ("corpus_row", "src", "src_sha256", "cq"),
                                     tuple(c for c in ROW_IDENTITY if c != "content")])
@pytest.mark.parametrize("odd", ["", "box_id no value", "box_id categorical", "cq nullable"])
def test_written_a_member_at_a_time_is_the_whole_table(columns: tuple[str, ...], odd: str) -> None:
    """The file is the table the kit wrote before (`before`) and the one `frame` gives, whatever the identity
    columns' types: text, numbers, a text column with no value (an older shard's box_id), a categorical, a
    nullable integer."""
    df = corpus(120, columns)
    if odd == "box_id no value" and "box_id" in df:
        df["box_id"] = pd.Series([None] * len(df), dtype="str")
    elif odd == "box_id categorical" and "box_id" in df:
        df["box_id"] = df["box_id"].astype("category")
    elif odd == "cq nullable" and "cq" in df:
        df["cq"] = pd.array([None, *df["cq"].iloc[1:]], dtype="Int64")
    target = np.linspace(20, 100, len(df))
    held = HeldPredictions.of(df, target)
    rng = np.random.default_rng(3)
    folds = np.array_split(np.arange(len(df)), 4)
    for seed in (0, 1):
        for k, rows in enumerate(folds):
            held.add(seed, k, rows, rng.normal(60, 10, len(rows)))
    whole = io.BytesIO()
    before(held).to_parquet(whole, index=False)
    assert held.frame().equals(before(held)) and list(held.frame().dtypes) == list(before(held).dtypes)
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
