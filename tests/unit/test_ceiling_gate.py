"""The consumer's gates judged against what the consumer's input can carry (issue 68): where the ceiling (the
teacher's own function of the encodes' mean features) is itself below a consumer gate on a band, an encoder or a
content group, that gate leaves the group to --max-consumer-ceiling-gap, which asks the models to be within X of the
ceiling there and says who fell short, the student or the input; the models beating the ceiling said in words; the
repeated-picture regime found from the pictures' hashes. Shares are restated here by counting."""

from __future__ import annotations

import pandas as pd
import pytest

from kit.media.fingerprint import Repeats
from kit.model.consumer import CRF_RANGE, crf_band
from kit.verdict.consumer import consumer_fit
from kit.verdict.consumer_gates import ceiling_gate, share_gate
from kit.verdict.document import LimitGate
from kit.verdict.gates import CONSUMER_CEILING, CONSUMER_CONTENT_SHARE, CONSUMER_SHARE, GATES
from kit.verdict.regimes import frame_regimes, regime_of
from kit.verdict.thresholds import GateThresholds


def encodes(rows: dict[tuple[str, int], list[tuple[float, float]]]) -> pd.DataFrame:
    """encodes.parquet rows of libx264, from (content, cq) -> each encode's (student's miss, ceiling's miss)."""
    out = []
    for (content, cq), misses in rows.items():
        for i, (miss, ceiling) in enumerate(misses):
            out.append({"content": content, "src": content, "src_sha256": content, "encoder": "libx264", "cq": cq,
                        "enc_width": 640, "enc_height": 360, "rung": "native", "crf": cq, "crf_band": crf_band(cq),
                        "n_frames": 4 + i, "teacher": 50.0, "predicted": 50.0 + miss, "miss": abs(miss),
                        "encoder_trained": True, "queried": True, "counted": True, "n_seeds": 2,
                        "ceiling": 50.0 + ceiling, "ceiling_miss": abs(ceiling)})
    return pd.DataFrame(out)


def gates(frame: pd.DataFrame, share: float | None, content: float | None, gap: float | None,
          ) -> tuple[LimitGate, LimitGate, LimitGate]:
    """The three gates as kit.verdict.gates computes them, on the block consumer_fit makes at these thresholds."""
    t = GateThresholds(min_consumer_share=share, min_consumer_content_share=content, max_consumer_ceiling_gap=gap)
    fit = consumer_fit(frame, 1.5, CRF_RANGE, thresholds=t)
    return (share_gate(fit, share, CONSUMER_SHARE.measure, False, gap),
            share_gate(fit, content, CONSUMER_CONTENT_SHARE.measure, True, gap),
            ceiling_gate(fit, gap, CONSUMER_CEILING.measure, (share, content)))


# content "cam": 8 encodes, the ceiling within 1.5 on 6 (75 %), the student on 4 (50 %); content "ok": 8 encodes,
# ceiling and student 8 of 8; CRF 36-51 holds cam's four high-cq encodes (ceiling 2 of 4) and ok's four (4 of 4)
IN, OUT = 0.5, 3.0
FRAME = encodes({("cam", 20): [(IN, IN), (IN, IN)], ("cam", 30): [(IN, IN), (OUT, IN)],
                 ("cam", 40): [(IN, IN), (OUT, IN)], ("cam", 45): [(OUT, OUT), (OUT, OUT)],
                 ("ok", 20): [(IN, IN)] * 2, ("ok", 30): [(IN, IN)] * 2, ("ok", 40): [(IN, IN)] * 2,
                 ("ok", 45): [(IN, IN)] * 2})


def counted(frame: pd.DataFrame, column: str, where: pd.Series) -> float:
    """A share within 1.5, by counting."""
    return float((frame.loc[where, column] <= 1.5).mean())


