"""Content whose pictures repeat, on real clips (issue 68), fetched by sha256 from the packages that ship them
(tests/publicclips.py): opencv-doc's Megamind.avi padded from 12 to 18 pictures a second as frame-rate conversion pads
it (every other picture shown twice, bit for bit), beside two clips whose pictures do not repeat. The verdict warns of
it, naming the clip, its repeats (counted here from ffmpeg's framemd5 run by hand: issue 74) and what its content's
ceiling shows (recounted here from encodes.parquet), and only that; the other clips are not named. The encodes its
ceiling misses are the input's shortfall: said, out of the share gates' pools whatever the thresholds (issue 90). A
still clip beside a repeating one: tests/real/test_still_clip.py."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from kit.rundir import RunDir
from tests.conftest import LENIENT, full_summary, run_here
from tests.publicclips import cut
from tests.real.test_still_clip import md5s_by_hand, repeats_by_hand

pytestmark = pytest.mark.slow  # a whole run on real clips
CORPUS = ["--encoders", "libx264", "--cqs", "18,30,42,51", "--scales", "native", "--seeds", "0", "--epochs", "12"]
PADDED = "select='not(mod(n\\,2))',fps=18000/1001"  # 23.976 fps: every other picture, each new one shown once or twice
# the gates as a first real corpus meets them, but the evidence floor (three contents here)
GATES = [*LENIENT, "--min-content-groups", "3", "--min-consumer-share", "0.9", "--min-consumer-content-share",
         "0.75"]


@pytest.fixture(scope="module")
def run(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the out-dir of prereqs, corpus, loso and verdict on the three clips, the clips' folder)."""
    folder = tmp_path_factory.mktemp("repeats")
    refs = folder / "refs"
    cut(ffmpeg, "Megamind.avi", refs / "megamind-pad.y4m", 36, vf=PADDED)
    cut(ffmpeg, "Force_constante.avi", refs / "force.y4m", 26)
    cut(ffmpeg, "realshort.mp4", refs / "realshort.y4m", 24)
    out = folder / "out"
    for step in ("prereqs", "corpus", "loso", "verdict"):
        res = run_here("step", step, "--ref-dir", refs, "--out-dir", out, *CORPUS, *GATES)
        assert res.returncode in (0, 1), res.stdout[-3000:] + res.stderr[-3000:]
    return out, refs


def verdict_of(out: Path) -> dict:
    run = RunDir(out)
    return json.loads(next(p for p in map(run.verdict_file, ("PROMOTE", "HOLD")) if p.is_file()).read_text())


def test_a_clip_whose_pictures_repeat_is_warned_naming_it_its_repeats_and_its_ceiling(
        ffmpeg: str, run: tuple[Path, Path]) -> None:
    out, refs = run
    (regime,) = verdict_of(out)["frame_regimes"]  # the two other clips are not named
    md5s = md5s_by_hand(ffmpeg, refs / "megamind-pad.y4m")
    by_hand = repeats_by_hand(md5s)
    repeated, runs = by_hand.repeated, by_hand.runs
    assert regime["src"] == "megamind-pad" and regime["n_frames"] == len(md5s) == 36
    assert (regime["repeated"], regime["runs"]) == (repeated, runs) and repeated >= 10  # one frame in three
    encodes = pd.read_parquet(RunDir(out).encodes)
    mine = encodes[encodes["src"] == "megamind-pad"]  # 1.5 s: its own window, as vmaf-tune samples it
    assert not mine["longer"].any()
    n, ceiling = len(mine), int((mine["window_ceiling_miss"] <= 1.5).sum())
    share = int((mine["window_miss"] <= 1.5).sum())
    assert (regime["ceiling_share"], regime["share_within"], regime["n_encodes"]) == (ceiling / n, share / n, n)
    said = full_summary(out)
    assert f"WARNING megamind-pad repeats its pictures: {repeated} of its 36 decoded frames are the one before " \
           f"them, bit for bit (each frame's md5), in {runs} runs of at most " in said
    assert 0 < ceiling < n  # the corpus this test means: the ceiling misses some of its encodes, not all
    assert f"on content megamind-pad the ceiling (the teacher's own function of the mean features) lands within the " \
           f"tolerance on {ceiling} of its {n} encodes, so no mean-feature proxy carries its score on the other " \
           f"{n - ceiling}; the models on {share}" in said
    for other in ("force", "realshort"):
        assert f"{other} repeats" not in said


def test_the_encodes_its_ceiling_misses_are_the_input_s_shortfall_whatever_the_thresholds(
        run: tuple[Path, Path]) -> None:
    """The padded content's ceiling (the teacher's own function of its encodes' mean features, its frames' two regimes
    averaged away) misses some of its encodes: those are the input's shortfall, said in the summary and the
    recommendation, out of every share gate's pool, and the same encodes at every threshold (the verdict judged again
    at two others: consumer_encodes.parquet the same bytes). The models beat the ceiling there."""
    out, refs = run
    run_dir = RunDir(out)
    judged = pd.read_parquet(run_dir.consumer_encodes)
    mine = judged[judged["content_group"] == "megamind-pad"]
    short = int((~mine["pool"]).sum())
    assert 0 < short < len(mine) and (mine["pool"] == mine["sampled_ceiling_within"]).all()
    verdict = verdict_of(out)
    assert f"content megamind-pad {short} of {len(mine)}" in verdict["recommendation"]
    assert f"the input falls short on {int((~judged['pool']).sum())} of {len(judged)} encodes" in full_summary(out)
    largest = max((part["sampled_ceiling_within"].sum() - part["sampled_within"].sum()) / len(part)
                  for _, part in judged.groupby("content_group"))
    pool = run_dir.consumer_encodes.read_bytes()
    for content, gap in (("0.8", "0.1"), ("0.5", "off")):
        res = run_here("step", "verdict", "--ref-dir", refs, "--out-dir", out, *CORPUS, *GATES,
                       "--min-consumer-content-share", content, "--max-consumer-ceiling-gap", gap)
        assert res.returncode in (0, 1), res.stdout[-3000:] + res.stderr[-3000:]
        assert run_dir.consumer_encodes.read_bytes() == pool, (content, gap)
        rows = {g["measure"]: g for g in verdict_of(out)["consumer_gates"]}
        if gap != "off":
            assert rows["consumer_ceiling_gap"]["worst_value"] == pytest.approx(largest)
