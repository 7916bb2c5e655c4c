"""The names people read for a corpus's sources: a name no other source carries as it is; names that clash get the
first SHORT_ID hex digits of each sha256 (`intro~3fa2c1`, more where those do not tell them apart); a source recorded
under several names is shown under the least. Every reader that shows sources or groups rows by name takes them here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # light commands read the verdict's records
    import pandas as pd
    import pyarrow as pa

SHORT_ID = 6  # hex digits of src_sha256 added to a name that clashes
SEPARATOR = "~"


def source_names(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """src_sha256 -> the name shown for that source, for every (src_sha256, src) pair of a corpus."""
    given: dict[str, str] = {}
    for sha, src in pairs:
        if sha not in given or src < given[sha]:
            given[sha] = src
    uses = Counter(given.values())
    for width in range(SHORT_ID, 65):
        shown = {sha: f"{src}{SEPARATOR}{sha[:width]}" if uses[src] > 1 else src for sha, src in given.items()}
        if len(set(shown.values())) == len(shown):
            break
    return shown


def with_names(table: pa.Table) -> pa.Table:
    """The table with every row's `src` replaced by its source's name."""
    import pyarrow as pa
    import pyarrow.compute as pc

    pairs = table.select(["src_sha256", "src"]).group_by(["src_sha256", "src"]).aggregate([])
    found = list(zip(pairs["src_sha256"].to_pylist(), pairs["src"].to_pylist(), strict=True))
    names = source_names(found)
    if all(names[sha] == src for sha, src in found):
        return table
    keys = sorted(names)
    col = pc.take(pa.array([names[k] for k in keys], pa.string()),
                  pc.index_in(table["src_sha256"], value_set=pa.array(keys, pa.string())))
    return table.set_column(table.column_names.index("src"), "src", col)


def named_frame(df: pd.DataFrame) -> pd.DataFrame:
    names = source_names(zip(df["src_sha256"].astype(str), df["src"].astype(str), strict=True))
    return df.assign(src=df["src_sha256"].astype(str).map(names))
