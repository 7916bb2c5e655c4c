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
        """The file's rows, one member at a time: seed, fold, the row's identity, its teacher score and prediction."""
        for m in self.members:  # taken as the corpus holds them (arrow's strings: no Python string a row)
            part = self.identity.take(m.rows).reset_index(drop=True)
            part.insert(0, "fold", np.full(len(m.rows), m.fold, dtype=np.int32))
            part.insert(0, "seed", np.full(len(m.rows), m.seed, dtype=np.int32))
            yield part.assign(vmaf=self.target[m.rows], pred=m.pred)

    def frame(self) -> pd.DataFrame:
        """The whole file as one table (small corpora, tests: a large one is written by `write`)."""
        parts = list(self.parts())
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
            {"seed": pd.Series(dtype=np.int32), "fold": pd.Series(dtype=np.int32)})

    def write(self, fh: IO[bytes]) -> None:
        """predictions.parquet to `fh`, a row group per member: the table `frame` gives, without making it whole."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self.members:
            self.frame().to_parquet(fh, index=False)
            return
        writer: pq.ParquetWriter | None = None
        try:
            for part in self.parts():
                table = pa.Table.from_pandas(part, preserve_index=False,
                                             schema=writer.schema if writer is not None else None)
                if writer is None:
                    writer = pq.ParquetWriter(fh, table.schema)
                writer.write_table(table)
        finally:
            if writer is not None:
                writer.close()
