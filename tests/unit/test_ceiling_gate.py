"""The consumer's gates over the pool the encodes fix (issues 68, 76, 90): the share gates count the student's hits
among the encodes the ceiling (the teacher's own function of the same mean features) lands within the tolerance on,
the ceiling's gate every content group's share of all its encodes against the ceiling's; the input's shortfall (the
encodes the ceiling misses) counted and said, never against the student; the models beating the ceiling said in
words; the repeated-picture regime found from the pictures' hashes and said only as its figures show. Every share
restated here by counting the rows."""

from __future__ import annotations

import pandas as pd
import pytest

from kit.media.fingerprint import Repeats
from kit.model.consumer import CRF_RANGE, crf_band
from kit.verdict.consumer import consumer_block, consumer_fit
from kit.verdict.consumer_gates import ceiling_gate, share_gate
from kit.verdict.document import ConsumerFit, LimitGate
from kit.verdict.gates import CONSUMER_CEILING, CONSUMER_CONTENT_SHARE, CONSUMER_SHARE, GATES
from kit.verdict.regimes import frame_regimes, regime_of


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


def gates(fit: ConsumerFit, share: float | None, content: float | None, gap: float | None,
          ) -> tuple[LimitGate, LimitGate, LimitGate]:
    """The three gates as kit.verdict.gates computes them from the block."""
    return (share_gate(fit, share, CONSUMER_SHARE.measure, False),
            share_gate(fit, content, CONSUMER_CONTENT_SHARE.measure, True),
            ceiling_gate(fit, gap, CONSUMER_CEILING.measure))


# content "cam": 8 encodes, the ceiling within 1.5 on 6, the student on 4 of those 6; content "ok": 8 encodes, ceiling
# and student 8 of 8; CRF 36-51 holds cam's four high-cq encodes (the ceiling on 2, the student on 1) and ok's four
IN, OUT = 0.5, 3.0
FRAME = encodes({("cam", 20): [(IN, IN), (IN, IN)], ("cam", 30): [(IN, IN), (OUT, IN)],
                 ("cam", 40): [(IN, IN), (OUT, IN)], ("cam", 45): [(OUT, OUT), (OUT, OUT)],
                 ("ok", 20): [(IN, IN)] * 2, ("ok", 30): [(IN, IN)] * 2, ("ok", 40): [(IN, IN)] * 2,
                 ("ok", 45): [(IN, IN)] * 2})


def pool_share(frame: pd.DataFrame, where: pd.Series) -> tuple[int, int]:
    """(the student's hits, the pool) by counting: the encodes the ceiling lands within on."""
    part = frame[where & (frame["ceiling_miss"] <= 1.5)]
    return int((part["miss"] <= 1.5).sum()), len(part)


def test_each_gate_is_a_count_over_the_pool_and_the_shortfall_is_the_input_s() -> None:
    fit, judged = consumer_block(FRAME, 1.5, CRF_RANGE)
    j = fit.judged
    assert j is not None and len(judged) == 16 and judged["pool"].sum() == 14
    cam = next(t for t in j.of("content") if t.group == "cam")
    assert (cam.pool_hits, cam.pool) == pool_share(FRAME, FRAME["content"] == "cam") == (4, 6)
    assert (cam.n_encodes, cam.within, cam.ceiling_within, cam.shortfall, cam.gap) == (8, 4, 6, 2, 0.25)
    high = next(t for t in j.of("crf_band") if t.group == "36-51")
    assert (high.pool_hits, high.pool) == pool_share(FRAME, FRAME["crf_band"] == "36-51") == (5, 6)
    share, content, gap = gates(fit, 0.9, 0.75, 0.15)
    assert not share.passed and share.failing == ["all", "CRF 21-35", "CRF 36-51", "encoder libx264"]
    assert share.worst == "CRF 21-35" and share.worst_value == 0.75  # cam's 1 of 2 at CRF 30 beside ok's 2 of 2
    assert "the input can carry (the ceiling within, each whole encode: no window placed): all 85.7% of 14, CRF " \
           "21-35 75.0% of 4, CRF 36-51 83.3% of 6, encoder libx264 85.7% of 14" in str(share.statement)
    assert not content.passed and content.failing == ["content cam"] and content.worst_value == round(4 / 6, 12)
    assert not gap.passed and gap.failing == ["content cam"] and gap.worst_value == 0.25
    said = CONSUMER_CEILING.failure(gap)
    assert "content cam 25.0% under (the student 4 of 8, the ceiling 6 of 8)" in said
    assert said.endswith("beyond --max-consumer-ceiling-gap 0.15")
    # looser: each gate alone
    share, content, gap = gates(fit, 0.75, 0.6, 0.3)
    assert share.passed and content.passed and gap.passed and "largest content cam 25.0% under" in str(gap.statement)
    assert j.shortfall_words() == ("the input falls short on 2 of 16 encodes (the ceiling misses them, so no gate "
                                   "counts them against the student): content cam 2 of 8")


