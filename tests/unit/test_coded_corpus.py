"""The loso step reads its corpus coded (kit.corpus.training.coded_frame: each text column a categorical of its values
in sorted order, read as parquet dictionaries): for every kind of corpus and every fault the reader refuses, the coded
read gives the frame the plain read gives (its text back by as_text), the same duplicates dropped, or the same error.
A third of the read's memory at 3,000,000 rows (bench/README.md, "Rows for the table (issue 100)"). The verdict
holds that text as shared strings (shared_text), which write the files the text itself writes (arrow_text)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from kit.corpus.training import (
    arrow_text,
    as_text,
    narrowed,
    pandas_column,
    ranked,
    shared_text,
    text,
    text_groups,
    training_corpus,
    without,
)
from kit.errors import InputError
from kit.model.loso import ENCODE_IDENTITY
from kit.model.predictions import ROW_IDENTITY
from kit.model.samplings import SAMPLING_COLUMNS
from kit.steps.s04_verdict import BESIDE
from tests.kitfiles import shard_table, write_shard

EXTRA = (*ROW_IDENTITY, *ENCODE_IDENTITY, *SAMPLING_COLUMNS)  # what the loso step reads


def changed(table: pa.Table, column: str, row: int, value: object) -> pa.Table:
    values = table[column].to_pylist()
    values[row] = value
    return table.set_column(table.schema.get_field_index(column), column, pa.array(values, table[column].type))


def doubled(table: pa.Table) -> pa.Table:
    """Every row of the first source twice, in another order (the duplicate rule drops one of each)."""
    first = table.filter(pa.compute.equal(table["src_sha256"], table["src_sha256"][0]))
    return pa.concat_tables([first.take(np.arange(first.num_rows)[::-1]), table])


def renamed(table: pa.Table) -> pa.Table:
    """One source named otherwise on some of its rows (its name chosen by the names' rule: with_names)."""
    names = table["src"].to_pylist()
    for i in range(0, 20, 2):
        names[i] = "z-other-name"
    return table.set_column(table.schema.get_field_index("src"), "src", pa.array(names, pa.string()))


CORPORA: dict[str, Callable[[pa.Table], pa.Table]] = {
    "plain": lambda t: t,
    "duplicates": doubled,
    "a source named two ways": renamed,
    "an upper-case hash": lambda t: changed(t, "src_sha256", 5, "F" * 64),
    "an empty source name": lambda t: changed(t, "src", 7, ""),
    "an encoder the kit does not know": lambda t: changed(t, "encoder", 9, "x266"),
    "a missing encoder": lambda t: changed(t, "encoder", 11, None),
    "a missing content": lambda t: changed(t, "content", 13, None),
    "a bad hash and a bad encoder": lambda t: changed(changed(t, "encoder", 3, "x266"), "src_sha256", 60, "g" * 64),
    "a source in two groups": lambda t: changed(t, "content", 2, "e" * 64),
    "an implausible vmaf": lambda t: changed(t, "vmaf", 17, 100.5),
    "two teachers": lambda t: changed(t, "teacher_model", 1, "vmaf_4k_v0.6.1"),
}


@pytest.mark.parametrize("case", sorted(CORPORA))
def test_the_coded_read_is_the_plain_read(case: str, tmp_path: Path) -> None:
    path = write_shard(tmp_path / "c.parquet", CORPORA[case](shard_table(n_src=4)))
    try:
        plain, dropped = training_corpus(path, EXTRA)
    except InputError as exc:
        with pytest.raises(InputError) as coded_exc:
            training_corpus(path, EXTRA, coded=True)
        assert (coded_exc.value.message, coded_exc.value.hint) == (exc.message, exc.hint)
        return
    coded, coded_dropped = training_corpus(path, EXTRA, coded=True)
    assert coded_dropped == dropped and (case == "duplicates") == (dropped > 0)
    texts = [c for c in plain.columns if plain[c].dtype == "str"]
    assert texts and all(isinstance(coded[c].dtype, pd.CategoricalDtype) for c in texts)
    for c in texts:  # the categories in the order the text sorts in: groups, sorts and codes as the text does
        assert list(coded[c].cat.categories) == sorted(plain[c].dropna().unique())
        assert isinstance(text(coded[c]).dtype, pd.CategoricalDtype) and text(plain[c]).equals(plain[c].astype(str))
    pd.testing.assert_frame_equal(as_text(coded), plain)
    for keys in (["src_sha256"], ["content", "encoder", "cq"], ["encoder", "src"]):  # what LOSO groups by
        assert coded.groupby(keys, sort=True).ngroup().tolist() == plain.groupby(keys, sort=True).ngroup().tolist()
        assert coded.sort_values(keys, kind="stable").index.tolist() == \
            plain.sort_values(keys, kind="stable").index.tolist()


def test_the_coded_frame_holds_a_code_a_row_where_the_plain_one_holds_the_text(tmp_path: Path) -> None:
    path = write_shard(tmp_path / "c.parquet", shard_table(n_src=40, rows_per_src=1000))
    plain, coded = training_corpus(path, EXTRA)[0], training_corpus(path, EXTRA, coded=True)[0]
    texts = [c for c in plain.columns if plain[c].dtype == "str"]
    held = {c: (int(plain[c].memory_usage(deep=True)), int(coded[c].memory_usage(deep=True))) for c in texts}
    assert all(b * 4 < a for a, b in held.values()), held  # the hashes, names, encoders: a byte or two a row


def test_the_groups_of_text_are_those_of_its_codes() -> None:
    """text_groups (distil.encode_codes' groups, made from codes) against groupby(sort=True).ngroup() of the columns as
    text: coded columns, numbers (sorted as spelt: 100 before 22), text as it is, missing values, and a radix past
    int64 (the tuples ranked again)."""
    rng = np.random.default_rng(7)
    n = 5000
    words = np.array(["b", "a", "é", "Z", "a0", "", "ab"], dtype=object)
    hexes = np.array([f"{i:064x}" for i in rng.integers(0, 2**40, 300)], dtype=object)
    plain = pd.DataFrame({"w": pd.Series(words[rng.integers(0, len(words), n)], dtype="str"),
                          "h": pd.Series(hexes[rng.integers(0, len(hexes), n)], dtype="str"),
                          "cq": rng.choice([22, 100, 9, -1, 37], n).astype(np.int32),
                          "big": rng.integers(0, 1 << 40, n),  # 5,000 values a column: the radix overflows
                          "big2": rng.integers(0, 1 << 40, n), "big3": rng.integers(0, 1 << 40, n),
                          "f": rng.choice([0.5, 2.0, np.nan], n), "o": rng.choice(["x", "y"], n).astype(object)})
    plain.loc[rng.integers(0, n, 40), "w"] = np.nan
    coded = plain.assign(**{c: pd.Categorical(plain[c], categories=sorted(plain[c].dropna().unique()))
                            for c in ("w", "h")})
    for names in (["w"], ["h", "cq"], ["cq", "w", "h"], ["big", "big2", "big3", "h", "cq", "w"], ["f", "o", "cq"]):
        want = pd.DataFrame({c: plain[c].astype(str) for c in names}).groupby(names, sort=True).ngroup()
        got = text_groups([coded[c] for c in names])  # encode_codes' groups as they were: the text's
        assert (got[want.notna().to_numpy()] == want.dropna().to_numpy()).all(), names
        assert (got[want.isna().to_numpy()] == -1).all(), names  # a missing value: no group (NaN before)


VERDICT = tuple(BESIDE)  # what the verdict step reads beside the training's


@pytest.mark.parametrize("case", sorted(CORPORA))
def test_the_verdicts_shared_text_is_the_plain_read_and_writes_its_bytes(case: str, tmp_path: Path) -> None:
    """The verdict's read (coded, then shared_text) against the plain read: the same frame, the same groups and
    order, and the same parquet bytes once arrow_text gives the text arrow's storage back."""
    path = write_shard(tmp_path / "c.parquet", CORPORA[case](shard_table(n_src=4)))
    try:
        plain, _ = training_corpus(path, VERDICT)
    except InputError:
        return  # the refusals are the coded read's, above
    shared = shared_text(training_corpus(path, VERDICT, coded=True)[0])
    texts = [c for c in plain.columns if plain[c].dtype == "str"]
    assert texts and all(shared[c].dtype == "str" and shared[c].dtype.storage == "python" for c in texts)
    pd.testing.assert_frame_equal(arrow_text(shared), plain)
    assert shared_text(plain).equals(shared)  # from arrow's text as from the codes
    for keys in (["src_sha256"], ["content", "encoder", "cq"], ["box_id", "encoder", "src"]):
        assert shared.groupby(keys, sort=True).ngroup().tolist() == plain.groupby(keys, sort=True).ngroup().tolist()
        assert shared.sort_values(keys, kind="stable").index.tolist() == \
            plain.sort_values(keys, kind="stable").index.tolist()
    written = {}
    for name, frame in (("plain", plain), ("shared", arrow_text(shared))):
        frame.to_parquet(tmp_path / f"{name}.parquet", index=False)
        written[name] = (tmp_path / f"{name}.parquet").read_bytes()
    assert written["plain"] == written["shared"]


def test_shared_text_keeps_missing_values_categoricals_and_other_columns() -> None:
    words = pd.Series(["b" * 64, None, "a" * 64, "b" * 64, ""], dtype="str")
    frame = pd.DataFrame({"w": words, "c": pd.Categorical(words, categories=["", "a" * 64, "b" * 64]),
                          "n": [1, 2, 3, 4, 5], "u": pd.Categorical([3, 1, 3, 1, 2])})
    frame["c"] = frame["c"].cat.set_categories(pd.Index(frame["c"].cat.categories, dtype="str"))
    shared = shared_text(frame)
    assert shared["w"].tolist() == shared["c"].tolist() == words.tolist()
    assert shared["w"].isna().tolist() == [False, True, False, False, False]
    held = shared["w"].array._ndarray  # one string object a value, not one a row
    assert held[0] is held[3]
    assert shared["n"].equals(frame["n"]) and shared["u"].equals(frame["u"])  # a categorical of no text stays one
    back = arrow_text(shared)
    assert back["w"].dtype == words.dtype and back["w"].equals(words)
    assert arrow_text(frame) is frame and shared_text(shared) is shared  # nothing to change: the frame itself
    na = pd.DataFrame({"s": pd.Series(["a", None], dtype="string")})  # pd.NA's "string": neither's to change
    assert shared_text(na) is na and arrow_text(na) is na


def test_the_shared_text_holds_a_pointer_a_row(tmp_path: Path) -> None:
    path = write_shard(tmp_path / "c.parquet", shard_table(n_src=40, rows_per_src=1000))
    plain = training_corpus(path, VERDICT)[0]
    shared = shared_text(plain)
    arrays = {c: shared[c].array._ndarray for c in plain.columns if plain[c].dtype == "str"}
    for c, held in arrays.items():  # 8 bytes a row, and each distinct value's one string
        assert held.nbytes == 8 * len(plain) and len({id(v) for v in held}) == plain[c].nunique(dropna=False), c
    for c in ("src_sha256", "content"):  # a hash, 64 characters and its offset a row in arrow's storage
        assert int(plain[c].array.nbytes) >= 9 * arrays[c].nbytes, c


WIDTHS = {0: pa.int8(), 1: pa.int8(), 128: pa.int8(), 129: pa.int16(), 32_768: pa.int16(), 32_769: pa.int32()}


@pytest.mark.parametrize("words", sorted(WIDTHS))
def test_a_dictionary_s_indices_and_ranks_take_the_narrowest_width_and_keep_their_values(words: int) -> None:
    """narrowed and ranked: arrow reads a dictionary's indices as int32, 4 bytes a row; 1 byte numbers 128 values,
    2 bytes 32,768. Each column keeps its values, its nulls, its one dictionary over its chunks and the order its text
    sorts in."""
    rng = np.random.default_rng(words)
    names = [f"w{i:06d}" for i in rng.permutation(words)]
    values = [names[i % words] if words and i % 5 else None for i in range(4 * max(words, 3))]  # every word
    whole = pa.array(values, pa.string()).dictionary_encode()
    cut = len(values) // 3
    table = pa.table({"t": pa.chunked_array([whole.slice(0, cut), whole.slice(cut)]),
                      "n": np.arange(len(values))}).unify_dictionaries()
    narrow = narrowed(table)
    chunks = narrow["t"].chunks
    assert narrow["t"].type.index_type == WIDTHS[words] and narrow["t"].to_pylist() == values
    assert all(c.dictionary.equals(chunks[0].dictionary) for c in chunks) and narrow["n"].equals(table["n"])
    ranks = ranked(narrow)["t"]
    assert ranks.type == WIDTHS[words] and ranks.null_count == values.count(None)
    rank = {v: i for i, v in enumerate(sorted({v for v in values if v is not None}))}
    assert ranks.to_pylist() == [None if v is None else rank[v] for v in values]


def test_the_coded_frame_is_pandas_own_a_block_a_column_and_writable(tmp_path: Path) -> None:
    """coded_frame builds no consolidated copy of the numbers (it was the read's peak) and keeps nothing of arrow's:
    a column of one chunk without a null would be arrow's read-only buffer."""
    path = write_shard(tmp_path / "c.parquet", shard_table(n_src=4))
    coded = training_corpus(path, EXTRA, coded=True)[0]
    assert len(coded._mgr.blocks) == coded.shape[1]
    numbers = [c for c in coded.columns if not isinstance(coded[c].dtype, pd.CategoricalDtype)]
    assert "vmaf" in numbers
    for c in numbers:
        coded.loc[coded.index[:2], c] = coded[c].iloc[2]
        assert (coded[c].iloc[:2] == coded[c].iloc[2]).all()


NUMBERS = {"float64": (pa.float64(), 1.5), "int32": (pa.int32(), 7), "int64": (pa.int64(), 1 << 40),
           "bool": (pa.bool_(), True)}


@pytest.mark.parametrize("kind", sorted(NUMBERS))
@pytest.mark.parametrize("nulls", [False, True])
@pytest.mark.parametrize("chunks", [0, 1, 3])
def test_every_number_column_is_pandas_own_and_writable_whatever_its_chunks_and_nulls(kind: str, nulls: bool,
                                                                                      chunks: int) -> None:
    """pandas_column over every kind of number a corpus holds, in no, one or several chunks, with and without nulls:
    the values to_pandas gives, in memory of pandas' own (arrow's buffer of one chunk without a null is read-only)."""
    kind_type, value = NUMBERS[kind]
    parts = [pa.array([None if nulls and (i + c) % 3 == 0 else value for i in range(5)], kind_type)
             for c in range(chunks)]
    col = pa.chunked_array(parts, kind_type)
    made = pandas_column(col)
    assert isinstance(made, pd.Series)
    pd.testing.assert_series_equal(made, col.to_pandas())
    held = np.asarray(made.array)
    assert held.flags.writeable
    assert not any(np.shares_memory(held, np.frombuffer(c.buffers()[1], dtype=np.uint8)) for c in parts)


@pytest.mark.parametrize("consolidated", [False, True])
def test_the_frame_without_the_scores_shares_none_of_their_memory_and_copies_only_its_numbers(
        tmp_path: Path, consolidated: bool) -> None:
    """The loso step's frame without its scores (kit.corpus.training.without): the frame `drop` gives, none of its
    numbers a view of a block that holds a score (a consolidated frame's too), its categoricals the same objects, and
    no more made than its numbers' copies (a copy of the whole frame was twice that: a training task's peak)."""
    import tracemalloc

    path = write_shard(tmp_path / "c.parquet", shard_table(n_src=6, rows_per_src=400))
    df = training_corpus(path, EXTRA, coded=True)[0]
    if consolidated:
        df = df.copy()
        df._consolidate_inplace()
        assert len(df._mgr.blocks) < df.shape[1]
    scores = {"adm2", "vif_scale0", "vif_scale1", "vif_scale2", "vif_scale3", "motion2", "vmaf"}
    blocks = [b.values for b in df._mgr.blocks if set(df.columns[b.mgr_locs.as_array]) & scores]
    tracemalloc.start()
    try:
        kept = without(df, scores)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    pd.testing.assert_frame_equal(kept, df.drop(columns=sorted(scores)))
    numbers = [c for c in kept.columns if not isinstance(kept[c].dtype, pd.CategoricalDtype)]
    assert numbers and all(not np.shares_memory(kept[c].to_numpy(), block) for c in numbers for block in blocks)
    assert all(kept[c].array is df[c].array for c in kept.columns if c not in numbers)
    copied = sum(kept[c].to_numpy().nbytes for c in numbers)
    assert peak <= 1.2 * copied + 65_536, (peak, copied)
