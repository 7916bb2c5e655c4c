"""The codec block kept as each row's slot and cq (kit.model.features.CodecRows): every way LOSO reads it gives the bits
codec_block gives, and what trains on it is the same table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kit.errors import InputError
from kit.model import features
from kit.model.batches import TrainData
from kit.model.contract import CODEC_DIM, CODEC_VOCAB
from kit.model.features import CodecRows, codec_block, codec_into, model_space
from kit.model.loso import LosoInputs
from tests.kitfiles import shard_table


def rows(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(0, 60))
    encoders = draw(st.lists(st.sampled_from(CODEC_VOCAB), min_size=n, max_size=n))
    cqs = draw(st.lists(st.one_of(st.integers(-5, 70).map(float), st.just(float("nan"))), min_size=n, max_size=n))
    return np.array(encoders, dtype=object), np.array(cqs, dtype=np.float64)


@settings(max_examples=60, deadline=None)
@given(st.data(), st.integers(1, 9))
def test_every_read_of_codec_rows_is_the_block_s_bits(data: st.DataObject, block_rows: int) -> None:
    encoders, cqs = data.draw(st.composite(rows)())
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(features, "BLOCK_ROWS", block_rows)  # made a few rows at a time, across any cut
        kept = CodecRows.of(encoders, cqs)
        whole = codec_block(encoders, cqs)
        # as the loso step's frame holds them: a categorical, categories no row holds (one without a slot: not
        # refused, no row has it)
        coded = pd.Series(pd.Categorical(encoders, categories=sorted({*encoders, "libsvtav1", "hevc_nvenc", "x266"})))
        made = CodecRows.of(coded, cqs)
        assert made.slots.tobytes() == kept.slots.tobytes() and made.cq.tobytes() == kept.cq.tobytes()
        assert kept[:].tobytes() == whole.tobytes() and np.asarray(kept).tobytes() == whole.tobytes()
        assert kept.shape == whole.shape and len(kept) == len(whole) and kept.slots.dtype == np.int8
        picks = data.draw(st.lists(st.integers(0, max(len(whole) - 1, 0)), max_size=20)) if len(whole) else []
        at = np.array(picks, dtype=np.int64)
        assert kept[at].tobytes() == whole[at].tobytes()  # positions, in any order, repeated
        mask = np.array(data.draw(st.lists(st.booleans(), min_size=len(whole), max_size=len(whole))), dtype=bool)
        assert kept[mask].tobytes() == whole[mask].tobytes()
        assert kept[2:7].tobytes() == whole[2:7].tobytes()
        for j in (*range(CODEC_DIM), -1):  # a column: what the spread's fit sums by encode
            assert kept[:, j].tobytes() == np.ascontiguousarray(whole[:, j]).tobytes(), j
            assert kept[at, j].tobytes() == np.ascontiguousarray(whole[at, j]).tobytes(), j
        out = np.full((len(whole), CODEC_DIM), -1.0)
        codec_into(out, kept)  # what ridge's moments are filled with, in float64
        assert out.tobytes() == whole.astype(np.float64).tobytes()
        assert kept.astype(np.float64).tobytes() == whole.astype(np.float64).tobytes()


@pytest.mark.parametrize("block_rows", [1, 2, 1 << 20])
def test_encoders_without_a_slot_are_refused_as_the_whole_block_refuses_them(block_rows: int,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Every name, all their rows, whichever of the blocks made a part at a time they fall in."""
    monkeypatch.setattr(features, "BLOCK_ROWS", block_rows)
    encoders = np.array(["libx264", "h264_amf", "libx265", "hevc_amf", "h264_amf"], dtype=object)
    cqs = np.array([20.0, 30.0, 25.0, 28.0, 22.0])
    with pytest.raises(InputError) as block:
        codec_block(encoders, cqs)
    with pytest.raises(InputError) as kept:
        CodecRows.of(encoders, cqs)
    assert kept.value.message == block.value.message and "(3 rows)" in kept.value.message, kept.value.message
    with pytest.raises(InputError) as coded:
        CodecRows.of(pd.Series(encoders, dtype="category"), cqs)
    assert coded.value.message == block.value.message


