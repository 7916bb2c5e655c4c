"""A corpus as training reads it: the training columns of a shard or merged corpus, validated (kit.corpus.schema),
in the canonical row order, its duplicate rows dropped by the merge's rule (kit.corpus.dedup)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kit.corpus.dedup import KEY, SCORED, SORT_ORDER, kept_rows, take_in_place
from kit.corpus.names import with_names
from kit.corpus.provenance import check_one_teacher
from kit.corpus.rungs import vt_cq_received
from kit.corpus.schema import (
    CORPUS_ROW,
    ROW_ORDER,
    TEACHER_COLUMNS,
    TEACHER_FEATURES,
    TRAIN_COLUMNS,
    validate_table,
    with_content,
)
from kit.errors import InputError
from kit.infra.parquet import holding_values, parquet_columns, read_parquet
from kit.infra.resources import give_back_memory
from kit.media.libvmaf import CANONICAL6, CANONICAL6_V1, EXTRA_SAID

if TYPE_CHECKING:
    import pandas as pd


def training_corpus(path: Path, extra_columns: tuple[str, ...] = (), measured: tuple[str, ...] = (),
                    coded: bool = False) -> tuple[pd.DataFrame, int]:
    """(the training columns, validated, in ROW_ORDER with their CORPUS_ROW; how many duplicates were dropped). The
    corpus's teacher (TEACHER_COLUMNS, one for every row) comes along where the file records it: it is the teacher the
    loso step proves and distils (kit.model.teacher_fn.prove), never the kit's default; so do the teacher's own six
    (TEACHER_FEATURES) where its rows have them (NEG's), which the loso step proves it on. `coded`: each text column a
    categorical of its values in sorted order (`coded_frame`)."""
    stored = parquet_columns(path)
    # a stored CORPUS_ROW (a frame the kit read, written back out) is never read: the rows are numbered here, in
    # this file
    stored = [c for c in stored if c != CORPUS_ROW]
    names = [*stored, *(() if "content" in stored else ("content",))]
    missing = [c for c in TRAIN_COLUMNS if c not in names]
    if missing:
        raise InputError(f"{path}: corpus lacks column {missing[0]!r}",
                         hint="the file is not a corpus shard of the kit; re-create it with the kit or merge it")
    check_measured(path, stored, measured)
    wanted = list(dict.fromkeys([*TRAIN_COLUMNS, *measured, *(c for c in extra_columns if c in names)]))
    older = "enc_width" not in stored  # schema 1-3 (kit.corpus.rungs)
    # the teacher's own six only where a row holds them (NEG's): null on every row of any other teacher, they were
    # 140 MiB of the read at 3,000,000 rows, dropped after it (teacher_columns)
    own = holding_values(path, TEACHER_FEATURES)
    read = [*wanted, *ROW_ORDER, *KEY, *SCORED, *TEACHER_COLUMNS, *(c for c in TEACHER_FEATURES if c in own),
            *(("quality_args",) if older else ())]
    columns = [c for c in dict.fromkeys(read) if c in stored]
    # `coded`: the text read as dictionaries, a code a row (a third of the read's memory at 3,000,000 rows); a corpus
    # of schema 1-3 is read as text (its upgrade parses quality_args)
    texts = [] if older or not coded else [c for c in columns if c in text_columns(path)]
    table = read_parquet(path, columns, dictionary=texts)
    if texts:
        table = narrowed(table.unify_dictionaries())
    if older:
        table = vt_cq_received(table)[0]
    table = table.append_column(CORPUS_ROW, pa.array(np.arange(table.num_rows, dtype=np.int64)))
    if "content" not in stored:
        table = with_content(table)
    wanted = list(dict.fromkeys([*wanted, *teacher_columns(table, str(path))]))
    validate_table(table.select(wanted), str(path))
    check_one_group_each(table, str(path))
    # the duplicate rule on the columns it reads, their text ranked (no rank of a column it does not read), the ranks
    # handed back before the rows are taken
    judged = table.select([c for c in dict.fromkeys((*SORT_ORDER, *KEY, *SCORED)) if c in table.column_names])
    kept, duplicates = kept_rows(ranked(judged) if texts else judged)
    del judged
    give_back_memory()
    held = [table.select([*wanted, CORPUS_ROW])]  # the one name of the table from here: taken in place
    del table
    take_in_place(held, kept)
    named = [with_names(held.pop())]
    give_back_memory()  # the table's columns not wanted, and the rows the duplicate rule dropped
    frame = coded_frame(named) if coded else named.pop().to_pandas()
    give_back_memory()  # what the read and the duplicate rule left in arrow's pool
    return frame, duplicates


def text_columns(path: Path) -> set[str]:
    """The columns of text of a parquet file, by its footer."""
    from kit.infra.parquet import parquet_schema

    return {f.name for f in parquet_schema(path) if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)}


def index_type(values: int) -> pa.DataType:
    """The narrowest signed integer that numbers `values` values (a dictionary's indices, their ranks)."""
    for kind in (pa.int8(), pa.int16(), pa.int32()):
        if values <= 1 << (kind.bit_width - 1):
            return kind
    return pa.int64()


def narrowed(table: pa.Table) -> pa.Table:
    """The table with each dictionary column's indices in the narrowest integer its dictionary needs (its chunks one
    dictionary: unify_dictionaries), a column at a time: arrow reads them as int32, 4 bytes a row for a box's name or
    a preset (13 such columns were 52 of the loso step's read's 134 bytes a row: bench/README.md#training-task),
    where a pandas categorical's codes take 1 or 2. The same values, the same nulls."""
    for i, name in enumerate(table.column_names):
        kind = table[name].type
        if pa.types.is_dictionary(kind):
            chunks = table[name].chunks
            width = index_type(len(chunks[0].dictionary) if chunks else 0)
            if width != kind.index_type:
                table = table.set_column(i, name, table[name].cast(pa.dictionary(width, kind.value_type)))
    return table


def ranked(table: pa.Table) -> pa.Table:
    """The table with each dictionary column as the rank of each row's value among the column's values (its chunks
    one dictionary: unify_dictionaries; in the width `narrowed` gives the indices, a null kept null): it sorts and
    compares as the text does, for the duplicate rule, which sorts no dictionary."""
    for i, name in enumerate(table.column_names):
        if pa.types.is_dictionary(table[name].type):
            chunks = table[name].chunks  # one dictionary for all (unify_dictionaries)
            words = chunks[0].dictionary.to_pylist() if chunks else []
            width = index_type(len(words))  # as narrow as the indices: the same order sorted
            rank = np.zeros(max(1, len(words)), dtype=width.to_pandas_dtype())  # no word: every row null
            rank[np.argsort(np.array(words, dtype=object), kind="stable")] = np.arange(len(words))
            table = table.set_column(i, name, pa.chunked_array(
                [pa.array(rank[pc.fill_null(c.indices, 0).to_numpy(zero_copy_only=False)], width,
                          mask=c.is_null().to_numpy(zero_copy_only=False)) for c in chunks], type=width))
    return table


def coded_frame(held: list[pa.Table]) -> pd.DataFrame:
    """The table (the one name of it, in `held`, taken) as pandas, each text column a categorical whose categories are
    its values in sorted order: a code a row, where the text took 0.8 GiB of a 3,000,000-row corpus's 1.1 GiB. It
    sorts, groups and compares as the text does; `as_text` gives the text back, as the table would have. Each column is
    let go of as it is made."""
    import pandas as pd

    table = held.pop()
    columns: dict[str, object] = {}
    for name in table.column_names:
        columns[name] = pandas_column(table[name])
        table = table.drop_columns([name])
        give_back_memory()  # the column's arrow buffers: the pool keeps them otherwise, beside their copy
    # a block a column, not consolidated: a copy of all the numbers at once beside them was the read's peak (its 8
    # float columns 192 MB at 3,000,000 rows)
    return pd.DataFrame(columns, copy=False)


def without(df: pd.DataFrame, columns: set[str]) -> pd.DataFrame:
    """`df` without `columns`, sharing none of their memory: its categoricals as they are (no block of another column
    holds them), its other columns copied (a view would keep a block of the columns let go alive). A copy of the whole
    frame kept was 71 bytes a row beside it, this 36 (0.5 GiB less at 15,000,000 rows: a training task's peak)."""
    import pandas as pd

    kept = {}
    for name in df.columns:
        if name not in columns:
            col = df[name].array
            own = isinstance(col.dtype, pd.CategoricalDtype)
            kept[name] = col if own else pd.array(col, dtype=col.dtype, copy=True)
    return pd.DataFrame(kept, index=df.index, copy=False)


def pandas_column(col: pa.ChunkedArray) -> object:
    """One of coded_frame's columns: text as a categorical of its values in sorted order, any other as pandas makes
    it, pandas' own (nothing of arrow's kept once it returns, and writable: a column of one chunk without a null is
    arrow's read-only buffer otherwise)."""
    import pandas as pd

    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type) or pa.types.is_dictionary(col.type)):
        made = col.to_pandas()
        return made if np.asarray(made.array).flags.writeable else pd.Series(made, copy=True)
    words = (col if pa.types.is_dictionary(col.type) else pc.dictionary_encode(col)).combine_chunks()
    values = words.dictionary.to_pylist()
    rank = np.argsort(np.array(values, dtype=object), kind="stable")
    recode = np.zeros(max(1, len(values)), dtype=np.int32)  # no value: every row null, each code -1
    recode[rank] = np.arange(len(values), dtype=np.int32)
    codes = pc.fill_null(words.indices, -1).to_numpy(zero_copy_only=False)
    kept = np.where(codes >= 0, recode[np.maximum(codes, 0)], -1).astype(np.int32)
    return pd.Categorical.from_codes(kept, pd.Index([values[i] for i in rank], dtype="str"))


