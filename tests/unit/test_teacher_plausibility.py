"""Plausibility of the teacher, said (issue 51, item 3): a source whose encodes at its own size score under 90 at
the grid's best setting, or whose teacher barely moves across the grid, is a suspect teacher, named in the verdict
(`teacher_suspects`, its recommendation), a WARNING row of the summary and the report; a warning, not a gate.
The rule on small hand-made frames (kit.verdict.plausibility)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from kit.report.html import render_report
from kit.report.summary import closing_rows, summary_rows
from kit.verdict.decide import with_suspects
from kit.verdict.document import Verdict
from kit.verdict.plausibility import BEST_FLOOR, MIN_DROP, TeacherSuspect, teacher_suspects
from tests.conftest import ROOT

FRAMES = 4


def encodes(src: str, means: dict[int, float], encoder: str = "libx264", size: tuple[int, int] = (640, 360),
            rung: tuple[int, int] | None = None) -> pd.DataFrame:
    """One source's frames: at each cq, FRAMES frames around the given mean (+-0.5), at `rung` (its own size when
    None)."""
    w, h = size
    ew, eh = rung or size
    parts = [pd.DataFrame({"src": src, "src_sha256": f"{src:0>64}", "encoder": encoder, "cq": cq,
                           "vmaf": mean + np.linspace(-0.5, 0.5, FRAMES), "frame_index": np.arange(FRAMES),
                           "width": w, "height": h, "enc_width": ew, "enc_height": eh})
             for cq, mean in means.items()]
    return pd.concat(parts, ignore_index=True)


def only(rows: pd.DataFrame) -> TeacherSuspect:
    (suspect,) = teacher_suspects(rows)
    return suspect


def test_a_plausible_source_is_no_suspect() -> None:
    assert teacher_suspects(encodes("good", {10: 98.9, 24: 90.2, 38: 49.5})) == ()
    # the demo's flattest honest curve (gradients, libx264 CRF 10..38: 95.7 to 91.7) stays above MIN_DROP
    assert teacher_suspects(encodes("gradients", {10: 95.7, 24: 93.6, 38: 91.7})) == ()


def test_a_source_under_90_at_its_best_setting_is_a_suspect_with_its_figures() -> None:
    s = only(pd.concat([encodes("good", {10: 98.0, 38: 50.0}), encodes("slow", {38: 14.3, 10: 22.4, 24: 18.0})]))
    assert (s.src, s.encoder, s.settings, s.best_cq, s.worst_cq) == ("slow", "libx264", [10, 24, 38], 10, 38)
    assert (s.best_mean, s.worst_mean, s.why) == (22.4, 14.3, ["low"])
    assert s.src_sha256 == "slow".rjust(64, "0")
    assert s.text == ("slow libx264 at its own size: mean teacher 22.4 at cq 10 (best) to 14.3 at cq 38 (worst) of "
                      f"cq 10,24,38: under {BEST_FLOOR:g} at its best setting")


def test_a_flat_curve_is_a_suspect_and_an_inverted_one_too() -> None:
    s = only(encodes("stuck", {10: 99.6, 24: 99.5, 38: 99.2}))
    assert s.why == ["flat"] and (s.best_mean, s.worst_mean) == (99.6, 99.2)
    assert s.text.endswith(f"falls 0.4, under {MIN_DROP:g}: flat")
    both = only(encodes("wrong", {10: 20.0, 38: 25.0}))  # a worse setting scoring higher: flat, and low
    assert both.why == ["low", "flat"] and "falls -5.0" in both.text


def test_a_rung_below_the_clip_s_own_size_does_not_count() -> None:
    native = encodes("good", {10: 98.0, 24: 90.0, 38: 50.0})
    half = encodes("good", {10: 53.5, 24: 51.0, 38: 50.8}, rung=(320, 180))  # under 90 and flat, upscaled
    assert teacher_suspects(pd.concat([native, half])) == ()
    assert teacher_suspects(half) == ()  # a source encoded only at a rung below its size is not judged
    # a corpus of an older layout records no encode size (0): its rows are the clip's own size
    unrecorded = encodes("old", {10: 40.0, 38: 20.0}, size=(0, 0))
    assert only(unrecorded).why == ["low"]
    assert only(unrecorded.drop(columns=["enc_width", "enc_height", "width", "height"])).why == ["low"]


def test_a_grid_of_one_setting_is_not_judged_flat() -> None:
    assert teacher_suspects(encodes("one", {10: 97.0})) == ()
    low = only(encodes("one", {10: 40.0}))
    assert low.why == ["low"] and low.settings == [10] and low.text.endswith(
        "mean teacher 40.0 at cq 10 (its only setting): under 90 at its best setting")


def test_videotoolbox_s_best_setting_is_its_highest_q_and_a_low_quality_best_is_not_held_to_the_floor() -> None:
    vt = only(encodes("vt", {24: 30.0, 52: 60.0, 80: 80.0}, encoder="h264_videotoolbox"))
    assert (vt.settings, vt.best_cq, vt.worst_cq, vt.best_mean, vt.worst_mean) == ([80, 52, 24], 80, 24, 80.0, 30.0)
    # x264 CRF 25 is past HIGH_QUALITY of its range: an honest teacher scores under 90 there (the tests' tiny clips)
    assert teacher_suspects(encodes("tiny", {25: 79.6, 37: 19.5})) == ()
    assert only(encodes("tiny", {19: 79.6, 37: 19.5})).why == ["low"]  # CRF 19 is held to it
    assert only(encodes("tiny", {25: 79.6, 37: 79.4})).why == ["flat"]  # and flat is judged whatever the grid


def test_every_encoder_is_judged_on_its_own() -> None:
    rows = pd.concat([encodes("s", {10: 98.0, 38: 50.0}), encodes("s", {10: 97.4, 63: 97.2}, encoder="libsvtav1")])
    s = only(rows)
    assert (s.encoder, s.why) == ("libsvtav1", ["flat"])


def suspect_verdict(*suspects: TeacherSuspect) -> Verdict:
    golden = Verdict.from_json(json.loads((ROOT / "tests" / "data" / "verdict_promote.json").read_text()))
    return replace(golden, teacher_suspects=suspects,
                   recommendation=with_suspects(golden.recommendation, suspects))


def test_the_verdict_names_the_suspects_and_keeps_its_verdict(tmp_path: Path) -> None:
    low = only(encodes("slow", {10: 22.4, 38: 14.3}))
    flat = only(encodes("stuck", {10: 99.6, 38: 99.2}))
    v = suspect_verdict(low, flat)
    back = Verdict.from_json(json.loads(json.dumps(v.to_json())))
    assert back.teacher_suspects == (low, flat) and back.verdict == "PROMOTE"
    assert back.to_json()["teacher_suspects"][0] == {
        "src": "slow", "src_sha256": "slow".rjust(64, "0"), "encoder": "libx264", "settings": [10, 38], "best_cq": 10,
        "worst_cq": 38, "best_mean": 22.4, "worst_mean": 14.3, "why": ["low"]}
    assert v.recommendation.startswith("PROMOTE: export") and "suspect teacher on 2 source(s)" in v.recommendation
    assert low.text in v.recommendation and flat.text in v.recommendation
    assert with_suspects("HOLD: x.", ()) == "HOLD: x."  # none: the recommendation as the gates made it
    warning = [text for label, text in closing_rows(tmp_path, v) if label == "WARNING"]
    assert warning == [text for label, text in summary_rows(tmp_path, v) if label == "WARNING"]
    assert len(warning) == 1 and low.text in warning[0] and flat.text in warning[0]
    page = render_report(v)
    assert "<h2 id='teacher'>Plausibility of the teacher</h2>" in page and "href='#teacher'" in page
    assert "<td>slow</td><td>libx264</td><td>10,38</td><td>10</td><td>22.4</td><td>38</td><td>14.3</td>" in page


def test_many_suspects_are_one_row_and_a_verdict_without_the_check_says_nothing(tmp_path: Path) -> None:
    many = [only(encodes(f"s{i}", {10: 20.0 + i, 38: 10.0})) for i in range(5)]
    v = suspect_verdict(*many)
    (warning,) = [text for label, text in closing_rows(tmp_path, v) if label == "WARNING"]
    assert "on 5 source(s)" in warning and "; and 2 more" in warning and "s3 " not in warning
    page = render_report(v)
    assert all(f"<td>s{i}</td>" in page for i in range(5))  # the report lists them all
    golden = suspect_verdict()  # the check ran and found none: said in the report, no row in the summary
    assert "No suspect teacher." in render_report(golden)
    assert not [label for label, _ in summary_rows(tmp_path, golden) if label == "WARNING"]
    older = replace(golden, teacher_suspects=None)  # a verdict of a kit without the check
    assert "id='teacher'" not in render_report(older) and "teacher_suspects" not in older.to_json()


def test_the_report_names_every_clip_left_out_with_why_and_the_fix() -> None:
    """02_corpus/skipped.json's clips are in the report too (issues 51 and 54: a clip the independent check refused,
    an .avi left out at the listing, were in no page of the report): a section and a line on the first screen."""
    from kit.media.discovery import Unusable
    from kit.report.html import ReportData

    golden = Verdict.from_json(json.loads((ROOT / "tests" / "data" / "verdict_promote.json").read_text()))
    left = (Unusable("/clips/b.wmv", "/clips/b.wmv: a .wmv video, which the kit does not read", "convert it"),
            Unusable("/clips/a.mp4", "/clips/a.mp4: its teacher scores do not hold against libvmaf run on their "
                                     "own (job j): frame 3 scores 40.00 in the corpus but 99.00", "run the check"))
    page = render_report(golden, ReportData(skipped=left))
    assert "<h2 id='skipped'>Clips left out</h2>" in page and "href='#skipped'" in page
    assert page.index("/clips/a.mp4") < page.index("/clips/b.wmv")  # by path
    assert "frame 3 scores 40.00 in the corpus but 99.00" in page and "<td>convert it</td>" in page
    assert "2 clip(s) of --ref-dir were left out" in page
    assert "id='skipped'" not in render_report(golden)  # none left out: no section


def test_the_gate_table_shows_a_count_as_a_count() -> None:
    """The evidence floor's row read `4.0000` content groups (issue 54): a count is shown as an integer."""
    import re

    from kit.verdict.thresholds import evidence_gate

    golden = Verdict.from_json(json.loads((ROOT / "tests" / "data" / "verdict_promote.json").read_text()))
    page = render_report(replace(golden, evidence_gate=evidence_gate(4, 5)))
    row = re.search(r"<tr><td>held-out content groups \(--min-content-groups\)</td><td[^>]*>([^<]*)</td>", page)
    assert row is not None and row.group(1) == "4", row


