"""Schema 4's rung columns and the cq a row's encoder received, for rows of older layouts: encoded at the reference's
size (`width`/`height`, 0 where none is recorded; scalers ""), and a VideoToolbox row's `cq` the `-q:v` its
`quality_args` recorded (else the old mapping, `clamp(100 - 2 cq, 1, 100)`).
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from kit.platforms.encoders import SPECS

RUNG_COLUMNS = ("enc_width", "enc_height", "scaler_down", "scaler_up")
VT_ENCODERS = tuple(name for name, spec in SPECS.items() if spec.family == "videotoolbox")
_QV = re.compile(r"-q:v\s+([0-9]{1,3})\b")


def with_rungs(table: pa.Table) -> pa.Table:
    """The table with its rung columns whole: added or, where null, filled as the rows of an older layout."""
    zero = pa.scalar(0, pa.int32())
    fills = {"enc_width": ("width", zero), "enc_height": ("height", zero),
             "scaler_down": (None, pa.scalar("")), "scaler_up": (None, pa.scalar(""))}
    for name, (source, empty) in fills.items():
        base = (pc.coalesce(pc.cast(table[source], pa.int32()), empty) if source in table.column_names else
                pa.array([empty.as_py()] * table.num_rows, type=empty.type))
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, pc.coalesce(table[name], base))
        else:
            table = table.append_column(name, base)
    return table


def received_vt_cq(cq: int, quality_args: str | None) -> int:
    """The -q:v a VideoToolbox row of an older layout was encoded with."""
    if quality_args and (m := _QV.search(quality_args)):
        return int(m.group(1))
    return min(100, max(1, 100 - 2 * cq))


def vt_cq_received(table: pa.Table) -> tuple[pa.Table, int]:
    """(the table with its VideoToolbox rows' cq as received, how many rows changed)."""
    mask = pc.is_in(table["encoder"], value_set=pa.array(VT_ENCODERS)).to_numpy(zero_copy_only=False)
    if not mask.any():
        return table, 0
    cqs = table["cq"].to_pylist()
    args = table["quality_args"].to_pylist() if "quality_args" in table.column_names else [None] * len(cqs)
    new = [received_vt_cq(int(c), a) if m else c for c, a, m in zip(cqs, args, mask, strict=True)]
    col = pa.array(new, type=table.schema.field("cq").type)
    return table.set_column(table.column_names.index("cq"), "cq", col), int(mask.sum())