def test_a_content_whose_ceiling_is_below_a_gate_is_named_judged_against_it_and_lowers_no_other_gate() -> None:
    fit = consumer_fit(FRAME, 1.5, CRF_RANGE)
    cam = next(g for g in fit.of("content") if g.group == "cam")
    assert cam.share_within == counted(FRAME, "miss", FRAME["content"] == "cam") == 0.5
    assert cam.ceiling_share == counted(FRAME, "ceiling_miss", FRAME["content"] == "cam") == 0.75
    # without the ceiling's gate (off): the content gate at 0.75 holds cam, as before
    _, content, ceiling = gates(FRAME, 0.5, 0.75, None)
    assert not content.passed and content.failing == ["content cam"] and ceiling.passed and not ceiling.enabled
    # the defaults: cam's ceiling (75 %) is below 0.9, so cam leaves both share gates, named with its figures, and
    # the ceiling's gate holds it to 0.75 - 0.15 = 0.6: the student (0.5) falls short, and the HOLD says so
    share, content, ceiling = gates(FRAME, 0.9, 0.75, 0.15)
    assert share.passed and share.worst == "all" and share.worst_value == 1.0  # ok's 8 of 8, not cam's 12 of 16
    assert "over every content: all 75.0% of 16" in str(share.statement)
    assert "content cam (ceiling 75.0%, the student 50.0% of 8)" in str(share.statement)
    assert content.passed and content.worst == "content ok" and "content cam (ceiling 75.0%" in str(content.statement)
    assert not ceiling.passed and ceiling.failing == ["content cam"] and ceiling.worst_value == 0.25
    said = CONSUMER_CEILING.failure(ceiling)
    assert "content cam 50.0% of 8, ceiling 75.0% (below --min-consumer-share 0.9), held to 60.0%: the student " \
           "falls short: 25.0% under the ceiling" in said and said.endswith("beyond --max-consumer-ceiling-gap 0.15")
    # within 0.3: the input falls short, not the student
    _, _, ceiling = gates(FRAME, 0.9, 0.75, 0.3)
    assert ceiling.passed and "the input falls short, not the student (25.0% under the ceiling)" in \
        str(ceiling.statement)


# contents "x" and "y": at CRF 20 every encode within both ways; at CRF 45 the ceiling within on 3 of 4 and the student
# on 3 of 4 (x) and 2 of 4 (y): each content's ceiling 7 of 8 reaches 0.8, CRF 36-51's (6 of 8) does not
BANDS = encodes({("x", 20): [(IN, IN)] * 4, ("x", 45): [(IN, IN)] * 3 + [(OUT, OUT)],
                 ("y", 20): [(IN, IN)] * 4, ("y", 45): [(IN, IN), (IN, IN), (OUT, IN), (OUT, OUT)]})


def test_a_band_whose_ceiling_is_below_the_share_gate_is_left_to_the_ceiling_and_verify_rechecks_it() -> None:
    from kit.verdict.recheck import contradiction
    from tests.unit.test_claims_checked import PASSING

    fit = consumer_fit(BANDS, 1.5, CRF_RANGE)
    band = next(g for g in fit.of("crf_band") if g.group == "36-51")
    high = BANDS["crf_band"] == "36-51"
    assert (band.share_within, band.ceiling_share) == (counted(BANDS, "miss", high), counted(BANDS, "ceiling_miss",
                                                                                            high)) == (0.625, 0.75)
    share, _, ceiling = gates(BANDS, 0.8, None, 0.2)  # no content's ceiling is below 0.8: none is left out
    assert share.passed and share.worst == "all" and share.worst_value == 13 / 16
    assert "CRF 36-51 (ceiling 75.0%, the student 62.5% of 8)" in str(share.statement)
    assert ceiling.passed and ceiling.worst == "CRF 36-51" and ceiling.worst_value == 0.125
    row = ceiling.to_json()
    assert contradiction({**PASSING, "consumer_gates": [row]}) is None
    said = contradiction({**PASSING, "consumer_gates": [{**row, "threshold": 0.05}]})  # edited below its shortfall
    assert said is not None and "consumer_ceiling_gap fails: its worst value 0.125 is above its threshold 0.05" in said
    assert GATES[-1] is CONSUMER_CEILING and CONSUMER_CEILING.flag == "--max-consumer-ceiling-gap"


def test_models_that_beat_the_ceiling_are_said_to_in_words() -> None:
    frame = encodes({("a", 20): [(IN, OUT), (IN, IN)], ("b", 30): [(IN, IN), (IN, IN)]})
    fit = consumer_fit(frame, 1.5, CRF_RANGE)
    assert fit.whole.share_within == 1.0 and fit.whole.ceiling_share == 0.75 and fit.whole.beats_ceiling
    assert "better than the teacher's own function of the mean features, 75.0%: that ceiling is no bound, and the " \
           "models beat it here" in fit.whole.ceiling_words(full=True)
    assert "ceiling" not in fit.whole.ceiling_words() and "75.0%" in fit.whole.ceiling_words()


