"""The independent check's line names at most MOST_LISTED of each kind, then how many more: a union of 50,000
contents no check covers listed every one in one line of merge's output and the verdict's summary."""

from __future__ import annotations

import math

from kit.corpus.oracle import MOST_LISTED, ORACLE_FRAMES, TOLERANCE, IndependentCheck


def check(unchecked: int, refused: int = 0) -> IndependentCheck:
    return IndependentCheck(ORACLE_FRAMES, TOLERANCE, 0, math.nan, "", [f"r{i}.mp4: why" for i in range(refused)],
                            [f"c{i:05d}" for i in range(unchecked)], [])


def test_a_short_list_is_said_whole_and_a_long_one_its_first_names_and_the_count_left() -> None:
    assert check(3).text == "no clip checked; none refused; not checked: c00000, c00001, c00002"
    whole = check(MOST_LISTED).text
    assert whole.endswith(f"c{MOST_LISTED - 1:05d}") and "more" not in whole
    long = check(50_000, refused=MOST_LISTED + 2).text
    assert long.endswith(f"c{MOST_LISTED - 1:05d}, and {50_000 - MOST_LISTED:,} more (each named in the check's "
                         "record)")
    assert f"refused {MOST_LISTED + 2}: r0.mp4: why; " in long and "; and 2 more (each named" in long
    assert len(long) < 1_000 and len(check(50_000).unchecked) == 50_000  # the record keeps them all
