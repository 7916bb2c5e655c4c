"""The corpus's column names and versions that need no table library: what a plan fingerprints (a job's rows'
version, the features it stores) without loading pyarrow, so `status`, which plans every step, stays light.
kit.corpus.schema builds the parquet schema from them. Each score's plausible range is declared here once
(`PLAUSIBLE`) and judged by one function (`implausible`): a job's parse of libvmaf's log (kit.corpus.jobs), the
shard it is assembled into, `verify` of a box's tarball and the lead's merge (kit.corpus.schema.validate_table)
all ask it, so a box never sends what its lead refuses."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kit.media import libvmaf

if TYPE_CHECKING:  # numpy loads when values are judged: `status` imports this module
    import numpy as np

# the features a corpus row stores are kit.media.libvmaf.TABLE's, in its order: a row added there is a new schema
CORPUS_FEATURES = libvmaf.FEATURES  # the canonical six: every row holds them
EXTRA_FEATURES = libvmaf.EXTRA_FEATURES  # measured only when an input set needs them; null on every other row
TEACHER_FEATURES = libvmaf.TEACHER_FEATURES  # the teacher's own six, where it has them (NEG); null on every other row
# of a job's rows (kit.corpus.schema.JOB_SCHEMA), which its ledger names; a job of version 4 written before the
# teacher's own six (corpus schema 6) reads with them null (kit.corpus.jobs.read_job_rows)
JOB_ROWS_VERSION = 4
# a row's box where none was recorded (null, which the schema allows) or the corpus has no box column, as the verdict's
# figures by box and --holdout box group it (the catalogue's "no box")
NO_BOX = "unknown"
VMAF_RANGE = (0.0, 100.0)  # the teacher's scale: a score, or a prediction, outside it is out of range
# each score's plausible range: a value outside is a damaged or hand-made row, or a libvmaf that is broken
PLAUSIBLE: dict[str, tuple[float, float]] = {**{f.name: f.plausible for f in libvmaf.CANONICAL}, "vmaf": VMAF_RANGE,
                                             **{f.name: f.plausible for f in libvmaf.OPT_IN},
                                             **{own: f.plausible for own, f in zip(TEACHER_FEATURES, libvmaf.CANONICAL,
                                                                                   strict=True)}}


def implausible(name: str, values: np.ndarray | Sequence[float]) -> tuple[int, float] | None:
    """The first of a score column's `values` that is not finite or lies outside its PLAUSIBLE range, the bounds
    themselves taken (its index and the value); None when each is one a libvmaf that works writes."""
    import numpy as np

    lo, hi = PLAUSIBLE[name]
    at = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        hits = np.flatnonzero(~(np.isfinite(at) & (at >= lo) & (at <= hi)))
    return (int(hits[0]), float(at[hits[0]])) if len(hits) else None


def range_words(name: str, value: float) -> str:
    """Why `value` of score column `name` is refused, read after it: `is outside [0, 2], the plausible range`."""
    if not math.isfinite(value):
        return "is not finite"
    lo, hi = PLAUSIBLE[name]
    return f"is outside [{lo:g}, {hi:g}], the plausible range"


def range_problem(name: str, value: float) -> str:
    """`7.0 is outside [0, 2], the plausible range`: how every reader of a corpus says a score it refuses."""
    return f"{value} {range_words(name, value)}"


def log_implausible(log: libvmaf.VmafLog) -> tuple[str, int, float] | None:
    """The first score of a libvmaf log past its PLAUSIBLE range (its column, frame and value), read as a job's rows
    would hold it: the teacher's score, the canonical six, the opt-in features and the teacher's own six measured."""
    held = [("vmaf", log.vmaf), *((name, log.features[:, i]) for i, name in enumerate(CORPUS_FEATURES)),
            *((name, log.extra[:, i]) for i, name in enumerate(EXTRA_FEATURES) if log.extra is not None),
            *((name, log.own[:, i]) for i, name in enumerate(TEACHER_FEATURES) if log.own is not None)]
    return next(((name, *found) for name, values in held if (found := implausible(name, values)) is not None), None)