def test_a_row_reads_as_an_array_s_row_and_what_an_array_refuses_is_refused() -> None:
    kept = CodecRows.of(np.array(["libx264", "libx265"], dtype=object), np.array([20.0, 25.0]))
    assert kept[1].tobytes() == codec_block(np.array(["libx265"], dtype=object), np.array([25.0]))[0].tobytes()
    with pytest.raises(IndexError):
        kept[:, CODEC_DIM]
    with pytest.raises(AssertionError):
        kept.into(np.zeros((3, CODEC_DIM)))


def test_ridge_and_the_spread_s_sums_read_codec_rows_as_the_block() -> None:
    """ridge's moments (filled into a float64 slice of a wider table) and each encode's block summed for the
    spread: the same bits from CodecRows as from the block."""
    from kit.model.baselines import ridge_loso
    from kit.model.spread import encode_spreads

    df = shard_table(box="boxa").to_pandas()
    df["encoder"] = np.resize(np.array(CODEC_VOCAB, dtype=object), len(df))
    inputs = LosoInputs.of(df)
    whole = codec_block(df["encoder"].to_numpy(), df["cq"].to_numpy())
    assert ridge_loso(inputs.feats, inputs.codec, inputs.target, inputs.folds).to_json() == \
        ridge_loso(inputs.feats, whole, inputs.target, inputs.folds).to_json()
    codes = np.arange(len(df)) // 4
    raw = inputs.target + 0.5
    kept, made = (encode_spreads(raw, codes, inputs.feats.astype(np.float64), c) for c in (inputs.codec, whole))
    for a, b in zip(kept, made, strict=True):
        assert a.tobytes() == b.tobytes()


def test_loso_keeps_the_block_as_codec_rows_and_trains_on_the_same_table() -> None:
    df = shard_table(box="boxa").to_pandas()
    df["encoder"] = pd.Categorical(np.resize(np.array(CODEC_VOCAB), len(df)))  # every slot, as training codes text
    inputs = LosoInputs.of(df)
    assert isinstance(inputs.codec, CodecRows)
    whole = codec_block(df["encoder"].to_numpy(), df["cq"].to_numpy())
    assert np.asarray(inputs.codec).tobytes() == whole.tobytes()
    kept = TrainData.of(inputs.feats, inputs.codec, inputs.target)
    made = torch.cat([torch.from_numpy(model_space(inputs.feats)), torch.from_numpy(whole)], dim=1)  # 2.6.0's table
    assert kept.table.numpy().tobytes() == made.numpy().tobytes() and kept.table.is_contiguous()
    assert kept.target.numpy().tobytes() == inputs.target.astype(np.float32).tobytes()


def test_codec_rows_of_a_categorical_never_hold_the_column_as_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loso step's encoders are a categorical (kit.corpus.training.coded_frame): read as objects whole, with
    pandas' unique of them, they were 120 bytes a row, 1.7 GiB at 15,000,000 rows, a training task's peak; a part at a
    time from the codes, the same bits in under 9 bytes a row (CodecRows' own 5, the codes, a block at a time)."""
    import tracemalloc

    monkeypatch.setattr(features, "BLOCK_ROWS", 4_096)
    n = 300_000
    rng = np.random.default_rng(5)
    names = np.array(CODEC_VOCAB, dtype=object)[rng.integers(0, len(CODEC_VOCAB), n)]
    cqs = rng.integers(10, 52, n).astype(np.float64)
    coded = pd.Series(pd.Categorical(names))
    tracemalloc.start()
    try:
        made = CodecRows.of(coded, cqs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    plain = CodecRows.of(names, cqs)
    assert made.slots.tobytes() == plain.slots.tobytes() and made.cq.tobytes() == plain.cq.tobytes()
    assert peak <= 9 * n, peak / n
