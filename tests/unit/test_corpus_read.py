"""The corpus as training reads it (kit.corpus.training.training_corpus): the teacher's own six read only where a row
holds them, found by the rows themselves (kit.infra.parquet.holding_values), and the same frame either way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kit.corpus import training
from kit.corpus.columns import TEACHER_FEATURES
from kit.errors import InputError
from kit.infra import parquet
from kit.infra.parquet import holding_values
from tests.conftest import synthetic_corpus


def corpus(path: Path, own_rows: list[int]) -> Path:
    """A corpus of 4 sources x 60 rows in row groups of 50, the teacher's own six held on `own_rows` alone."""
    df = synthetic_corpus().assign(teacher_model="vmaf_v0.6.1", teacher_sha256="")
    for i, name in enumerate(TEACHER_FEATURES):
        values = np.full(len(df), np.nan)
        values[own_rows] = df[name.removeprefix("teacher_")].to_numpy()[own_rows] * (1 + i / 100)
        df[name] = values
    df.to_parquet(path, index=False, row_group_size=50)
    return path


@pytest.mark.parametrize("own_rows", [[], [0], [239], [120, 121]])
def test_the_columns_holding_a_value_are_found_in_any_batch(tmp_path: Path, own_rows: list[int]) -> None:
    path = corpus(tmp_path / "c.parquet", own_rows)
    for rows in (7, 50, 1000):
        assert holding_values(path, [*TEACHER_FEATURES, "vmaf", "absent"], rows=rows) == \
            ({*TEACHER_FEATURES, "vmaf"} if own_rows else {"vmaf"})


def test_the_teacher_s_own_six_are_read_where_a_row_holds_them_and_the_frame_is_the_same(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[list[str]] = []
    read = training.read_parquet
    monkeypatch.setattr(training, "read_parquet", lambda path, columns, **kw: asked.append(list(columns)) or
                        read(path, columns, **kw))
    none, df = training.training_corpus(corpus(tmp_path / "none.parquet", []), coded=True)[0], None
    assert not set(TEACHER_FEATURES) & set(none) and not set(TEACHER_FEATURES) & set(asked[-1])
    df = training.training_corpus(corpus(tmp_path / "own.parquet", [3, 200]), coded=True)[0]
    assert set(TEACHER_FEATURES) <= set(asked[-1]) and set(TEACHER_FEATURES) <= set(df)
    assert df[TEACHER_FEATURES[0]].notna().sum() == 2
    pd.testing.assert_frame_equal(df.drop(columns=list(TEACHER_FEATURES)), none)


def test_a_footer_over_the_limits_is_refused_before_any_value_is_looked_for(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path = corpus(tmp_path / "c.parquet", [239])
    with pytest.raises(InputError, match=r"declares 240 rows, over the limit of 100 rows .*\(nothing was read\)"):
        holding_values(path, TEACHER_FEATURES, max_rows=100)
    monkeypatch.setattr(parquet, "MAX_PARQUET_BYTES", 100)
    with pytest.raises(InputError, match=r"of data, over the limit of .*\(nothing was read\)"):
        holding_values(path, TEACHER_FEATURES)


@pytest.mark.parametrize("coded", [False, True])
def test_a_corpus_row_column_in_the_file_is_not_read_the_rows_are_numbered_afresh(tmp_path: Path,
                                                                                 coded: bool) -> None:
    """A frame the kit read, written back out as a corpus, carries its corpus_row: it was an internal error (the
    column twice in the table); the rows are numbered in the file read, whatever the column said."""
    plain = corpus(tmp_path / "plain.parquet", [])
    stored = pd.read_parquet(plain)
    stored.assign(corpus_row=np.arange(len(stored))[::-1] + 1000).to_parquet(tmp_path / "with.parquet", index=False)
    from kit.corpus.schema import CORPUS_ROW
    from kit.model.predictions import ROW_IDENTITY

    df = training.training_corpus(tmp_path / "with.parquet", ROW_IDENTITY, coded=coded)[0]
    pd.testing.assert_frame_equal(df, training.training_corpus(plain, ROW_IDENTITY, coded=coded)[0])
    assert df[CORPUS_ROW].min() == 0 and df[CORPUS_ROW].max() < len(stored)