def test_a_content_the_ceiling_carries_nowhere_is_judged_by_no_share_and_beats_the_ceiling() -> None:
    """Its pool is empty: no share gate judges it, the statement says so with the student's count; it lowers no
    other group's share; against the ceiling it is ahead."""
    frame = encodes({("ok", 20): [(IN, IN)] * 4, ("z", 20): [(IN, OUT), (IN, OUT), (OUT, OUT), (OUT, OUT)]})
    fit = consumer_fit(frame, 1.5, CRF_RANGE)
    share, content, gap = gates(fit, 0.9, 0.75, 0.15)
    assert share.passed and share.worst_value == 1.0 and content.passed and gap.passed
    assert "content z: the ceiling lands within on none of its 4 encodes, so no share is judged there (the student " \
           "2 of 4)" in str(content.statement)
    assert gap.worst == "content ok" and gap.worst_value == 0.0  # z: 2 of 4 against 0 of 4, 50 points ahead
    nothing = consumer_fit(encodes({("z", 20): [(IN, OUT), (OUT, OUT)]}), 1.5, CRF_RANGE)
    row = share_gate(nothing, 0.9, CONSUMER_SHARE.measure, False)
    assert row.passed is None and row.not_judged == "the ceiling lands within 1.5 on none of the 2 held-out encodes"


# contents "x" and "y": at CRF 20 every encode within both ways; at CRF 45 the ceiling within on 3 of 4 and the student
# on 3 of those (x) and 2 (y)
BANDS = encodes({("x", 20): [(IN, IN)] * 4, ("x", 45): [(IN, IN)] * 3 + [(OUT, OUT)],
                 ("y", 20): [(IN, IN)] * 4, ("y", 45): [(IN, IN), (IN, IN), (OUT, IN), (OUT, OUT)]})


def test_a_band_is_judged_on_its_pool_and_verify_rechecks_the_ceiling_row() -> None:
    from kit.verdict.recheck import contradiction
    from tests.unit.test_claims_checked import PASSING

    fit = consumer_fit(BANDS, 1.5, CRF_RANGE)
    share, _, gap = gates(fit, 0.8, None, 0.2)
    assert share.passed and share.worst == "CRF 36-51" and share.worst_value == round(5 / 6, 12)
    assert gap.passed and gap.worst == "content y" and gap.worst_value == 0.125
    row = gap.to_json()
    assert contradiction({**PASSING, "consumer_gates": [row]}) is None
    said = contradiction({**PASSING, "consumer_gates": [{**row, "threshold": 0.05}]})  # edited below its gap
    assert said is not None and "consumer_ceiling_gap fails: its worst value 0.125 is above its threshold 0.05" in said
    assert GATES[-1] is CONSUMER_CEILING and CONSUMER_CEILING.flag == "--max-consumer-ceiling-gap"


def test_models_that_beat_the_ceiling_are_said_to_in_words() -> None:
    frame = encodes({("a", 20): [(IN, OUT), (IN, IN)], ("b", 30): [(IN, IN), (IN, IN)]})
    fit = consumer_fit(frame, 1.5, CRF_RANGE)
    assert fit.whole.share_within == 1.0 and fit.whole.ceiling_share == 0.75 and fit.whole.beats_ceiling
    assert "better than the teacher's own function of the mean features, 75.0%: that ceiling is no bound, and the " \
           "models beat it here" in fit.whole.ceiling_words(full=True)
    assert "ceiling" not in fit.whole.ceiling_words() and "75.0%" in fit.whole.ceiling_words()
    _, _, gap = gates(fit, 0.9, 0.75, 0.15)
    assert gap.worst == "content b" and gap.worst_value == 0.0  # a is 50 points ahead: 2 of 2 against 1 of 2
    assert "the student at or above the ceiling on every content group" in str(gap.statement)


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


