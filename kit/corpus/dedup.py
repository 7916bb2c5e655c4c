"""The one rule for duplicate rows, shared by `merge` and training on a given corpus: rows with one KEY and equal SCORED
values are duplicates, one kept; with different scored values, a conflict, which the merge resolves (or refuses) and
training leaves as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kit.corpus.rungs import RUNG_COLUMNS
from kit.corpus.schema import CORPUS_FEATURES, ROW_ORDER

KEY = ("src_sha256", "encoder", "preset", "enc_pix_fmt", *RUNG_COLUMNS, "cq", "frame_index", "device")
SORT_ORDER = ROW_ORDER
SCORED = (*CORPUS_FEATURES, "vmaf")
RANK = ("_pref", "_row")  # which row of a key wins: the preferred input's, then the earlier one


@dataclass(frozen=True)
class Dedup:
    """The marks of dedupe's order over a table it never copies whole: `order`, its rows sorted by SORT_ORDER, then
    preference; in that order each row's marks. Only the kept rows are taken (`kept`), and of the rest one column or
    one row at a time: a sorted copy of the whole table beside the kept one was a third of the merge's peak (at
    3,000,000 rows, bench/README.md#scale-10000)."""

    source: pa.Table  # as given, in its own order
    order: np.ndarray  # its rows in dedupe's order
    keep: np.ndarray  # bool: the row goes to the output
    kept_row: np.ndarray  # index (in dedupe's order) of the row kept for this row's key
    differs: np.ndarray  # bool: scored values differ from the kept row's

    def kept(self) -> pa.Table:
        """The rows that go to the output, in dedupe's order."""
        return self.source.take(self.order[self.keep]).combine_chunks()

    def column(self, name: str) -> pa.Array:
        """One column in dedupe's order."""
        return self.source[name].take(self.order).combine_chunks()

    def value(self, name: str, i: int) -> Any:
        """Column `name` of row `i` (in dedupe's order), as Python."""
        return self.source[name][int(self.order[i])].as_py()

    @property
    def duplicate_rows(self) -> np.ndarray:
        return ~self.keep & ~self.differs

    @property
    def conflict_rows(self) -> np.ndarray:
        return ~self.keep & self.differs


def dedupe(table: pa.Table) -> Dedup:
    """Sort by key then RANK; the first row of each key is kept. A key column the table lacks is one value."""
    order, keep, kept_row, differs = marks(table)
    return Dedup(table, order, keep, kept_row, differs)


def changes(before: pa.Array, after: pa.Array) -> np.ndarray:
    """Where each value of `after` is another than the one `before` it: a value left null (not recorded, which the
    schema allows of a box, a size, a scaler) is one value of its own, the same as another null and not any value."""
    differ = pc.not_equal(before, after)
    if differ.null_count:
        differ = pc.if_else(pc.is_null(differ), pc.xor(pc.is_null(before), pc.is_null(after)), differ)
    return differ.to_numpy(zero_copy_only=False)


def marks(table: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The rows in dedupe's order (SORT_ORDER, then RANK), and in that order each row's marks: kept (the first of its
    key), the position of its key's kept row, scored values that differ from it. Only the columns sorted on, then the
    key's and the scored ones one at a time, are laid out in that order: never a sorted copy of the whole table (at
    3,000,000 rows its copies, not its rows, decided training's peak memory: bench/README.md, "Scale")."""
    by = [c for c in (*SORT_ORDER, *RANK) if c in table.column_names]
    order = pc.sort_indices(table.select(by), [(c, "ascending") for c in by]).to_numpy()
    n = table.num_rows
    starts = np.zeros(n, dtype=bool)
    starts[:1] = True
    for name in (c for c in KEY if c in table.column_names):
        col = table[name].take(order).combine_chunks()
        starts[1:] |= changes(col.slice(0, n - 1), col.slice(1))
    kept_row = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    differs = np.zeros(n, dtype=bool)
    for name in SCORED:
        values = table[name].take(order).to_numpy()
        differs |= values != values[kept_row]
    return order, starts, kept_row, differs


def kept_rows(table: pa.Table) -> tuple[np.ndarray, int]:
    """The rows of the table without its duplicates (conflicts stay), in the canonical order, and how many were
    dropped (`take_in_place` takes them)."""
    order, keep, _, differs = marks(table.append_column("_row", pa.array(np.arange(table.num_rows, dtype=np.int64))))
    dup = ~keep & ~differs
    return order[~dup], int(dup.sum())


def take_in_place(tables: list[pa.Table], rows: np.ndarray) -> None:
    """`tables[0]` replaced by its `rows`, taken a column at a time, each column let go as its copy is made: the
    caller hands the table over in a list it keeps no other name for, so the peak is the table and one column, not
    two tables (1.2 GiB more at 3,000,000 rows). Rows in order, all of them: the table as it is."""
    if len(rows) == tables[0].num_rows and (rows[1:] > rows[:-1]).all():
        return
    schema, columns = tables[0].schema, []
    for name in schema.names:
        columns.append(tables[0][name].take(rows))
        tables[0] = tables[0].drop_columns([name])
    tables[0] = pa.Table.from_arrays(columns, schema=schema)
