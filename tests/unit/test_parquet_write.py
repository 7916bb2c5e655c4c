"""kit.infra.parquet.write_frame writes a frame a row group at a time, each group's rows made into a table of their
own (the verdict's text given arrow's storage a group at a time): the file must be the bytes `to_parquet` writes of
the whole frame, for every kind of column the verdict writes, at any number of rows, and at pyarrow's own group
size; a frame with a column of Python objects, whose type arrow guesses from its values, is written whole."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kit.corpus.training import arrow_text, shared_text
from kit.infra.parquet import TABLE_OPTIONS, WRITE_ROWS, write_frame, write_table, write_whole

HEXES = np.array([f"{i:064x}" for i in range(0, 2**40, 2**40 // 97)], dtype=object)


def frame_of(rng: np.random.Generator, n: int, missing: bool) -> pd.DataFrame:
    """Text (hashes, short words), a categorical of text, integers of two widths and floats, as the verdict writes."""
    frame = pd.DataFrame({
        "src_sha256": pd.Series(HEXES[rng.integers(0, len(HEXES), n)], dtype="str"),
        "encoder": pd.Series(rng.choice(["libx264", "h264_nvenc", "é"], n), dtype="str"),
        "cq": rng.integers(10, 52, n).astype(np.int32), "corpus_row": np.arange(n, dtype=np.int64),
        "pred": rng.normal(60, 20, n), "unbounded": pd.Categorical(rng.choice(["", "97.5"], n)),
        "within": rng.random(n) < 0.5, "judged": pd.array(rng.random(n) < 0.5, dtype="boolean")})
    if missing and n:
        at = rng.integers(0, n, max(1, n // 7))
        frame.loc[at, "src_sha256"] = np.nan
        frame.loc[at[::2], "pred"] = np.nan
        frame.loc[at[1::2], "judged"] = pd.NA
    return frame


def written(write: object) -> bytes:
    fh = io.BytesIO()
    write(fh)  # type: ignore[operator]
    return fh.getvalue()


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 60), rows=st.integers(1, 17), missing=st.booleans(), seed=st.integers(0, 2**16))
def test_the_frame_written_by_groups_is_the_whole_frames_file(n: int, rows: int, missing: bool, seed: int) -> None:
    frame = frame_of(np.random.default_rng(seed), n, missing)
    want = written(lambda fh: frame.to_parquet(fh, index=False, row_group_size=rows, **TABLE_OPTIONS))
    assert written(lambda fh: write_frame(frame, fh, rows=rows)) == want
    texts = ["src_sha256", "encoder"]  # held as the verdict holds them, given arrow's storage a group at a time
    shared = frame.assign(**shared_text(frame[texts]))
    assert written(lambda fh: write_frame(shared, fh, arrow_text, rows=rows)) == want
    if n and rows < n:  # the check can fail: the text's python storage written as it is makes another file
        assert written(lambda fh: write_frame(shared, fh, rows=rows)) != want


def test_at_pyarrows_own_group_size_over_several_groups() -> None:
    frame = frame_of(np.random.default_rng(3), 2 * WRITE_ROWS + 1234, missing=True)
    want = written(lambda fh: frame.to_parquet(fh, index=False, **TABLE_OPTIONS))
    shared = frame.assign(**shared_text(frame[["src_sha256", "encoder"]]))
    assert written(lambda fh: write_frame(shared, fh, arrow_text)) == want


def test_a_frames_attrs_are_refused_not_dropped() -> None:
    frame = frame_of(np.random.default_rng(1), 5, missing=False)
    frame.attrs["said"] = "x"
    with pytest.raises(ValueError, match="attrs"):
        write_frame(frame, io.BytesIO())


def test_a_column_of_python_objects_is_written_whole_as_to_parquet_writes_it() -> None:
    """arrow guesses an object column's type from its values (a group of all None: null), so the groups' tables would
    not agree: such a frame is written whole, the bytes to_parquet writes."""
    frame = pd.DataFrame({"o": np.array([None, None, 1, None, 2], dtype=object), "x": np.arange(5.0)})
    want = written(lambda fh: frame.to_parquet(fh, index=False, row_group_size=2, **TABLE_OPTIONS))
    got = written(lambda fh: write_frame(frame, fh, rows=2))  # one group below: to_parquet's own
    assert written(lambda fh: frame.to_parquet(fh, index=False, **TABLE_OPTIONS)) == got != want


def test_only_the_parquet_module_calls_to_parquet() -> None:
    """kit.infra.parquet writes every parquet file the kit writes, each page with its checksum (ruff's banned-api holds
    pyarrow's writers to it; pandas' method is no import, so this test reads the source for it)."""
    import ast

    kit = Path(__file__).resolve().parents[2] / "kit"
    calls = [f"{path.relative_to(kit.parent)}:{node.lineno}" for path in sorted(kit.rglob("*.py"))
             if path != kit / "infra" / "parquet.py"
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             if isinstance(node, ast.Attribute) and node.attr == "to_parquet"]
    assert calls == [], "write a frame by kit.infra.parquet.write_whole or write_frame (its pages' checksums)"


def test_the_writers_put_a_checksum_on_each_page() -> None:
    """A byte of a page flipped: the file the kit's writers make is refused naming the checksum; the same table written
    by to_parquet's defaults (no checksum) is read with the flipped byte as a value (the check can fail)."""
    frame = pd.DataFrame({"x": np.arange(1000, dtype=np.int64)})
    made = {"write_whole": written(lambda fh: write_whole(frame, fh)),
            "write_frame": written(lambda fh: write_frame(frame, fh)),
            "write_table": written(lambda fh: write_table(pa.Table.from_pandas(frame, preserve_index=False), fh)),
            "to_parquet": written(lambda fh: frame.to_parquet(fh, index=False))}
    for name, data in made.items():
        flipped = page_flipped(data)
        if name == "to_parquet":
            assert not pq.read_table(pa.BufferReader(flipped)).column("x").equals(pa.chunked_array([frame["x"]]))
            continue
        with pytest.raises(OSError, match="CRC checksum verification failed"):
            pq.ParquetFile(pa.BufferReader(flipped), page_checksum_verification=True).read()


def page_flipped(data: bytes) -> bytes:
    """`data` with the last byte of its first column chunk's pages flipped (a value of its last page)."""
    chunk = pq.ParquetFile(pa.BufferReader(data)).metadata.row_group(0).column(0)
    start = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
    damaged = bytearray(data)
    damaged[start + chunk.total_compressed_size - 1] ^= 0xFF
    return bytes(damaged)