def plain_suspects(rows: pd.DataFrame) -> tuple[TeacherSuspect, ...]:
    """The rule as the kit computed it before b19712da, a group of strings at a time: the oracle of the one grouped
    on codes."""
    from kit.media.ladder import scaled
    from kit.platforms.encoders import SPECS
    from kit.verdict.plausibility import HIGH_QUALITY, SIZES

    size = rows[[c for c in SIZES if c in rows]].reindex(columns=list(SIZES)).fillna(0).astype(int)
    kept = [c for c in size.drop_duplicates().itertuples(index=False, name=None) if not scaled(*map(int, c))]
    native = rows[pd.MultiIndex.from_frame(size).isin(kept)]
    means = native.groupby(["src_sha256", "encoder", "cq"], sort=True).agg(src=("src", "first"), vmaf=("vmaf", "mean"))
    out = []
    for (sha, encoder), part in means.groupby(level=["src_sha256", "encoder"], sort=True):
        by_cq = {int(cq): float(v) for (_, _, cq), v in part["vmaf"].items()}
        spec = SPECS.get(str(encoder))
        top, bottom = spec.cq_range if spec is not None else (0, 1)
        settings = sorted(by_cq, reverse=top > bottom)
        held = spec is None or (settings[0] - top) / (bottom - top) <= HIGH_QUALITY
        best, worst = by_cq[settings[0]], by_cq[settings[-1]]
        why = [*(["low"] if best < BEST_FLOOR and held else []),
               *(["flat"] if len(settings) > 1 and best - worst < MIN_DROP else [])]
        if why:
            out.append(TeacherSuspect(str(part["src"].iloc[0]), str(sha), str(encoder), settings, settings[0],
                                      settings[-1], best, worst, why))
    return tuple(sorted(out, key=lambda s: (s.best_mean, s.best_mean - s.worst_mean, s.src, s.encoder)))