def test_the_warning_says_only_what_its_content_s_figures_show() -> None:
    """Where the ceiling misses some of the content's encodes, the mean features cannot carry its score there; where
    it lands on all of them, they carry it all the same (never "no proxy can carry" beside a ceiling of 100 %)."""
    rows = pd.DataFrame({"src": ["cam", "still", "ok"], "src_sha256": ["c" * 64, "d" * 64, "e" * 64]})
    measured = {"c" * 64: Repeats.of(hashes(CAMERA)), "d" * 64: Repeats.of(hashes("n" * 18)),
                "e" * 64: Repeats.of(hashes(CAMERA))}
    fit = consumer_fit(FRAME, 1.5, CRF_RANGE)
    assert fit.judged is not None
    cam, ok = frame_regimes(rows, fit.judged.of("content"), measured)  # the still clip is not named
    assert cam.text.startswith("cam repeats its pictures: 12 of its 18 decoded frames are the one before them, "
                               "bit for bit (each frame's md5), in 6 runs of at most 2 (first frames: new, repeat, "
                               "repeat, new, repeat, repeat, new, ")
    assert cam.text.endswith("on content cam the ceiling (the teacher's own function of the mean features) lands "
                             "within the tolerance on 6 of its 8 encodes, so no mean-feature proxy carries its score "
                             "on the other 2; the models on 4")
    assert ok.text.endswith("on content ok its ceiling (the teacher's own function of the mean features) lands within "
                            "the tolerance on all 8 of its encodes even so, the models on 8")
    assert "no mean-feature proxy" not in ok.text
    assert frame_regimes(rows, fit.judged.of("content"), {}) == ()  # a corpus whose manifest records no repeats
    bare, _ = frame_regimes(rows, (), measured)  # no consumer block (an input set vmaf-tune does not feed)
    assert bare.text.endswith("vmaf-tune is not fed here, so no figure says whether a mean-feature proxy carries its "
                              "score")


def test_the_input_s_shortfall_is_said_in_the_summary_and_the_recommendation() -> None:
    """Said wherever the verdict is read, with its counts, whether the run PROMOTEs or HOLDs; never a gate."""
    from types import SimpleNamespace

    from kit.report.summary import consumer_rows
    from kit.verdict.decide import recommendation

    fit = consumer_fit(FRAME, 1.5, CRF_RANGE)
    assert fit.judged is not None
    named = fit.judged.shortfall_words()
    assert named is not None
    rows = gates(fit, 0.9, 0.75, 0.15)
    (main, *_) = consumer_rows(SimpleNamespace(consumer=fit, consumer_gates=tuple(rows)))  # type: ignore[arg-type]
    assert named in main.text
    passing = SimpleNamespace(passed=True, suspects=None, shortfall=named, consumer_unjudged=None)
    said = recommendation(passing)  # type: ignore[arg-type]
    assert said.endswith(f"send the results tarball back. As vmaf-tune samples, {named}.")
    assert consumer_fit(encodes({("ok", 20): [(IN, IN)] * 4}), 1.5, CRF_RANGE).judged.shortfall_words() is None  # type: ignore[union-attr]


def test_an_encode_no_window_was_placed_for_is_no_clip_longer_than_the_window() -> None:
    """encodes.parquet's `longer` is empty for an encode no FIRST window was cut for (kit.model.samplings.with_window:
    half the encodes of a 10,000-content union); the sampling block counts it as no longer than the window, as the
    ceiling does, never an internal error (`cannot convert float NaN to bool` before)."""
    from kit.model.clips import ENCODE_KEY
    from kit.verdict.sampling import consumer_sampling

    longer = pd.array([True, None, False, None] * 4, dtype="boolean")
    counted = FRAME.assign(window_teacher=50.0, window_gap=0.0, longer=longer)
    samplings = pd.DataFrame({c: [] for c in (*ENCODE_KEY, "sampling", "how", "counted", "longer", "rung")})
    found = consumer_sampling(counted, samplings, pd.Series({"cam": "cam", "ok": "ok"}), 1.5, 5.0)
    assert found.n_longer == int((longer == True).sum()) == 4  # noqa: E712 (NA is no True)
    assert found.whole_frames_per_trial == counted[longer.fillna(False).to_numpy(dtype=bool)]["n_frames"].mean()
