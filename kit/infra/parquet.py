"""The one reader of parquet files: the footer's rows and size checked against kit.infra.limits before a page is read,
a column name given twice refused, the page checksums verified (the kit writes them: `CHECKSUMS`), a damaged page
an InputError naming the file. Files are opened by arrow itself (`pa.OSFile`), never as Python file objects, whose
buffers arrow's pool threads free after the read (an abort at shutdown: apache/arrow#49942, #50482).

The kit's own LOSO and verdict files are read as DataFrames by `read_frame`; no module reads parquet by `pq.read_table`
or `pd.read_parquet` directly, but kit.corpus.jobs.read_job_rows's reading of the kit's own job files, each checked
against its ledger's sha256 first. It is the one writer too (pyproject.toml bans pyarrow's writers elsewhere, and a
test finds any `to_parquet`), so that every file the kit writes carries its pages' checksums: `write_table`,
`table_writer`, `write_whole` (a frame as `to_parquet` writes it, with them) and `write_frame` (the same bytes, a row
group at a time: the verdict's files).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from kit.errors import InputError
from kit.infra.limits import MAX_CORPUS_ROWS, MAX_PARQUET_BYTES, human_bytes
from kit.infra.visible import reason_line

if TYPE_CHECKING:
    import pandas as pd

DAMAGED_HINT = "copy it again from the box that made it, or re-create it with the kit"
# every parquet file the kit writes stores a CRC per page, so a damaged page is caught on reading (_file verifies them)
CHECKSUMS: Mapping[str, Any] = {"write_page_checksum": True}
WRITE_OPTIONS: Mapping[str, Any] = {"compression": "zstd", **CHECKSUMS}  # a corpus: a shard, a merge
TABLE_OPTIONS: Mapping[str, Any] = {"compression": "snappy", **CHECKSUMS}  # the other tables: pandas' codec
ARROW_ERRORS = (pa.ArrowException, OSError, ValueError, EOFError)
BATCH_ROWS = 1 << 20  # rows a batch of read_batches: tens of MiB of a few columns
WRITE_ROWS = 1 << 20  # rows a row group of pyarrow's write_table unless told (its default row_group_size)


def damaged(label: str, exc: BaseException) -> InputError:
    return InputError(f"damaged parquet: {label} ({reason_line(exc)}) — copy it again", hint=DAMAGED_HINT)


def _open(path: Path, label: str) -> pa.NativeFile:
    try:
        return pa.OSFile(os.fsencode(path), "rb")  # bytes: a name that is not UTF-8 opens as Python's open() would
    except (OSError, ValueError) as exc:  # said as Python's open() would say it (arrow gives no errno for a folder)
        errno = getattr(exc, "errno", None)
        why = os.strerror(errno) if errno else "a directory" if path.is_dir() else reason_line(exc)
        raise InputError(f"{label}: cannot be read ({why})",
                         hint="check that the path exists and that you may read it") from exc


def _file(fh: pa.NativeFile, label: str, dictionary: Sequence[str] = ()) -> pq.ParquetFile:
    """The file as arrow reads it, never pre-buffered: with it, arrow holds the column chunks it read beside what it
    made of them until the reader is let go (a whole read of a 10,000-content corpus's training columns by pyarrow
    alone peaked at 856 MiB, 702 without, no faster: bench/README.md#training-task; read a batch at a time, it kept
    every row group's buffers read to the end of the file, 1.5 GiB of a 50,000-content union's predictions)."""
    try:
        pf = pq.ParquetFile(fh, page_checksum_verification=True, read_dictionary=list(dictionary) or None,
                            pre_buffer=False)
    except ARROW_ERRORS as exc:
        raise InputError(f"{label}: not a readable parquet file ({reason_line(exc)})",
                         hint="pass a parquet file written by the kit (a shard or a merged corpus); "
                              "if it is one, copy it again") from exc
    names = pf.schema_arrow.names
    if twice := sorted(n for n, c in Counter(names).items() if c > 1):
        raise InputError(f"{label}: column {twice[0]!r} appears {Counter(names)[twice[0]]} times",
                         hint="a corpus has one column of each name; re-create the file with the kit")
    return pf


def parquet_columns(path: Path, label: str | None = None) -> list[str]:
    """The column names of a parquet file (its footer only), each appearing once."""
    return list(parquet_schema(path, label).names)


def parquet_rows(path: Path, label: str | None = None) -> int:
    """The rows a parquet file declares (its footer only)."""
    label = label or str(path)
    with _open(path, label) as fh:
        return int(_file(fh, label).metadata.num_rows)


def parquet_schema(path: Path, label: str | None = None) -> pa.Schema:
    """The arrow schema of a parquet file (its footer only), each column appearing once."""
    label = label or str(path)
    with _open(path, label) as fh:
        return _file(fh, label).schema_arrow


def read_parquet(path: Path, columns: Sequence[str] | None = None, label: str | None = None,
                 dictionary: Sequence[str] = (), max_rows: int | None = MAX_CORPUS_ROWS) -> pa.Table:
    """The columns (all when None) of a parquet file whose footer passed the limits (`dictionary`: as dictionaries)."""
    label = label or str(path)
    with _open(path, label) as fh:
        pf = _file(fh, label, dictionary)
        within_limits(pf, columns, label, max_rows)
        try:
            return pf.read(columns=list(columns) if columns is not None else None)
        except ARROW_ERRORS as exc:
            raise damaged(label, exc) from exc


def within_limits(pf: pq.ParquetFile, columns: Sequence[str] | None, label: str, max_rows: int | None) -> None:
    """The footer's rows and the declared size of `columns` (all when None) within the limits of a corpus file,
    before any of its pages is read."""
    meta = pf.metadata
    if max_rows is not None and meta.num_rows > max_rows:
        raise InputError(f"{label}: declares {meta.num_rows} rows, over the limit of {max_rows} rows "
                         "per corpus file (nothing was read)", hint="split the corpus, or check where it came from")
    names = set(pf.schema_arrow.names)
    wanted = names if columns is None else names & set(columns)  # a leaf column counts by its top-level column
    leaves = [i for i in range(meta.num_columns) if pf.schema.column(i).path.split(".", 1)[0] in wanted]
    size = sum(meta.row_group(g).column(i).total_uncompressed_size
               for g in range(meta.num_row_groups) for i in leaves)
    if size > MAX_PARQUET_BYTES:
        raise InputError(f"{label}: declares {human_bytes(size)} of data, over the limit of "
                         f"{human_bytes(MAX_PARQUET_BYTES)} per corpus file (nothing was read)",
                         hint="split the corpus, or check where it came from")


def column_max(path: Path, name: str, label: str | None = None) -> int | None:
    """The largest value of integer column `name` by the footer's statistics (no page read); None where a row group
    has none (a writer may leave them out)."""
    label = label or str(path)
    with _open(path, label) as fh:
        meta = _file(fh, label).metadata
        index = meta.schema.names.index(name) if name in meta.schema.names else None
        if index is None or meta.num_row_groups == 0:
            return None
        found = [meta.row_group(g).column(index).statistics for g in range(meta.num_row_groups)]
        if any(s is None or not s.has_min_max or not isinstance(s.max, int) for s in found):
            return None
        return max(int(s.max) for s in found)


def holding_values(path: Path, columns: Sequence[str], label: str | None = None, rows: int | None = None,
                   max_rows: int | None = MAX_CORPUS_ROWS) -> set[str]:
    """Of `columns` (those the file has), the ones some row holds a value of: read `rows` rows at a time, each batch
    let go, to the first value of each (the rows, not the footer's statistics, which are the writer's word); the
    footer held to the limits of a corpus file first (within_limits), as read_parquet holds it."""
    label = label or str(path)
    with _open(path, label) as fh:
        pf = _file(fh, label)
        left = [c for c in dict.fromkeys(columns) if c in pf.schema_arrow.names]
        held: set[str] = set()
        if not left:
            return held
        within_limits(pf, left, label, max_rows)
        try:
            for batch in pf.iter_batches(batch_size=rows or BATCH_ROWS, columns=left, use_threads=False):
                held |= {name for name in left if batch.column(name).null_count < batch.num_rows}
                if held == set(left):
                    break
        except ARROW_ERRORS as exc:
            raise damaged(label, exc) from exc
    return held


def read_batches(path: Path, columns: Sequence[str], label: str | None = None, dictionary: Sequence[str] = (),
                 rows: int | None = None) -> Iterator[pa.RecordBatch]:
    """The columns of a parquet file the kit wrote in an out-dir, `rows` rows at a time (never the whole file: its
    footer's size is not bounded by MAX_PARQUET_BYTES, what a reader holds is a batch); `rows`: BATCH_ROWS unless
    given; `dictionary`: as dictionaries."""
    label = label or str(path)
    with _open(path, label) as fh:
        pf = _file(fh, label, dictionary)
        try:
            yield from pf.iter_batches(batch_size=rows or BATCH_ROWS, columns=list(columns), use_threads=False)
        except ARROW_ERRORS as exc:
            raise damaged(label, exc) from exc


def read_frame(path: Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A parquet file the kit wrote in an out-dir as a DataFrame, through `read_parquet` with no row limit."""
    return read_parquet(path, columns, max_rows=None).to_pandas()


def write_table(table: pa.Table, sink: Any, options: Mapping[str, Any] = TABLE_OPTIONS,
                row_group_size: int | None = None) -> None:
    """`table` as one parquet file to `sink` (a file object, an arrow stream), its pages' checksums in it."""
    pq.write_table(table, sink, row_group_size=row_group_size, **options)


def table_writer(sink: Any, schema: pa.Schema, options: Mapping[str, Any] = TABLE_OPTIONS) -> pq.ParquetWriter:
    """A writer of tables of `schema` into one parquet file, a row group at a time, its pages' checksums in it."""
    return pq.ParquetWriter(sink, schema, **options)


def write_whole(frame: pd.DataFrame, fh: Any) -> None:
    """`frame` as `frame.to_parquet(fh, index=False)` writes it (pandas' schema in the footer), with its pages'
    checksums."""
    frame.to_parquet(fh, index=False, **TABLE_OPTIONS)


def write_frame(frame: pd.DataFrame, fh: Any, part: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
                rows: int = WRITE_ROWS) -> None:
    """`frame` written to `fh` as `write_whole` writes it, a row group at a time, each group's rows made into a table
    through `part` (that frame as it is to be stored): the same bytes, without the whole frame in arrow's memory
    beside the frame itself (0.5 GiB of the verdict's text at 10,000 contents). `rows`: the rows of a group, as
    pyarrow's write_table groups them unless told (tests/unit/test_parquet_write.py). A frame with a column of Python
    objects is written whole, as write_whole writes it: a group's own values (all None, say) would make another type
    than the column's."""
    if frame.attrs:  # to_parquet keeps a frame's attrs in the footer: not this writer's
        raise ValueError("write_frame writes no frame's attrs")
    if any(frame[c].dtype == object for c in frame.columns):  # arrow guesses such a column's type from its values:
        write_whole(part(frame) if part is not None else frame, fh)  # from all of them, as to_parquet
        return

    def table(start: int) -> pa.Table:
        rows_of = frame.iloc[start:start + rows]
        return pa.Table.from_pandas(part(rows_of) if part is not None else rows_of, preserve_index=False)

    first = table(0)
    with table_writer(fh, first.schema) as writer:
        writer.write_table(first, row_group_size=rows)
        del first
        for start in range(rows, len(frame), rows):
            writer.write_table(table(start), row_group_size=rows)
