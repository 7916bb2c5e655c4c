"""03_loso/predictions.parquet: every held-out frame's prediction by every member, kept as the member's rows and its
predictions until written, the rows' identity taken from the corpus's columns then, one member at a time (at 10,000
contents the file is 15,000,000 rows of a dozen columns: made whole in memory before writing, it alone took 4 GiB)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

import numpy as np
import pandas as pd

from kit.corpus.rungs import RUNG_COLUMNS
from kit.corpus.schema import CORPUS_ROW
from kit.corpus.training import as_text

# what predictions.parquet says of each held-out row besides its figures, with the key back to its corpus row
ROW_IDENTITY = (CORPUS_ROW, "src", "src_sha256", "content", "box_id", "encoder", "preset", "enc_pix_fmt", "cq",
                "frame_index", "device", *RUNG_COLUMNS)


@dataclass(frozen=True)
class Predicted:
    """One member's predictions: its seed, its fold and the corpus rows the fold holds out (sorted), in their order."""

    seed: int
    fold: int
    rows: np.ndarray
    pred: np.ndarray


@dataclass(frozen=True)
class HeldPredictions:
    """Every member's held-out predictions, in the members' order, beside the corpus they index (`identity`: its
    ROW_IDENTITY columns, `target`: its teacher scores)."""

    identity: pd.DataFrame
    target: np.ndarray
    members: list[Predicted] = field(default_factory=list)

    @classmethod
    def of(cls, df: pd.DataFrame, target: np.ndarray) -> HeldPredictions:
        return cls(df[[c for c in ROW_IDENTITY if c in df.columns]], target)

    def add(self, seed: int, fold: int, rows: np.ndarray, pred: np.ndarray) -> None:
        self.members.append(Predicted(seed, fold, rows, pred))

    def __len__(self) -> int:
        return sum(len(m.rows) for m in self.members)

    def parts(self) -> Iterator[pd.DataFrame]:
        """The file's rows, one member at a time: seed, fold, the row's identity, its teacher score and prediction.
        Each identity column is typed as a table built from its values gives it (the file's types since 2.0): a
        number's or a text's with a value is taken as the corpus holds it (arrow's strings, no Python string a row);
        any other (a text column with no value at all, a categorical) from its values, as before."""
        taken = [c for c in self.identity.columns if as_held(self.identity[c]) or coded(self.identity[c])]
        made = {c: self.identity[c].to_numpy() for c in self.identity.columns if c not in taken}
        for m in self.members:
            kept = as_text(self.identity[taken].take(m.rows).reset_index(drop=True))
            columns = {c: kept[c] if c in taken else made[c][m.rows] for c in self.identity.columns}
            yield pd.DataFrame({"seed": np.full(len(m.rows), m.seed, dtype=np.int32),
                                "fold": np.full(len(m.rows), m.fold, dtype=np.int32), **columns,
                                "vmaf": self.target[m.rows], "pred": m.pred})

    def frame(self) -> pd.DataFrame:
        """The whole file as one table (small corpora, tests: a large one is written by `write`)."""
        parts = list(self.parts())
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
            {"seed": pd.Series(dtype=np.int32), "fold": pd.Series(dtype=np.int32)})

    def write(self, fh: IO[bytes]) -> None:
        """predictions.parquet to `fh`, a row group per member: the table `frame` gives, without making it whole."""
        import pyarrow as pa

        from kit.infra.parquet import table_writer, write_whole

        parts = self.parts()
        if (first := next(parts, None)) is None:
            write_whole(self.frame(), fh)
            return
        table = pa.Table.from_pandas(first, preserve_index=False)  # the first member's types are the file's
        with table_writer(fh, table.schema) as writer:
            writer.write_table(table)
            for part in parts:
                writer.write_table(pa.Table.from_pandas(part, preserve_index=False, schema=table.schema))


def coded(column: pd.Series) -> bool:
    """Whether the column is text held as codes (kit.corpus.training.coded_frame) with a value: taken as its text."""
    return isinstance(column.dtype, pd.CategoricalDtype) and column.cat.categories.dtype == "str" \
        and bool(column.notna().any())


def as_held(column: pd.Series) -> bool:
    """Whether a table built from the column's values types it as the column is typed: a number of numpy's, or text
    of the type a table infers for text, with a value (a column of no value is typed from its values: null)."""
    t = column.dtype
    if isinstance(t, np.dtype):
        return t.kind in "biuf"
    return t == pd.Series(["text"]).dtype and bool(column.notna().any())