def text(column: pd.Series) -> pd.Series:
    """A column as text: one of coded_frame's categoricals as it is (it groups, sorts and compares as its text, and
    gives each value as a str), any other `astype(str)`, never 3,000,000 strings made to hold one code a row."""
    import pandas as pd

    coded = isinstance(column.dtype, pd.CategoricalDtype) and column.cat.categories.dtype == "str"
    return column if coded else column.astype(str)


def text_groups(columns: list[pd.Series]) -> np.ndarray:
    """Each row's group among the distinct tuples of the columns' values as text, numbered in their sorted order, -1
    where one is missing: `groupby(sort=True).ngroup()` of the columns `astype(str)`, from each column's codes in the
    order of its text (a coded column's own; a number's by the order of its spelling), no column of text made (a
    third of a GiB at 3,000,000 rows)."""
    import pandas as pd

    n = len(columns[0]) if columns else 0
    key = np.zeros(n, dtype=np.int64)
    missing = np.zeros(n, dtype=bool)
    for col in columns:
        if isinstance(col.dtype, pd.CategoricalDtype) and col.cat.categories.dtype == "str":
            codes, size = col.cat.codes.to_numpy().astype(np.int64), len(col.cat.categories)
        elif col.dtype.kind in "iu":  # an integer's text sorts as its spelling: "100" before "22"
            values, at = np.unique(col.to_numpy(), return_inverse=True)
            rank = np.empty(len(values), dtype=np.int64)
            rank[np.argsort(np.array([str(v) for v in values.tolist()], dtype=object), kind="stable")] = \
                np.arange(len(values))
            codes, size = rank[at], len(values)
        else:
            codes, uniques = pd.factorize(col.astype(str), sort=True)
            codes, size = codes.astype(np.int64), len(uniques)
        missing |= codes < 0
        if n and int(key.max()) >= (1 << 62) // max(size, 1):  # the tuples so far ranked again: no overflow
            key = np.unique(key, return_inverse=True)[1].astype(np.int64)
        key = key * max(size, 1) + np.maximum(codes, 0)
    inverse = np.unique(key[~missing], return_inverse=True)[1]
    out = np.full(n, -1, dtype=np.int64)
    out[~missing] = inverse
    return out


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with each categorical column of text (coded_frame's) as the text it codes, typed as a table read
    without codes types it: what the loso step writes."""
    import pandas as pd

    coded = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)
             and frame[c].cat.categories.dtype == "str"]
    return frame.assign(**{c: frame[c].astype("str") for c in coded}) if coded else frame


def arrow_text(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with each column of text held as shared strings (shared_text's) in arrow's storage again, as a table
    read holds its text: the parquet file it is written to is then the one the text itself makes."""
    import numpy as np
    import pandas as pd

    python = pd.StringDtype("python", na_value=np.nan)  # shared_text's, and no other (pd.NA's "string" stays)
    shared = [c for c in frame.columns if frame[c].dtype == python]
    arrow = pd.StringDtype("pyarrow", na_value=np.nan)
    return frame.assign(**{c: frame[c].astype(arrow) for c in shared}) if shared else frame


def shared_text(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with each column of text, or categorical of text (coded_frame's), held as a pointer a row to one Python
    string per distinct value (pandas' python storage of its str dtype), where arrow's storage holds each row's own
    text: 8 bytes a row against 72 for a sha256 (the verdict's corpus columns at 3,000,000 rows 0.25 GiB, were 0.65;
    bench/README.md#scale-10000). The same values and the same str dtype, which compares, groups and sorts as text
    does; `arrow_text` gives arrow's storage back to write. Only the str dtype (NaN for a missing value) is changed,
    never pd.NA's "string". Its `to_numpy()` is the frame's own array, not a copy as arrow's is, and the frames made
    from it share that array: read it, never write into it."""
    import numpy as np
    import pandas as pd

    python, arrow = pd.StringDtype("python", na_value=np.nan), pd.StringDtype("pyarrow", na_value=np.nan)
    columns = {}
    for name in frame.columns:
        col = frame[name]
        if isinstance(col.dtype, pd.CategoricalDtype) and col.cat.categories.dtype in (python, arrow):
            codes, uniques = col.cat.codes.to_numpy(), col.cat.categories
        elif col.dtype == arrow:
            codes, uniques = pd.factorize(col)
        else:
            continue
        words = np.empty(len(uniques) + 1, dtype=object)  # a missing value's code is -1: the last word, NaN
        words[:-1], words[-1] = np.asarray(uniques, dtype=object), np.nan
        columns[name] = pd.array(words[codes], dtype=python)
    return frame.assign(**columns) if columns else frame


def teacher_columns(table: pa.Table, label: str) -> list[str]:
    """The teacher's columns training carries: its identity where the file records it (one teacher: a corpus of two
    is refused as one, before the rows' checks) and its own six where its rows hold them (NEG's; a teacher without
    them, every row null, leaves them out)."""
    identity = [c for c in TEACHER_COLUMNS if c in table.column_names]
    if identity:
        check_one_teacher(table.select(identity), label)
    own = [c for c in TEACHER_FEATURES if c in table.column_names]
    return [*identity, *(own if any(table[c].null_count < table.num_rows for c in own) else [])]


def check_measured(path: Path, stored: list[str], measured: tuple[str, ...]) -> None:
    for name in measured:
        missing = read_parquet(path, [name])[name].null_count if name in stored else None
        if missing is None or missing:
            where = "on any row (the file has no such column)" if missing is None else f"on {missing} row(s)"
            raise InputError(f"{path}: {name} was not measured {where}, and the proxy's inputs need it",
                             hint=f"score the clips with {EXTRA_SAID} (--inputs {CANONICAL6_V1}), or train on "
                                  f"the canonical six (--inputs {CANONICAL6})")


def check_one_group_each(table: pa.Table, label: str) -> None:
    """A source sits in one content group (else the group would leak across folds)."""
    pairs = table.select(["src_sha256", "content"]).group_by(["src_sha256", "content"]).aggregate([])
    counts = pairs.group_by("src_sha256").aggregate([("content", "count")])
    split = counts.filter(pc.greater(counts["content_count"], 1))
    if split.num_rows:
        sha = split["src_sha256"][0].as_py()
        groups = sorted(pairs.filter(pc.equal(pairs["src_sha256"], sha))["content"].to_pylist())
        raise InputError(f"{label}: source {sha[:12]} has rows in {len(groups)} content groups "
                         f"({', '.join(g[:12] for g in groups)}): one source is one content",
                         hint="re-create the file with the kit (merge regroups every row), or fix its content column")
