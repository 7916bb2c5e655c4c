"""The breakdown's groups are found on codes (kit.verdict.breakdown.group_codes), each name made once: the same codes
and names as factorizing every row's label, sorted, on frames drawn with what real unions hold (missing sizes, a NaN
height, cq values whose labels sort apart from their numbers, names that differ only in case)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kit.verdict.breakdown import GROUPINGS, LABELLED_BY, group_codes, group_labels, parts, positions


def frame(seed: int, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    heights = rng.choice([0, 144, 240, 360, 480, 720, 1080, 2160, np.nan], n)
    return pd.DataFrame({
        "encoder": rng.choice(["libx264", "h264_nvenc", "libx265", "Libx264"], n),
        "box_id": rng.choice(["box-a", "box-b", "unknown"], n),
        "src": rng.choice([f"clip{k}" for k in range(25)], n),
        "height": heights,
        "enc_height": np.where(rng.random(n) < 0.5, heights, rng.choice([0, 240, 540, 720], n)),
        "cq": rng.choice([3, 10, 25, 30, 51], n),
        "pred": rng.random(n), "vmaf": rng.random(n)})


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("by", GROUPINGS)
def test_each_row_s_group_code_is_its_label_s(seed: int, by: str) -> None:
    rows = frame(seed)
    if seed == 5:  # sizes not recorded: a corpus made by hand
        rows = rows.drop(columns=["enc_height"])
    codes, names = group_codes(rows, by)
    want_codes, want_names = pd.factorize(group_labels(rows, by), sort=True)
    # a label is of the columns group_codes keys it by, and no other
    assert group_labels(rows[[c for c in LABELLED_BY[by] if c in rows]], by).tolist() == group_labels(rows, by).tolist()
    assert list(names) == list(want_names) and np.array_equal(codes, want_codes)
    seen = [(name, rows.index[at].tolist()) for name, at in parts(rows, by)]
    want = [(str(name), part.index.tolist()) for name, part in rows.groupby(group_labels(rows, by), sort=True)]
    assert seen == want


@pytest.mark.parametrize("seed", range(4))
def test_each_code_s_positions_are_a_groupby_s_part_a_missing_key_in_none(seed: int) -> None:
    """The consumer's groups (kit.verdict.consumer.consumer_groups) are factorized keys, a missing one -1: each
    group's positions in their order are its groupby part's, and a row of a missing key is in no group (as groupby
    drops it)."""
    rng = np.random.default_rng(seed)
    keys = pd.Series(rng.choice(["b", "a", None, "c"], 200 + seed))
    codes, names = pd.factorize(keys)
    seen = {str(names[code]): at.tolist() for code, at in positions(codes, len(names))}
    want = {str(name): part.index.tolist() for name, part in pd.DataFrame({"k": keys}).groupby("k")}
    assert seen == want and -1 in codes


def test_no_rows_have_no_groups() -> None:
    codes, names = group_codes(frame(0).iloc[:0], "quality")
    assert len(codes) == 0 and len(names) == 0


@pytest.mark.parametrize("seed", range(4))
def test_each_row_s_rung_is_its_own_sizes_label(seed: int) -> None:
    """The rungs are labelled once per pair of sizes (kit.corpus.summary.rung_codes): each row's label is
    kit.media.ladder.rung_label of its own sizes, a missing size read as 0; a frame without sizes is all `native`."""
    from kit.corpus.summary import row_rungs, rung_labels
    from kit.media.ladder import NATIVE, rung_label

    rows = frame(seed)
    plain = [rung_label(int(e), int(h)) for e, h in zip(rows["enc_height"].fillna(0), rows["height"].fillna(0),
                                                        strict=True)]
    assert rung_labels(rows).tolist() == plain and set(row_rungs(rows)) == set(plain)
    assert rung_labels(rows.drop(columns=["height"])).tolist() == [NATIVE] * len(rows)
    assert row_rungs(rows.iloc[:0]) == [] == row_rungs(rows.drop(columns=["height"]).iloc[:0])


@pytest.mark.parametrize("seed", range(5))
def test_the_consumer_s_groups_are_a_plain_groupby_s_figures(seed: int) -> None:
    """consumer_groups on factorized keys and arrays against pandas' groupby of the same rows, each part's figures
    taken from its frame: missing keys (left out), a missing ceiling or window, `longer` missing in places, a NaN
    prediction (the worst encode), every grouping."""
    from kit.verdict.consumer import GROUPINGS as BY
    from kit.verdict.consumer import consumer_groups, content_names, figures
    from kit.verdict.document import ConsumerGroup

    rng = np.random.default_rng(seed)
    n = 300
    teacher = rng.uniform(20, 100, n)
    counted = pd.DataFrame({
        "content": rng.choice(["k1", "k2", "k3", "k4"], n), "src": rng.choice(["a", "b", "c"], n),
        "encoder": rng.choice(["libx264", "h264_nvenc", None], n), "cq": rng.choice([10, 25, 51], n),
        "enc_width": rng.choice([640, 320], n), "enc_height": rng.choice([360, 180], n),
        "rung": rng.choice(["native", "0.50x", None], n), "crf_band": rng.choice(["10-20", "21-30", None], n),
        "teacher": teacher, "predicted": teacher + rng.normal(0, 2, n),
        "ceiling": np.where(rng.random(n) < 0.1 * seed, np.nan, teacher + rng.normal(0, 1, n)),
        "window_predicted": teacher + rng.normal(0, 2, n), "window_teacher": teacher,
        "window_ceiling": teacher + rng.normal(0, 1, n),
        "longer": pd.array(rng.choice([True, False, None], n), dtype="boolean")})
    counted.loc[rng.integers(0, n), "predicted"] = np.nan
    names = content_names(counted)
    plain = []
    for by in BY:
        key = counted["content"].map(names) if by == "content" else counted[by]
        plain += [ConsumerGroup(by, str(name), **figures(part, 1.5)) for name, part in counted.groupby(key)]
    said = consumer_groups(counted, 1.5)
    assert sorted(map(repr, said)) == sorted(map(repr, plain)) and len(said) == len(plain)