def test_the_suspects_grouped_on_codes_are_the_plain_rule_s() -> None:
    """Drawn unions (sources at many sizes and rungs, VideoToolbox's upward q:v, an encoder the kit does not know, a
    frame without a teacher score, a row that names no encoder or source, a size not recorded): the same suspects, to
    the bit, as the rule grouped on the names' strings."""
    rng = np.random.default_rng(5)
    encoders = ["libx264", "h264_videotoolbox", "libsvtav1", "mystery_enc"]
    for draw in range(30):
        n = 3000
        sha = rng.integers(0, 40, n)
        enc = rng.integers(0, len(encoders), n)
        cq = np.where(enc == 1, rng.choice([20, 50, 80], n), rng.choice([10, 23, 37, 51], n))
        width = rng.choice([1920, 1280, 0], n)
        scaled_down = rng.random(n) < 0.3
        rows = pd.DataFrame({"src": [f"clip{s}" for s in sha], "src_sha256": [f"{s:064x}" for s in sha],
                             "encoder": [encoders[e] for e in enc], "cq": cq,
                             "vmaf": rng.uniform(60, 100, n) - (cq % 40) * rng.uniform(0, 0.6),
                             "width": width, "height": width * 9 // 16,
                             "enc_width": np.where(scaled_down, width // 2, width),
                             "enc_height": np.where(scaled_down, width // 2, width) * 9 // 16})
        if draw % 5 == 0:
            rows.loc[rng.random(n) < 0.01, "vmaf"] = np.nan
        if draw % 7 == 0:
            rows = rows.drop(columns=["enc_width", "enc_height"])
        if draw % 4 == 0:  # rows that name no encoder, or no source: in no group
            rows.loc[rng.random(n) < 0.01, "encoder"] = None
            rows.loc[rng.random(n) < 0.01, "src_sha256"] = None
        got, want = teacher_suspects(rows), plain_suspects(rows)
        assert repr(got) == repr(want) and any(s.why for s in want), draw  # repr: a NaN mean is equal to itself
