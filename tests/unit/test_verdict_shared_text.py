"""The verdict holds its corpus's text as shared strings (kit.corpus.training.shared_text) where it held arrow's
text: every figure, name and order of the assessment must be the one the plain read gives, and every frame it writes
the same bytes, on unions of several boxes with unicode and case-different names, a shared content group, rows in and
out of the corpus's order, a missing prediction, rows whose box is not recorded, clips and --holdout encoder and box."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from kit.corpus.columns import NO_BOX
from kit.corpus.dedup import KEY, changes, kept_rows
from kit.corpus.schema import CORPUS_ROW, REQUIRED
from kit.corpus.training import arrow_text, training_corpus
from kit.infra.parquet import write_frame, write_whole
from kit.steps.s04_verdict import BESIDE, corpus_rows
from kit.verdict.assess import Predicted, assess
from kit.verdict.intervals import META
from tests.kitfiles import shard_table, write_shard

NAMES = ["ä-src", "Zeta", "alpha", "Ωmega", "b", "B", "a b", "日本", "é", "e\u0301"]
ENCODERS = ["libx264", "libx265", "h264_nvenc", "libsvtav1"]


def union(path: Path, rng: np.random.Generator, shuffled: bool, unrecorded: bool) -> Path:
    parts = []
    for b, box in enumerate(("boxa", "boxb", "boxc")):
        part = shard_table(n_src=4, rows_per_src=int(rng.integers(20, 50)), box=box, seed=b).to_pandas()
        part["encoder"] = rng.choice(ENCODERS[:2 + b], len(part))
        part["src"] = part["src"].map({s: NAMES[int(rng.integers(0, len(NAMES)))] for s in part["src"].unique()})
        if unrecorded and box == "boxc":
            part.loc[part.index[:len(part) // 2], "box_id"] = None
        parts.append(part)
    rows = pd.concat(parts, ignore_index=True)
    shas = sorted(rows["src_sha256"].unique())
    rows.loc[rows["src_sha256"] == shas[1], "content"] = shas[0]  # two sources of one content
    if shuffled:
        rows = rows.sample(frac=1, random_state=int(rng.integers(0, 2**16))).reset_index(drop=True)
    schema = shard_table().schema
    return write_shard(path, pa.Table.from_pandas(rows[schema.names], schema=schema, preserve_index=False))


def meta_of(path: Path, shared: bool) -> pd.DataFrame:
    """The corpus rows as the verdict step holds them (corpus_rows), or as 2.6.1 read them (its text as arrow holds
    it), each value not recorded filled by the same rule."""
    if shared:
        return corpus_rows(path)
    meta, _ = training_corpus(path, tuple(BESIDE))
    meta = meta.assign(**{c: v for c, v in BESIDE.items() if c not in meta.columns}).set_index(CORPUS_ROW, drop=False)
    meta = meta[[c for c in meta.columns if c in (*META, "vmaf", CORPUS_ROW)]]
    return meta.assign(box_id=meta["box_id"].fillna(NO_BOX))


def read_back(frame: pd.DataFrame) -> pd.DataFrame:
    fh = io.BytesIO()
    frame.to_parquet(fh, index=False)
    return pd.read_parquet(io.BytesIO(fh.getvalue()))


@pytest.mark.parametrize("seed", range(6))
def test_the_assessment_on_shared_text_is_the_plain_reads(seed: int, tmp_path: Path) -> None:
    rng = np.random.default_rng(seed)
    path = union(tmp_path / "c.parquet", rng, shuffled=seed % 2 == 1, unrecorded=seed >= 3)
    plain, shared = meta_of(path, False), meta_of(path, True)
    assert shared["src_sha256"].dtype.storage == "python" and plain["src_sha256"].dtype.storage == "pyarrow"
    n = len(plain)
    held = np.arange(n) if seed % 3 else rng.permutation(n)
    predictions = pd.DataFrame({"seed": np.repeat([0, 1], n), CORPUS_ROW: np.tile(held, 2)})
    predictions["vmaf"] = plain["vmaf"].loc[predictions[CORPUS_ROW]].to_numpy()
    predictions["pred"] = predictions["vmaf"] + rng.normal(0, 3, len(predictions))
    if seed == 3:
        predictions.loc[predictions.index[:5], "pred"] = np.nan  # a source a seed did not predict
    first = plain.assign(pred=predictions[predictions["seed"] == 0].set_index(CORPUS_ROW)["pred"])
    clips = read_back(pd.concat([first.groupby(["src_sha256", "encoder", "cq", "enc_width", "enc_height"]).agg(
        vmaf_mean=("vmaf", "mean"), pred_from_mean_features=("pred", "mean"), n_frames=("vmaf", "size"))
        .reset_index().assign(seed=s) for s in (0, 1)], ignore_index=True))  # as clips.parquet is read
    holdouts = {kind: read_back(predictions.assign(heldout=plain[column].loc[predictions[CORPUS_ROW]].to_numpy(),
                                                   scheme="leave-one-out").iloc[:len(predictions) * 9 // 10])
                for kind, column in (("encoder", "encoder"), ("box", "box_id"))}
    want, got = (assess(Predicted.of(predictions, meta), meta, clips, holdouts, 0.95) for meta in (plain, shared))
    for field in dataclasses.fields(want):
        a, b = getattr(want, field.name), getattr(got, field.name)
        if isinstance(a, pd.DataFrame):
            pd.testing.assert_frame_equal(arrow_text(b), a)
            written = [io.BytesIO(), io.BytesIO()]
            write_whole(a, written[0])
            write_frame(b, written[1], arrow_text)
            assert written[0].getvalue() == written[1].getvalue(), field.name
        else:
            assert repr(b) == repr(a), field.name
    assert len(want.breakdown) > 10 and want.holdout and want.rows is not None
    if seed >= 3:  # the rows whose box is not recorded: a box of their own in the figures by box
        assert NO_BOX in {g.group for g in want.breakdown if g.by == "box"}


@pytest.mark.parametrize("every", [3, 1], ids=["some rows", "every row"])
@pytest.mark.parametrize("column", sorted(BESIDE))
def test_each_column_a_row_may_leave_unrecorded_is_judged_as_a_corpus_without_it(column: str, every: int,
                                                                                 tmp_path: Path) -> None:
    """Every corpus column the verdict reads that the schema lets a row leave null (BESIDE: the box and the sizes),
    null on some rows or on all: the rows say what a corpus without the column says (NO_BOX, a size of 0: not
    recorded), and the assessment is made, where 2.6.1 ended in an internal error (a box, an encode's size) or took a
    size not recorded for a height above 1080p."""
    rng = np.random.default_rng(5)
    path = union(tmp_path / "c.parquet", rng, shuffled=False, unrecorded=False)
    table = pd.read_parquet(path)
    gone = table.index[::every]
    table.loc[gone, column] = None
    table.to_parquet(path, index=False)
    meta = corpus_rows(path)
    said = meta[column].to_numpy()[np.isin(meta[CORPUS_ROW].to_numpy(), gone)]  # the rows read in their own order
    assert len(said) == len(gone) and (said == BESIDE[column]).all()
    assert meta[column].notna().all() and (column == "box_id" or meta[column].dtype == np.int32)
    predictions = pd.DataFrame({"seed": np.repeat([0, 1], len(meta)), CORPUS_ROW: np.tile(meta.index, 2)})
    predictions["vmaf"] = meta["vmaf"].loc[predictions[CORPUS_ROW]].to_numpy()
    predictions["pred"] = predictions["vmaf"] + rng.normal(0, 3, len(predictions))
    made = assess(Predicted.of(predictions, meta), meta, None, {}, 0.95)
    groups = {(g.by, g.group): g.n_frames for g in made.breakdown}
    if column == "box_id":
        assert groups[("box", NO_BOX)] == len(gone)
    if column == "height":  # no height: no resolution class, never one above 1080p
        assert groups[("resolution", "unknown")] == len(gone) and ("resolution", ">1080p") not in groups


@pytest.mark.parametrize("column", [c for c in KEY if c not in REQUIRED])
def test_the_duplicate_rule_takes_a_key_left_null_as_one_value_of_its_own(column: str) -> None:
    """Every key column the schema lets a row leave null: two rows null there and alike elsewhere are one key (the
    later dropped), a null and a value two keys; against pandas' duplicated, which takes a missing value as one."""
    table = shard_table(n_src=2, rows_per_src=30).to_pandas()
    table = pd.concat([table, table.iloc[:20]], ignore_index=True)  # 20 rows twice: duplicates
    table.loc[table.index[::2], column] = None  # the copies too: 10 of them null where their first is null
    table.loc[table.index[-5::2], column] = None  # and 3 copies null where their first holds a value: two keys
    arrow = pa.Table.from_pandas(table, schema=shard_table().schema, preserve_index=False)
    kept, dropped = kept_rows(arrow)
    present = [c for c in KEY if c in table.columns]
    assert dropped == int(table.duplicated(present).sum()) > 0
    assert sorted(kept.tolist()) == table.index[~table.duplicated(present)].tolist()


@pytest.mark.parametrize("kind", [pa.string(), pa.int32()])
def test_a_null_is_the_same_as_a_null_and_another_than_any_value(kind: pa.DataType) -> None:
    """kit.corpus.dedup.changes, each pair of the four: value and value, null and null, value and null, null and
    value (the sorted keys a null meets beside a value)."""
    values = ["a", "b"] if kind == pa.string() else [1, 2]
    before = pa.array([values[0], values[0], None, values[0], None], kind)
    after = pa.array([values[0], values[1], None, None, values[1]], kind)
    assert changes(before, after).tolist() == [False, True, False, True, True]
