"""A corpus as training reads it: the training columns of a shard or merged corpus, validated (kit.corpus.schema),
in the canonical row order, its duplicate rows dropped by the merge's rule (kit.corpus.dedup)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kit.corpus.dedup import KEY, SCORED, kept_rows, take_in_place
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
from kit.infra.parquet import parquet_columns, read_parquet
from kit.infra.resources import give_back_memory
from kit.media.libvmaf import CANONICAL6, CANONICAL6_V1, EXTRA_SAID

if TYPE_CHECKING:
    import pandas as pd


def training_corpus(path: Path, extra_columns: tuple[str, ...] = (),
                    measured: tuple[str, ...] = ()) -> tuple[pd.DataFrame, int]:
    """(the training columns, validated, in ROW_ORDER with their CORPUS_ROW; how many duplicates were dropped). The
    corpus's teacher (TEACHER_COLUMNS, one for every row) comes along where the file records it: it is the teacher the
    loso step proves and distils (kit.model.teacher_fn.prove), never the kit's default; so do the teacher's own six
    (TEACHER_FEATURES) where its rows have them (NEG's), which the loso step proves it on."""
    stored = parquet_columns(path)
    names = [*stored, *(() if "content" in stored else ("content",))]
    missing = [c for c in TRAIN_COLUMNS if c not in names]
    if missing:
        raise InputError(f"{path}: corpus lacks column {missing[0]!r}",
                         hint="the file is not a corpus shard of the kit; re-create it with the kit or merge it")
    check_measured(path, stored, measured)
    wanted = list(dict.fromkeys([*TRAIN_COLUMNS, *measured, *(c for c in extra_columns if c in names)]))
    older = "enc_width" not in stored  # schema 1-3 (kit.corpus.rungs)
    read = [*wanted, *ROW_ORDER, *KEY, *SCORED, *TEACHER_COLUMNS, *TEACHER_FEATURES,
            *(("quality_args",) if older else ())]
    table = read_parquet(path, [c for c in dict.fromkeys(read) if c in stored])
    if older:
        table = vt_cq_received(table)[0]
    table = table.append_column(CORPUS_ROW, pa.array(np.arange(table.num_rows, dtype=np.int64)))
    if "content" not in stored:
        table = with_content(table)
    wanted = list(dict.fromkeys([*wanted, *teacher_columns(table, str(path))]))
    validate_table(table.select(wanted), str(path))
    check_one_group_each(table, str(path))
    kept, duplicates = kept_rows(table)
    held = [table.select([*wanted, CORPUS_ROW])]  # the one name of the table from here: taken in place
    del table
    take_in_place(held, kept)
    frame = with_names(held.pop()).to_pandas()
    give_back_memory()  # what the read and the duplicate rule left in arrow's pool
    return frame, duplicates


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
