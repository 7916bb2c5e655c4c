"""A per-source gate's worst value, as the summary's gate row prints it beside its threshold (issue 78): never rounded
onto the threshold or past it, whatever the threshold's decimals (before, every such value was printed `.1f`: an
|bias| of 0.03 under `<= 0.04` read `0.0`, an RMSE of 5.04 over `<= 5` read `5.0`)."""

from __future__ import annotations

import itertools

from kit.report.gatelines import beside_threshold, side


def test_a_worst_value_printed_beside_its_threshold_lies_on_the_side_the_gate_found() -> None:
    thresholds = [5.0, 10.0, 0.04, 5.04, 1.5, 0.005, 2.25, 1e-05, 100.0]
    offsets = [0.0, 1e-7, 4e-4, 0.004, 0.01, 0.04, 0.3, 2.0]
    for threshold, offset, sign in itertools.product(thresholds, offsets, (1, -1)):
        value = threshold + sign * offset
        printed = beside_threshold(value, threshold)
        assert side(float(printed), threshold) == side(value, threshold), (value, threshold, printed)
        assert len(printed.partition(".")[2]) >= 1
    assert beside_threshold(0.03, 0.04) == "0.030"  # was 0.0
    assert beside_threshold(5.04, 5.0) == "5.04"  # was 5.0
    assert beside_threshold(3.25, None) == "3.2"  # no threshold: one decimal, as before (banker's rounding of 3.25)
    assert beside_threshold(float("nan"), 5.0) == "n/a"