def hashes(pattern: str) -> list[str]:
    """Each frame's md5 as the fingerprint's decode prints it, from a pattern of new pictures (n) and repeats (r)."""
    out: list[str] = []
    for i, c in enumerate(pattern):
        out.append(out[-1] if c == "r" else f"{i:032x}")
    return out


CAMERA = "n" + "rrn" * 5 + "rr"  # a camera's 5 pictures a second sent at 15: each picture three times


@pytest.mark.parametrize(("pattern", "found"), [
    (CAMERA, True),
    ("n" + "nnnrn" * 4, True),  # 24 fps padded to 30: every fifth frame repeats
    ("n" * 18, False),  # every picture new: a still clip too, however little its pictures differ (issue 74)
    ("n" + "r" * 8 + "n" * 9, False),  # a still intro, then motion: one run, not a regime
    ("n" + "r" * 17, False),  # a still picture, repeated
    ("nrnrn", False),  # too few frames for a pattern
])
def test_repeated_pictures_are_found_by_the_pictures_hashes(pattern: str, found: bool) -> None:
    repeats = Repeats.of(hashes(pattern))
    assert (repeats.repeated, repeats.first) == (pattern.count("r"), pattern[:12])
    regime = regime_of("clip", "c" * 64, repeats)
    assert (regime is not None) == found
    if regime is not None and pattern is CAMERA:
        assert (regime.repeated, regime.runs, regime.longest, regime.n_frames) == (12, 6, 2, 18)


def test_the_warning_names_the_clip_and_its_ceiling() -> None:
    rows = pd.DataFrame({"src": ["cam", "still"], "src_sha256": ["c" * 64, "d" * 64]})
    measured = {"c" * 64: Repeats.of(hashes(CAMERA)), "d" * 64: Repeats.of(hashes("n" * 18))}
    fit = consumer_fit(FRAME, 1.5, CRF_RANGE)
    (regime,) = frame_regimes(rows, fit.of("content"), measured)  # the still clip is not named
    assert regime.text.startswith("cam repeats its pictures: 12 of its 18 decoded frames are the picture before "
                                  "them, bit for bit (each frame's md5), in 6 runs of at most 2 (its first frames: "
                                  "new, repeat, repeat, new, repeat, repeat, new, ")
    assert regime.text.endswith("on content cam: the ceiling (the teacher's own function of the mean features) 75.0% "
                                "of 8 encodes within the tolerance, the models 50.0%")
    assert frame_regimes(rows, fit.of("content"), {}) == ()  # a corpus whose manifest records no repeats
    (bare,) = frame_regimes(rows, (), measured)  # no consumer block (an input set vmaf-tune does not feed)
    assert bare.text.endswith("no ceiling to compare: the teacher is no function of the six features")


def test_the_content_the_input_cannot_carry_is_named_in_the_summary_and_the_recommendation() -> None:
    """Issue 76: the content is named wherever the verdict is read, with its ceiling and the student's share, whether
    the run PROMOTEs or HOLDs."""
    from types import SimpleNamespace

    from kit.report.summary import consumer_rows
    from kit.verdict.decide import recommendation

    t = GateThresholds()
    fit = consumer_fit(FRAME, 1.5, CRF_RANGE, thresholds=t)
    named = fit.carried_words()
    assert named == ("the consumer's input cannot carry content cam (ceiling 75.0%, the student 50.0% of 8; below "
                     "--min-consumer-share and --min-consumer-content-share): judged against the ceiling, the "
                     "consumer gates over the other contents")
    rows = [share_gate(fit, 0.9, CONSUMER_SHARE.measure, False, 0.15),
            share_gate(fit, 0.75, CONSUMER_CONTENT_SHARE.measure, True, 0.15),
            ceiling_gate(fit, 0.15, CONSUMER_CEILING.measure, (0.9, 0.75))]
    (main, *_) = consumer_rows(SimpleNamespace(consumer=fit, consumer_gates=tuple(rows)))  # type: ignore[arg-type]
    assert named in main.text
    passing = SimpleNamespace(passed=True, suspects=None, carried=named)
    assert recommendation(passing).endswith(f"send the results tarball back. Named: {named}.")  # type: ignore[arg-type]
    assert consumer_fit(FRAME, 1.5, CRF_RANGE).carried_words() is None  # no thresholds given: nothing carried
