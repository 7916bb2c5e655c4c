"""Content whose pictures repeat, on real clips (issue 68), fetched by sha256 from the packages that ship them
(tests/publicclips.py): opencv-doc's Megamind.avi padded from 12 to 18 pictures a second as frame-rate conversion pads
it (every other picture shown twice, bit for bit), beside two clips whose pictures do not repeat. The verdict warns of
it, naming the clip, its repeats (counted here from ffmpeg's framemd5 run by hand: issue 74) and its content's ceiling
(recounted here from encodes.parquet); the other clips are not named. A consumer gate set above a content's ceiling
judges that content against the ceiling, and says whether the student or the input fell short. A still clip beside a
repeating one: tests/real/test_still_clip.py."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from kit.rundir import RunDir
from tests.conftest import LENIENT, full_summary, run_here
from tests.publicclips import cut
from tests.real.test_still_clip import md5s_by_hand, repeats_by_hand

pytestmark = pytest.mark.slow  # a whole run on real clips: the release tier
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
    mine = encodes[encodes["src"] == "megamind-pad"]
    ceiling, share = float((mine["ceiling_miss"] <= 1.5).mean()), float((mine["miss"] <= 1.5).mean())
    assert (regime["ceiling_share"], regime["share_within"], regime["n_encodes"]) == (ceiling, share, len(mine))
    said = full_summary(out)
    assert f"WARNING megamind-pad repeats its pictures: {repeated} of its 36 decoded frames are the picture before " \
           f"them, bit for bit (each frame's md5), in {runs} runs of at most " in said
    assert f"the ceiling (the teacher's own function of the mean features) {ceiling:.1%} of {len(mine)} encodes " \
           f"within the tolerance, the models {share:.1%}" in said
    for other in ("force", "realshort"):
        assert f"{other} repeats" not in said


def test_a_content_gate_above_the_contents_ceiling_judges_it_against_the_ceiling(run: tuple[Path, Path]) -> None:
    """The padded content's ceiling (the teacher's own function of its encodes' mean features: 75 % here, its frames'
    two regimes averaged away) is below --min-consumer-share 0.9: both share gates leave it to
    --max-consumer-ceiling-gap, which holds it to its ceiling less 0.1 and says who fell short there. The models
    (every encode within) beat the ceiling, and the summary says so in words."""
    out, refs = run
    encodes = pd.read_parquet(RunDir(out).encodes)
    mine = encodes[encodes["src"] == "megamind-pad"]
    ceiling, share = float((mine["ceiling_miss"] <= 1.5).mean()), float((mine["miss"] <= 1.5).mean())
    assert ceiling < 0.8 <= share  # the corpus this test means: else it tests nothing
    res = run_here("step", "verdict", "--ref-dir", refs, "--out-dir", out, *CORPUS, *GATES,
                   "--min-consumer-content-share", "0.8", "--max-consumer-ceiling-gap", "0.1")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    rows = {g["measure"]: g for g in verdict_of(out)["consumer_gates"]}
    content, gap = rows["consumer_content_share"], rows["consumer_ceiling_gap"]
    assert content["passed"] and "content megamind-pad" not in content["failing"]
    assert f"the input cannot carry this gate on content megamind-pad (ceiling {ceiling:.1%}, the student " \
           f"{share:.1%} of {len(mine)})" in content["statement"]
    rest = encodes[encodes["src"] != "megamind-pad"]  # the share gate's groups: the other contents only
    high = rest[rest["crf_band"] == "36-51"]
    band = (float((high["ceiling_miss"] <= 1.5).mean()), float((high["miss"] <= 1.5).mean()))
    lost = [ceiling - share, *([band[0] - band[1]] if band[0] < 0.9 else [])]  # a band still below 0.9 too
    assert gap["passed"] and gap["worst_value"] == pytest.approx(max(lost))
    assert f"content megamind-pad {share:.1%} of {len(mine)}, ceiling {ceiling:.1%} (below --min-consumer-share " \
           f"0.9), held to {ceiling - 0.1:.1%}: the models beat the teacher's own function of the mean features " \
           "there" in gap["statement"]
    whole = float((encodes["ceiling_miss"] <= 1.5).mean())
    assert f"(better than the teacher's own function of the mean features, {whole:.1%}: that ceiling is no bound, " \
           "and the models beat it here)" in full_summary(out)
